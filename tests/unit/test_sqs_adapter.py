"""SQS source, pure logic: attribute fidelity (hypothesis), ids, error classification,
settle/visibility bookkeeping.  The real broker round trips are in tests/integration/test_source_contract.py
and tests/bridge/test_bridge_scenarios.py (crash campaign, FIFO order across SIGKILLs and
visibility extension on TestSqsElasticMQ)."""

from __future__ import annotations

import decimal
import sys

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from hypothesis import given, settings
from hypothesis import strategies as st

from mqmigrate import headers as mqheaders
from mqmigrate.bridge.mapping import KeyStrategy
from mqmigrate.errors import AuthenticationFailed, SourceError, SourceUnavailable, UsageError
from mqmigrate.sources import adapter_class, kind_for_uri
from mqmigrate.sources.base import BridgeMode, Outcome
from mqmigrate.sources.sqs.adapter import SQSSource, _Held, _shadow_name
from mqmigrate.sources.sqs.client import classify

URI = "sqs+http://AKID:s3cret@127.0.0.1:9324"

# -- attributes as SQS allows them --------------------------------------------------------
names = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)
suffix = st.one_of(st.just(""), st.from_regex(r"\.[A-Za-z0-9_-]{1,16}", fullmatch=True))
# SQS string values: XML 1.0 characters (tab, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD, astral)
sqs_chars = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters=[chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD)]
    + ["\ufffe", "\uffff"],
)
number_text = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.decimals(
        allow_nan=False,
        allow_infinity=False,
        places=None,
        min_value=decimal.Decimal("-1e30"),
        max_value=decimal.Decimal("1e30"),
    ).map(str),
    st.sampled_from(["1.50", "-0", "0.000", "007", "1E+5", "2.5e-3"]),
)
attribute = st.one_of(
    st.builds(
        lambda s, v: {"DataType": "String" + s, "StringValue": v},
        suffix,
        st.text(sqs_chars, min_size=1, max_size=40),
    ),
    st.builds(lambda s, v: {"DataType": "Number" + s, "StringValue": v}, suffix, number_text),
    st.builds(
        lambda s, v: {"DataType": "Binary" + s, "BinaryValue": v},
        suffix,
        st.binary(min_size=1, max_size=64),
    ),
)


def _message(
    attributes: dict,
    *,
    mid: str = "11111111-2222-3333-4444-555555555555",
    system: dict | None = None,
    body: str = "payload",
) -> dict:
    """One message as boto3's receive_message returns it."""
    return {
        "MessageId": mid,
        "ReceiptHandle": "rh-" + mid,
        "MD5OfBody": "x",
        "Body": body,
        "Attributes": system or {"SentTimestamp": "1764000000123", "ApproximateReceiveCount": "1"},
        "MessageAttributes": attributes,
    }


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, attribute, max_size=10))
def test_sqs_attributes_round_trip_through_the_bridge_mapping(attributes):
    source = SQSSource(URI, "orders")
    envelope = source._envelope(_message(attributes))
    meta = mqheaders.decode(mqheaders.encode(envelope))
    # back exactly as boto3 returned them: DataType with its suffix, Number as its text
    assert meta.headers == attributes
    for name, attr in attributes.items():
        value = mqheaders.sqs_attribute_value(meta.headers[name])
        base = attr["DataType"].split(".", 1)[0]
        if base == "Binary":
            assert type(value) is bytes and value == attr["BinaryValue"]
        elif base == "String":
            assert type(value) is str and value == attr["StringValue"]
        else:
            assert type(value) in (int, decimal.Decimal)
            assert value == decimal.Decimal(attr["StringValue"])
    assert meta.sections["sqs.system"] == {
        "SentTimestamp": "1764000000123",
        "ApproximateReceiveCount": "1",
    }
    assert meta.timestamp_ms == 1764000000123 and meta.source_kind == "sqs"


@given(names.filter(lambda n: n.lower() not in ("message_id", "messageid")), attribute)
def test_key_from_header_uses_the_typed_attribute_value(name, attr):
    envelope = SQSSource(URI, "orders")._envelope(_message({name: attr}))
    key = KeyStrategy.parse(f"header:{name}").function()(envelope)
    value = mqheaders.sqs_attribute_value(attr)
    assert key == (value if isinstance(value, bytes) else str(value).encode())


