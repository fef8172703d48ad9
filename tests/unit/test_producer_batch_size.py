"""The bridge producer's batch.size against the topics' max.message.bytes (pure; proven on the
sandbox Kafka by the bridge scenarios' oversized-record test)."""

from __future__ import annotations

from mqmigrate.kafka.producer import LIBRDKAFKA_BATCH_SIZE, batch_size_within


def test_a_topic_limit_below_the_default_batch_becomes_the_batch_size():
    limits = {"orders": 65536, "orders.quarantine": 64 * 1024 * 1024}
    assert batch_size_within(limits, {}) == 65536


def test_the_smallest_limit_of_the_topics_wins():
    assert batch_size_within({"a": 500_000, "b": 65536, "c": 200_000}, {}) == 65536


def test_topics_at_the_broker_default_need_nothing():
    # the broker's default max.message.bytes (1,048,588) is above librdkafka's batch.size
    assert batch_size_within({"a": 1_048_588, "b": 64 * 1024 * 1024}, {}) is None
    assert batch_size_within({"a": LIBRDKAFKA_BATCH_SIZE}, {}) is None


def test_a_batch_size_the_user_set_wins_even_above_the_limit():
    assert batch_size_within({"a": 65536}, {"batch.size": 2_000_000}) is None
    assert batch_size_within({"a": 65536}, {"batch.size": "16384", "linger.ms": 5}) is None


def test_no_known_limit_changes_nothing():
    assert batch_size_within({}, {"linger.ms": 5}) is None


def test_a_topic_kafka_will_not_describe_is_left_out_with_a_warning(monkeypatch, caplog):
    from mqmigrate.kafka import admin
    from mqmigrate.kafka.producer import fit_batches_to_topics

    def limits(_kafka, topics):
        assert topics == ["orders", "orders.quarantine"]
        return {"orders": 65536}, {"orders.quarantine": "Broker: Topic authorization failed"}

    monkeypatch.setattr(admin, "topic_max_message_bytes", limits)
    config = fit_batches_to_topics("127.0.0.1:1", {"linger.ms": 5}, ["orders", "orders.quarantine"])
    assert config == {"linger.ms": 5, "batch.size": 65536}
    assert "orders.quarantine (Broker: Topic authorization failed)" in caplog.text
