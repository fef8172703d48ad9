"""A fast reader for the deliveries of one consumer channel, under pika.

pika decodes every frame into objects and routes it through several layers of callbacks
(frame → channel → content assembler → BlockingChannel event queue → consumer callback), and
trims its input buffer with a copy per frame.  For a bridge that is most of its CPU: with 1 KiB
messages pika spent more time per message than the rest of the bridge together.

:func:`install` puts :class:`DeliveryReader` in front of pika's frame parser on one
connection.  It decodes, straight from the socket bytes, the three frames of each
``Basic.Deliver`` on the consumer's channel (method, content header, body) into a
:class:`Delivery`, and hands every other frame — heartbeats, RPC replies, ``Basic.Cancel``,
``Connection.Close``, content of other methods — to pika unchanged, in order.  The header
table is decoded as pika's ``decode_table`` does it, except floats and doubles: pika (checked
on 1.3 and 1.4) casts them to integers (3.25 arrives as 3), so :func:`decode_table` reads them
itself, also inside arrays and nested tables.  Without the reader (another pika version) the
adapter gets pika's own, truncated values.

It relies on private names of pika (checked on 1.4.4: the connection's ``_on_data_available``,
``_frame_buffer``, ``_process_frame``, ``bytes_received``, ``frames_received``, and
``BlockingConnection._request_channel_dispatch``; the transport's ``_MAX_RECV_BYTES`` is
raised when present); :func:`install` returns False when one is missing (another pika
version) and the adapter keeps pika's own consumer path.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Mapping, NamedTuple

from pika import data as _pika_data
from pika import exceptions as _pika_exceptions
from pika import frame as _pika_frame
from pika import spec as _spec

_FRAME_HEADER = struct.Struct(">BHL")
_U64 = struct.Struct(">Q")
_CONTENT_HEADER = struct.Struct(">HHQH")
_U16 = struct.Struct(">H")
#: class 60 (basic), method 60 (deliver)
_DELIVER = b"\x00\x3c\x00\x3c"
_FRAME_END = 0xCE
_METHOD, _HEADER, _BODY = _spec.FRAME_METHOD, _spec.FRAME_HEADER, _spec.FRAME_BODY

_P = _spec.BasicProperties
#: short-string properties in wire order with their flag bits (AMQP 0-9-1 §4.2.6.1)
_BEFORE_HEADERS = (
    (_P.FLAG_CONTENT_TYPE, "content_type"),
    (_P.FLAG_CONTENT_ENCODING, "content_encoding"),
)
_MIDDLE = (
    (_P.FLAG_CORRELATION_ID, "correlation_id"),
    (_P.FLAG_REPLY_TO, "reply_to"),
    (_P.FLAG_EXPIRATION, "expiration"),
    (_P.FLAG_MESSAGE_ID, "message_id"),
)
_AFTER_TIMESTAMP = (
    (_P.FLAG_TYPE, "type"),
    (_P.FLAG_USER_ID, "user_id"),
    (_P.FLAG_APP_ID, "app_id"),
    (_P.FLAG_CLUSTER_ID, "cluster_id"),
)


class Delivery(NamedTuple):
    """One message as the broker delivered it (a tuple: cheapest to build per message)."""

    delivery_tag: int
    redelivered: bool
    exchange: str
    routing_key: str
    #: the non-empty basic properties except ``headers`` and ``timestamp``, by pika's names
    properties: Mapping[str, Any]
    headers: Mapping[str, Any] | None
    timestamp: int | None
    body: bytes


def _short_string(buf: bytes, offset: int) -> tuple[str, int]:
    # pika's rule: UTF-8 text, or the raw bytes when they are not UTF-8
    end = offset + 1 + buf[offset]
    raw = buf[offset + 1 : end]
    try:
        return raw.decode(), end
    except UnicodeDecodeError:
        return raw, end  # type: ignore[return-value]


_FLOAT = struct.Struct(">f")
_DOUBLE = struct.Struct(">d")
_U32 = struct.Struct(">I")


def decode_value(buf: bytes, offset: int) -> tuple[Any, int]:
    """One AMQP 0-9-1 field value: pika's decoding, with floats and doubles kept whole."""
    kind = buf[offset : offset + 1]
    if kind == b"d":
        return _DOUBLE.unpack_from(buf, offset + 1)[0], offset + 9
    if kind == b"f":
        return _FLOAT.unpack_from(buf, offset + 1)[0], offset + 5
    if kind == b"F":
        return decode_table(buf, offset + 1)
    if kind == b"A":
        (length,) = _U32.unpack_from(buf, offset + 1)
        offset += 5
        end = offset + length
        values = []
        while offset < end:
            value, offset = decode_value(buf, offset)
            values.append(value)
        return values, offset
    value, offset = _pika_data.decode_value(buf, offset)
    return value, offset


