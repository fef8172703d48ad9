"""kill -9 the bridge mid-drain, restart the brokers under it, and prove nothing was lost
(docs/bridge.md, guarantees).

The campaign runs against a RabbitMQ node and a Kafka broker of this module's own
(``private_rabbitmq``, ``private_kafka``): restarting the shared sandbox would break every other
test.  ``CRASH_SEED=N`` replays a campaign's random kill points."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pika
import pytest

from tests.support.bridge import lost_and_duplicates, read_topic, source_ids
from tests.support.brokers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.rabbitmq, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
#: the crash campaign (issue #5 Proof): messages, SIGKILLs, in-flight window
N = 100_000
KILLS = 10
WINDOW = 2000


def _depth(rabbitmq_channel, queue) -> int:
    return rabbitmq_channel.queue_declare(queue, passive=True).method.message_count


def _bridge(rabbitmq_uri, queue, bootstrap, topic, effectively_once, *extra) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "mqmigrate",
        "bridge",
        "--source",
        rabbitmq_uri,
        "--queue",
        queue,
        "--kafka",
        bootstrap,
        "--topic",
        topic,
        "--idle-exit",
        "2",
        "--max-in-flight",
        str(WINDOW),
        "--log-format",
        "json",
        *extra,
    ]
    if effectively_once:
        cmd.append("--effectively-once")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


class Queue:
    """Depth of one queue on a broker that may be restarting (a fresh connection per look)."""

    def __init__(self, rabbitmq_uri: str, name: str):
        self.params = pika.URLParameters(rabbitmq_uri)
        self.name = name

    def depth(self) -> int | None:
        try:
            conn = pika.BlockingConnection(self.params)
        except pika.exceptions.AMQPError:
            return None
        try:
            return _depth(conn.channel(), self.name)
        except pika.exceptions.AMQPError:
            return None
        finally:
            if conn.is_open:
                conn.close()

    def fill(self, ids: list[str], size: int = 256) -> None:
        """Publish persistent messages with these ids, then wait until the queue holds all."""
        conn = pika.BlockingConnection(self.params)
        ch = conn.channel()
        ch.queue_declare(self.name, durable=True)
        for mid in ids:
            ch.basic_publish(
                "",
                self.name,
                mid.encode().ljust(size, b"."),
                pika.BasicProperties(message_id=mid, delivery_mode=2),
            )
        conn.close()
        deadline = time.monotonic() + 120
        while self.depth() != len(ids):  # no confirms (fast), so count what arrived
            assert time.monotonic() < deadline, f"{self.name} never held {len(ids)} messages"
            time.sleep(0.1)

    def wait_moving(self, proc: subprocess.Popen, by: int = 1, timeout: float = 90) -> None:
        """Until the bridge has taken ``by`` messages (the depth went down that much; the
        first prefetch-full goes at once, before any write) or the queue is empty."""
        start = self.depth()
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            now = self.depth()
            if start is None:
                start = now
            elif now is not None and (now <= start - by or now == 0):
                return
            assert time.monotonic() < deadline, "the bridge never started moving messages"
            time.sleep(0.01)


def _metrics(port: int) -> dict[str, float]:
    """The bridge's own counters, from its /metrics endpoint (None while it starts)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith("mqmigrate_bridge_") and not line.startswith("#"):
            name, value = line.split("{", 1)[0], line.rsplit(" ", 1)[1]
            out[name] = float(value)
    return out


def _wait_metric(
    port: int, proc: subprocess.Popen, name: str, above: float, timeout: float = 180
) -> float:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        value = _metrics(port).get(name, -1)
        if value > above:
            return value
        assert time.monotonic() < deadline, f"{name} stayed at {value} (wanted > {above})"
        time.sleep(0.1)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()


