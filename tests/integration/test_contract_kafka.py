"""Contract: the KIP-932 share-group semantics the product relies on, on the real broker.

Each test uses its own topic and group.  Locks and delivery limits are set per group through
the admin client (the sandbox broker allows locks down to 1 s so expiry is quick to observe).
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import AcknowledgeType, Producer

from mqmigrate.kafka import share
from tests.support.share import poll_until_quiet

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture
def topic(kafka_bootstrap, unique_name):
    admin = share.admin_client(kafka_bootstrap)
    share.create_topic(admin, unique_name, partitions=1)
    yield unique_name
    share.delete_topic(admin, unique_name)


def _group(admin, topic: str, **configs: str) -> str:
    group = f"g-{topic}"
    share.set_group_configs(admin, group, {"share.auto.offset.reset": "earliest", **configs})
    return group


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for value in values:
        producer.produce(topic, value)
    assert producer.flush(30) == 0


def _poll_until(consumer, predicate, timeout: float = 30.0) -> list:
    """Poll, handing every record to ``predicate`` (which acknowledges it) until it says done."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        batch = [m for m in consumer.poll(0.5) if m.error() is None]
        for message in batch:
            seen.append((message.value(), message.delivery_count()))
        done = predicate(batch)
        if batch:
            consumer.commit_sync(10)
        if done:
            return seen
    raise AssertionError(f"condition not met within {timeout}s; seen {seen}")


def test_two_consumers_in_one_share_group_share_one_partition(kafka_bootstrap, topic):
    admin = share.admin_client(kafka_bootstrap)
    group = _group(admin, topic)
    first = share.share_consumer(kafka_bootstrap, group)
    second = share.share_consumer(kafka_bootstrap, group)
    counts = {"first": 0, "second": 0}
    values: set[bytes] = set()
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all"})
    try:
        first.subscribe([topic])
        second.subscribe([topic])
        # both members join before any record exists, then records trickle in while both poll
        for consumer in (first, second):
            consumer.poll(2.0)
        sent = 0
        deadline = time.monotonic() + 60
        while len(values) < 200 and time.monotonic() < deadline:
            if sent < 200:
                for _ in range(5):
                    producer.produce(topic, b"m%d" % sent)
                    sent += 1
                producer.flush(10)
            for name, consumer in (("first", first), ("second", second)):
                batch = [m for m in consumer.poll(0.2) if m.error() is None]
                for message in batch:
                    consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                    values.add(message.value())
                    counts[name] += 1
                if batch:
                    consumer.commit_sync(10)
    finally:
        first.close()
        second.close()
    assert len(values) == 200
    assert counts["first"] > 0 and counts["second"] > 0, counts
    assert counts["first"] + counts["second"] == 200  # each record delivered to one member


def test_release_redelivers_with_delivery_count_two(kafka_bootstrap, topic):
    admin = share.admin_client(kafka_bootstrap)
    group = _group(admin, topic)
    _produce(kafka_bootstrap, topic, [b"again"])
    consumer = share.share_consumer(kafka_bootstrap, group)
    try:
        consumer.subscribe([topic])

        def release_first_then_accept(batch):
            for message in batch:
                if message.delivery_count() == 1:
                    consumer.acknowledge(message, AcknowledgeType.RELEASE)
                else:
                    consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                    return True
            return False

        seen = _poll_until(consumer, release_first_then_accept)
    finally:
        consumer.close()
    assert seen == [(b"again", 1), (b"again", 2)]


def test_reject_is_not_redelivered(kafka_bootstrap, topic):
    admin = share.admin_client(kafka_bootstrap)
    group = _group(admin, topic)
    _produce(kafka_bootstrap, topic, [b"poison", b"fine"])
    consumer = share.share_consumer(kafka_bootstrap, group)
    try:
        consumer.subscribe([topic])
        seen = poll_until_quiet(
            consumer,
            lambda m: AcknowledgeType.REJECT if m.value() == b"poison" else AcknowledgeType.ACCEPT,
            expected=2,
            quiet=4,
        )
    finally:
        consumer.close()
    assert sorted(value for value, _ in seen) == [b"fine", b"poison"]


