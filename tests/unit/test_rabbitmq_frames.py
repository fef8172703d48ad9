"""The fast delivery reader decodes exactly what pika decodes (no broker: pika's own encoder
writes the frames), whatever the socket's chunking, and hands every other frame to pika."""

from __future__ import annotations

import datetime as dt
import decimal
import random
import struct

import pika
import pytest
from pika import frame, spec

from mqmigrate.sources.rabbitmq import frames

CHANNEL = 1


class FakeImpl:
    """The four attributes of pika's connection the reader uses, recording pika's frames."""

    def __init__(self):
        self._frame_buffer = b""
        self.bytes_received = 0
        self.frames_received = 0
        self.is_open = True
        self.to_pika: list = []

    def _process_frame(self, value):
        self.to_pika.append(value)


def deliver(
    tag,
    props,
    body,
    *,
    channel=CHANNEL,
    exchange="ex",
    routing_key="rk",
    redelivered=False,
    frame_max=131072,
) -> bytes:
    out = [
        frame.Method(
            channel, spec.Basic.Deliver("ctag-1", tag, redelivered, exchange, routing_key)
        ).marshal(),
        frame.Header(channel, len(body), props).marshal(),
    ]
    for i in range(0, len(body), frame_max - 8):
        out.append(frame.Body(channel, body[i : i + frame_max - 8]).marshal())
    return b"".join(out)


PROPS = [
    pika.BasicProperties(),
    pika.BasicProperties(message_id="m-1", delivery_mode=2, timestamp=1_700_000_000),
    pika.BasicProperties(
        content_type="application/json",
        content_encoding="gzip",
        priority=7,
        correlation_id="c",
        reply_to="r",
        expiration="60000",
        message_id="m-ü",
        type="t",
        user_id="guest",
        app_id="app",
        cluster_id="cl",
        delivery_mode=1,
        timestamp=1,
        headers={
            "n": 1,
            "s": "text",
            "d": decimal.Decimal("1.50"),
            "b": True,
            "t": dt.datetime(2026, 1, 2, 3, 4, 5),
            "nested": {"a": [1, "x", {"y": b"z"}]},
            "x-death": [{"count": 2, "queue": "q", "reason": "rejected"}],
        },
    ),
]


def expected(stream: bytes) -> list[frames.Delivery]:
    """What pika's own path gives for ``stream``."""
    out, method, header, parts, pos = [], None, None, [], 0
    while pos < len(stream):
        used, value = frame.decode_frame(stream[pos:])
        pos += used
        if isinstance(value, frame.Method):
            method, parts = value.method, []
        elif isinstance(value, frame.Header):
            header = value
        else:
            parts.append(value.fragment)
        if header is not None and sum(map(len, parts)) == header.body_size:
            out.append(frames.from_pika(method, header.properties, b"".join(parts)))
            header = None
    return out


@pytest.mark.parametrize("seed", range(5))
def test_same_deliveries_as_pika_whatever_the_chunking(seed):
    rng = random.Random(seed)
    stream = b"".join(
        deliver(
            tag,
            PROPS[tag % len(PROPS)],
            bytes([tag % 256]) * rng.choice([0, 1, 1024, 300_000]),
            redelivered=tag % 2 == 0,
            exchange="" if tag % 3 else "amq.topic",
            routing_key=f"k.{tag}",
        )
        for tag in range(1, 40)
    )
    impl, got = FakeImpl(), []
    reader = frames.DeliveryReader(impl, CHANNEL, got.append)
    pos = 0
    while pos < len(stream):
        step = rng.choice([1, 7, 100, 4096, 65536])
        reader.feed(stream[pos : pos + step])
        pos += step
    assert got == expected(stream)
    assert impl._frame_buffer == b"" and impl.to_pika == []
    assert impl.bytes_received == len(stream)  # pika's heartbeat checker reads this


def test_other_frames_go_to_pika_in_order():
    heartbeat = frame.Heartbeat().marshal()
    cancel = frame.Method(CHANNEL, spec.Basic.Cancel("ctag-1")).marshal()
    other_channel = deliver(9, PROPS[1], b"other", channel=2)
    stream = (
        deliver(1, PROPS[1], b"a") + heartbeat + deliver(2, PROPS[0], b"b") + other_channel + cancel
    )
    impl, got = FakeImpl(), []
    frames.DeliveryReader(impl, CHANNEL, got.append).feed(stream)
    assert [d.body for d in got] == [b"a", b"b"]
    kinds = [type(f).__name__ for f in impl.to_pika]
    assert kinds == ["Heartbeat", "Method", "Header", "Body", "Method"]
    assert isinstance(impl.to_pika[-1].method, spec.Basic.Cancel)


