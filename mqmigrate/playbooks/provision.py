"""Make Kafka match a playbook: topics, DLQ topics, share-group configs, ACLs.

Desired (the playbook) is compared with actual (described from the cluster) into a list of
:class:`Change` rows: ``create``, ``alter`` (old → new), ``unchanged``, ``drift`` (a difference
provision will not fix) and ``skipped``.  Each create/alter row carries the operation that
applies it, so ``--dry-run`` is the same computation without running them.  Nothing is ever
deleted and no change that lowers data safety is made: fewer partitions than exist,
a different replication factor, shorter retention, a lower ``min.insync.replicas``, a
different cleanup policy, enabling unclean leader election are all reported as drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from mqmigrate.errors import UsageError
from mqmigrate.kafka import acls, share
from mqmigrate.kafka.acls import Acl
from mqmigrate.kafka.config import KafkaConfig, as_kafka_config
from mqmigrate.kafka.connect import check_connection
from mqmigrate.kafka.protocol import fetch_features
from mqmigrate.playbooks.model import AclGrant, Playbook, Workload

#: topic config KIP-1191 requires on a topic before a share group may dead-letter into it;
#: without it the broker logs "DLQ is not enabled on configured DLQ topic" and just archives
#: (checked against Kafka 4.4.0)
DLQ_ENABLE = "errors.deadletterqueue.group.enable"
#: group config naming the share group's dead-letter topic (KIP-1191)
DLQ_TOPIC_NAME = "errors.deadletterqueue.topic.name"
#: share.version level from which the broker dead-letters (KIP-1191)
BROKER_DLQ_SHARE_VERSION = 2


#: why a group config a playbook sets is missing from an older cluster, and what to do instead
_UNKNOWN_GROUP_CONFIG = {
    "share.delivery.count.limit": (
        "no per-group delivery limit before Kafka 4.3: set the broker config "
        "group.share.delivery.count.limit (all share groups) or upgrade; the worker reads it"
    ),
    "share.partition.max.record.locks": (
        "no per-group record-lock cap before Kafka 4.3: set the broker config "
        "group.share.partition.max.record.locks or upgrade"
    ),
    "share.renew.acknowledge.enable": "no RENEW acknowledgement before Kafka 4.3",
}


@dataclass
class Change:
    """One row of the diff."""

    workload: str
    resource: str  # "topic", "dlq-topic", "group", "acls"
    name: str
    item: str
    action: str  # create | alter | unchanged | drift | skipped
    old: Optional[str] = None
    new: Optional[str] = None
    note: str = ""
    apply: Optional[Callable[[], None]] = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the row."""
        return {
            "workload": self.workload,
            "resource": self.resource,
            "name": self.name,
            "item": self.item,
            "action": self.action,
            "old": self.old,
            "new": self.new,
            "note": self.note,
        }


