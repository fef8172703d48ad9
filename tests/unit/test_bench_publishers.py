"""The RabbitMQ publisher's confirm bookkeeping (pure; the publishers themselves are proven on
the sandbox brokers in tests/integration/test_bench.py)."""

from __future__ import annotations

from typing import Any

import pytest

from mqmigrate.bench.publishers import ConfirmTracker


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


class _ChannelConfirmingDuringPublish:
    """A pika channel whose broker confirms a message while ``basic_publish`` still flushes it
    (pika's blocking connection reads incoming frames while it writes)."""

    def __init__(self, nack_from: int | None = None) -> None:
        self.tag = 0
        self.on_confirm: Any = None
        self._impl = self
        #: the broker nacks this delivery tag and every later one (a full reject-publish queue)
        self.nack_from = nack_from

    def confirm_delivery(self, on_confirm: Any, callback: Any) -> None:
        self.on_confirm = on_confirm
        callback(object())

    def basic_publish(self, *_args: Any) -> None:
        from pika import frame, spec

        self.tag += 1
        nack = self.nack_from is not None and self.tag >= self.nack_from
        confirm = spec.Basic.Nack if nack else spec.Basic.Ack
        self.on_confirm(frame.Method(1, confirm(delivery_tag=self.tag)))


class _Connection:
    def __init__(self, nack_from: int | None = None) -> None:
        self.channel_ = _ChannelConfirmingDuringPublish(nack_from)

    def channel(self) -> _ChannelConfirmingDuringPublish:
        return self.channel_

    def process_data_events(self, _time_limit: float) -> None:
        pass


def test_a_confirm_read_while_its_publish_flushes_is_counted():
    from mqmigrate.sources.rabbitmq.publisher import RabbitMQConfirmPublisher

    publisher = RabbitMQConfirmPublisher(_Connection(), "", "q", timeout=0.2)
    for _ in range(3):
        publisher.publish(b"x")
    publisher.flush()  # raised "did not send confirms" when the tag was counted after the publish
    assert (publisher.outstanding, publisher.confirmed) == (0, 3)


def test_a_nack_read_while_its_publish_flushes_is_refused():
    """Every confirm read inside basic_publish, so nothing is outstanding when flush starts:
    the nacks still stop the run (flush returned as if all were confirmed)."""
    from mqmigrate.errors import PublishRefused
    from mqmigrate.sources.rabbitmq.publisher import RabbitMQConfirmPublisher

    publisher = RabbitMQConfirmPublisher(_Connection(nack_from=3), "", "q", timeout=0.2)
    for _ in range(3):
        publisher.publish(b"x")
    assert publisher.outstanding == 0
    with pytest.raises(PublishRefused, match="nacked 1 message"):
        publisher.flush()
    with pytest.raises(PublishRefused, match="nacked 1 message"):
        publisher.publish(b"x")  # nor does the next publish go out
    assert (publisher.confirmed, publisher.tracker.nacked, publisher.tracker.sent) == (2, 1, 3)
