"""The AMQP 1.0 source against the real brokers: ActiveMQ Artemis and RabbitMQ's AMQP 1.0
plugin, the bridge run as ``python -m mqmigrate bridge`` (exit codes and one-line errors are
part of what is checked)."""

from __future__ import annotations

import time
import uuid

import pika
import pytest
from confluent_kafka import AcknowledgeType, ShareConsumer
from proton import (
    Message,
    byte,
    char,
    decimal32,
    decimal64,
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

from tests.support.amqp1 import Artemis, numbered, publish, run_bridge, start_bridge, wait_for
from tests.support.bridge import read_topic, source_ids
from mqmigrate import headers as mqheaders
from mqmigrate.kafka.admin import set_group_config

pytestmark = [pytest.mark.integration, pytest.mark.amqp1, pytest.mark.kafka]


@pytest.fixture
def artemis(artemis_service):
    return Artemis(artemis_service)


@pytest.fixture
def artemis_names(artemis):
    """Names a test uses on Artemis; their queues, addresses and shadow copies are removed."""
    made: list[str] = []
    yield made
    artemis.cleanup(*made)


def _publish(artemis: Artemis, address: str, messages, capabilities=("queue",)) -> int:
    return publish(
        artemis.url,
        address,
        messages,
        user=artemis.user,
        password=artemis.password,
        capabilities=capabilities,
    )


def test_drain_artemis_keeps_types_key_and_timestamp(
    artemis, artemis_names, kafka_topics, kafka_bootstrap, unique_name
):
    artemis.create_queue(unique_name)
    artemis_names.append(unique_name)
    topic = kafka_topics(unique_name)
    sent_at = 1_700_000_000.123
    properties = {
        "ulong": ulong(2**63),
        "long": -(2**40),
        "uint": uint(7),
        "int": int32(-7),
        "ushort": ushort(65535),
        "short": short(-2),
        "ubyte": ubyte(255),
        "byte": byte(-1),
        "double": 2.5,
        "float": float32(0.5),
        "decimal32": decimal32(12345),
        "decimal64": decimal64(678),
        "timestamp": timestamp(1_700_000_000_000),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "binary": b"\x00\xff",
        "symbol": symbol("sym"),
        "string": "héllo",
        "char": char("x"),
        "true": True,
        "null": None,
    }
    message = Message(
        id=ulong(42),
        body=b'{"n": 1}',
        durable=True,
        priority=7,
        ttl=600,
        group_id="order-7",
        creation_time=sent_at,
        subject="order.created",
        content_type="application/json",
        correlation_id="corr-1",
        properties=properties,
        annotations={symbol("x-opt-origin"): "eu", symbol("x-opt-n"): ulong(3)},
    )
    message.inferred = True
    plain = Message(id="text-body", body="a string body", durable=True)  # an amqp-value
    _publish(artemis, unique_name, [message, plain])

    code, summary, err = run_bridge(
        artemis.uri,
        unique_name,
        kafka_bootstrap,
        topic,
        "--idle-exit",
        "1",
        "--management-url",
        artemis.management_url,
    )
    assert code == 0, err[-2000:]
    assert summary["stopped"] == "drained" and summary["acked"] == 2
    records = {
        mqheaders.decode(r.headers()).source_id: r for r in read_topic(kafka_bootstrap, topic)
    }
    assert set(records) == {"42", "text-body"}
    record = records["42"]
    meta = mqheaders.decode(record.headers())
    assert record.value() == b'{"n": 1}'
    assert record.key() == b"order-7"
    assert record.timestamp()[1] == 1_700_000_000_123
    assert meta.source_kind == "amqp1" and meta.timestamp_ms == 1_700_000_000_123
    for name, value in properties.items():
        assert meta.headers[name] == value, name
        assert type(meta.headers[name]) is type(value), name
    props = meta.sections["amqp1.properties"]
    assert props["message-id"] == ulong(42) and type(props["message-id"]) is ulong
    assert props["creation-time"] == timestamp(1_700_000_000_123)
    assert props["content-type"] == symbol("application/json")
    assert (props["subject"], props["correlation-id"]) == ("order.created", "corr-1")
    header = meta.sections["amqp1.header"]
    assert (header["durable"], header["priority"], header["ttl"]) == (True, 7, 600_000)
    assert header["delivery-count"] == 0
    annotations = meta.sections["amqp1.annotations"]
    assert annotations[symbol("x-opt-origin")] == "eu"
    assert annotations[symbol("x-opt-n")] == ulong(3)
    assert meta.properties["group_id"] == "order-7"
    assert "amqp1.body" not in meta.sections  # a data section: the value is the body

    text = records["text-body"]
    assert text.value() == b"a string body"
    assert mqheaders.decode(text.headers()).sections["amqp1.body"] == {
        "section": "amqp-value",
        "encoding": "utf-8",
    }
    assert artemis.count(unique_name) == 0


def test_drain_rabbitmq_amqp1_plugin(rabbitmq_service, kafka_topics, kafka_bootstrap, unique_name):
    port = rabbitmq_service.port("amqp")
    params = pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{port}/%2f")
    connection = pika.BlockingConnection(params)
    rabbitmq_channel = connection.channel()
    rabbitmq_channel.queue_declare(unique_name, durable=True)
    topic = kafka_topics(unique_name)
    try:
        sent = publish(
            f"amqp://127.0.0.1:{port}",
            f"/amq/queue/{unique_name}",
            numbered(500, prefix="r", extra=lambda i, m: setattr(m, "properties", {"n": ulong(i)})),
            user="guest",
            password="guest",
            capabilities=(),
        )
        assert sent == 500
        code, summary, err = run_bridge(
            f"amqp1://guest:guest@127.0.0.1:{port}",
            unique_name,
            kafka_bootstrap,
            topic,
            "--idle-exit",
            "2",
        )
        assert code == 0, err[-2000:]
        assert summary["stopped"] == "drained" and summary["acked"] == 500
        records = read_topic(kafka_bootstrap, topic)
        assert sorted(source_ids(records)) == sorted(f"r-{i}" for i in range(500))
        decoded = mqheaders.decode(records[0].headers())
        assert type(decoded.headers["n"]) is ulong
        assert rabbitmq_channel.queue_declare(unique_name, passive=True).method.message_count == 0
    finally:
        rabbitmq_channel.queue_delete(unique_name)
        connection.close()


def test_shadow_anycast_queue_takes_nothing_and_survives_restart(
    artemis, artemis_names, kafka_topics, kafka_bootstrap, unique_name
):
    artemis.create_queue(unique_name)
    artemis_names.append(unique_name)
    topic = kafka_topics(unique_name)
    shadow = unique_name + ".mqmigrate-shadow"
    args = ("--mode", "shadow", "--idle-exit", "2", "--management-url", artemis.management_url)
    backlog = _publish(artemis, unique_name, numbered(50, prefix="before"))
    # first run: creates the divert and the shadow queue; the backlog is drain's business
    code, summary, err = run_bridge(artemis.uri, unique_name, kafka_bootstrap, topic, *args)
    assert code == 0, err[-2000:]
    assert summary["stopped"] == "idle" and summary["in"] == 0
    assert shadow + "-divert" in artemis.divert_names() and shadow in artemis.queue_names()

    # while the bridge is down, producers go on: the shadow queue keeps the copies
    _publish(artemis, unique_name, numbered(300, prefix="a"))
    code, summary, err = run_bridge(artemis.uri, unique_name, kafka_bootstrap, topic, *args)
    assert code == 0, err[-2000:]
    assert summary["acked"] == 300

    # a restart copies only what is new: nothing lost, nothing re-copied
    _publish(artemis, unique_name, numbered(200, prefix="b"))
    code, summary, err = run_bridge(
        artemis.uri, unique_name, kafka_bootstrap, topic, *args, "--remove-shadow"
    )
    assert code == 0, err[-2000:]
    assert summary["acked"] == 200
    got = source_ids(read_topic(kafka_bootstrap, topic))
    expected = [f"a-{i}" for i in range(300)] + [f"b-{i}" for i in range(200)]
    assert sorted(got) == sorted(expected)  # each exactly once
    # the source queue lost nothing to the bridge: every message is still there
    assert artemis.count(unique_name) == backlog + 500
    # --remove-shadow removed the divert, the shadow queue and its address
    assert shadow + "-divert" not in artemis.divert_names()
    assert shadow not in artemis.queue_names() and shadow not in artemis.address_names()


def test_shadow_multicast_address_is_a_durable_subscription(
    artemis, artemis_names, kafka_topics, kafka_bootstrap, unique_name
):
    subscription = unique_name + "-sub"
    artemis.create_address(unique_name, "MULTICAST")
    artemis.create_queue(subscription, unique_name, "MULTICAST")
    artemis_names.extend([subscription, unique_name])
    topic = kafka_topics(unique_name)
    args = ("--mode", "shadow", "--idle-exit", "2", "--management-url", artemis.management_url)
    proc = start_bridge(
        artemis.uri, unique_name, kafka_bootstrap, topic, *args[:2], "--idle-exit", "600", *args[4:]
    )
    try:
        wait_for(
            lambda: unique_name + ".mqmigrate-shadow" in artemis.queue_names(),
            60,
            "the shadow subscription",
        )
        _publish(artemis, unique_name, numbered(200, prefix="t"), capabilities=("topic",))
        wait_for(
            lambda: artemis.count(unique_name + ".mqmigrate-shadow") == 0, 60, "the bridge to copy"
        )
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    # stopped: copies made meanwhile wait in the durable subscription for the next run
    _publish(artemis, unique_name, numbered(100, prefix="u"), capabilities=("topic",))
    code, summary, err = run_bridge(
        artemis.uri, unique_name, kafka_bootstrap, topic, *args, "--remove-shadow"
    )
    assert code == 0, err[-2000:]
    assert summary["acked"] == 100
    got = source_ids(read_topic(kafka_bootstrap, topic))
    assert sorted(got) == sorted([f"t-{i}" for i in range(200)] + [f"u-{i}" for i in range(100)])
    assert artemis.count(subscription) == 300  # the existing subscriber lost nothing
    assert unique_name + ".mqmigrate-shadow" not in artemis.queue_names()


def test_shadow_refused_on_rabbitmq_amqp1(
    rabbitmq_service, kafka_topics, kafka_bootstrap, unique_name
):
    topic = kafka_topics(unique_name)
    code, _summary, err = run_bridge(
        f"amqp1://guest:guest@127.0.0.1:{rabbitmq_service.port('amqp')}",
        unique_name,
        kafka_bootstrap,
        topic,
        "--mode",
        "shadow",
    )
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("Error:"), err
    assert "RabbitMQ's AMQP 1.0 plugin cannot create a shadow queue" in err
    assert "amqp://" in err and "Traceback" not in err


def test_errors_are_one_line_exit_2(
    artemis, rabbitmq_service, kafka_topics, kafka_bootstrap, unique_name
):
    topic = kafka_topics(unique_name)
    rabbit_port = rabbitmq_service.port("amqp")
    cases = [
        # the sandbox Artemis allows anonymous logins, so a wrong password is tried on RabbitMQ
        (
            f"amqp1://guest:wrongpw@127.0.0.1:{rabbit_port}",
            unique_name,
            (),
            "refused the credentials",
        ),
        ("amqp1://artemis:artemis@127.0.0.1:1", unique_name, (), "cannot connect"),
        (
            artemis.uri,
            unique_name + "-missing",
            ("--management-url", artemis.management_url),
            "no such queue",
        ),
        (
            f"amqp1://guest:guest@127.0.0.1:{rabbit_port}",
            unique_name + "-missing",
            (),
            "amqp:not-found",
        ),
    ]
    for uri, queue, extra, expected in cases:
        code, _summary, err = run_bridge(
            uri, queue, kafka_bootstrap, topic, "--idle-exit", "1", *extra, timeout=120
        )
        assert code == 2, (expected, err)
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("Error:") and expected in err, err
        assert "wrongpw" not in err and "Traceback" not in err
    # a typo'd queue was not auto-created on Artemis by the failed attempt
    assert unique_name + "-missing" not in artemis.queue_names()


def test_bridged_artemis_topic_consumed_by_share_group(
    artemis, artemis_names, kafka_topics, kafka_bootstrap, unique_name
):
    artemis.create_queue(unique_name)
    artemis_names.append(unique_name)
    topic = kafka_topics(unique_name)
    _publish(
        artemis,
        unique_name,
        numbered(200, prefix="s", extra=lambda i, m: setattr(m, "group_id", f"g{i % 4}")),
    )
    code, summary, err = run_bridge(
        artemis.uri,
        unique_name,
        kafka_bootstrap,
        topic,
        "--idle-exit",
        "1",
        "--management-url",
        artemis.management_url,
    )
    assert code == 0 and summary["acked"] == 200, err[-2000:]
    group = unique_name + "-share"
    set_group_config(kafka_bootstrap, group, {"share.auto.offset.reset": "earliest"})
    consumer = ShareConsumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": group,
            "share.acknowledgement.mode": "explicit",
        }
    )
    seen: dict[str, bytes] = {}
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        while len(seen) < 200 and time.monotonic() < deadline:
            for msg in consumer.poll(1.0) or []:
                if msg.error():
                    continue
                seen[mqheaders.decode(msg.headers()).source_id] = msg.key()
                consumer.acknowledge(msg, AcknowledgeType.ACCEPT)
            consumer.commit_sync()
    finally:
        consumer.close()
    assert set(seen) == {f"s-{i}" for i in range(200)}
    assert all(seen[f"s-{i}"] == f"g{i % 4}".encode() for i in range(200))  # key = group-id


