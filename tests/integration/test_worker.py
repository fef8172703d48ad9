"""The share-group worker SDK on the real broker: ACCEPT / RELEASE / DLQ-then-REJECT,
the last delivery attempt, concurrency, graceful shutdown and the source-style adapters.

Every test has its own topic, DLQ topic and group; the group's ``share.auto.offset.reset`` is
set to ``earliest`` before the first member joins so records produced first are served.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from prometheus_client import CollectorRegistry

from mqmigrate.sdk import headers as H
from mqmigrate.errors import ConfigError, WorkerError
from mqmigrate.kafka import share
from mqmigrate.sdk.worker import (
    PermanentError,
    RetryableError,
    Worker,
    WorkerMetrics,
    from_pika_callback,
    from_sqs_handler,
)

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

REPO = Path(__file__).resolve().parents[2]


class Env:
    """A topic, a DLQ topic and a group made for one test, deleted afterwards."""

    def __init__(self, bootstrap: str, name: str, partitions: int = 1):
        self.bootstrap = bootstrap
        self.admin = share.admin_client(bootstrap)
        self.topic = name
        self.dlq = f"dlq.{name}"
        self.group = f"g-{name}"
        self.created: list[str] = []
        for topic, parts in ((self.topic, partitions), (self.dlq, 1)):
            share.create_topic(self.admin, topic, partitions=parts)
            self.created.append(topic)

    def group_config(self, **configs: str) -> None:
        share.set_group_configs(
            self.admin, self.group, {"share.auto.offset.reset": "earliest", **configs}
        )

    def produce(
        self, values: list[bytes], ids: bool = True, headers: list | None = None
    ) -> list[str]:
        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all"})
        sent = []
        for value in values:
            message_id = f"id-{value.decode()}"
            extra = [(H.SOURCE_ID, message_id.encode())] if ids else []
            producer.produce(self.topic, value, key=b"k-" + value, headers=extra + (headers or []))
            sent.append(message_id)
        assert producer.flush(30) == 0
        return sent

    def read_dlq(self, count: int, timeout: float = 30.0, topic: str | None = None) -> list:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"r-{uuid.uuid4()}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic or self.dlq])
        got = []
        deadline = time.monotonic() + timeout
        try:
            while len(got) < count and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is not None and msg.error() is None:
                    got.append(msg)
            # a little longer: anything extra would be a duplicate dead letter
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                msg = consumer.poll(0.3)
                if msg is not None and msg.error() is None:
                    got.append(msg)
        finally:
            consumer.close()
        return got

    def cleanup(self) -> None:
        for topic in self.created:
            share.delete_topic(self.admin, topic)


@pytest.fixture
def env(kafka_bootstrap, unique_name):
    made = Env(kafka_bootstrap, unique_name)
    yield made
    made.cleanup()


class Recorder:
    """Thread-safe log of (value, delivery_count) the handler saw."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: list[tuple[bytes, int]] = []
        self.messages = []
        self.threads: set[str] = set()

    def add(self, message) -> None:
        with self.lock:
            self.seen.append((message.value, message.delivery_count))
            self.messages.append(message)
            self.threads.add(threading.current_thread().name)

    def wait(self, predicate, timeout: float = 45.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.seen)):
                    return
            time.sleep(0.1)
        raise AssertionError(f"not reached within {timeout}s; seen {self.seen[:20]}")


def run_worker(env: Env, handler, **kwargs) -> Worker:
    kwargs.setdefault("metrics", WorkerMetrics(CollectorRegistry()))
    worker = Worker(
        env.bootstrap, env.topic, env.group, handler, install_signal_handlers=False, **kwargs
    )
    worker.start()
    return worker


def stop(worker: Worker) -> None:
    worker.stop()
    assert worker.join(timeout=60), "worker did not stop within 60 s"


def metric(worker: Worker, name: str) -> float:
    counter = getattr(worker.metrics, name)
    return counter.labels(worker.group)._value.get()


def quiet(recorder: Recorder, seconds: float = 4.0) -> int:
    """How many more deliveries arrive during ``seconds`` (redeliveries would show up)."""
    before = len(recorder.seen)
    time.sleep(seconds)
    return len(recorder.seen) - before


