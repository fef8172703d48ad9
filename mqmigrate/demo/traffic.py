"""The demo's live service: a dual-write producer, a legacy RabbitMQ consumer and the records
they keep (:class:`TrafficRecord`), summarised as lost, duplicated and the longest gap.

The zero-downtime test drives the same producer and consumer; the pure part
(:func:`summarize`, :func:`longest_gap`) is unit-tested, the rest drives real brokers.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from mqmigrate.sources.connect import pika_parameters
from mqmigrate.sources.uri import parse_source_uri

#: messages the legacy consumer takes unacked at once (RabbitMQ prefetch)
LEGACY_PREFETCH = 50


# -- the pure summary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Processed:
    """One handler execution: which id, when (monotonic seconds), by whom."""

    id: str
    at: float
    by: str  # "legacy" or "worker"


@dataclass(frozen=True)
class Summary:
    """What the demo measured; ``lost == 0`` is the promise."""

    sent: int
    processed: int
    processed_legacy: int
    processed_worker: int
    unique: int
    lost: int
    duplicated: int
    duplicate_deliveries_skipped: int
    shadow_copies_skipped: int
    longest_gap_s: float
    phases: dict[str, float]
    verify: dict[str, Any]
    lost_ids: list[str] = field(default_factory=list)
    run_id: str = ""
    topic: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def longest_gap(sent_at: Mapping[str, float], events: Sequence[Processed]) -> float:
    """The longest time during which a sent message waited and nothing was processed.

    A pause of the producer is not a missing consumer, so a gap only counts from the moment
    some message was waiting: for consecutive processing times ``p_i < p_{i+1}``, the gap is
    ``p_{i+1} - max(p_i, earliest send among the ids first processed after p_i)``. The time
    before the first processing counts from the first send. Ids never processed are the
    ``lost`` figure, not a gap.
    """
    first: dict[str, float] = {}
    for e in events:
        if e.id in sent_at and (e.id not in first or e.at < first[e.id]):
            first[e.id] = e.at
    if not first:
        return 0.0
    order = sorted(first.items(), key=lambda kv: kv[1])
    # suffix minimum of send times: the earliest-sent id still waiting after each processing
    suffix = [0.0] * (len(order) + 1)
    suffix[len(order)] = float("inf")
    for i in range(len(order) - 1, -1, -1):
        suffix[i] = min(suffix[i + 1], sent_at[order[i][0]])
    gap = max(0.0, order[0][1] - suffix[0])
    for i in range(len(order) - 1):
        waiting_since = max(order[i][1], suffix[i + 1])
        gap = max(gap, order[i + 1][1] - waiting_since)
    return gap


def summarize(
    sent_at: Mapping[str, float],
    events: Sequence[Processed],
    *,
    skipped: int = 0,
    shadow_skipped: int = 0,
    phases: Mapping[str, float] | None = None,
    verify: Mapping[str, Any] | None = None,
    run_id: str = "",
    topic: str = "",
) -> Summary:
    """Reduce the demo's records to the summary figures.

    ``processed`` counts handler executions (an id processed twice counts twice), ``unique``
    the distinct sent ids processed, ``duplicated = processed - unique`` (work done twice),
    ``lost = sent - unique``. ``skipped`` are deliveries a consumer recognised by
    ``mq.source.id`` and did not process again.
    """
    relevant = [e for e in events if e.id in sent_at]
    unique_ids = {e.id for e in relevant}
    lost_ids = sorted(set(sent_at) - unique_ids)
    return Summary(
        sent=len(sent_at),
        processed=len(relevant),
        processed_legacy=sum(1 for e in relevant if e.by == "legacy"),
        processed_worker=sum(1 for e in relevant if e.by == "worker"),
        unique=len(unique_ids),
        lost=len(lost_ids),
        duplicated=len(relevant) - len(unique_ids),
        duplicate_deliveries_skipped=skipped,
        shadow_copies_skipped=shadow_skipped,
        longest_gap_s=round(longest_gap(sent_at, relevant), 3),
        phases={k: round(v, 2) for k, v in (phases or {}).items()},
        verify=dict(verify or {}),
        lost_ids=lost_ids[:20],
        run_id=run_id,
        topic=topic,
    )


# -- the records shared by producer, consumers and summary ------------------------------------


class TrafficRecord:
    """Thread-safe record of what was sent and processed (the demo's ground truth)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent_at: dict[str, float] = {}  # id -> monotonic time the send started
        self.confirmed_at: dict[str, float] = {}  # id -> the source/Kafka confirmed it
        self.events: list[Processed] = []
        self._done: set[str] = set()
        self.skipped = 0

    def sent(self, message_id: str, started: float, confirmed: float) -> None:
        with self._lock:
            self.sent_at[message_id] = started
            self.confirmed_at[message_id] = confirmed

    def record(self, message_id: str, by: str) -> None:
        """The legacy consumer: it processes whatever RabbitMQ hands it, as it always did."""
        with self._lock:
            self.events.append(Processed(message_id, time.monotonic(), by))
            self._done.add(message_id)

    def claim(self, message_id: str, by: str) -> bool:
        """The migrated consumer: process an id only once (idempotency by ``mq.source.id``)."""
        with self._lock:
            if message_id in self._done:
                self.skipped += 1
                return False
            self.events.append(Processed(message_id, time.monotonic(), by))
            self._done.add(message_id)
            return True

    def processed_by(self, by: str) -> int:
        with self._lock:
            return sum(1 for e in self.events if e.by == by)

    def counts(self) -> tuple[int, int, int]:
        with self._lock:
            return len(self.sent_at), len(self.events), len(self._done & set(self.sent_at))

    def unprocessed(self) -> set[str]:
        with self._lock:
            return set(self.sent_at) - self._done


# -- live actors --------------------------------------------------------------------------------


class Producer(threading.Thread):
    """The service's producer: the dual-write SDK, its mode read from a file at run time.

    Paced at ``rate``; once 60 % of the budget is sent while still ``source-only`` it slows
    to a trickle, and the last 10 % wait for the producer switch (at most ``duration``), so
    that messages keep flowing through every phase of the cutover on a slow machine instead of
    the budget running out before the switch.
    """

    def __init__(
        self,
        traffic: TrafficRecord,
        amqp_url: str,
        exchange: str,
        routing_key: str,
        bootstrap: str,
        topic: str,
        mode_file: Path,
        run_id: str,
        messages: int,
        rate: float,
        duration: float,
    ) -> None:
        super().__init__(name="demo-producer", daemon=True)
        from mqmigrate.sdk.dualwrite import DualWriter, FileMode, PikaSource

        self.traffic = traffic
        self.run_id = run_id
        self.messages, self.rate, self.duration = messages, rate, duration
        self.mode = FileMode(mode_file, interval=0.1)
        self.writer = DualWriter(
            PikaSource(amqp_url, routing_key=routing_key, exchange=exchange),
            {"bootstrap.servers": bootstrap},
            topic,
            mode_source=self.mode,
            metrics=False,
        )
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.by_mode: dict[str, int] = {}

    def run(self) -> None:
        start = time.monotonic()
        n = 0
        try:
            while n < self.messages and not self.stop_event.is_set():
                if time.monotonic() - start > self.duration:
                    break
                mode = self.mode.current().value
                if mode == "source-only" and n >= int(self.messages * 0.9):
                    self.stop_event.wait(0.1)  # the last tenth waits for the producer switch
                    continue
                slow = mode == "source-only" and n >= int(self.messages * 0.6)
                interval = 1.0 / (20.0 if slow else self.rate)
                message_id = f"{self.run_id}-{n:06d}"
                t0 = time.monotonic()
                body = json.dumps({"order": n, "run": self.run_id}).encode()
                self.writer.send(body, message_id=message_id)
                self.traffic.sent(message_id, t0, time.monotonic())
                self.by_mode[mode] = self.by_mode.get(mode, 0) + 1
                n += 1
                pause = interval - (time.monotonic() - t0)
                if pause > 0:
                    self.stop_event.wait(pause)
        except BaseException as exc:  # reported by the orchestrator, never swallowed
            self.error = exc
        finally:
            try:
                self.writer.close()
            except Exception:
                pass

    @property
    def done(self) -> bool:
        return not self.is_alive()


class LegacyConsumer(threading.Thread):
    """The service's consumer before the migration: pika, manual acks, one id at a time."""

    def __init__(self, traffic: TrafficRecord, amqp_url: str, queue: str) -> None:
        super().__init__(name="demo-legacy-consumer", daemon=True)
        self.traffic, self.amqp_url, self.queue = traffic, amqp_url, queue
        self.stop_event = threading.Event()
        self.started = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        import pika

        try:
            conn = pika.BlockingConnection(pika_parameters(parse_source_uri(self.amqp_url)))
            ch = conn.channel()
            ch.basic_qos(prefetch_count=LEGACY_PREFETCH)

            def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> None:
                if self.stop_event.is_set():
                    # stopping: hand it back unprocessed; the drain bridge takes it to Kafka
                    channel.basic_nack(method.delivery_tag, requeue=True)
                    return
                self.traffic.record(properties.message_id or "", "legacy")
                channel.basic_ack(method.delivery_tag)

            tag = ch.basic_consume(self.queue, on_message)
            self.started.set()
            while not self.stop_event.is_set():
                conn.process_data_events(time_limit=0.1)
            ch.basic_cancel(tag)
            conn.close()  # unacked prefetched messages return to the queue
        except BaseException as exc:
            self.error = exc
            self.started.set()

    def stop(self) -> None:
        """Hand back what it has not processed (nack, requeue) and close the connection."""
        self.stop_event.set()
        self.join(15)