def test_connection_closed_by_artemis_reconnects_without_loss(
    artemis, artemis_names, kafka_topics, kafka_bootstrap, unique_name
):
    import json

    artemis.create_queue(unique_name)
    artemis_names.append(unique_name)
    topic = kafka_topics(unique_name)
    n = 5000
    _publish(artemis, unique_name, numbered(n, prefix="c"))
    proc = start_bridge(
        artemis.uri,
        unique_name,
        kafka_bootstrap,
        topic,
        "--idle-exit",
        "2",
        "--max-in-flight",
        "200",
        "--management-url",
        artemis.management_url,
    )
    try:
        wait_for(lambda: artemis.count(unique_name) < n, 60, "the bridge to start moving")
        consumers = json.loads(artemis.exec("listAllConsumersAsJSON()"))
        [connection] = {c["connectionID"] for c in consumers if c.get("queueName") == unique_name}
        assert artemis.exec("closeConnectionWithID(java.lang.String)", connection) is not False
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["stopped"] == "drained" and summary["source_reconnects"] >= 1, summary
    assert any("reconnecting" in line for line in err.splitlines())
    got = set(source_ids(read_topic(kafka_bootstrap, topic)))
    assert got == {f"c-{i}" for i in range(n)}  # lost = 0
    assert artemis.count(unique_name) == 0
