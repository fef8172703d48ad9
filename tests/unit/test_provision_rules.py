"""Which topic-config changes provision refuses because they would lower data safety."""

from __future__ import annotations

import pytest

from mqmigrate.kafka.share import SHARE_GROUP_DEFAULTS
from mqmigrate.playbooks.provision import lowers_safety


@pytest.mark.parametrize(
    "key,old,new",
    [
        ("retention.ms", "604800000", "86400000"),
        ("retention.ms", "-1", "604800000"),  # -1 is "forever"
        ("retention.bytes", "-1", "1073741824"),
        ("min.insync.replicas", "2", "1"),
        ("unclean.leader.election.enable", "false", "true"),
        ("cleanup.policy", "delete", "compact"),
    ],
)
def test_refused(key, old, new):
    assert lowers_safety(key, old, new)


@pytest.mark.parametrize(
    "key,old,new",
    [
        ("retention.ms", "86400000", "604800000"),
        ("retention.ms", "604800000", "-1"),
        ("min.insync.replicas", "1", "2"),
        ("unclean.leader.election.enable", "true", "false"),
        ("cleanup.policy", "delete,compact", "compact,delete"),
        ("max.message.bytes", "2097152", "1048576"),  # not a data-safety setting
        ("retention.ms", "abc", "1"),  # unparsable: let the broker judge
    ],
)
def test_allowed(key, old, new):
    assert lowers_safety(key, old, new) is None


class FakeCluster:
    """Stands in for mqmigrate.kafka.share's describe functions (no broker needed)."""

    #: what a Kafka 4.4 broker describes for a group nobody configured (every key it knows)
    KAFKA_4_4_GROUP = {
        **SHARE_GROUP_DEFAULTS,
        "share.partition.max.record.locks": "2000",
        "errors.deadletterqueue.topic.name": "",
    }
    #: Kafka 4.2 knows no per-group delivery limit, record-lock cap or DLQ (observed on 4.2.2)
    KAFKA_4_2_GROUP = {
        k: v
        for k, v in KAFKA_4_4_GROUP.items()
        if k
        in ("share.auto.offset.reset", "share.record.lock.duration.ms", "share.isolation.level")
    }

    def __init__(self, topics=None, topic_configs=None, group_configs=None, group_defaults=None):
        self.topics = topics or {}
        self.topic_configs = topic_configs or {}
        self.group_configs = group_configs or {}
        self.group_defaults = self.KAFKA_4_4_GROUP if group_defaults is None else group_defaults

    def install(self, monkeypatch):
        from mqmigrate.kafka import share

        monkeypatch.setattr(share, "describe_topic", lambda admin, t: self.topics.get(t))
        monkeypatch.setattr(share, "topic_configs", lambda admin, t: self.topic_configs.get(t, {}))
        monkeypatch.setattr(
            share,
            "group_configs",
            lambda admin, g, names=None: {
                k: v
                for k, v in {**self.group_defaults, **self.group_configs.get(g, {})}.items()
                if names is None or k in names
            },
        )


def _playbook(**overrides):
    from mqmigrate.playbooks.render import WorkloadSpec, build_playbook

    values = dict(
        id="jobs",
        source={"kind": "sqs", "queue": "jobs", "region": "eu-west-1"},
        topic="jobs",
        partitions=3,
        group="jobs-workers",
        dlq_topic="dlq.jobs",
        use_broker_dlq=True,
        share_configs={"share.delivery.count.limit": 3},
    )
    values.update(overrides)
    return build_playbook([WorkloadSpec(**values)])


def test_broker_dlq_below_share_version_2_is_drift(monkeypatch):
    from mqmigrate.kafka.share import TopicState
    from mqmigrate.playbooks.provision import DLQ_ENABLE, DLQ_TOPIC_NAME, diff

    FakeCluster(
        topics={"jobs": TopicState("jobs", 3, 1), "dlq.jobs": TopicState("dlq.jobs", 1, 1)},
        group_configs={"jobs-workers": {"share.delivery.count.limit": "3"}},
    ).install(monkeypatch)
    rows = diff(None, _playbook(), share_version=1, authorizer=False, brokers=1)
    drift = [r for r in rows if r.action == "drift"]
    assert [(r.resource, r.item) for r in drift] == [("group", DLQ_TOPIC_NAME)]
    assert "share.version>=2" in drift[0].note and "use_broker_dlq: false" in drift[0].note
    # no KIP-1191 topic config either: on this cluster the worker forwards
    assert not any(r.item == DLQ_ENABLE for r in rows)


