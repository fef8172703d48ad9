"""The RabbitMQ adapter's ack discipline, with a recording fake channel (no broker)."""

from __future__ import annotations

import time

from mqmigrate.sources.base import Envelope, Outcome
from mqmigrate.sources.rabbitmq.adapter import RabbitMQSource


class Channel:
    def __init__(self):
        self.calls: list[tuple] = []

    def basic_ack(self, delivery_tag, multiple):
        self.calls.append(("ack", delivery_tag, multiple))

    def basic_nack(self, delivery_tag, multiple, requeue):
        self.calls.append(("nack", delivery_tag, multiple, requeue))

    def basic_reject(self, delivery_tag, requeue):
        self.calls.append(("reject", delivery_tag, requeue))


def source(
    n: int, prefetch: int = 100, ack_every: int = 1, ack_interval: float = 0.02
) -> tuple[RabbitMQSource, list[Envelope], Channel]:
    src = RabbitMQSource(
        "amqp://u:p@127.0.0.1:1/%2f",
        "q",
        prefetch=prefetch,
        ack_every=ack_every,
        ack_interval=ack_interval,
    )
    src._channel = Channel()
    src._generation = 7
    envs = []
    for tag in range(1, n + 1):
        src._unsettled[tag] = False
        envs.append(
            Envelope(
                body=b"", source_id=str(tag), source_kind="rabbitmq", queue="q", handle=(7, tag)
            )
        )
    return src, envs, src._channel


def test_multiple_ack_only_covers_the_accepted_prefix():
    src, e, ch = source(6)
    assert src.settle_many([e[1], e[2]], Outcome.ACCEPT) == 2
    assert ch.calls == []  # tag 1 is still in flight: acking 3 with multiple would cover it
    src.settle_many([e[0]], Outcome.ACCEPT)
    assert ch.calls == [("ack", 3, True)]
    src.settle_many([e[4]], Outcome.ACCEPT)
    assert ch.calls == [("ack", 3, True)]
    src.settle_many([e[3]], Outcome.RELEASE)  # released: requeued alone, prefix moves on
    assert ch.calls[-1] == ("nack", 4, False, True)
    src.settle_many([e[5]], Outcome.ACCEPT)
    assert ch.calls[-1] == ("ack", 6, True)  # covers 5 and 6; 4 was requeued already
    assert src._unsettled == {}


def test_stale_handles_are_skipped():
    src, e, ch = source(3)
    src._generation = 8  # the connection was replaced
    assert src.settle_many(e, Outcome.ACCEPT) == 0 and ch.calls == []


def test_flush_acks_accepted_behind_a_slow_one():
    src, e, ch = source(4)
    src.settle_many([e[1], e[3]], Outcome.ACCEPT)
    src.flush()
    assert sorted(ch.calls) == [("ack", 2, False), ("ack", 4, False)]
    assert list(src._unsettled) == [1, 3]


def test_blocked_prefix_beyond_half_the_window_acks_singly():
    src, e, ch = source(10, prefetch=8)
    src.settle_many(e[1:], Outcome.ACCEPT)  # 9 accepted behind tag 1
    assert ("ack", 10, False) in ch.calls and all(not c[2] for c in ch.calls)
    assert list(src._unsettled) == [1]


def test_reject_does_not_requeue():
    src, e, ch = source(1)
    src.settle_many(e, Outcome.REJECT)
    assert ch.calls == [("reject", 1, False)]


def test_acks_are_batched_until_ack_every_and_flushed_when_idle():
    src, e, ch = source(10, ack_every=4, ack_interval=3600)
    src._last_ack = time.monotonic()  # an ack just went out: the interval has not passed
    src.settle_many(e[:3], Outcome.ACCEPT)
    assert ch.calls == []  # 3 < 4: held back (each is in Kafka; only the ack waits)
    src.settle_many([e[3]], Outcome.ACCEPT)
    assert ch.calls == [("ack", 4, True)]
    src.settle_many([e[4], e[6]], Outcome.ACCEPT)
    assert ch.calls == [("ack", 4, True)]
    src.flush()  # idle: everything accepted goes out, 7 singly behind the unfinished 6
    assert ch.calls == [("ack", 4, True), ("ack", 5, True), ("ack", 7, False)]
    assert list(src._unsettled) == [6, 8, 9, 10]


def test_ack_interval_sends_a_small_batch():
    src, e, ch = source(10, ack_every=500, ack_interval=0.0)
    src.settle_many(e[:2], Outcome.ACCEPT)
    assert ch.calls == [("ack", 2, True)]


def test_a_normal_window_acks_the_prefix_with_one_multiple_ack():
    # many unsettled (in flight) but nothing blocked: batched multiple-acks, no single acks
    src, e, ch = source(2000, prefetch=2000, ack_every=500, ack_interval=3600)
    src._last_ack = time.monotonic()
    for i in range(0, 1500, 100):
        src.settle_many(e[i : i + 100], Outcome.ACCEPT)
    assert ch.calls == [("ack", 500, True), ("ack", 1000, True), ("ack", 1500, True)]
