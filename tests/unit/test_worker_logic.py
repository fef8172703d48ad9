"""Worker pieces that need no broker: the Message view, the adapters' settle mapping, config."""

from __future__ import annotations

import pytest

from mqmigrate.sdk import headers as H
from mqmigrate.errors import ConfigError
from mqmigrate.sdk.worker import (
    Ack,
    Message,
    PermanentError,
    RetryableError,
    Worker,
    effective_delivery_limit,
    from_pika_callback,
    from_sqs_handler,
)


class FakeRecord:
    """The accessors of a confluent_kafka.Message the worker reads."""

    def __init__(self, value=b"v", headers=None, delivery_count=1, offset=7):
        self._value, self._headers, self._count, self._offset = (
            value,
            headers,
            delivery_count,
            offset,
        )

    def value(self):
        return self._value

    def key(self):
        return b"k"

    def headers(self):
        return self._headers

    def topic(self):
        return "t"

    def partition(self):
        return 2

    def offset(self):
        return self._offset

    def delivery_count(self):
        return self._count

    def timestamp(self):
        return (1, 1_700_000_000_123)


def message(**kwargs) -> Message:
    return Message.from_kafka(FakeRecord(**kwargs))


def test_message_decodes_mq_headers_and_falls_back_to_coordinates_for_the_id():
    m = message(headers=[(H.SOURCE_ID, b"abc"), ("app", b"\xff"), ("mq.content-type", b"json")])
    assert m.message_id == "abc"
    assert m.mq == {H.SOURCE_ID: "abc", "mq.content-type": "json"}
    assert m.header("app") == b"\xff" and m.header("missing") is None
    assert (m.topic, m.partition, m.offset, m.timestamp_ms) == ("t", 2, 7, 1_700_000_000_123)
    assert message(headers=None).message_id == "t-2-7"


@pytest.mark.parametrize(
    "settle, expected",
    [
        (lambda ch, tag: ch.basic_ack(tag), Ack.ACCEPT),
        (lambda ch, tag: ch.basic_nack(tag, requeue=True), Ack.RELEASE),
        (lambda ch, tag: ch.basic_nack(tag, requeue=False), Ack.REJECT),
        (lambda ch, tag: ch.basic_reject(tag, requeue=True), Ack.RELEASE),
        (lambda ch, tag: ch.basic_reject(tag, requeue=False), Ack.REJECT),
        (lambda ch, tag: (ch.basic_ack(tag), ch.basic_reject(tag, requeue=False)), Ack.ACCEPT),
    ],
)
def test_pika_settle_calls_map_to_share_outcomes(settle, expected):
    handler = from_pika_callback(lambda ch, method, props, body: settle(ch, method.delivery_tag))
    assert handler(message()) is expected


def test_pika_callback_sees_properties_and_unsettled_means_release_unless_auto_ack():
    seen = {}

    def callback(channel, method, properties, body):
        seen.update(
            id=properties.message_id,
            headers=properties.headers,
            body=body,
            redelivered=method.redelivered,
        )

    m = message(headers=[(H.SOURCE_ID, b"id-1"), ("tenant", b"acme")], delivery_count=2)
    assert from_pika_callback(callback)(m) is Ack.RELEASE
    assert from_pika_callback(callback, auto_ack=True)(m) is Ack.ACCEPT
    assert seen == {"id": "id-1", "headers": {"tenant": "acme"}, "body": b"v", "redelivered": True}


def test_pika_callback_exception_is_retryable():
    def callback(channel, method, properties, body):
        raise KeyError("boom")

    with pytest.raises(RetryableError, match="KeyError"):
        from_pika_callback(callback)(message())


def test_sqs_handler_gets_an_sqs_shaped_message():
    got = {}
    from_sqs_handler(got.update)(
        message(headers=[(H.SOURCE_ID, b"m-1"), ("n", b"5")], delivery_count=3)
    )
    assert got["MessageId"] == "m-1" and got["Body"] == "v"
    assert got["Attributes"]["ApproximateReceiveCount"] == "3"
    assert got["MessageAttributes"] == {"n": {"DataType": "String", "StringValue": "5"}}
    assert len(got["MD5OfBody"]) == 32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"concurrency": 0}, "concurrency"),
        ({"dead_letter": "worker"}, "dlq_topic"),
        ({"dead_letter": "sometimes"}, "dead_letter"),
        ({"unexpected": Ack.ACCEPT}, "unexpected"),
        ({"handoff": "fifo"}, "handoff"),
        ({"max_poll_records": 0}, "max_poll_records"),
    ],
)
def test_worker_refuses_bad_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Worker("127.0.0.1:1", "t", "g", lambda m: None, metrics=False, **kwargs)


@pytest.mark.parametrize(
    "kwargs, share_consumers",
    [
        ({"concurrency": 8}, 8),
        ({"concurrency": 1}, 1),
        ({"concurrency": 8, "share_consumers": 2}, 2),
    ],
)
def test_the_pool_is_fed_by_one_share_consumer_per_handler_unless_told(kwargs, share_consumers):
    worker = Worker("127.0.0.1:1", "t", "g", lambda m: None, metrics=False, **kwargs)
    assert worker.share_consumers == share_consumers