def test_source_id_prefers_the_producers_mq_source_id():
    plain = SQSSource(URI, "q")._envelope(_message({}, mid="m-1"))
    assert plain.source_id == "m-1" and plain.properties["message_id"] == "m-1"
    tagged = SQSSource(URI, "q")._envelope(
        _message({"mq-source-id": {"DataType": "String", "StringValue": "order-7"}}, mid="m-2")
    )
    assert tagged.source_id == "order-7"  # the id the dual-write SDK also gave Kafka
    assert tagged.properties["message_id"] == "m-2"


def test_fifo_group_is_the_key_and_redelivery_is_flagged():
    env = SQSSource(URI, "q.fifo")._envelope(
        _message(
            {},
            system={
                "SentTimestamp": "5",
                "ApproximateReceiveCount": "3",
                "MessageGroupId": "g-1",
                "MessageDeduplicationId": "d",
                "SequenceNumber": "18889",
            },
        )
    )
    assert env.key == "g-1" and env.properties["group_id"] == "g-1"
    assert env.redelivered and env.timestamp_ms == 5
    assert env.sections["sqs.system"]["SequenceNumber"] == "18889"


def test_registry_and_describe_masks_credentials():
    sys.modules.pop("mqmigrate.sources.sqs.adapter", None)
    assert kind_for_uri("sqs://eu-west-1") == "sqs"
    assert kind_for_uri("sqs+http://127.0.0.1:9324") == "sqs"
    assert kind_for_uri("sqs+https://sqs.example") == "sqs"
    cls = adapter_class("sqs")
    assert cls.capabilities.shadow and cls.capabilities.group_key
    assert cls.capabilities.batch_settle and cls.capabilities.send_timestamp
    source = cls.from_uri(URI, queue="orders", prefetch=10, mode=BridgeMode.drain)
    assert "s3cret" not in source.describe() and "orders" in source.describe()
    url_source = cls.from_uri(URI, queue="http://127.0.0.1:9324/000000000000/orders")
    assert url_source.source_queue == "orders"


def test_shadow_queue_names():
    assert _shadow_name("orders") == "orders-mqmigrate-shadow"
    assert _shadow_name("orders.fifo") == "orders-mqmigrate-shadow.fifo"
    assert SQSSource(URI, "o.fifo", mode=BridgeMode.shadow).queue == "o-mqmigrate-shadow.fifo"
    with pytest.raises(UsageError, match="80 characters"):
        _shadow_name("q" * 70)


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "nope"}}, "ReceiveMessage")


@pytest.mark.parametrize(
    "exc,kind,transient",
    [
        (_client_error("InvalidClientTokenId"), AuthenticationFailed, False),
        (_client_error("SignatureDoesNotMatch"), AuthenticationFailed, False),
        (_client_error("AccessDenied"), AuthenticationFailed, False),
        (_client_error("AWS.SimpleQueueService.NonExistentQueue"), SourceError, False),
        (_client_error("QueueDoesNotExist"), SourceError, False),
        (_client_error("ThrottlingException"), SourceUnavailable, True),
        (_client_error("InvalidParameterValue"), SourceError, False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), SourceUnavailable, True),
        (NoCredentialsError(), AuthenticationFailed, False),
    ],
)
def test_errors_are_classified(exc, kind, transient):
    err = classify(exc, "SQS queue 'q': receive", queue="q")
    assert type(err) is kind and err.transient is transient
    assert "\n" not in err.one_line()


class _RecordingSQS:
    """Records batch calls; ``fail`` receipts come back in ``Failed``."""

    def __init__(self, fail=()):
        self.calls: list[tuple[str, list]] = []
        self.fail = set(fail)

    def _batch(self, name, QueueUrl, Entries, **_):
        self.calls.append((name, Entries))
        return {
            "Failed": [
                {"Id": e["Id"], "Code": "ReceiptHandleIsInvalid"}
                for e in Entries
                if e["ReceiptHandle"] in self.fail
            ]
        }

    def delete_message_batch(self, **kw):
        return self._batch("delete", **kw)

    def change_message_visibility_batch(self, **kw):
        return self._batch("visibility", **kw)


