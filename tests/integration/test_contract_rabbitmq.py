"""Contract: the AMQP 0-9-1 behaviour of RabbitMQ the bridge relies on, on the real broker.

Properties and header tables must come back with their types (docs/headers.md), and the three
settlements map onto the share-group outcomes: ack = ACCEPT, nack(requeue) = RELEASE,
reject(no requeue) = REJECT (dead-lettered when the queue has a DLX).
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import struct

import pika
import pika.data
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]


@pytest.fixture
def channel(rabbitmq_service):
    user, password = rabbitmq_service.credentials()
    connection = pika.BlockingConnection(
        pika.ConnectionParameters(
            "127.0.0.1",
            rabbitmq_service.port("amqp"),
            credentials=pika.PlainCredentials(user, password),
        )
    )
    yield connection.channel()
    connection.close()


@pytest.fixture
def queue(channel, unique_name):
    channel.queue_declare(unique_name, durable=True)
    yield unique_name
    channel.queue_delete(unique_name)


def _get(channel, queue: str, timeout: float = 5.0):
    """``basic.get`` until a message arrives (dead-lettering is asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=False)
        if method is not None:
            return method, properties, body
        time.sleep(0.05)
    raise AssertionError(f"no message on {queue} within {timeout}s")


def _encode_value_with_doubles(original):
    def encode_value(pieces, value):
        if isinstance(value, float):
            pieces.append(struct.pack(">cd", b"d", value))
            return 9
        return original(pieces, value)

    return encode_value


def _decode_value_keeping_fractions(original):
    def decode_value(encoded, offset):
        kind = encoded[offset : offset + 1]
        if kind == b"d":
            return struct.unpack_from(">d", encoded, offset + 1)[0], offset + 9
        if kind == b"f":
            return struct.unpack_from(">f", encoded, offset + 1)[0], offset + 5
        return original(encoded, offset)

    return decode_value


@pytest.fixture
def pika_with_doubles(monkeypatch):
    """pika with float header values encoded as AMQP doubles and decoded without loss.

    pika 1.4 refuses to encode a float and decodes ``d``/``f`` fields through ``int()``,
    dropping the fraction (see ``test_pika_truncates_double_headers``), while Java and .NET
    clients send doubles.  The broker's round trip is checked with a correct codec.
    """
    encode, decode = pika.data.encode_value, pika.data.decode_value
    monkeypatch.setattr(pika.data, "encode_value", _encode_value_with_doubles(encode))
    monkeypatch.setattr(pika.data, "decode_value", _decode_value_keeping_fractions(decode))


def _same_kind(got: object, expected: object) -> bool:
    """Same Python kind; pika's ``long`` (an int subclass for 64-bit fields) counts as int."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected)
    return isinstance(got, type(expected))


def _depth(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def test_properties_and_typed_headers_round_trip(channel, queue, pika_with_doubles):
    # AMQP timestamps are whole seconds since the epoch; pika 1.4 decodes them as aware UTC
    stamp = dt.datetime(2026, 11, 25, 12, 30, 15, tzinfo=dt.timezone.utc)
    headers = {
        "string": "héllo",
        "int": 42,
        "big-int": 2**40,
        "negative": -7,
        "float": 3.25,
        "bool-true": True,
        "bool-false": False,
        "decimal": Decimal("12.345"),
        "timestamp": stamp,
        "bytes": b"\x00\x01\xfe\xff",
        "void": None,
        "array": [1, "two", 3.5, True, [4, 5], {"k": "v"}],
        "table": {"nested": {"deeper": 1}, "list": ["a", "b"], "when": stamp},
    }
    properties = pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        correlation_id="corr-1",
        message_id="msg-1",
        timestamp=1764073815,
        priority=7,
        delivery_mode=pika.DeliveryMode.Persistent,
        expiration="600000",
        type="order.created",
        app_id="contract-test",
        reply_to="replies",
        headers=headers,
    )
    channel.basic_publish("", queue, b'{"n": 1}', properties)

    method, got, body = _get(channel, queue)
    channel.basic_ack(method.delivery_tag)

    assert body == b'{"n": 1}'
    assert (got.content_type, got.content_encoding) == ("application/json", "utf-8")
    assert (got.correlation_id, got.message_id) == ("corr-1", "msg-1")
    assert got.timestamp == 1764073815
    assert (got.priority, got.delivery_mode, got.expiration) == (7, 2, "600000")
    assert (got.type, got.app_id, got.reply_to) == ("order.created", "contract-test", "replies")
    assert got.headers == headers
    # equality alone would let 1 == True or 3 == 3.0 slip through: check the kinds too
    for key, value in headers.items():
        assert _same_kind(got.headers[key], value), key
    assert _same_kind(got.headers["array"][2], 3.5)
    assert _same_kind(got.headers["array"][3], True)


def test_pika_truncates_double_headers(channel, queue, monkeypatch):
    """Documents a driver limit the bridge must work around: stock pika turns 3.25 into 3."""
    encode = pika.data.encode_value
    monkeypatch.setattr(pika.data, "encode_value", _encode_value_with_doubles(encode))
    channel.basic_publish("", queue, b"", pika.BasicProperties(headers={"ratio": 3.25}))

    method, got, _ = _get(channel, queue)
    channel.basic_ack(method.delivery_tag)
    assert got.headers["ratio"] == 3 and not isinstance(got.headers["ratio"], float)


def test_ack_removes_the_message(channel, queue):
    channel.basic_publish("", queue, b"once")
    method, _, _ = _get(channel, queue)
    channel.basic_ack(method.delivery_tag)

    assert channel.basic_get(queue, auto_ack=False)[0] is None
    assert _depth(channel, queue) == 0


def test_nack_with_requeue_redelivers_marked_redelivered(channel, queue):
    channel.basic_publish("", queue, b"again")
    first, _, _ = _get(channel, queue)
    assert first.redelivered is False
    channel.basic_nack(first.delivery_tag, requeue=True)

    second, _, body = _get(channel, queue)
    assert body == b"again"
    assert second.redelivered is True
    channel.basic_ack(second.delivery_tag)
    assert _depth(channel, queue) == 0


def test_reject_without_requeue_dead_letters_with_x_death(channel, unique_name):
    dlq = f"{unique_name}-dlq"
    channel.queue_declare(dlq, durable=True)
    channel.queue_declare(
        unique_name,
        durable=True,
        arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq},
    )
    try:
        channel.basic_publish(
            "", unique_name, b"poison", pika.BasicProperties(message_id="poison-1")
        )
        method, _, _ = _get(channel, unique_name)
        channel.basic_reject(method.delivery_tag, requeue=False)

        dead, properties, body = _get(channel, dlq)
        channel.basic_ack(dead.delivery_tag)
        assert body == b"poison"
        assert properties.message_id == "poison-1"
        assert _depth(channel, unique_name) == 0

        (death,) = properties.headers["x-death"]
        assert death["count"] == 1
        assert death["reason"] == "rejected"
        assert death["queue"] == unique_name
        assert death["exchange"] == ""
        assert death["routing-keys"] == [unique_name]
        assert isinstance(death["time"], dt.datetime)
        assert properties.headers["x-first-death-reason"] == "rejected"
        assert properties.headers["x-first-death-queue"] == unique_name
    finally:
        channel.queue_delete(unique_name)
        channel.queue_delete(dlq)
