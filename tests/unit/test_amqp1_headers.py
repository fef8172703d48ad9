"""Header fidelity for the AMQP 1.0 source (pure logic, no broker): any application-properties
of AMQP 1.0 scalar types go through proton's codec (as off the wire), the adapter's envelope,
the bridge's ``mq.*`` headers, and come back from :func:`mqmigrate.headers.decode` equal and
of the same type.  The real-broker round trip is
``tests/bridge/test_bridge_scenarios.py::TestArtemis::test_drain_artemis_keeps_types_key_and_timestamp``."""

from __future__ import annotations

import math
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from proton import (
    Message,
    byte,
    char,
    decimal32,
    decimal64,
    decimal128,
    float32,
    int32,
    short,
    symbol,
    timestamp,
    ubyte,
    uint,
    ulong,
    ushort,
)

from mqmigrate import headers as mqheaders
from mqmigrate.sources.amqp1.adapter import AMQP1Source

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
#: AMQP symbols are ASCII
_ascii = st.text(st.characters(max_codepoint=127), max_size=20)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(0, 2**8 - 1).map(ubyte),
    st.integers(0, 2**16 - 1).map(ushort),
    st.integers(0, 2**32 - 1).map(uint),
    st.integers(0, 2**64 - 1).map(ulong),
    st.integers(-(2**7), 2**7 - 1).map(byte),
    st.integers(-(2**15), 2**15 - 1).map(short),
    st.integers(-(2**31), 2**31 - 1).map(int32),
    st.integers(-(2**63), 2**63 - 1),  # long
    st.floats(allow_nan=False),  # double
    st.floats(width=32, allow_nan=False).map(float32),
    st.integers(0, 2**32 - 1).map(decimal32),
    st.integers(0, 2**64 - 1).map(decimal64),
    st.binary(min_size=16, max_size=16).map(decimal128),
    st.characters(exclude_categories=("Cs",)).map(char),
    st.integers(-(2**63), 2**63 - 1).map(timestamp),
    st.uuids(),
    st.binary(max_size=40),
    _text,
    _ascii.map(symbol),
)

SOURCE = AMQP1Source("amqp1://user:secret@localhost:5672", "orders")


def _off_the_wire(message: Message) -> Message:
    received = Message()
    received.decode(message.encode())
    return received


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_text, SCALARS, max_size=12))
def test_application_properties_round_trip_with_their_types(properties):
    message = _off_the_wire(Message(id="m-1", body=b"x", properties=properties))
    envelope = SOURCE._envelope(message, (0, 0))
    decoded = mqheaders.decode(mqheaders.encode(envelope))
    assert decoded.source_id == "m-1" and decoded.source_kind == "amqp1"
    assert set(decoded.headers) == set(properties)
    for name, value in properties.items():
        assert _same(decoded.headers[name], value), (name, value, decoded.headers[name])


@settings(max_examples=100, deadline=None)
@given(
    message_id=st.one_of(
        _text.filter(lambda t: t and "\x00" not in t),
        st.integers(0, 2**64 - 1).map(ulong),
        st.uuids(),
        st.binary(min_size=1, max_size=16),
    ),
    annotations=st.dictionaries(_ascii.map(lambda t: symbol("x-opt-" + t)), SCALARS, max_size=5),
    # properties-section strings go through proton's C strings: no NUL inside
    group=st.one_of(st.none(), _text.filter(lambda t: t and "\x00" not in t)),
    created_ms=st.integers(1, 2**41),
)
def test_properties_and_annotations_sections_round_trip(message_id, annotations, group, created_ms):
    message = _off_the_wire(
        Message(
            id=message_id,
            body=b"x",
            group_id=group,
            # proton's setter truncates seconds*1000: aim mid-ms
            creation_time=(created_ms + 0.5) / 1000,
            annotations=annotations or None,
            durable=True,
            ttl=1.5,
        )
    )
    envelope = SOURCE._envelope(message, (0, 0))
    decoded = mqheaders.decode(mqheaders.encode(envelope))
    props = decoded.sections["amqp1.properties"]
    assert _same(props["message-id"], message_id)
    assert props["creation-time"] == timestamp(created_ms) and decoded.timestamp_ms == created_ms
    assert envelope.key == group and props.get("group-id") == group
    expected_id = (
        "0x" + message_id.hex()
        if isinstance(message_id, bytes)
        else str(int(message_id))
        if isinstance(message_id, int)
        else str(message_id)
    )
    assert decoded.source_id == expected_id
    header = decoded.sections["amqp1.header"]
    assert header["durable"] is True and header["ttl"] == 1500
    got = decoded.sections.get("amqp1.annotations", {})
    assert set(got) == set(annotations)
    for key, value in annotations.items():
        assert _same(got[key], value) and type(key) is type(next(k for k in got if k == key))


def test_message_without_id_gets_a_content_hash_stable_across_redeliveries():
    first = _off_the_wire(Message(body=b"same", properties={"n": ulong(1)}, creation_time=5.0))
    again = _off_the_wire(
        Message(body=b"same", properties={"n": ulong(1)}, creation_time=5.0, delivery_count=1)
    )
    other = _off_the_wire(Message(body=b"other", properties={"n": ulong(1)}, creation_time=5.0))
    ids = [SOURCE._envelope(m, (0, 0)).source_id for m in (first, again, other)]
    assert ids[0].startswith("sha256:") and ids[0] == ids[1] != ids[2]
    assert SOURCE._envelope(again, (0, 0)).redelivered


def test_bodies_that_are_not_a_data_section_are_described():
    cases = [
        (Message(body="text"), b"text", {"section": "amqp-value", "encoding": "utf-8"}),
        (Message(body=None), b"", {"section": "amqp-value", "encoding": "null"}),
        (Message(body=b"raw"), b"raw", {"section": "amqp-value", "encoding": "binary"}),
    ]
    data = Message(body=b"raw")
    data.inferred = True
    cases.append((data, b"raw", None))
    for message, body, section in cases:
        envelope = SOURCE._envelope(_off_the_wire(message), (0, 0))
        assert envelope.body == body
        assert envelope.sections.get("amqp1.body") == section
    mapped = SOURCE._envelope(
        _off_the_wire(Message(body={"k": ulong(2), "u": uuid.UUID(int=3)})), (0, 0)
    )
    assert mapped.sections["amqp1.body"] == {"section": "amqp-value", "encoding": "mq-typed-json"}
    assert mqheaders.decode_section(mapped.body) == {
        "value": {"k": ulong(2), "u": uuid.UUID(int=3)}
    }


def test_no_secret_in_the_description():
    assert "secret" not in SOURCE.describe()
