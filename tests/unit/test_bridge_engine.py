"""The engine's settle-after-delivery rule with the memory source and a fake producer."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tests.support.fakes import FakeProducer, failure
from mqmigrate.bridge.engine import BridgeConfig, Engine, StopReason
from mqmigrate.errors import KafkaError, SourceError, SourceUnavailable
from mqmigrate.kafka.producer import FailureKind
from mqmigrate.sources.base import BridgeMode, Outcome
from mqmigrate.sources.memory import MemoryBroker, MemoryMessage, MemorySource, make_messages

TOPIC = "target"
QUARANTINE = "target.quarantine"


def config(**overrides) -> BridgeConfig:
    base = dict(
        topic=TOPIC,
        quarantine_topic=QUARANTINE,
        idle_exit=0.2,
        max_in_flight=50,
        batch_size=20,
        backoff_initial=0.01,
        backoff_max=0.05,
        reconnect_timeout=5,
        shutdown_timeout=5,
    )
    base.update(overrides)
    return BridgeConfig(**base)


def run(broker: MemoryBroker, producer: FakeProducer, source=None, **cfg) -> Engine:
    engine = Engine(source or MemorySource(broker, "q"), producer, config(**cfg))
    engine.run()
    return engine


def test_drain_moves_everything_and_acks_only_written_ids():
    broker = MemoryBroker()
    broker.publish("q", make_messages(500, groups=7))
    producer = FakeProducer(delay_polls=3)
    engine = run(broker, producer)
    written = producer.ids(TOPIC)
    assert sorted(written) == sorted(f"m-{i}" for i in range(500))
    assert broker.depth("q") == 0
    assert {mid for mid, outcome in broker.settled if outcome is Outcome.ACCEPT} == set(written)
    assert engine.stats.as_dict()["in"] == engine.stats.acked == engine.stats.produced == 500
    assert engine.stats.in_flight == 0


def test_key_is_the_group_and_timestamp_is_the_send_time():
    broker = MemoryBroker()
    messages = make_messages(10, groups=3)
    broker.publish("q", messages)
    producer = FakeProducer()
    run(broker, producer)
    by_id = {m.message_id: m for m in messages}
    for (_, _, key, _headers, ts), sid in zip(producer.written, producer.ids(TOPIC)):
        assert key == by_id[sid].group_id.encode()
        assert ts == by_id[sid].timestamp_ms
        assert key != sid.encode()


def test_transient_produce_failure_releases_not_acks_and_retries():
    broker = MemoryBroker()
    broker.publish("q", make_messages(20))
    producer = FakeProducer(fail={"m-5": [failure(FailureKind.TRANSIENT, "_MSG_TIMED_OUT")] * 2})
    engine = run(broker, producer)
    # never ACCEPTed before Kafka took it: released twice, then accepted once
    assert broker.outcomes("m-5") == [Outcome.RELEASE, Outcome.RELEASE, Outcome.ACCEPT]
    assert producer.ids(TOPIC).count("m-5") == 1
    assert engine.stats.released == 2 and engine.stats.kafka_transient_errors == 2
    assert broker.depth("q") == 0


def test_oversized_message_quarantined_once_and_stream_continues():
    broker = MemoryBroker()
    messages = make_messages(30)
    messages[10] = MemoryMessage(body=b"x" * 5000, message_id="big")
    broker.publish("q", messages)
    producer = FakeProducer(max_bytes={TOPIC: 1000})
    engine = run(broker, producer)
    assert producer.ids(QUARANTINE) == ["big"]
    assert "big" not in producer.ids(TOPIC)
    assert len(producer.ids(TOPIC)) == 29
    assert broker.outcomes("big") == [Outcome.ACCEPT]  # settled only after quarantine write
    qheaders = dict(
        producer.written[[i for i, w in enumerate(producer.written) if w[0] == QUARANTINE][0]][3]
    )
    assert b"MSG_SIZE_TOO_LARGE" in qheaders["mq.quarantine.reason"]
    assert qheaders["mq.quarantine.topic"] == TOPIC.encode()
    assert qheaders["mq.source.coordinate.queue"] == b"q"
    assert engine.stats.quarantined == 1 and engine.stats.produced == 29


def test_permanent_failure_without_quarantine_topic_stops_and_keeps_message():
    broker = MemoryBroker()
    broker.publish("q", [MemoryMessage(body=b"x" * 5000, message_id="big")])
    producer = FakeProducer(max_bytes={TOPIC: 1000})
    with pytest.raises(KafkaError, match="no quarantine topic"):
        run(broker, producer, quarantine_topic=None)
    assert broker.outcomes("big") == [Outcome.RELEASE]
    assert broker.depth("q") == 1


def test_quarantine_refusing_too_stops_without_loss():
    broker = MemoryBroker()
    broker.publish("q", [MemoryMessage(body=b"x" * 5000, message_id="big")])
    producer = FakeProducer(max_bytes={TOPIC: 1000, QUARANTINE: 1000})
    with pytest.raises(KafkaError, match="quarantine topic"):
        run(broker, producer)
    assert broker.depth("q") == 1 and not producer.written


def test_fatal_kafka_error_stops_with_message_released():
    broker = MemoryBroker()
    broker.publish("q", make_messages(3))
    producer = FakeProducer(
        fail={"m-1": [failure(FailureKind.FATAL, "TOPIC_AUTHORIZATION_FAILED")]}
    )
    with pytest.raises(KafkaError):
        run(broker, producer)
    assert Outcome.ACCEPT not in broker.outcomes("m-1")
    assert broker.depth("q") >= 1


def test_source_drop_on_settle_reconnects_and_loses_nothing():
    broker = MemoryBroker()
    broker.publish("q", make_messages(200))
    source = MemorySource(broker, "q", fail_settle_on={2, 5}, fail_receive_on={7})
    producer = FakeProducer(delay_polls=1)
    engine = run(broker, producer, source=source)
    written = producer.ids(TOPIC)
    assert set(written) == {f"m-{i}" for i in range(200)}  # lost = 0
    assert broker.depth("q") == 0
    assert engine.stats.source_reconnects == 3
    # every duplicate is one a dropped connection redelivered, within the in-flight window
    assert len(written) - 200 <= 3 * engine.config.max_in_flight
    assert engine.stats.redelivered >= len(written) - 200


def test_effectively_once_skips_ids_already_written_and_redeliveries():
    broker = MemoryBroker()
    broker.publish("q", make_messages(100))
    source = MemorySource(broker, "q", fail_settle_on={2, 4})
    producer = FakeProducer(delay_polls=1)
    engine = Engine(
        source, producer, config(effectively_once=True), known_ids={f"m-{i}" for i in range(10)}
    )
    engine.run()
    written = producer.ids(TOPIC)
    assert sorted(written) == sorted(f"m-{i}" for i in range(10, 100))  # no duplicates
    assert engine.stats.duplicates_skipped >= 10
    assert broker.depth("q") == 0


def test_max_messages_stops_after_n():
    broker = MemoryBroker()
    broker.publish("q", make_messages(100))
    producer = FakeProducer()
    engine = Engine(
        MemorySource(broker, "q"), producer, config(max_messages=30, batch_size=7, idle_exit=None)
    )
    assert engine.run() is StopReason.max_messages
    assert len(producer.ids(TOPIC)) == 30 and broker.depth("q") == 70


def test_bounded_in_flight():
    broker = MemoryBroker()
    broker.publish("q", make_messages(300))
    producer = FakeProducer(delay_polls=50)
    seen = []

    class Watching(MemorySource):
        def receive(self, max_messages, timeout):
            seen.append(engine.stats.in_flight)
            return super().receive(max_messages, timeout)

    engine = Engine(Watching(broker, "q"), producer, config(max_in_flight=40))
    engine.run()
    assert max(seen) <= 40 and len(producer.ids(TOPIC)) == 300


def test_sigterm_stops_gracefully_and_settles_in_flight():
    broker = MemoryBroker()
    broker.publish("q", make_messages(100_000, size=4))
    producer = FakeProducer(delay_polls=2)
    engine = Engine(MemorySource(broker, "q"), producer, config(idle_exit=None))
    restore = engine.install_signal_handlers()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        assert engine.run() is StopReason.signal
    finally:
        timer.cancel()
        restore()
    assert engine.stopped_by_signal == signal.SIGTERM
    assert engine.stats.in_flight == 0
    written = producer.ids(TOPIC)
    assert 0 < len(written) < 100_000
    assert engine.stats.acked == len(written)
    assert broker.depth("q") == 100_000 - len(written)


def test_first_open_failure_is_terminal():
    broker = MemoryBroker()
    engine = Engine(MemorySource(broker, "q", missing_queue=True), FakeProducer(), config())
    with pytest.raises(SourceError):
        engine.run()


def test_reconnect_gives_up_after_timeout():
    broker = MemoryBroker()
    broker.publish("q", make_messages(5))

    class Dead(MemorySource):
        def open(self):
            if self.opens >= 1:
                raise SourceUnavailable("broker down")
            super().open()

    source = Dead(broker, "q", fail_receive_on={1})
    with pytest.raises(SourceUnavailable, match="gave up"):
        run(broker, FakeProducer(), source=source, reconnect_timeout=0.2)
    assert broker.depth("q") == 5


def test_shadow_mode_idle_exit():
    broker = MemoryBroker()
    broker.publish("q", make_messages(5))
    engine = Engine(MemorySource(broker, "q"), FakeProducer(), config(mode=BridgeMode.shadow))
    assert engine.run() is StopReason.idle


def test_stop_request_while_reconnecting_does_not_wait_for_the_source():
    broker = MemoryBroker()
    broker.publish("q", make_messages(5))

    class Dead(MemorySource):
        def open(self):
            if self.opens >= 1:
                engine.request_stop()  # e.g. SIGTERM arrives while the broker is down
                raise SourceUnavailable("broker down")
            super().open()

    engine = Engine(
        Dead(broker, "q", fail_receive_on={1}), FakeProducer(), config(reconnect_timeout=60)
    )
    started = time.monotonic()
    assert engine.run() is StopReason.signal
    assert time.monotonic() - started < 5 and broker.depth("q") == 5


def test_refused_send_time_is_replaced_by_broker_time_not_quarantined():
    broker = MemoryBroker()
    broker.publish("q", make_messages(5))
    producer = FakeProducer(fail={"m-2": [failure(FailureKind.PERMANENT, "INVALID_TIMESTAMP")]})
    engine = run(broker, producer)
    assert sorted(producer.ids(TOPIC)) == [f"m-{i}" for i in range(5)]
    assert producer.ids(QUARANTINE) == []
    timestamps = dict(zip(producer.ids(TOPIC), [w[4] for w in producer.written]))
    assert timestamps["m-2"] is None and timestamps["m-1"] is not None
    assert engine.stats.quarantined == 0 and broker.outcomes("m-2") == [Outcome.ACCEPT]


def test_quarantine_keeps_the_first_reason_after_a_retimed_write():
    broker = MemoryBroker()
    broker.publish("q", [MemoryMessage(body=b"x" * 5000, message_id="big", timestamp_ms=1)])
    producer = FakeProducer(
        max_bytes={TOPIC: 1000}, fail={"big": [failure(FailureKind.PERMANENT, "INVALID_TIMESTAMP")]}
    )
    run(broker, producer)
    [(topic, _, _, headers, ts)] = producer.written
    assert topic == QUARANTINE and ts is None
    assert b"MSG_SIZE_TOO_LARGE" in dict(headers)["mq.quarantine.reason"]


def test_not_ready_when_consuming_but_kafka_acknowledges_nothing():
    broker = MemoryBroker()
    broker.publish("q", make_messages(5))
    producer = FakeProducer(delay_polls=10**9)  # Kafka never answers
    readiness = []
    engine = Engine(
        MemorySource(broker, "q"),
        producer,
        config(stall_after=0.2, idle_exit=None, shutdown_timeout=0.1),
        on_tick=lambda stats: readiness.append(engine.ready),
    )
    timer = threading.Timer(2.5, engine.request_stop)
    timer.start()
    try:
        engine.run()
    finally:
        timer.cancel()
    assert readiness and readiness[-1] is False
    assert broker.outcomes("m-0") == []  # nothing settled without Kafka's answer


class _ListLedger:
    """The verify ledger's interface, in memory."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, bytes]] = []
        self.flushes = 0

    def record(self, source_id: str, body: bytes | None) -> None:
        self.lines.append((source_id, body))

    def flush(self, sync: bool = True) -> None:
        self.flushes += 1