def decode_table(buf: bytes, offset: int) -> tuple[dict[str, Any], int]:
    """An AMQP 0-9-1 field table (pika's ``decode_table``, with :func:`decode_value`)."""
    (size,) = _U32.unpack_from(buf, offset)
    offset += 4
    end = offset + size
    table: dict[str, Any] = {}
    while offset < end:
        key, offset = _pika_data.decode_short_string(buf, offset)
        table[key], offset = decode_value(buf, offset)
    return table, offset


def decode_properties(buf: bytes, offset: int) -> tuple[dict[str, Any], Any, int | None]:
    """``(properties, headers, timestamp)`` from an encoded basic property list."""
    (flags,) = _U16.unpack_from(buf, offset)
    offset += 2
    shift = 16
    word = flags
    while word & 1:  # continuation flag words (none are defined, but the format allows them)
        (word,) = _U16.unpack_from(buf, offset)
        offset += 2
        flags |= word << shift
        shift += 16
    props: dict[str, Any] = {}
    headers = timestamp = None
    if flags & 0xC000:
        for bit, name in _BEFORE_HEADERS:
            if flags & bit:
                props[name], offset = _short_string(buf, offset)
    if flags & _P.FLAG_HEADERS:
        headers, offset = decode_table(buf, offset)
    if flags & _P.FLAG_DELIVERY_MODE:
        props["delivery_mode"] = buf[offset]
        offset += 1
    if flags & _P.FLAG_PRIORITY:
        props["priority"] = buf[offset]
        offset += 1
    if flags & 0x0780:
        for bit, name in _MIDDLE:
            if flags & bit:
                props[name], offset = _short_string(buf, offset)
    if flags & _P.FLAG_TIMESTAMP:
        (timestamp,) = _U64.unpack_from(buf, offset)
        offset += 8
    if flags & 0x003C:
        for bit, name in _AFTER_TIMESTAMP:
            if flags & bit:
                props[name], offset = _short_string(buf, offset)
    return props, headers, timestamp


#: pika's BasicProperties attribute names the fast decoder fills
PROPERTY_NAMES = tuple(
    name for group in (_BEFORE_HEADERS, _MIDDLE, _AFTER_TIMESTAMP) for _, name in group
) + ("delivery_mode", "priority")


def from_pika(method: Any, props: Any, body: bytes) -> Delivery:
    """The same :class:`Delivery` from pika's own objects (the path without the reader)."""
    properties = {
        name: value for name in PROPERTY_NAMES if (value := getattr(props, name)) is not None
    }
    return Delivery(
        method.delivery_tag,
        bool(method.redelivered),
        method.exchange,
        method.routing_key,
        properties,
        props.headers,
        props.timestamp,
        body,
    )


