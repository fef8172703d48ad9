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
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from mqmigrate.bridge.engine import Engine, Histogram, Stats
from mqmigrate.errors import PrerequisiteError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StatsCollector:
    """Exposes one engine's Stats as ``mqmigrate_bridge_*`` metrics."""

    def __init__(self, stats: Callable[[], Stats], labels: dict[str, str]):
        self._stats = stats
        self._labels = labels

    def collect(self) -> Iterator[Any]:
        s = self._stats()
        names, values = list(self._labels), list(self._labels.values())
        counters = {
            "messages_in": ("messages received from the source", s.received),
            "messages_out": ("records Kafka acknowledged on the target topic", s.produced),
            "messages_acked": ("source messages settled ACCEPT after Kafka acknowledged", s.acked),
            "messages_released": ("source messages released back (transient failures, stop)",
                                  s.released),
            "messages_quarantined": ("messages written to the quarantine topic", s.quarantined),
            "duplicates_skipped": ("effectively-once: redeliveries already in Kafka, acked "
                                   "without writing", s.duplicates_skipped),
            "messages_redelivered": ("messages the source marked redelivered", s.redelivered),
            "source_reconnects": ("source reconnections", s.source_reconnects),
            "kafka_transient_errors": ("Kafka writes failed transiently", s.kafka_transient_errors),
        }
        for name, (doc, value) in counters.items():
            metric = CounterMetricFamily(f"mqmigrate_bridge_{name}", doc, labels=names)
            metric.add_metric(values, value)
            yield metric
        gauge = GaugeMetricFamily("mqmigrate_bridge_in_flight",
                                  "messages received and not yet settled", labels=names)
        gauge.add_metric(values, s.in_flight)
        yield gauge
        if s.source_depth is not None:
            gauge = GaugeMetricFamily("mqmigrate_bridge_source_backlog",
                                      "messages waiting in the source queue", labels=names)
            gauge.add_metric(values, s.source_depth)
            yield gauge
        for name, doc, hist in (
            ("end_to_end_lag_seconds", "source send time to Kafka acknowledgement", s.lag),
            ("added_latency_seconds", "received from the source to Kafka acknowledgement",
             s.latency),
        ):
            yield _histogram(f"mqmigrate_bridge_{name}", doc, names, values, hist)


def _histogram(name: str, doc: str, names: list[str], values: list[str],
               hist: Histogram) -> HistogramMetricFamily:
    metric = HistogramMetricFamily(name, doc, labels=names)
    buckets = [("+Inf" if b == float("inf") else repr(float(b)), c) for b, c in hist.cumulative()]
    metric.add_metric(values, buckets, hist.total)
    return metric


class OpsServer:
    """``/metrics``, ``/healthz`` (the loop is alive) and ``/readyz`` (consuming *and*
    Kafka acknowledging) on ``host:port`` in a daemon thread."""

    def __init__(self, engine: Engine, port: int, host: str = "127.0.0.1",
                 labels: dict[str, str] | None = None, heartbeat_timeout: float = 60.0):
        self.engine = engine
        self.registry = CollectorRegistry()
        self.registry.register(StatsCollector(lambda: engine.stats, labels or {}))
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
                    ok = ops.engine.ready
                    self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
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
            raise PrerequisiteError(f"cannot serve metrics on {host}:{port}: {exc.strerror}",
                                    hint="choose another --metrics-port") from exc
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="mqmigrate-ops",
                                        daemon=True)

    def healthy(self) -> bool:
        beat = self.engine.heartbeat
        return beat is not None and time.monotonic() - beat < self.heartbeat_timeout

    def start(self) -> "OpsServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers (used when stderr is not a terminal)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                "logger": record.name, "msg": record.getMessage()}
        extra = getattr(record, "stats", None)
        if extra:
            data["stats"] = extra
        return json.dumps(data, default=str)


def setup_logging(json_logs: bool, level: int = logging.INFO) -> None:
    """JSON lines on stderr when it is not a TTY, short text lines otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else
                         logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("mqmigrate")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class Progress:
    """Per-second progress: a rich live table on a terminal, a JSON stats line every
    ``log_every`` seconds otherwise."""

    def __init__(self, title: str, tty: bool, log_every: float = 10.0):
        self.title = title
        self.tty = tty
        self.log_every = log_every
        self._last_log = 0.0
        self._live = None
        self._last: tuple[float, int] | None = None
        self.rate = 0.0

    def __enter__(self) -> "Progress":
        if self.tty:
            from rich.live import Live

            from mqmigrate.cli.output import err_console

            self._live = Live(self._render(None), console=err_console, refresh_per_second=2,
                              transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def tick(self, stats: Stats) -> None:
        now = time.monotonic()
        if self._last is not None and now > self._last[0]:
            self.rate = (stats.produced - self._last[1]) / (now - self._last[0])
        self._last = (now, stats.produced)
        if self._live is not None:
            self._live.update(self._render(stats))
        elif now - self._last_log >= self.log_every:
            self._last_log = now
            logging.getLogger("mqmigrate.bridge").info(
                "progress", extra={"stats": {**stats.as_dict(), "rate_per_s": round(self.rate)}})

    def _render(self, stats: Stats | None) -> Any:
        from rich.table import Table

        table = Table(title=self.title, show_header=True, header_style="bold")
        for col in ("in", "out", "acked", "quarantined", "dupes skipped", "in flight",
                    "backlog", "msg/s", "p99 ms"):
            table.add_column(col, justify="right")
        if stats is not None:
            p99 = stats.latency.quantile(0.99)
            table.add_row(str(stats.received), str(stats.produced), str(stats.acked),
                          str(stats.quarantined), str(stats.duplicates_skipped),
                          str(stats.in_flight),
                          "?" if stats.source_depth is None else str(stats.source_depth),
                          f"{self.rate:,.0f}", "-" if p99 is None else f"{p99 * 1000:g}")
        return table
