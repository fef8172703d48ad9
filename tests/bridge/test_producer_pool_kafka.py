"""ProducerPool against the sandbox's Kafka: workloads of one process share one librdkafka
producer, and each one's delivery reports come back to it whichever thread polls."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.bridge import read_topic
from mqmigrate.kafka.producer import ProducerPool

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

N = 2000


def test_views_share_one_producer_and_each_gets_only_its_own_reports(
    kafka_bootstrap, kafka_topics, unique_name
):
    topic_a = kafka_topics(unique_name + "-a", quarantine=False)
    topic_b = kafka_topics(unique_name + "-b", quarantine=False)
    pool = ProducerPool()
    view_a, view_b = pool.producer(kafka_bootstrap), pool.producer(kafka_bootstrap)
    assert len(pool) == 1
    reports: dict[str, list] = {"a": [], "b": []}
    a_sent = threading.Event()

    def writer_a() -> None:
        # sends, then only takes: its reports must arrive through b's polls
        for i in range(N):
            assert (
                view_a.send(
                    topic_a, b"a%d" % i, key=None, headers=[], timestamp_ms=None, token=("a", i)
                )
                is None
            )
        a_sent.set()
        deadline = time.monotonic() + 60
        while len(reports["a"]) < N and time.monotonic() < deadline:
            reports["a"].extend(view_a.take())
            time.sleep(0.01)

    def writer_b() -> None:
        for i in range(N):
            assert (
                view_b.send(
                    topic_b, b"b%d" % i, key=None, headers=[], timestamp_ms=None, token=("b", i)
                )
                is None
            )
        deadline = time.monotonic() + 60
        while (len(view_b) or not a_sent.is_set() or len(view_a)) and time.monotonic() < deadline:
            reports["b"].extend(view_b.poll(0.05))

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert sorted(tok for tok, _ in reports["a"]) == [("a", i) for i in range(N)]
    assert sorted(tok for tok, _ in reports["b"]) == [("b", i) for i in range(N)]
    assert all(failure is None for _, failure in reports["a"] + reports["b"])
    assert len(view_a) == 0 and len(view_b) == 0
    assert sorted(r.value() for r in read_topic(kafka_bootstrap, topic_a)) == sorted(
        b"a%d" % i for i in range(N)
    )
    assert len(read_topic(kafka_bootstrap, topic_b)) == N


def test_a_different_producer_configuration_gets_its_own_producer(kafka_bootstrap):
    pool = ProducerPool()
    pool.producer(kafka_bootstrap)
    pool.producer(kafka_bootstrap, {"linger.ms": 5})  # the default: the same producer
    assert len(pool) == 1
    pool.producer(kafka_bootstrap, {"linger.ms": 50})
    assert len(pool) == 2


def test_an_idle_view_flushes_at_once_and_a_busy_one_waits_for_its_records(
    kafka_bootstrap, kafka_topics, unique_name
):
    topic = kafka_topics(unique_name, quarantine=False)
    pool = ProducerPool()
    idle, busy = pool.producer(kafka_bootstrap), pool.producer(kafka_bootstrap)
    for i in range(100):
        busy.send(topic, b"x", key=None, headers=[], timestamp_ms=None, token=i)
    assert len(idle) == 0 and idle.flush(0) == 0 and idle.take() == []
    assert busy.flush(30) == 0
    assert len(busy) == 100  # reported, not taken yet
    assert sorted(tok for tok, failure in busy.take() if failure is None) == list(range(100))
    assert len(busy) == 0
