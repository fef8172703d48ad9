"""Assessment results: findings, derived target values (each with its reason) and workloads.

Serialized as the ``mqmigrate.assessment/v1`` JSON document (docs/assessment-schema.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ASSESSMENT_SCHEMA = "mqmigrate.assessment/v1"


class FindingSeverity(str, Enum):
    """How much a finding weighs on the migration: blocker, warn or info."""

    blocker = "blocker"
    warn = "warn"
    info = "info"

    @property
    def rank(self) -> int:
        return {"blocker": 3, "warn": 2, "info": 1}[self.value]


class Status(str, Enum):
    #: the source shows the feature
    fired = "fired"
    #: the source cannot show it (per-message TTL, processing time): a human must check
    unknown = "unknown"


class Finding(BaseModel):
    """One rule that fired (or could not be decided) for one workload."""

    model_config = ConfigDict(extra="forbid")

    rule: str
    severity: FindingSeverity
    status: Status = Status.fired
    evidence: dict[str, Any] = Field(default_factory=dict)
    mapping: str
    remediation: str


class Derived(BaseModel):
    """A value the assessment derived, with the one-line reason the plan prints beside it."""

    model_config = ConfigDict(extra="forbid")

    value: Any
    reason: str


Verdict = Literal[
    "share-group", "share-group-with-changes", "consumer-group", "redesign", "not-a-workload"
]

VERDICTS: list[str] = ["share-group", "share-group-with-changes", "consumer-group", "redesign"]


class Target(BaseModel):
    """The recommended Kafka target for one workload."""

    model_config = ConfigDict(extra="forbid")

    mode: Derived  # share-group | consumer-group | none
    role: Literal["work-queue", "dead-letter", "expiry", "delay-tier", "stream", "reply"] = (
        "work-queue"
    )
    topic: Derived
    partitions: Derived
    topic_configs: dict[str, Derived] = Field(default_factory=dict)
    group: Derived | None = None
    group_configs: dict[str, Derived] = Field(default_factory=dict)
    key: Derived | None = None
    dlq_topic: Derived | None = None
    fanout: Derived | None = None
    #: who produces and consumes (rule security.mapping): {"grants": [...], "unmapped": [...]}
    #: from RabbitMQ permissions or an SQS queue policy (mqmigrate.assessment.access)
    access: Derived | None = None
    #: source headers renamed or dropped on the way to Kafka: {"rename": {old: new},
    #: "drop": {name: why}} (mqmigrate.assessment.header_map); None keeps every header
    headers: Derived | None = None


class Workload(BaseModel):
    """A queue (or, with ``queue`` None, a source-wide concern) and its assessment."""

    model_config = ConfigDict(extra="forbid")

    id: str
    source: dict[str, Any]
    queue: str | None
    verdict: Verdict
    findings: list[Finding]
    target: Target | None = None


@dataclass(frozen=True)
class KafkaCapabilities:
    """What the target Kafka offers, as data the rules read (docs/architecture.md, share-group facts)."""

    version: tuple[int, int] = (4, 4)
    lock_min_ms: int = 15000
    lock_max_ms: int = 60000
    lock_raisable_max_ms: int = 3_600_000
    delivery_min: int = 2
    delivery_max: int = 10
    delivery_raisable_max: int = 25
    max_message_bytes: int = 1_048_588  # topic max.message.bytes default
    record_locks_per_partition: int = 2000  # share.partition.max.record.locks default
    renew_usable: bool = False  # the Python ShareConsumer has no RENEW (docs/architecture.md)

    @property
    def share_dlq(self) -> bool:
        """KIP-1191 share-group dead-letter queues (Kafka 4.4+)."""
        return self.version >= (4, 4)

    @property
    def per_group_delivery_limit(self) -> bool:
        """Per-group ``share.delivery.count.limit`` (Kafka 4.3+)."""
        return self.version >= (4, 3)

    @classmethod
    def parse(cls, version: str) -> "KafkaCapabilities":
        """``"4.2"`` / ``"4.4.0"`` → capabilities of that version."""
        parts = version.split(".")
        try:
            major, minor = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
        except ValueError as exc:
            from mqmigrate.errors import UsageError

            raise UsageError(f"--kafka-version {version!r} is not a version like 4.4") from exc
        return cls(version=(major, minor))
