"""Header fidelity: typed values survive the trip into Kafka headers and back, exactly."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid

import pika.data
import proton
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqmigrate import headers
from mqmigrate.sources.base import Envelope

keys = st.text(min_size=0, max_size=20)


def _same(a, b) -> bool:
    """Equality that also compares types, float NaN and nested containers."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, dt.datetime):
        return a == b and a.tzinfo == b.tzinfo
    return a == b


# every Python value an AMQP 0-9-1 table can hold, as any client library may hand them over
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(),
    st.binary(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.one_of(st.none(), st.just(dt.timezone.utc), st.timezones())),
    st.uuids(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(keys, st.binary(max_size=8)), children, max_size=5),
    ),
    max_leaves=25,
)
tables = st.dictionaries(keys, values, max_size=8)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_arbitrary_nested_tables_round_trip(table):
    assert _same(headers.decode_section(headers.encode_section(table)), table)


# what pika can put on the wire, decoded the way pika decodes it (aware UTC datetimes,
# Decimal from scaled ints, bytes for non-UTF-8 long strings, x-death style nesting)
pika_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=30),
    st.binary(max_size=30),
    st.builds(
        lambda raw, places: decimal.Decimal(raw).scaleb(-places),
        st.integers(-(2**31), 2**31 - 1),
        st.integers(0, 9),
    ),
    st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0, tzinfo=dt.timezone.utc)
    ),
)
pika_values = st.recursive(
    pika_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
pika_tables = st.dictionaries(st.text(min_size=1, max_size=20), pika_values, max_size=8)


def _through_pika(table):
    pieces: list[bytes] = []
    pika.data.encode_table(pieces, table)
    decoded, _ = pika.data.decode_table(b"".join(pieces), 0)
    return decoded


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(pika_tables)
def test_pika_tables_round_trip_exactly(table):
    as_pika_gives_it = _through_pika(table)
    back = headers.decode_section(headers.encode_section(as_pika_gives_it))
    assert _same(back, as_pika_gives_it)
    # and it still encodes to the same AMQP bytes, so a bridge back out is faithful too
    a: list[bytes] = []
    b: list[bytes] = []
    pika.data.encode_table(a, as_pika_gives_it)
    pika.data.encode_table(b, back)
    assert a == b


def test_x_death_round_trips():
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
    table = _through_pika(
        {
            "x-death": [
                {
                    "count": 3,
                    "reason": "rejected",
                    "queue": "orders",
                    "time": now,
                    "exchange": "",
                    "routing-keys": ["orders"],
                }
            ],
            "x-first-death-reason": "rejected",
            "price": decimal.Decimal("12.50"),
            "raw": b"\xff\x00",
        }
    )
    back = headers.decode_section(headers.encode_section(table))
    assert _same(back, table)
    assert back["x-death"][0]["time"] == now and back["price"] == decimal.Decimal("12.50")


sqs_attribute = st.one_of(
    st.builds(
        lambda label, text: {"DataType": "String" + label, "StringValue": text},
        st.sampled_from(["", ".json", ".custom-label"]),
        st.text(min_size=1),
    ),
    st.builds(
        lambda label, n: {"DataType": "Number" + label, "StringValue": n},
        st.sampled_from(["", ".float", ".int", ".money"]),
        st.one_of(
            st.integers().map(str),
            st.decimals(allow_nan=False, allow_infinity=False).map(str),
            st.floats(allow_nan=False, allow_infinity=False).map(repr),
        ),
    ),
    st.builds(
        lambda label, b: {"DataType": "Binary" + label, "BinaryValue": b},
        st.sampled_from(["", ".gzip"]),
        st.binary(min_size=1),
    ),
)


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z0-9_\-.]{1,20}", fullmatch=True), sqs_attribute, max_size=10
    )
)
def test_sqs_attributes_round_trip(attributes):
    back = headers.decode_sqs_attributes(headers.encode_sqs_attributes(attributes))
    assert back == attributes
    for attr in back.values():
        value = headers.sqs_attribute_value(attr)
        if attr["DataType"].startswith("Number"):
            assert decimal.Decimal(attr["StringValue"]) == value
        elif attr["DataType"].startswith("Binary"):
            assert value == attr["BinaryValue"]


