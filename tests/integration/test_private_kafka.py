"""The private broker crash campaigns restart: it comes back with its data."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def test_private_kafka_keeps_records_across_a_restart(private_kafka):
    admin = AdminClient({"bootstrap.servers": private_kafka.bootstrap})
    admin.create_topics([NewTopic("survivor", 1, 1)])["survivor"].result(30)
    producer = Producer({"bootstrap.servers": private_kafka.bootstrap, "acks": "all"})
    for i in range(10):
        producer.produce("survivor", str(i).encode())
    assert producer.flush(30) == 0

    took = private_kafka.restart(hard=True)
    assert took < 120

    consumer = Consumer(
        {
            "bootstrap.servers": private_kafka.bootstrap,
            "group.id": "g",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(["survivor"])
    got = []
    for _ in range(300):
        msg = consumer.poll(0.2)
        if msg is not None and msg.error() is None:
            got.append(msg.value().decode())
        if len(got) == 10:
            break
    consumer.close()
    assert got == [str(i) for i in range(10)]