@dataclass
class Report:
    """The diff and what was done with it."""

    bootstrap: str
    dry_run: bool
    share_version: int
    changes: list[Change]
    applied: int = 0

    @property
    def drift(self) -> list[Change]:
        """Rows provision will not fix."""
        return [c for c in self.changes if c.action == "drift"]

    @property
    def pending(self) -> list[Change]:
        """Rows that are (or, after a real run, were) creates and alters."""
        return [c for c in self.changes if c.action in ("create", "alter")]

    @property
    def exit_code(self) -> int:
        """0 converged (or would converge), 1 drift remains."""
        return 1 if self.drift else 0

    def counts(self) -> dict[str, int]:
        """Number of rows per action."""
        result: dict[str, int] = {}
        for change in self.changes:
            result[change.action] = result.get(change.action, 0) + 1
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``provision --format json``)."""
        return {
            "bootstrap": self.bootstrap,
            "dry_run": self.dry_run,
            "share_version": self.share_version,
            "applied": self.applied,
            "counts": self.counts(),
            "exit_code": self.exit_code,
            "changes": [c.to_dict() for c in self.changes],
        }


def _retention(value: str) -> float:
    number = int(value)
    return float("inf") if number < 0 else float(number)


def lowers_safety(key: str, old: str, new: str) -> Optional[str]:
    """Why changing topic config ``key`` from ``old`` to ``new`` would put data at risk, or None."""
    try:
        if key in (
            "retention.ms",
            "retention.bytes",
            "local.retention.ms",
            "local.retention.bytes",
        ) and _retention(new) < _retention(old):
            return f"shorter {key} would delete records now kept"
        if key == "min.insync.replicas" and int(new) < int(old):
            return "a lower min.insync.replicas weakens acks=all durability"
    except ValueError:
        return None
    if key == "unclean.leader.election.enable" and new == "true" and old != "true":
        return "unclean leader election can lose acknowledged records"
    if key == "cleanup.policy" and set(new.split(",")) != set(old.split(",")):
        return "changing the cleanup policy can compact or delete records now kept"
    return None


def _partitions(n: int) -> str:
    return f"{n} partition{'s' if n != 1 else ''}"


def _topic_changes(
    admin,
    workload: Workload,
    resource: str,
    topic: str,
    partitions: int,
    replication: int | None,
    configs: dict[str, str],
    brokers: int,
) -> list[Change]:
    rows: list[Change] = []
    row = lambda item, action, old=None, new=None, note="", apply=None: Change(  # noqa: E731
        workload.id, resource, topic, item, action, old, new, note, apply
    )
    actual = share.describe_topic(admin, topic)
    if actual is None:
        if replication is not None and replication > brokers:
            rows.append(
                row(
                    "topic",
                    "drift",
                    None,
                    f"rf {replication}",
                    f"cannot create: replication {replication} needs {replication} "
                    f"brokers, the cluster has {brokers}",
                )
            )
            return rows
        rf = replication if replication is not None else "cluster default"
        described = f"{_partitions(partitions)}, rf {rf}" + "".join(
            f", {k}={v}" for k, v in sorted(configs.items())
        )
        rows.append(
            row(
                "topic",
                "create",
                None,
                described,
                apply=lambda: share.create_topic(admin, topic, partitions, configs, replication),
            )
        )
        return rows
    if actual.partitions < partitions:
        rows.append(
            row(
                "partitions",
                "alter",
                str(actual.partitions),
                str(partitions),
                "adding partitions changes key→partition mapping for keyed records",
                apply=lambda: share.create_partitions(admin, topic, partitions),
            )
        )
    elif actual.partitions > partitions:
        rows.append(
            row(
                "partitions",
                "drift",
                str(actual.partitions),
                str(partitions),
                "Kafka cannot remove partitions; update the playbook or recreate the topic by hand",
            )
        )
    else:
        rows.append(row("partitions", "unchanged", str(actual.partitions)))
    if replication is not None and actual.replication != replication:
        rows.append(
            row(
                "replication",
                "drift",
                str(actual.replication),
                str(replication),
                "provision does not reassign replicas; use kafka-reassign-partitions",
            )
        )
    else:
        rows.append(row("replication", "unchanged", str(actual.replication)))
    current = share.topic_configs(admin, topic) if configs else {}
    to_set: dict[str, str] = {}
    for key, value in sorted(configs.items()):
        if key not in current:
            rows.append(row(key, "drift", None, value, "not a topic config this cluster knows"))
        elif current[key] == value:
            rows.append(row(key, "unchanged", value))
        elif (why := lowers_safety(key, current[key], value)) is not None:
            rows.append(row(key, "drift", current[key], value, f"not lowered: {why}"))
        else:
            to_set[key] = value
            rows.append(row(key, "alter", current[key], value))
    if to_set:
        # one incremental alter for all of the topic's keys; attached to the first alter row
        first = next(r for r in rows if r.action == "alter" and r.item in to_set)
        first.apply = lambda: share.alter_topic_configs(admin, topic, to_set)
    return rows


def _group_changes(admin, workload: Workload, share_version: int, dlq_ready: bool) -> list[Change]:
    consumer = workload.target.consumer
    group = consumer.group
    rows: list[Change] = []
    if consumer.type != "share-group":
        rows.append(
            Change(
                workload.id,
                "group",
                group,
                "configs",
                "skipped",
                note="consumer-group: no share-group configs to set",
            )
        )
        return rows
    desired = consumer.configs.as_kafka() if consumer.configs else {}
    dlq = workload.target.dlq
    if dlq is not None and dlq.use_broker_dlq:
        if share_version >= BROKER_DLQ_SHARE_VERSION and not dlq_ready:
            # naming a topic that will not exist would make the broker archive instead
            rows.append(
                Change(
                    workload.id,
                    "group",
                    group,
                    DLQ_TOPIC_NAME,
                    "skipped",
                    None,
                    dlq.topic,
                    "the DLQ topic cannot be created (see its drift row)",
                )
            )
        elif share_version >= BROKER_DLQ_SHARE_VERSION:
            desired[DLQ_TOPIC_NAME] = dlq.topic
        else:
            rows.append(
                Change(
                    workload.id,
                    "group",
                    group,
                    DLQ_TOPIC_NAME,
                    "drift",
                    None,
                    dlq.topic,
                    f"broker dead-lettering needs share.version>={BROKER_DLQ_SHARE_VERSION} (cluster "
                    f"has {share_version}); upgrade the feature or set use_broker_dlq: false so the "
                    "worker forwards",
                )
            )
    if not desired:
        return rows
    # every config the cluster knows for a group (defaults included): a key missing here is
    # one this Kafka release cannot take, and setting it would fail the whole alter
    current = share.group_configs(admin, group)
    to_set: dict[str, str] = {}
    for key, value in sorted(desired.items()):
        if key not in current:
            rows.append(
                Change(
                    workload.id,
                    "group",
                    group,
                    key,
                    "drift",
                    None,
                    value,
                    _UNKNOWN_GROUP_CONFIG.get(key, "not a group config this cluster knows"),
                )
            )
        elif current.get(key) == value:
            rows.append(Change(workload.id, "group", group, key, "unchanged", value))
        else:
            to_set[key] = value
            rows.append(Change(workload.id, "group", group, key, "alter", current.get(key), value))
    if to_set:
        first = next(r for r in rows if r.action == "alter")
        first.apply = lambda: share.set_group_configs(admin, group, to_set)
    return rows


def diff(
    admin,
    playbook: Playbook,
    share_version: int,
    *,
    authorizer: bool,
    brokers: int,
    workloads: Optional[list[str]] = None,
) -> list[Change]:
    """Desired (``playbook``) vs actual (the cluster behind ``admin``) as change rows.

    Topic rows come before group rows of the same workload so that applying in order creates a
    DLQ topic before the group names it.
    """
    selected = [w for w in playbook.workloads if not workloads or w.id in workloads]
    changes: list[Change] = []
    # a fan-out declares one topic (and DLQ topic) in several workloads: describe and create it
    # once, and only check that the other declarations agree with the first
    declared: dict[str, tuple[str, tuple]] = {}

    def topic_rows(
        workload: Workload,
        resource: str,
        topic: str,
        partitions: int,
        replication: int | None,
        configs: dict[str, str],
    ) -> list[Change]:
        desired = (partitions, replication, tuple(sorted(configs.items())))
        if topic in declared:
            first, wanted = declared[topic]
            if wanted == desired:
                return [
                    Change(
                        workload.id,
                        resource,
                        topic,
                        "topic",
                        "unchanged",
                        note=f"declared by workload {first}",
                    )
                ]
            return [
                Change(
                    workload.id,
                    resource,
                    topic,
                    "topic",
                    "drift",
                    note=f"declared differently by workload {first}; make the declarations agree",
                )
            ]
        declared[topic] = (workload.id, desired)
        return _topic_changes(
            admin, workload, resource, topic, partitions, replication, configs, brokers
        )

    for workload in selected:
        target = workload.target
        changes += topic_rows(
            workload,
            "topic",
            target.topic,
            target.partitions,
            target.replication,
            dict(target.configs),
        )
        dlq_ready = True
        if target.dlq is not None:
            dlq_configs = dict(target.dlq.configs)
            if target.dlq.use_broker_dlq and share_version >= BROKER_DLQ_SHARE_VERSION:
                dlq_configs[DLQ_ENABLE] = "true"
            dlq_rows = topic_rows(
                workload,
                "dlq-topic",
                target.dlq.topic,
                target.dlq.partitions,
                target.replication,
                dlq_configs,
            )
            dlq_ready = not any(r.item == "topic" and r.action == "drift" for r in dlq_rows)
            changes += dlq_rows
        if target.retry is not None:
            changes += _tier_changes(workload, topic_rows)
        changes += _group_changes(admin, workload, share_version, dlq_ready)
    changes += _acl_changes(admin, selected, authorizer)
    return changes


def _tier_changes(workload: Workload, topic_rows: Callable[..., list[Change]]) -> list[Change]:
    """Rows for the retry tier topics and a note for each tier's consumer group."""
    target = workload.target
    retry = target.retry
    assert retry is not None
    rows: list[Change] = []
    for topic in retry.topics(target.topic):
        rows += topic_rows(
            workload,
            "tier-topic",
            topic,
            retry.partitions or target.partitions,
            target.replication,
            dict(retry.configs),
        )
    for group in retry.groups(target.consumer.group):
        # a plain consumer group: nothing to configure, it exists once the worker joins and
        # reads from the earliest offset (a record written before is still handled)
        rows.append(
            Change(
                workload.id,
                "tier-group",
                group,
                "configs",
                "skipped",
                note="consumer group of a retry tier: created when the worker "
                "joins; no configs to set",
            )
        )
    return rows


