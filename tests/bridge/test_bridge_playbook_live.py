"""``bridge --playbook`` on the sandbox's RabbitMQ and Kafka: several workloads in one process,
and several processes sharing one queue."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import httpx
import pika
import pytest

from tests.support.bridge import publish, read_topic, source_ids
from mqmigrate import headers as mqheaders

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.rabbitmq]

ROOT = Path(__file__).resolve().parents[2]
URI_VAR = "T_BRIDGE_PLAYBOOK_URI"
_METRICS = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")


def _playbook(path: Path, workloads: list[dict]) -> Path:
    """A playbook with ``workloads`` ({id, queue, topic, dlq?, key?, rename?, drop?})."""
    lines = [
        "apiVersion: mqmigrate/v1",
        "kind: MigrationPlaybook",
        "metadata: {name: live}",
        "workloads:",
    ]
    for w in workloads:
        lines += [
            f"  - id: {w['id']}",
            "    source:",
            "      kind: rabbitmq",
            f"      credentials: {{env: {URI_VAR}}}",
            f"      queue: {w['queue']}",
            "      vhost: /",
            "    target:",
            f"      topic: {w['topic']}",
            "      partitions: 1",
            f"      consumer: {{type: share-group, group: {w['topic']}}}",
        ]
        if w.get("dlq"):
            lines.append(f"      dlq: {{topic: {w['dlq']}}}")
        lines += [
            "    mapping:",
            f"      key: {w.get('key', 'none')}",
            "      headers:",
            f"        rename: {json.dumps(w.get('rename', {}))}",
            f"        drop: {json.dumps(w.get('drop', []))}",
            "    strategy: drain-only",
            "    phases: {}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


class Bridge:
    """A ``mqmigrate bridge`` child process; stderr is collected as it comes (its JSON log
    lines tell the metrics port)."""

    def __init__(self, args: list[str], rabbitmq_uri: str):
        env = {**os.environ, "PYTHONPATH": str(ROOT), URI_VAR: rabbitmq_uri}
        env.pop("MQMIGRATE_SOURCE", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mqmigrate", "bridge", *args, "--log-format", "json"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.err.append(line)

    def port(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err):
                found = _METRICS.search(line)
                if found:
                    return int(found.group(1))
            assert self.proc.poll() is None, "".join(self.err)[-2000:]
            time.sleep(0.1)
        raise AssertionError("the bridge never said where its metrics are")

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port()}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def finish(self, timeout: float = 120) -> tuple[int, dict, str]:
        out = self.proc.stdout.read() if self.proc.wait(timeout=timeout) is not None else ""
        self._reader.join(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, (json.loads(out) if out.strip() else {}), "".join(self.err)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


def _metric(text: str, name: str, workload: str | None = None) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and (workload is None or f'workload="{workload}"' in line):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} ({workload}) not in /metrics")


def _depth(rabbitmq_channel, queue) -> int:
    return rabbitmq_channel.queue_declare(queue, passive=True).method.message_count


def _consumers(rabbitmq_channel, queue) -> int:
    return rabbitmq_channel.queue_declare(queue, passive=True).method.consumer_count


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _two_workloads(
    rabbitmq_channel, rabbitmq_names, kafka_topics, kafka_bootstrap, unique_name, tmp_path
):
    qa, qb = f"{unique_name}-a", f"{unique_name}-b"
    for q in (qa, qb):
        rabbitmq_channel.queue_declare(q, durable=True)
        rabbitmq_names.append(("queue", q))
    ta, tb = kafka_topics(qa), kafka_topics(qb)
    dlq = kafka_topics(f"{qa}-dlq", quarantine=False)
    book = _playbook(
        tmp_path / "two.yaml",
        [
            {
                "id": "alpha",
                "queue": qa,
                "topic": ta,
                "dlq": dlq,
                "key": "routing-key",
                "rename": {"tenant": "x-tenant"},
                "drop": ["x-trace"],
            },
            {"id": "beta", "queue": qb, "topic": tb},
        ],
    )
    props = pika.BasicProperties(
        delivery_mode=2, headers={"tenant": "acme", "x-trace": "t1", "n": 1}
    )
    ids_a = publish(rabbitmq_channel, "", qa, 1500, prefix="a")
    # same headers on every message of beta: no mapping there, so they stay typed
    ids_b = [f"b-{i}" for i in range(700)]
    for mid in ids_b:
        rabbitmq_channel.basic_publish(
            "",
            qb,
            mid.encode(),
            pika.BasicProperties(message_id=mid, delivery_mode=2, headers=props.headers),
        )
    return qa, qb, ta, tb, dlq, book, ids_a, ids_b


def test_one_playbook_two_workloads_one_process_sigterm_drains_all(
    rabbitmq_channel,
    rabbitmq_names,
    kafka_topics,
    kafka_bootstrap,
    rabbitmq_uri,
    rabbitmq_management_url,
    unique_name,
    tmp_path,
):
    qa, qb, ta, tb, dlq, book, ids_a, ids_b = _two_workloads(
        rabbitmq_channel, rabbitmq_names, kafka_topics, kafka_bootstrap, unique_name, tmp_path
    )
    # the headers alpha maps: published on a second batch of alpha
    for i in range(300):
        mid = f"h-{i}"
        rabbitmq_channel.basic_publish(
            "",
            qa,
            mid.encode(),
            pika.BasicProperties(
                message_id=mid, delivery_mode=2, headers={"tenant": "acme", "x-trace": "t1", "n": i}
            ),
        )
    ids_a = ids_a + [f"h-{i}" for i in range(300)]

    bridge = Bridge(
        [
            "--playbook",
            str(book),
            "--kafka",
            kafka_bootstrap,
            "--idle-exit",
            "600",
            "--metrics-port",
            "0",
            "--max-in-flight",
            "400",
        ],
        rabbitmq_uri,
    )
    try:
        _wait(
            lambda: _depth(rabbitmq_channel, qa) == 0 and _depth(rabbitmq_channel, qb) == 0,
            90,
            "both drained",
        )
        _wait(
            lambda: (
                _metric(bridge.get("/metrics")[1], "mqmigrate_bridge_messages_acked_total", "alpha")
                == len(ids_a)
                and _metric(
                    bridge.get("/metrics")[1], "mqmigrate_bridge_messages_acked_total", "beta"
                )
                == len(ids_b)
            ),
            60,
            "every message acked",
        )
        status, text = bridge.get("/metrics")
        assert f'queue="{qa}",topic="{ta}",workload="alpha"' in text
        assert f'queue="{qb}",topic="{tb}",workload="beta"' in text
        assert bridge.get("/readyz") == (200, "ready\n")
        assert bridge.get("/healthz")[0] == 200
        # the process's in-flight budget (400) is shared by the two workloads: the prefetch
        # RabbitMQ enforces on each consumer is 200 (the management API lists consumers
        # after its next stats round)
        prefetch: dict = {}

        def listed() -> bool:
            consumers = httpx.get(
                f"{rabbitmq_management_url}/api/consumers/%2F", auth=("guest", "guest"), timeout=10
            ).json()
            prefetch.clear()
            prefetch.update(
                {
                    c["queue"]["name"]: c["prefetch_count"]
                    for c in consumers
                    if c["queue"]["name"] in (qa, qb)
                }
            )
            return len(prefetch) == 2

        _wait(listed, 30, "the management API to list both consumers")
        assert prefetch == {qa: 200, qb: 200}
        bridge.proc.send_signal(signal.SIGTERM)
        code, summary, err = bridge.finish(timeout=60)
    finally:
        bridge.kill()
    assert code == 0, err[-2000:]
    by_id = {w["workload"]: w for w in summary["workloads"]}
    assert set(by_id) == {"alpha", "beta"}
    for wid, n, queue, topic in (("alpha", len(ids_a), qa, ta), ("beta", len(ids_b), qb, tb)):
        assert by_id[wid]["stopped"] == "signal"
        assert by_id[wid]["acked"] == n and by_id[wid]["in_flight"] == 0
        assert (by_id[wid]["queue"], by_id[wid]["topic"]) == (queue, topic)
    assert "guest:guest" not in err and "guest:guest" not in json.dumps(summary)
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert {line.get("workload") for line in logs} >= {"alpha", "beta"}  # lines say which

    records_a = read_topic(kafka_bootstrap, ta)
    assert sorted(source_ids(records_a)) == sorted(ids_a)  # lost 0, duplicates 0
    assert sorted(source_ids(read_topic(kafka_bootstrap, tb))) == sorted(ids_b)
    mapped = [r for r in records_a if dict(r.headers())["mq.source.id"].startswith(b"h-")]
    assert len(mapped) == 300
    for record in mapped:
        headers = dict(record.headers())
        assert headers["x-tenant"] == b"acme"  # renamed: a plain Kafka header
        meta = mqheaders.decode(record.headers())
        assert "tenant" not in meta.headers and "x-trace" not in meta.headers  # moved, dropped
        assert "n" in meta.headers
        assert record.key() == qa.encode()  # key: routing-key (default exchange: the queue)
    beta = read_topic(kafka_bootstrap, tb)[0]
    assert mqheaders.decode(beta.headers()).headers["tenant"] == "acme"  # no mapping: kept
    assert _depth(rabbitmq_channel, qa) == 0 and _depth(rabbitmq_channel, qb) == 0


def test_drain_ends_when_every_workload_is_drained(
    rabbitmq_channel,
    rabbitmq_names,
    kafka_topics,
    kafka_bootstrap,
    rabbitmq_uri,
    unique_name,
    tmp_path,
):
    qa, qb, ta, tb, dlq, book, ids_a, ids_b = _two_workloads(
        rabbitmq_channel, rabbitmq_names, kafka_topics, kafka_bootstrap, unique_name, tmp_path
    )
    started = time.monotonic()
    bridge = Bridge(
        [
            "--playbook",
            str(book),
            "--kafka",
            kafka_bootstrap,
            "--mode",
            "drain",
            "--idle-exit",
            "2",
        ],
        rabbitmq_uri,
    )
    try:
        code, summary, err = bridge.finish(timeout=120)
    finally:
        bridge.kill()
    assert code == 0, err[-2000:]
    assert time.monotonic() - started < 100
    assert [(w["workload"], w["stopped"], w["acked"]) for w in summary["workloads"]] == [
        ("alpha", "drained", len(ids_a)),
        ("beta", "drained", len(ids_b)),
    ]
    assert sorted(source_ids(read_topic(kafka_bootstrap, ta))) == sorted(ids_a)
    assert sorted(source_ids(read_topic(kafka_bootstrap, tb))) == sorted(ids_b)
    assert _depth(rabbitmq_channel, qa) == 0 and _depth(rabbitmq_channel, qb) == 0


def test_a_failing_workload_stops_the_others_and_exits_2(
    rabbitmq_channel,
    rabbitmq_names,
    kafka_topics,
    kafka_bootstrap,
    rabbitmq_uri,
    unique_name,
    tmp_path,
):
    """beta's queue does not exist: a connection/configuration error before anything moves;
    alpha's source is released, nothing is consumed."""
    qa = f"{unique_name}-a"
    rabbitmq_channel.queue_declare(qa, durable=True)
    rabbitmq_names.append(("queue", qa))
    ta = kafka_topics(qa)
    tb = kafka_topics(f"{unique_name}-b")
    ids = publish(rabbitmq_channel, "", qa, 50)
    book = _playbook(
        tmp_path / "bad.yaml",
        [
            {"id": "alpha", "queue": qa, "topic": ta},
            {"id": "beta", "queue": f"{unique_name}-missing", "topic": tb},
        ],
    )
    bridge = Bridge(
        ["--playbook", str(book), "--kafka", kafka_bootstrap, "--idle-exit", "2"], rabbitmq_uri
    )
    try:
        code, summary, err = bridge.finish(timeout=60)
    finally:
        bridge.kill()
    assert code == 2
    errors = [ln for ln in err.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "missing" in errors[0] and "guest:guest" not in err
    assert summary == {}  # nothing ran, so nothing to summarise
    assert _depth(rabbitmq_channel, qa) == len(ids)  # alpha's messages untouched in the source
    assert _consumers(rabbitmq_channel, qa) == 0


def _publish_ids(rabbitmq_uri: str, queue: str, ids: list[str]) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_uri))
    try:
        ch = conn.channel()
        ch.confirm_delivery()  # every message is in the queue when this returns
        for mid in ids:
            ch.basic_publish(
                "",
                queue,
                mid.encode().ljust(256, b"."),
                pika.BasicProperties(message_id=mid, delivery_mode=2),
            )
    finally:
        conn.close()


