"""``mqmigrate verify``: reconcile what the source handed over with what Kafka holds.

The source side is a *verify ledger* (see :mod:`mqmigrate.verify.ledger`); the Kafka side is
read once, bounded by the end offsets taken at start (:func:`read_topic`).  :func:`reconcile`
is pure so the counting rules are unit-tested without brokers.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from mqmigrate.errors import ExitCode
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


def reconcile(
    source: Iterable[tuple[str, str]], kafka: Iterable[tuple[Optional[str], str]]
) -> Report:
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
    return Report(
        source_count=len(src),
        kafka_count=total,
        missing=missing,
        duplicated=duplicated,
        altered=altered,
        unexpected=unexpected,
        kafka_without_id=without_id,
    )


def read_topic(
    bootstrap: Any,
    topic: str,
    timeout: float = 120.0,
    progress: Optional[Callable[[int, int], None]] = None,
) -> list[tuple[Optional[str], str]]:
    """``(mq.source.id, sha256(value))`` of every record up to the end offsets at start.

    A snapshot read (:func:`mqmigrate.kafka.snapshot.read_snapshot`) bounded by ``timeout``;
    ``progress(done, total)`` is called after each batch.  ``bootstrap`` is the connection
    configuration (a KafkaConfig) or plaintext bootstrap servers.
    """
    from mqmigrate.kafka.snapshot import header, read_snapshot

    return [
        (header(msg, SOURCE_ID), body_hash(msg.value()))
        for msg in read_snapshot(
            bootstrap,
            [topic],
            timeout=timeout,
            purpose="verify",
            require_topics=True,
            progress=progress,
        )
    ]
