"""Retry with backoff through delay tiers, on the real broker.

Tiers are short (2 s and 5 s) so each test takes well under a minute.  "Early" is a record
handed to the handler before the due time its tier header promised; every test counts them
and requires 0.  Lateness (handled − due) is printed as p50 / p99.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from mqmigrate.kafka import delays
from mqmigrate.sdk import headers as H
from mqmigrate.errors import ConfigError
from mqmigrate.kafka import share
from mqmigrate.sdk.worker import PermanentError, RetryableError, Worker, WorkerMetrics
from tests.integration.test_worker import Env, env  # noqa: F401 (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

REPO = Path(__file__).resolve().parents[2]
TIERS = ("2s", "5s")


class TierEnv(Env):
    """Env plus the tier topics of TIERS; the group reads from the earliest offset."""

    def __init__(self, bootstrap: str, name: str):
        super().__init__(bootstrap, name)
        for tier in delays.DelayTiers(TIERS):
            share.create_topic(self.admin, tier.topic(self.topic))
            self.created.append(tier.topic(self.topic))
        self.group_config()


@pytest.fixture
def tenv(kafka_bootstrap, unique_name):
    made = TierEnv(kafka_bootstrap, unique_name)
    yield made
    made.cleanup()


class Log:
    """(value, attempt, topic, handled ms, due ms or None) of every handler call."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: list[tuple[str, int, str, int, int | None]] = []

    def add(self, message) -> None:
        due = message.mq.get(delays.DUE)
        with self.lock:
            self.calls.append(
                (
                    message.value.decode(),
                    message.delivery_count,
                    message.topic,
                    delays.now_ms(),
                    int(due) if due else None,
                )
            )

    def wait(self, predicate, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.calls)):
                    return
            time.sleep(0.05)
        raise AssertionError(f"not reached in {timeout}s: {self.calls[:30]}")


def early_and_lateness(calls) -> tuple[int, list[int]]:
    delayed = [(handled, due) for _, _, _, handled, due in calls if due is not None]
    early = sum(1 for handled, due in delayed if handled < due)
    return early, sorted(handled - due for handled, due in delayed)


def pct(values: list[int], q: float) -> int:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0


def start(env: Env, handler, **kwargs) -> Worker:
    worker = Worker(
        env.bootstrap,
        env.topic,
        env.group,
        handler,
        retry_tiers=TIERS,
        dlq_topic=env.dlq,
        install_signal_handlers=False,
        metrics=WorkerMetrics(CollectorRegistry()),
        **kwargs,
    )
    worker.start()
    return worker


def test_tiers_never_early_due_records_not_blocked_last_attempt_dead_letters_once(tenv):
    log = Log()

    def handler(message):
        log.add(message)
        value = message.value.decode()
        if value == "slow" and message.delivery_count == 1:
            raise RetryableError("wait the long tier", delay=4.2)  # rounded up to 5s
        if value.startswith("flaky") and message.delivery_count == 1:
            raise RetryableError("once")  # schedule: the 2s tier
        if value.startswith("bad"):
            raise RetryableError("always")  # 2s, 5s, then the DLQ (max_attempts 3)

    worker = start(tenv, handler)
    try:
        tenv.produce([b"slow"])
        log.wait(lambda calls: any(c[0] == "slow" for c in calls))
        # "slow" now waits in the 5s tier: what comes after must not wait for it
        produced_at = delays.now_ms()
        flaky = [f"flaky{i}".encode() for i in range(10)]
        bad = [f"bad{i}".encode() for i in range(3)]
        ok = [f"ok{i}".encode() for i in range(10)]
        tenv.produce(flaky + bad + ok)
        log.wait(
            lambda calls: (
                sum(1 for c in calls if c[0].startswith("bad") and c[1] == 3) == 3
                and any(c[0] == "slow" and c[1] == 2 for c in calls)
            ),
            timeout=45,
        )
        dead = tenv.read_dlq(3, timeout=20)
    finally:
        worker.stop()
        assert worker.join(timeout=60)
    calls = log.calls
    early, lateness = early_and_lateness(calls)
    print(
        f"\ndelayed handler calls {len(lateness)}: early {early}, lateness p50 "
        f"{pct(lateness, 0.5)} ms, p99 {pct(lateness, 0.99)} ms, max {max(lateness)} ms"
    )
    slowest = sorted(calls, key=lambda c: (c[4] is not None, c[3] - (c[4] or 0)))[-3:]
    print(
        "slowest:",
        [(v, a, topic.rsplit(".", 1)[-1], handled - due) for v, a, topic, handled, due in slowest],
    )
    assert early == 0
    by = {(v, a): (topic, handled) for v, a, topic, handled, _ in calls}
    # requested 4.2 s → the 5 s tier (never the 2 s one, which would be early)
    assert by[("slow", 2)][0] == f"{tenv.topic}.retry-5s"
    # not blocked: the main topic's records and the 2 s tier were handled while "slow" waited
    slow_at = by[("slow", 2)][1]
    assert all(by[(v.decode(), 1)][1] - produced_at < 3000 for v in ok)
    assert all(by[(v.decode(), 2)][1] < slow_at for v in flaky)
    assert all(by[(v.decode(), 2)][0] == f"{tenv.topic}.retry-2s" for v in flaky)
    # each record handled exactly as often as it should be: nothing lost, none repeated
    counts: dict[str, int] = {}
    for v, *_ in calls:
        counts[v] = counts.get(v, 0) + 1
    assert counts == {
        "slow": 2,
        **{v.decode(): 2 for v in flaky},
        **{v.decode(): 3 for v in bad},
        **{v.decode(): 1 for v in ok},
    }
    # the last attempt dead-letters exactly once, with the attempt count across tiers
    assert sorted(m.value() for m in dead) == sorted(bad)
    for m in dead:
        headers = {k: v.decode() for k, v in m.headers()}
        assert headers[H.ERROR_REASON] == "last-delivery"
        assert headers[H.ERROR_DELIVERY_COUNT] == "3"
        assert headers[H.ERROR_TOPIC] == f"{tenv.topic}.retry-5s"
        assert headers[delays.ORIGIN_TOPIC] == tenv.topic
        assert headers[H.SOURCE_ID] == f"id-{m.value().decode()}"


