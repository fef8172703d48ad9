"""Exact findings and targets for hand-written fixtures that trigger every rule (and some that
trigger none), for RabbitMQ definitions, Terraform, CloudFormation and the AMQP 1.0 YAML."""

from __future__ import annotations

import pytest

from tests.unit.assess_helpers import ESTATES, FIXTURES, fired, workloads
from mqmigrate.assessment.rules import REGISTRY, RULE_IDS

RABBIT_ALL = {
    None: (
        "not-a-workload",
        [("security.mapping", "warn"), ("source.hygiene", "info"), ("source.hygiene", "info")],
    ),
    "orders.sac": ("consumer-group", [("ordering.fifo", "blocker")]),
    "work.main": (
        "share-group-with-changes",
        [("delay.delivery", "warn"), ("dlq.redrive", "info"), ("retry.limit", "warn")],
    ),
    # the TTL+DLX wait queue of work.main: a delay tier, not a work queue or a DLQ
    "work.wait": ("redesign", [("delay.delivery", "warn")]),
    "work.ttl": (
        "share-group-with-changes",
        [("source.hygiene", "info"), ("ttl.expiry", "info"), ("ttl.expiry", "warn")],
    ),
    "prio": ("share-group-with-changes", [("priority", "warn"), ("retry.limit", "warn")]),
    "bounded": ("share-group-with-changes", [("backpressure.max-length", "warn")]),
    "delayed": ("redesign", [("delay.delivery", "blocker")]),
    "routed": ("share-group-with-changes", [("routing.pattern", "warn")]),
    "fan.a": ("share-group", [("fanout.share-groups", "info")]),
    "fan.b": ("share-group", [("fanout.share-groups", "info")]),
    "rpc.replies": (
        "redesign",
        [("retry.limit", "warn"), ("rpc.reply-to", "blocker"), ("source.hygiene", "info")],
    ),
    "events": ("consumer-group", [("queue-type.stream", "info"), ("ttl.expiry", "info")]),
    "ha.legacy": (
        "share-group-with-changes",
        [("retry.limit", "warn"), ("source.hygiene", "info")],
    ),
    "slow.jobs": ("consumer-group", [("visibility.timeout", "blocker")]),
    "medium.jobs": ("share-group-with-changes", [("visibility.timeout", "warn")]),
    "dead": ("share-group-with-changes", [("routing.pattern", "warn")]),
}

SQS_ALL = {
    None: ("not-a-workload", []),
    "orders.fifo": (
        "consumer-group",
        [
            ("delay.delivery", "warn"),
            ("dlq.redrive", "info"),
            ("exactly-once.dedup", "warn"),
            ("ordering.fifo", "blocker"),
            ("retry.limit", "warn"),
            ("security.mapping", "warn"),
            ("size.max-message", "warn"),
            ("ttl.expiry", "info"),
            ("visibility.timeout", "warn"),
        ],
    ),
    "orders-dlq.fifo": (
        "consumer-group",
        [
            ("dlq.redrive", "info"),
            ("exactly-once.dedup", "warn"),
            ("ordering.fifo", "blocker"),
            ("ttl.expiry", "info"),
        ],
    ),
    "reports": (
        "consumer-group",
        [
            ("retry.limit", "warn"),
            ("security.mapping", "warn"),
            ("ttl.expiry", "info"),
            ("visibility.timeout", "blocker"),
        ],
    ),
    "tidy": ("share-group", [("dlq.redrive", "info"), ("ttl.expiry", "info")]),
    "tidy-dlq": ("share-group", [("dlq.redrive", "info"), ("ttl.expiry", "info")]),
}


def test_rabbitmq_definitions_all_rules():
    assert fired(FIXTURES / "rabbit_all_rules.json") == RABBIT_ALL


def test_rabbitmq_clean_queue_fires_nothing_actionable():
    result = fired(FIXTURES / "rabbit_clean.json")
    assert result == {
        None: ("not-a-workload", []),
        "jobs": ("share-group", [("ttl.expiry", "info")]),
    }
    jobs = workloads(FIXTURES / "rabbit_clean.json")["jobs"]
    # what an export cannot show is reported unknown, never as a pass
    assert sorted(f.rule for f in jobs.findings if f.status.value == "unknown") == [
        "size.max-message"
    ]


def test_terraform_all_rules():
    assert fired(FIXTURES / "sqs_all_rules.tf") == SQS_ALL


def test_cloudformation_yaml_matches_terraform():
    expected = dict(SQS_ALL)
    for name in ("orders.fifo", "orders-dlq.fifo"):
        # !Sub ${Env}: the name is not resolvable offline, a human sets it (naming.unresolved)
        verdict, rules = expected.pop(name)
        expected["{Env}-" + name] = (verdict, sorted(rules + [("naming.unresolved", "warn")]))
    expected["Tidy"] = expected.pop("tidy")  # no QueueName: the logical id
    assert fired(FIXTURES / "sqs_all_rules.yaml") == expected


