"""The source publishers (``mqmigrate.sources.<kind>.publisher``) on the sandbox brokers, one
parametrised suite over the kinds: RabbitMQ (AMQP 0-9-1, publisher confirms), AMQP 1.0 on
ActiveMQ Artemis, SQS on ElasticMQ.

Each publisher is resolved from its URI by ``open_publisher`` and read back by the same kind's
``SourceAdapter``: the id, the body, typed headers, properties and the key arrive as sent; a
delayed message is not delivered before its delay; a message the broker cannot take fails
``send`` with a terminal error and an unreachable broker with a transient one, in bounded time.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import quote

import pytest

from mqmigrate.errors import ConfigError, SourceError, SourceUnavailable
from mqmigrate.headers import SQS_SOURCE_ID_ATTRIBUTE
from mqmigrate.sources import open_publisher, open_source
from mqmigrate.sources.base import Envelope, Outcome, SourcePublisher
from mqmigrate.sources.sqs.publisher import SQSPublisher

pytestmark = [pytest.mark.integration]


@dataclass
class Target:
    """A queue on one sandbox broker, and what its kind can carry."""

    kind: str
    uri: str
    queue: str
    #: properties the kind's messages carry (sent, then read back by the adapter)
    properties: dict[str, Any]
    #: the headers as the adapter reads them back (SQS: boto3's attribute dicts)
    read_headers: Callable[[Envelope], dict[str, Any]]
    #: the URI of the same broker on a port nothing listens on
    unreachable_uri: str
    #: the password in the URIs (never in an error)
    password: str

    def publisher(self, **options: Any) -> SourcePublisher:
        return open_publisher(self.uri, queue=self.queue, **options)

    def receive(self, expect: int, timeout: float = 15.0) -> list[Envelope]:
        """Up to ``expect`` messages within ``timeout`` s, accepted (taken off the queue)."""
        adapter = open_source(self.uri, queue=self.queue)
        adapter.open()
        got: list[Envelope] = []
        try:
            deadline = time.monotonic() + timeout
            while len(got) < expect and time.monotonic() < deadline:
                batch = adapter.receive(expect - len(got), 0.5)
                adapter.settle_many(batch, Outcome.ACCEPT)
                got.extend(batch)
            adapter.flush()
        finally:
            adapter.close()
        return got


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rabbitmq(request: pytest.FixtureRequest, queue: str) -> Iterator[Target]:
    import pika

    service = request.getfixturevalue("rabbitmq_service")
    user, password = (quote(part, safe="") for part in service.credentials())
    uri = f"amqp://{user}:{password}@127.0.0.1:{service.port('amqp')}/%2f"
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    connection.channel().queue_declare(queue, durable=True)
    connection.close()
    try:
        yield Target(
            "rabbitmq",
            uri,
            queue,
            {"content_type": "application/json", "correlation_id": "c-1", "priority": 3},
            lambda envelope: dict(envelope.headers),
            f"amqp://{user}:{password}@127.0.0.1:{closed_port()}/%2f?connection_attempts=1",
            password,
        )
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(uri))
        connection.channel().queue_delete(queue)
        connection.close()


def _amqp1(request: pytest.FixtureRequest, queue: str) -> Iterator[Target]:
    service = request.getfixturevalue("artemis_service")
    user, password = (quote(part, safe="") for part in service.credentials())
    # the adapter that reads back refuses a queue Artemis would auto-create: make it first
    config = {"name": queue, "address": queue, "routing-type": "ANYCAST", "durable": True}
    _artemis_exec(service, "createQueue(java.lang.String,boolean)", json.dumps(config), True)
    try:
        yield Target(
            "amqp1",
            f"amqp1://{user}:{password}@127.0.0.1:{service.port('acceptor')}",
            queue,
            {"content_type": "application/json", "correlation_id": "c-1", "subject": "orders"},
            lambda envelope: dict(envelope.headers),
            f"amqp1://{user}:{password}@127.0.0.1:{closed_port()}",
            password,
        )
    finally:
        _artemis_exec(service, "destroyQueue(java.lang.String,boolean)", queue, True)


def _artemis_exec(service: Any, operation: str, *arguments: Any) -> None:
    service.jolokia(
        {
            "type": "exec",
            "mbean": 'org.apache.activemq.artemis:broker="mqmigrate"',
            "operation": operation,
            "arguments": list(arguments),
        }
    )


def _sqs_headers(envelope: Envelope) -> dict[str, Any]:
    """SQS attributes as (DataType, value), the source id attribute left out."""
    return {
        name: (a["DataType"], a.get("StringValue", a.get("BinaryValue")))
        for name, a in envelope.headers.items()
        if name != SQS_SOURCE_ID_ATTRIBUTE
    }


def _sqs(request: pytest.FixtureRequest, queue: str) -> Iterator[Target]:
    from mqmigrate.sources.connect import sqs_client
    from mqmigrate.sources.uri import parse_source_uri

    service = request.getfixturevalue("elasticmq_service")
    uri = f"sqs+http://x:y@127.0.0.1:{service.port('http')}?region=us-east-1"
    client = sqs_client(parse_source_uri(uri))
    url = client.create_queue(QueueName=queue)["QueueUrl"]
    try:
        yield Target(
            "sqs",
            uri,
            queue,
            {},  # SQS messages have no properties
            _sqs_headers,
            f"sqs+http://x:y@127.0.0.1:{closed_port()}?region=us-east-1",
            "y",
        )
    finally:
        client.delete_queue(QueueUrl=url)


@pytest.fixture(
    params=[
        pytest.param(_rabbitmq, id="rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param(_amqp1, id="amqp1-artemis", marks=pytest.mark.amqp1),
        pytest.param(_sqs, id="sqs-elasticmq", marks=pytest.mark.sqs),
    ]
)
def target(request: pytest.FixtureRequest, unique_name: str) -> Iterator[Target]:
    yield from request.param(request, unique_name)


def test_the_registry_resolves_the_publisher_of_the_uri(target: Target) -> None:
    publisher = target.publisher()
    try:
        assert publisher.kind == target.kind
        assert type(publisher).__module__ == f"mqmigrate.sources.{target.kind}.publisher"
    finally:
        publisher.close()


def test_confirmed_messages_arrive_with_id_body_typed_headers_and_properties(
    target: Target,
) -> None:
    publisher = target.publisher()
    headers = {"tenant": "acme", "attempt": 7}
    try:
        for n in range(3):
            publisher.send(
                f'{{"n": {n}}}'.encode(),
                f"pub-{n}",
                headers,
                "customer-7",
                properties=target.properties,
            )
    finally:
        publisher.close()
    got = target.receive(3)
    assert [e.source_id for e in got] == ["pub-0", "pub-1", "pub-2"]
    assert [e.body for e in got] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    if target.kind == "sqs":  # attributes keep their SQS types
        assert target.read_headers(got[0]) == {
            "tenant": ("String", "acme"),
            "attempt": ("Number", "7"),
        }
    else:  # a header table / application properties keep the int an int
        assert target.read_headers(got[0]) == headers
    for name, value in target.properties.items():
        assert got[0].properties[name] == value, name
    if target.kind == "amqp1":
        assert got[0].key == "customer-7"  # the group-id


def test_a_publisher_reconnects_after_close(target: Target) -> None:
    publisher = target.publisher()
    try:
        publisher.send(b"before", "r-1", {}, None)
        publisher.close()
        publisher.send(b"after", "r-2", {}, None)  # connects again on its own
    finally:
        publisher.close()
    assert sorted(e.source_id for e in target.receive(2)) == ["r-1", "r-2"]


def test_a_delayed_message_is_not_delivered_before_its_delay(target: Target) -> None:
    publisher = target.publisher()
    delay_ms = 2000
    try:
        publisher.check_delay(delay_ms)
        sent_at = time.monotonic()
        publisher.send(b"later", "d-1", {}, None, delay_ms=delay_ms)
        publisher.send(b"now", "d-0", {}, None)
    finally:
        publisher.close()
    [first] = target.receive(1, timeout=1.0)
    assert first.source_id == "d-0"
    [second] = target.receive(1, timeout=15.0)
    assert second.source_id == "d-1"
    assert time.monotonic() - sent_at >= delay_ms / 1000 - 0.1


def test_a_property_the_broker_has_no_place_for_is_refused_before_sending(
    target: Target,
) -> None:
    publisher = target.publisher()
    try:
        with pytest.raises(ConfigError, match="no property 'colour'"):
            publisher.send(b"x", "p-1", {}, None, properties={"colour": "blue"})
    finally:
        publisher.close()
    assert target.receive(1, timeout=1.0) == []


def test_an_unreachable_broker_is_a_transient_error_in_bounded_time(target: Target) -> None:
    options: dict[str, Any] = {"queue": target.queue}
    if target.kind == "sqs":
        # a queue URL (no lookup) and a client without botocore's retries: the send fails
        options = {
            "queue": f"http://127.0.0.1:1/000000000000/{target.queue}",
            "client": _fast_failing_sqs_client(target.unreachable_uri),
        }
    started = time.monotonic()
    publisher = open_publisher(target.unreachable_uri, **options)
    try:
        with pytest.raises(SourceUnavailable) as caught:
            publisher.send(b"x", "u-1", {}, None)
    finally:
        publisher.close()
    assert caught.value.transient
    assert time.monotonic() - started < 30
    assert f":{target.password}@" not in str(caught.value)  # the URI is masked


def _fast_failing_sqs_client(uri: str) -> Any:
    """A boto3 client of ``uri`` without botocore's retries and long connect timeout."""
    import boto3
    from botocore.config import Config

    from mqmigrate.sources.uri import parse_source_uri

    endpoint = parse_source_uri(uri)
    return boto3.client(
        "sqs",
        endpoint_url=f"http://{endpoint.host}:{endpoint.port}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=2),
    )


@pytest.fixture(
    params=[
        pytest.param(_rabbitmq, id="rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param(_sqs, id="sqs-elasticmq", marks=pytest.mark.sqs),
    ]
)
def refusing_target(request: pytest.FixtureRequest, unique_name: str) -> Iterator[Target]:
    """The kinds whose broker refuses a message to a queue that is not there.  (Artemis
    auto-creates the anycast queue the publisher asks for, so AMQP 1.0 has no such case.)"""
    yield from request.param(request, unique_name)


def test_a_message_for_a_missing_queue_is_a_terminal_error(refusing_target: Target) -> None:
    target = refusing_target
    if target.kind == "sqs":
        # the URL of a queue that does not exist: SQS answers NonExistentQueue
        real = target.publisher()
        assert isinstance(real, SQSPublisher)
        missing: str = real.queue_url + "-missing"
    else:
        # mandatory + confirms: a routing key no queue is bound to comes back unroutable
        missing = f"{target.queue}-missing"
    publisher = open_publisher(target.uri, queue=missing)
    started = time.monotonic()
    try:
        with pytest.raises(SourceError) as caught:
            publisher.send(b"x", "t-1", {}, None)
    finally:
        publisher.close()
    assert not caught.value.transient
    assert time.monotonic() - started < 30
