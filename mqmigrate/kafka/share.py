"""Kafka share groups (KIP-932): group configs and the preview share-consumer client.

confluent-kafka's ``ShareConsumer`` is a preview API and not thread-safe; it is created only
here so a change in the client touches one module.  Group configs are set with
``incremental_alter_configs`` on ``ResourceType.GROUP``, which is what the broker reads for
``share.auto.offset.reset``, ``share.record.lock.duration.ms``, ``share.delivery.count.limit``
and the other per-group settings.
"""

from __future__ import annotations

import logging
from typing import Iterable, Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from mqmigrate.errors import ConnectionFailed, MqMigrateError
from mqmigrate.kafka.config import KafkaConfig, as_kafka_config

#: group configs this tool sets on share groups, with their broker defaults
SHARE_GROUP_DEFAULTS: dict[str, str] = {
    "share.auto.offset.reset": "latest",
    "share.record.lock.duration.ms": "30000",
    "share.delivery.count.limit": "5",
    "share.isolation.level": "read_uncommitted",
}

# librdkafka prints its "Preview" warning through the logger; keep it off user output
_quiet = logging.getLogger("mqmigrate.kafka.librdkafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def admin_client(kafka: "KafkaConfig | str", **config: str) -> AdminClient:
    """An AdminClient for ``kafka`` (a KafkaConfig, or bootstrap servers for plaintext)."""
    return AdminClient(
        as_kafka_config(kafka).client({"socket.timeout.ms": 10000, "logger": _quiet}, **config)
    )


def _result(future, what: str, timeout: float = 30.0):
    try:
        return future.result(timeout=timeout)
    except KafkaException as exc:
        raise MqMigrateError(f"{what} failed: {exc.args[0].str() if exc.args else exc}") from exc
    except TimeoutError as exc:  # concurrent.futures.TimeoutError is TimeoutError on 3.11
        raise ConnectionFailed(f"{what} timed out after {timeout:.0f}s") from exc


#: NewTopic's "the broker's default.replication.factor" (KIP-464, brokers 2.4 and later)
CLUSTER_DEFAULT_REPLICATION = -1


def create_topic(
    admin: AdminClient,
    topic: str,
    partitions: int = 1,
    config: Mapping[str, str] | None = None,
    replication: int | None = None,
    *,
    exist_ok: bool = False,
) -> bool:
    """Create ``topic``; True when created, False when it existed and ``exist_ok``.

    ``replication`` None means the cluster's ``default.replication.factor`` (never a fixed 1:
    managed clusters refuse it and it breaks ``acks=all`` where ``min.insync.replicas`` is 2).
    """
    factor = CLUSTER_DEFAULT_REPLICATION if replication is None else replication
    try:
        _create(admin, topic, partitions, config, factor)
    except MqMigrateError as exc:
        code = error_code(exc)
        if exist_ok and code == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        if factor == CLUSTER_DEFAULT_REPLICATION and code in (
            KafkaError.INVALID_REPLICATION_FACTOR,
            KafkaError.INVALID_REQUEST,
            KafkaError.UNSUPPORTED_VERSION,
        ):
            # a broker older than KIP-464: ask it for its default and create with that
            _create(admin, topic, partitions, config, default_replication_factor(admin))
            return True
        raise
    return True


def _create(
    admin: AdminClient,
    topic: str,
    partitions: int,
    config: Mapping[str, str] | None,
    replication: int,
) -> None:
    futures = admin.create_topics(
        [NewTopic(topic, partitions, replication, config=dict(config or {}))],
        operation_timeout=30,
    )
    _result(futures[topic], f"creating topic {topic}")


def default_replication_factor(admin: AdminClient, timeout: float = 30.0) -> int:
    """The cluster's ``default.replication.factor`` (read from one broker's config)."""
    try:
        cluster = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout)
    except (KafkaException, TimeoutError) as exc:
        raise ConnectionFailed(f"describing the cluster failed: {exc}") from exc
    node = str(cluster.nodes[0].id) if cluster.nodes else "0"
    futures = admin.describe_configs([ConfigResource(ResourceType.BROKER, node)])
    entries = _result(next(iter(futures.values())), f"describing configs of broker {node}")
    entry = entries.get("default.replication.factor")
    try:
        return max(1, int(entry.value)) if entry is not None and entry.value else 1
    except ValueError:
        return 1


def delete_topics(admin: AdminClient, topics: Iterable[str], *, missing_ok: bool = False) -> None:
    """Delete ``topics``; with ``missing_ok`` a topic that does not exist is no error."""
    names = list(topics)
    if not names:
        return
    for topic, future in admin.delete_topics(names, operation_timeout=30).items():
        try:
            _result(future, f"deleting topic {topic}")
        except MqMigrateError as exc:
            if not (missing_ok and error_code(exc) == KafkaError.UNKNOWN_TOPIC_OR_PART):
                raise


