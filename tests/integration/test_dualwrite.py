"""The dual-writer on real brokers: one id on both sides, run-time mode switches, Kafka down
with the source authoritative (spool, then replay), one-sided modes, all three source kinds.
"""

from __future__ import annotations

import socket
import time
import uuid

import pika
import pytest
from confluent_kafka import Consumer

from mqmigrate.sdk import headers as H
from mqmigrate.sdk.dualwrite import (
    ControlTopicMode,
    DualWriteMetrics,
    DualWriter,
    FileMode,
    WriteMode,
    PikaSource,
    ProtonSource,
    SqsSource,
    create_control_topic,
    publish_mode,
)
from mqmigrate.errors import DualWriteError
from mqmigrate.kafka import share

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


# -- Kafka side ------------------------------------------------------------------------------------


@pytest.fixture
def topic(kafka_bootstrap, unique_name):
    admin = share.admin_client(kafka_bootstrap)
    share.create_topic(admin, unique_name)
    yield unique_name
    share.delete_topic(admin, unique_name)


def read_kafka(bootstrap: str, topic: str, expect: int, timeout: float = 20.0) -> list:
    """Every record of ``topic`` (waits for ``expect``, then a little longer for extras)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"r-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    extra_until = None
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.3)
            if msg is not None and msg.error() is None:
                got.append(msg)
            if len(got) >= expect and extra_until is None:
                extra_until = time.monotonic() + 1.5
            if extra_until is not None and time.monotonic() > extra_until:
                break
    finally:
        consumer.close()
    return got


def kafka_ids(records) -> list[str]:
    return [dict(r.headers())[H.SOURCE_ID].decode() for r in records]


def closed_port() -> int:
    """A port nothing listens on: Kafka "down" for the writer under test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_writer(source, bootstrap: str, topic: str, mode, **kwargs) -> DualWriter:
    from prometheus_client import CollectorRegistry

    kwargs.setdefault("metrics", DualWriteMetrics(CollectorRegistry()))
    kwargs.setdefault("backoff", 0.05)
    return DualWriter(source, {"bootstrap.servers": bootstrap}, topic, mode_source=mode, **kwargs)


# -- RabbitMQ (AMQP 0-9-1, pika) ------------------------------------------------------------------


class Rabbit:
    def __init__(self, service, queue: str):
        user, password = service.credentials()
        self.url = f"amqp://{user}:{password}@127.0.0.1:{service.port('amqp')}/%2f"
        self.queue = queue
        with self._channel() as channel:
            channel.queue_declare(queue, durable=True)

    def _channel(self):
        outer = self

        class _Ctx:
            def __enter__(self):
                self.connection = pika.BlockingConnection(pika.URLParameters(outer.url))
                return self.connection.channel()

            def __exit__(self, *exc):
                self.connection.close()

        return _Ctx()

    def drain(self) -> list[tuple[pika.BasicProperties, bytes]]:
        out = []
        with self._channel() as channel:
            for _ in range(1000):  # bounded
                method, properties, body = channel.basic_get(self.queue, auto_ack=True)
                if method is None:
                    break
                out.append((properties, body))
        return out

    def source(self) -> PikaSource:
        return PikaSource(self.url, routing_key=self.queue)

    def delete(self) -> None:
        with self._channel() as channel:
            channel.queue_delete(self.queue)


@pytest.fixture
def rabbit(rabbitmq_service, unique_name):
    made = Rabbit(rabbitmq_service, unique_name)
    yield made
    made.delete()


@pytest.mark.rabbitmq
def test_dual_mode_writes_both_sides_with_the_same_id(rabbit, kafka_bootstrap, topic):
    with new_writer(rabbit.source(), kafka_bootstrap, topic, "dual") as writer:
        results = [
            writer.send(
                b"order-%d" % i, message_id=f"id-{i}", key="cust-1", headers={"tenant": "acme"}
            )
            for i in range(3)
        ]
    assert [r.written for r in results] == [("source", "kafka")] * 3
    on_source = rabbit.drain()
    on_kafka = read_kafka(kafka_bootstrap, topic, 3)
    assert [(p.message_id, p.headers["tenant"], body) for p, body in on_source] == [
        (f"id-{i}", "acme", b"order-%d" % i) for i in range(3)
    ]
    assert all(p.delivery_mode == 2 for p, _ in on_source)
    assert kafka_ids(on_kafka) == ["id-0", "id-1", "id-2"]
    assert [r.value() for r in on_kafka] == [b"order-0", b"order-1", b"order-2"]
    assert {r.key() for r in on_kafka} == {b"cust-1"}
    assert dict(on_kafka[0].headers())["tenant"] == b"acme"
    assert writer.metrics.written.labels("kafka")._value.get() == 3


