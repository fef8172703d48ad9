"""assess → plan → provision end to end: a live RabbitMQ queue becomes a playbook, the playbook
becomes Kafka resources, and describing them back gives exactly what the playbook declares.

The queue, topics and group names are unique per run; the queue and the topics are deleted
afterwards (Kafka has no group-config delete for an empty share group; its name is unique).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx
import pytest

from mqmigrate.cli import main
from mqmigrate.kafka import share
from mqmigrate.playbooks import loader
from mqmigrate.playbooks.provision import DLQ_ENABLE, DLQ_TOPIC_NAME

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.rabbitmq]


@pytest.fixture
def live_queue(rabbitmq_service, unique_name):
    """A quorum queue with a delivery limit, consumer timeout, TTL and DLX on vhost '/'."""
    management = next(
        (e.url for e in rabbitmq_service.endpoints() if "management" in e.name or "15672" in e.url),
        "http://127.0.0.1:15672",
    )
    api = httpx.Client(base_url=management.rstrip("/"), auth=("guest", "guest"), timeout=15)
    r = api.put(
        f"/api/queues/%2F/{quote(unique_name, safe='')}",
        json={
            "durable": True,
            "auto_delete": False,
            "arguments": {
                "x-queue-type": "quorum",
                "x-delivery-limit": 3,
                "x-consumer-timeout": 20000,
                "x-message-ttl": 3600000,
                "x-dead-letter-exchange": f"{unique_name}.dlx",
            },
        },
    )
    assert r.status_code in (201, 204), r.text
    yield unique_name, management
    api.delete(f"/api/queues/%2F/{quote(unique_name, safe='')}")
    api.close()


@pytest.fixture
def created_topics(kafka_bootstrap):
    """Topics the test names here are deleted afterwards (only if they exist)."""
    topics: list[str] = []
    yield topics
    admin = share.admin_client(kafka_bootstrap)
    for topic in topics:
        if share.describe_topic(admin, topic) is not None:
            share.delete_topic(admin, topic)


def test_live_queue_planned_and_provisioned(
    live_queue, kafka_bootstrap, created_topics, tmp_path, capsys
):
    queue, management = live_queue
    uri = management.replace("http://", "rabbitmq+http://guest:guest@", 1)
    out = tmp_path / "playbooks"
    args = [
        "plan",
        uri,
        "--prefix",
        queue,
        "--name",
        "live",
        "--replication",
        "1",
        "--kafka",
        kafka_bootstrap,
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("wrote")
    path = out / "live.yaml"
    text = path.read_text()
    # the password never reaches the playbook; the user name does, on purpose, only as the
    # placeholder principal of the ACL grants derived from its vhost permissions
    assert "guest:" not in text
    for line in text.splitlines():
        if "guest" in line:
            assert re.search(r"User:guest|# guest@/ (write|read)=", line), line
    assert loader.check_file(path) == []
    playbook = loader.load(path)
    (w,) = playbook.workloads
    created_topics.extend([w.target.topic, w.target.dlq.topic])
    assert (w.source.queue, w.source.vhost, w.source.credentials.env) == (
        queue,
        "/",
        "RABBITMQ_URI",
    )
    assert w.source.endpoint.startswith("rabbitmq+http://127.0.0.1:")
    assert (w.target.topic, w.target.consumer.type, w.target.consumer.group) == (
        queue,
        "share-group",
        queue,
    )
    configs = w.target.consumer.configs.as_kafka()
    assert configs["share.delivery.count.limit"] == "3"
    assert configs["share.record.lock.duration.ms"] == "20000"  # the consumer timeout
    # share.auto.offset.reset depends on whether the management API has the new queue's depth
    # yet (earliest while unknown); whichever it is, it is checked against Kafka below
    assert (w.target.dlq.topic, w.target.dlq.use_broker_dlq) == (f"dlq.{queue}", True)
    # the reasons are in the file, next to the values
    assert "# consumer timeout 20 s" in text
    # guest may write and read everything on "/": produce and consume, literal (no vhost prefix)
    assert {(g.principal, g.role, g.pattern) for g in w.target.acls} >= {
        ("User:guest", "produce", "literal"),
        ("User:guest", "consume", "literal"),
    }
    assert "security.acls" in [d.rule for d in w.decisions]
    assert w.mapping.headers.drop == ["x-delivery-count"]  # a quorum queue

    # re-planning the unchanged queue rewrites nothing
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("unchanged")

    assert main(["provision", str(path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["create"] == 2 and report["counts"].get("drift", 0) == 0

    admin = share.admin_client(kafka_bootstrap)
    topic = share.describe_topic(admin, w.target.topic)
    assert (topic.partitions, topic.replication) == (w.target.partitions, w.target.replication)
    actual = share.topic_configs(admin, w.target.topic)
    assert {k: actual[k] for k in w.target.configs} == dict(w.target.configs)
    dlq = share.describe_topic(admin, w.target.dlq.topic)
    assert (dlq.partitions, dlq.replication) == (w.target.dlq.partitions, 1)
    assert share.topic_configs(admin, w.target.dlq.topic)[DLQ_ENABLE] == "true"
    wanted = {**configs, DLQ_TOPIC_NAME: w.target.dlq.topic}
    assert share.group_configs(admin, w.target.consumer.group, list(wanted)) == wanted

    # provisioning again changes nothing
    assert main(["provision", str(path), "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["applied"] == 0 and set(again["counts"]) == {"unchanged", "skipped"}
