"""The bridge against the real RabbitMQ and Kafka of the sandbox."""

from __future__ import annotations

import datetime as dt
import decimal
import time

import pika
import pytest
from confluent_kafka import AcknowledgeType, ShareConsumer

from tests.support.bridge import publish, read_topic, source_ids
from mqmigrate import headers as mqheaders
from mqmigrate.bridge.engine import BridgeConfig, Engine, StopReason
from mqmigrate.errors import SourceError
from mqmigrate.kafka.admin import set_group_config
from mqmigrate.kafka.producer import BridgeProducer
from mqmigrate.sources.base import Mode
from mqmigrate.sources.rabbitmq.adapter import SHADOW_SUFFIX, RabbitMQSource

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.rabbitmq]


def _engine(rabbitmq_uri, queue, bootstrap, topic, *, mode=Mode.drain, mgmt=None, **cfg):
    source = RabbitMQSource(
        rabbitmq_uri, queue, mode=mode, prefetch=cfg.get("max_in_flight", 2000), management_url=mgmt
    )
    config = BridgeConfig(
        topic=topic,
        quarantine_topic=topic + ".quarantine",
        mode=mode,
        idle_exit=cfg.pop("idle_exit", 2.0),
        shutdown_timeout=30,
        **cfg,
    )
    return Engine(source, BridgeProducer(bootstrap), config)


def _depth(rabbitmq_channel, queue) -> int:
    return rabbitmq_channel.queue_declare(queue, passive=True).method.message_count


def test_drain_5000_unique_ids(
    rabbitmq_channel, rabbitmq_names, kafka_topics, kafka_bootstrap, rabbitmq_uri, unique_name
):
    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_names.append(("queue", unique_name))
    topic = kafka_topics(unique_name)
    ids = publish(rabbitmq_channel, "", unique_name, 5000)
    engine = _engine(rabbitmq_uri, unique_name, kafka_bootstrap, topic, max_in_flight=1000)
    assert engine.run() is StopReason.drained
    got = source_ids(read_topic(kafka_bootstrap, topic))
    assert sorted(got) == sorted(ids)  # all there, none twice
    assert _depth(rabbitmq_channel, unique_name) == 0
    assert engine.stats.acked == 5000 and engine.stats.produced == 5000


def test_shadow_leaves_source_untouched(
    rabbitmq_channel,
    rabbitmq_names,
    kafka_topics,
    kafka_bootstrap,
    rabbitmq_uri,
    rabbitmq_management_url,
    unique_name,
):
    exchange = unique_name + "-x"
    rabbitmq_channel.exchange_declare(exchange, "topic", durable=True)
    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_channel.queue_bind(unique_name, exchange, routing_key="orders.*")
    rabbitmq_names.extend(
        [("queue", unique_name), ("queue", unique_name + SHADOW_SUFFIX), ("exchange", exchange)]
    )
    topic = kafka_topics(unique_name)
    engine = _engine(
        rabbitmq_uri,
        unique_name,
        kafka_bootstrap,
        topic,
        mode=Mode.shadow,
        mgmt=rabbitmq_management_url,
        idle_exit=2.0,
    )
    engine.open()  # declares the shadow queue with the same bindings
    ids = publish(rabbitmq_channel, exchange, "orders.created", 300)
    assert engine.run() is StopReason.idle
    assert sorted(source_ids(read_topic(kafka_bootstrap, topic))) == sorted(ids)
    assert _depth(rabbitmq_channel, unique_name) == 300  # the original consumers lose nothing
    assert _depth(rabbitmq_channel, unique_name + SHADOW_SUFFIX) == 0
    engine.source.remove_shadow()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker):
        rabbitmq_channel.queue_declare(unique_name + SHADOW_SUFFIX, passive=True)


def test_shadow_refuses_default_exchange_only_queue(
    rabbitmq_channel,
    rabbitmq_names,
    kafka_bootstrap,
    rabbitmq_uri,
    rabbitmq_management_url,
    unique_name,
):
    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_names.append(("queue", unique_name))
    source = RabbitMQSource(
        rabbitmq_uri, unique_name, mode=Mode.shadow, management_url=rabbitmq_management_url
    )
    with pytest.raises(SourceError, match="default exchange"):
        source.open()


def test_5mb_message_on_1mb_topic_quarantined_once(
    rabbitmq_channel, rabbitmq_names, kafka_topics, kafka_bootstrap, rabbitmq_uri, unique_name
):
    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_names.append(("queue", unique_name))
    topic = kafka_topics(unique_name, **{"max.message.bytes": "1048576"})
    publish(rabbitmq_channel, "", unique_name, 50, prefix="before")
    publish(rabbitmq_channel, "", unique_name, 1, size=5 * 1024 * 1024, prefix="big")
    publish(rabbitmq_channel, "", unique_name, 50, prefix="after")
    engine = _engine(rabbitmq_uri, unique_name, kafka_bootstrap, topic)
    assert engine.run() is StopReason.drained
    main = source_ids(read_topic(kafka_bootstrap, topic))
    quarantined = read_topic(kafka_bootstrap, topic + ".quarantine")
    assert len(main) == 100 and "big-0" not in main  # the stream around it continued
    assert source_ids(quarantined) == ["big-0"]  # exactly once
    q = dict(quarantined[0].headers())
    assert b"MSG_SIZE_TOO_LARGE" in q["mq.quarantine.reason"]
    assert q["mq.quarantine.topic"] == topic.encode()
    assert q["mq.source.coordinate.queue"] == unique_name.encode()
    assert len(quarantined[0].value()) == 5 * 1024 * 1024
    assert _depth(rabbitmq_channel, unique_name) == 0
    assert engine.stats.quarantined == 1