def test_success_is_accepted_and_not_redelivered(env):
    env.group_config()
    env.produce([b"a", b"b", b"c"])
    rec = Recorder()
    worker = run_worker(env, rec.add)
    try:
        rec.wait(lambda seen: len(seen) >= 3)
        assert quiet(rec) == 0
    finally:
        stop(worker)
    assert sorted(rec.seen) == [(b"a", 1), (b"b", 1), (b"c", 1)]
    assert {m.message_id for m in rec.messages} == {"id-a", "id-b", "id-c"}
    assert rec.messages[0].key.startswith(b"k-")
    assert metric(worker, "processed") == 3
    assert worker.metrics.latency.labels(worker.group)._sum.get() > 0
    # a new member of the same group gets nothing: the records were ACCEPTed
    again = Recorder()
    second = run_worker(env, again.add)
    try:
        assert quiet(again, 4.0) == 0
    finally:
        stop(second)


def test_retryable_error_redelivers_with_delivery_count_two(env):
    env.group_config()
    env.produce([b"flaky"])
    rec = Recorder()

    def handler(message):
        rec.add(message)
        if message.delivery_count == 1:
            raise RetryableError("try again")

    worker = run_worker(env, handler, dlq_topic=env.dlq)
    try:
        rec.wait(lambda seen: len(seen) >= 2)
        assert quiet(rec, 3.0) == 0
    finally:
        stop(worker)
    assert rec.seen == [(b"flaky", 1), (b"flaky", 2)]
    assert metric(worker, "released") == 1 and metric(worker, "processed") == 1
    assert env.read_dlq(1, timeout=3) == []


def test_permanent_error_goes_to_the_dlq_with_error_headers(env):
    env.group_config()
    env.produce([b"poison", b"fine"], headers=[("app", b"x")])
    rec = Recorder()

    def handler(message):
        rec.add(message)
        if message.value == b"poison":
            raise PermanentError("cannot parse poison")

    worker = run_worker(env, handler, dlq_topic=env.dlq)
    try:
        rec.wait(lambda seen: len(seen) >= 2)
        assert quiet(rec) == 0  # REJECTed: not redelivered
    finally:
        stop(worker)
    assert worker.dead_letter == "worker"
    assert sorted(rec.seen) == [(b"fine", 1), (b"poison", 1)]
    [dead] = env.read_dlq(1)
    headers = dict(dead.headers())
    assert dead.value() == b"poison" and dead.key() == b"k-poison"
    assert headers[H.SOURCE_ID] == b"id-poison"
    assert headers["app"] == b"x"
    assert headers[H.ERROR_TYPE] == b"mqmigrate.sdk.worker.PermanentError"
    assert headers[H.ERROR_MESSAGE] == b"cannot parse poison"
    assert headers[H.ERROR_DELIVERY_COUNT] == b"1"
    assert headers[H.ERROR_TOPIC] == env.topic.encode()
    assert headers[H.ERROR_PARTITION] == b"0"
    assert headers[H.ERROR_OFFSET] == b"0"
    assert headers[H.ERROR_REASON] == b"permanent"
    assert metric(worker, "dead_lettered") == 1 and metric(worker, "rejected") == 1


def test_last_delivery_attempt_is_dead_lettered(env):
    env.group_config(**{"share.delivery.count.limit": "2"})
    env.produce([b"doomed"])
    rec = Recorder()

    def handler(message):
        rec.add(message)
        raise RetryableError("still failing")

    worker = run_worker(env, handler, dlq_topic=env.dlq)
    try:
        rec.wait(lambda seen: len(seen) >= 2)
        assert quiet(rec) == 0
    finally:
        stop(worker)
    assert worker.delivery_limit == 2  # read from the group config at start
    assert rec.seen == [(b"doomed", 1), (b"doomed", 2)]
    [dead] = env.read_dlq(1)
    headers = dict(dead.headers())
    assert headers[H.ERROR_REASON] == b"last-delivery"
    assert headers[H.ERROR_DELIVERY_COUNT] == b"2"
    assert headers[H.ERROR_TYPE] == b"mqmigrate.sdk.worker.RetryableError"
    assert headers[H.SOURCE_ID] == b"id-doomed"


