"""Operating the bridge: Prometheus ``/metrics``, ``/healthz``, ``/readyz``, logs, live view.

Metrics are read from the engine's :class:`~mqmigrate.bridge.engine.Stats` at scrape time
by a custom collector, so the hot loop only bumps plain integers.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from mqmigrate.bridge.engine import Engine, Histogram, Stats
from mqmigrate.errors import PrerequisiteError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StatsCollector:
    """Exposes engines' Stats as ``mqmigrate_bridge_*`` metrics: one sample per engine in
    each family, told apart by its labels (``workload``, ``queue``, ``topic``)."""

    def __init__(
        self,
        stats: Callable[[], Stats] | Sequence[tuple[Callable[[], Stats], dict[str, str]]],
        labels: dict[str, str] | None = None,
    ):
        self._sources = [(stats, labels or {})] if callable(stats) else list(stats)

    def collect(self) -> Iterator[Any]:
        families: dict[str, Any] = {}
        for stats, labels in self._sources:
            for metric in self._collect_one(stats(), labels):
                if metric.name in families:
                    families[metric.name].samples.extend(metric.samples)
                else:
                    families[metric.name] = metric
        yield from families.values()

    @staticmethod
    def _collect_one(s: Stats, labels: dict[str, str]) -> Iterator[Any]:
        names, values = list(labels), list(labels.values())
        counters = {
            "messages_in": ("messages received from the source", s.received),
            "messages_out": ("records Kafka acknowledged on the target topic", s.produced),
            "messages_acked": ("source messages settled ACCEPT after Kafka acknowledged", s.acked),
            "messages_released": (
                "source messages released back (transient failures, stop)",
                s.released,
            ),
            "messages_quarantined": ("messages written to the quarantine topic", s.quarantined),
            "duplicates_skipped": (
                "effectively-once: redeliveries already in Kafka, acked without writing",
                s.duplicates_skipped,
            ),
            "messages_redelivered": ("messages the source marked redelivered", s.redelivered),
            "source_reconnects": ("source reconnections", s.source_reconnects),
            "kafka_transient_errors": ("Kafka writes failed transiently", s.kafka_transient_errors),
        }
        for name, (doc, value) in counters.items():
            metric = CounterMetricFamily(f"mqmigrate_bridge_{name}", doc, labels=names)
            metric.add_metric(values, value)
            yield metric
        gauge = GaugeMetricFamily(
            "mqmigrate_bridge_in_flight", "messages received and not yet settled", labels=names
        )
        gauge.add_metric(values, s.in_flight)
        yield gauge
        if s.source_depth is not None:
            gauge = GaugeMetricFamily(
                "mqmigrate_bridge_source_backlog",
                "messages waiting in the source queue",
                labels=names,
            )
            gauge.add_metric(values, s.source_depth)
            yield gauge
        for name, doc, hist in (
            ("end_to_end_lag_seconds", "source send time to Kafka acknowledgement", s.lag),
            (
                "added_latency_seconds",
                "received from the source to Kafka acknowledgement",
                s.latency,
            ),
        ):
            yield _histogram(f"mqmigrate_bridge_{name}", doc, names, values, hist)


def _histogram(
    name: str, doc: str, names: list[str], values: list[str], hist: Histogram
) -> HistogramMetricFamily:
    metric = HistogramMetricFamily(name, doc, labels=names)
    buckets = [("+Inf" if b == float("inf") else repr(float(b)), c) for b, c in hist.cumulative()]
    metric.add_metric(values, buckets, hist.total)
    return metric


@dataclass(frozen=True)
class OpsTarget:
    """One engine served by :class:`OpsServer`: its metric labels, and whether its run has
    ended (a drained workload no longer counts for /healthz and /readyz)."""

    engine: Engine
    labels: dict[str, str]
    finished: Callable[[], bool] = lambda: False

    @property
    def name(self) -> str:
        return self.labels.get("workload") or self.labels.get("queue") or "bridge"


class OpsServer:
    """``/metrics``, ``/healthz`` (every running loop is alive) and ``/readyz`` (every running
    workload consuming *and* Kafka acknowledging) on ``host:port`` in a daemon thread.

    ``engines`` is one engine (with ``labels``) or several :class:`OpsTarget`.
    """

    def __init__(
        self,
        engines: Engine | Sequence[OpsTarget],
        port: int,
        host: str = "127.0.0.1",
        labels: dict[str, str] | None = None,
        heartbeat_timeout: float = 60.0,
    ):
        self.targets = (
            [OpsTarget(engines, labels or {})] if isinstance(engines, Engine) else list(engines)
        )
        self.engine = self.targets[0].engine
        self.registry = CollectorRegistry()
        self.registry.register(
            StatsCollector([(lambda e=t.engine: e.stats, t.labels) for t in self.targets])
        )
        self.heartbeat_timeout = heartbeat_timeout
        ops = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(ops.registry), CONTENT_TYPE)
                elif path == "/healthz":
                    ok = ops.healthy()
                    self._send(200 if ok else 503, b"ok\n" if ok else b"stalled\n")
                elif path == "/readyz":
                    waiting = ops.not_ready()
                    ok = not waiting
                    self._send(
                        200 if ok else 503,
                        b"ready\n" if ok else f"not ready: {', '.join(waiting)}\n".encode(),
                    )
                else:
                    self._send(404, b"not found\n")

            def _send(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # scrapes are not log lines
                pass

        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise PrerequisiteError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror}",
                hint="choose another --metrics-port",
            ) from exc
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="mqmigrate-ops", daemon=True
        )

    def _running(self) -> list[OpsTarget]:
        return [t for t in self.targets if not t.finished()]

    def healthy(self) -> bool:
        """Every running workload's loop turned within ``heartbeat_timeout``."""
        running = self._running()
        now = time.monotonic()
        return bool(running) and all(
            t.engine.heartbeat is not None and now - t.engine.heartbeat < self.heartbeat_timeout
            for t in running
        )

    def not_ready(self) -> list[str]:
        """Names of the running workloads that are not ready (a workload consuming while
        Kafka acknowledges nothing, or reconnecting); all of them when none runs."""
        running = self._running()
        if not running:
            return [t.name for t in self.targets]
        return [t.name for t in running if not t.engine.ready]

    def start(self) -> "OpsServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