def test_expired_lock_redelivers(kafka_bootstrap, topic):
    admin = share.admin_client(kafka_bootstrap)
    group = _group(admin, topic, **{"share.record.lock.duration.ms": "2000"})
    _produce(kafka_bootstrap, topic, [b"slow"])
    holder = share.share_consumer(kafka_bootstrap, group)
    taker = share.share_consumer(kafka_bootstrap, group)
    try:
        holder.subscribe([topic])
        taker.subscribe([topic])
        deadline = time.monotonic() + 30
        held = None
        while held is None and time.monotonic() < deadline:
            for consumer in (holder, taker):
                batch = [m for m in consumer.poll(0.5) if m.error() is None]
                if batch:
                    held, owner = batch[0], consumer
                    break
        assert held is not None and held.delivery_count() == 1
        other = taker if owner is holder else holder
        # the owner never acknowledges; after the 2 s lock the record is acquirable again
        started = time.monotonic()
        redelivered = None
        while redelivered is None and time.monotonic() < deadline:
            batch = [m for m in other.poll(0.5) if m.error() is None]
            for message in batch:
                redelivered = message
                other.acknowledge(message, AcknowledgeType.ACCEPT)
            if batch:
                other.commit_sync(10)
        waited = time.monotonic() - started
    finally:
        holder.close()
        taker.close()
    assert redelivered is not None and redelivered.value() == b"slow"
    assert redelivered.delivery_count() == 2
    assert waited >= 1.0  # not before the lock could have expired


def test_delivery_count_limit_archives_the_record(kafka_bootstrap, topic):
    admin = share.admin_client(kafka_bootstrap)
    group = _group(admin, topic, **{"share.delivery.count.limit": "2"})
    assert share.group_configs(admin, group, ["share.delivery.count.limit"]) == {
        "share.delivery.count.limit": "2"
    }
    _produce(kafka_bootstrap, topic, [b"doomed"])
    consumer = share.share_consumer(kafka_bootstrap, group)
    try:
        consumer.subscribe([topic])
        deliveries = [
            count
            for _, count in poll_until_quiet(
                consumer, lambda m: AcknowledgeType.RELEASE, expected=2
            )
        ]
        # the archived record is not delivered again, and new records still flow
        _produce(kafka_bootstrap, topic, [b"next"])
        seen = _poll_until(consumer, lambda batch: [consumer.acknowledge(m) for m in batch] != [])
    finally:
        consumer.close()
    assert deliveries == [1, 2]
    assert [value for value, _ in seen] == [b"next"]


def test_group_configs_set_through_admin_take_effect(kafka_bootstrap, topic):
    admin = share.admin_client(kafka_bootstrap)
    group = f"g-{topic}"
    # default "latest": a record produced before the group exists is not delivered ...
    _produce(kafka_bootstrap, topic, [b"before"])
    assert share.group_configs(admin, group, ["share.auto.offset.reset"]) == {
        "share.auto.offset.reset": "latest"
    }
    share.set_group_configs(admin, group, {"share.auto.offset.reset": "earliest"})
    assert share.group_configs(admin, group, ["share.auto.offset.reset"]) == {
        "share.auto.offset.reset": "earliest"
    }
    # ... with "earliest" set before the first member joins, it is
    consumer = share.share_consumer(kafka_bootstrap, group)
    try:
        consumer.subscribe([topic])
        seen = _poll_until(consumer, lambda batch: [consumer.acknowledge(m) for m in batch] != [])
    finally:
        consumer.close()
    assert seen == [(b"before", 1)]


def test_out_of_range_group_config_is_refused_by_the_broker(kafka_bootstrap, unique_name):
    admin = share.admin_client(kafka_bootstrap)
    with pytest.raises(Exception, match="share.delivery.count.limit"):
        share.set_group_configs(admin, f"g-{unique_name}", {"share.delivery.count.limit": "50"})


def test_kafka_console_share_consumer_reads_what_we_produce(kafka_service, kafka_bootstrap, topic):
    """Apache's own reference client agrees with the broker and our producer."""
    admin = share.admin_client(kafka_bootstrap)
    group = _group(admin, topic)
    values = [f"console-{i}".encode() for i in range(5)]
    _produce(kafka_bootstrap, topic, values)
    proc = kafka_service.java(
        "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
        "--bootstrap-server",
        kafka_bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--max-messages",
        "5",
        "--timeout-ms",
        "30000",
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    assert sorted(proc.stdout.split()) == sorted(v.decode() for v in values)
