"""``mqmigrate verify``: reconcile what the source handed over with what Kafka holds.

The source side is a *verify ledger* (see :mod:`mqmigrate.verify.ledger`); the Kafka side is
read once, bounded by the end offsets taken at start (:func:`read_topic`).  :func:`reconcile`
is pure so the counting rules are unit-tested without brokers.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from mqmigrate.errors import ExitCode, KafkaUnavailable
from mqmigrate.headers import SOURCE_ID

SCHEMA = "mqmigrate.verify/v1"
#: how many ids each sample list keeps
SAMPLE = 20


def body_hash(body: bytes | None) -> str:
    """sha256 hex of a message body (an absent body hashes as empty)."""
    return hashlib.sha256(body or b"").hexdigest()


@dataclass(frozen=True)
class Report:
    """The outcome of one reconciliation."""

    source_count: int
    kafka_count: int
    missing: list[str]
    duplicated: dict[str, int]  # id -> extra copies
    altered: list[str]
    unexpected: list[str]
    kafka_without_id: int = 0
    share_backlog: Optional[int] = None  # None: unknown, never reported as 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duplicate_copies(self) -> int:
        return sum(self.duplicated.values())

    @property
    def lag(self) -> int:
        """Ledger entries not yet seen in Kafka (the bridge's backlog as far as we can tell)."""
        return len(self.missing)

    def exit_code(self, fail_on_duplicates: bool = False) -> ExitCode:
        if self.missing or self.altered or (fail_on_duplicates and self.duplicated):
            return ExitCode.NEGATIVE
        return ExitCode.OK

    def to_dict(self, fail_on_duplicates: bool = False) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "clean": self.exit_code(fail_on_duplicates) == ExitCode.OK,
            "counts": {
                "source": self.source_count,
                "kafka": self.kafka_count,
                "missing": len(self.missing),
                "duplicated_ids": len(self.duplicated),
                "duplicate_copies": self.duplicate_copies,
                "altered": len(self.altered),
                "unexpected": len(self.unexpected),
                "kafka_without_id": self.kafka_without_id,
            },
            "lag": self.lag,
            "share_backlog": self.share_backlog,  # null = unknown
            "samples": {
                "missing": self.missing[:SAMPLE],
                "duplicated": sorted(self.duplicated)[:SAMPLE],
                "altered": self.altered[:SAMPLE],
                "unexpected": self.unexpected[:SAMPLE],
            },
            **self.extra,
        }


def reconcile(source: Iterable[tuple[str, str]],
              kafka: Iterable[tuple[Optional[str], str]]) -> Report:
    """Compare ``(id, sha256)`` pairs from the ledger with those read from Kafka.

    A ledger id recorded twice (a source redelivery the bridge settled twice) counts once;
    its last hash wins.  Kafka records without ``mq.source.id`` are counted apart: they were
    not written by the bridge.
    """
    src: dict[str, str] = {}
    for sid, digest in source:
        src[sid] = digest
    seen: Counter[str] = Counter()
    hashes: dict[str, set[str]] = {}
    without_id = 0
    total = 0
    for sid, digest in kafka:
        total += 1
        if sid is None:
            without_id += 1
            continue
        seen[sid] += 1
        hashes.setdefault(sid, set()).add(digest)
    missing = [sid for sid in src if sid not in seen]
    altered = [sid for sid in src if sid in hashes and hashes[sid] != {src[sid]}]
    unexpected = [sid for sid in seen if sid not in src]
    duplicated = {sid: n - 1 for sid, n in seen.items() if n > 1}
    return Report(source_count=len(src), kafka_count=total, missing=missing,
                  duplicated=duplicated, altered=altered, unexpected=unexpected,
                  kafka_without_id=without_id)