def test_amqp1_types_round_trip():
    props = proton.PropertyDict(
        {proton.symbol("tenant"): "acme", proton.symbol("n"): proton.ulong(7)}
    )
    annotations = {
        proton.symbol("x-opt-partition-key"): "k1",
        proton.symbol("x-opt-seq"): proton.ulong(2**64 - 1),
        proton.symbol("x-opt-when"): proton.timestamp(1_700_000_000_000),
        proton.symbol("x-opt-small"): proton.ubyte(7),
        proton.symbol("x-opt-char"): proton.char("é"),
        proton.symbol("x-opt-f"): proton.float32(1.5),
        proton.symbol("x-opt-d"): proton.Described(proton.symbol("x"), [1, 2]),
        proton.symbol("x-opt-a"): proton.Array(proton.UNDESCRIBED, proton.Data.INT, 1, 2, 3),
        proton.symbol("x-opt-uuid"): uuid.UUID(int=5),
    }
    for section in (props, annotations):
        back = headers.decode_section(headers.encode_section(section))
        assert back == section
        assert [type(k) for k in back] == [type(k) for k in section]
        assert [type(v) for v in back.values()] == [type(v) for v in section.values()]


def test_envelope_headers_flat_and_typed():
    env = Envelope(
        body=b"{}",
        source_id="id-1",
        source_kind="rabbitmq",
        queue="orders",
        timestamp_ms=1234000,
        properties={
            "content_type": "application/json",
            "correlation_id": "c-9",
            "reply_to": "replies",
            "message_id": "id-1",
            "priority": 5,
        },
        headers={"tenant": "acme", "n": decimal.Decimal("1.5")},
        sections={"amqp.properties": {"delivery_mode": 2, "priority": 5}},
        coordinates={"exchange": "ex", "routing_key": "rk"},
        redelivered=True,
    )
    encoded = headers.encode(env)
    flat = dict(encoded)
    assert flat["mq.source.id"] == b"id-1" and flat["mq.content-type"] == b"application/json"
    assert flat["mq.correlation-id"] == b"c-9" and flat["mq.reply-to"] == b"replies"
    assert flat["mq.priority"] == b"5" and flat["mq.redelivered"] == b"true"
    decoded = headers.decode(encoded + [("app-header", b"kept")])
    assert decoded.source_id == "id-1" and decoded.source_kind == "rabbitmq"
    assert decoded.timestamp_ms == 1234000 and decoded.queue == "orders"
    assert decoded.headers == {"tenant": "acme", "n": decimal.Decimal("1.5")}
    assert decoded.sections["amqp.properties"] == {"delivery_mode": 2, "priority": 5}
    assert decoded.properties["reply_to"] == "replies"
    assert decoded.extra["mq.source.routing-key"] == "rk"
    assert decoded.other == [("app-header", b"kept")]


def test_bad_typed_header_is_a_clear_error():
    import pytest

    with pytest.raises(headers.HeaderDecodeError):
        headers.decode([("mq.amqp.headers", b"not json")])
    with pytest.raises(headers.HeaderDecodeError):
        headers.decode_section(b'["zz", 1]')


def test_unknown_value_types_degrade_to_text_instead_of_failing():
    class Odd:
        def __repr__(self):
            return "Odd(1)"

    back = headers.decode_section(headers.encode_section({"odd": Odd(), "ok": 1}))
    assert back == {"odd": "Odd(1)", "ok": 1}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_sections_are_the_json_the_standard_encoder_writes(table):
    # encode_section reuses one C encoder instead of json.dumps per call: same bytes
    import json

    expected = json.dumps(
        headers.encode_value(table), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()
    assert headers.encode_section(table) == expected


def test_proton_scalars_keep_their_tags_on_every_encoding():
    # the first encoding of a proton type fills a per-type cache; later ones must agree
    when = proton.timestamp(1_700_000_000_000)
    first = headers.encode_section({"t": when, "s": proton.symbol("a"), "u": proton.ulong(3)})
    again = headers.encode_section({"t": when, "s": proton.symbol("a"), "u": proton.ulong(3)})
    assert (
        first
        == again
        == (
            b'["m",{"t":["p:timestamp",["i",1700000000000]],'
            b'"s":["p:symbol",["s","a"]],"u":["p:ulong",["i",3]]}]'
        )
    )
    back = headers.decode_section(again)
    assert [type(v) for v in back.values()] == [proton.timestamp, proton.symbol, proton.ulong]


def test_an_encoded_section_is_written_with_its_bytes_and_reads_back_equal():
    section = headers.EncodedSection({"durable": True, "ttl": None})
    assert section == {"durable": True, "ttl": None}
    assert section.encoded == headers.encode_section({"durable": True, "ttl": None})
    env = Envelope(
        body=b"", source_id="i", source_kind="amqp1", queue="q", sections={"amqp1.header": section}
    )
    encoded = dict(headers.encode(env))
    assert encoded["mq.amqp1.header"] == section.encoded
    assert headers.decode(list(encoded.items())).sections["amqp1.header"] == section
