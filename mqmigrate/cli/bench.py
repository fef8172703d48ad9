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
    source: str = typer.Option(..., "--source", "-s",
                               help="Source broker URI: amqp://, amqp1:// or sqs+http://."),
    kafka: Optional[str] = typer.Option(
        None, "--kafka", "-k", help="Kafka bootstrap servers (or bootstrap.servers in "
        "--kafka-config)."),
    kafka_config: KafkaConfigFile = None,
    preset: Optional[Preset] = typer.Option(
        None, "--preset", help="A classic queue workload: work-queue (8 consumers, 10 ms "
        "processing, 500 msg/s), burst (a 20k backlog drained by 4 consumers), fan-out (one "
        "publish, three consumer groups), large-messages (256 KiB). Flags override it."),
    size: Optional[int] = typer.Option(None, "--size", help="Message size in bytes [1024]."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Publish rate msg/s [as fast as possible]."),
    messages: Optional[int] = typer.Option(None, "--messages", help="Message cap [10000]."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Publish time cap, s [30]."),
    consumers: Optional[int] = typer.Option(None, "--consumers", help="Consumers per group [4]."),
    processing_ms: Optional[float] = typer.Option(None, "--processing-ms",
                                                  help="Simulated work per message [0]."),
    ack: Optional[str] = typer.Option(None, "--ack", help="explicit (after processing) or implicit."),
    partitions: int = typer.Option(1, "--partitions", help="Partitions of the Kafka topic."),
    kafka_client: str = typer.Option(
        "raw", "--kafka-client",
        help="raw: one confluent-kafka ShareConsumer per consumer thread; worker: the "
        "mqmigrate.worker SDK a migrated service runs (ACCEPT after the handler returns)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write an HTML chart (latency CDF, "
                                        "throughput over time) to this file."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """Run the same queue workload on the source broker and on a Kafka share group, and print
    throughput, latency percentiles (p50…max) and redeliveries side by side with the ratio
    (Kafka ÷ source).

    Bounded by --messages and --duration; temporary queues, topics and groups are removed.
    """
    settings = dict(PRESETS[preset.value]) if preset else {}
    overrides = {"message_bytes": size, "rate": rate, "max_messages": messages,
                 "duration": duration, "consumers": consumers,
                 "processing_ms": processing_ms, "ack": ack}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    workload = Workload(**settings)
    if kafka_client not in ("raw", "worker"):
        raise UsageError(f"bad --kafka-client {kafka_client!r}", hint="raw or worker")
    from mqmigrate.kafka.connect import check_connection

    kafka_settings = resolve_kafka(kafka, kafka_config)
    check_connection(kafka_settings)  # a wrong password or CA: one line now
    with err_console.status("benchmarking") as status:
        doc, runs = compare(source, kafka_settings, workload, progress=status.update,
                            partitions=partitions, kafka_client=kafka_client)
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
