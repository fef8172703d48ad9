"""Crash campaign for the AMQP 1.0 source on ActiveMQ Artemis (docs/bridge.md, guarantees).

100,000 messages with unique ids are published into an Artemis anycast queue; the bridge (``python -m mqmigrate bridge``) is SIGKILLed at a random point of
each run, at least 10 times, and its Kafka broker (a private one, so the shared sandbox is
left alone) is restarted in the middle of one run.  A last run drains the rest.  Afterwards
every id is in Kafka (lost = 0); the duplicate count is printed, and is 0 with
``--effectively-once``.  ``MQMIGRATE_CRASH_MESSAGES`` shrinks the campaign for a quick look.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from tests.support.amqp1 import Artemis, numbered, publish, start_bridge
from tests.support.bridge import lost_and_duplicates
from mqmigrate.kafka.admin import QUARANTINE_TOPIC_CONFIG, ensure_topic

pytestmark = [pytest.mark.integration, pytest.mark.amqp1, pytest.mark.kafka, pytest.mark.slow]

N = int(os.environ.get("MQMIGRATE_CRASH_MESSAGES", "100000"))
KILLS = 10
#: the Kafka restart happens during the run after this many kills
KAFKA_RESTART_AFTER = 5
IN_FLIGHT = 1000


def _acknowledged(artemis: Artemis, queue: str) -> int:
    """Messages the broker has seen acknowledged on ``queue`` (moves only when the bridge
    settles, unlike the depth, which publishing raises at the same time)."""
    pattern = (
        f'org.apache.activemq.artemis:broker="mqmigrate",component=addresses,address=*,'
        f'subcomponent=queues,routing-type=*,queue="{queue}"'
    )
    value = artemis.service.jolokia(
        {"type": "read", "mbean": pattern, "attribute": "MessagesAcknowledged"}
    )
    return int(next(iter(value.values()))["MessagesAcknowledged"])


# run once, in its strictest mode (lost 0 and duplicates 0): at-least-once after SIGKILLs, on
# every adapter, is test_bridge_scenarios.py::test_sigkill_and_restart_lose_nothing
@pytest.mark.parametrize("effectively_once", [True], ids=["effectively-once"])
def test_sigkill_ten_times_and_kafka_restart_lose_nothing(
    effectively_once, artemis_service, private_kafka, unique_name
):
    began = time.monotonic()
    rng = random.Random()
    artemis = Artemis(artemis_service)
    artemis.create_queue(unique_name)
    bootstrap = private_kafka.bootstrap
    topic = unique_name
    ensure_topic(bootstrap, topic, partitions=3)
    ensure_topic(bootstrap, topic + ".quarantine", config=QUARANTINE_TOPIC_CONFIG)
    ids = [f"id-{i}" for i in range(N)]
    args = [
        "--idle-exit",
        "3",
        "--max-in-flight",
        str(IN_FLIGHT),
        "--reconnect-timeout",
        "120",
        "--management-url",
        artemis.management_url,
    ]
    if effectively_once:
        args.append("--effectively-once")

    published = publish(
        artemis.url,
        unique_name,
        numbered(N, size=128),
        user=artemis.user,
        password=artemis.password,
    )
    assert published == N
    publish_s = time.monotonic() - began
    kills = 0
    kafka_restart_s = None
    try:
        for run in range(KILLS):
            proc = start_bridge(artemis.uri, unique_name, bootstrap, topic, *args)
            try:
                start_acked = _acknowledged(artemis, unique_name)
                deadline = time.monotonic() + 120
                # kill once it is really settling messages, at a random point of its run
                while _acknowledged(artemis, unique_name) <= start_acked:
                    assert proc.poll() is None, proc.stderr.read()[-2000:]
                    assert time.monotonic() < deadline, "the bridge moved nothing in 120 s"
                    time.sleep(0.05)
                if run == KAFKA_RESTART_AFTER:
                    kafka_restart_s = private_kafka.restart(down_for=2.0, hard=True)
                    moved = _acknowledged(artemis, unique_name)
                    while _acknowledged(artemis, unique_name) <= moved:  # moving again
                        assert proc.poll() is None, proc.stderr.read()[-2000:]
                        assert time.monotonic() < deadline + 120, "no progress after restart"
                        time.sleep(0.05)
                # each run moves a small random part of N (1-5 %) whatever the bridge's speed,
                # so that every kill and the last drain still find messages in the queue
                target = _acknowledged(artemis, unique_name) + rng.randint(N // 100, N // 20)
                while _acknowledged(artemis, unique_name) < target:
                    assert proc.poll() is None, proc.stderr.read()[-2000:]
                    assert time.monotonic() < deadline + 240, "the bridge stopped moving"
                    time.sleep(0.02)
                assert proc.poll() is None, proc.stderr.read()[-2000:]
                proc.send_signal(signal.SIGKILL)
                kills += 1
            finally:
                proc.wait(timeout=30)
                proc.stdout.close()
                proc.stderr.close()
        # a last run drains what is left and exits on its own
        proc = start_bridge(artemis.uri, unique_name, bootstrap, topic, *args)
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-2000:]
        summary = json.loads(out)
        assert summary["stopped"] == "drained"
        lost, duplicates, unexpected = lost_and_duplicates(ids, bootstrap, topic, timeout=180)
        print(
            f"\n[amqp1 crash campaign effectively_once={effectively_once}] messages={N} "
            f"kills={kills} kafka_restart_healthy_after={kafka_restart_s:.1f}s lost={len(lost)} "
            f"duplicates={duplicates} publish={publish_s:.0f}s "
            f"wall={time.monotonic() - began:.0f}s "
            f"last_run={summary}"
        )
        assert kills == KILLS and kafka_restart_s is not None
        assert not lost, f"{len(lost)} lost, e.g. {sorted(lost)[:5]}"
        assert not unexpected, sorted(unexpected)[:5]
        assert artemis.count(unique_name) == 0
        if effectively_once:
            assert duplicates == 0
        else:
            assert duplicates <= (KILLS + 1) * IN_FLIGHT  # the in-flight window per crash
    finally:
        artemis.cleanup(unique_name)
