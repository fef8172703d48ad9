"""``cutover`` on the sandbox: a playbook that ``mqmigrate plan`` wrote for a live RabbitMQ queue
is run with real actions and real gate measurements (management API, bridge /metrics), resumed
after a SIGKILL mid-phase, reported by ``status`` and rolled back.

Gates are shortened (``for_seconds`` of 1-2 s instead of 300) and the phases this machine cannot
complete without people or ``mqmigrate verify`` are cut from the playbook copy the test runs;
everything else is what ``plan`` generated.  Queue, exchange, topics are unique per test and
deleted afterwards; every bridge the runs started is stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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
from mqmigrate.kafka.admin import delete_topics
from mqmigrate.playbooks.state import state_path

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.rabbitmq]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rabbit(rabbitmq_service, unique_name, monkeypatch):
    """A durable queue bound to a direct exchange (a shadow queue needs a binding to copy)."""
    user, password = rabbitmq_service.credentials()
    management = f"http://127.0.0.1:{rabbitmq_service.port('management')}"
    amqp = f"amqp://{quote(user)}:{quote(password)}@127.0.0.1:{rabbitmq_service.port('amqp')}/"
    api = httpx.Client(base_url=management, auth=(user, password), timeout=15)
    q, x = unique_name, f"{unique_name}.x"
    assert api.put(f"/api/exchanges/%2F/{x}", json={"type": "direct", "durable": True}).is_success
    assert api.put(f"/api/queues/%2F/{q}", json={"durable": True}).is_success
    assert api.post(f"/api/bindings/%2F/e/{x}/q/{q}", json={"routing_key": "k"}).is_success
    monkeypatch.setenv("RABBITMQ_URI", amqp)
    info = {
        "queue": q,
        "exchange": x,
        "amqp": amqp,
        "api": api,
        "uri": management.replace("http://", f"rabbitmq+http://{user}:{password}@"),
    }
    yield info
    for name in (q, q + ".mqmigrate-shadow"):
        api.delete(f"/api/queues/%2F/{quote(name, safe='')}")
    api.delete(f"/api/exchanges/%2F/{x}")
    api.close()


@pytest.fixture
def planned(rabbit, kafka_bootstrap, tmp_path, capsys):
    """``mqmigrate plan`` for the queue; the bridges of its runs are stopped and its topics
    deleted afterwards."""
    out = tmp_path / "playbooks"
    assert (
        main(
            [
                "plan",
                rabbit["uri"],
                "--prefix",
                rabbit["queue"],
                "--name",
                "live",
                "--replication",
                "1",
                "--kafka",
                kafka_bootstrap,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    path = out / "live.yaml"
    doc = yaml.safe_load(path.read_text())
    wl = doc["workloads"][0]
    yield path, doc
    bridgeproc.stop(run_dir(path), wl["id"], timeout=30)
    delete_topics(
        kafka_bootstrap,
        [
            wl["target"]["topic"],
            wl["target"]["dlq"]["topic"],
            wl["target"]["topic"] + ".quarantine",
        ],
    )


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
        value = check()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def applied_steps(path: Path, workload: str) -> list[str]:
    data = json.loads(state_path(path).read_text())
    return [a["step"] for a in data["workloads"].get(workload, {}).get("applied", [])]


RUN = ["--yes", "--poll-interval", "1", "--gate-timeout", "60"]


def test_cutover_shadow_status_second_run_and_rollback(planned, rabbit, kafka_bootstrap, capsys):
    path, doc = planned
    wl = doc["workloads"][0]
    wid, topic = wl["id"], wl["target"]["topic"]
    publish(rabbit, 20, "before")  # sits in the source queue: the source.depth gate sees it
    wl["phases"]["shadow"]["gates"] = [
        {"metric": "bridge.lag", "op": "<=", "value": 1000, "for_seconds": 2},
        {"metric": "source.depth", "op": ">=", "value": 20, "for_seconds": 1},
    ]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))

    assert main(["cutover", "run", str(path), "--until", "shadow", *RUN]) == 0
    err = capsys.readouterr().err
    assert "done " + wid + "/provision" in err and "shadow bridge started" in err
    assert applied_steps(path, wid) == ["provision", "shadow-bridge"]
    gates = json.loads((run_dir(path) / "gates.json").read_text())[wid]["shadow"]
    depth = next(r for r in gates["results"] if r["metric"] == "source.depth")
    assert gates["passed"] and depth["observed"] == 20 and "messages_ready" in depth["detail"]
    userinfo = rabbit["amqp"].split("//", 1)[1].split("@")[0]  # user:password
    for written in [state_path(path), *run_dir(path).iterdir()]:  # no file holds the secret
        assert userinfo not in written.read_text(), written  # (logs show user:***)

    # the shadow bridge copies what is published now, and leaves the source queue alone
    publish(rabbit, 30, "during")
    wait_for("30 copies in Kafka", lambda: topic_end_offset_sum(kafka_bootstrap, topic) == 30)
    q = rabbit["api"].get(f"/api/queues/%2F/{rabbit['queue']}").json()
    wait_for(
        "source depth 50",
        lambda: (
            rabbit["api"].get(f"/api/queues/%2F/{rabbit['queue']}").json().get("messages_ready")
            == 50
        ),
    )
    assert q["consumers"] == 0

    # a second run does nothing new
    assert main(["cutover", "run", str(path), "--until", "shadow", *RUN]) == 0
    assert "nothing to do" in capsys.readouterr().err
    assert applied_steps(path, wid) == ["provision", "shadow-bridge"]

    assert main(["cutover", "status", str(path), "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)["workloads"][wid]
    assert status["done"] == ["provision", "shadow-bridge"]
    assert status["next"] == {"phase": "verify", "step": "verify"}
    assert status["bridge"]["mode"] == "shadow"

    # verify: the shadow bridge's verify ledger against the topic, then the verify.* gates
    code = main(["cutover", "run", str(path), "--until", "verify", *RUN])
    err = capsys.readouterr().err
    assert code == 0, err
    assert applied_steps(path, wid) == ["provision", "shadow-bridge", "verify"]
    counts = json.loads((run_dir(path) / f"{wid}.verify.json").read_text())
    assert counts["missing"] == 0 and counts["altered"] == 0, counts
    assert counts["detail"].startswith("30 settled by the bridge")

    assert main(["cutover", "rollback", str(path), "--to", "provision", "--yes"]) == 0
    err = capsys.readouterr().err
    assert "shadow bridge stopped" in err and "removed: queue" in err
    assert applied_steps(path, wid) == ["provision"]
    assert bridgeproc.running(run_dir(path), wid) is None
    assert (
        rabbit["api"]
        .get(f"/api/queues/%2F/{quote(rabbit['queue'] + '.mqmigrate-shadow', safe='')}")
        .status_code
        == 404
    )
    assert topic_end_offset_sum(kafka_bootstrap, topic) == 30  # rollback deletes no data


def test_sigkill_mid_phase_then_rerun_resumes_at_first_unstamped_step(
    planned, rabbit, kafka_bootstrap
):
    path, doc = planned
    wl = doc["workloads"][0]
    wid, topic = wl["id"], wl["target"]["topic"]
    phases = wl["phases"]
    phases["shadow"]["gates"] = [
        {"metric": "bridge.lag", "op": "<=", "value": 1000, "for_seconds": 1}
    ]
    # this run goes shadow → drain (tests/integration/test_zero_downtime.py runs every phase
    # with a live service); the drain phase stops the shadow and drains, skipping copied ids
    for name in ("verify", "consumers", "producers", "decommission"):
        phases.pop(name)
    drain = phases["drain"]
    drain["steps"] = [
        {
            "id": "shadow-bridge-stop-for-drain",
            "action": "bridge.stop",
            "requires": ["shadow-bridge"],
        },
        {
            "id": "drain-bridge",
            "action": "bridge.start",
            "mode": "drain",
            "requires": ["shadow-bridge-stop-for-drain"],
        },
        {"id": "source-drained", "action": "source.drain", "requires": ["drain-bridge"]},
    ]
    for gate in drain["gates"]:
        gate["for_seconds"] = 1
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    publish(rabbit, 50, "backlog")  # the drain bridge moves these into Kafka

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "mqmigrate", "cutover", "run", str(path), "--until", "drain", *RUN]
    first = subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        # source.drain waits for the drain bridge's idle exit: kill cutover during that step
        wait_for(
            "drain-bridge stamped",
            lambda: state_path(path).exists() and "drain-bridge" in applied_steps(path, wid),
            timeout=90,
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
    before = applied_steps(path, wid)
    assert before == ["provision", "shadow-bridge", "shadow-bridge-stop-for-drain", "drain-bridge"]

    second = subprocess.run(
        cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180
    )
    assert second.returncode == 0, second.stderr
    ran = [line.split()[1] for line in second.stderr.splitlines() if line.startswith("run ")]
    assert ran == [f"{wid}/source-drained"]  # stamped steps are not repeated
    assert applied_steps(path, wid) == before + ["source-drained"]
    assert topic_end_offset_sum(kafka_bootstrap, topic) == 50
    gates = json.loads((run_dir(path) / "gates.json").read_text())[wid]["drain"]
    assert gates["passed"] and {r["metric"]: r["observed"] for r in gates["results"]} == {
        "source.depth": 0,
        "source.in-flight": 0,
        "bridge.lag": 0,
    }


def test_share_group_backlog_probe_measures_unacknowledged_records(kafka_bootstrap, unique_name):
    from confluent_kafka import AcknowledgeType, Producer

    from mqmigrate.cutover.probes import ShareGroupBacklogProbe
    from mqmigrate.kafka import share
    from mqmigrate.playbooks.model import Workload

    topic, group = unique_name, unique_name + "-g"
    admin = share.admin_client(kafka_bootstrap)
    share.create_topic(admin, topic, partitions=1)
    try:
        share.set_group_configs(admin, group, {"share.auto.offset.reset": "earliest"})
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        for i in range(10):
            producer.produce(topic, value=b"m%d" % i)
        assert producer.flush(30) == 0
        consumer = share.share_consumer(kafka_bootstrap, group)
        consumer.subscribe([topic])
        accepted, deadline = 0, time.monotonic() + 30
        try:
            while accepted < 4 and time.monotonic() < deadline:
                for msg in consumer.poll(1.0) or []:
                    if msg.error():
                        continue
                    kind = AcknowledgeType.ACCEPT if accepted < 4 else AcknowledgeType.RELEASE
                    consumer.acknowledge(msg, kind)
                    accepted += kind == AcknowledgeType.ACCEPT
            consumer.commit_sync()
        finally:
            consumer.close()
        assert accepted == 4
        wl = Workload.model_validate(
            {
                "id": "w",
                "source": {"kind": "rabbitmq", "queue": "q"},
                "strategy": "drain-only",
                "target": {
                    "topic": topic,
                    "partitions": 1,
                    "consumer": {"type": "share-group", "group": group},
                },
                "phases": {},
            }
        )
        got = ShareGroupBacklogProbe(lambda: kafka_bootstrap).measure(wl)
        assert got.value == 6, got.detail  # 10 records, 4 accepted
    finally:
        share.delete_topic(admin, topic)


def test_sigterm_while_waiting_on_a_gate_exits_130_and_keeps_the_state_file(planned, rabbit):
    path, doc = planned
    wl = doc["workloads"][0]
    wid = wl["id"]
    # a gate that cannot hold: the run waits on it until signalled
    wl["phases"]["shadow"]["gates"] = [
        {"metric": "source.depth", "op": ">=", "value": 1_000_000, "for_seconds": 0}
    ]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mqmigrate", "cutover", "run", str(path), "--until", "shadow", *RUN],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            "the shadow gates measured", lambda: (run_dir(path) / "gates.json").exists(), timeout=90
        )
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "stopped while waiting for the gates" in err and "Traceback" not in err
    assert applied_steps(path, wid) == ["provision", "shadow-bridge"]
    gates = json.loads((run_dir(path) / "gates.json").read_text())[wid]["shadow"]
    # 0, or unknown while the management API has no stats for the new queue yet: both fail
    assert gates["passed"] is False and gates["results"][0]["observed"] in (0, None)
    # the shadow bridge outlives the run (its own session); the fixture stops it
    assert bridgeproc.running(run_dir(path), wid).mode == "shadow"