def test_headers_round_trip_pika_through_kafka(
    rabbitmq_channel, rabbitmq_names, kafka_topics, kafka_bootstrap, rabbitmq_uri, unique_name
):
    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_names.append(("queue", unique_name))
    topic = kafka_topics(unique_name)
    when = dt.datetime(2026, 11, 25, 12, 30, tzinfo=dt.timezone.utc)
    table = {
        "x-death": [
            {
                "count": 2,
                "reason": "expired",
                "queue": "orders",
                "time": when,
                "exchange": "dlx",
                "routing-keys": ["orders", "retry"],
            }
        ],
        "price": decimal.Decimal("19.99"),
        "qty": 3,
        "big": 2**40,
        "ok": True,
        "none": None,
        "blob": b"\x00\xff",
        "nested": {"a": [1, "two", {"three": 3}]},
        "when": when,
    }
    props = pika.BasicProperties(
        message_id="hdr-1",
        correlation_id="corr-7",
        reply_to="replies",
        content_type="application/json",
        content_encoding="utf-8",
        type="order.created",
        app_id="shop",
        priority=4,
        delivery_mode=2,
        timestamp=1_764_000_000,
        expiration="60000",
        headers=table,
    )
    rabbitmq_channel.basic_publish("", unique_name, b'{"id": 1}', props)
    engine = _engine(rabbitmq_uri, unique_name, kafka_bootstrap, topic, key_from="routing-key")
    engine.run()
    [record] = read_topic(kafka_bootstrap, topic)
    meta = mqheaders.decode(record.headers())
    assert meta.source_id == "hdr-1" and meta.source_kind == "rabbitmq"
    assert meta.headers["x-death"][0]["time"] == when
    assert meta.headers["price"] == decimal.Decimal("19.99")
    assert meta.headers["blob"] == b"\x00\xff" and meta.headers["big"] == 2**40
    assert meta.headers["nested"] == {"a": [1, "two", {"three": 3}]}
    assert meta.headers["none"] is None and meta.headers["ok"] is True
    assert meta.properties["correlation_id"] == "corr-7"
    assert meta.properties["reply_to"] == "replies"
    assert meta.properties["content_type"] == "application/json"
    amqp_props = meta.typed_properties()
    assert amqp_props == {
        "message_id": "hdr-1",
        "correlation_id": "corr-7",
        "reply_to": "replies",
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "type": "order.created",
        "app_id": "shop",
        "priority": 4,
        "delivery_mode": 2,
        "timestamp": 1_764_000_000,
        "expiration": "60000",
    }
    # Kafka timestamp = source send time; key = routing key, never the message id
    assert record.timestamp()[1] == 1_764_000_000_000
    assert record.key() == unique_name.encode()


def test_bridged_topic_consumed_by_share_group(
    rabbitmq_channel, rabbitmq_names, kafka_topics, kafka_bootstrap, rabbitmq_uri, unique_name
):
    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_names.append(("queue", unique_name))
    topic = kafka_topics(unique_name)
    ids = publish(rabbitmq_channel, "", unique_name, 200)
    assert _engine(rabbitmq_uri, unique_name, kafka_bootstrap, topic).run() is StopReason.drained
    group = unique_name + "-share"
    set_group_config(kafka_bootstrap, group, {"share.auto.offset.reset": "earliest"})
    consumer = ShareConsumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": group,
            "share.acknowledgement.mode": "explicit",
        }
    )
    seen: set[str] = set()
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        while len(seen) < len(ids) and time.monotonic() < deadline:
            for msg in consumer.poll(1.0) or []:
                if msg.error():
                    continue
                seen.add(mqheaders.decode(msg.headers()).source_id)
                consumer.acknowledge(msg, AcknowledgeType.ACCEPT)
            consumer.commit_sync()
    finally:
        consumer.close()
    assert seen == set(ids)


