"""``mqmigrate bridge``: the core functions behind the command.

:func:`run_bridges` runs one or several workloads in one process: one engine per workload,
each in its own thread (an engine and its source connection belong to one thread), one Kafka
producer shared by every workload (librdkafka producers are thread-safe; each workload's
delivery reports come back to its own engine, see :class:`~mqmigrate.kafka.producer.
ProducerPool`), one metrics endpoint labelled by workload, one signal handler that stops
them all.  :func:`run_bridge` is the
single-workload form.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from mqmigrate.bridge.engine import BridgeConfig, Engine, StopReason
from mqmigrate.bridge.mapping import HeaderMapping
from mqmigrate.errors import ConfigError, ExitCode, MqMigrateError, UsageError
from mqmigrate.kafka.config import KafkaConfig, as_kafka_config
from mqmigrate.sources.base import BridgeMode

if TYPE_CHECKING:
    from mqmigrate.kafka.producer import ProducerPool

log = logging.getLogger("mqmigrate.bridge")


@dataclass
class BridgeOptions:
    """What the user asked for (flags, or a playbook workload completed by flags).

    ``metrics_port``, ``metrics_host`` and ``log_format`` belong to the process: with several
    workloads the first workload's values apply.
    """

    #: the source URI: it may hold a password, so it is kept out of repr
    source: str = field(repr=False)
    queue: str
    #: the Kafka connection configuration (or plaintext bootstrap servers)
    kafka: "KafkaConfig | str"
    topic: str
    mode: BridgeMode = BridgeMode.drain
    key_from: str = "auto"
    #: None: ``<topic>.quarantine``; "" disables quarantining (a refused record then stops)
    quarantine_topic: str | None = None
    max_in_flight: int = 2000
    batch_size: int = 500
    idle_exit: float | None = None
    max_messages: int | None = None
    effectively_once: bool = False
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    create_topics: bool = False
    remove_shadow: bool = False
    management_url: str | None = None
    reconnect_timeout: float = 300.0
    producer_config: dict[str, Any] = field(default_factory=dict)
    #: "auto" (JSON when stderr is not a TTY), "json", "text"
    log_format: str = "auto"
    #: append (source id, body sha256) of every settled message here, for ``mqmigrate verify``
    verify_ledger: str | None = None
    #: the playbook workload these options came from (None: from flags)
    workload: str | None = None
    #: kind-specific options for the adapter's ``from_uri`` (see bridge/playbook.py)
    source_options: dict[str, Any] = field(default_factory=dict)
    #: renames/drops of application headers
    headers: HeaderMapping = field(default_factory=HeaderMapping)
    #: partitions of the topic when ``create_topics`` creates it
    topic_partitions: int = 1

    def resolved_quarantine(self) -> str | None:
        if self.quarantine_topic is None:
            return f"{self.topic}.quarantine"
        return self.quarantine_topic or None

    @property
    def name(self) -> str:
        """How logs, metrics and the summary call this workload."""
        return self.workload or self.queue


@dataclass
class BridgeRun:
    """How a run ended: the exit code, the JSON summary, and the error that ended it (if
    one did; the summary is complete either way)."""

    code: ExitCode
    summary: dict[str, Any]
    error: MqMigrateError | None = None


@dataclass
class _Workload:
    """One workload's engine and what it owns, while the process runs."""

    opts: BridgeOptions
    engine: Engine
    ledger: Any = None
    thread: threading.Thread | None = None
    reason: StopReason | None = None
    error: BaseException | None = None

    def finished(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()

    def summary(self) -> dict[str, Any]:
        stopped = (
            "error"
            if self.error is not None
            else (self.reason.value if self.reason else "not-started")
        )
        out: dict[str, Any] = {}
        if self.opts.workload is not None:
            out.update(workload=self.opts.workload, queue=self.opts.queue, topic=self.opts.topic)
        out["stopped"] = stopped
        out.update(self.engine.stats.as_dict())
        if isinstance(self.error, MqMigrateError):
            out["error"] = self.error.one_line()
        return out


def _check(opts: BridgeOptions) -> None:
    if opts.max_in_flight < 1 or opts.batch_size < 1:
        raise UsageError("--max-in-flight and --batch-size must be at least 1")


def _prepare(
    opts: BridgeOptions, on_tick: Callable[..., None], producers: "ProducerPool"
) -> _Workload:
    """Topics checked (created on request), ids recovered, the source opened: an error here
    is a configuration or connection error (exit 2) before anything moved.  The workload
    writes through ``producers``' producer for its Kafka configuration."""
    from mqmigrate.kafka.admin import QUARANTINE_TOPIC_CONFIG, ensure_topic
    from mqmigrate.kafka.connect import check_connection
    from mqmigrate.kafka.known_ids import recover_ids
    from mqmigrate.kafka.producer import fit_batches_to_topics
    from mqmigrate.sources import adapter_class, kind_for_uri

    cls = adapter_class(kind_for_uri(opts.source))
    if opts.mode is BridgeMode.shadow and not cls.capabilities.shadow:
        raise UsageError(
            f"the {cls.kind} source cannot shadow a queue"
            + (f" (workload '{opts.workload}')" if opts.workload else ""),
            hint="use --mode drain or dual-write the producers",
        )
    idle_exit = (
        opts.idle_exit
        if opts.idle_exit is not None
        else (10.0 if opts.mode is BridgeMode.drain else None)
    )
    quarantine = opts.resolved_quarantine()

    if not producers.connects_to(opts.kafka):  # a Kafka configuration not checked yet
        check_connection(opts.kafka)  # a wrong password or CA: one line now, not a retry loop
    if opts.create_topics:
        ensure_topic(opts.kafka, opts.topic, partitions=opts.topic_partitions)
        if quarantine:
            ensure_topic(opts.kafka, quarantine, config=QUARANTINE_TOPIC_CONFIG)
    topics = [opts.topic] + ([quarantine] if quarantine else [])
    # batches no larger than the topics' limit, so a record too large is refused alone
    producer_config = fit_batches_to_topics(opts.kafka, opts.producer_config, topics)
    producer = producers.producer(opts.kafka, producer_config)
    producer.check(topics)
    known: set[str] | None = None
    if opts.effectively_once:
        known = recover_ids(opts.kafka, topics)
        log.info("effectively-once: %d source ids already in Kafka (%s)", len(known), opts.name)

    options = dict(opts.source_options)
    if opts.management_url:
        options["management_url"] = opts.management_url
    source = cls.from_uri(
        opts.source, queue=opts.queue, mode=opts.mode, prefetch=opts.max_in_flight, **options
    )
    config = BridgeConfig(
        topic=opts.topic,
        quarantine_topic=quarantine,
        mode=opts.mode,
        key_from=opts.key_from,
        headers=opts.headers,
        max_in_flight=opts.max_in_flight,
        batch_size=opts.batch_size,
        idle_exit=idle_exit,
        max_messages=opts.max_messages,
        effectively_once=opts.effectively_once,
        reconnect_timeout=opts.reconnect_timeout,
    )
    ledger = None
    if opts.verify_ledger:
        from mqmigrate.verify.ledger import LedgerWriter

        try:
            ledger = LedgerWriter(opts.verify_ledger)
        except OSError as exc:
            raise ConfigError(
                f"cannot open the verify ledger {opts.verify_ledger}: {exc.strerror}"
            ) from exc
    engine = Engine(source, producer, config, known_ids=known, on_tick=on_tick, ledger=ledger)
    try:
        engine.open()
    except BaseException:
        if ledger is not None:
            ledger.close()
        raise
    log.info(
        "bridge started: %s: %s → %s (kafka %s)",
        opts.mode.value,
        source.describe(),
        opts.topic,
        as_kafka_config(opts.kafka).describe(),
    )
    return _Workload(opts, engine, ledger)


def _close(workload: _Workload) -> None:
    """Release what a prepared but never run workload holds."""
    try:
        workload.engine.source.close()
    except MqMigrateError as exc:
        log.warning("closing the source: %s", exc.one_line())
    if workload.ledger is not None:
        workload.ledger.close()


def run_bridges(options: list[BridgeOptions]) -> BridgeRun:
    """Run every workload of ``options`` to its end in this process.

    Each workload stops on its own (drained, idle, max-messages); SIGTERM/SIGINT stop them all
    gracefully (in-flight records acknowledged and settled).  A workload that fails (source
    gone past ``--reconnect-timeout``, Kafka refusing the topic) stops the others gracefully
    too: the run ends with exit 2 and that error, the summary listing every workload.
    """
    from mqmigrate.kafka.producer import ProducerPool

    _check_all(options)
    first = options[0]
    several = len(options) > 1 or first.workload is not None
    progress = _progress(options, several)
    workloads = _prepare_all(options, progress, several, ProducerPool())
    server = _start_metrics(first, workloads)
    try:
        caught = _run_to_end(workloads, progress)
    finally:
        if server is not None:
            server.stop()
        for w in workloads:
            if w.ledger is not None:
                w.ledger.close()
    _after_run(workloads)
    return _result(options, workloads, caught)


def _check_all(options: list[BridgeOptions]) -> None:
    if not options:
        raise UsageError("no workload to bridge")
    for opts in options:
        _check(opts)
    first = options[0]
    if first.log_format not in ("auto", "json", "text"):
        raise UsageError(f"bad --log-format {first.log_format!r}", hint="auto, json or text")


def _progress(options: list[BridgeOptions], several: bool) -> Any:
    """Set up the process's logging and return its progress display (a
    :class:`~mqmigrate.bridge.ops.Progress`, one row per workload when ``several``)."""
    from mqmigrate.bridge.ops import Progress, setup_logging

    first = options[0]
    tty = sys.stderr.isatty()
    setup_logging(json_logs=first.log_format == "json" or (first.log_format == "auto" and not tty))
    title = (
        f"{first.mode.value}: {first.queue} → {first.topic}"
        if not several
        else f"{first.mode.value}: {len(options)} workloads"
    )
    return Progress(title, tty=tty)


def _prepare_all(
    options: list[BridgeOptions], progress: Any, several: bool, producers: "ProducerPool"
) -> list[_Workload]:
    """Every workload prepared (:func:`_prepare`), or none: on an error the ones prepared
    are closed."""
    workloads: list[_Workload] = []
    try:
        for opts in options:
            row = opts.name if several else None
            workloads.append(
                _prepare(opts, lambda stats, row=row: progress.tick(stats, row), producers)
            )
    except BaseException:
        for prepared in workloads:
            _close(prepared)
        raise
    return workloads


def _start_metrics(first: BridgeOptions, workloads: list[_Workload]) -> Any:
    """The metrics endpoint for every workload when ``first`` asks for one (else None); on
    an error the workloads are closed."""
    from mqmigrate.bridge.ops import OpsServer, OpsTarget

    server = None
    if first.metrics_port is not None:
        targets = [OpsTarget(w.engine, _labels(w.opts), w.finished) for w in workloads]
        try:
            server = OpsServer(targets, first.metrics_port, first.metrics_host).start()
        except MqMigrateError:
            for prepared in workloads:
                _close(prepared)
            raise
        log.info("metrics on http://%s:%d/metrics", first.metrics_host, server.port)
    return server


def _run_to_end(workloads: list[_Workload], progress: Any) -> list[int]:
    """Run each workload's engine in its own thread until all have ended; SIGTERM/SIGINT (and
    a failing workload) stop the others.  Returns the signals caught."""
    from mqmigrate.bridge.ops import WORKLOAD_THREAD_PREFIX

    caught: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        caught.append(signum)
        for w in workloads:  # a second signal makes each engine stop waiting for Kafka
            w.engine.request_stop(StopReason.signal)

    def stop_others(failed: _Workload) -> None:
        for w in workloads:
            if w is not failed:
                w.engine.request_stop(StopReason.signal)

    def work(w: _Workload) -> None:
        try:
            w.reason = w.engine.run()
        except BaseException as exc:  # reported by the main thread
            w.error = exc
            if len(workloads) > 1:
                log.error(
                    "workload %s failed, stopping the others: %s",
                    w.opts.name,
                    exc.one_line() if isinstance(exc, MqMigrateError) else repr(exc),
                )
                stop_others(w)

    # only the main thread may set handlers; a caller running this elsewhere stops it itself
    old = (
        {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        if threading.current_thread() is threading.main_thread()
        else {}
    )
    try:
        with progress:
            for w in workloads:
                w.thread = threading.Thread(
                    target=work,
                    args=(w,),
                    daemon=True,
                    name=(
                        f"{WORKLOAD_THREAD_PREFIX}{w.opts.workload}"
                        if w.opts.workload
                        else "bridge"
                    ),
                )
                w.thread.start()
            for w in workloads:
                while w.thread is not None and w.thread.is_alive():
                    w.thread.join(0.2)  # short joins: the main thread keeps taking signals
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return caught


def _after_run(workloads: list[_Workload]) -> None:
    """Remove the shadow queue of each shadow workload that asked for it and ended without
    an error; log how each workload stopped."""
    for w in workloads:
        opts = w.opts
        if (
            w.error is None
            and opts.remove_shadow
            and opts.mode is BridgeMode.shadow
            and w.engine.source.capabilities.shadow
        ):
            removed = w.engine.source.remove_shadow()
            log.info("shadow copy removed: %s", ", ".join(removed) or "nothing was left")
        log.info("bridge stopped (%s)", w.summary()["stopped"], extra={"stats": w.summary()})


def _result(
    options: list[BridgeOptions], workloads: list[_Workload], caught: list[int]
) -> BridgeRun:
    """The exit code and summary of the run: the first workload's error, exit 130 after
    Ctrl-C, else OK.  An error that is not an MqMigrateError (a bug) is raised."""
    errors = [w.error for w in workloads if w.error is not None]
    if len(options) == 1 and options[0].workload is None:
        summary = workloads[0].summary()
    else:
        summary = {"workloads": [w.summary() for w in workloads]}
    if errors:
        error = errors[0]
        if not isinstance(error, MqMigrateError):
            raise error  # a bug: the CLI's boundary reports it
        return BridgeRun(error.exit_code, summary, error)
    if caught and caught[0] == signal.SIGINT:
        return BridgeRun(ExitCode.INTERRUPTED, summary)
    return BridgeRun(ExitCode.OK, summary)


def _labels(opts: BridgeOptions) -> dict[str, str]:
    labels = {"queue": opts.queue, "topic": opts.topic}
    return {"workload": opts.workload, **labels} if opts.workload is not None else labels


def run_bridge(opts: BridgeOptions) -> tuple[ExitCode, dict[str, Any]]:
    """Run one bridge to its end; returns the exit code and a summary (stats, stop reason).

    An error that ends the run is raised (exit 2) after the source was settled and closed.
    """
    result = run_bridges([opts])
    if result.error is not None:
        raise result.error
    return result.code, result.summary
