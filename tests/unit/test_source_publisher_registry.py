"""Source publishers without brokers: resolved from the URI scheme, properties checked before
anything is sent, a duck-typed producer seen as a publisher, SQS attribute types."""

from __future__ import annotations

import pytest

from mqmigrate.errors import ConfigError, UsageError
from mqmigrate.sources import PUBLISHERS, open_publisher, publisher_class
from mqmigrate.sources.base import SourcePublisher, as_publisher, check_properties
from mqmigrate.sources.sqs.publisher import SQSPublisher, message_attribute


@pytest.mark.parametrize(
    "uri, kind",
    [
        ("amqp://guest:guest@127.0.0.1:5672/%2f", "rabbitmq"),
        ("amqps://guest:guest@rabbit:5671/%2f", "rabbitmq"),
        ("amqp1://artemis:artemis@127.0.0.1:61616", "amqp1"),
        ("amqp1s://artemis:artemis@artemis:5671", "amqp1"),
    ],
)
def test_the_uri_scheme_picks_the_publisher(uri, kind):
    publisher = open_publisher(uri, queue="orders")  # connects on first send, not now
    assert isinstance(publisher, SourcePublisher)
    assert publisher.kind == kind
    assert type(publisher).__module__ == f"mqmigrate.sources.{kind}.publisher"


def test_every_registered_publisher_names_its_kind():
    for kind in PUBLISHERS:
        assert publisher_class(kind).kind == kind


def test_the_sdk_names_are_the_publishers():
    from mqmigrate.sdk.dualwrite import PikaSource, ProtonSource, SqsSource

    assert issubclass(PikaSource, publisher_class("rabbitmq"))
    assert issubclass(ProtonSource, publisher_class("amqp1"))
    assert issubclass(SqsSource, publisher_class("sqs"))


def test_rabbitmq_routing_key_defaults_to_the_queue_and_amqp1_asks_for_a_queue():
    rabbit = open_publisher("amqp://g:g@h/%2f", queue="orders")
    assert (rabbit.exchange, rabbit.routing_key) == ("", "orders")  # type: ignore[attr-defined]
    routed = open_publisher("amqp://g:g@h/%2f", queue="orders", exchange="x", routing_key="k")
    assert (routed.exchange, routed.routing_key) == ("x", "k")  # type: ignore[attr-defined]
    amqp1 = open_publisher("amqp1://a:a@h:5672", queue="orders")
    assert amqp1.capabilities == ("queue",)  # type: ignore[attr-defined]
    assert amqp1.address == "orders"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "uri, error",
    [
        ("memory://orders", "no publisher for source kind"),
        ("rabbitmq+http://g:g@h:15672", "unsupported source scheme"),
        ("amqpp://g:g@h/%2f", "unsupported source scheme"),
        ("orders", "has no scheme"),
    ],
)
def test_a_uri_without_a_publisher_is_a_usage_error(uri, error):
    with pytest.raises(UsageError, match=error):
        open_publisher(uri, queue="orders")


def test_a_property_the_kind_has_no_place_for_is_a_config_error():
    check_properties("rabbitmq", {"content_type": "text/plain"}, frozenset({"content_type"}))
    with pytest.raises(ConfigError, match="no property 'colour'") as caught:
        check_properties("rabbitmq", {"colour": "blue"}, frozenset({"content_type"}))
    assert "content_type" in (caught.value.hint or "")
    sqs = SQSPublisher("http://sqs/q", client=object())
    with pytest.raises(ConfigError, match="a sqs message has no property"):
        sqs.send(b"x", "m", {}, None, properties={"content_type": "text/plain"})


def test_sqs_headers_keep_their_types():
    assert message_attribute("acme") == {"DataType": "String", "StringValue": "acme"}
    assert message_attribute(7) == {"DataType": "Number", "StringValue": "7"}
    assert message_attribute(2.5) == {"DataType": "Number", "StringValue": "2.5"}
    assert message_attribute(b"\x00\xff") == {"DataType": "Binary", "BinaryValue": b"\x00\xff"}
    assert message_attribute(True) == {"DataType": "String", "StringValue": "True"}


class _Minimal:
    """The dual-write SDK's documented minimum: kind, send(body, id, headers, key), close()."""

    kind = "custom"

    def __init__(self):
        self.sent = []
        self.closed = False
        self.extra = "passes through"

    def send(self, body, message_id, headers, key):
        self.sent.append((body, message_id, dict(headers), key))

    def close(self):
        self.closed = True


def test_a_duck_typed_producer_is_a_publisher_that_cannot_delay():
    target = _Minimal()
    publisher = as_publisher(target)
    assert publisher.kind == "custom"
    publisher.send(b"x", "m1", {"a": "1"}, "k", delay_ms=None)
    assert target.sent == [(b"x", "m1", {"a": "1"}, "k")]
    with pytest.raises(ConfigError, match="cannot delay a message"):
        publisher.check_delay(1000)
    with pytest.raises(ConfigError, match="no property"):
        publisher.send(b"x", "m2", {}, None, properties={"content_type": "x"})
    assert publisher.extra == "passes through"  # type: ignore[attr-defined]
    publisher.close()
    assert target.closed


def test_a_publisher_is_used_as_is():
    publisher = open_publisher("amqp://g:g@h/%2f", queue="orders")
    assert as_publisher(publisher) is publisher
