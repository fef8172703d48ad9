"""``provision`` against the real broker: creates exactly what the playbook declares, re-runs
are no-ops, --dry-run changes nothing, drift is reported and left alone, and the share group
then behaves as configured."""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import AcknowledgeType, Consumer, Producer, TopicPartition

from mqmigrate.cli import main
from mqmigrate.kafka import share
from mqmigrate.playbooks import loader
from mqmigrate.playbooks.render import Derived, WorkloadSpec, build_playbook, render
from mqmigrate.playbooks.provision import DLQ_ENABLE, DLQ_TOPIC_NAME, provision
from tests.support.share import poll_until_quiet

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

SOURCE = {
    "kind": "rabbitmq",
    "credentials": {"env": "RABBITMQ_URI"},
    "queue": "orders",
    "vhost": "/",
}


@pytest.fixture
def names(kafka_bootstrap, unique_name):
    """Topic, DLQ topic and group names for one test; topics deleted afterwards."""
    names = {"topic": unique_name, "dlq": f"dlq.{unique_name}", "group": f"g-{unique_name}"}
    yield names
    admin = share.admin_client(kafka_bootstrap)
    for topic in (names["topic"], names["dlq"]):
        if share.describe_topic(admin, topic) is not None:
            share.delete_topic(admin, topic)


def playbook_file(
    tmp_path, bootstrap, names, *, partitions=3, replication=1, limit=2, topic_configs=None
):
    spec = WorkloadSpec(
        id="orders",
        source=SOURCE,
        topic=names["topic"],
        partitions=Derived(partitions, "test"),
        replication=replication,
        group=names["group"],
        topic_configs=topic_configs
        if topic_configs is not None
        else {"retention.ms": "86400000", "max.message.bytes": "2097152"},
        share_configs={
            "share.auto.offset.reset": "earliest",
            "share.delivery.count.limit": limit,
            "share.record.lock.duration.ms": 15000,
        },
        dlq_topic=names["dlq"],
        use_broker_dlq=True,
        strategy="drain-only",
    )
    path = tmp_path / "orders.yaml"
    path.write_text(render(build_playbook([spec], name="it", bootstrap=bootstrap)))
    return path