def test_verify_ledger_lists_settled_messages_in_the_topic_not_quarantined_ones():
    broker = MemoryBroker()
    messages = make_messages(30)
    messages[10] = MemoryMessage(body=b"x" * 5000, message_id="big")
    broker.publish("q", messages)
    producer = FakeProducer(max_bytes={TOPIC: 1000})
    ledger = _ListLedger()
    engine = Engine(MemorySource(broker, "q"), producer, config(), ledger=ledger)
    engine.run()
    ids = [sid for sid, _ in ledger.lines]
    assert sorted(ids) == sorted(producer.ids(TOPIC)) and "big" not in ids
    assert len(ids) == 29 == len(set(ids))
    # every listed message was settled (ACCEPT) at the source before it was listed
    accepted = {mid for mid, outcome in broker.settled if outcome is Outcome.ACCEPT}
    assert set(ids) <= accepted


def test_verify_ledger_skips_messages_released_after_a_produce_failure():
    broker = MemoryBroker()
    broker.publish("q", make_messages(5))
    producer = FakeProducer(fail={"m-2": [failure(FailureKind.TRANSIENT, "REQUEST_TIMED_OUT")]})
    ledger = _ListLedger()
    Engine(MemorySource(broker, "q"), producer, config(), ledger=ledger).run()
    ids = [sid for sid, _ in ledger.lines]
    # m-2 was released once, then written and settled: listed exactly once
    assert sorted(ids) == [f"m-{i}" for i in range(5)]


