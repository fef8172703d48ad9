"""Queue-style benchmarks: the same workload on a source broker and on a Kafka share group."""

from mqmigrate.bench.model import PRESETS, RunResult, Workload
from mqmigrate.bench.runner import run

__all__ = ["PRESETS", "RunResult", "Workload", "run", "compare"]


def compare(
    source_uri: str,
    bootstrap: str,
    workload: Workload,
    progress=None,
    partitions: int = 1,
    kafka_client: str = "raw",
    *,
    max_poll_records: int | None = None,
    acquire_mode: str | None = None,
    worker_concurrency: int | None = None,
    worker_handoff: str | None = None,
    share_consumers: int | None = None,
    publish_window: int | None = None,
) -> tuple[dict, list[RunResult]]:
    """Run ``workload`` on the source and then on Kafka; return the JSON document and runs.

    ``kafka_client``: ``raw`` (one confluent-kafka ``ShareConsumer`` per consumer thread) or
    ``worker`` (the :mod:`mqmigrate.sdk.worker` SDK a migrated service runs, with
    ``worker_concurrency`` handler threads, default one per consumer, ``worker_handoff``
    ``pool`` or ``thread``, default the worker's, and ``share_consumers`` feeding the pool).
    ``max_poll_records`` and ``acquire_mode`` (KIP-1206) go to the share consumers; None keeps
    the client's (raw) or the worker's default.  ``publish_window``: the messages the
    RabbitMQ and AMQP 1.0 publishers leave unconfirmed at most (default
    :data:`~mqmigrate.bench.publishers.DEFAULT_WINDOW`).
    """
    from mqmigrate.bench.publishers import DEFAULT_WINDOW
    from mqmigrate.bench.report import comparison
    from mqmigrate.bench.targets import KafkaShareTarget, KafkaWorkerTarget, source_target

    kafka_target: KafkaShareTarget | KafkaWorkerTarget
    if kafka_client == "worker":
        kafka_target = KafkaWorkerTarget(
            bootstrap,
            partitions,
            concurrency=worker_concurrency,
            handoff=worker_handoff,
            share_consumers=share_consumers,
            max_poll_records=max_poll_records,
            acquire_mode=acquire_mode,
        )
    else:
        kafka_target = KafkaShareTarget(
            bootstrap, partitions, max_poll_records=max_poll_records, acquire_mode=acquire_mode
        )
    source = run(
        source_target(
            source_uri, publish_window or DEFAULT_WINDOW, prefetch=workload.source_prefetch
        ),
        workload,
        progress,
    )
    kafka = run(kafka_target, workload, progress)
    settings = {
        "partitions": partitions,
        "kafka_client": kafka_client,
        **kafka_target.client_settings(),
    }
    if isinstance(kafka_target, KafkaWorkerTarget):
        settings.update(kafka_target.worker_settings())
    kafka.notes.insert(0, "settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    return comparison(workload, source, kafka), [source, kafka]