@pytest.mark.rabbitmq
def test_switching_the_mode_file_at_run_time(rabbit, kafka_bootstrap, topic, tmp_path):
    mode_file = tmp_path / "mode"
    mode_file.write_text("source-only")
    with new_writer(
        rabbit.source(), kafka_bootstrap, topic, FileMode(mode_file, interval=0)
    ) as writer:
        writer.send(b"1", message_id="m1")
        mode_file.write_text("dual\n")
        writer.send(b"2", message_id="m2")
        mode_file.write_text("kafka-only\n")
        writer.send(b"3", message_id="m3")
    assert [p.message_id for p, _ in rabbit.drain()] == ["m1", "m2"]
    assert kafka_ids(read_kafka(kafka_bootstrap, topic, 2)) == ["m2", "m3"]


@pytest.mark.rabbitmq
def test_kafka_down_in_dual_mode_spools_and_replay_delivers(
    rabbit, kafka_bootstrap, topic, tmp_path
):
    spool = tmp_path / "spool"
    down = new_writer(
        rabbit.source(),
        f"127.0.0.1:{closed_port()}",
        topic,
        "dual",
        spool_dir=spool,
        retries=1,
        kafka_timeout=2.0,
    )
    try:
        result = down.send(b"payload", message_id="kept-1", headers={"h": "v"})
    finally:
        down.close()
    assert result.written == ("source",) and result.spooled == ("kafka",)
    assert [(p.message_id, body) for p, body in rabbit.drain()] == [("kept-1", b"payload")]
    assert down.spooled() == {"source": 0, "kafka": 1}
    assert down.metrics.spooled.labels("kafka")._value.get() == 1
    assert read_kafka(kafka_bootstrap, topic, 1, timeout=3) == []

    # Kafka is back: a writer on the real cluster replays the spool
    with new_writer(rabbit.source(), kafka_bootstrap, topic, "dual", spool_dir=spool) as up:
        replayed = up.replay()
        assert (replayed.sent, replayed.failed) == (1, 0)
        assert up.spooled() == {"source": 0, "kafka": 0}
        assert up.replay().sent == 0
    records = read_kafka(kafka_bootstrap, topic, 1)
    assert kafka_ids(records) == ["kept-1"]  # once
    assert records[0].value() == b"payload" and dict(records[0].headers())["h"] == b"v"
    assert rabbit.drain() == []  # the replay did not write the source again


@pytest.mark.rabbitmq
def test_source_only_and_kafka_only_write_one_side(rabbit, kafka_bootstrap, topic):
    with new_writer(rabbit.source(), kafka_bootstrap, topic, WriteMode.SOURCE_ONLY) as writer:
        assert writer.send(b"s", message_id="only-source").written == ("source",)
    with new_writer(rabbit.source(), kafka_bootstrap, topic, WriteMode.KAFKA_ONLY) as writer:
        assert writer.send(b"k", message_id="only-kafka").written == ("kafka",)
    assert [p.message_id for p, _ in rabbit.drain()] == ["only-source"]
    assert kafka_ids(read_kafka(kafka_bootstrap, topic, 1)) == ["only-kafka"]


@pytest.mark.rabbitmq
def test_mode_from_a_compacted_control_topic(rabbit, kafka_bootstrap, topic):
    control = f"{topic}-control"
    create_control_topic(kafka_bootstrap, control)
    try:
        publish_mode(kafka_bootstrap, control, "svc", "dual")
        mode = ControlTopicMode(kafka_bootstrap, control, "svc", interval=0.2)
        assert mode.ready and mode.current() is WriteMode.DUAL  # read up to the end at start
        admin = share.admin_client(kafka_bootstrap)
        assert share.topic_configs(admin, control, ["cleanup.policy"]) == {
            "cleanup.policy": "compact"
        }
        with new_writer(rabbit.source(), kafka_bootstrap, topic, mode) as writer:
            writer.send(b"1", message_id="c1")
            publish_mode(kafka_bootstrap, control, "other-service", "source-only")
            publish_mode(kafka_bootstrap, control, "svc", "kafka-only")
            deadline = time.monotonic() + 15
            while mode.current() is not WriteMode.KAFKA_ONLY and time.monotonic() < deadline:
                time.sleep(0.1)
            assert mode.current() is WriteMode.KAFKA_ONLY
            writer.send(b"2", message_id="c2")
    finally:
        share.delete_topic(share.admin_client(kafka_bootstrap), control)
    assert [p.message_id for p, _ in rabbit.drain()] == ["c1"]
    assert kafka_ids(read_kafka(kafka_bootstrap, topic, 2)) == ["c1", "c2"]


# -- SQS (boto3, moto) -----------------------------------------------------------------------------


@pytest.fixture
def sqs(moto_service):
    import boto3

    return boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{moto_service.port('http')}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def sqs_receive(sqs, url: str, expect: int, timeout: float = 10.0) -> list[dict]:
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(got) < expect and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        for message in answer.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got


