"""The product on each Kafka release users run: 4.2, 4.3 and 4.4, each a real broker.

One private KRaft broker per release (jars from Maven Central, cached per version), started when
the first test of that release runs and stopped before the next release starts (the fixture is
module-scoped and parametrized, so pytest runs every test of one release together).  Every
broker runs with ``group.share.delivery.count.limit=3``, not the default 5, so a worker that
assumed the default would lose a record on the release without a per-group limit.

What differs, and is asserted per release (each expectation fails on the other releases):

=========================  ==============  ==============  ===============================
                           4.2             4.3             4.4
=========================  ==============  ==============  ===============================
share.version              1               1               2
per-group delivery limit   no (broker's)   yes             yes
broker dead-letter queue   no              no              yes (KIP-1191)
Worker dead_letter="auto"  worker          worker          broker
=========================  ==============  ==============  ===============================

``MQMIGRATE_COMPAT_KAFKA_VERSIONS`` (comma-separated) chooses the releases, e.g. ``4.2.2``.
The RabbitMQ side (plan, bridge, cutover) is the sandbox's node.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pika
import pytest
import yaml

from mqmigrate.cli import main
from mqmigrate.cutover import bridgeproc
from mqmigrate.cutover.probes import topic_end_offset_sum
from mqmigrate.cutover.runner import run_dir
from mqmigrate.doctor import diagnose
from mqmigrate.errors import MqMigrateError
from mqmigrate.kafka import share
from mqmigrate.playbooks.state import state_path
from mqmigrate.playbooks.provision import DLQ_ENABLE, DLQ_TOPIC_NAME
from mqmigrate.sdk.worker import PermanentError, RetryableError
from tests.integration.test_worker import Env, Recorder, quiet, run_worker, stop
from tests.support.brokers import PrivateKafka

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.compat]

VERSIONS = os.environ.get("MQMIGRATE_COMPAT_KAFKA_VERSIONS", "4.2.2,4.3.2,4.4.0").split(",")
#: the broker-wide delivery limit every compat broker runs with (Kafka's default is 5)
BROKER_LIMIT = 3


def release(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


@pytest.fixture(scope="module", params=VERSIONS, ids=lambda v: f"kafka-{v}")
def kafka(request, tmp_path_factory, kafka_service):
    """A broker of one release, started when its tests begin and stopped after them."""
    version = request.param
    broker = PrivateKafka(
        tmp_path_factory.mktemp(f"kafka-{version}"),
        kafka_service.ctx.cache_dir,
        name=f"kafka-{version}",
        version=version,
        properties={"group.share.delivery.count.limit": str(BROKER_LIMIT)},
    )
    broker.start()
    broker.version = release(version)
    try:
        yield broker
    finally:
        broker.stop()


def test_doctor_verdict_and_what_the_release_lacks(kafka):
    report = diagnose(kafka.bootstrap, timeout=30)
    checks = {c.name: c for c in report.checks}
    assert report.ready, [(c.name, c.result, c.detail) for c in report.checks]
    assert {c.result for c in report.checks} == {"ok"}
    major, minor = kafka.version
    assert checks["kafka.version"].detail.startswith(f"Kafka {major}.{minor} ")
    per_group_missing = "no per-group share.delivery.count.limit" in checks["kafka.version"].detail
    assert per_group_missing is (kafka.version < (4, 3))
    detail = checks["share.version"].detail
    if kafka.version >= (4, 4):
        assert detail == "share.version is 2 (share-group dead-letter queues available)"
    else:
        assert detail.startswith("share.version is 1 (no share-group dead-letter queue")
        assert "upgrade to Apache Kafka 4.4+" in checks["share.version"].fix


@pytest.fixture
def rabbit_queue(rabbitmq_service, unique_name, monkeypatch):
    """A quorum queue with a delivery limit and a dead-letter exchange on the sandbox RabbitMQ,
    bound to a direct exchange; deleted afterwards."""
    user, password = rabbitmq_service.credentials()
    management = f"http://127.0.0.1:{rabbitmq_service.port('management')}"
    amqp = f"amqp://{quote(user)}:{quote(password)}@127.0.0.1:{rabbitmq_service.port('amqp')}/"
    api = httpx.Client(base_url=management, auth=(user, password), timeout=15)
    q, x, dlx = unique_name, f"{unique_name}.x", f"{unique_name}.dlx"
    for exchange in (x, dlx):
        assert api.put(
            f"/api/exchanges/%2F/{exchange}", json={"type": "direct", "durable": True}
        ).is_success
    assert api.put(
        f"/api/queues/%2F/{q}",
        json={
            "durable": True,
            "arguments": {
                "x-queue-type": "quorum",
                "x-delivery-limit": 4,
                "x-dead-letter-exchange": dlx,
            },
        },
    ).is_success
    assert api.post(f"/api/bindings/%2F/e/{x}/q/{q}", json={"routing_key": "k"}).is_success
    monkeypatch.setenv("RABBITMQ_URI", amqp)
    yield {
        "queue": q,
        "exchange": x,
        "amqp": amqp,
        "api": api,
        "uri": management.replace("http://", f"rabbitmq+http://{user}:{password}@"),
    }
    for name in (q, q + ".mqmigrate-shadow"):
        api.delete(f"/api/queues/%2F/{quote(name, safe='')}")
    for exchange in (x, dlx):
        api.delete(f"/api/exchanges/%2F/{exchange}")
    api.close()


def plan_for(rabbit: dict, bootstrap: str, kafka_version: str, out: Path, capsys) -> Path:
    """``mqmigrate plan`` of the live queue for ``kafka_version``; the playbook's path."""
    assert (
        main(
            [
                "plan",
                rabbit["uri"],
                "--prefix",
                rabbit["queue"],
                "--name",
                "compat",
                "--replication",
                "1",
                "--kafka",
                bootstrap,
                "--kafka-version",
                kafka_version,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    return out / "compat.yaml"


def provision_json(path: Path, capsys) -> tuple[int, dict]:
    code = main(["provision", str(path), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def group_rows(report: dict) -> dict[str, dict]:
    return {c["item"]: c for c in report["changes"] if c["resource"] == "group"}


def test_plan_for_the_release_then_provision_applies_it(kafka, rabbit_queue, tmp_path, capsys):
    """The playbook plan writes for the release provisions cleanly on that release."""
    version = "{}.{}".format(*kafka.version)
    path = plan_for(rabbit_queue, kafka.bootstrap, version, tmp_path / version, capsys)
    doc = yaml.safe_load(path.read_text())
    target = doc["workloads"][0]["target"]
    configs = target["consumer"]["configs"]
    rules = [d["rule"] for d in doc["workloads"][0].get("decisions", [])]
    assert target["dlq"]["use_broker_dlq"] is (kafka.version >= (4, 4))
    if kafka.version >= (4, 3):
        assert configs["share.delivery.count.limit"] == 4  # the queue's x-delivery-limit
        assert "retry.limit.broker-wide" not in rules
    else:  # left out of the group, and said so: the brokers' limit is what a 4.2 group gets
        assert "share.delivery.count.limit" not in configs
        assert "retry.limit.broker-wide" in rules

    code, report = provision_json(path, capsys)
    assert code == 0 and report["counts"].get("drift", 0) == 0, report
    rows = group_rows(report)
    assert ("share.delivery.count.limit" in rows) is (kafka.version >= (4, 3))
    assert (DLQ_TOPIC_NAME in rows) is (kafka.version >= (4, 4))
    admin = share.admin_client(kafka.bootstrap)
    group = target["consumer"]["group"]
    applied = share.group_configs(admin, group)
    assert applied["share.auto.offset.reset"] == "earliest"
    if kafka.version >= (4, 3):
        assert applied["share.delivery.count.limit"] == "4"
    else:
        assert "share.delivery.count.limit" not in applied
    if kafka.version >= (4, 4):
        assert applied[DLQ_TOPIC_NAME] == target["dlq"]["topic"]
        assert share.topic_configs(admin, target["dlq"]["topic"], [DLQ_ENABLE]) == {
            DLQ_ENABLE: "true"
        }
    # a second run is a no-op on every release
    code, again = provision_json(path, capsys)
    assert code == 0 and set(again["counts"]) <= {"unchanged", "skipped"}, again["counts"]
    share.delete_topics(admin, [target["topic"], target["dlq"]["topic"]], missing_ok=True)


def test_a_4_4_playbook_on_an_older_release_is_refused_with_reasons(
    kafka, rabbit_queue, tmp_path, capsys
):
    """What the release cannot take is a drift row with its reason (exit 1), never dropped."""
    path = plan_for(rabbit_queue, kafka.bootstrap, "4.4", tmp_path / "for-4.4", capsys)
    target = yaml.safe_load(path.read_text())["workloads"][0]["target"]
    code, report = provision_json(path, capsys)
    rows = group_rows(report)
    drift = {item: row["note"] for item, row in rows.items() if row["action"] == "drift"}
    expected = set()
    if kafka.version < (4, 3):
        expected.add("share.delivery.count.limit")
        assert "group.share.delivery.count.limit" in drift["share.delivery.count.limit"]
    if kafka.version < (4, 4):
        expected.add(DLQ_TOPIC_NAME)
        assert "share.version>=2" in drift[DLQ_TOPIC_NAME]
    assert set(drift) == expected
    assert code == (1 if expected else 0)
    # every group config the playbook declares has a row: applied, unchanged or drift
    declared = {*target["consumer"]["configs"], DLQ_TOPIC_NAME}
    assert declared <= set(rows)
    admin = share.admin_client(kafka.bootstrap)
    share.delete_topics(admin, [target["topic"], target["dlq"]["topic"]], missing_ok=True)


@pytest.fixture
def env(kafka, unique_name):
    made = Env(kafka.bootstrap, unique_name)
    yield made
    made.cleanup()


def test_worker_dead_letters_each_poison_record_exactly_once(kafka, env):
    """``dead_letter="auto"``: the worker forwards before 4.4, the broker dead-letters on 4.4.

    ``poison`` fails permanently; ``flaky`` fails every attempt and must be dead-lettered at
    the brokers' limit of 3 (not the default 5 the worker would otherwise assume).
    """
    configs = {"share.auto.offset.reset": "earliest"}
    if kafka.version >= (4, 4):
        share.delete_topic(env.admin, env.dlq)
        share.create_topic(env.admin, env.dlq, config={DLQ_ENABLE: "true"})
        configs |= {DLQ_TOPIC_NAME: env.dlq, "errors.deadletterqueue.copy.record.enable": "true"}
    else:  # the broker DLQ does not exist before 4.4: the broker refuses to configure one
        with pytest.raises(MqMigrateError, match=f"Unknown group config name: {DLQ_TOPIC_NAME}"):
            share.set_group_configs(env.admin, env.group, {DLQ_TOPIC_NAME: env.dlq})
    share.set_group_configs(env.admin, env.group, configs)
    env.produce([b"poison", b"flaky", b"fine"])
    rec = Recorder()

    def handler(message):
        rec.add(message)
        if message.value == b"poison":
            raise PermanentError("bad record")
        if message.value == b"flaky":
            raise RetryableError("never works")

    worker = run_worker(env, handler, dlq_topic=env.dlq, dead_letter="auto")
    try:
        rec.wait(
            lambda seen: (
                (b"flaky", BROKER_LIMIT) in seen and (b"fine", 1) in seen and (b"poison", 1) in seen
            )
        )
        assert quiet(rec, 3.0) == 0
    finally:
        stop(worker)
    assert sorted(v for v, _ in rec.seen) == [b"fine", b"flaky", b"flaky", b"flaky", b"poison"]
    dead = env.read_dlq(3, timeout=5)  # asks for one more than expected: none may come
    assert sorted(d.value() for d in dead) == [b"flaky", b"poison"]
    assert worker.dead_letter == ("broker" if kafka.version >= (4, 4) else "worker")
    assert worker.delivery_limit == BROKER_LIMIT


def publish(rabbit: dict, n: int, tag: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(rabbit["amqp"]))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        for i in range(n):
            ch.basic_publish(
                rabbit["exchange"],
                "k",
                f"{tag}-{i}".encode(),
                pika.BasicProperties(message_id=f"{tag}-{i}", delivery_mode=2),
            )
    finally:
        conn.close()


def wait_for(what: str, check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_cutover_provision_and_shadow_bridge_from_rabbitmq(kafka, rabbit_queue, tmp_path, capsys):
    """``cutover run --until shadow`` on the plan for this release: the provision step (what
    4.2 cannot take already left out by plan) and the shadow bridge RabbitMQ → this Kafka,
    then a rollback that stops it and deletes no data."""
    version = "{}.{}".format(*kafka.version)
    path = plan_for(rabbit_queue, kafka.bootstrap, version, tmp_path / "cut", capsys)
    doc = yaml.safe_load(path.read_text())
    wl = doc["workloads"][0]
    wid, topic = wl["id"], wl["target"]["topic"]
    publish(rabbit_queue, 20, "before")
    wl["phases"]["shadow"]["gates"] = [
        {"metric": "bridge.lag", "op": "<=", "value": 1000, "for_seconds": 2},
        {"metric": "source.depth", "op": ">=", "value": 20, "for_seconds": 1},
    ]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    run = ["--yes", "--poll-interval", "1", "--gate-timeout", "60"]
    try:
        code = main(["cutover", "run", str(path), "--until", "shadow", *run])
        err = capsys.readouterr().err
        assert code == 0, err
        assert "shadow bridge started" in err
        applied = json.loads(state_path(path).read_text())["workloads"][wid]["applied"]
        assert [a["step"] for a in applied] == ["provision", "shadow-bridge"]
        publish(rabbit_queue, 30, "during")
        wait_for("30 copies in Kafka", lambda: topic_end_offset_sum(kafka.bootstrap, topic) == 30)
        assert main(["cutover", "rollback", str(path), "--to", "provision", "--yes"]) == 0
        assert "shadow bridge stopped" in capsys.readouterr().err
        assert bridgeproc.running(run_dir(path), wid) is None
        assert topic_end_offset_sum(kafka.bootstrap, topic) == 30
    finally:
        bridgeproc.stop(run_dir(path), wid, timeout=30)
        share.delete_topics(
            share.admin_client(kafka.bootstrap),
            [topic, wl["target"]["dlq"]["topic"], topic + ".quarantine"],
            missing_ok=True,
        )