def _holding(n: int, fake) -> tuple[SQSSource, list]:
    source = SQSSource(URI, "q", clients=(fake, None))
    source._sqs, source.url, source._generation = fake, "http://q", 1
    envelopes = []
    for i in range(n):
        env = source._envelope(_message({}, mid=f"m{i}"))
        source._held[f"m{i}"] = _Held(f"rh-m{i}", 1, visible_at=100.0 + i)
        envelopes.append(env)
    return source, envelopes


def test_accept_deletes_in_batches_of_ten_and_counts_failures():
    fake = _RecordingSQS(fail={"rh-m3"})
    source, envs = _holding(25, fake)
    assert source.settle_many(envs, Outcome.ACCEPT) == 24
    assert [len(entries) for name, entries in fake.calls] == [10, 10, 5]
    assert {name for name, _ in fake.calls} == {"delete"} and not source._held


def test_release_is_visibility_zero_and_reject_leaves_the_message_to_the_redrive_policy():
    fake = _RecordingSQS()
    source, envs = _holding(3, fake)
    assert source.settle_many(envs[:2], Outcome.RELEASE) == 2
    assert fake.calls == [
        (
            "visibility",
            [
                {"Id": "0", "ReceiptHandle": "rh-m0", "VisibilityTimeout": 0},
                {"Id": "1", "ReceiptHandle": "rh-m1", "VisibilityTimeout": 0},
            ],
        )
    ]
    assert source.settle_many(envs[2:], Outcome.REJECT) == 1
    assert len(fake.calls) == 1 and not source._held  # no call: no longer held or extended


def test_settling_a_previous_generation_is_a_no_op():
    fake = _RecordingSQS()
    source, envs = _holding(2, fake)
    source._held.clear()
    source._generation += 1  # closed and reopened: those messages are not ours any more
    assert source.settle_many(envs, Outcome.ACCEPT) == 0 and not fake.calls


def test_extension_touches_only_messages_past_half_their_visibility():
    fake = _RecordingSQS(fail={"rh-m1"})
    source, _ = _holding(4, fake)  # visible_at 100, 101, 102, 103
    source.visibility_timeout = 4
    source._extend(now=99.5)  # m0 (0.5 s left) and m1 (1.5 s) are due, m2 (2.5 s) is not
    assert fake.calls == [
        (
            "visibility",
            [
                {"Id": "0", "ReceiptHandle": "rh-m0", "VisibilityTimeout": 4},
                {"Id": "1", "ReceiptHandle": "rh-m1", "VisibilityTimeout": 4},
            ],
        )
    ]
    # m0 extended, now the latest deadline; m1's extension failed: still held, first in line
    # to be tried again, and still settled (deleted) after Kafka's ack
    assert list(source._held) == ["m1", "m2", "m3", "m0"]
    assert source._held["m0"].visible_at > 103 and source._held["m1"].visible_at == 101


class _FlakyReceive:
    """Every other receive_message call fails as an unreachable endpoint."""

    def __init__(self):
        self.n = 0

    def receive_message(self, **kw):
        self.n += 1
        if self.n % 2:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return {"Messages": [_message({}, mid=f"r{self.n}")]}


def test_receive_keeps_what_succeeded_and_raises_only_when_every_call_failed():
    from concurrent.futures import ThreadPoolExecutor

    fake = _FlakyReceive()
    source = SQSSource(URI, "q", receivers=4)
    source._sqs, source.url, source._pool = fake, "http://q", ThreadPoolExecutor(4)
    try:
        got = source.receive(40, 0)  # 4 calls, 2 fail
        assert len(got) == 2 and set(source._held) == {e.source_id for e in got}
        source.receivers = 1
        with pytest.raises(SourceUnavailable, match="unreachable"):
            source.receive(10, 0)  # the only call fails
    finally:
        source._pool.shutdown()