def delete_topic(admin: AdminClient, topic: str) -> None:
    delete_topics(admin, [topic])


def error_code(exc: BaseException) -> int | None:
    """The librdkafka error code behind an error raised by :func:`_result`, if any."""
    cause = exc.__cause__
    if isinstance(cause, KafkaException) and cause.args:
        return cause.args[0].code()
    return None


def _incremental_set(
    admin: AdminClient, kind: ResourceType, name: str, configs: Mapping[str, str]
) -> None:
    """SET each config of one resource; configs not named are left as they are."""
    resource = ConfigResource(
        kind,
        name,
        incremental_configs=[
            ConfigEntry(key, str(value), incremental_operation=AlterConfigOpType.SET)
            for key, value in configs.items()
        ],
    )
    what = {ResourceType.GROUP: "group", ResourceType.BROKER: "broker"}.get(kind, "topic")
    for future in admin.incremental_alter_configs([resource]).values():
        _result(future, f"setting configs of {what} {name}")


def set_group_configs(admin: AdminClient, group: str, configs: Mapping[str, str]) -> None:
    """Set share-group configs (works before any member has joined)."""
    _incremental_set(admin, ResourceType.GROUP, group, configs)
    _await_group_configs(admin, group, {name: str(value) for name, value in configs.items()})


def _await_group_configs(
    admin: AdminClient, group: str, expected: Mapping[str, str], timeout: float = 10.0
) -> None:
    """Wait until a describe shows ``expected``.

    The alter is acknowledged once the controller committed it; the broker that answers a
    describe (and the group coordinator) apply the metadata record a moment later, so a reader
    right after the write could still see the old value.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        actual = group_configs(admin, group, expected.keys())
        if all(actual.get(name) == value for name, value in expected.items()):
            return
        if time.monotonic() >= deadline:
            raise MqMigrateError(
                f"group {group} still shows {actual} {timeout:.0f}s after setting {dict(expected)}"
            )
        time.sleep(0.1)


def _describe(
    admin: AdminClient, kind: ResourceType, name: str, names: Iterable[str] | None
) -> dict[str, str]:
    """Effective configs (defaults included) of one resource, optionally only ``names``."""
    what = {ResourceType.GROUP: "group", ResourceType.BROKER: "broker"}.get(kind, "topic")
    futures = admin.describe_configs([ConfigResource(kind, name)])
    entries = _result(next(iter(futures.values())), f"describing configs of {what} {name}")
    wanted = set(names) if names is not None else None
    return {key: entry.value for key, entry in entries.items() if wanted is None or key in wanted}


def group_configs(
    admin: AdminClient, group: str, names: Iterable[str] | None = None
) -> dict[str, str]:
    """The group's effective configs (defaults included), optionally only ``names``."""
    return _describe(admin, ResourceType.GROUP, group, names)


def broker_configs(
    admin: AdminClient, names: Iterable[str] | None = None, timeout: float = 30.0
) -> dict[str, str]:
    """The configs of one broker of the cluster (defaults included), optionally only ``names``.

    Before Kafka 4.3 the share-group delivery limit is only this broker-wide
    ``group.share.delivery.count.limit``; a cluster's brokers are expected to agree on it.
    """
    try:
        cluster = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout)
    except KafkaException as exc:
        raise ConnectionFailed(f"describing the cluster failed: {exc.args[0].str()}") from exc
    except TimeoutError as exc:
        raise ConnectionFailed(f"describing the cluster timed out after {timeout:.0f}s") from exc
    node = str(cluster.nodes[0].id) if cluster.nodes else "0"
    return _describe(admin, ResourceType.BROKER, node, names)


def share_consumer(kafka: "KafkaConfig | str", group: str, *, explicit: bool = True, **config: str):
    """A ``ShareConsumer`` in explicit-acknowledgement mode unless told otherwise."""
    from confluent_kafka import ShareConsumer

    return ShareConsumer(
        as_kafka_config(kafka).client(
            {
                "group.id": group,
                "share.acknowledgement.mode": "explicit" if explicit else "implicit",
                "logger": _quiet,
            },
            **config,
        )
    )


#: KIP-1206 (Kafka 4.2): how a share fetch bounds the records it acquires.  ``batch_optimized``
#: (the default) may acquire whole record batches beyond ``max.poll.records``;
#: ``record_limit`` acquires at most ``max.poll.records``.
ACQUIRE_MODES = ("batch_optimized", "record_limit")
_acquire_mode_support: bool | None = None


