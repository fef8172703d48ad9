"""The SQS bridge under crashes and a slow Kafka (docs/bridge.md, guarantees), on ElasticMQ and a Kafka
broker of this module's own (``private_kafka``), which the tests stop and restart.

* crash campaign: 100,000 messages with unique ids, the bridge SIGKILLed at random points 12
  times and the Kafka broker restarted under a running bridge; afterwards every id is in
  Kafka (lost = 0), duplicates are counted, and 0 with ``--effectively-once``;
* FIFO: each MessageGroupId's order in Kafka survives SIGKILLs (what exactly is asserted is
  in :func:`check_group_order`);
* visibility: Kafka down for longer than the queue's visibility timeout; the held messages
  stay invisible to another consumer meanwhile and land once, when Kafka is back.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.bridge import check_group_order, lost_and_duplicates, read_topic, source_ids
from mqmigrate.kafka.admin import QUARANTINE_TOPIC_CONFIG, ensure_topic
from tests.support.bridge import bridge_cmd
from tests.support.sqs import bridge_env, depth, send_batches, source_uri

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.sqs, pytest.mark.slow]

N = 100_000
KILLS = 12
#: short, so a killed bridge's messages come back quickly; a live bridge extends it
VISIBILITY = 5


@pytest.fixture
def kafka(private_kafka):
    """The private broker, started again after a test that stopped it and failed."""
    yield private_kafka
    if not private_kafka.service.is_running():
        private_kafka.start()


def _topic(bootstrap: str, name: str, partitions: int = 1) -> str:
    ensure_topic(bootstrap, name, partitions=partitions)
    ensure_topic(bootstrap, name + ".quarantine", config=QUARANTINE_TOPIC_CONFIG)
    return name


def _spawn(tmp_path: Path, run: int, cmd: list[str]) -> tuple[subprocess.Popen, Path, Path]:
    """A bridge whose output goes to files (a pipe nobody reads could block it)."""
    out, err = tmp_path / f"run{run}.out", tmp_path / f"run{run}.err"
    proc = subprocess.Popen(
        cmd,
        cwd=Path(__file__).resolve().parents[2],
        env=bridge_env(None),
        stdout=out.open("w"),
        stderr=err.open("w"),
        text=True,
    )
    return proc, out, err


def _wait_moving(sqs, url, proc, err: Path, timeout: float = 60) -> None:
    """Until this bridge has started and holds messages.  (In-flight messages alone could be
    a killed predecessor's, still invisible; its "bridge started" log line is this one's.)"""
    deadline = time.monotonic() + timeout
    while "bridge started" not in err.read_text():
        assert proc.poll() is None, err.read_text()[-2000:]
        assert time.monotonic() < deadline, "the bridge did not start"
        time.sleep(0.05)
    while depth(sqs, url)[1] == 0:
        assert proc.poll() is None, err.read_text()[-2000:]
        assert time.monotonic() < deadline, "the bridge never started moving messages"
        time.sleep(0.05)
    time.sleep(0.2)


def _final_drain(tmp_path, cmd) -> dict:
    proc, out, err = _spawn(tmp_path, 999, cmd)
    assert proc.wait(timeout=600) == 0, err.read_text()[-3000:]
    summary = json.loads(out.read_text())
    assert summary["stopped"] == "drained"
    return summary


# run once, in its strictest mode (lost 0 and duplicates 0): at-least-once after SIGKILLs, on
# every adapter, is test_bridge_scenarios.py::test_sigkill_and_restart_lose_nothing
@pytest.mark.parametrize("effectively_once", [True], ids=["effectively-once"])
def test_crash_campaign_100k_sigkills_and_kafka_restart_lose_nothing(
    effectively_once,
    elasticmq_sqs,
    elasticmq_queue,
    kafka,
    elasticmq_service,
    unique_name,
    tmp_path,
):
    began = time.monotonic()
    rng = random.Random()
    url = elasticmq_queue(VisibilityTimeout=VISIBILITY)
    topic = _topic(kafka.bootstrap, unique_name)
    ids = [f"id-{i}" for i in range(N)]
    send_batches(
        elasticmq_sqs,
        url,
        [
            {
                "MessageBody": f"{mid}:".ljust(100, "."),
                "MessageAttributes": {"mq-source-id": {"DataType": "String", "StringValue": mid}},
            }
            for mid in ids
        ],
        threads=8,
    )
    seeded = time.monotonic() - began
    assert sum(depth(elasticmq_sqs, url)) == N
    cmd = bridge_cmd(
        source_uri(elasticmq_service.endpoint_url),
        unique_name,
        kafka.bootstrap,
        topic,
        "--idle-exit",
        "3",
        "--max-in-flight",
        "2000",
    )
    if effectively_once:
        cmd.append("--effectively-once")

    kills, kafka_down = 0, 0.0
    for run in range(KILLS):
        proc, _out, err = _spawn(tmp_path, run, cmd)
        try:
            _wait_moving(elasticmq_sqs, url, proc, err)
            if run == KILLS // 2:
                # Kafka restarted under a running bridge: records wait in the producer, held
                # messages get their visibility extended, nothing is settled meanwhile
                kafka_down = kafka.restart(down_for=2.0)
                time.sleep(2.0)
                assert proc.poll() is None, err.read_text()[-2000:]
            time.sleep(rng.uniform(0.05, 1.5))
            assert proc.poll() is None, err.read_text()[-2000:]
            proc.send_signal(signal.SIGKILL)
            kills += 1
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    summary = _final_drain(tmp_path, cmd)

    lost, duplicates, unexpected = lost_and_duplicates(ids, kafka.bootstrap, topic, timeout=300)
    wall = time.monotonic() - began
    print(
        f"\n[sqs crash campaign effectively_once={effectively_once}] messages={N} "
        f"kills={kills} kafka_restart_s={kafka_down:.1f} lost={len(lost)} "
        f"duplicates={duplicates} seed_s={seeded:.1f} wall_s={wall:.1f} last_run={summary}"
    )
    assert kills == KILLS and kafka_down > 0
    assert not lost, f"{len(lost)} lost, e.g. {sorted(lost)[:5]}"
    assert not unexpected, sorted(unexpected)[:5]
    assert depth(elasticmq_sqs, url) == (0, 0)
    # the killed runs' held messages came back after their visibility timeout
    assert summary["redelivered"] > 0 or kills == 0
    if effectively_once:
        assert duplicates == 0
    else:
        assert duplicates <= KILLS * 2000  # bounded by the in-flight window per crash


@pytest.mark.parametrize(
    "effectively_once", [False, True], ids=["at-least-once", "effectively-once"]
)
def test_fifo_group_order_survives_sigkills(
    effectively_once,
    elasticmq_sqs,
    elasticmq_queue,
    kafka,
    elasticmq_service,
    unique_name,
    tmp_path,
):
    groups, per_group, kills_wanted = 8, 600, 4
    url = elasticmq_queue(FifoQueue=True, VisibilityTimeout=3)
    topic = _topic(kafka.bootstrap, unique_name, partitions=3)

    def send_group(g: int) -> None:  # one sender per group keeps its send order
        send_batches(
            elasticmq_sqs,
            url,
            [
                {
                    "MessageBody": f"g{g}:{i}",
                    "MessageGroupId": f"g{g}",
                    "MessageDeduplicationId": f"g{g}-{i}",
                }
                for i in range(per_group)
            ],
            threads=1,
        )

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(groups) as pool:
        list(pool.map(send_group, range(groups)))
    cmd = bridge_cmd(
        source_uri(elasticmq_service.endpoint_url),
        unique_name + ".fifo",
        kafka.bootstrap,
        topic,
        "--idle-exit",
        "4",
        "--max-in-flight",
        "500",
    )
    if effectively_once:
        cmd.append("--effectively-once")
    rng = random.Random()
    kills = 0
    for run in range(kills_wanted):
        proc, _out, err = _spawn(tmp_path, run, cmd)
        try:
            _wait_moving(elasticmq_sqs, url, proc, err)
            time.sleep(rng.uniform(0.05, 0.6))
            assert proc.poll() is None, err.read_text()[-2000:]
            proc.send_signal(signal.SIGKILL)
            kills += 1
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    _final_drain(tmp_path, cmd)

    by_group: dict[bytes, list[int]] = defaultdict(list)
    for record in read_topic(kafka.bootstrap, topic):  # partition order within each key
        group, _, pos = record.value().decode().partition(":")
        assert record.key() == group.encode()  # key = MessageGroupId
        by_group[record.key()].append(int(pos))
    assert len(by_group) == groups
    rewinds = {g.decode(): check_group_order(seq, per_group) for g, seq in by_group.items()}
    print(f"\n[sqs fifo effectively_once={effectively_once}] kills={kills} rewinds={rewinds}")
    assert kills == kills_wanted
    if effectively_once:
        assert not any(rewinds.values())
    assert depth(elasticmq_sqs, url) == (0, 0)


def test_visibility_extended_while_kafka_is_down(
    elasticmq_sqs, elasticmq_queue, kafka, elasticmq_service, unique_name, tmp_path
):
    visibility = 3
    url = elasticmq_queue(VisibilityTimeout=visibility)
    topic = _topic(kafka.bootstrap, unique_name)
    cmd = bridge_cmd(
        source_uri(elasticmq_service.endpoint_url),
        unique_name,
        kafka.bootstrap,
        topic,
        "--idle-exit",
        "600",
    )
    proc, out, err = _spawn(tmp_path, 0, cmd)
    try:
        deadline = time.monotonic() + 60
        while "bridge started" not in err.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, err.read_text()[-2000:]
            time.sleep(0.1)
        kafka.stop()
        ids = [f"v-{i}" for i in range(20)]
        send_batches(
            elasticmq_sqs,
            url,
            [
                {
                    "MessageBody": mid,
                    "MessageAttributes": {
                        "mq-source-id": {"DataType": "String", "StringValue": mid}
                    },
                }
                for mid in ids
            ],
        )
        deadline = time.monotonic() + 30
        while depth(elasticmq_sqs, url) != (0, 20) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert depth(elasticmq_sqs, url) == (0, 20), "the bridge did not take the messages"
        # another consumer polls for 4 visibility timeouts while Kafka is down: it must get
        # nothing, the bridge keeps extending what it holds
        stolen = []
        until = time.monotonic() + 4 * visibility
        while time.monotonic() < until:
            stolen += elasticmq_sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=0
            ).get("Messages", [])
        assert not stolen, f"{len(stolen)} messages reappeared while the bridge held them"
        assert proc.poll() is None
        kafka.start()
        deadline = time.monotonic() + 120
        while depth(elasticmq_sqs, url) != (0, 0) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert depth(elasticmq_sqs, url) == (0, 0), "not settled after Kafka came back"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, err.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    summary = json.loads(out.read_text())
    assert summary["acked"] == 20 and summary["redelivered"] == 0
    assert sorted(source_ids(read_topic(kafka.bootstrap, topic))) == sorted(ids)  # once each