def test_drain_does_not_call_an_unreachable_source_drained():
    """A depth that fails (source unreachable) is not an empty queue: the drain keeps going
    until the source answers, instead of exiting 0 with messages still there."""
    broker = MemoryBroker()
    broker.publish("q", make_messages(50))
    outage_until = time.monotonic() + 1.0

    class Flaky(MemorySource):
        def receive(self, max_messages, timeout):
            if time.monotonic() < outage_until:
                time.sleep(min(timeout, 0.01))
                return []  # nothing comes while the source is cut off
            return super().receive(max_messages, timeout)

        def depth(self):
            if time.monotonic() < outage_until:
                raise SourceUnavailable("queue did not answer")
            return super().depth()

    producer = FakeProducer()
    engine = run(broker, producer, source=Flaky(broker, "q"), idle_exit=0.2)
    assert sorted(producer.ids(TOPIC)) == sorted(f"m-{i}" for i in range(50))
    assert broker.depth("q") == 0 and engine.stats.acked == 50


def test_an_idle_source_is_asked_with_the_long_wait_after_a_quiet_second():
    """Hundreds of idle workloads in one process: each waits ``idle_wait`` per receive once
    quiet for a second (few wakeups), the short wait before that and while busy."""
    broker = MemoryBroker()
    broker.publish("q", make_messages(40))
    waits: list[tuple[float, float]] = []

    class Recording(MemorySource):
        def receive(self, max_messages, timeout):
            waits.append((time.monotonic(), timeout))
            return super().receive(max_messages, timeout)

    start = time.monotonic()
    engine = run(broker, FakeProducer(), Recording(broker, "q"), idle_exit=1.6, idle_wait=0.3)
    assert engine.stats.acked == 40
    early = [w for t, w in waits if t - start < 0.9 and w > 0]
    late = [w for t, w in waits if t - start > 1.2 and w > 0]
    assert early and set(early) == {0.05}
    assert late and set(late) == {0.3}
