"""mqmigrate.kafka.protocol against the sandbox Kafka: what it reads and sets on a share group is
what Kafka's own ShareGroupCommand (run from the sandbox's jars, the oracle) reports, and a
consumer resumes exactly at offsets it set.  The secured listeners: test_wire_admin_secured.py."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import AcknowledgeType, Producer

from mqmigrate.kafka import share
from mqmigrate.kafka.protocol import ShareGroupNotEmpty, ShareOffset, WireAdmin

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

COMMAND = "org.apache.kafka.tools.consumer.group.ShareGroupCommand"


def _oracle(kafka_service, bootstrap: str, group: str) -> dict[int, tuple[int | None, int | None]]:
    """``{partition: (start offset, lag)}`` as Kafka's ShareGroupCommand prints them."""
    result = kafka_service.java(
        COMMAND,
        "--bootstrap-server",
        bootstrap,
        "--describe",
        "--offsets",
        "--group",
        group,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-1000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.strip()]
    header = next(row for row in rows if "LAG" in row)
    table = {}
    for row in rows[rows.index(header) + 1 :]:
        cells = dict(zip(header, row))

        def number(text: str) -> int | None:
            return None if text == "-" else int(text)

        table[int(cells["PARTITION"])] = (number(cells["START-OFFSET"]), number(cells["LAG"]))
    return table


def _produce(bootstrap: str, topic: str, per_partition: int, partitions: int = 2) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(per_partition * partitions):
        producer.produce(topic, value=b"m%d" % i, partition=i % partitions)
    assert producer.flush(30) == 0


def _consume(
    bootstrap: str,
    group: str,
    topic: str,
    *,
    per_partition: int | None = None,
    total: int | None = None,
    partitions: int = 2,
    timeout: float = 40,
) -> list[tuple[int, int]]:
    """Accept ``per_partition`` records of each partition (or ``total`` records, wherever they
    are), release any beyond, commit, leave; the accepted positions."""
    consumer = share.share_consumer(bootstrap, group)
    consumer.subscribe([topic])
    got: list[tuple[int, int]] = []

    def wanted(partition: int) -> bool:
        if per_partition is not None:
            return sum(1 for p, _ in got if p == partition) < per_partition
        return len(got) < (total or 0)

    def done() -> bool:
        if per_partition is not None:
            return len(got) >= per_partition * partitions
        return len(got) >= (total or 0)

    deadline = time.monotonic() + timeout
    try:
        while not done() and time.monotonic() < deadline:
            for msg in consumer.poll(1.0) or []:
                if msg.error():
                    continue
                if wanted(msg.partition()):
                    consumer.acknowledge(msg, AcknowledgeType.ACCEPT)
                    got.append((msg.partition(), msg.offset()))
                else:
                    consumer.acknowledge(msg, AcknowledgeType.RELEASE)
        consumer.commit_sync()
    finally:
        consumer.close()
    return got


@pytest.fixture
def share_topic(kafka_bootstrap, unique_name):
    admin = share.admin_client(kafka_bootstrap)
    share.create_topic(admin, unique_name, partitions=2)
    share.set_group_configs(admin, unique_name, {"share.auto.offset.reset": "earliest"})
    yield unique_name
    share.delete_topic(admin, unique_name)


def _as_pairs(offsets: dict[int, ShareOffset]) -> dict[int, tuple[int | None, int | None]]:
    return {p: (o.start_offset, o.lag) for p, o in offsets.items()}


@pytest.mark.slow
def test_describe_and_alter_match_kafkas_share_group_command(
    kafka_service, kafka_bootstrap, share_topic
):
    topic = group = share_topic
    _produce(kafka_bootstrap, topic, per_partition=10)
    assert len(_consume(kafka_bootstrap, group, topic, per_partition=3)) == 6
    with WireAdmin(kafka_bootstrap) as admin:
        ours = admin.share_group_offsets(group)[topic]
        assert sum(o.lag for o in ours.values()) == 14  # 20 records, 6 accepted
        assert _as_pairs(ours) == _oracle(kafka_service, kafka_bootstrap, group)
        # the cut: partition 0 from offset 7, partition 1 from offset 8 (the group is empty)
        admin.alter_share_group_offsets(group, topic, {0: 7, 1: 8})
        after = admin.share_group_offsets(group, [topic])[topic]
    assert after == {0: ShareOffset(7, 3), 1: ShareOffset(8, 2)}
    assert _as_pairs(after) == _oracle(kafka_service, kafka_bootstrap, group)
    # consuming resumes exactly at the cut: the 5 records above it, nothing below
    resumed = _consume(kafka_bootstrap, group, topic, total=5)
    assert sorted(resumed) == [(0, 7), (0, 8), (0, 9), (1, 8), (1, 9)]
    with WireAdmin(kafka_bootstrap) as admin:
        assert sum(o.lag for o in admin.share_group_offsets(group)[topic].values()) == 0


@pytest.mark.slow
def test_alter_is_refused_while_the_group_has_a_member(kafka_bootstrap, share_topic):
    topic = group = share_topic
    _produce(kafka_bootstrap, topic, per_partition=2)
    consumer = share.share_consumer(kafka_bootstrap, group)
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        joined = False
        while not joined and time.monotonic() < deadline:
            for msg in consumer.poll(1.0) or []:
                if not msg.error():
                    consumer.acknowledge(msg, AcknowledgeType.RELEASE)
                    joined = True
        assert joined
        with WireAdmin(kafka_bootstrap) as admin, pytest.raises(ShareGroupNotEmpty):
            admin.alter_share_group_offsets(group, topic, {0: 0, 1: 0})
    finally:
        consumer.close()


def test_a_group_that_never_consumed_has_no_offsets(kafka_bootstrap, share_topic):
    with WireAdmin(kafka_bootstrap) as admin:
        assert admin.share_group_offsets(share_topic) == {}
        assert admin.features().finalized_level("share.version") >= 1


def test_failed_and_finished_connections_leave_no_thread(kafka_bootstrap):
    """A gate polls every few seconds: neither a refused connection nor a closed one may leave
    the library's network thread behind."""
    import threading

    from mqmigrate.errors import ConnectionFailed
    from mqmigrate.kafka.protocol import fetch_features

    def io_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name.startswith("kafka-io"))

    before = io_threads()
    sasl_to_plaintext = {
        "bootstrap.servers": kafka_bootstrap,
        "sasl.mechanism": "PLAIN",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.username": "u",
        "sasl.password": "p",
    }
    for _ in range(2):
        with pytest.raises(ConnectionFailed, match="does not take SASL"):
            fetch_features(sasl_to_plaintext, timeout=2)
        assert fetch_features(kafka_bootstrap).finalized_level("share.version") >= 1
    deadline = time.monotonic() + 5
    while io_threads() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert io_threads() == before