def test_concurrency_three_processes_300_records_exactly_once(kafka_bootstrap, unique_name):
    env = Env(kafka_bootstrap, unique_name, partitions=3)
    try:
        env.group_config()
        values = [b"v%03d" % i for i in range(300)]
        env.produce(values)
        rec = Recorder()

        def handler(message):
            time.sleep(0.002)  # some work, so the three threads overlap
            rec.add(message)

        worker = run_worker(env, handler, concurrency=3, max_poll_records=20)
        try:
            rec.wait(lambda seen: len(seen) >= 300, timeout=90)
            assert quiet(rec, 3.0) == 0
        finally:
            stop(worker)
        counts = collections.Counter(value for value, _ in rec.seen)
        assert set(counts) == set(values)
        assert set(counts.values()) == {1}, [v for v, n in counts.items() if n > 1][:10]
        assert len(rec.threads) >= 2, rec.threads  # the work was shared
    finally:
        env.cleanup()


def test_stop_mid_run_finishes_in_flight_and_leaves_the_rest(env):
    env.group_config()
    values = [b"s%02d" % i for i in range(40)]
    env.produce(values)
    rec = Recorder()
    in_handler = threading.Event()

    def slow(message):
        in_handler.set()
        time.sleep(0.2)
        rec.add(message)  # recorded at the end: a handler cut short would be missing

    worker = run_worker(env, slow, max_poll_records=20)
    rec.wait(lambda seen: len(seen) >= 5)
    worker.stop()
    assert worker.join(timeout=30)
    first = [v for v, _ in rec.seen]
    assert 5 <= len(first) < 40
    rest = Recorder()
    second = run_worker(env, rest.add)
    try:
        rest.wait(lambda seen: len(seen) >= 40 - len(first))
        assert quiet(rest, 3.0) == 0
    finally:
        stop(second)
    later = [v for v, _ in rest.seen]
    assert sorted(first + later) == values  # lost = 0, duplicated = 0


