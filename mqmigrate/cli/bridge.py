"""``mqmigrate bridge``: copy (shadow) or move (drain) source queues into Kafka topics, from
flags or from a playbook's workloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from mqmigrate.cli.kafkaopts import KafkaConfigFile, resolve_kafka
from mqmigrate.cli.output import print_json
from mqmigrate.errors import ConfigError, PlaybookInvalid, UsageError
from mqmigrate.sources.base import BridgeMode

DEFAULT_KAFKA = "127.0.0.1:9092"


def _pairs(items: list[str]) -> dict[str, str]:
    from mqmigrate.kafka.config import is_secret_key

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"bad --producer-config {key!r}", hint="use KEY=VALUE")
        if is_secret_key(key) or key.startswith(("sasl.", "ssl.", "security.")):
            # a command line is visible to every user in the process list
            raise UsageError(
                f"--producer-config {key}: connection and security settings "
                "belong in --kafka-config FILE",
                hint="see docs/security.md (secrets as ${env:NAME} or ${file:PATH})",
            )
        out[key] = value
    return out


def _kafka(kafka: Optional[str], kafka_config: Optional[Path], book: Any, playbook: Optional[Path]):
    """--kafka over --kafka-config over the playbook's kafka section, else DEFAULT_KAFKA."""
    config = resolve_kafka(
        kafka, kafka_config, playbook=book, playbook_file=playbook, required=False
    )
    if not config.properties.get("bootstrap.servers"):
        config = config.with_bootstrap(DEFAULT_KAFKA)
    return config


def bridge(
    playbook: Optional[Path] = typer.Option(
        None,
        "--playbook",
        metavar="FILE",
        help="Take source, topic, key strategy and header mapping from this playbook's "
        "workloads; credentials are read from the environment variables the "
        "playbook names. Flags given explicitly override the playbook.",
    ),
    workload: list[str] = typer.Option(
        [],
        "--workload",
        metavar="ID",
        help="With --playbook: the workload to bridge (repeatable; default every workload). "
        "Several workloads run in one process, one engine thread each.",
    ),
    source: Optional[str] = typer.Option(
        None,
        "--source",
        envvar="MQMIGRATE_SOURCE",
        help="Source URI, e.g. amqp://user:pass@host:5672/%2f, amqp1://user:pass@host:61616, "
        "sqs://REGION (AWS credential chain) or sqs+http://HOST:PORT (required without "
        "--playbook); amqps://, amqp1s://, sqs+https:// with ?cafile=&certfile=&keyfile= for "
        "TLS, a password as ${env:NAME} or ${file:PATH} (docs/security.md). "
        "Prefer the MQMIGRATE_SOURCE environment variable: a command line is visible to every "
        "user in the process list.",
        show_envvar=True,
    ),
    queue: Optional[str] = typer.Option(
        None, "--queue", help="Source queue name (SQS: name or URL; required without --playbook)."
    ),
    kafka: Optional[str] = typer.Option(
        None,
        "--kafka",
        help=f"Kafka bootstrap servers (default: the playbook's "
        f"kafka.bootstrap, else {DEFAULT_KAFKA}).",
    ),
    kafka_config: KafkaConfigFile = None,
    topic: Optional[str] = typer.Option(
        None, "--topic", help="Target Kafka topic (required without --playbook)."
    ),
    mode: BridgeMode = typer.Option(
        BridgeMode.drain, "--mode", help="drain (move) or shadow (copy)."
    ),
    key_from: Optional[str] = typer.Option(
        None,
        "--key-from",
        help="auto | group | routing-key | header:NAME | none (default: the "
        "playbook's mapping.key, else auto)",
    ),
    quarantine_topic: Optional[str] = typer.Option(
        None,
        "--quarantine-topic",
        help="Topic for records Kafka refuses (default TOPIC.quarantine); '' disables.",
    ),
    max_in_flight: int = typer.Option(
        2000,
        "--max-in-flight",
        help="Unsettled messages at most (prefetch); with several "
        "workloads the budget of the whole process, shared evenly.",
    ),
    batch_size: int = typer.Option(500, "--batch-size", help="Messages per receive call."),
    idle_exit: Optional[float] = typer.Option(
        None,
        "--idle-exit",
        help="Stop once the source is empty and quiet this many seconds "
        "(drain: 10). With several workloads each stops on its own; the process ends when "
        "all did.",
    ),
    effectively_once: bool = typer.Option(
        False, "--effectively-once", help="Skip source ids already in the topic."
    ),
    metrics_port: Optional[int] = typer.Option(
        None,
        "--metrics-port",
        help="Serve /metrics (labelled by workload), /healthz, /readyz (0: any free port).",
    ),
    max_messages: Optional[int] = typer.Option(
        None, "--max-messages", help="Stop after N messages (per workload)."
    ),
    create_topics: bool = typer.Option(
        False,
        "--create-topics",
        help="Create the topic (with the playbook's partition count) "
        "and quarantine topic if missing.",
    ),
    remove_shadow: bool = typer.Option(
        False,
        "--remove-shadow",
        help="Shadow mode: delete the shadow queue (SQS: and "
        "its SNS subscriptions; Artemis: and its divert) on exit.",
    ),
    management_url: Optional[str] = typer.Option(
        None,
        "--management-url",
        help="RabbitMQ management API (default: the playbook's "
        "rabbitmq+http(s) endpoint, else http://HOST:15672, https://HOST:15671 for amqps://); "
        "for amqp1:// on ActiveMQ Artemis its Jolokia console (default http(s)://HOST:8161): "
        "depth, missing-queue check, shadow set-up.  Credentials and TLS settings default to "
        "the source's; a TLS source's password is never sent over plain http.",
    ),
    reconnect_timeout: float = typer.Option(
        300.0,
        "--reconnect-timeout",
        help="Give up reconnecting to the source after this many seconds.",
    ),
    producer_config: list[str] = typer.Option(
        [],
        "--producer-config",
        help="Extra librdkafka producer setting KEY=VALUE (repeatable), laid over "
        "--kafka-config; security settings belong in --kafka-config.",
    ),
    log_format: str = typer.Option("auto", "--log-format", help="auto | json | text"),
    verify_ledger: Optional[str] = typer.Option(
        None,
        "--verify-ledger",
        metavar="FILE",
        help="Append (source id, body sha256) of every message settled after it reached the "
        "topic, for `mqmigrate verify --ledger FILE`. Single workload only.",
    ),
) -> None:
    """Copy (shadow) or move (drain) a source queue into a Kafka topic, settling each source
    message only after Kafka acknowledged it.

    From flags (--source, --queue, --topic) or from a playbook (--playbook FILE [--workload
    ID ...]). Several workloads share one process: SIGTERM stops them all gracefully, --mode
    drain ends when every one is drained, and a workload that fails stops the others (exit 2).
    Several processes on one source queue share its messages (competing consumers).

    Prints a JSON summary on stdout (with --playbook: one entry per workload under
    "workloads"). Exit codes: 0 done (drained, idle, max-messages or SIGTERM), 2 usage,
    configuration or connection error (unknown workload, a credential variable not set),
    130 after Ctrl-C.
    """
    from mqmigrate.bridge.run import run_bridges

    if log_format not in ("auto", "json", "text"):
        raise UsageError(f"bad --log-format {log_format!r}", hint="auto, json or text")
    common: dict[str, Any] = dict(
        mode=mode,
        max_in_flight=max_in_flight,
        batch_size=batch_size,
        idle_exit=idle_exit,
        max_messages=max_messages,
        effectively_once=effectively_once,
        metrics_port=metrics_port,
        create_topics=create_topics,
        remove_shadow=remove_shadow,
        management_url=management_url,
        reconnect_timeout=reconnect_timeout,
        producer_config=_pairs(producer_config),
        log_format=log_format,
        verify_ledger=verify_ledger,
    )
    if playbook is None:
        if workload:
            raise UsageError("--workload needs --playbook FILE")
        options = [
            _options_from_flags(
                source,
                queue,
                topic,
                kafka,
                kafka_config,
                key_from,
                quarantine_topic,
                common,
            )
        ]
    else:
        options = _options_from_playbook(
            playbook,
            workload,
            kafka,
            kafka_config,
            source,
            queue,
            topic,
            key_from,
            quarantine_topic,
            common,
        )
    result = run_bridges(options)
    print_json(result.summary)
    if result.error is not None:
        raise result.error
    raise typer.Exit(int(result.code))


