"""An in-memory source with fault-injection knobs, for engine tests (kombu's memory transport).

A :class:`MemoryBroker` holds the queues and outlives adapters, so closing an adapter with
messages unsettled and opening another one redelivers them — exactly what a real broker does
after a crash.  Knobs make the Nth ``receive`` or ``settle`` call fail as a dropped connection.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from mqmigrate.errors import SourceError, SourceUnavailable
from mqmigrate.sources.base import (
    Capabilities,
    Count,
    Envelope,
    Outcome,
    QueueCounts,
    QueueSpec,
    SourceAdapter,
)


@dataclass
class MemoryMessage:
    body: bytes
    message_id: str
    headers: dict[str, Any] = field(default_factory=dict)
    group_id: str | None = None
    timestamp_ms: int | None = None
    redelivered: bool = False


class MemoryBroker:
    """Queues shared by every :class:`MemorySource` built on it; records every settlement."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[MemoryMessage]] = {}
        #: (message_id, outcome) in settle order
        self.settled: list[tuple[str, Outcome]] = []
        self.dead: list[MemoryMessage] = []

    def publish(self, queue: str, messages: Iterable[MemoryMessage]) -> None:
        self.queues.setdefault(queue, deque()).extend(messages)

    def depth(self, queue: str) -> int:
        return len(self.queues.get(queue, ()))

    def outcomes(self, message_id: str) -> list[Outcome]:
        return [outcome for mid, outcome in self.settled if mid == message_id]


class MemorySource(SourceAdapter):
    """A source over a :class:`MemoryBroker` queue.

    ``fail_receive_on`` / ``fail_settle_on``: call numbers (1-based, counted per adapter) that
    raise :class:`SourceUnavailable` as if the connection dropped; the adapter is then closed
    and its unsettled messages go back to the queue (``redeliver_on_close``).
    """

    kind = "memory"
    capabilities = Capabilities(
        shadow=False,
        batch_settle=True,
        send_timestamp=True,
        group_key=True,
        counts=True,
        queue_check=True,
        declare=True,
    )

    def __init__(
        self,
        broker: MemoryBroker,
        queue: str,
        *,
        fail_receive_on: Iterable[int] = (),
        fail_settle_on: Iterable[int] = (),
        redeliver_on_close: bool = True,
        missing_queue: bool = False,
    ):
        self.broker = broker
        self.queue = queue
        self.fail_receive_on = set(fail_receive_on)
        self.fail_settle_on = set(fail_settle_on)
        self.redeliver_on_close = redeliver_on_close
        self.missing_queue = missing_queue
        self.receive_calls = 0
        self.settle_calls = 0
        self.opens = 0
        self._generation = itertools.count(1)
        self._current = 0
        self._unsettled: dict[int, MemoryMessage] = {}
        self._tags = itertools.count(1)

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> "MemorySource":
        raise SourceError("memory:// sources exist only inside tests")

    def open(self) -> None:
        if self.missing_queue:
            raise SourceError(f"memory queue {self.queue} does not exist")
        self.opens += 1
        self._current = next(self._generation)

    def receive(self, max_messages: int, timeout: float) -> list[Envelope]:
        self.receive_calls += 1
        if self.receive_calls in self.fail_receive_on:
            self._drop()
            raise SourceUnavailable(f"memory queue {self.queue}: injected receive failure")
        queue = self.broker.queues.setdefault(self.queue, deque())
        if not queue and timeout > 0:
            time.sleep(min(timeout, 0.01))
        out = []
        while queue and len(out) < max_messages:
            msg = queue.popleft()
            tag = next(self._tags)
            self._unsettled[tag] = msg
            out.append(
                Envelope(
                    body=msg.body,
                    source_id=msg.message_id,
                    source_kind=self.kind,
                    queue=self.queue,
                    key=msg.group_id,
                    timestamp_ms=msg.timestamp_ms,
                    properties={"message_id": msg.message_id, "group_id": msg.group_id},
                    headers=dict(msg.headers),
                    coordinates={"queue": self.queue, "tag": str(tag)},
                    redelivered=msg.redelivered,
                    handle=(self._current, tag),
                )
            )
        return out

    def settle(self, envelope: Envelope, outcome: Outcome) -> None:
        self.settle_many([envelope], outcome)

    def settle_many(self, envelopes: Sequence[Envelope], outcome: Outcome) -> int:
        self.settle_calls += 1
        if self.settle_calls in self.fail_settle_on:
            self._drop()
            raise SourceUnavailable(f"memory queue {self.queue}: injected settle failure")
        settled = 0
        for envelope in envelopes:
            generation, tag = envelope.handle
            if generation != self._current or tag not in self._unsettled:
                continue  # a previous connection's message: already back in the queue
            settled += 1
            msg = self._unsettled.pop(tag)
            self.broker.settled.append((msg.message_id, outcome))
            if outcome is Outcome.RELEASE:
                msg.redelivered = True
                self.broker.queues[self.queue].append(msg)
            elif outcome is Outcome.REJECT:
                self.broker.dead.append(msg)
        return settled

    def depth(self) -> int:
        return self.broker.depth(self.queue)

    def close(self) -> None:
        self._drop()

    # -- management operations ------------------------------------------------------------------
    def queue_counts(self) -> QueueCounts:
        """Ready: the broker's queue; in flight: this adapter's unsettled messages (the memory
        broker does not track other adapters' or consumers)."""
        if not self.queue_exists():
            raise SourceError(f"memory queue {self.queue} does not exist")
        return QueueCounts(
            ready=Count(self.broker.depth(self.queue), "memory queue length"),
            in_flight=Count(len(self._unsettled), "this adapter's unsettled messages"),
            consumers=Count.unknown("the memory broker does not track consumers"),
        )

    def queue_exists(self) -> bool:
        return not self.missing_queue and self.queue in self.broker.queues

    def declare_queue(self, spec: QueueSpec) -> None:
        for name in (spec.name, spec.dead_letter_queue):
            if name:
                self.broker.queues.setdefault(name, deque())
        if spec.name == self.queue:
            self.missing_queue = False

    def delete_queue(self, spec: QueueSpec) -> list[str]:
        for name in (spec.name, spec.dead_letter_queue):
            if name:
                self.broker.queues.pop(name, None)
        return []

    def _drop(self) -> None:
        """The connection is gone: unsettled messages return to the queue, as on a broker."""
        if self.redeliver_on_close:
            for msg in self._unsettled.values():
                msg.redelivered = True
                self.broker.queues.setdefault(self.queue, deque()).appendleft(msg)
        self._unsettled.clear()
        self._current = next(self._generation)


def make_messages(
    n: int, *, size: int = 16, prefix: str = "m", start: int = 0, groups: int = 0
) -> list[MemoryMessage]:
    """``n`` messages with ids ``{prefix}-{i}`` and bodies of ``size`` bytes (for tests)."""
    now = int(time.time() * 1000)
    return [
        MemoryMessage(
            body=f"{prefix}-{i}:".encode().ljust(size, b"x"),
            message_id=f"{prefix}-{i}",
            headers={"i": i},
            group_id=f"g{i % groups}" if groups else None,
            timestamp_ms=now,
        )
        for i in range(start, start + n)
    ]