# run once, in its strictest mode (lost 0 and duplicates 0): at-least-once after SIGKILLs, on
# every adapter, is test_bridge_scenarios.py::test_sigkill_and_restart_lose_nothing
@pytest.mark.parametrize("effectively_once", [True], ids=["effectively-once"])
def test_crash_campaign_loses_nothing(
    effectively_once, private_rabbitmq, private_kafka, unique_name
):
    """100k messages; the bridge SIGKILLed at random points KILLS times, RabbitMQ restarted
    under one bridge and Kafka under another (each bridge must carry on by itself); then every
    id is in Kafka, duplicates are counted (0 in effectively-once mode)."""
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    began = time.monotonic()
    rabbitmq_uri, bootstrap = private_rabbitmq.amqp_uri, private_kafka.bootstrap
    queue = Queue(rabbitmq_uri, unique_name)
    topic = unique_name
    ids = [f"id-{i}" for i in range(N)]
    queue.fill(ids)
    filled = time.monotonic()

    def killed_at_random(when: str) -> None:
        proc = _bridge(
            rabbitmq_uri, unique_name, bootstrap, topic, effectively_once, "--create-topics"
        )
        try:
            # a random point of its run, measured in progress so that the campaign never
            # runs out of messages before its broker restarts, however fast the machine:
            # from "prefetched, nothing written yet" to a few thousand messages moved
            queue.wait_moving(proc, by=rng.randint(100, 5000))
        finally:
            assert proc.poll() is None, f"bridge exited before its kill ({when})"
            _kill(proc)
        events.append(f"kill {when} depth={queue.depth()}")

    def carries_on_through(restart, name: str, counter: str) -> None:
        """A bridge keeps running while ``restart`` bounces a broker, then moves on by itself
        (``counter`` grows after the broker is back); then it is killed too."""
        port = free_port()
        proc = _bridge(
            rabbitmq_uri,
            unique_name,
            bootstrap,
            topic,
            effectively_once,
            "--create-topics",
            "--metrics-port",
            str(port),
        )
        try:
            queue.wait_moving(proc)
            _wait_metric(port, proc, "mqmigrate_bridge_messages_acked_total", 0)
            took = restart(down_for=rng.uniform(0.5, 2.0))
            back = _metrics(port)
            after = _wait_metric(port, proc, counter, back.get(counter, 0))
            reconnects = _metrics(port)["mqmigrate_bridge_source_reconnects_total"]
            events.append(
                f"{name} restarted (healthy after {took:.1f}s); the same bridge "
                f"went on: {counter}={after:.0f}, source_reconnects={reconnects:.0f}"
            )
            if name == "rabbitmq":
                assert reconnects >= 1
            time.sleep(rng.uniform(0.05, 0.3))
        finally:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            _kill(proc)
        events.append(f"kill after {name} restart depth={queue.depth()}")

    events: list[str] = []
    kills_before = rng.randint(2, 4)
    for _ in range(kills_before):
        killed_at_random(f"#{len(events) + 1}")
    carries_on_through(
        private_rabbitmq.restart, "rabbitmq", "mqmigrate_bridge_messages_acked_total"
    )
    for _ in range(rng.randint(2, 4)):
        killed_at_random("random")
    carries_on_through(private_kafka.restart, "kafka", "mqmigrate_bridge_messages_out_total")
    kills = sum(e.startswith("kill") for e in events)
    while kills < KILLS:
        killed_at_random("random")
        kills += 1

    # a last run drains what is left and exits on its own
    proc = _bridge(rabbitmq_uri, unique_name, bootstrap, topic, effectively_once)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["stopped"] == "drained"

    lost, duplicates, unexpected = lost_and_duplicates(ids, bootstrap, topic, timeout=180)
    print(
        f"\n[crash campaign effectively_once={effectively_once} seed={seed}] messages={N} "
        f"kills={kills} lost={len(lost)} duplicates={duplicates} "
        f"fill={filled - began:.0f}s campaign={time.monotonic() - filled:.0f}s "
        f"last_run={summary}"
    )
    print("\n".join(events))
    assert kills >= KILLS
    assert not lost, f"{len(lost)} lost, e.g. {sorted(lost)[:5]} (seed {seed})"
    assert not unexpected, sorted(unexpected)[:5]
    assert queue.depth() == 0
    if effectively_once:
        assert duplicates == 0, f"seed {seed}"
    else:
        # each kill or broker restart can duplicate at most the unacked window
        assert duplicates <= (kills + 2) * WINDOW


@pytest.mark.parametrize(
    "sig,code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)], ids=["sigterm-0", "sigint-130"]
)
def test_signal_stops_gracefully_with_documented_exit_code(
    sig,
    code,
    rabbitmq_channel,
    rabbitmq_names,
    kafka_topics,
    kafka_bootstrap,
    rabbitmq_uri,
    unique_name,
):
    rabbitmq_channel.queue_declare(unique_name, durable=True)
    rabbitmq_names.append(("queue", unique_name))
    topic = kafka_topics(unique_name)
    for i in range(100):
        rabbitmq_channel.basic_publish(
            "", unique_name, b"x", pika.BasicProperties(message_id=f"s-{i}")
        )
    cmd = [
        sys.executable,
        "-m",
        "mqmigrate",
        "bridge",
        "--source",
        rabbitmq_uri,
        "--queue",
        unique_name,
        "--kafka",
        kafka_bootstrap,
        "--topic",
        topic,
        "--idle-exit",
        "600",
        "--metrics-port",
        "0",
        "--log-format",
        "json",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _depth(rabbitmq_channel, unique_name) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == code, err[-2000:]
    summary = json.loads(out)
    assert summary["stopped"] == "signal" and summary["acked"] == 100
    assert summary["in_flight"] == 0
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line["msg"].startswith("bridge stopped") for line in logs)
    assert "guest:guest" not in err  # credentials never logged
    assert len(source_ids(read_topic(kafka_bootstrap, topic))) == 100
