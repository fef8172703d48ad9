"""What a benchmark run does (a :class:`Workload`) and what it measured (a :class:`RunResult`)."""

from __future__ import annotations

import struct
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

from mqmigrate.errors import UsageError

#: body prefix: magic, sequence number, send time (ns since the epoch)
_HEADER = struct.Struct(">4sQQ")
_MAGIC = b"MQMB"
#: sequence numbers at or above this mark warm-up messages, which are not measured
WARMUP_BASE = 1 << 62


@dataclass(frozen=True)
class Workload:
    """One queue workload, run the same way against each system.

    ``rate`` None publishes as fast as the broker takes it; ``max_messages`` and ``duration``
    always bound the run (whichever comes first stops publishing).
    """

    name: str = "work-queue"
    message_bytes: int = 1024
    rate: Optional[float] = None
    max_messages: int = 10_000
    duration: float = 30.0
    consumers: int = 4
    processing_ms: float = 0.0
    #: explicit: the consumer settles each message after processing; implicit: the client
    #: settles on receipt (RabbitMQ auto-ack, Kafka implicit acknowledgement)
    ack: str = "explicit"
    #: publish the whole backlog before consumers start (the "burst" case)
    backlog_first: bool = False
    #: number of independent consumer groups fed by one publish (fan-out)
    fanout: int = 1
    #: seconds consumers keep waiting for stragglers after publishing ended
    drain_timeout: float = 30.0
    #: messages each source consumer holds at most (RabbitMQ prefetch, AMQP 1.0 link credit,
    #: SQS messages per receive); a latency-bound work queue's consumers take 1 at a time so
    #: the broker hands each message to an idle consumer (fair dispatch)
    source_prefetch: int = 200

    def __post_init__(self) -> None:
        if self.message_bytes < _HEADER.size:
            raise UsageError(f"--size must be at least {_HEADER.size} bytes")
        if self.rate is not None and self.rate <= 0:
            raise UsageError("--rate must be positive (omit it for as fast as possible)")
        if self.max_messages < 1 or self.duration <= 0 or self.consumers < 1 or self.fanout < 1:
            raise UsageError("--messages, --duration, --consumers and fan-out must be positive")
        if self.ack not in ("explicit", "implicit"):
            raise UsageError("--ack must be explicit or implicit")
        if self.processing_ms < 0:
            raise UsageError("--processing-ms cannot be negative")
        if self.source_prefetch < 1:
            raise UsageError("--source-prefetch must be at least 1")

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, dict] = {
    "work-queue": dict(
        name="work-queue",
        consumers=8,
        processing_ms=10.0,
        rate=500.0,
        max_messages=5_000,
        duration=20.0,
        source_prefetch=1,
    ),
    "burst": dict(
        name="burst", consumers=4, backlog_first=True, max_messages=20_000, duration=60.0
    ),
    "fan-out": dict(
        name="fan-out", consumers=1, fanout=3, rate=500.0, max_messages=5_000, duration=20.0
    ),
    "large-messages": dict(
        name="large-messages",
        message_bytes=256 * 1024,
        consumers=2,
        max_messages=1_000,
        duration=30.0,
    ),
}


def encode_body(sequence: int, size: int) -> bytes:
    """A body of ``size`` bytes carrying its sequence number and the send time."""
    head = _HEADER.pack(_MAGIC, sequence, time.time_ns())
    return head + b"\0" * (size - len(head))


def decode_body(body: bytes) -> tuple[int, int] | None:
    """``(sequence, send_time_ns)``, or None for a body this benchmark did not write."""
    if len(body) < _HEADER.size:
        return None
    magic, sequence, sent = _HEADER.unpack_from(body)
    return (sequence, sent) if magic == _MAGIC else None


@dataclass
class RunResult:
    """What one system did with the workload."""

    system: str
    published: int = 0
    #: measured messages the broker confirmed (ack, accepted, delivery report, batch entry)
    confirmed: int = 0
    #: deliveries that should happen: published × fan-out groups
    expected: int = 0
    publish_seconds: float = 0.0
    received: int = 0
    unique: int = 0
    redelivered: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    #: (seconds since start, messages received in that second)
    timeline: list[tuple[int, int]] = field(default_factory=list, repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.unique / self.seconds if self.seconds else 0.0

    @property
    def lost(self) -> int:
        return max(self.expected - self.unique, 0)