#: a workload's engine thread is named ``bridge:<workload id>``; its log lines carry the id
WORKLOAD_THREAD_PREFIX = "bridge:"


class _WorkloadTag(logging.Filter):
    """Sets ``record.workload`` (and ``workload_tag`` for text lines) from the thread name."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.threadName or ""
        workload = (
            name[len(WORKLOAD_THREAD_PREFIX) :] if name.startswith(WORKLOAD_THREAD_PREFIX) else None
        )
        record.workload = workload
        record.workload_tag = f"[{workload}] " if workload else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers (used when stderr is not a terminal)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        workload = getattr(record, "workload", None)
        if workload:
            data["workload"] = workload
        extra = getattr(record, "stats", None)
        if extra:
            data["stats"] = extra
        return json.dumps(data, default=str)


def setup_logging(json_logs: bool, level: int = logging.INFO) -> None:
    """JSON lines on stderr when it is not a TTY, short text lines otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json_logs
        else logging.Formatter("%(asctime)s %(levelname)s %(workload_tag)s%(message)s", "%H:%M:%S")
    )
    handler.addFilter(_WorkloadTag())
    root = logging.getLogger("mqmigrate")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class Progress:
    """Per-second progress: a rich live table on a terminal (one row per workload), a JSON
    stats line every ``log_every`` seconds otherwise.  ``tick`` may be called from each
    workload's thread."""

    def __init__(self, title: str, tty: bool, log_every: float = 10.0):
        self.title = title
        self.tty = tty
        self.log_every = log_every
        self._lock = threading.Lock()
        self._live = None
        #: row (workload; None for a single bridge) -> (stats, last (time, produced), rate,
        #: last log time)
        self._rows: dict[str | None, list[Any]] = {}

    @property
    def rate(self) -> float:
        """Records per second over the last tick, all rows together."""
        return sum(row[2] for row in self._rows.values())

    def __enter__(self) -> "Progress":
        if self.tty:
            from rich.console import Console
            from rich.live import Live

            # its own console on stderr, as the CLI's: the engine does not import the CLI
            console = Console(stderr=True, highlight=False, soft_wrap=True)
            self._live = Live(
                self._render(), console=console, refresh_per_second=2, transient=False
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def tick(self, stats: Stats, row: str | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            entry = self._rows.setdefault(row, [stats, None, 0.0, 0.0])
            last = entry[1]
            if last is not None and now > last[0]:
                entry[2] = (stats.produced - last[1]) / (now - last[0])
            entry[0], entry[1] = stats, (now, stats.produced)
            due = self._live is None and now - entry[3] >= self.log_every
            if due:
                entry[3] = now
            rate = entry[2]
        if self._live is not None:
            self._live.update(self._render())
        elif due:
            extra = {**stats.as_dict(), "rate_per_s": round(rate)}
            if row is not None:
                extra = {"workload": row, **extra}
            logging.getLogger("mqmigrate.bridge").info("progress", extra={"stats": extra})

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, show_header=True, header_style="bold")
        named = any(row is not None for row in self._rows)
        columns = (
            "in",
            "out",
            "acked",
            "quarantined",
            "dupes skipped",
            "in flight",
            "backlog",
            "msg/s",
            "p99 ms",
        )
        for col in (("workload",) if named else ()) + columns:
            table.add_column(col, justify="left" if col == "workload" else "right")
        with self._lock:
            rows = [(row, entry[0], entry[2]) for row, entry in self._rows.items()]
        for row, stats, rate in rows:
            p99 = stats.latency.quantile(0.99)
            cells = [
                str(stats.received),
                str(stats.produced),
                str(stats.acked),
                str(stats.quarantined),
                str(stats.duplicates_skipped),
                str(stats.in_flight),
                "?" if stats.source_depth is None else str(stats.source_depth),
                f"{rate:,.0f}",
                "-" if p99 is None else f"{p99 * 1000:g}",
            ]
            table.add_row(*(([row or ""] if named else []) + cells))
        return table