def grant_acls(workload: Workload, grant: AclGrant) -> list[Acl]:
    """The ACLs one grant of ``workload`` stands for (see :class:`AclGrant`)."""
    # a producer may read its topics' configs: the bridge sizes its batches below the topic's
    # max.message.bytes, so one oversized record is quarantined alone, not with its batch
    operations = {
        "produce": ("WRITE", "DESCRIBE", "DESCRIBE_CONFIGS"),
        "consume": ("READ",),
        "dlq-write": ("WRITE", "DESCRIBE"),
    }[grant.role]
    tiers = set(workload.target.tier_topics())
    out = []
    seen: set[Acl] = set()
    for resource, name in workload.target.acl_resources(grant.role):
        tier = resource == "topic" and name in tiers
        if grant.pattern == "prefixed":
            name = grant.prefix or name
        # a group only needs READ (joining, fetching and acknowledging); a topic READ implies
        # DESCRIBE, WRITE does not; a consumer also writes its retries to the tier topics
        ops = ("READ",) if resource == "group" else operations
        if tier and grant.role == "consume":
            ops = ("READ", "WRITE", "DESCRIBE")
        for op in ops:
            acl = Acl(resource, name, grant.pattern, grant.principal, op)
            if acl not in seen:  # a prefixed grant names one resource for several
                seen.add(acl)
                out.append(acl)
    return out


