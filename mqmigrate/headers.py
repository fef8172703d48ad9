"""Source message metadata as Kafka headers that keep their types, and back.

Kafka headers are ``(name, bytes)`` pairs; AMQP and SQS metadata are typed (nested tables,
arrays, decimals, timestamps, byte strings, AMQP 1.0 symbols and unsigned ints, SQS
``Number.float`` attributes...).  The bridge writes two kinds of ``mq.*`` headers (names in
``docs/headers.md``):

* flat headers with UTF-8 text for the common properties any consumer wants without a
  library: ``mq.source.id``, ``mq.source.kind``, ``mq.source.queue``, ``mq.content-type``,
  ``mq.correlation-id``, ``mq.reply-to``, ``mq.timestamp`` ...;
* typed sections, JSON in which every value is tagged with its type
  (``["d", "1.50"]`` is a Decimal, ``["t", "2026-01-01T00:00:00+00:00"]`` a timestamp), so
  that :func:`decode` gives back values equal to the ones the source client produced:
  ``mq.amqp.headers`` (the AMQP 0-9-1 header table),
  ``mq.amqp1.application-properties``, ``mq.amqp1.properties``, ``mq.amqp1.annotations``,
  ``mq.sqs.attributes``, ``mq.sqs.system``.

A consumer reads them back with::

    from mqmigrate.headers import decode
    meta = decode(msg.headers())
    meta.source_id, meta.headers["x-death"], meta.typed_properties()
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from mqmigrate.errors import ConfigError

#: version of the typed encoding, written as ``mq.format``; tags are only ever added
FORMAT_VERSION = "1"
PREFIX = "mq."

#: flat header name -> Envelope.properties key
FLAT_PROPERTIES: dict[str, str] = {
    "mq.content-type": "content_type",
    "mq.content-encoding": "content_encoding",
    "mq.correlation-id": "correlation_id",
    "mq.reply-to": "reply_to",
    "mq.message-id": "message_id",
    "mq.type": "type",
    "mq.app-id": "app_id",
    "mq.user-id": "user_id",
    "mq.expiration": "expiration",
    "mq.priority": "priority",
    "mq.delivery-mode": "delivery_mode",
    "mq.group-id": "group_id",
    "mq.cluster-id": "cluster_id",
    "mq.subject": "subject",
}

_HEADER_OF = {key: header for header, key in FLAT_PROPERTIES.items()}
#: flat properties whose values are integers (AMQP octets); the rest are text
INT_PROPERTIES = frozenset({"priority", "delivery_mode"})

#: where each source kind's application headers go (a typed section)
APP_HEADER_SECTION: dict[str, str] = {
    "rabbitmq": "amqp.headers",
    "amqp1": "amqp1.application-properties",
    "sqs": "sqs.attributes",
    "memory": "headers",
}

#: quarantine headers (see docs/headers.md)
QUARANTINE_REASON = "mq.quarantine.reason"
QUARANTINE_CODE = "mq.quarantine.error-code"
QUARANTINE_TOPIC = "mq.quarantine.topic"
QUARANTINE_SIZE = "mq.quarantine.size"
SOURCE_ID = "mq.source.id"
#: SQS message attribute carrying the message id (SQS attribute names may not contain dots
#: only at certain positions and ``mq.source.id`` reads poorly in the console; a dash is safe)
SQS_SOURCE_ID_ATTRIBUTE = "mq-source-id"

# AMQP 1.0 scalar types (python-qpid-proton subclasses of int/str/float/bytes) by tag; the
# decoder imports proton only when it meets one of these tags.
_PROTON_SCALARS = (
    "ulong",
    "uint",
    "ushort",
    "ubyte",
    "byte",
    "short",
    "int32",
    "timestamp",
    "char",
    "symbol",
    "float32",
    "decimal32",
    "decimal64",
    "decimal128",
)


class HeaderDecodeError(ConfigError):
    """A typed ``mq.*`` header is not valid (written by something else, or corrupted)."""


# -- typed values --------------------------------------------------------------------------

#: proton scalar type -> (its tag, the plain base type its payload is encoded as); filled as
#: encode_value meets them, so the per-message path skips the name checks below
_PROTON_SCALAR_TAGS: dict[type, tuple[str, type]] = {}


def encode_value(value: Any) -> Any:
    """A JSON-able ``[tag, payload]`` for ``value``; :func:`decode_value` inverts it exactly."""
    cls = type(value)
    # on the bridge's per-message path: the common types first
    if cls is str:
        return ["s", value]
    if value is None:
        return ["n"]
    if cls is bool:
        return ["b", value]
    if cls is int:
        return ["i", value]
    if cls is dict:
        if all(type(k) is str for k in value):
            return ["m", {k: encode_value(v) for k, v in value.items()}]
        return ["m*", [[encode_value(k), encode_value(v)] for k, v in value.items()]]
    scalar = _PROTON_SCALAR_TAGS.get(cls)
    if scalar is not None:
        return [scalar[0], encode_value(scalar[1](value))]
    if cls is float:
        return ["f", repr(value)]  # repr round-trips every float, nan and inf included
    if cls.__name__ == "long" and cls.__module__ == "pika.compat":
        # pika's 64-bit "long-long" marker type: keeping it keeps the AMQP encoding ('l')
        return ["l", int(value)]
    if cls is bytes:
        return ["x", base64.b64encode(value).decode("ascii")]
    if cls is decimal.Decimal:
        return ["d", str(value)]
    if cls is _dt.datetime:
        zone = getattr(value.tzinfo, "key", None)
        if zone is not None:  # a named IANA zone: keep the zone and the DST fold, not the offset
            return ["tz", value.replace(tzinfo=None).isoformat(), zone, value.fold]
        return ["t", value.isoformat()]
    if cls is _dt.date:
        return ["date", value.isoformat()]
    if cls is uuid.UUID:
        return ["uuid", str(value)]
    if cls in (list, tuple):
        return ["a" if cls is list else "tuple", [encode_value(v) for v in value]]
    if cls is bytearray:
        return ["x", base64.b64encode(bytes(value)).decode("ascii")]
    name = cls.__name__
    module = cls.__module__ or ""
    if module.startswith("proton") and name == "Constant" and str(value) == "UNDESCRIBED":
        return ["undescribed"]
    if module.startswith("proton") and name in _PROTON_SCALARS:
        base = value.__class__.__mro__[1]
        _PROTON_SCALAR_TAGS[cls] = ("p:" + name, base)
        return ["p:" + name, encode_value(base(value))]
    if module.startswith("proton") and name == "Described":
        return ["described", encode_value(value.descriptor), encode_value(value.value)]
    if module.startswith("proton") and name == "Array":
        return [
            "parray",
            encode_value(value.descriptor),
            int(value.type),
            [encode_value(v) for v in value.elements],
        ]
    if isinstance(value, Mapping):
        tag = "m" if cls is dict else ("p:" + name if module.startswith("proton") else "m")
        if all(type(k) is str for k in value):
            return [tag, {k: encode_value(v) for k, v in value.items()}]
        return [tag + "*", [[encode_value(k), encode_value(v)] for k, v in value.items()]]
    if isinstance(value, (list, tuple)) and module.startswith("proton"):
        return ["p:" + name, [encode_value(v) for v in value]]
    # a type no source client produces today: keep its text rather than fail the message
    return ["?", f"{module}.{name}", repr(value)]


def decode_value(tagged: Any) -> Any:
    """The value :func:`encode_value` encoded (same type, equal value)."""
    try:
        tag = tagged[0]
        if tag == "n":
            return None
        if tag == "?":
            return tagged[2]  # an unknown type kept as its repr text (see encode_value)
        if tag == "undescribed":
            import proton

            return proton.UNDESCRIBED
        payload = tagged[1]
        if tag in ("b", "s", "i"):
            return payload
        if tag == "f":
            return float(payload)
        if tag == "x":
            return base64.b64decode(payload)
        if tag == "d":
            return decimal.Decimal(payload)
        if tag == "t":
            return _dt.datetime.fromisoformat(payload)
        if tag == "l":
            from pika.compat import long

            return long(payload)
        if tag == "tz":
            import zoneinfo

            return _dt.datetime.fromisoformat(payload).replace(
                tzinfo=zoneinfo.ZoneInfo(tagged[2]), fold=tagged[3]
            )
        if tag == "date":
            return _dt.date.fromisoformat(payload)
        if tag == "uuid":
            return uuid.UUID(payload)
        if tag == "a":
            return [decode_value(v) for v in payload]
        if tag == "tuple":
            return tuple(decode_value(v) for v in payload)
        if tag == "m":
            return {k: decode_value(v) for k, v in payload.items()}
        if tag == "m*":
            return {decode_value(k): decode_value(v) for k, v in payload}
        if tag == "described":
            import proton

            return proton.Described(decode_value(payload), decode_value(tagged[2]))
        if tag == "parray":
            import proton

            return proton.Array(
                decode_value(payload), tagged[2], *[decode_value(v) for v in tagged[3]]
            )
        if tag.startswith("p:"):
            import proton

            name = tag[2:].rstrip("*")
            cls = getattr(proton, name)
            if tag.endswith("*"):
                return cls({decode_value(k): decode_value(v) for k, v in payload})
            if isinstance(payload, dict):
                return cls({k: decode_value(v) for k, v in payload.items()})
            if name in _PROTON_SCALARS:
                return cls(decode_value(payload))
            return cls([decode_value(v) for v in payload])
    except (
        IndexError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        LookupError,
        decimal.InvalidOperation,
        ImportError,
    ) as exc:
        raise HeaderDecodeError(f"bad typed header value {str(tagged)[:80]!r}: {exc}") from exc
    raise HeaderDecodeError(f"unknown type tag {tag!r} in a typed header value")


class EncodedSection(dict):
    """A typed section that keeps its :func:`encode_section` bytes: an adapter whose
    messages share a section (AMQP 1.0's header section) builds it once and :func:`encode`
    reuses the bytes.  Treat it as read-only: the bytes do not follow later changes."""

    __slots__ = ("encoded",)

    def __init__(self, values: Mapping[Any, Any]):
        super().__init__(values)
        self.encoded = encode_section(self)


def _json_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _compact_json() -> Callable[[Any], str]:
    """``json.dumps(..., separators=(",", ":"), ensure_ascii=False, allow_nan=False)``.

    Built once on the C encoder where CPython has it: ``json.dumps`` with options makes a new
    encoder per call, about two thirds of its cost for a small section (one per message)."""
    from json import encoder as _encoder

    make = getattr(_encoder, "c_make_encoder", None)
    escape = getattr(_encoder, "c_encode_basestring", None)
    if make is not None and escape is not None:
        try:
            # markers=None: no cycle check; encode_value builds fresh trees, never cycles
            iterencode = make(None, _json_default, escape, None, ":", ",", False, False, False)
        except TypeError:  # another signature in another Python: the portable encoder
            pass
        else:
            return lambda obj: "".join(iterencode(obj, 0))
    return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


_dumps = _compact_json()


def encode_section(values: Mapping[Any, Any]) -> bytes:
    """A typed section (a header table, a property map) as compact JSON bytes."""
    if not isinstance(values, dict):
        values = dict(values)  # a read-only mapping view: its items are what matter
    return _dumps(encode_value(values)).encode()


def decode_section(raw: bytes) -> dict[Any, Any]:
    """Inverse of :func:`encode_section`."""
    try:
        return decode_value(json.loads(raw))
    except ValueError as exc:
        raise HeaderDecodeError(f"a typed mq.* header is not JSON: {exc}") from exc


# -- SQS message attributes ----------------------------------------------------------------


def encode_sqs_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> bytes:
    """SQS ``MessageAttributes`` as boto3 returns them (``{"n": {"DataType": "Number.float",
    "StringValue": "1.5"}}``), kept verbatim: Number values stay the exact text SQS holds."""
    clean = {
        name: {
            k: v
            for k, v in attr.items()
            if k
            in ("DataType", "StringValue", "BinaryValue", "StringListValues", "BinaryListValues")
        }
        for name, attr in attributes.items()
    }
    return encode_section(clean)


def decode_sqs_attributes(raw: bytes) -> dict[str, dict[str, Any]]:
    """Inverse of :func:`encode_sqs_attributes`: the dict boto3 would have returned."""
    return decode_section(raw)


def sqs_attribute_value(attr: Mapping[str, Any]) -> Any:
    """The typed value of one SQS attribute: ``Number*`` as int or Decimal, ``Binary*`` as
    bytes, ``String*`` as str (the part after the dot is the user's custom type label)."""
    base = str(attr.get("DataType", "String")).split(".", 1)[0]
    if base == "Binary":
        return attr.get("BinaryValue")
    text = attr.get("StringValue")
    if base == "Number" and text is not None:
        number = decimal.Decimal(text)
        return (
            int(number)
            if number == number.to_integral_value() and "." not in text and "e" not in text.lower()
            else number
        )
    return text


# -- whole envelopes ------------------------------------------------------------------------


def _text(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, _dt.datetime):
        return value.isoformat().encode()
    return str(value).encode()


def encode(envelope: Any) -> list[tuple[str, bytes]]:
    """Kafka headers for a :class:`~mqmigrate.sources.base.Envelope`."""
    # on the bridge's per-message path: locals and inline type checks on purpose
    out: list[tuple[str, bytes]] = [
        (SOURCE_ID, envelope.source_id.encode()),
        ("mq.source.kind", envelope.source_kind.encode()),
        ("mq.source.queue", envelope.queue.encode()),
    ]
    append = out.append
    header_of = _HEADER_OF
    for key, value in envelope.properties.items():
        header = header_of.get(key)
        if header is not None and value is not None:
            kind = type(value)
            append(
                (
                    header,
                    value.encode()
                    if kind is str
                    else str(value).encode()
                    if kind is int
                    else _text(value),
                )
            )
    timestamp = envelope.timestamp_ms
    if timestamp is not None:
        append(("mq.timestamp", str(timestamp).encode()))
    coords = envelope.coordinates
    if coords:
        exchange = coords.get("exchange")
        if exchange is not None:
            append(("mq.source.exchange", exchange.encode()))
        routing_key = coords.get("routing_key")
        if routing_key is not None:
            append(("mq.source.routing-key", routing_key.encode()))
    if envelope.redelivered:
        append(("mq.redelivered", b"true"))
    if envelope.headers:
        section = APP_HEADER_SECTION.get(envelope.source_kind, "headers")
        append((PREFIX + section, encode_section(envelope.headers)))
    for name, values in envelope.sections.items():
        if values:
            append(
                (
                    PREFIX + name,
                    values.encoded if type(values) is EncodedSection else encode_section(values),
                )
            )
    if len(out) > 3:
        append(("mq.format", FORMAT_VERSION.encode()))
    return out


@dataclass
class Decoded:
    """What :func:`decode` found in a record's headers."""

    source_id: str | None = None
    source_kind: str | None = None
    queue: str | None = None
    timestamp_ms: int | None = None
    #: flat common properties under their neutral names (text, as written)
    properties: dict[str, str] = field(default_factory=dict)
    #: the application headers with their types (AMQP table, SQS attributes ...)
    headers: dict[Any, Any] = field(default_factory=dict)
    #: every typed section by name without the ``mq.`` prefix (``amqp.properties`` ...)
    sections: dict[str, Any] = field(default_factory=dict)
    #: ``mq.*`` flat headers not covered above (``mq.source.exchange``, quarantine reason ...)
    extra: dict[str, str] = field(default_factory=dict)
    #: headers that are not ``mq.*`` (left as bytes)
    other: list[tuple[str, bytes | None]] = field(default_factory=list)

    def typed_properties(self) -> dict[str, Any]:
        """The flat properties with their AMQP types back: ``priority`` and
        ``delivery_mode`` as int, plus ``timestamp`` in seconds for AMQP 0-9-1 sources.
        (AMQP 0-9-1 property types are fixed by the spec, so flat headers lose nothing.)"""
        out: dict[str, Any] = {
            k: int(v) if k in INT_PROPERTIES else v for k, v in self.properties.items()
        }
        if self.source_kind == "rabbitmq" and self.timestamp_ms is not None:
            out["timestamp"] = self.timestamp_ms // 1000
        return out


_TYPED = set(APP_HEADER_SECTION.values()) | {
    "amqp.properties",
    "amqp1.properties",
    "amqp1.annotations",
    "amqp1.header",
    "amqp1.delivery-annotations",
    "amqp1.footer",
    "amqp1.body",
    "sqs.system",
}
_PROPERTY_OF = FLAT_PROPERTIES


def decode(headers: Iterable[tuple[str, bytes | None]] | None) -> Decoded:
    """Typed metadata from a Kafka record's headers (``msg.headers()``)."""
    out = Decoded()
    for name, raw in headers or ():
        if not name.startswith(PREFIX) or raw is None:
            out.other.append((name, raw))
            continue
        short = name[len(PREFIX) :]
        if short in _TYPED:
            out.sections[short] = decode_section(raw)
            continue
        text = raw.decode("utf-8", "replace")
        if name == SOURCE_ID:
            out.source_id = text
        elif name == "mq.source.kind":
            out.source_kind = text
        elif name == "mq.source.queue":
            out.queue = text
        elif name == "mq.timestamp":
            out.timestamp_ms = int(text)
        elif name in _PROPERTY_OF:
            out.properties[_PROPERTY_OF[name]] = text
        else:
            out.extra[name] = text
    if out.source_kind:
        section = APP_HEADER_SECTION.get(out.source_kind, "headers")
        out.headers = out.sections.get(section, {})
    return out


def header_value(headers: Sequence[tuple[str, bytes | None]] | None, name: str) -> bytes | None:
    """The first value of header ``name`` (None when absent)."""
    for key, value in headers or ():
        if key == name:
            return value
    return None
