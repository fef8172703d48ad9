"""Queue-style benchmarks: the same workload on a source broker and on a Kafka share group."""

from mqmigrate.bench.model import PRESETS, RunResult, Workload
from mqmigrate.bench.runner import run

__all__ = ["PRESETS", "RunResult", "Workload", "run", "compare"]


def compare(source_uri: str, bootstrap: str, workload: Workload, progress=None,
            partitions: int = 1, kafka_client: str = "raw") -> tuple[dict, list[RunResult]]:
    """Run ``workload`` on the source and then on Kafka; return the JSON document and runs.

    ``kafka_client``: ``raw`` (one confluent-kafka ``ShareConsumer`` per consumer thread) or
    ``worker`` (the :mod:`mqmigrate.worker` SDK a migrated service runs).
    """
    from mqmigrate.bench.report import comparison
    from mqmigrate.bench.targets import KafkaShareTarget, KafkaWorkerTarget, source_target

    kafka_target = {"raw": KafkaShareTarget, "worker": KafkaWorkerTarget}[kafka_client]
    source = run(source_target(source_uri), workload, progress)
    kafka = run(kafka_target(bootstrap, partitions=partitions), workload, progress)
    return comparison(workload, source, kafka), [source, kafka]