def run(capsys, *args) -> tuple[int, dict]:
    code = main(["provision", *map(str, args), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_provision_creates_exactly_what_the_playbook_declares(
    kafka_bootstrap, names, tmp_path, capsys
):
    path = playbook_file(tmp_path, kafka_bootstrap, names)
    code, report = run(capsys, path)
    assert code == 0
    assert report["counts"] == {"create": 2, "alter": 4, "skipped": 1}
    assert report["applied"] == 6
    admin = share.admin_client(kafka_bootstrap)
    topic = share.describe_topic(admin, names["topic"])
    assert (topic.partitions, topic.replication) == (3, 1)
    configs = share.topic_configs(admin, names["topic"])
    assert configs["retention.ms"] == "86400000" and configs["max.message.bytes"] == "2097152"
    dlq = share.describe_topic(admin, names["dlq"])
    assert (dlq.partitions, dlq.replication) == (1, 1)
    assert share.topic_configs(admin, names["dlq"])[DLQ_ENABLE] == "true"
    assert share.group_configs(
        admin,
        names["group"],
        [
            "share.auto.offset.reset",
            "share.delivery.count.limit",
            "share.record.lock.duration.ms",
            DLQ_TOPIC_NAME,
        ],
    ) == {
        "share.auto.offset.reset": "earliest",
        "share.delivery.count.limit": "2",
        "share.record.lock.duration.ms": "15000",
        DLQ_TOPIC_NAME: names["dlq"],
    }
    acl = [c for c in report["changes"] if c["resource"] == "acls"]
    assert acl == [
        {
            "workload": "*",
            "resource": "acls",
            "name": "-",
            "item": "acls",
            "action": "skipped",
            "old": None,
            "new": None,
            "note": "the cluster has no authorizer",
        }
    ]

    # a second run changes nothing and says so
    assert main(["provision", str(path)]) == 0
    assert "nothing to change: the cluster already matches the playbook" in capsys.readouterr().err
    report = provision(loader.load(path))
    assert report.applied == 0 and report.pending == [] and report.drift == []
    assert set(report.counts()) == {"unchanged", "skipped"}


def test_dry_run_changes_nothing(kafka_bootstrap, names, tmp_path, capsys):
    path = playbook_file(tmp_path, kafka_bootstrap, names)
    code, report = run(capsys, path, "--dry-run")
    assert code == 0 and report["dry_run"] is True and report["applied"] == 0
    assert [c["action"] for c in report["changes"] if c["resource"] != "acls"] == [
        "create",
        "create",
        "alter",
        "alter",
        "alter",
        "alter",
    ]
    admin = share.admin_client(kafka_bootstrap)
    assert share.describe_topic(admin, names["topic"]) is None
    assert share.describe_topic(admin, names["dlq"]) is None
    assert share.group_configs(admin, names["group"], ["share.delivery.count.limit"]) == {
        "share.delivery.count.limit": "5"
    }
    # and the same dry run again says the same: nothing was applied in between
    assert run(capsys, path, "--dry-run")[1]["changes"] == report["changes"]


def test_drift_is_reported_exit_1_and_left_alone(kafka_bootstrap, names, tmp_path, capsys):
    admin = share.admin_client(kafka_bootstrap)
    share.create_topic(admin, names["topic"], partitions=3, config={"retention.ms": "86400000"})
    share.create_topic(admin, names["dlq"], partitions=1)
    share.set_group_configs(admin, names["group"], {"share.delivery.count.limit": "4"})
    path = playbook_file(
        tmp_path,
        kafka_bootstrap,
        names,
        partitions=1,
        replication=2,
        topic_configs={"retention.ms": "3600000"},
    )
    # nothing is fixable except the group/DLQ settings; check the drift in a dry run first
    code, report = run(capsys, path, "--dry-run")
    assert code == 1
    drift = {
        (c["resource"], c["item"]): (c["old"], c["new"])
        for c in report["changes"]
        if c["action"] == "drift"
    }
    assert drift == {
        ("topic", "partitions"): ("3", "1"),
        ("topic", "replication"): ("1", "2"),
        ("topic", "retention.ms"): ("86400000", "3600000"),
        ("dlq-topic", "replication"): ("1", "2"),
    }
    code, report = run(capsys, path)
    assert code == 1
    topic = share.describe_topic(admin, names["topic"])
    assert (topic.partitions, topic.replication) == (3, 1)
    assert share.topic_configs(admin, names["topic"])["retention.ms"] == "86400000"
    # the drift is still there on the next run: provision never "fixes" it by force
    assert run(capsys, path)[0] == 1


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for value in values:
        producer.produce(topic, value)
    assert producer.flush(30) == 0


def test_share_group_behaves_as_provisioned(kafka_bootstrap, names, tmp_path, capsys):
    """share.delivery.count.limit 2: a record RELEASEd twice is not delivered a third time, and
    with use_broker_dlq the broker writes it to the DLQ topic (KIP-1191)."""
    path = playbook_file(tmp_path, kafka_bootstrap, names, partitions=1, limit=2)
    assert run(capsys, path)[0] == 0
    _produce(kafka_bootstrap, names["topic"], [b"doomed"])
    consumer = share.share_consumer(kafka_bootstrap, names["group"])
    try:
        consumer.subscribe([names["topic"]])
        # a third delivery would show up within the quiet time
        deliveries = [
            count
            for _, count in poll_until_quiet(
                consumer, lambda m: AcknowledgeType.RELEASE, expected=2
            )
        ]
    finally:
        consumer.close()
    assert deliveries == [1, 2]
    reader = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"r-{names['topic']}",
            "enable.auto.commit": False,
        }
    )
    try:
        deadline = time.monotonic() + 20
        high = 0
        while time.monotonic() < deadline and high < 1:
            _, high = reader.get_watermark_offsets(TopicPartition(names["dlq"], 0), timeout=5)
            time.sleep(0.5)
    finally:
        reader.close()
    assert high == 1  # the dead-lettered record


def test_replication_above_the_broker_count_is_drift_and_nothing_is_created(
    kafka_bootstrap, names, tmp_path, capsys
):
    path = playbook_file(tmp_path, kafka_bootstrap, names, replication=3)
    code, report = run(capsys, path)
    assert code == 1
    rows = {(c["resource"], c["item"]): c for c in report["changes"]}
    assert rows[("topic", "topic")]["action"] == "drift"
    assert "the cluster has 1" in rows[("topic", "topic")]["note"]
    # the group must not name a DLQ topic that does not exist
    assert rows[("group", "errors.deadletterqueue.topic.name")]["action"] == "skipped"
    admin = share.admin_client(kafka_bootstrap)
    assert share.describe_topic(admin, names["topic"]) is None
    assert share.group_configs(admin, names["group"], [DLQ_TOPIC_NAME]) == {DLQ_TOPIC_NAME: ""}


def test_fewer_partitions_than_exist_is_drift_and_nothing_changes(
    kafka_bootstrap, names, tmp_path, capsys
):
    """The issue's case: the playbook says 1 partition where 3 exist."""
    path = playbook_file(tmp_path, kafka_bootstrap, names, partitions=3)
    assert run(capsys, path)[0] == 0
    admin = share.admin_client(kafka_bootstrap)
    before = (
        share.topic_configs(admin, names["topic"]),
        share.group_configs(admin, names["group"]),
    )
    path = playbook_file(tmp_path, kafka_bootstrap, names, partitions=1)
    code, report = run(capsys, path)
    assert code == 1 and report["applied"] == 0
    assert [
        (c["item"], c["old"], c["new"]) for c in report["changes"] if c["action"] == "drift"
    ] == [("partitions", "3", "1")]
    assert {c["action"] for c in report["changes"]} == {"unchanged", "drift", "skipped"}
    assert share.describe_topic(admin, names["topic"]).partitions == 3
    assert (
        share.topic_configs(admin, names["topic"]),
        share.group_configs(admin, names["group"]),
    ) == before