def test_consumer_group_workload_sets_no_share_configs(monkeypatch):
    from mqmigrate.playbooks.provision import diff

    FakeCluster().install(monkeypatch)
    rows = diff(
        None,
        _playbook(
            consumer_type="consumer-group",
            key="message-group-id",
            share_configs={},
            dlq_topic=None,
            use_broker_dlq=False,
        ),
        share_version=2,
        authorizer=False,
        brokers=1,
    )
    assert [(r.resource, r.action) for r in rows] == [
        ("topic", "create"),
        ("group", "skipped"),
        ("acls", "skipped"),
    ]


def test_an_authorizer_without_declared_grants_creates_nothing(monkeypatch):
    from mqmigrate.playbooks.provision import diff

    FakeCluster().install(monkeypatch)
    rows = diff(None, _playbook(), share_version=2, authorizer=True, brokers=3)
    acl = rows[-1]
    assert (acl.resource, acl.action, acl.apply) == ("acls", "skipped", None)
    assert acl.note == "the playbook declares no ACL grants (target.acls)"


def test_each_role_maps_to_its_acls():
    from mqmigrate.kafka.acls import Acl
    from mqmigrate.playbooks.provision import grant_acls

    playbook = _playbook(
        acls=[
            {"principal": "User:api", "role": "produce", "pattern": "literal"},
            {"principal": "User:worker", "role": "consume", "pattern": "prefixed", "prefix": "jo"},
            {"principal": "User:worker", "role": "dlq-write", "pattern": "literal"},
        ]
    )
    (w,) = playbook.workloads
    produce, consume, dlq = (grant_acls(w, g) for g in w.target.acls)
    assert produce == [
        Acl("topic", "jobs", "literal", "User:api", "WRITE"),
        Acl("topic", "jobs", "literal", "User:api", "DESCRIBE"),
        Acl("topic", "jobs", "literal", "User:api", "DESCRIBE_CONFIGS"),
    ]
    # READ on the topic and on the (share) group, both on the prefix
    assert consume == [
        Acl("topic", "jo", "prefixed", "User:worker", "READ"),
        Acl("group", "jo", "prefixed", "User:worker", "READ"),
    ]
    assert dlq == [
        Acl("topic", "dlq.jobs", "literal", "User:worker", "WRITE"),
        Acl("topic", "dlq.jobs", "literal", "User:worker", "DESCRIBE"),
    ]


def test_acls_diff_creates_what_is_missing_once_and_never_deletes(monkeypatch):
    """A fan-out declares the same grant in two workloads: each ACL is one row and one create;
    ACLs the cluster has (declared or not) are never removed."""
    from mqmigrate.kafka import acls
    from mqmigrate.kafka.acls import Acl
    from mqmigrate.playbooks.render import WorkloadSpec, build_playbook
    from mqmigrate.playbooks.provision import diff

    FakeCluster().install(monkeypatch)
    present = {
        Acl("topic", "events", "literal", "User:api", "WRITE"),
        Acl("topic", "other", "literal", "User:api", "READ"),
    }  # not declared
    monkeypatch.setattr(acls, "existing", lambda admin: present)
    created = []
    monkeypatch.setattr(acls, "create", lambda admin, wanted: created.extend(wanted))

    def spec(queue):
        return WorkloadSpec(
            id=queue,
            source={"kind": "rabbitmq", "queue": queue, "vhost": "/"},
            topic="events",
            partitions=3,
            group=queue,
            acls=[{"principal": "User:api", "role": "produce"}],
        )

    rows = diff(
        None,
        build_playbook([spec("billing"), spec("shipping")]),
        share_version=2,
        authorizer=True,
        brokers=1,
    )
    acl_rows = [(r.workload, r.name, r.item, r.action) for r in rows if r.resource == "acls"]
    assert acl_rows == [
        ("billing", "topic events (literal)", "User:api DESCRIBE", "create"),
        ("billing", "topic events (literal)", "User:api DESCRIBE_CONFIGS", "create"),
        ("billing", "topic events (literal)", "User:api WRITE", "unchanged"),
    ]
    for row in rows:
        if row.apply is not None and row.resource == "acls":
            row.apply()
    assert created == [
        Acl("topic", "events", "literal", "User:api", "DESCRIBE"),
        Acl("topic", "events", "literal", "User:api", "DESCRIBE_CONFIGS"),
    ]

    # without an authorizer nothing is created and the row says how many were declared
    rows = diff(
        None, build_playbook([spec("billing")]), share_version=2, authorizer=False, brokers=1
    )
    assert [(r.action, r.note) for r in rows if r.resource == "acls"] == [
        ("skipped", "the cluster has no authorizer; 3 declared ACL(s) not created")
    ]


