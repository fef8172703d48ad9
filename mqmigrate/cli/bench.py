"""``mqmigrate bench``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from mqmigrate.bench import PRESETS, Workload, compare
from mqmigrate.bench.report import render_html, render_table
from mqmigrate.cli.kafkaopts import KafkaConfigFile, resolve_kafka
from mqmigrate.cli.output import Format, err_console, out_console, print_json
from mqmigrate.errors import ConfigError, UsageError

Preset = Enum("Preset", {name.replace("-", "_"): name for name in PRESETS}, type=str)


def bench(
    source: str = typer.Option(
        ..., "--source", "-s", help="Source broker URI: amqp(s)://, amqp1(s):// or sqs+http(s)://."
    ),
    kafka: Optional[str] = typer.Option(
        None,
        "--kafka",
        "-k",
        help="Kafka bootstrap servers (or bootstrap.servers in --kafka-config).",
    ),
    kafka_config: KafkaConfigFile = None,
    preset: Optional[Preset] = typer.Option(
        None,
        "--preset",
        help="A classic queue workload: work-queue (8 consumers, 10 ms "
        "processing, 500 msg/s), burst (a 20k backlog drained by 4 consumers), fan-out (one "
        "publish, three consumer groups), large-messages (256 KiB). Flags override it.",
    ),
    size: Optional[int] = typer.Option(None, "--size", help="Message size in bytes [1024]."),
    rate: Optional[float] = typer.Option(
        None, "--rate", help="Publish rate msg/s [as fast as possible]."
    ),
    messages: Optional[int] = typer.Option(None, "--messages", help="Message cap [10000]."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Publish time cap, s [30]."),
    consumers: Optional[int] = typer.Option(None, "--consumers", help="Consumers per group [4]."),
    processing_ms: Optional[float] = typer.Option(
        None, "--processing-ms", help="Simulated work per message [0]."
    ),
    ack: Optional[str] = typer.Option(
        None, "--ack", help="explicit (after processing) or implicit."
    ),
    partitions: int = typer.Option(1, "--partitions", help="Partitions of the Kafka topic."),
    kafka_client: str = typer.Option(
        "raw",
        "--kafka-client",
        help="raw: one confluent-kafka ShareConsumer per consumer thread; worker: the "
        "mqmigrate.sdk.worker SDK a migrated service runs (ACCEPT after the handler returns).",
    ),
    max_poll_records: Optional[int] = typer.Option(
        None,
        "--max-poll-records",
        min=1,
        help="Records a share consumer acquires per poll [raw: the client's 500; worker: the "
        "worker's default]. Fewer keeps records from waiting in a busy consumer's batch.",
    ),
    acquire_mode: Optional[str] = typer.Option(
        None,
        "--acquire-mode",
        help="share.acquire.mode (KIP-1206, Kafka 4.2+): "
        "batch_optimized or record_limit (--max-poll-records honoured strictly); refused when "
        "the installed client has no such setting.",
    ),
    worker_concurrency: Optional[int] = typer.Option(
        None,
        "--worker-concurrency",
        min=1,
        help="--kafka-client worker: the worker's handler threads [one per consumer].",
    ),
    worker_handoff: Optional[str] = typer.Option(
        None,
        "--worker-handoff",
        help="--kafka-client worker: pool (share consumers "
        "feed one pool of handler threads, acquiring only while one is idle) or thread (a share "
        "consumer per handler thread, each working through its own batches) [pool].",
    ),
    share_consumers: Optional[int] = typer.Option(
        None,
        "--share-consumers",
        min=1,
        help="--worker-handoff pool: the share consumers "
        "feeding the handler threads [one per handler thread].",
    ),
    publish_window: int = typer.Option(
        1000,
        "--publish-window",
        min=1,
        help="Messages the source publisher leaves unconfirmed at most: RabbitMQ publisher "
        "confirms and AMQP 1.0 unsettled deliveries, handled asynchronously as production "
        "publishers do (Kafka's producer batches on its own; SQS sends batches of 10).",
    ),
    source_prefetch: Optional[int] = typer.Option(
        None,
        "--source-prefetch",
        min=1,
        help="Messages each source consumer holds at most (RabbitMQ prefetch, AMQP 1.0 "
        "credit, SQS messages per receive) [200; --preset work-queue: 1, fair dispatch as "
        "latency-bound work-queue consumers run it].",
    ),
    plot: Optional[Path] = typer.Option(
        None, "--plot", help="Write an HTML chart (latency CDF, throughput over time) to this file."
    ),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """Run the same queue workload on the source broker and on a Kafka share group, and print
    throughput, latency percentiles (p50…max) and redeliveries side by side with the ratio
    (Kafka ÷ source).

    Bounded by --messages and --duration; temporary queues, topics and groups are removed.
    """
    settings = dict(PRESETS[preset.value]) if preset else {}
    overrides = {
        "message_bytes": size,
        "rate": rate,
        "max_messages": messages,
        "duration": duration,
        "consumers": consumers,
        "processing_ms": processing_ms,
        "ack": ack,
        "source_prefetch": source_prefetch,
    }
    settings.update({k: v for k, v in overrides.items() if v is not None})
    workload = Workload(**settings)
    if kafka_client not in ("raw", "worker"):
        raise UsageError(f"bad --kafka-client {kafka_client!r}", hint="raw or worker")
    worker_knobs = (worker_concurrency, worker_handoff, share_consumers)
    if any(k is not None for k in worker_knobs) and kafka_client != "worker":
        raise UsageError(
            "--worker-concurrency, --worker-handoff and --share-consumers need "
            "--kafka-client worker"
        )
    if share_consumers is not None and worker_handoff == "thread":
        raise UsageError("--share-consumers applies to --worker-handoff pool")
    if worker_handoff not in (None, "pool", "thread"):
        raise UsageError(f"bad --worker-handoff {worker_handoff!r}", hint="pool or thread")
    if acquire_mode is not None:
        from mqmigrate.kafka.share import require_acquire_mode

        require_acquire_mode(acquire_mode)
    from mqmigrate.kafka.connect import check_connection

    kafka_settings = resolve_kafka(kafka, kafka_config)
    check_connection(kafka_settings)  # a wrong password or CA: one line now
    with err_console.status("benchmarking") as status:
        doc, runs = compare(
            source,
            kafka_settings,
            workload,
            progress=status.update,
            partitions=partitions,
            kafka_client=kafka_client,
            max_poll_records=max_poll_records,
            acquire_mode=acquire_mode,
            worker_concurrency=worker_concurrency,
            worker_handoff=worker_handoff,
            share_consumers=share_consumers,
            publish_window=publish_window,
        )
    if plot:
        try:
            plot.write_text(render_html(doc, runs))
        except OSError as exc:
            raise ConfigError(f"cannot write {plot}: {exc.strerror}") from exc
        err_console.print(f"chart written to {plot}")
    if fmt is Format.json:
        print_json(doc)
    else:
        render_table(doc, out_console)