def _acl_changes(admin, workloads: list[Workload], authorizer: bool) -> list[Change]:
    """Rows for every declared ACL: create when missing, unchanged when present; none deleted."""
    declared: dict[Acl, str] = {}
    rows: list[Change] = []
    for workload in workloads:
        for grant in workload.target.acls:
            for acl in grant_acls(workload, grant):
                declared.setdefault(acl, workload.id)
    if not authorizer:
        note = "the cluster has no authorizer"
        if declared:
            note += f"; {len(declared)} declared ACL(s) not created"
        return [Change("*", "acls", "-", "acls", "skipped", note=note)]
    if not declared:
        return [
            Change(
                "*",
                "acls",
                "-",
                "acls",
                "skipped",
                note="the playbook declares no ACL grants (target.acls)",
            )
        ]
    present = acls.existing(admin)
    missing = sorted(acl for acl in declared if acl not in present)
    for acl in sorted(declared, key=lambda a: (declared[a], a)):
        action = "unchanged" if acl in present else "create"
        rows.append(
            Change(
                declared[acl],
                "acls",
                acl.label(),
                f"{acl.principal} {acl.operation}",
                action,
                new=None if action == "unchanged" else "ALLOW from *",
            )
        )
    if missing:
        # one CreateAcls request for all of them, attached to the first create row
        first = next(r for r in rows if r.action == "create")
        first.apply = lambda: acls.create(admin, missing)
    return rows


def provision(
    playbook: Playbook,
    bootstrap: "KafkaConfig | str | None" = None,
    *,
    dry_run: bool = False,
    workloads: Optional[list[str]] = None,
    timeout: float = 10.0,
) -> Report:
    """Compare the cluster with ``playbook`` and (unless ``dry_run``) apply creates and alters.

    ``bootstrap`` is the connection configuration, or bootstrap servers overriding the
    playbook's ``kafka.bootstrap`` (plaintext).  Raises UsageError without a bootstrap or for
    an unknown workload id; ConnectionFailed when the cluster cannot be reached.
    """
    if not isinstance(bootstrap, KafkaConfig):
        bootstrap = bootstrap or (playbook.kafka.bootstrap if playbook.kafka else None)
    config = as_kafka_config(bootstrap) if bootstrap else KafkaConfig()
    if not config.properties.get("bootstrap.servers"):
        raise UsageError(
            "no Kafka cluster to provision",
            hint="pass --kafka HOST:PORT or set kafka.bootstrap in the playbook",
        )
    bootstrap = config.bootstrap
    known = [w.id for w in playbook.workloads]
    for wanted in workloads or []:
        if wanted not in known:
            raise UsageError(
                f"no workload '{wanted}' in playbook {playbook.metadata.name}",
                hint=f"known: {', '.join(known)}",
            )
    # fails fast (ConnectionFailed, AuthenticationFailed) before librdkafka's slower timeouts
    check_connection(config, timeout=timeout)
    share_version = fetch_features(config, timeout=timeout).finalized_level("share.version")
    admin = share.admin_client(config)
    brokers, authorizer = share.cluster_info(admin)
    changes = diff(
        admin, playbook, share_version, authorizer=authorizer, brokers=brokers, workloads=workloads
    )
    report = Report(bootstrap, dry_run, share_version, changes)
    if not dry_run:
        # operations are attached to the first row they cover (one create per topic, one
        # incremental alter per topic or group), so run those, then count every row they made
        for change in changes:
            if change.apply is not None:
                change.apply()
        report.applied = len(report.pending)
    return report