def test_cloudformation_json_clean():
    assert fired(FIXTURES / "sqs_clean.json") == {
        None: ("not-a-workload", []),
        "jobs": ("share-group", [("dlq.redrive", "info"), ("ttl.expiry", "info")]),
        "jobs-dlq": ("share-group", [("dlq.redrive", "info"), ("ttl.expiry", "info")]),
    }


def test_amqp1_yaml():
    assert fired(FIXTURES / "amqp1.yaml") == {
        None: ("not-a-workload", []),
        "payments": ("consumer-group", [("dlq.redrive", "info"), ("ordering.fifo", "blocker")]),
        "audit": (
            "share-group-with-changes",
            [
                ("backpressure.max-length", "warn"),
                ("exactly-once.dedup", "warn"),
                ("retry.limit", "warn"),
            ],
        ),
        "prices.web": ("share-group", [("fanout.share-groups", "info")]),
        "prices.mobile": ("share-group", [("fanout.share-groups", "info")]),
        "DLQ": ("share-group", [("dlq.redrive", "info")]),
    }


def test_every_catalogue_rule_is_registered_and_fired_by_some_fixture():
    registered = {r.id for r in REGISTRY.values()}
    assert registered == set(RULE_IDS)
    seen = set()
    for name in (
        "rabbit_all_rules.json",
        "sqs_all_rules.tf",
        "amqp1.yaml",
        "servicebus_all_rules.tf",
    ):
        for _, findings in fired(FIXTURES / name).values():
            seen |= {rule for rule, _ in findings}
    # Artemis broker.xml and IBM MQ MQSC semantics (tests/unit/test_assess_brokers.py)
    for path in (
        ESTATES / "edge" / "artemis-settings.xml",
        ESTATES / "edge" / "mqsc-continuations.mqsc",
    ):
        for _, findings in fired(path).values():
            seen |= {rule for rule, _ in findings}
    # client.share-consumer needs live consumers: covered in test_assess_targets
    assert set(RULE_IDS) - seen == {"client.share-consumer"}


def test_terraform_values_and_defaults():
    w = workloads(FIXTURES / "sqs_all_rules.tf")
    from mqmigrate.inventory import read_estate

    q = {q.name: q for q in read_estate([str(FIXTURES / "sqs_all_rules.tf")]).sources[0].queues}
    assert q["tidy"].visibility_timeout == 45  # var.visibility default
    assert q["tidy"].delivery_limit == 5  # from the separate aws_sqs_queue_redrive_policy (heredoc)
    assert q["tidy"].dead_letter.target == "tidy-dlq"
    assert q["orders.fifo"].dead_letter.target == "orders-dlq.fifo"  # jsonencode + reference
    assert q["orders.fifo"].max_message_size == 1048576
    assert "max_message_size" in q["orders.fifo"].defaulted
    assert q["orders.fifo"].retention == 345600 and "retention" in q["orders.fifo"].defaulted
    assert "visibility_timeout" not in q["orders.fifo"].defaulted
    assert q["reports"].access_policy["Statement"][0]["Principal"] == {
        "Service": "sns.amazonaws.com"
    }
    evidence = [f.evidence for f in w["orders.fifo"].findings if f.rule == "size.max-message"][0]
    assert evidence["MaximumMessageSize"] == "1048576 (default)"


@pytest.mark.parametrize("name", ["sqs_all_rules.tf", "sqs_all_rules.yaml"])
def test_sqs_targets(name):
    w = workloads(FIXTURES / name)
    fifo = next(v for k, v in w.items() if k and k.endswith("orders.fifo"))
    assert fifo.target.mode.value == "consumer-group"
    assert fifo.target.key.value == "MessageGroupId"
    assert fifo.target.partitions.value == 12
    tidy = next(v for k, v in w.items() if k and k.lower() == "tidy")
    cfg = {k: d.value for k, d in tidy.target.group_configs.items()}
    assert cfg == {
        "share.record.lock.duration.ms": 45000,
        "share.delivery.count.limit": 5,
        "share.auto.offset.reset": "earliest",
        "errors.deadletterqueue.topic.name": "dlq." + tidy.target.topic.value,
    }
    assert tidy.target.dlq_topic.value == "dlq." + tidy.target.topic.value
    dlq = w["tidy-dlq"]
    assert dlq.target.role == "dead-letter"
    assert dlq.target.topic.value == tidy.target.dlq_topic.value
    reports = w["reports"]
    assert reports.target.topic_configs["retention.ms"].value == 1209600 * 1000
    assert all(d.reason for d in reports.target.topic_configs.values())


@pytest.mark.parametrize("depth", [None, 0, 250])
def test_share_group_starts_at_the_earliest_record_even_without_a_backlog(depth):
    # a live queue empty at assessment time still gets messages, which the drain bridge writes
    # before the share group's first consumer joins: "latest" would skip them
    from mqmigrate.assessment.model import KafkaCapabilities
    from mqmigrate.assessment.target import _share_configs
    from mqmigrate.inventory import read_estate

    q = read_estate([str(FIXTURES / "rabbit_clean.json")]).sources[0].queues[0]
    q.depth = depth
    reset = _share_configs(q, KafkaCapabilities(), None)["share.auto.offset.reset"]
    assert reset.value == "earliest" and reset.reason
