"""Fixtures for the bridge tests: RabbitMQ connections, Kafka topics, reading topics back."""

from __future__ import annotations

import importlib.util
import time
import uuid
from dataclasses import dataclass

import pika
import pytest
from confluent_kafka import Consumer, TopicPartition

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
def queues(channel):
    """Queues/exchanges a test declares; deleted afterwards."""
    made: list[tuple[str, str]] = []
    yield made
    for kind, name in made:
        try:
            if kind == "queue":
                channel.queue_delete(name)
            else:
                channel.exchange_delete(name)
        except Exception:
            pass


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


def publish(channel, exchange: str, routing_key: str, n: int, *, size: int = 64,
            prefix: str = "id", start: int = 0, properties=None) -> list[str]:
    """Publish ``n`` persistent messages with unique message ids (publisher confirms on)."""
    ids = []
    for i in range(start, start + n):
        mid = f"{prefix}-{i}"
        props = properties or pika.BasicProperties(
            message_id=mid, delivery_mode=2, timestamp=int(time.time()),
            content_type="text/plain", headers={"n": i})
        body = f"{mid}:".encode().ljust(size, b".")
        channel.basic_publish(exchange, routing_key, body, props)
        ids.append(mid)
    return ids


def read_topic(bootstrap: str, topic: str, timeout: float = 60.0) -> list:
    """Every record of ``topic`` (all partitions) up to the end offsets at call time."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "fetch.max.bytes": 64 * 1024 * 1024,
                         "max.partition.fetch.bytes": 64 * 1024 * 1024})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends, assign = {}, []
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
                assign.append(TopicPartition(topic, p, low))
        out = []
        if not assign:
            return out
        consumer.assign(assign)
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.5):
                if msg.error():
                    continue
                out.append(msg)
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
        assert not ends, f"could not read {topic} to its end within {timeout}s"
        return out
    finally:
        consumer.close()


def source_ids(records) -> list[str]:
    return [dict(r.headers())["mq.source.id"].decode() for r in records]