def test_unreachable_and_bad_credentials_are_one_line_exit_2(
    kafka_bootstrap, rabbitmq_service, kafka_topics, unique_name
):
    import subprocess
    import sys

    topic = kafka_topics(unique_name)
    cases = [
        (
            f"amqp://guest:wrongpw@127.0.0.1:{rabbitmq_service.port('amqp')}/%2f",
            kafka_bootstrap,
            "ACCESS_REFUSED",
        ),
        ("amqp://guest:guest@127.0.0.1:1/%2f", kafka_bootstrap, "connect failed"),
        (
            f"amqp://guest:guest@127.0.0.1:{rabbitmq_service.port('amqp')}/%2f",
            "127.0.0.1:1",
            "did not answer",
        ),
    ]
    for uri, kafka, expected in cases:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mqmigrate",
                "bridge",
                "--source",
                uri,
                "--queue",
                "q",
                "--kafka",
                kafka,
                "--topic",
                topic,
                "--quarantine-topic",
                "",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith("Error:") and expected in proc.stderr, proc.stderr
        assert "wrongpw" not in proc.stderr and "Traceback" not in proc.stderr


def test_connection_killed_by_broker_reconnects_without_loss(
    rabbitmq_channel,
    rabbitmq_names,
    kafka_topics,
    kafka_bootstrap,
    rabbitmq_uri,
    rabbitmq_management_url,
    unique_name,
):
    import threading

    import httpx

    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_names.append(("queue", unique_name))
    topic = kafka_topics(unique_name)
    ids = publish(rabbitmq_channel, "", unique_name, 20_000, size=32)
    source = RabbitMQSource(rabbitmq_uri, unique_name, prefetch=100)
    # slowed down (small window, long linger) so the broker can close it mid-drain
    producer = BridgeProducer(kafka_bootstrap, {"linger.ms": 50})
    engine = Engine(
        source,
        producer,
        BridgeConfig(
            topic=topic,
            quarantine_topic=None,
            max_in_flight=100,
            batch_size=100,
            idle_exit=2.0,
            backoff_initial=0.1,
            backoff_max=1.0,
        ),
    )
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("reason", engine.run()), daemon=True)
    thread.start()
    name = f"mqmigrate-bridge {unique_name}"
    closed = False
    deadline = time.monotonic() + 30
    while not closed and time.monotonic() < deadline and thread.is_alive():
        conns = httpx.get(
            f"{rabbitmq_management_url}/api/connections", auth=("guest", "guest"), timeout=5
        ).json()
        for conn in conns:
            if (conn.get("client_properties") or {}).get("connection_name") == name:
                resp = httpx.delete(
                    f"{rabbitmq_management_url}/api/connections/{conn['name']}",
                    auth=("guest", "guest"),
                    headers={"X-Reason": "test"},
                    timeout=5,
                )
                closed = resp.status_code in (200, 204)
        time.sleep(0.2)
    thread.join(timeout=180)
    assert closed, "the bridge's connection never showed up in the management API"
    assert not thread.is_alive() and result["reason"] is StopReason.drained
    got = source_ids(read_topic(kafka_bootstrap, topic))
    assert set(got) == set(ids)  # lost = 0
    assert len(got) - len(ids) <= 100  # duplicates within one in-flight window
    assert engine.stats.source_reconnects >= 1
    assert _depth(rabbitmq_channel, unique_name) == 0


def test_two_bridges_share_one_queue(
    rabbitmq_channel, rabbitmq_names, kafka_topics, kafka_bootstrap, rabbitmq_uri, unique_name
):
    import threading

    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_names.append(("queue", unique_name))
    topic = kafka_topics(unique_name)
    ids = publish(rabbitmq_channel, "", unique_name, 6000, size=128)
    engines = [
        _engine(
            rabbitmq_uri, unique_name, kafka_bootstrap, topic, max_in_flight=200, batch_size=100
        )
        for _ in range(2)
    ]
    threads = [threading.Thread(target=e.run, daemon=True) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    got = source_ids(read_topic(kafka_bootstrap, topic))
    assert sorted(got) == sorted(ids)  # no loss, no duplicate: competing consumers
    assert all(e.stats.acked > 0 for e in engines)  # both did part of the work
    assert sum(e.stats.acked for e in engines) == 6000
    assert _depth(rabbitmq_channel, unique_name) == 0


def test_bridged_topic_consumed_by_kafkas_console_share_consumer(
    rabbitmq_channel,
    rabbitmq_names,
    kafka_topics,
    kafka_bootstrap,
    kafka_service,
    rabbitmq_uri,
    unique_name,
):
    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_names.append(("queue", unique_name))
    topic = kafka_topics(unique_name)
    ids = publish(rabbitmq_channel, "", unique_name, 50)
    assert _engine(rabbitmq_uri, unique_name, kafka_bootstrap, topic).run() is StopReason.drained
    group = unique_name + "-console"
    set_group_config(kafka_bootstrap, group, {"share.auto.offset.reset": "earliest"})
    # Kafka's own tool, a JVM client process that ends by itself (--max-messages/--timeout-ms)
    proc = kafka_service.java(
        "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
        "--bootstrap-server",
        kafka_bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--max-messages",
        str(len(ids)),
        "--timeout-ms",
        "30000",
        "--formatter-property",
        "print.headers=true",
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if "mq.source.id:" in line]
    seen = {line.split("mq.source.id:", 1)[1].split(",", 1)[0].split("\t", 1)[0] for line in lines}
    assert seen == set(ids), (proc.stdout[-500:], proc.stderr[-1000:])
