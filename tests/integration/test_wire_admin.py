"""mqmigrate.kafka.protocol against real brokers: what it reads and sets on a share group is what
Kafka's own ShareGroupCommand (run from the sandbox's jars, the oracle) reports, over PLAINTEXT
and over a SASL listener, and every bad connection is one typed line within seconds."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import AcknowledgeType, Producer

from mqmigrate.errors import AuthenticationFailed, ConnectionFailed
from mqmigrate.kafka import share
from mqmigrate.kafka.protocol import ShareGroupNotEmpty, ShareOffset, WireAdmin, fetch_features

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

COMMAND = "org.apache.kafka.tools.consumer.group.ShareGroupCommand"
#: SASL/PLAIN users of the private broker (test-only passwords)
USERS = {"admin": "admin-test-pw"}


def _oracle(kafka_service, bootstrap: str, group: str) -> dict[int, tuple[int | None, int | None]]:
    """``{partition: (start offset, lag)}`` as Kafka's ShareGroupCommand prints them."""
    result = kafka_service.java(COMMAND, "--bootstrap-server", bootstrap, "--describe",
                                "--offsets", "--group", group, timeout=120)
    assert result.returncode == 0, result.stderr[-1000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.strip()]
    header = next(row for row in rows if "LAG" in row)
    table = {}
    for row in rows[rows.index(header) + 1:]:
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


def _consume(bootstrap: str, group: str, topic: str, *, per_partition: int | None = None,
             total: int | None = None, partitions: int = 2,
             timeout: float = 40) -> list[tuple[int, int]]:
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
def test_describe_and_alter_match_kafkas_share_group_command(kafka_service, kafka_bootstrap,
                                                             share_topic):
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


# ------------------------------------------------------------------ a SASL listener


@pytest.fixture(scope="module")
def sasl_kafka(tmp_path_factory, kafka_service):
    """A private broker with a SASL_PLAINTEXT (PLAIN) listener beside PLAINTEXT."""
    from tests.private_brokers import PrivateKafka, free_port

    broker = PrivateKafka(tmp_path_factory.mktemp("kafka-sasl"), kafka_service.ctx.cache_dir,
                          name="kafka-wire-sasl", heap="384m")
    plain, controller, sasl = (broker.service.port("broker"), broker.service.port("controller"),
                               free_port())
    jaas = " ".join(f'user_{user}="{password}"' for user, password in USERS.items())
    broker.service.properties.update({
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},CONTROLLER://127.0.0.1:{controller},"
                     f"SASL_PLAINTEXT://127.0.0.1:{sasl}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{plain},"
                                f"SASL_PLAINTEXT://127.0.0.1:{sasl}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
                                          "SASL_PLAINTEXT:SASL_PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config":
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {jaas};",
    })
    broker.sasl_bootstrap = f"127.0.0.1:{sasl}"
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _sasl(broker, password: str = USERS["admin"], **extra: str) -> dict[str, str]:
    return {"bootstrap.servers": broker.sasl_bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN", "sasl.username": "admin", "sasl.password": password,
            **extra}


@pytest.mark.slow
def test_share_group_offsets_over_sasl(sasl_kafka, kafka_service, unique_name):
    plain = sasl_kafka.bootstrap
    admin = share.admin_client(plain)
    share.create_topic(admin, unique_name, partitions=2)
    share.set_group_configs(admin, unique_name, {"share.auto.offset.reset": "earliest"})
    _produce(plain, unique_name, per_partition=5)
    assert len(_consume(plain, unique_name, unique_name, per_partition=2)) == 4
    features = fetch_features(_sasl(sasl_kafka))
    assert features.release() and features.finalized_level("share.version") >= 1
    with WireAdmin(_sasl(sasl_kafka)) as wire:
        offsets = wire.share_group_offsets(unique_name)[unique_name]
        assert _as_pairs(offsets) == _oracle(kafka_service, plain, unique_name)
        wire.alter_share_group_offsets(unique_name, unique_name, {0: 5, 1: 5})
        assert wire.share_group_offsets(unique_name)[unique_name] == {
            0: ShareOffset(5, 0), 1: ShareOffset(5, 0)}


@pytest.mark.slow
def test_bad_connections_are_one_typed_line_within_seconds(sasl_kafka):
    cases = [
        (_sasl(sasl_kafka, password="wrong-pw"), AuthenticationFailed, "refused the credentials"),
        # SASL spoken to the PLAINTEXT listener
        ({**_sasl(sasl_kafka), "bootstrap.servers": sasl_kafka.bootstrap}, ConnectionFailed,
         "does not take SASL"),
        # TLS to a plaintext listener
        ({**_sasl(sasl_kafka), "security.protocol": "SASL_SSL"}, ConnectionFailed,
         "TLS handshake"),
        # plaintext spoken to the SASL listener
        ({"bootstrap.servers": sasl_kafka.sasl_bootstrap}, ConnectionFailed, "127.0.0.1:"),
    ]
    for props, kind, words in cases:
        began = time.monotonic()
        with pytest.raises(kind) as info:
            fetch_features(props, timeout=5)
        took = time.monotonic() - began
        line = info.value.one_line()
        assert words in line and props["bootstrap.servers"] in line, line
        assert "wrong-pw" not in line and USERS["admin"] not in line
        assert took < 12, (line, took)
