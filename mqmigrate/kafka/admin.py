"""Topic and group administration, as far as the bridge and its tests need it."""

from __future__ import annotations

import logging
import time
from typing import Mapping

from confluent_kafka import KafkaException
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewTopic, ResourceType)
from confluent_kafka import KafkaError as _KE

from mqmigrate.errors import KafkaError, KafkaUnavailable

#: a quarantine topic must take what the target topic refused
QUARANTINE_TOPIC_CONFIG = {"max.message.bytes": str(64 * 1024 * 1024)}


def admin_client(bootstrap: str) -> AdminClient:
    # librdkafka's log lines go to logging, not straight to stderr
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000,
                        "logger": logging.getLogger("mqmigrate.kafka.client")})


def topic_exists(bootstrap: str, topic: str, timeout: float = 10.0) -> bool:
    """True when ``topic`` exists."""
    try:
        meta = admin_client(bootstrap).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaUnavailable(f"Kafka at {bootstrap} did not answer") from exc
    info = meta.topics.get(topic)
    return info is not None and info.error is None


def ensure_topic(bootstrap: str, topic: str, *, partitions: int = 1,
                 config: Mapping[str, str] | None = None, timeout: float = 30.0) -> bool:
    """Create ``topic`` unless it exists; True when it was created.  Waits until its
    metadata is visible so a producer can use it right away."""
    admin = admin_client(bootstrap)
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1,
                  config=dict(config or {}))], operation_timeout=timeout)
    created = True
    try:
        futures[topic].result(timeout=timeout)
    except KafkaException as exc:
        if exc.args[0].code() != _KE.TOPIC_ALREADY_EXISTS:
            raise KafkaError(f"cannot create topic {topic!r}: {exc.args[0].str()}") from exc
        created = False
    deadline = time.monotonic() + timeout
    while not topic_exists(bootstrap, topic):
        if time.monotonic() > deadline:
            raise KafkaError(f"topic {topic!r} was created but its metadata never appeared")
        time.sleep(0.1)
    return created


def delete_topics(bootstrap: str, topics: list[str], timeout: float = 30.0) -> None:
    """Delete topics, ignoring ones that do not exist."""
    admin = admin_client(bootstrap)  # kept referenced until the futures resolve
    futures = admin.delete_topics(topics, operation_timeout=timeout)
    for future in futures.values():
        try:
            future.result(timeout=timeout)
        except KafkaException:
            pass


def set_group_config(bootstrap: str, group: str, config: Mapping[str, str],
                     timeout: float = 30.0) -> None:
    """Set share/consumer group configs (``share.auto.offset.reset`` ...) incrementally."""
    resource = ConfigResource(
        ResourceType.GROUP, group,
        incremental_configs=[ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                             for k, v in config.items()])
    admin = admin_client(bootstrap)  # kept referenced until the futures resolve
    futures = admin.incremental_alter_configs([resource])
    for future in futures.values():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            raise KafkaError(f"cannot configure group {group!r}: {exc.args[0].str()}") from exc