@pytest.mark.sqs
def test_sqs_dual_mode_same_id_as_attribute(sqs, kafka_bootstrap, topic, unique_name):
    url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    try:
        with new_writer(SqsSource(url, client=sqs), kafka_bootstrap, topic, "dual") as writer:
            writer.send(b'{"n": 1}', message_id="sqs-1", headers={"tenant": "acme"})
        [message] = sqs_receive(sqs, url, 1)
    finally:
        sqs.delete_queue(QueueUrl=url)
    assert message["Body"] == '{"n": 1}'
    assert message["MessageAttributes"][H.SQS_SOURCE_ID_ATTRIBUTE]["StringValue"] == "sqs-1"
    assert message["MessageAttributes"]["tenant"]["StringValue"] == "acme"
    assert kafka_ids(read_kafka(kafka_bootstrap, topic, 1)) == ["sqs-1"]


@pytest.mark.sqs
def test_sqs_fifo_uses_the_id_as_deduplication_id(sqs, kafka_bootstrap, topic, unique_name):
    url = sqs.create_queue(QueueName=f"{unique_name}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    try:
        with new_writer(
            SqsSource(url, client=sqs), kafka_bootstrap, topic, "source-only"
        ) as writer:
            writer.send(b"a", message_id="fifo-1", key="group-a")
            writer.send(b"a", message_id="fifo-1", key="group-a")  # a retry by the app
        messages = sqs_receive(sqs, url, 2, timeout=4)
    finally:
        sqs.delete_queue(QueueUrl=url)
    assert len(messages) == 1  # SQS deduplicated the repeat by MessageDeduplicationId
    assert messages[0]["Attributes"]["MessageDeduplicationId"] == "fifo-1"
    assert messages[0]["Attributes"]["MessageGroupId"] == "group-a"


# -- AMQP 1.0 (proton): Artemis and RabbitMQ's AMQP 1.0 plugin -------------------------------------


class _AnycastQueue:
    """Receiver option: ask Artemis for the anycast queue (as ProtonSource's capabilities do)."""

    def __new__(cls):
        from proton import symbol
        from proton.reactor import LinkOption

        class Option(LinkOption):
            def apply(self, link):
                link.source.capabilities.put_object(symbol("queue"))

        return Option()


@pytest.fixture(params=["artemis", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def amqp1_target(request, unique_name):
    """(url, user, password, address, sender capabilities, receiver options) on one broker."""
    service = request.getfixturevalue(f"{request.param}_service")
    user, password = service.credentials()
    if request.param == "artemis":
        # the sender's "queue" capability makes Artemis auto-create an anycast queue; the
        # test drains it and Artemis auto-deletes it
        yield (
            f"amqp://127.0.0.1:{service.port('acceptor')}",
            user,
            password,
            unique_name,
            ("queue",),
            [_AnycastQueue()],
        )
        return
    # RabbitMQ 3.10's plugin cannot declare queues: /amq/queue/NAME must exist
    rabbit = Rabbit(service, unique_name)
    try:
        yield (
            f"amqp://127.0.0.1:{service.port('amqp')}",
            user,
            password,
            f"/amq/queue/{unique_name}",
            (),
            None,
        )
    finally:
        rabbit.delete()


@pytest.mark.amqp1
def test_amqp1_dual_mode_same_id_as_message_id(amqp1_target, kafka_bootstrap, topic):
    from proton.utils import BlockingConnection

    url, user, password, address, capabilities, receive_options = amqp1_target
    source = ProtonSource(url, address, user=user, password=password, capabilities=capabilities)
    with new_writer(source, kafka_bootstrap, topic, "dual") as writer:
        writer.send(b"amqp-body", message_id="a1-1", headers={"tenant": "acme"})

    # a connection per receiver: closing it ends the link (RabbitMQ 3.10 never confirms a
    # receiver link detach)
    connection = BlockingConnection(url, user=user, password=password, timeout=10)
    try:
        receiver = connection.create_receiver(address, options=receive_options)
        message = receiver.receive(timeout=10)
        receiver.accept()
    finally:
        connection.close()
    assert message.id == "a1-1"
    assert bytes(message.body) == b"amqp-body"
    assert message.properties == {"tenant": "acme"}
    assert kafka_ids(read_kafka(kafka_bootstrap, topic, 1)) == ["a1-1"]


@pytest.mark.rabbitmq
def test_unroutable_source_write_fails_at_once_and_writes_nothing(
    rabbitmq_service, kafka_bootstrap, topic, unique_name
):
    """mandatory + confirms: a message no queue takes is an error, never a silent drop."""
    user, password = rabbitmq_service.credentials()
    url = f"amqp://{user}:{password}@127.0.0.1:{rabbitmq_service.port('amqp')}/%2f"
    source = PikaSource(url, routing_key=f"{unique_name}-no-such-queue")
    with new_writer(source, kafka_bootstrap, topic, "dual", retries=3) as writer:
        with pytest.raises(DualWriteError, match="after 1 attempt") as info:
            writer.send(b"lost?", message_id="u1")
    assert info.value.written == ()
    assert "guest:guest" not in str(info.value)  # the password is masked
    assert read_kafka(kafka_bootstrap, topic, 1, timeout=3) == []