class _Retry(Exception):
    pass


class _Fatal(Exception):
    pass


def semantics_worker(handler, **kwargs) -> Worker:
    """A worker whose start-up answers are set by hand (limit 3, no DLQ) to drive _process."""
    worker = Worker("127.0.0.1:1", "t", "g", handler, metrics=False, **kwargs)
    worker.delivery_limit = 3
    worker.dead_letter = "none"
    return worker


def raising(exc):
    def handler(message):
        raise exc

    return handler


@pytest.mark.parametrize(
    "handler, delivery, expected",
    [
        (lambda m: None, 1, Ack.ACCEPT),
        (lambda m: Ack.ACCEPT, 3, Ack.ACCEPT),
        (raising(RetryableError("x")), 1, Ack.RELEASE),
        (raising(RetryableError("x")), 2, Ack.RELEASE),
        (raising(RetryableError("x")), 3, Ack.REJECT),  # last attempt: dead-letter, not archive
        (raising(PermanentError("x")), 1, Ack.REJECT),
        (raising(KeyError("x")), 1, Ack.RELEASE),  # unexpected: like an SQS visibility timeout
        (lambda m: Ack.RELEASE, 3, Ack.REJECT),
        (lambda m: Ack.REJECT, 1, Ack.REJECT),
        (raising(_Retry()), 1, Ack.RELEASE),
        (raising(_Fatal()), 1, Ack.REJECT),
    ],
)
def test_semantics_table(handler, delivery, expected):
    worker = semantics_worker(handler, retry_on=[_Retry], permanent_on=[_Fatal])
    assert worker._process(FakeRecord(delivery_count=delivery)) is expected


def test_unexpected_exceptions_can_be_made_permanent():
    worker = semantics_worker(raising(KeyError("x")), unexpected=Ack.REJECT)
    assert worker._process(FakeRecord()) is Ack.REJECT


def test_max_deliveries_can_lower_but_not_raise_the_group_limit():
    assert effective_delivery_limit(5, None) == 5
    assert effective_delivery_limit(5, 2) == 2
    assert effective_delivery_limit(5, 10) == 5  # the broker archives at 5 anyway


def test_pool_hands_records_out_oldest_first_and_reports_to_their_batch():
    from mqmigrate.sdk.worker import _Batch, _Pool

    pool, batch = _Pool(), _Batch(2)
    pool.submit("r1", batch)
    pool.submit("r2", batch)
    assert pool.busy == 2 and pool.waiting == 2
    assert not pool.wait_idle(2, 0.01)  # both handlers' worth acquired: no poll
    assert pool.wait_idle(3, 0)
    record, got = pool.take(0.01)
    assert record == "r1" and got is batch
    pool.done("r1", batch, Ack.ACCEPT)
    assert batch.finished(0) == [("r1", Ack.ACCEPT)] and batch.pending == 1
    assert pool.busy == 1 and pool.wait_idle(2, 0)
    assert pool.take(0.01)[0] == "r2" and pool.take(0.01) is None
    assert batch.finished(0.01) == [] and batch.pending == 1
    pool.done("r2", batch, Ack.RELEASE)
    assert batch.finished(0) == [("r2", Ack.RELEASE)] and batch.pending == 0
    assert pool.busy == 0


def test_pool_wakes_a_waiting_handler_and_a_waiting_poller():
    import threading
    import time

    from mqmigrate.sdk.worker import _Batch, _Pool

    pool, batch = _Pool(), _Batch(1)
    got, idle = [], []
    handler = threading.Thread(target=lambda: got.append(pool.take(5.0)))
    handler.start()
    time.sleep(0.05)
    pool.submit("r1", batch)
    handler.join(2)
    assert got == [("r1", batch)]
    poller = threading.Thread(target=lambda: idle.append(pool.wait_idle(1, 5.0)))
    poller.start()
    time.sleep(0.05)
    started = time.monotonic()
    pool.done("r1", batch, Ack.ACCEPT)
    poller.join(2)
    assert idle == [True] and time.monotonic() - started < 1.0


def test_kafka_4_2_limit_unreadable_trusts_max_deliveries_or_refuses(monkeypatch):
    """On 4.2 the limit is the brokers' config; a worker that may not read it never guesses."""
    from mqmigrate.errors import MqMigrateError
    from mqmigrate.kafka import share
    from mqmigrate.sdk.worker import Worker

    def denied(admin, names=None, timeout=30.0):
        raise MqMigrateError("describing configs of broker 1 failed: Cluster authorization failed")

    monkeypatch.setattr(share, "broker_configs", denied)
    worker = Worker(
        "127.0.0.1:1",
        "t",
        "g",
        lambda m: None,
        max_deliveries=3,
        metrics=False,
        install_signal_handlers=False,
    )
    assert worker._broker_delivery_limit(None) == "3"
    worker = Worker(
        "127.0.0.1:1", "t", "g", lambda m: None, metrics=False, install_signal_handlers=False
    )
    with pytest.raises(ConfigError, match="group.share.delivery.count.limit") as info:
        worker._broker_delivery_limit(None)
    assert "max_deliveries" in info.value.hint
