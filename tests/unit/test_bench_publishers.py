"""The RabbitMQ publisher's confirm bookkeeping (pure: a stand-in channel at most; the
publishers themselves are proven on the sandbox brokers in tests/integration/test_bench.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import pika

from mqmigrate.bench.publishers import ConfirmTracker, RabbitMQConfirmPublisher


def _published(n: int) -> ConfirmTracker:
    tracker = ConfirmTracker()
    for expected_tag in range(1, n + 1):
        assert tracker.published() == expected_tag
    return tracker


def test_multiple_ack_resolves_every_earlier_tag():
    tracker = _published(10)
    assert tracker.confirm(6, multiple=True, ack=True) == 6
    assert tracker.outstanding == 4 and tracker.acked == 6


def test_single_acks_out_of_order_then_a_multiple_counts_each_tag_once():
    tracker = _published(5)
    assert tracker.confirm(3, multiple=False, ack=True) == 1
    assert tracker.confirm(2, multiple=False, ack=False) == 1  # a nack
    assert tracker.outstanding == 3
    assert tracker.confirm(4, multiple=True, ack=True) == 2  # tags 1 and 4
    assert (tracker.acked, tracker.nacked, tracker.outstanding) == (3, 1, 1)
    assert tracker.confirm(5, multiple=False, ack=True) == 1
    assert tracker.outstanding == 0 and tracker.acked + tracker.nacked == tracker.sent


def test_repeated_or_unknown_confirms_resolve_nothing():
    tracker = _published(3)
    tracker.confirm(2, multiple=True, ack=True)
    assert tracker.confirm(2, multiple=False, ack=True) == 0  # already confirmed
    assert tracker.confirm(1, multiple=True, ack=True) == 0
    assert tracker.confirm(9, multiple=False, ack=True) == 0  # never published
    assert (tracker.acked, tracker.outstanding) == (2, 1)


def test_multiple_nack_counts_as_refused():
    tracker = _published(4)
    assert tracker.confirm(4, multiple=True, ack=False) == 4
    assert (tracker.acked, tracker.nacked, tracker.outstanding) == (0, 4, 0)


class _AckingChannel:
    """What the confirming publisher sees of pika's BlockingChannel when RabbitMQ is quick:
    ``basic_publish`` serves the socket until its frame is written and reads, in that same
    pass, the broker's single ``basic.ack`` for that very message."""

    def __init__(self) -> None:
        self._impl = self  # pika's channel implementation, where confirms are registered
        self.on_confirm: Callable[[Any], None] | None = None
        self.frames = 0

    def confirm_delivery(self, ack_nack_callback: Callable[[Any], None], callback: Any) -> None:
        self.on_confirm = ack_nack_callback
        callback("Confirm.SelectOk")

    def basic_publish(self, exchange: str, routing_key: str, body: bytes, properties: Any) -> None:
        self.frames += 1
        assert self.on_confirm is not None
        ack = pika.spec.Basic.Ack(delivery_tag=self.frames, multiple=False)
        self.on_confirm(SimpleNamespace(method=ack))


class _Connection:
    def __init__(self) -> None:
        self.ch = _AckingChannel()

    def channel(self) -> _AckingChannel:
        return self.ch

    def process_data_events(self, time_limit: float) -> None:
        """Nothing more arrives: every ack came during its publish."""

    def close(self) -> None:
        pass


def test_an_ack_read_while_its_own_publish_is_written_counts():
    publisher = RabbitMQConfirmPublisher(_Connection(), "", "q", window=100, timeout=0.5)
    for _ in range(5):
        publisher.publish(b"x")
    publisher.flush()  # PublishRefused if an ack was dropped
    assert (publisher.confirmed, publisher.outstanding, publisher.tracker.sent) == (5, 0, 5)