@pytest.mark.parametrize("kill_one", [False, True], ids=["both-finish", "one-killed"])
@pytest.mark.heavy  # 12,000 messages through two bridge processes
def test_two_processes_share_one_queue(
    kill_one,
    rabbitmq_channel,
    rabbitmq_names,
    kafka_topics,
    kafka_bootstrap,
    rabbitmq_uri,
    unique_name,
    tmp_path,
):
    """Two bridge processes on one RabbitMQ queue (competing consumers) together move every id:
    lost 0; duplicates 0 when both finish, at most the killed one's in-flight window when one
    is SIGKILLed (docs/bridge.md); and each moved a share."""
    n, in_flight = 12_000, 300
    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_names.append(("queue", unique_name))
    topic = kafka_topics(unique_name)
    book = _playbook(
        tmp_path / "one.yaml", [{"id": "orders", "queue": unique_name, "topic": topic}]
    )
    args = [
        "--playbook",
        str(book),
        "--workload",
        "orders",
        "--kafka",
        kafka_bootstrap,
        "--idle-exit",
        "6",
        "--max-in-flight",
        str(in_flight),
        "--batch-size",
        "100",
        "--metrics-port",
        "0",
    ]
    bridges = [Bridge(args, rabbitmq_uri), Bridge(args, rabbitmq_uri)]
    try:
        # both consume before anything is published, so neither drains it alone
        _wait(lambda: _consumers(rabbitmq_channel, unique_name) == 2, 60, "two consumers")
        ids = [f"id-{i}" for i in range(n)]
        # published from another connection while the bridges run, so a kill lands mid-stream
        publisher = threading.Thread(
            target=_publish_ids, args=(rabbitmq_uri, unique_name, ids), daemon=True
        )
        publisher.start()
        victim_acked = 0.0
        if kill_one:
            victim = bridges[0]
            _wait(
                lambda: (
                    _metric(victim.get("/metrics")[1], "mqmigrate_bridge_messages_acked_total")
                    >= n // 8
                ),
                60,
                "the first bridge to move a share",
            )
            victim_acked = _metric(
                victim.get("/metrics")[1], "mqmigrate_bridge_messages_acked_total"
            )
            assert publisher.is_alive()  # the kill lands while messages still flow
            victim.proc.send_signal(signal.SIGKILL)
            victim.kill()
            survivors = bridges[1:]
        else:
            survivors = bridges
        publisher.join(timeout=120)
        assert not publisher.is_alive()
        results = [b.finish(timeout=180) for b in survivors]
    finally:
        for b in bridges:
            b.kill()
    for code, _, err in results:
        assert code == 0, err[-2000:]
    acked = [s["workloads"][0]["acked"] for _, s, _ in results]
    assert all(s["workloads"][0]["stopped"] == "drained" for _, s, _ in results)

    got = Counter(source_ids(read_topic(kafka_bootstrap, topic, timeout=120)))
    lost = set(ids) - set(got)
    duplicates = sum(c - 1 for c in got.values())
    print(
        f"\n[two processes kill_one={kill_one}] messages={n} acked={acked} "
        f"victim_acked_before_kill={victim_acked:.0f} lost={len(lost)} duplicates={duplicates}"
    )
    assert not lost
    assert set(got) == set(ids)
    assert _depth(rabbitmq_channel, unique_name) == 0
    if kill_one:
        assert victim_acked > 0  # the killed one had moved a share
        # what the victim acked is gone from the queue, so the survivor moved only the rest,
        # except acks the victim counted that died with it unsent (batched acks, or still in
        # its socket at SIGKILL): those messages came back, and each is a duplicate in Kafka
        assert 0 < acked[0] <= n - victim_acked + duplicates
        assert duplicates <= in_flight  # the killed one's unacked window, redelivered
    else:
        assert all(a > 0 for a in acked)  # both moved a share
        assert sum(acked) == n
        assert duplicates == 0
