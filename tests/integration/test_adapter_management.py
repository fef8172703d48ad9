"""The adapters' management operations against the sandbox's real brokers, every kind.

``queue_counts``, ``queue_exists``, ``remove_shadow``, ``declare_queue`` / ``delete_queue``
(mqmigrate/sources/base.py): what cutover's gates and ``source.delete-shadow``, ``verify``'s
source backlog and the demo's estate go through.  Each adapter is built through the registry
(``open_source``), as those callers build it, and never opened: the operations make their own
connections.  RabbitMQ's counts come from its management API, which refreshes them every few
seconds, so they are polled.
"""

from __future__ import annotations

import time
from typing import Any, Callable
from urllib.parse import quote

import pika
import pytest
from proton import Message
from proton.utils import BlockingConnection

from mqmigrate.errors import MqMigrateError, SourceError
from mqmigrate.sources import open_source
from mqmigrate.sources.amqp1 import queue_capability
from mqmigrate.sources.amqp1.artemis import ArtemisManagement
from mqmigrate.sources.base import BridgeMode, QueueCounts, QueueSpec
from mqmigrate.sources.memory import MemoryBroker, MemorySource, make_messages

pytestmark = [pytest.mark.integration]


def eventually(
    read: Callable[[], QueueCounts], check: Callable[[QueueCounts], bool]
) -> QueueCounts:
    """``read()`` until ``check`` holds (20 s at most); the last reading either way."""
    deadline = time.monotonic() + 20
    counts = read()
    while not check(counts) and time.monotonic() < deadline:
        time.sleep(0.5)
        counts = read()
    return counts


# -- RabbitMQ (AMQP 0-9-1) ----------------------------------------------------------------------


@pytest.fixture
def rabbit(rabbitmq_service) -> dict[str, Any]:
    user, password = rabbitmq_service.credentials()
    return {
        "uri": f"amqp://{quote(user)}:{quote(password)}@127.0.0.1:{rabbitmq_service.port('amqp')}/%2f",
        "management": f"http://127.0.0.1:{rabbitmq_service.port('management')}",
        "params": pika.URLParameters(
            f"amqp://{quote(user)}:{quote(password)}@127.0.0.1:{rabbitmq_service.port('amqp')}/%2f"
        ),
    }


def test_rabbitmq_declare_count_shadow_and_delete(rabbit, unique_name):
    spec = QueueSpec(
        unique_name,
        exchange=unique_name + ".x",
        dead_letter_exchange=unique_name + ".dlx",
        dead_letter_queue=unique_name + ".dlq",
        message_ttl_ms=600_000,
    )
    source = open_source(rabbit["uri"], queue=unique_name, management_url=rabbit["management"])
    caps = source.capabilities
    assert caps.counts and caps.queue_check and caps.declare and caps.shadow
    assert source.queue_exists() is False
    with pytest.raises(SourceError, match="404"):
        source.queue_counts()  # a missing queue is an error, never a count of 0

    source.declare_queue(spec)
    source.declare_queue(spec)  # existing ones are kept
    assert source.queue_exists() is True
    conn = pika.BlockingConnection(rabbit["params"])
    try:
        ch = conn.channel()
        declared = ch.queue_declare(unique_name, passive=True)
        assert declared.method.message_count == 0
        for i in range(3):  # through the exchange: the binding declare_queue made
            ch.basic_publish(spec.exchange, unique_name, f"m{i}".encode())
        counts = eventually(source.queue_counts, lambda c: c.ready.value == 3)
        assert counts.ready.value == 3 and counts.in_flight.value == 0, counts
        assert "messages_ready" in counts.ready.detail

        # one delivered and not acknowledged: in flight, with one consumer
        consumer = conn.channel()
        consumer.basic_qos(prefetch_count=1)
        tags: list[int] = []
        consumer.basic_consume(
            unique_name, lambda _ch, method, *_: tags.append(method.delivery_tag), auto_ack=False
        )
        conn.process_data_events(1)
        counts = eventually(
            source.queue_counts, lambda c: (c.in_flight.value, c.consumers.value) == (1, 1)
        )
        assert (counts.ready.value, counts.in_flight.value, counts.consumers.value) == (2, 1, 1)

        # a rejected message reaches the DLQ through the DLX
        consumer.basic_reject(tags[0], requeue=False)
        deadline = time.monotonic() + 10
        while ch.queue_declare(spec.dead_letter_queue, passive=True).method.message_count < 1:
            assert time.monotonic() < deadline, "no dead letter in the DLQ"
            conn.process_data_events(0.2)
    finally:
        conn.close()

    # shadow: the queue a shadow bridge declares, removed once; the source queue untouched
    shadow = open_source(
        rabbit["uri"],
        queue=unique_name,
        mode=BridgeMode.shadow,
        management_url=rabbit["management"],
    )
    shadow.open()
    shadow.close()
    assert source.remove_shadow() == [f"queue {unique_name}.mqmigrate-shadow"]
    assert source.remove_shadow() == []  # already gone
    assert source.queue_exists() is True

    assert source.delete_queue(spec) == []
    assert source.queue_exists() is False
    conn = pika.BlockingConnection(rabbit["params"])
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            conn.channel().exchange_declare(spec.exchange, passive=True)  # gone too
    finally:
        conn.close()