def test_sigterm_mid_run_exits_and_nothing_is_lost(env, tmp_path):
    env.group_config()
    values = [b"t%02d" % i for i in range(40)]
    env.produce(values)
    done_file = tmp_path / "done.txt"
    script = textwrap.dedent(f"""
        import time
        from mqmigrate.sdk.worker import Worker
        out = open({str(done_file)!r}, "a", buffering=1)
        def handle(message):
            time.sleep(0.2)
            out.write(message.value.decode() + "\\n")
        worker = Worker({env.bootstrap!r}, {env.topic!r}, {env.group!r}, handle,
                        max_poll_records=20, metrics=False)
        worker.run()
        print("clean exit after signal", worker.stopped_by_signal, flush=True)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if done_file.exists() and len(done_file.read_text().split()) >= 5:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert f"clean exit after signal {int(signal.SIGTERM)}" in out
    first = done_file.read_text().split()
    assert 5 <= len(first) < 40
    rest = Recorder()
    second = run_worker(env, rest.add)
    try:
        rest.wait(lambda seen: len(seen) >= 40 - len(first))
        assert quiet(rest, 3.0) == 0
    finally:
        stop(second)
    later = [v.decode() for v, _ in rest.seen]
    assert sorted(first + later) == sorted(v.decode() for v in values)  # lost 0, dup 0


def test_broker_dlq_rejected_record_is_dead_lettered_by_the_broker(env):
    """KIP-1191 on the real broker: what a REJECT does when the group has a DLQ topic."""
    share.delete_topic(env.admin, env.dlq)
    env.created.remove(env.dlq)
    share.create_topic(env.admin, env.dlq, config={"errors.deadletterqueue.group.enable": "true"})
    env.created.append(env.dlq)
    env.group_config(
        **{
            "errors.deadletterqueue.topic.name": env.dlq,
            "errors.deadletterqueue.copy.record.enable": "true",
        }
    )
    env.produce([b"poison", b"fine"])
    rec = Recorder()

    def handler(message):
        rec.add(message)
        if message.value == b"poison":
            raise PermanentError("bad")

    worker = run_worker(env, handler)
    try:
        rec.wait(lambda seen: len(seen) >= 2)
        assert quiet(rec, 3.0) == 0
    finally:
        stop(worker)
    assert worker.dead_letter == "broker"
    [dead] = env.read_dlq(1)
    headers = dict(dead.headers())
    # what Kafka 4.4 writes: the value and key (copy.record.enable), __dlq.errors.* headers ...
    assert dead.value() == b"poison" and dead.key() == b"k-poison"
    assert headers[H.BROKER_DLQ_TOPIC] == env.topic.encode()
    assert headers[H.BROKER_DLQ_OFFSET] == b"0"
    assert headers[H.BROKER_DLQ_GROUP] == env.group.encode()
    assert headers[H.BROKER_DLQ_DELIVERY_COUNT] == b"1"
    assert headers[H.BROKER_DLQ_MESSAGE] == b"Offset rejected by client."
    # ... and not the record's own headers: the stable id is lost on the broker's path
    assert H.SOURCE_ID not in headers
    assert metric(worker, "dead_lettered") == 1


def test_broker_dlq_topic_not_enabled_is_refused(env):
    # without errors.deadletterqueue.group.enable on the DLQ topic, 4.4 archives REJECTed
    # records instead of dead-lettering them; the worker refuses to start that way
    env.group_config(**{"errors.deadletterqueue.topic.name": env.dlq})
    worker = Worker(
        env.bootstrap,
        env.topic,
        env.group,
        lambda m: None,
        metrics=False,
        install_signal_handlers=False,
    )
    with pytest.raises(ConfigError, match="does not accept share-group dead letters") as info:
        worker.start()
    assert "errors.deadletterqueue.group.enable=true" in info.value.one_line()


def test_a_setting_the_share_consumer_refuses_stops_the_worker_with_one_error(env):
    """librdkafka refuses consumer-only settings in a share consumer with a ValueError; the
    worker stops and run()/join() raise it as a WorkerError (it used to kill only the
    consumer thread: the worker then ran forever without consuming)."""
    env.group_config()
    worker = run_worker(
        env, lambda m: None, concurrency=2, consumer_config={"fetch.error.backoff.ms": 50}
    )
    started = time.monotonic()
    with pytest.raises(WorkerError, match="not applicable for share consumer"):
        while not worker.join(timeout=1):
            assert time.monotonic() - started < 30, "the worker did not stop"
    assert worker.stopping


def test_pika_callback_adapter(env):
    env.group_config()
    env.produce([b"ok", b"retry", b"bad"], headers=[("tenant", b"acme")])
    calls = []
    lock = threading.Lock()

    def on_message(channel, method, properties, body):  # written for pika, unchanged
        with lock:
            calls.append(
                (body, method.redelivered, properties.message_id, properties.headers.get("tenant"))
            )
        if body == b"retry" and not method.redelivered:
            channel.basic_nack(delivery_tag=method.delivery_tag, requeue=True)
        elif body == b"bad":
            channel.basic_reject(delivery_tag=method.delivery_tag, requeue=False)
        else:
            channel.basic_ack(delivery_tag=method.delivery_tag)

    rec = Recorder()
    handler = from_pika_callback(on_message)
    worker = run_worker(env, lambda m: (rec.add(m), handler(m))[1], dlq_topic=env.dlq)
    try:
        rec.wait(lambda seen: len(seen) >= 4)
        assert quiet(rec, 3.0) == 0
    finally:
        stop(worker)
    assert sorted(calls) == sorted(
        [
            (b"ok", False, "id-ok", "acme"),
            (b"retry", False, "id-retry", "acme"),
            (b"retry", True, "id-retry", "acme"),
            (b"bad", False, "id-bad", "acme"),
        ]
    )
    [dead] = env.read_dlq(1)
    assert dead.value() == b"bad"
    assert dict(dead.headers())[H.ERROR_REASON] == b"rejected"


def test_sqs_handler_adapter(env):
    env.group_config(**{"share.delivery.count.limit": "3"})
    env.produce([b"ok", b"retry", b"never"], headers=[("tenant", b"acme")])
    calls = []
    lock = threading.Lock()

    def handle(message):  # written for boto3's receive_message, unchanged
        with lock:
            calls.append(
                (
                    message["Body"],
                    message["Attributes"]["ApproximateReceiveCount"],
                    message["MessageId"],
                    message["MessageAttributes"]["tenant"]["StringValue"],
                )
            )
        if message["Body"] == "never":
            raise ValueError("always broken")
        if message["Body"] == "retry" and message["Attributes"]["ApproximateReceiveCount"] == "1":
            raise TimeoutError("downstream slow")

    worker = run_worker(env, from_sqs_handler(handle), dlq_topic=env.dlq)
    try:
        deadline = time.monotonic() + 45
        while len(calls) < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)
    finally:
        stop(worker)
    assert sorted(calls) == sorted(
        [
            ("ok", "1", "id-ok", "acme"),
            ("retry", "1", "id-retry", "acme"),
            ("retry", "2", "id-retry", "acme"),
            ("never", "1", "id-never", "acme"),
            ("never", "2", "id-never", "acme"),
            ("never", "3", "id-never", "acme"),
        ]
    )
    [dead] = env.read_dlq(1)
    headers = dict(dead.headers())
    assert dead.value() == b"never"
    assert headers[H.ERROR_TYPE] == b"builtins.ValueError"
    assert headers[H.ERROR_DELIVERY_COUNT] == b"3"


def test_broker_dlq_takes_records_at_the_delivery_limit_without_copying_them(env):
    """The other two KIP-1191 behaviours docs/worker.md relies on, with the raw client:
    a record RELEASEd at the limit is dead-lettered too, and without
    errors.deadletterqueue.copy.record.enable the dead letter has no value or key."""
    from confluent_kafka import AcknowledgeType

    share.delete_topic(env.admin, env.dlq)
    env.created.remove(env.dlq)
    share.create_topic(env.admin, env.dlq, config={"errors.deadletterqueue.group.enable": "true"})
    env.created.append(env.dlq)
    env.group_config(
        **{"errors.deadletterqueue.topic.name": env.dlq, "share.delivery.count.limit": "2"}
    )
    env.produce([b"exhausted"])
    consumer = share.share_consumer(env.bootstrap, env.group)
    deliveries = []
    try:
        consumer.subscribe([env.topic])
        deadline = time.monotonic() + 30
        while len(deliveries) < 2 and time.monotonic() < deadline:
            batch = [m for m in consumer.poll(0.5) if m.error() is None]
            for record in batch:
                deliveries.append(record.delivery_count())
                consumer.acknowledge(record, AcknowledgeType.RELEASE)
            if batch:
                consumer.commit_sync(10)
    finally:
        consumer.close()
    assert deliveries == [1, 2]
    [dead] = env.read_dlq(1)
    headers = dict(dead.headers())
    assert dead.value() is None and dead.key() is None
    assert headers[H.BROKER_DLQ_DELIVERY_COUNT] == b"2"
    assert headers[H.BROKER_DLQ_MESSAGE] == b"Offset delivery count exceeded the threshold."


def test_handler_slower_than_the_lock_means_twice_never_lost(env):
    """A lock that expires during the handler: another member gets the record (at least once).

    The late acknowledgement is counted in ack_failures only when the client reports the
    broker's refusal; confluent-kafka 2.16.1 does not always (docs/worker.md), so this test
    pins the delivery behaviour, not the counter.
    """
    env.group_config(**{"share.record.lock.duration.ms": "1000"})
    env.produce([b"slow"])
    rec = Recorder()

    def handler(message):
        rec.add(message)
        if message.delivery_count == 1:
            time.sleep(3)  # three times the lock

    worker = run_worker(env, handler, concurrency=2)
    try:
        rec.wait(lambda seen: len(seen) >= 2, timeout=30)
        time.sleep(4)  # the slow first attempt finishes and acknowledges late
        assert quiet(rec, 3.0) == 0
    finally:
        stop(worker)
    assert rec.seen == [(b"slow", 1), (b"slow", 2)]
    assert len(rec.threads) == 2  # the second attempt went to the other consumer


def test_pool_spreads_one_acquired_batch_over_the_idle_handlers(env):
    """confluent-kafka returns every record the broker acquired from one poll: with one share
    consumer and four handler threads the records of that batch run side by side, not one
    after another behind the first (the work-queue tail of docs/benchmarks.md)."""
    env.group_config()
    values = [b"p%d" % i for i in range(8)]
    env.produce(values)  # one producer batch, acquired by one fetch
    rec = Recorder()
    lock = threading.Lock()
    starts: list[tuple[float, str]] = []

    def handler(message):
        with lock:
            starts.append((time.monotonic(), threading.current_thread().name))
        time.sleep(0.5)
        rec.add(message)

    worker = run_worker(env, handler, concurrency=4, share_consumers=1, max_poll_records=8)
    try:
        rec.wait(lambda seen: len(seen) >= 8)
        assert quiet(rec, 2.0) == 0
    finally:
        stop(worker)
    assert sorted(v for v, _ in rec.seen) == sorted(values)
    first = sorted(starts)[:4]
    assert len({name for _, name in first}) == 4, starts  # four handlers, one consumer
    assert first[-1][0] - first[0][0] < 0.4, starts  # started together, not 0.5 s apart