def _options_from_flags(
    source: Optional[str],
    queue: Optional[str],
    topic: Optional[str],
    kafka: Optional[str],
    kafka_config: Optional[Path],
    key_from: Optional[str],
    quarantine_topic: Optional[str],
    common: dict[str, Any],
) -> Any:
    """The one workload --source, --queue and --topic describe."""
    from mqmigrate.bridge.run import BridgeOptions

    missing = [
        flag
        for flag, value in (
            ("--source (or MQMIGRATE_SOURCE)", source),
            ("--queue", queue),
            ("--topic", topic),
        )
        if not value
    ]
    if missing:
        raise UsageError(
            f"missing {', '.join(missing)}",
            hint="give them, or take the workload from --playbook FILE",
        )
    assert source and queue and topic
    config = _kafka(kafka, kafka_config, None, None)
    return BridgeOptions(
        source=source,
        queue=queue,
        kafka=config,
        topic=topic,
        key_from=key_from or "auto",
        quarantine_topic=quarantine_topic,
        **common,
    )


def _options_from_playbook(
    playbook: Path,
    workload: list[str],
    kafka: Optional[str],
    kafka_config: Optional[Path],
    source: Optional[str],
    queue: Optional[str],
    topic: Optional[str],
    key_from: Optional[str],
    quarantine_topic: Optional[str],
    common: dict[str, Any],
) -> list[Any]:
    """The playbook's workloads (all, or those --workload selects), flags overriding."""
    from mqmigrate.bridge.playbook import resolve
    from mqmigrate.bridge.run import BridgeOptions
    from mqmigrate.playbooks import loader

    try:
        book = loader.load(playbook)
    except PlaybookInvalid as exc:  # the bridge's exit code for a bad input is 2
        raise ConfigError(exc.message, hint=exc.hint) from exc
    config = _kafka(kafka, kafka_config, book, playbook)
    overrides = {
        name: value
        for name, value in (
            ("source", source),
            ("queue", queue),
            ("topic", topic),
            ("kafka", config),
            ("key_from", key_from),
            ("quarantine_topic", quarantine_topic),
        )
        if value is not None
    }
    base = BridgeOptions(source="", queue="", kafka=config, topic="", **common)
    options: list[Any] = resolve(book, workload, base, overrides)
    if common["verify_ledger"] and len(options) > 1:
        raise UsageError(
            "--verify-ledger takes one workload's ledger", hint="select one with --workload ID"
        )
    return options