def client_supports_acquire_mode() -> bool:
    """Whether the installed librdkafka knows ``share.acquire.mode`` (checked once, offline:
    building a client that is never started contacts no broker)."""
    global _acquire_mode_support
    if _acquire_mode_support is None:
        from confluent_kafka import ShareConsumer

        try:
            # no bootstrap servers: the client is built and closed without a connection
            probe = ShareConsumer(
                KafkaConfig({}).client(
                    **{
                        "group.id": "mqmigrate-probe",
                        "logger": _quiet,
                        "share.acquire.mode": "batch_optimized",
                    }
                )
            )
        except KafkaException:
            _acquire_mode_support = False
        else:
            probe.close()
            _acquire_mode_support = True
    return _acquire_mode_support


def require_acquire_mode(mode: str) -> None:
    """Refuse an unknown ``share.acquire.mode``, or one the installed client cannot set."""
    from mqmigrate.errors import UsageError

    if mode not in ACQUIRE_MODES:
        raise UsageError(f"bad share.acquire.mode {mode!r}", hint=" or ".join(ACQUIRE_MODES))
    if not client_supports_acquire_mode():
        import confluent_kafka

        raise UsageError(
            f"this confluent-kafka (librdkafka {confluent_kafka.libversion()[0]}) has no "
            "share.acquire.mode (KIP-1206): its share fetches acquire whole record batches",
            hint="leave the acquire mode unset and bound the batch with max.poll.records",
        )


# ------------------------------------------------------------------ topics, configs, cluster
# Used by `provision` to compare what a playbook declares with what the cluster has.


class TopicState:
    """What the cluster says about one topic."""

    def __init__(self, name: str, partitions: int, replication: int):
        self.name = name
        self.partitions = partitions
        self.replication = replication

    def __repr__(self) -> str:
        return f"TopicState({self.name!r}, partitions={self.partitions}, replication={self.replication})"


def describe_topic(admin: AdminClient, topic: str, timeout: float = 30.0) -> TopicState | None:
    """Partitions and replication factor of ``topic``, or None when it does not exist."""
    from confluent_kafka import KafkaError, TopicCollection

    future = admin.describe_topics(TopicCollection([topic]), request_timeout=timeout)[topic]
    try:
        description = future.result(timeout=timeout)
    except KafkaException as exc:
        if exc.args and exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            return None
        raise MqMigrateError(f"describing topic {topic} failed: {exc.args[0].str()}") from exc
    except TimeoutError as exc:
        raise ConnectionFailed(f"describing topic {topic} timed out after {timeout:.0f}s") from exc
    partitions = description.partitions
    replication = min((len(p.replicas) for p in partitions), default=0)
    return TopicState(topic, len(partitions), replication)


def topic_configs(
    admin: AdminClient, topic: str, names: Iterable[str] | None = None
) -> dict[str, str]:
    """The topic's effective configs (defaults included), optionally only ``names``."""
    return _describe(admin, ResourceType.TOPIC, topic, names)


def alter_topic_configs(admin: AdminClient, topic: str, configs: Mapping[str, str]) -> None:
    """Set (incrementally: other configs untouched) the given configs of ``topic``."""
    _incremental_set(admin, ResourceType.TOPIC, topic, configs)


def create_partitions(admin: AdminClient, topic: str, total: int) -> None:
    """Raise ``topic`` to ``total`` partitions (Kafka cannot lower a partition count)."""
    from confluent_kafka.admin import NewPartitions

    futures = admin.create_partitions([NewPartitions(topic, total)], operation_timeout=30)
    _result(futures[topic], f"adding partitions to topic {topic}")


def cluster_info(admin: AdminClient, timeout: float = 30.0) -> tuple[int, bool]:
    """``(number of brokers, whether an authorizer is configured)``.

    The authorizer is read from the broker config ``authorizer.class.name``: describing ACLs is
    no test, since a KRaft broker without an authorizer answers that with an empty list.
    """
    try:
        cluster = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout)
    except KafkaException as exc:
        raise ConnectionFailed(f"describing the cluster failed: {exc.args[0].str()}") from exc
    except TimeoutError as exc:
        raise ConnectionFailed(f"describing the cluster timed out after {timeout:.0f}s") from exc
    node = str(cluster.nodes[0].id) if cluster.nodes else "0"
    futures = admin.describe_configs([ConfigResource(ResourceType.BROKER, node)])
    entries = _result(next(iter(futures.values())), f"describing configs of broker {node}")
    entry = entries.get("authorizer.class.name")
    return len(cluster.nodes), bool(entry and entry.value)