def read_topic(bootstrap: str, topic: str, timeout: float = 120.0,
               progress: Optional[Callable[[int, int], None]] = None
               ) -> list[tuple[Optional[str], str]]:
    """``(mq.source.id, sha256(value))`` of every record up to the end offsets at start.

    A plain consumer with a throw-away group id that never commits; bounded by ``timeout``.
    ``progress(done, total)`` is called after each batch.
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"mqmigrate-verify-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
    })
    out: list[tuple[Optional[str], str]] = []
    try:
        try:
            meta = consumer.list_topics(topic=topic, timeout=10)
        except KafkaException as exc:
            raise KafkaUnavailable(f"Kafka at {bootstrap} did not answer",
                                   hint="check --kafka and that the broker is up") from exc
        info = meta.topics.get(topic)
        if info is None or info.error is not None:
            raise KafkaUnavailable(f"topic '{topic}' not found on {bootstrap}",
                                   hint="check --topic or run 'mqmigrate provision'")
        ends: dict[int, int] = {}
        assign = []
        total = 0
        for partition in info.partitions:
            try:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                           timeout=10)
            except KafkaException as exc:
                raise KafkaUnavailable(f"Kafka at {bootstrap} did not give offsets") from exc
            if high > low:
                ends[partition] = high
                total += high - low
                assign.append(TopicPartition(topic, partition, low))
        if not assign:
            return out
        consumer.assign(assign)
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            batch = consumer.consume(num_messages=5000, timeout=0.5)
            for msg in batch:
                if msg.error() is not None:
                    continue
                end = ends.get(msg.partition())
                if end is None or msg.offset() >= end:
                    continue  # written after we started: not part of this verification
                sid = None
                for name, value in msg.headers() or []:
                    if name == SOURCE_ID and value is not None:
                        sid = value.decode("utf-8", "replace")
                out.append((sid, body_hash(msg.value())))
                if msg.offset() + 1 >= end:
                    ends.pop(msg.partition(), None)
            if not batch:
                # trailing offsets may hold no record (transaction markers): ask the position
                for tp in consumer.position([TopicPartition(topic, p) for p in ends]):
                    if tp.offset >= ends.get(tp.partition, 1 << 62):
                        ends.pop(tp.partition, None)
            if progress is not None:
                progress(len(out), total)
        if ends:
            raise KafkaUnavailable(f"reading '{topic}' did not finish within {timeout:g}s",
                                   hint="raise --timeout", transient=True)
        return out
    finally:
        consumer.close()


class CutoverVerifier:
    """``cutover``'s verify: the workload's bridge ledger reconciled with its topic.

    The runner binds it to its run directory (where ``bridge.start`` has the bridges append
    to ``<workload>.ledger.jsonl``) and to the cluster; ``verify(workload)`` then gives the
    counts the ``verify.run`` step and the ``verify.*`` gates read.
    """

    def __init__(self) -> None:
        self.run_dir: Optional[Path] = None
        self.bootstrap: Optional[str] = None

    def bind(self, *, run_dir: Path, bootstrap: Optional[str]) -> None:
        self.run_dir = Path(run_dir)
        self.bootstrap = bootstrap

    def verify(self, workload: Any):
        from mqmigrate.cutover.bridgeproc import ledger_path
        from mqmigrate.cutover.probes import VerifyCounts
        from mqmigrate.errors import CutoverError
        from mqmigrate.verify.ledger import read_ledger

        if self.run_dir is None or not self.bootstrap:
            raise CutoverError("verify needs the cutover run directory and a Kafka cluster",
                               hint="pass --kafka HOST:PORT or set kafka.bootstrap")
        path = ledger_path(self.run_dir, workload.id)
        if not path.exists():
            raise CutoverError(f"workload '{workload.id}' has no verify ledger at {path}",
                               hint="the shadow phase's bridge.start writes it; run it first")
        # the ledger first: a bridge appends an id only after Kafka acknowledged its record, so
        # every id read now is below the end offsets read_topic takes next; read the other way
        # round, a live bridge's newest ids would count as missing
        settled = list(read_ledger(path))
        report = reconcile(settled, read_topic(self.bootstrap, workload.target.topic))
        return VerifyCounts(
            missing=len(report.missing), altered=len(report.altered),
            duplicated=report.duplicate_copies,
            detail=f"{report.source_count} settled by the bridge, {report.kafka_count} records "
                   f"in {workload.target.topic}",
        )


def cutover_verifier() -> CutoverVerifier:
    """The hook ``mqmigrate cutover`` looks for (see ``cutover.probes.default_verifier``)."""
    return CutoverVerifier()
