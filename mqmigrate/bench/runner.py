"""The one benchmark loop, the same for every system.

A :class:`BenchTarget` supplies a publisher and consumers for one system; :func:`run` publishes
bodies that carry their sequence number and send time, runs ``consumers`` threads per fan-out
group (each with its own client: none of the clients is shared across threads), sleeps
``processing_ms`` per message, settles, and records the completion latency (completion time −
send time, so an injected processing delay is part of it).  Every run is bounded by
``max_messages``, ``duration`` and ``drain_timeout``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from mqmigrate.bench.model import WARMUP_BASE, RunResult, Workload, decode_body, encode_body
from mqmigrate.bench.stats import timeline


@dataclass
class Delivery:
    body: bytes
    redelivered: bool
    settle: Callable[[], None]


class Publisher(Protocol):
    """Sends the way a production publisher of its system does (:mod:`mqmigrate.bench.publishers`):
    ``publish`` without waiting for each confirmation, ``flush`` until every message so far is
    confirmed (or raises); ``confirmed`` counts what the broker confirmed."""

    confirmed: int

    def publish(self, body: bytes) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class Consumer(Protocol):
    def receive(self, timeout: float) -> list[Delivery]: ...
    def close(self) -> None: ...


class BenchTarget(Protocol):
    system: str

    def setup(self, workload: Workload) -> None: ...
    def publisher(self) -> Publisher: ...
    def consumer(self, group: int) -> Consumer: ...
    def teardown(self) -> None: ...


class _Tally:
    """Thread-safe record of what the consumers saw."""

    def __init__(self, groups: int):
        self.lock = threading.Lock()
        self.seen: list[set[int]] = [set() for _ in range(groups)]
        self.received = 0
        self.redelivered = 0
        self.duplicates = 0
        self.latencies_ms: list[float] = []
        self.offsets: list[float] = []
        self.errors: list[str] = []
        self.warm: set[int] = set()

    def record(
        self, group: int, sequence: int, latency_ms: float, offset: float, redelivered: bool
    ) -> None:
        with self.lock:
            if sequence >= WARMUP_BASE:
                self.warm.add(group)
                return
            self.received += 1
            if redelivered:
                self.redelivered += 1
            if sequence in self.seen[group]:
                self.duplicates += 1
                return
            self.seen[group].add(sequence)
            self.latencies_ms.append(latency_ms)
            self.offsets.append(offset)

    def unique(self) -> int:
        with self.lock:
            return sum(len(s) for s in self.seen)


def _warm_up(
    publisher: Publisher,
    tally: _Tally,
    workload: Workload,
    result: RunResult,
    timeout: float = 60.0,
) -> int:
    """Publish unmeasured messages until every group's consumers are receiving; returns how
    many.

    Joining takes seconds on some systems (a share group's first assignment), which would
    otherwise show up as latency of the first messages instead of as start-up time.
    """
    deadline = time.monotonic() + timeout
    sequence = WARMUP_BASE
    while time.monotonic() < deadline:
        with tally.lock:
            if len(tally.warm) >= workload.fanout:
                break
        publisher.publish(encode_body(sequence, workload.message_bytes))
        publisher.flush()
        sequence += 1
        time.sleep(0.2)
    else:
        result.notes.append(f"consumers were not all receiving after {timeout:.0f}s of warm-up")
    time.sleep(1.0)  # the other members of a group finish joining
    return sequence - WARMUP_BASE


def run(
    target: BenchTarget, workload: Workload, progress: Callable[[str], None] | None = None
) -> RunResult:
    """Run ``workload`` against ``target`` and return what was measured."""
    say = progress or (lambda message: None)
    result = RunResult(system=target.system)
    tally = _Tally(workload.fanout)
    stop = threading.Event()
    target.setup(workload)
    threads: list[threading.Thread] = []
    clock = [time.monotonic()]  # when the measured part began (set again below)
    try:

        def consume(group: int) -> None:
            try:
                consumer = target.consumer(group)
            except Exception as exc:  # reported in the result, the run goes on
                tally.errors.append(f"consumer start: {exc}")
                return
            try:
                while not stop.is_set():
                    for delivery in consumer.receive(0.5):
                        decoded = decode_body(delivery.body)
                        if workload.ack == "implicit":
                            delivery.settle()
                        if workload.processing_ms:
                            time.sleep(workload.processing_ms / 1000.0)
                        if decoded is not None:
                            sequence, sent_ns = decoded
                            latency = (time.time_ns() - sent_ns) / 1e6
                            tally.record(
                                group,
                                sequence,
                                latency,
                                time.monotonic() - clock[0],
                                delivery.redelivered,
                            )
                        if workload.ack == "explicit":
                            delivery.settle()
            except Exception as exc:
                tally.errors.append(f"consumer: {type(exc).__name__}: {exc}")
            finally:
                try:
                    consumer.close()
                except Exception:
                    pass

        def start_consumers() -> None:
            for group in range(workload.fanout):
                for _ in range(workload.consumers):
                    thread = threading.Thread(target=consume, args=(group,), daemon=True)
                    thread.start()
                    threads.append(thread)

        publisher = target.publisher()
        warm_ups = 0
        if not workload.backlog_first:
            start_consumers()
            say(f"{target.system}: waiting for consumers")
            warm_ups = _warm_up(publisher, tally, workload, result)
        say(f"{target.system}: publishing")
        try:
            publish_start = clock[0] = time.monotonic()
            sent = 0
            while sent < workload.max_messages:
                elapsed = time.monotonic() - publish_start
                if elapsed >= workload.duration:
                    break
                if workload.rate:
                    # one reading of the clock: a check and a sleep apart could go negative
                    # on a loaded machine
                    wait = publish_start + sent / workload.rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                publisher.publish(encode_body(sent, workload.message_bytes))
                sent += 1
            publisher.flush()  # every message confirmed by the broker, or an error
            result.publish_seconds = time.monotonic() - publish_start
            result.confirmed = publisher.confirmed - warm_ups
        finally:
            publisher.close()
        result.published = sent
        result.expected = sent * workload.fanout
        if workload.backlog_first:
            clock[0] = time.monotonic()  # a burst is timed from when consumers start
            start_consumers()
        say(f"{target.system}: draining")
        expected = sent * workload.fanout
        deadline = time.monotonic() + workload.drain_timeout + (0 if workload.backlog_first else 0)
        if workload.backlog_first:
            deadline += workload.duration
        while tally.unique() < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        finished = time.monotonic()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        target.teardown()
    with tally.lock:
        last = max(tally.offsets) if tally.offsets else 0.0
        result.seconds = max(last, 1e-9) if tally.offsets else finished - clock[0]
        result.received = tally.received
        result.unique = sum(len(s) for s in tally.seen)
        result.redelivered = tally.redelivered
        result.duplicates = tally.duplicates
        result.latencies_ms = list(tally.latencies_ms)
        result.timeline = timeline(tally.offsets)
        result.notes += list(dict.fromkeys(tally.errors))[:5]
    return result
