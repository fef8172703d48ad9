"""The engine with the memory source against the real Kafka broker of the sandbox."""

from __future__ import annotations

import urllib.request

import pytest

from tests.support.bridge import read_topic, source_ids
from mqmigrate.bridge.engine import BridgeConfig, Engine, StopReason
from mqmigrate.bridge.ops import OpsServer
from mqmigrate.errors import ConfigError
from mqmigrate.kafka.known_ids import recover_ids
from mqmigrate.kafka.producer import BridgeProducer
from mqmigrate.sources.base import Outcome
from mqmigrate.sources.memory import MemoryBroker, MemoryMessage, MemorySource, make_messages

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def _config(topic: str, **kw) -> BridgeConfig:
    base = dict(
        topic=topic,
        quarantine_topic=topic + ".quarantine",
        idle_exit=0.5,
        max_in_flight=500,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    base.update(kw)
    return BridgeConfig(**base)


def test_every_ack_follows_a_kafka_write(kafka_bootstrap, kafka_topics, unique_name):
    topic = kafka_topics(unique_name)
    broker = MemoryBroker()
    broker.publish("q", make_messages(3000, size=200, groups=5))
    engine = Engine(MemorySource(broker, "q"), BridgeProducer(kafka_bootstrap), _config(topic))
    assert engine.run() is StopReason.drained
    records = read_topic(kafka_bootstrap, topic)
    ids = source_ids(records)
    assert sorted(ids) == sorted(f"m-{i}" for i in range(3000))
    assert {m for m, o in broker.settled if o is Outcome.ACCEPT} == set(ids)
    assert all(r.key() is not None and r.key().startswith(b"g") for r in records)


def test_oversized_record_quarantined_once_real_kafka(kafka_bootstrap, kafka_topics, unique_name):
    topic = kafka_topics(unique_name, **{"max.message.bytes": "1048576"})
    broker = MemoryBroker()
    msgs = make_messages(20)
    msgs.insert(10, MemoryMessage(body=b"z" * (3 * 1024 * 1024), message_id="huge"))
    broker.publish("q", msgs)
    engine = Engine(MemorySource(broker, "q"), BridgeProducer(kafka_bootstrap), _config(topic))
    engine.run()
    assert len(source_ids(read_topic(kafka_bootstrap, topic))) == 20
    assert source_ids(read_topic(kafka_bootstrap, topic + ".quarantine")) == ["huge"]
    assert broker.outcomes("huge") == [Outcome.ACCEPT] and broker.depth("q") == 0


def test_kafka_down_releases_never_acks(unique_name):
    broker = MemoryBroker()
    broker.publish("q", make_messages(5))
    producer = BridgeProducer("127.0.0.1:1", {"message.timeout.ms": 500})
    engine = Engine(
        MemorySource(broker, "q"), producer, _config(unique_name, max_messages=10, idle_exit=None)
    )
    assert engine.run() is StopReason.max_messages
    outcomes = {o for _, o in broker.settled}
    assert outcomes == {Outcome.RELEASE} and broker.depth("q") == 5
    assert engine.stats.kafka_transient_errors == 10 and engine.stats.acked == 0


def test_effectively_once_recovers_ids_from_topic(kafka_bootstrap, kafka_topics, unique_name):
    topic = kafka_topics(unique_name)
    broker = MemoryBroker()
    broker.publish("q", make_messages(500))
    Engine(MemorySource(broker, "q"), BridgeProducer(kafka_bootstrap), _config(topic)).run()
    # the same messages again, as a source redelivers after a crash, plus new ones
    broker.publish("q", make_messages(500) + make_messages(100, start=500))
    known = recover_ids(kafka_bootstrap, [topic, topic + ".quarantine"])
    assert len(known) == 500
    engine = Engine(
        MemorySource(broker, "q"),
        BridgeProducer(kafka_bootstrap),
        _config(topic, effectively_once=True),
        known_ids=known,
    )
    engine.run()
    ids = source_ids(read_topic(kafka_bootstrap, topic))
    assert len(ids) == len(set(ids)) == 600
    assert engine.stats.duplicates_skipped == 500


def test_missing_topic_is_a_config_error(kafka_bootstrap, unique_name):
    with pytest.raises(ConfigError, match="does not exist"):
        BridgeProducer(kafka_bootstrap).check([unique_name])


def test_metrics_health_and_readiness(kafka_bootstrap, kafka_topics, unique_name):
    topic = kafka_topics(unique_name)
    broker = MemoryBroker()
    broker.publish("q", make_messages(50))
    engine = Engine(MemorySource(broker, "q"), BridgeProducer(kafka_bootstrap), _config(topic))
    server = OpsServer(engine, 0, labels={"queue": "q", "topic": topic}).start()
    base = f"http://127.0.0.1:{server.port}"

    def get(path):
        try:
            with urllib.request.urlopen(base + path, timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    try:
        assert get("/readyz")[0] == 503 and get("/healthz")[0] == 503  # not started yet
        engine.run()
        status, text = get("/metrics")
        assert status == 200
        assert f'mqmigrate_bridge_messages_out_total{{queue="q",topic="{topic}"}} 50.0' in text
        assert "mqmigrate_bridge_messages_acked_total" in text
        assert "mqmigrate_bridge_end_to_end_lag_seconds_bucket" in text
        assert 'mqmigrate_bridge_in_flight{queue="q"' in text
        assert get("/healthz")[0] == 200
        assert get("/readyz")[0] == 503  # stopped: no longer consuming
        assert get("/nope")[0] == 404
    finally:
        server.stop()
