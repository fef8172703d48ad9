"""``mqmigrate bridge``: the one core function behind the command."""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from mqmigrate.bridge.engine import BridgeConfig, Engine, StopReason
from mqmigrate.errors import ConfigError, ExitCode, UsageError
from mqmigrate.redact import mask_uri
from mqmigrate.sources.base import Mode

log = logging.getLogger("mqmigrate.bridge")


@dataclass
class BridgeOptions:
    """What the user asked for (flags, later a playbook workload)."""

    source: str
    queue: str
    kafka: str
    topic: str
    mode: Mode = Mode.drain
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

    def resolved_quarantine(self) -> str | None:
        if self.quarantine_topic is None:
            return f"{self.topic}.quarantine"
        return self.quarantine_topic or None


def run_bridge(opts: BridgeOptions) -> tuple[ExitCode, dict[str, Any]]:
    """Run the bridge to its end; returns the exit code and a summary (stats, stop reason)."""
    from mqmigrate.bridge.ops import OpsServer, Progress, setup_logging
    from mqmigrate.kafka.admin import QUARANTINE_TOPIC_CONFIG, ensure_topic
    from mqmigrate.kafka.ledger import recover_ids
    from mqmigrate.kafka.producer import BridgeProducer
    from mqmigrate.sources import adapter_class, kind_for_uri

    if opts.max_in_flight < 1 or opts.batch_size < 1:
        raise UsageError("--max-in-flight and --batch-size must be at least 1")
    tty = sys.stderr.isatty()
    setup_logging(json_logs=opts.log_format == "json" or (opts.log_format == "auto" and not tty))
    cls = adapter_class(kind_for_uri(opts.source))
    if opts.mode is Mode.shadow and not cls.capabilities.shadow:
        raise UsageError(f"the {cls.kind} source cannot shadow a queue",
                         hint="use --mode drain or dual-write the producers")
    idle_exit = opts.idle_exit if opts.idle_exit is not None else (
        10.0 if opts.mode is Mode.drain else None)
    quarantine = opts.resolved_quarantine()

    producer = BridgeProducer(opts.kafka, opts.producer_config)
    if opts.create_topics:
        ensure_topic(opts.kafka, opts.topic)
        if quarantine:
            ensure_topic(opts.kafka, quarantine, config=QUARANTINE_TOPIC_CONFIG)
    producer.check([opts.topic] + ([quarantine] if quarantine else []))
    known: set[str] | None = None
    if opts.effectively_once:
        known = recover_ids(opts.kafka, [opts.topic] + ([quarantine] if quarantine else []))
        log.info("effectively-once: %d source ids already in Kafka", len(known))

    source = cls.from_uri(opts.source, queue=opts.queue, mode=opts.mode,  # type: ignore[attr-defined]
                          prefetch=opts.max_in_flight,
                          **({"management_url": opts.management_url} if opts.management_url else {}))
    config = BridgeConfig(topic=opts.topic, quarantine_topic=quarantine, mode=opts.mode,
                          key_from=opts.key_from, max_in_flight=opts.max_in_flight,
                          batch_size=opts.batch_size, idle_exit=idle_exit,
                          max_messages=opts.max_messages, effectively_once=opts.effectively_once,
                          reconnect_timeout=opts.reconnect_timeout)
    title = f"{opts.mode.value}: {source.describe()} → {opts.topic}"
    progress = Progress(title, tty=tty)
    ledger = None
    if opts.verify_ledger:
        from mqmigrate.verify.ledger import LedgerWriter

        try:
            ledger = LedgerWriter(opts.verify_ledger)
        except OSError as exc:
            raise ConfigError(f"cannot open the verify ledger {opts.verify_ledger}: "
                              f"{exc.strerror}") from exc
    engine = Engine(source, producer, config, known_ids=known, on_tick=progress.tick,
                    ledger=ledger)
    engine.open()
    log.info("bridge started: %s (kafka %s)", title, mask_uri(opts.kafka))
    server = None
    if opts.metrics_port is not None:
        server = OpsServer(engine, opts.metrics_port, opts.metrics_host,
                           labels={"queue": opts.queue, "topic": opts.topic}).start()
        log.info("metrics on http://%s:%d/metrics", opts.metrics_host, server.port)
    restore = engine.install_signal_handlers()
    try:
        with progress:
            reason = engine.run()
    finally:
        restore()
        if server is not None:
            server.stop()
        if ledger is not None:
            ledger.close()
    if opts.remove_shadow and opts.mode is Mode.shadow and hasattr(source, "remove_shadow"):
        source.remove_shadow()
        log.info("shadow queue %s removed", source.queue)
    summary = {"stopped": reason.value, **engine.stats.as_dict()}
    log.info("bridge stopped (%s)", reason.value, extra={"stats": summary})
    if reason is StopReason.signal and engine.stopped_by_signal == signal.SIGINT:
        return ExitCode.INTERRUPTED, summary
    return ExitCode.OK, summary
