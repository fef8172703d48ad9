"""``mqmigrate bridge``: copy (shadow) or move (drain) a source queue into a Kafka topic."""

from __future__ import annotations

from typing import Optional

import typer

from mqmigrate.cli.output import print_json
from mqmigrate.errors import UsageError
from mqmigrate.sources.base import Mode


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"bad --producer-config {item!r}", hint="use KEY=VALUE")
        out[key] = value
    return out


def bridge(
    source: str = typer.Option(
        ..., "--source", envvar="MQMIGRATE_SOURCE",
        help="Source URI, e.g. amqp://user:pass@host:5672/%2f or amqp1://user:pass@host:61616. Prefer the MQMIGRATE_SOURCE "
        "environment variable: a command line is visible to every user in the process list.",
        show_envvar=True),
    queue: str = typer.Option(..., "--queue", help="Source queue name."),
    kafka: str = typer.Option("127.0.0.1:9092", "--kafka", help="Kafka bootstrap servers."),
    topic: str = typer.Option(..., "--topic", help="Target Kafka topic."),
    mode: Mode = typer.Option(Mode.drain, "--mode", help="drain (move) or shadow (copy)."),
    key_from: str = typer.Option("auto", "--key-from",
                                 help="auto | group | routing-key | header:NAME | none"),
    quarantine_topic: Optional[str] = typer.Option(
        None, "--quarantine-topic", help="Topic for records Kafka refuses (default TOPIC.quarantine); '' disables."),
    max_in_flight: int = typer.Option(2000, "--max-in-flight", help="Unsettled messages at most (prefetch)."),
    batch_size: int = typer.Option(500, "--batch-size", help="Messages per receive call."),
    idle_exit: Optional[float] = typer.Option(
        None, "--idle-exit", help="Stop once the source is empty and quiet this many seconds (drain: 10)."),
    effectively_once: bool = typer.Option(False, "--effectively-once",
                                          help="Skip source ids already in the topic."),
    metrics_port: Optional[int] = typer.Option(None, "--metrics-port",
                                               help="Serve /metrics, /healthz, /readyz (0: any free port)."),
    max_messages: Optional[int] = typer.Option(None, "--max-messages", help="Stop after N messages."),
    create_topics: bool = typer.Option(False, "--create-topics",
                                       help="Create the topic and quarantine topic if missing."),
    remove_shadow: bool = typer.Option(False, "--remove-shadow",
                                       help="Shadow mode: delete the shadow queue (Artemis: and its divert) on exit."),
    management_url: Optional[str] = typer.Option(
        None, "--management-url",
        help="RabbitMQ management API (default http://HOST:15672), or for amqp1:// on ActiveMQ "
        "Artemis its Jolokia console (default http://HOST:8161): depth, shadow set-up."),
    reconnect_timeout: float = typer.Option(300.0, "--reconnect-timeout",
                                            help="Give up reconnecting to the source after this many seconds."),
    producer_config: list[str] = typer.Option([], "--producer-config",
                                              help="Extra librdkafka producer setting KEY=VALUE (repeatable)."),
    log_format: str = typer.Option("auto", "--log-format", help="auto | json | text"),
    verify_ledger: str = typer.Option(
        None, "--verify-ledger", metavar="FILE",
        help="Append (source id, body sha256) of every message settled after it reached the "
        "topic, for `mqmigrate verify --ledger FILE`."),
) -> None:
    """Copy (shadow) or move (drain) a source queue into a Kafka topic, settling each source
    message only after Kafka acknowledged it.

    Prints a JSON summary on stdout. Exit codes: 0 done (drained, idle, max-messages or
    SIGTERM), 2 usage/connection error, 130 after Ctrl-C.
    """
    from mqmigrate.bridge.run import BridgeOptions, run_bridge

    if log_format not in ("auto", "json", "text"):
        raise UsageError(f"bad --log-format {log_format!r}", hint="auto, json or text")
    opts = BridgeOptions(
        source=source, queue=queue, kafka=kafka, topic=topic, mode=mode, key_from=key_from,
        quarantine_topic=quarantine_topic, max_in_flight=max_in_flight, batch_size=batch_size,
        idle_exit=idle_exit, max_messages=max_messages, effectively_once=effectively_once,
        metrics_port=metrics_port, create_topics=create_topics, remove_shadow=remove_shadow,
        management_url=management_url, reconnect_timeout=reconnect_timeout,
        producer_config=_pairs(producer_config), log_format=log_format,
        verify_ledger=verify_ledger,
    )
    code, summary = run_bridge(opts)
    print_json(summary)
    raise typer.Exit(int(code))