def test_a_missing_tier_topic_is_refused_at_start(env):
    env.group_config()
    worker = Worker(
        env.bootstrap,
        env.topic,
        env.group,
        lambda m: None,
        retry_tiers=TIERS,
        dlq_topic=env.dlq,
        install_signal_handlers=False,
        metrics=False,
    )
    with pytest.raises(ConfigError, match=r"retry-2s, .*retry-5s do not exist"):
        worker.start()


def test_a_delay_no_tier_covers_is_dead_lettered_not_retried_at_once(tenv):
    log = Log()

    def handler(message):
        log.add(message)
        raise RetryableError("needs an hour", delay="1h")

    worker = start(tenv, handler)
    try:
        tenv.produce([b"x"])
        dead = tenv.read_dlq(1, timeout=30)
    finally:
        worker.stop()
        assert worker.join(timeout=60)
    assert [m.value() for m in dead] == [b"x"]
    headers = {k: v.decode() for k, v in dead[0].headers()}
    assert headers[H.ERROR_REASON] == "bad-delay"
    assert "longer than the largest retry tier" in headers[H.ERROR_MESSAGE]
    assert [c[1] for c in log.calls] == [1]  # handled once: no immediate retry


def test_sigkill_while_records_wait_in_a_tier_loses_nothing_and_nothing_is_early(tenv, tmp_path):
    values = [f"k{i:02d}" for i in range(20)]
    tenv.produce([v.encode() for v in values])
    calls_file = tmp_path / "calls.txt"
    script = textwrap.dedent(f"""
        from mqmigrate.kafka import delays
        from mqmigrate.sdk.worker import RetryableError, Worker
        out = open({str(calls_file)!r}, "a", buffering=1)
        def handle(message):
            due = message.mq.get(delays.DUE) or "-"
            out.write(f"{{message.value.decode()}} {{message.delivery_count}} "
                      f"{{delays.now_ms()}} {{due}}\\n")
            if message.delivery_count == 1:
                raise RetryableError("later", delay=5)
        Worker({tenv.bootstrap!r}, {tenv.topic!r}, {tenv.group!r}, handle,
               retry_tiers={TIERS!r}, dlq_topic={tenv.dlq!r}, metrics=False).run()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if calls_file.exists() and len(calls_file.read_text().splitlines()) >= 20:
                break
            time.sleep(0.05)
        time.sleep(0.3)  # the last tier write acknowledged and ACCEPTed
        killed_at = delays.now_ms()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = [line.split() for line in calls_file.read_text().splitlines()]
    assert sorted(v for v, a, *_ in before if a == "1") == values, proc.stderr.read()[-2000:]
    retried_before_kill = [v for v, a, *_ in before if a == "2"]

    log = Log()
    worker = start(tenv, log.add)
    try:
        log.wait(
            lambda calls: (
                {c[0] for c in calls if c[1] == 2} >= set(values) - set(retried_before_kill)
            ),
            timeout=45,
        )
        time.sleep(1.5)  # anything extra would be a duplicate
    finally:
        worker.stop()
        assert worker.join(timeout=60)
    early, lateness = early_and_lateness(log.calls)
    early_before = sum(1 for _, a, t, due in before if due != "-" and int(t) < int(due))
    second = [c[0] for c in log.calls if c[1] == 2]
    lost = set(values) - set(second) - set(retried_before_kill)
    duplicates = len(second) + len(retried_before_kill) - len(values)
    print(
        f"\nSIGKILL at {killed_at}: {len(retried_before_kill)} retried before, "
        f"{len(second)} after; lost {len(lost)}, duplicates {duplicates}, early "
        f"{early + early_before}, lateness after restart p50 {pct(lateness, 0.5)} ms "
        f"p99 {pct(lateness, 0.99)} ms"
    )
    assert lost == set()
    assert early == 0 and early_before == 0
    assert all(c[2] == f"{tenv.topic}.retry-5s" for c in log.calls)
    assert 0 <= duplicates <= 2  # a crash between a handler's end and the offset commit


def test_broker_dlq_group_a_tier_record_is_dead_lettered_once_by_the_worker(tenv):
    """With a broker DLQ (KIP-1191) the main topic's REJECTs are the broker's to dead-letter;
    a tier record (a plain consumer cannot REJECT) is written to the same DLQ topic by the
    worker: each dead letter exactly once, whichever path."""
    share.delete_topic(tenv.admin, tenv.dlq)
    tenv.created.remove(tenv.dlq)
    share.create_topic(tenv.admin, tenv.dlq, config={"errors.deadletterqueue.group.enable": "true"})
    tenv.created.append(tenv.dlq)
    tenv.group_config(
        **{
            "errors.deadletterqueue.topic.name": tenv.dlq,
            "errors.deadletterqueue.copy.record.enable": "true",
        }
    )
    log = Log()

    def handler(message):
        log.add(message)
        if message.value == b"poison":
            raise PermanentError("bad")
        raise RetryableError("always")

    worker = Worker(
        tenv.bootstrap,
        tenv.topic,
        tenv.group,
        handler,
        retry_tiers=TIERS,
        max_attempts=2,
        install_signal_handlers=False,
        metrics=WorkerMetrics(CollectorRegistry()),
    )
    worker.start()
    try:
        tenv.produce([b"poison", b"retried"])
        dead = tenv.read_dlq(2, timeout=30)
    finally:
        worker.stop()
        assert worker.join(timeout=60)
    assert worker.dead_letter == "broker"
    assert sorted(m.value() for m in dead) == [b"poison", b"retried"]  # once each
    by_value = {m.value(): {k: v for k, v in m.headers()} for m in dead}
    assert by_value[b"poison"][H.BROKER_DLQ_MESSAGE] == b"Offset rejected by client."
    retried = by_value[b"retried"]
    assert retried[H.ERROR_REASON] == b"last-delivery"
    assert retried[H.ERROR_TOPIC] == f"{tenv.topic}.retry-2s".encode()
    assert retried[H.SOURCE_ID] == b"id-retried"
    assert [(v, a) for v, a, *_ in log.calls if v == "retried"] == [("retried", 1), ("retried", 2)]


def test_staggered_due_times_across_tier_partitions_are_handled_on_time(env):
    """Records wait in three partitions of a tier with due times 150 ms apart, round robin: the
    tier consumer pauses each partition on its head until due.  When it fetched a resumed
    partition again, librdkafka (every partition paused) fetched it only on its next 1 s
    wake-up, so about 4 in 10 of these records came 0.5-0.95 s late; each is to come within
    0.5 s of its due time, none before it."""
    tier = delays.DelayTiers(("2s",)).largest
    tier_topic = tier.topic(env.topic)
    share.create_topic(env.admin, tier_topic, partitions=3)
    env.created.append(tier_topic)
    env.group_config()
    log = Log()
    worker = Worker(
        env.bootstrap,
        env.topic,
        env.group,
        log.add,
        retry_tiers=("2s",),
        dlq_topic=env.dlq,
        install_signal_handlers=False,
        metrics=False,
    )
    worker.start()
    count, step_ms = 30, 150
    try:
        time.sleep(3)  # the tier consumer has joined its group and fetches
        producer = Producer({"bootstrap.servers": env.bootstrap, "acks": "all"})
        first_due = delays.now_ms() + 2000
        for i in range(count):
            headers = delays.tier_headers(
                due_ms=first_due + i * step_ms, attempt=1, tier=tier, origin_topic=env.topic
            )
            producer.produce(tier_topic, f"s{i:02d}".encode(), partition=i % 3, headers=headers)
        assert producer.flush(30) == 0
        log.wait(lambda calls: len(calls) >= count, timeout=30)
        time.sleep(0.5)  # anything more would be a duplicate
    finally:
        worker.stop()
        assert worker.join(timeout=60)
    early, lateness = early_and_lateness(log.calls)
    late = [ms for ms in lateness if ms > 500]
    print(
        f"\n{len(lateness)} staggered tier records: early {early}, lateness p50 "
        f"{pct(lateness, 0.5)} ms, p90 {pct(lateness, 0.9)} ms, max {max(lateness)} ms, "
        f"{len(late)} later than 500 ms"
    )
    assert sorted(c[0] for c in log.calls) == [f"s{i:02d}" for i in range(count)]
    assert early == 0
    assert all(c[1] == 2 for c in log.calls)  # the attempt count travels with the record
    assert len(late) <= 2, lateness