class DeliveryReader:
    """Feeds on a pika connection's socket bytes; see the module doc."""

    def __init__(
        self,
        impl: Any,
        channel_number: int,
        on_delivery: Callable[[Delivery], None],
        on_batch: Callable[[], None] = lambda: None,
    ):
        self._impl = impl
        self._channel = channel_number
        self._on_delivery = on_delivery
        self._on_batch = on_batch
        # the delivery whose content frames are still arriving
        self._method: tuple[int, bool, str, str] | None = None
        self._header: tuple[dict[str, Any], Any, int | None] | None = None
        self._remaining = 0
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> None:
        impl = self._impl
        buf = impl._frame_buffer + data if impl._frame_buffer else data
        size = len(buf)
        pos = 0
        fast = 0
        delivered = 0
        channel = self._channel
        unpack_header = _FRAME_HEADER.unpack_from
        try:
            while size - pos >= 8:
                kind, number, length = unpack_header(buf, pos)
                end = pos + 8 + length
                if end > size:
                    break
                if buf[end - 1] != _FRAME_END:
                    raise _pika_exceptions.InvalidFrameError("Invalid FRAME_END marker")
                start = pos + 7
                if number == channel and (
                    (kind == _METHOD and buf[start : start + 4] == _DELIVER)
                    or (kind != _METHOD and self._method is not None)
                ):
                    fast += 1
                    delivered += self._fast_frame(kind, buf, start, end - 1)
                else:
                    # everything else goes to pika, in the order it arrived
                    _, frame_value = _pika_frame.decode_frame(buf[pos:end])
                    impl._frame_buffer = b""
                    impl._process_frame(frame_value)
                    if not impl.is_open:  # Connection.Close(-Ok): pika has reset its state
                        impl.bytes_received += end
                        buf, pos, size = b"", 0, 0
                        break
                pos = end
        finally:
            impl._frame_buffer = buf[pos:]
            impl.bytes_received += pos  # pika's heartbeat checker watches this
            impl.frames_received += fast
            if delivered:
                self._on_batch()

    def _fast_frame(self, kind: int, buf: bytes, start: int, stop: int) -> int:
        if kind == _METHOD:
            if self._method is not None:
                raise _pika_exceptions.UnexpectedFrameError(
                    "Basic.Deliver while the content of the previous one was incomplete"
                )
            offset = start + 4
            offset += 1 + buf[offset]  # consumer tag: one consumer per channel here
            (tag,) = _U64.unpack_from(buf, offset)
            redelivered = bool(buf[offset + 8] & 1)
            exchange, offset = _short_string(buf, offset + 9)
            routing_key, _ = _short_string(buf, offset)
            self._method = (tag, redelivered, exchange, routing_key)
            self._header = None
            return 0
        if kind == _HEADER:
            if self._header is not None:
                raise _pika_exceptions.UnexpectedFrameError("a second content header")
            _class, _weight, body_size, _flags = _CONTENT_HEADER.unpack_from(buf, start)
            self._header = decode_properties(buf, start + 12)
            self._remaining = body_size
            self._parts = []
            if body_size == 0:
                return self._emit()
            return 0
        if kind == _BODY:
            if self._header is None:
                raise _pika_exceptions.UnexpectedFrameError("a body frame before its header")
            self._parts.append(buf[start:stop])
            self._remaining -= stop - start
            if self._remaining <= 0:
                return self._emit()
            return 0
        raise _pika_exceptions.UnexpectedFrameError(f"frame type {kind} inside a delivery")

    def _emit(self) -> int:
        method, header, parts = self._method, self._header, self._parts
        assert method is not None and header is not None
        self._method = self._header = None
        self._parts = []
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        self._on_delivery(
            Delivery(
                method[0], method[1], method[2], method[3], header[0], header[1], header[2], body
            )
        )
        return 1


def install(
    connection: Any,
    channel_number: int,
    on_delivery: Callable[[Delivery], None],
    recv_bytes: int = 256 * 1024,
) -> bool:
    """Put a :class:`DeliveryReader` in front of ``connection`` (a pika
    ``BlockingConnection``) for ``channel_number``; False when this pika lacks the hooks.

    Call it before ``basic_consume`` so that every delivery takes the same path.
    """
    impl = getattr(connection, "_impl", None)
    needed = (
        "_on_data_available",
        "_frame_buffer",
        "_process_frame",
        "bytes_received",
        "frames_received",
    )
    if (
        impl is None
        or not all(hasattr(impl, name) for name in needed)
        or not hasattr(connection, "_request_channel_dispatch")
    ):
        return False

    def wake() -> None:
        # ends a waiting process_data_events(timeout) once messages are here (pika's own
        # "terminate" request: negative channel numbers are skipped by its dispatcher)
        connection._request_channel_dispatch(-1)

    reader = DeliveryReader(impl, channel_number, on_delivery, wake)
    impl._on_data_available = reader.feed
    transport = getattr(impl, "_transport", None)
    if transport is not None and hasattr(transport, "_MAX_RECV_BYTES"):
        # pika reads 4 KiB per recv(); larger reads mean fewer trips through its I/O loop
        transport._MAX_RECV_BYTES = recv_bytes
        transport._MAX_CONSUME_BYTES = max(transport._MAX_CONSUME_BYTES, 4 * recv_bytes)
    return True