def test_rabbitmq_management_unreachable_is_an_error(rabbit, unique_name):
    source = open_source(rabbit["uri"], queue=unique_name, management_url="http://127.0.0.1:1")
    with pytest.raises(MqMigrateError, match="127.0.0.1:1"):
        source.queue_counts()


# -- AMQP 1.0: Artemis and RabbitMQ's plugin ----------------------------------------------------


def test_amqp1_artemis_declare_and_delete_queue(artemis_service, unique_name):
    user, password = artemis_service.credentials()
    uri = f"amqp1://{quote(user)}:{quote(password)}@127.0.0.1:{artemis_service.port('acceptor')}"
    management_url = f"http://127.0.0.1:{artemis_service.port('console')}"
    jolokia = ArtemisManagement(
        f"artemis+http://{quote(user)}:{quote(password)}@127.0.0.1:{artemis_service.port('console')}"
    )
    source = open_source(uri, queue=unique_name, management_url=management_url)
    try:
        source.declare_queue(QueueSpec(unique_name))
        source.declare_queue(QueueSpec(unique_name))  # an existing one is kept
        assert jolokia.find_queue(unique_name) is not None
        assert source.delete_queue(QueueSpec(unique_name)) == []
        assert jolokia.find_queue(unique_name) is None
    finally:
        jolokia.close()


def test_amqp1_artemis_counts_exists_and_shadow(artemis_service, unique_name):
    user, password = artemis_service.credentials()
    port = artemis_service.port("acceptor")
    uri = f"amqp1://{quote(user)}:{quote(password)}@127.0.0.1:{port}"
    management_url = f"http://127.0.0.1:{artemis_service.port('console')}"
    jolokia = ArtemisManagement(
        f"artemis+http://{quote(user)}:{quote(password)}@127.0.0.1:{artemis_service.port('console')}"
    )
    source = open_source(uri, queue=unique_name, management_url=management_url)
    assert source.capabilities.counts and source.capabilities.declare
    try:
        assert source.queue_exists() is False  # looked up in Jolokia: a link would create it
        assert jolokia.find_queue(unique_name) is None  # and the check created nothing
        jolokia.create_queue(unique_name, unique_name, "anycast")
        assert source.queue_exists() is True

        conn = BlockingConnection(f"amqp://{user}:{password}@127.0.0.1:{port}")
        try:
            sender = conn.create_sender(unique_name, options=queue_capability())
            for i in range(3):
                sender.send(Message(body=f"m{i}"))
            counts = source.queue_counts()
            assert (counts.ready.value, counts.in_flight.value, counts.consumers.value) == (3, 0, 0)
            receiver = conn.create_receiver(unique_name, credit=1, options=queue_capability())
            receiver.receive(timeout=10)  # held, not settled: delivering
            # proton's blocking receiver tops its credit back up once a message is fetched, so
            # Artemis may already be delivering a second one: 1 or 2 in flight, none lost
            counts = eventually(source.queue_counts, lambda c: (c.in_flight.value or 0) >= 1)
            ready, in_flight = counts.ready.value, counts.in_flight.value
            assert in_flight in (1, 2) and ready + in_flight == 3, (ready, in_flight)
            assert counts.consumers.value == 1
            assert "DeliveringCount" in counts.in_flight.detail
        finally:
            conn.close()

        shadow = open_source(
            uri, queue=unique_name, mode=BridgeMode.shadow, management_url=management_url
        )
        shadow.open()
        shadow.close()
        removed = source.remove_shadow()
        assert f"divert {unique_name}.mqmigrate-shadow-divert" in removed, removed
        assert f"queue {unique_name}.mqmigrate-shadow" in removed, removed
        assert source.remove_shadow() == []
        assert jolokia.find_queue(unique_name) is not None  # the source queue is untouched
    finally:
        if jolokia.find_queue(unique_name) is not None:
            jolokia.destroy_queue(unique_name)
        if jolokia.address_routing(unique_name):
            jolokia.delete_address(unique_name)
        jolokia.close()


