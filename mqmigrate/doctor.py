"""``mqmigrate doctor``: can this Kafka cluster serve queues, and can we reach the sources?

Checks, in order: the broker answers (ApiVersions), its release, the finalized
``share.version`` feature, and a real share-group round trip on a temporary topic (produce,
consume with explicit ACCEPT, commit, clean up).  Each source URI is probed for reachability,
authentication and version.  The result is data (:class:`DoctorReport`); the CLI renders it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field

from mqmigrate.errors import ExitCode, MqMigrateError
from mqmigrate.kafka import share
from mqmigrate.kafka.config import KafkaConfig, as_kafka_config
from mqmigrate.kafka.connect import check_connection
from mqmigrate.kafka.protocol import BrokerFeatures, fetch_features
from mqmigrate.sources.probe import probe_source

#: first Apache Kafka release where share groups are generally available
SHARE_GROUPS_GA = (4, 2)
#: first release with a per-group ``share.delivery.count.limit`` (before it: broker-wide only)
PER_GROUP_DELIVERY_LIMIT = (4, 3)
#: share.version level from which the broker dead-letters (KIP-1191, Kafka 4.4)
BROKER_DLQ_SHARE_VERSION = 2


@dataclass
class Check:
    name: str
    #: "ok", "fail" (not ready) or "error" (connection/authentication) or "skip"
    result: str
    detail: str
    fix: str = ""


@dataclass
class DoctorReport:
    kafka: str
    checks: list[Check] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        results = {c.result for c in self.checks}
        if "error" in results:
            return ExitCode.USAGE
        if "fail" in results:
            return ExitCode.NEGATIVE
        return ExitCode.OK

    @property
    def ready(self) -> bool:
        return self.exit_code is ExitCode.OK

    def to_dict(self) -> dict:
        return {
            "schema": "mqmigrate.doctor/v1",
            "kafka": self.kafka,
            "ready": self.ready,
            "checks": [asdict(c) for c in self.checks],
        }


def _release_tuple(release: str | None) -> tuple[int, int] | None:
    if not release or release.startswith(">"):
        return (99, 0) if release else None
    major, minor = release.split(".")[:2]
    return int(major), int(minor)


def diagnose(
    kafka: KafkaConfig | str,
    sources: list[str] | None = None,
    *,
    timeout: float = 30.0,
    round_trip: bool = True,
) -> DoctorReport:
    """Run every check; raise :class:`ConnectionFailed` only when Kafka itself is unreachable.

    ``kafka`` is the connection configuration (or plaintext bootstrap servers).
    """
    config = as_kafka_config(kafka)
    bootstrap = config.bootstrap
    report = DoctorReport(kafka=bootstrap)
    check_connection(config, timeout=min(timeout, 10.0))  # credentials, TLS: one line, bounded
    features = fetch_features(config, timeout=min(timeout, 10.0))  # raises ConnectionFailed
    level = features.finalized_level("share.version")
    supported = features.supported.get("share.version", (0, 0))[1]
    report.checks.append(_version_check(features))
    report.checks.append(_share_version_check(level, supported, bootstrap))

    if not round_trip:
        pass
    elif level < 1:
        report.checks.append(Check("share.round-trip", "skip", "skipped: share groups disabled"))
    else:
        report.checks.append(_round_trip(config, timeout))

    for uri in sources or []:
        report.checks.append(_source_check(uri, timeout))
    return report


def _version_check(features: BrokerFeatures) -> Check:
    """kafka.version: a release with share groups GA (4.2+), and what 4.2 lacks."""
    release = features.release()
    rel = _release_tuple(release)
    if rel is None:
        return Check(
            "kafka.version",
            "fail",
            "release unknown (no metadata.version feature: a ZooKeeper-mode or pre-3.3 cluster)",
            "upgrade to Apache Kafka 4.2 or newer in KRaft mode",
        )
    if rel < SHARE_GROUPS_GA:
        return Check(
            "kafka.version",
            "fail",
            f"Kafka {release}: share groups are GA from 4.2",
            "upgrade the cluster to Apache Kafka 4.2+",
        )
    per_group = (
        ""
        if rel >= PER_GROUP_DELIVERY_LIMIT
        else (
            "; no per-group share.delivery.count.limit before 4.3: every share group uses the "
            "brokers' group.share.delivery.count.limit"
        )
    )
    return Check(
        "kafka.version",
        "ok",
        f"Kafka {release} (metadata.version "
        f"level {features.finalized_level('metadata.version')})" + per_group,
    )


def _share_version_check(level: int, supported: int, bootstrap: str) -> Check:
    """share.version: share groups enabled (and, at level 2, the broker's DLQ)."""
    if level >= 1:
        if level >= BROKER_DLQ_SHARE_VERSION:
            return Check(
                "share.version",
                "ok",
                f"share.version is {level} (share-group dead-letter queues available)",
            )
        # share groups work; only the broker DLQ is missing, which the worker makes up for
        upgrade = (
            f"run: kafka-features.sh --bootstrap-server {bootstrap} upgrade "
            f"--feature share.version={supported}"
            if supported >= BROKER_DLQ_SHARE_VERSION
            else "upgrade to Apache Kafka 4.4+ for broker dead-lettering"
        )
        return Check(
            "share.version",
            "ok",
            f"share.version is {level} (no share-group dead-letter "
            f"queue: needs share.version {BROKER_DLQ_SHARE_VERSION}, Kafka 4.4+; the worker "
            "dead-letters instead)",
            f"optional: {upgrade}",
        )
    if supported >= 1:
        return Check(
            "share.version",
            "fail",
            "share.version is 0: share groups are disabled",
            f"run: kafka-features.sh --bootstrap-server {bootstrap} upgrade "
            f"--feature share.version={supported}",
        )
    return Check(
        "share.version",
        "fail",
        "the brokers do not support share groups",
        "upgrade the cluster to Apache Kafka 4.2+",
    )


def _round_trip(config: KafkaConfig, timeout: float) -> Check:
    """Produce one record to a temporary topic and consume it through a share group."""
    from confluent_kafka import AcknowledgeType, KafkaException, Producer

    suffix = uuid.uuid4().hex[:12]
    topic, group = f"mqmigrate-doctor-{suffix}", f"mqmigrate-doctor-{suffix}"
    admin = share.admin_client(config)
    started = time.monotonic()
    try:
        share.create_topic(admin, topic)
    except MqMigrateError as exc:
        return Check(
            "share.round-trip",
            "fail",
            f"could not create a temporary topic: {exc}",
            "grant this client CREATE on the cluster or pre-create mqmigrate-doctor-* topics",
        )
    try:
        share.set_group_configs(admin, group, {"share.auto.offset.reset": "earliest"})
        payload = f"mqmigrate doctor {suffix}".encode()
        producer = Producer(config.client({"acks": "all", "logger": share._quiet}))
        producer.produce(topic, payload)
        if producer.flush(timeout) != 0:
            return Check(
                "share.round-trip",
                "fail",
                "the test record was not acknowledged",
                "check the broker's logs and min.insync.replicas",
            )
        consumer = share.share_consumer(config, group)
        try:
            consumer.subscribe([topic])
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for message in consumer.poll(1.0):
                    if message.error():
                        continue
                    consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                    consumer.commit_sync(timeout)
                    if message.value() == payload:
                        elapsed = time.monotonic() - started
                        return Check(
                            "share.round-trip",
                            "ok",
                            "produced and consumed one record "
                            f"through a share group with explicit ACCEPT in {elapsed:.1f}s",
                        )
        finally:
            consumer.close()
        return Check(
            "share.round-trip",
            "fail",
            f"no record came back within {timeout:.0f}s",
            "check that the group coordinator and share coordinator are healthy "
            "(share.coordinator.state.topic.replication.factor fits the cluster)",
        )
    except KafkaException as exc:
        return Check("share.round-trip", "fail", f"share consumer error: {exc}", "")
    finally:
        try:
            share.delete_topic(admin, topic)
        except MqMigrateError:
            pass  # the topic name says it is ours; a leftover is harmless


def _source_check(uri: str, timeout: float) -> Check:
    probe = probe_source(uri, timeout=timeout)
    name = f"source {probe.endpoint}"
    if probe.ok:
        return Check(name, "ok", f"{probe.kind}: reachable, authenticated, {probe.version}")
    return Check(name, "error", probe.detail, probe.fix)