def test_a_fanout_topic_is_created_once_and_its_declarations_must_agree(monkeypatch):
    """Three share groups on one topic (plan's fan-out): one create per topic, the other
    workloads' declarations are checked against the first instead of creating it again."""
    from mqmigrate.playbooks.render import WorkloadSpec, build_playbook
    from mqmigrate.playbooks.provision import diff

    FakeCluster().install(monkeypatch)

    def spec(queue, partitions=3):
        return WorkloadSpec(
            id=queue,
            source={"kind": "rabbitmq", "queue": queue, "vhost": "/"},
            topic="events",
            partitions=partitions,
            group=queue,
            dlq_topic="dlq.events",
            use_broker_dlq=True,
        )

    rows = diff(
        None,
        build_playbook([spec("billing"), spec("shipping")]),
        share_version=2,
        authorizer=False,
        brokers=1,
    )
    topic_rows = [
        (r.workload, r.resource, r.action, r.note)
        for r in rows
        if r.resource in ("topic", "dlq-topic")
    ]
    assert topic_rows == [
        ("billing", "topic", "create", ""),
        ("billing", "dlq-topic", "create", ""),
        ("shipping", "topic", "unchanged", "declared by workload billing"),
        ("shipping", "dlq-topic", "unchanged", "declared by workload billing"),
    ]
    assert sum(r.apply is not None for r in rows if r.resource != "group") == 2

    rows = diff(
        None,
        build_playbook([spec("billing"), spec("shipping", partitions=6)]),
        share_version=2,
        authorizer=False,
        brokers=1,
    )
    drift = [r for r in rows if r.action == "drift"]
    assert [(r.workload, r.name) for r in drift] == [("shipping", "events")]
    assert "declared differently by workload billing" in drift[0].note


def test_a_group_config_kafka_4_2_does_not_know_is_drift_with_its_reason(monkeypatch):
    """Kafka 4.2 answers "Unknown group config name: share.delivery.count.limit" to the alter
    (observed on 4.2.2): provision keeps it out of the alter, names the broker-wide setting,
    and still sets what 4.2 takes."""
    from mqmigrate.playbooks.provision import diff

    FakeCluster(group_defaults=FakeCluster.KAFKA_4_2_GROUP).install(monkeypatch)
    rows = diff(
        None,
        _playbook(
            use_broker_dlq=False,
            share_configs={"share.delivery.count.limit": 3, "share.record.lock.duration.ms": 45000},
        ),
        share_version=1,
        authorizer=False,
        brokers=1,
    )
    groups = {r.item: r for r in rows if r.resource == "group"}
    limit = groups["share.delivery.count.limit"]
    assert (limit.action, limit.new, limit.apply) == ("drift", "3", None)
    assert "group.share.delivery.count.limit" in limit.note and "4.3" in limit.note
    lock = groups["share.record.lock.duration.ms"]
    assert lock.action == "alter" and lock.apply is not None

    # the same playbook on a 4.3+/4.4 cluster: the limit is an ordinary per-group alter
    FakeCluster().install(monkeypatch)
    rows = diff(
        None,
        _playbook(use_broker_dlq=False, share_configs={"share.delivery.count.limit": 3}),
        share_version=1,
        authorizer=False,
        brokers=1,
    )
    assert [(r.item, r.action) for r in rows if r.resource == "group"] == [
        ("share.delivery.count.limit", "alter")
    ]
