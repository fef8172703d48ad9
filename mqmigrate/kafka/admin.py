"""Topic and group administration by bootstrap address, for the bridge, the demo and tests.

Thin conveniences over :mod:`mqmigrate.kafka.share`, which holds the admin-client logic.
"""

from __future__ import annotations

import time
from typing import Iterable, Mapping

from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka import KafkaException

from mqmigrate.errors import KafkaError, KafkaUnavailable, MqMigrateError
from mqmigrate.kafka import share
from mqmigrate.kafka.config import KafkaConfig
from mqmigrate.kafka.share import admin_client

__all__ = [
    "QUARANTINE_TOPIC_CONFIG",
    "admin_client",
    "delete_topics",
    "ensure_topic",
    "set_group_config",
    "topic_exists",
    "topic_max_message_bytes",
]

#: a quarantine topic must take what the target topic refused
QUARANTINE_TOPIC_CONFIG = {"max.message.bytes": str(64 * 1024 * 1024)}


def topic_exists(bootstrap: str, topic: str, timeout: float = 10.0) -> bool:
    """True when ``topic`` exists."""
    try:
        meta = admin_client(bootstrap).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaUnavailable(f"Kafka at {bootstrap} did not answer") from exc
    info = meta.topics.get(topic)
    return info is not None and info.error is None


def topic_max_message_bytes(
    kafka: "KafkaConfig | str", topics: Iterable[str]
) -> tuple[dict[str, int], dict[str, str]]:
    """Each topic's effective ``max.message.bytes`` (the broker's default where the topic sets
    none), and why Kafka did not tell it for the others (e.g. no DescribeConfigs permission on
    that topic), one line each; a topic that does not exist is in neither."""
    admin = admin_client(kafka)
    limits: dict[str, int] = {}
    unread: dict[str, str] = {}
    for topic in dict.fromkeys(topics):
        try:
            configs = share.topic_configs(admin, topic, ["max.message.bytes"])
        except MqMigrateError as exc:
            if share.error_code(exc) != ConfluentError.UNKNOWN_TOPIC_OR_PART:
                unread[topic] = exc.one_line()
            continue  # a missing topic is reported by whoever needs it
        value = configs.get("max.message.bytes")
        if value is None or not value.isdigit():
            unread[topic] = "no max.message.bytes in its configs"
        else:
            limits[topic] = int(value)
    return limits, unread


def ensure_topic(
    bootstrap: str,
    topic: str,
    *,
    partitions: int = 1,
    config: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> bool:
    """Create ``topic`` unless it exists; True when it was created.  Waits until its
    metadata is visible so a producer can use it right away."""
    try:
        created = share.create_topic(
            admin_client(bootstrap), topic, partitions, config, exist_ok=True
        )
    except MqMigrateError as exc:
        raise KafkaError(f"cannot create topic {topic!r}: {exc}") from exc
    deadline = time.monotonic() + timeout
    while not topic_exists(bootstrap, topic):
        if time.monotonic() > deadline:
            raise KafkaError(f"topic {topic!r} was created but its metadata never appeared")
        time.sleep(0.1)
    return created


def delete_topics(bootstrap: str, topics: Iterable[str]) -> None:
    """Delete topics, ignoring ones that do not exist (test and demo clean-up)."""
    share.delete_topics(admin_client(bootstrap), topics, missing_ok=True)


def set_group_config(bootstrap: str, group: str, config: Mapping[str, str]) -> None:
    """Set share/consumer group configs (``share.auto.offset.reset`` ...) incrementally."""
    share.set_group_configs(admin_client(bootstrap), group, config)