def test_amqp1_rabbitmq_plugin_exists_without_taking_messages(
    rabbit, rabbitmq_service, unique_name
):
    user, password = rabbitmq_service.credentials()
    uri = f"amqp1://{quote(user)}:{quote(password)}@127.0.0.1:{rabbitmq_service.port('amqp')}"
    source = open_source(uri, queue=unique_name)
    assert source.queue_exists() is False  # the plugin refuses the attach
    conn = pika.BlockingConnection(rabbit["params"])
    try:
        ch = conn.channel()
        ch.queue_declare(unique_name, durable=True)
        ch.basic_publish("", unique_name, b"stays")
        assert source.queue_exists() is True
        # the check's link had no credit: the message is still ready, never delivered
        assert ch.queue_declare(unique_name, passive=True).method.message_count == 1
        got = ch.basic_get(unique_name, auto_ack=True)
        assert got[0] is not None and not got[0].redelivered
        # no Jolokia beside RabbitMQ: the counts are unknown or an error, never a number
        try:
            counts = source.queue_counts()
        except MqMigrateError:
            pass
        else:
            assert counts.ready.value is None and counts.in_flight.value is None, counts
    finally:
        conn.channel().queue_delete(unique_name)
        conn.close()


# -- SQS: ElasticMQ and moto --------------------------------------------------------------------


@pytest.fixture(params=["elasticmq", "moto"])
def sqs_service(request):
    return request.getfixturevalue(f"{request.param}_service")


def test_sqs_declare_count_and_delete(sqs_service, unique_name):
    uri = f"sqs+http://x:y@127.0.0.1:{sqs_service.port('http')}?region=us-east-1"
    spec = QueueSpec(
        unique_name, dead_letter_queue=unique_name + "-dlq", max_receives=4, visibility_timeout_s=45
    )
    source = open_source(uri, queue=unique_name)
    assert source.queue_exists() is False
    with pytest.raises(SourceError, match="does not exist"):
        source.queue_counts()
    source.declare_queue(spec)
    assert source.queue_exists() is True
    sqs = sqs_service.client()
    url = sqs.get_queue_url(QueueName=unique_name)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "45"
    assert (
        '"maxReceiveCount"' in attrs["RedrivePolicy"]
        and unique_name + "-dlq" in attrs["RedrivePolicy"]
    )
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=30)
    counts = source.queue_counts()
    assert (counts.ready.value, counts.in_flight.value) == (4, 0), counts  # delayed counts
    assert counts.consumers.value is None
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    counts = source.queue_counts()
    assert (counts.ready.value, counts.in_flight.value) == (3, 1), counts
    assert source.remove_shadow() == []  # no shadow queue was made
    assert source.delete_queue(spec) == []
    assert source.queue_exists() is False
    assert open_source(uri, queue=unique_name + "-dlq").queue_exists() is False


def test_sqs_shadow_removed_once_on_moto(moto_service, unique_name):
    uri = f"sqs+http://x:y@127.0.0.1:{moto_service.port('http')}?region=us-east-1"
    sqs, sns = moto_service.client(), moto_service.client("sns")
    url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = sns.create_topic(Name=unique_name)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    try:
        shadow = open_source(uri, queue=unique_name, mode=BridgeMode.shadow)
        shadow.open()
        shadow.close()
        source = open_source(uri, queue=unique_name)
        removed = source.remove_shadow()
        assert removed == [f"queue {unique_name}-mqmigrate-shadow", f"subscription to {topic}"]
        assert source.remove_shadow() == []
        assert source.queue_exists() is True  # the source queue and its subscription stay
        subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert [s["Endpoint"] for s in subs] == [arn]
    finally:
        sqs.delete_queue(QueueUrl=url)
        sns.delete_topic(TopicArn=topic)


# -- memory ---------------------------------------------------------------------------------------


def test_memory_counts_exists_declare_and_delete():
    broker = MemoryBroker()
    source = MemorySource(broker, "q")
    assert source.queue_exists() is False
    source.declare_queue(QueueSpec("q", dead_letter_queue="q.dlq"))
    assert source.queue_exists() is True and "q.dlq" in broker.queues
    broker.publish("q", make_messages(3))
    source.open()
    source.receive(1, 0)
    counts = source.queue_counts()
    assert (counts.ready.value, counts.in_flight.value, counts.consumers.value) == (2, 1, None)
    with pytest.raises(SourceError, match="no shadow"):
        source.remove_shadow()
    source.close()
    assert source.delete_queue(QueueSpec("q", dead_letter_queue="q.dlq")) == []
    assert source.queue_exists() is False and "q.dlq" not in broker.queues
