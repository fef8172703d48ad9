"""Fixtures for the bridge tests: RabbitMQ connections, queues and Kafka topics."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import pika
import pytest

from mqmigrate.kafka.admin import QUARANTINE_TOPIC_CONFIG, delete_topics, ensure_topic
from mqmigrate.sandbox.base import port_in_use


@dataclass
class _RunningRabbit:
    """A RabbitMQ already listening on the default ports (see the ``rabbit`` fixture)."""

    ports: dict

    def port(self, key: str) -> int:
        return self.ports[key]


@pytest.fixture(scope="session")
def rabbit(request):
    """The sandbox RabbitMQ (fixture ``rabbitmq_service``).  Where this checkout lacks the
    sandbox's RabbitMQ service module, a broker already answering on 5672/15672 is used as
    is (never started or stopped here); when none answers the test errors, never skips."""
    if importlib.util.find_spec("mqmigrate.sandbox.rabbitmq") is not None:
        return request.getfixturevalue("rabbitmq_service")
    if port_in_use(5672) and port_in_use(15672):
        return _RunningRabbit({"amqp": 5672, "management": 15672})
    pytest.fail("RabbitMQ is not running on 5672/15672 and this checkout cannot start it")


@pytest.fixture
def amqp_uri(rabbit) -> str:
    return f"amqp://guest:guest@127.0.0.1:{rabbit.port('amqp')}/%2f"


@pytest.fixture
def mgmt_url(rabbit) -> str:
    return f"http://127.0.0.1:{rabbit.port('management')}"


@pytest.fixture
def channel(amqp_uri):
    conn = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    ch = conn.channel()
    ch.confirm_delivery()
    yield ch
    if conn.is_open:
        conn.close()


@pytest.fixture
def queues(amqp_uri):
    """Queues/exchanges a test declares; deleted afterwards on a fresh connection (the
    test's own channel may have been closed by a broker error it provoked)."""
    made: list[tuple[str, str]] = []
    yield made
    conn = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        for kind, name in made:
            ch = conn.channel()
            try:
                if kind == "queue":
                    ch.queue_delete(name)
                else:
                    ch.exchange_delete(name)
            except pika.exceptions.ChannelClosedByBroker:
                pass  # already gone
    finally:
        conn.close()


@pytest.fixture
def topics(kafka_bootstrap):
    """``topics(name, **config)`` creates a topic (and ``name.quarantine``); all deleted after."""
    made: list[str] = []

    def create(name: str, quarantine: bool = True, **config: str) -> str:
        ensure_topic(kafka_bootstrap, name, config=config)
        made.append(name)
        if quarantine:
            ensure_topic(kafka_bootstrap, name + ".quarantine", config=QUARANTINE_TOPIC_CONFIG)
            made.append(name + ".quarantine")
        return name

    yield create
    delete_topics(kafka_bootstrap, made)


@pytest.fixture
def emq(elasticmq_service):
    """A boto3 SQS client for the sandbox's ElasticMQ (the SQS bridge tests' volume server)."""
    return elasticmq_service.client("sqs", timeout=30)


@pytest.fixture
def emq_queue(emq, unique_name):
    """``emq_queue(**attributes)`` makes an ElasticMQ queue, deleted afterwards."""
    from sqs_helpers import queue_factory

    yield from queue_factory(emq, unique_name)