def test_a_heartbeat_between_content_frames_keeps_the_delivery_whole():
    one = deliver(1, PROPS[2], b"x" * 5000, frame_max=1024)
    method_end = one.index(b"\xce") + 1
    stream = one[:method_end] + frame.Heartbeat().marshal() + one[method_end:]
    impl, got = FakeImpl(), []
    frames.DeliveryReader(impl, CHANNEL, got.append).feed(stream)
    assert got == expected(one) and len(impl.to_pika) == 1


def test_a_bad_frame_end_is_a_protocol_error():
    stream = bytearray(deliver(1, PROPS[0], b"a"))
    stream[-1] = 0
    with pytest.raises(pika.exceptions.InvalidFrameError):
        frames.DeliveryReader(FakeImpl(), CHANNEL, lambda d: None).feed(bytes(stream))


def test_receive_builds_the_same_envelopes_as_the_constructor():
    """receive() fills Envelope's dict directly (speed); it must equal the normal one."""
    import dataclasses

    from mqmigrate.sources.base import Envelope
    from mqmigrate.sources.rabbitmq import adapter
    from mqmigrate.sources.rabbitmq.adapter import RabbitMQSource

    assert adapter._FAST_ENVELOPE  # the fast path is the one under test
    src = RabbitMQSource("amqp://u:p@127.0.0.1:1/%2f", "q")
    src._conn = type("Conn", (), {"process_data_events": lambda self, t: None})()
    impl = FakeImpl()
    reader = frames.DeliveryReader(impl, CHANNEL, src._buffer.append)
    reader.feed(deliver(5, PROPS[2], b"body", redelivered=True) + deliver(6, PROPS[0], b"no id"))
    got = src.receive(10, 0)
    slow = []
    adapter._FAST_ENVELOPE = False
    try:
        reader.feed(
            deliver(5, PROPS[2], b"body", redelivered=True) + deliver(6, PROPS[0], b"no id")
        )
        slow = src.receive(10, 0)
    finally:
        adapter._FAST_ENVELOPE = True
    assert [type(e) for e in slow] == [Envelope, Envelope]
    for fast_one, normal in zip(got, slow):
        assert dataclasses.asdict(fast_one) | {"handle": None} == dataclasses.asdict(normal) | {
            "handle": None
        }
        assert fast_one == normal  # handle is not compared
    assert got[0].source_id == "m-ü" and got[1].source_id.startswith("sha256:")
    assert got[0].properties["priority"] == 7 and got[0].headers["x-death"][0]["count"] == 2
    assert dataclasses.replace(got[0], body=b"other").body == b"other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        got[0].body = b"changed"


def _double(value: float) -> bytes:
    return b"d" + struct.pack(">d", value)


def _float(value: float) -> bytes:
    return b"f" + struct.pack(">f", value)


def _table(**fields: bytes) -> bytes:
    body = b"".join(bytes([len(k)]) + k.encode() + v for k, v in fields.items())
    return struct.pack(">I", len(body)) + body


def test_floats_and_doubles_keep_their_fraction_at_any_depth():
    """pika's decode_table casts AMQP floats and doubles to int (3.25 -> 3); a Java or .NET
    producer's double must reach Kafka whole, in arrays and nested tables too."""
    array = _float(0.5) + _double(-2.75) + b"I" + struct.pack(">i", 7)
    encoded = _table(
        ratio=_double(3.25),
        half=_float(0.5),
        list=b"A" + struct.pack(">I", len(array)) + array,
        inner=b"F" + _table(deep=_double(1e-3), text=b"S" + struct.pack(">I", 2) + b"ok"),
    )
    table, end = frames.decode_table(encoded, 0)
    assert end == len(encoded)
    assert table == {
        "ratio": 3.25,
        "half": 0.5,
        "list": [0.5, -2.75, 7],
        "inner": {"deep": 1e-3, "text": "ok"},
    }
    assert pika.data.decode_table(encoded, 0)[0]["ratio"] == 3  # why the reader decodes them
