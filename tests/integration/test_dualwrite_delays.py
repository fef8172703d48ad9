"""Delayed sends (``DualWriter.send(..., delay=...)``) on real brokers.

A message is early when a consumer receives it before ``t0 + delay``, ``t0`` taken just before
``send``.  Every test counts the early ones and requires 0.
"""

from __future__ import annotations

import threading
import time

import pika
import pytest
from prometheus_client import CollectorRegistry

from mqmigrate.kafka import delays
from mqmigrate.sdk.dualwrite import FileMode, PikaSource, ProtonSource, SqsSource
from mqmigrate.errors import ConfigError
from mqmigrate.kafka import share
from mqmigrate.sdk.worker import Worker, WorkerMetrics
from tests.integration.test_dualwrite import Rabbit, new_writer, rabbit, topic  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

DELAY_MS = 2000


class Arrivals:
    def __init__(self):
        self.lock = threading.Lock()
        self.at: list[tuple[str, str, int]] = []  # (side, id, received ms)

    def add(self, side: str, message_id: str) -> None:
        with self.lock:
            self.at.append((side, message_id, delays.now_ms()))

    def wait(self, count: int, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.at) >= count:
                    return
            time.sleep(0.05)
        raise AssertionError(f"{len(self.at)} of {count} arrived in {timeout}s")


def rabbit_reader(url: str, queue: str, arrivals: Arrivals, stop: threading.Event) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    try:
        while not stop.is_set():
            method, properties, _ = channel.basic_get(queue, auto_ack=True)
            if method is None:
                connection.sleep(0.02)
                continue
            arrivals.add("rabbitmq", properties.message_id)
    finally:
        connection.close()


@pytest.mark.rabbitmq
def test_switch_source_only_to_kafka_only_while_sending_delayed_messages(
    rabbit, kafka_bootstrap, topic, tmp_path
):
    admin = share.admin_client(kafka_bootstrap)
    tier_topic = f"{topic}.retry-2s"
    share.create_topic(admin, tier_topic)
    group = f"g-{topic}"
    share.set_group_configs(admin, group, {"share.auto.offset.reset": "earliest"})
    arrivals = Arrivals()
    stop = threading.Event()
    reader = threading.Thread(
        target=rabbit_reader, args=(rabbit.url, rabbit.queue, arrivals, stop), daemon=True
    )
    reader.start()
    worker = Worker(
        kafka_bootstrap,
        topic,
        group,
        lambda m: arrivals.add("kafka", m.message_id),
        retry_tiers=("2s",),
        install_signal_handlers=False,
        metrics=WorkerMetrics(CollectorRegistry()),
    )
    worker.start()
    mode_file = tmp_path / "mode"
    mode_file.write_text("source-only")
    sent: dict[str, int] = {}
    try:
        with new_writer(
            rabbit.source(),
            kafka_bootstrap,
            topic,
            FileMode(mode_file, interval=0),
            delay_tiers=("2s",),
        ) as writer:
            for i in range(20):
                if i == 10:
                    mode_file.write_text("kafka-only")
                message_id = f"d-{i:02d}"
                sent[message_id] = delays.now_ms()
                result = writer.send(
                    f"body {i}".encode(), message_id=message_id, delay=DELAY_MS / 1000
                )
                assert result.written == (("source",) if i < 10 else ("kafka",))
                time.sleep(0.05)
        arrivals.wait(20)
        time.sleep(1.5)  # a duplicate would show up
    finally:
        stop.set()
        worker.stop()
        assert worker.join(timeout=60)
        reader.join(timeout=10)
        share.delete_topic(admin, tier_topic)
        with rabbit._channel() as channel:
            channel.queue_delete(PikaSource("x", routing_key=rabbit.queue).wait_queue(DELAY_MS))
    got = sorted(message_id for _, message_id, _ in arrivals.at)
    assert got == sorted(sent)  # every message, once
    late = sorted(received - (sent[i] + DELAY_MS) for _, i, received in arrivals.at)
    early = [x for x in late if x < 0]
    sides = {side for side, *_ in arrivals.at}
    print(
        f"\nsource-only -> kafka-only, 20 delayed messages: early {len(early)}, lateness "
        f"p50 {late[len(late) // 2]} ms, max {late[-1]} ms, sides {sorted(sides)}"
    )
    assert early == []
    assert sides == {"rabbitmq", "kafka"}


def test_a_missing_tier_topic_is_refused_on_the_call(
    rabbitmq_service, kafka_bootstrap, topic, unique_name
):
    rabbit = Rabbit(rabbitmq_service, unique_name)
    try:
        with new_writer(
            rabbit.source(), kafka_bootstrap, topic, "kafka-only", delay_tiers=("2s",)
        ) as writer:
            with pytest.raises(ConfigError, match=r"retry-2s does not exist"):
                writer.send(b"x", delay=1)
            with pytest.raises(ConfigError, match="longer than the largest"):
                writer.send(b"x", delay=3)
    finally:
        rabbit.delete()
    assert share.describe_topic(share.admin_client(kafka_bootstrap), f"{topic}.retry-2s") is None


@pytest.mark.sqs
def test_sqs_source_only_delay_is_delay_seconds(
    elasticmq_service, kafka_bootstrap, topic, unique_name
):
    client = elasticmq_service.client("sqs", timeout=30)
    url = client.create_queue(QueueName=unique_name)["QueueUrl"]
    try:
        with new_writer(
            SqsSource(url, client=client), kafka_bootstrap, topic, "source-only"
        ) as writer:
            t0 = delays.now_ms()
            writer.send(b"later", message_id="s-1", delay=DELAY_MS / 1000)
            with pytest.raises(ConfigError, match="at most 900 s"):
                writer.send(b"x", delay="16m")
        received = None
        while received is None and delays.now_ms() - t0 < 10_000:
            answer = client.receive_message(
                QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"]
            )
            if answer.get("Messages"):
                received = delays.now_ms()
    finally:
        client.delete_queue(QueueUrl=url)
    assert received is not None
    print(f"\nSQS DelaySeconds=2: received after {received - t0} ms")
    assert received - t0 >= DELAY_MS


@pytest.mark.amqp1
def test_artemis_source_only_delay_is_the_delivery_delay_annotation(
    artemis_service, kafka_bootstrap, topic, unique_name
):
    from proton.utils import BlockingConnection

    from tests.integration.test_dualwrite import _AnycastQueue

    user, password = artemis_service.credentials()
    url = f"amqp://127.0.0.1:{artemis_service.port('acceptor')}"
    source = ProtonSource(url, unique_name, user=user, password=password, capabilities=("queue",))
    with new_writer(source, kafka_bootstrap, topic, "source-only") as writer:
        t0 = delays.now_ms()
        writer.send(b"later", message_id="a-1", delay=DELAY_MS / 1000)
    connection = BlockingConnection(url, user=user, password=password, timeout=10)
    try:
        receiver = connection.create_receiver(unique_name, options=[_AnycastQueue()])
        message = receiver.receive(timeout=10)
        received = delays.now_ms()
        receiver.accept()
    finally:
        connection.close()
    print(f"\nArtemis x-opt-delivery-delay=2000: received after {received - t0} ms")
    assert message.id == "a-1"
    assert received - t0 >= DELAY_MS
