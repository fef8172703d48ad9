"""Azure Service Bus estates: Terraform, ARM (nested and flat) and Bicep read to the same
workloads; ISO-8601 durations; topic and subscription settings merged; the dead-letter
sub-queue; forwarding entities as routing hops; plan from these inputs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from tests.unit.assess_helpers import ESTATES, FIXTURES, fired, run_cli, workloads
from mqmigrate.inventory import read_estate
from mqmigrate.inventory.readers.servicebus_common import parse_duration

TF = FIXTURES / "servicebus_all_rules.tf"
ARM = FIXTURES / "servicebus_nested.json"
BICEP = FIXTURES / "servicebus.bicep"
ARM_REAL = ESTATES / (
    "Azure__azure-quickstart-templates__servicebus-create-topic-subscription-rule__azuredeploy.json"
)
BICEP_REAL = ESTATES / "Azure__azure-quickstart-templates__servicebus-create-queue__main.bicep"
TF_REAL = ESTATES / (
    "ms-henglu__terraform-provider-azurerm__servicebus_subscription_rule_"
    "sqlFilterUpdated__step_1.tf"
)


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("PT5M", 300),
        ("PT30S", 30),
        ("P14D", 14 * 86400),
        ("P1DT2H", 93600),
        ("PT0.5S", 0.5),
        ("PT1H30M", 5400),
        ("P1W", 7 * 86400),
        ("00:05:00", 300),
        ("14.00:00:00", 14 * 86400),
        ("00:00:05.5", 5.5),
        ("P10675199DT2H48M5.4775807S", math.inf),
        ("P10675198DT2H48M5.477S", math.inf),
        ("pt1m", 60),
    ],
)
def test_iso8601_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "P", "PT", "", "PT5X", "1:2"])
def test_unreadable_durations_are_unknown(text):
    assert parse_duration(text) is None


SB_ALL = {
    None: ("not-a-workload", []),
    # sessions, dedup, 5 min lock (likely renewed), 20 deliveries, TTL dead-lettered, 5 GiB,
    # 100 MiB messages, fed by the forwarding inbox
    "orders": (
        "consumer-group",
        [
            ("backpressure.max-length", "warn"),
            ("dlq.redrive", "info"),
            ("exactly-once.dedup", "warn"),
            ("lock.renewal", "warn"),
            ("ordering.fifo", "blocker"),
            ("retry.limit", "warn"),
            ("routing.auto-forward", "warn"),
            ("size.max-message", "warn"),
            ("ttl.expiry", "warn"),
            ("visibility.timeout", "warn"),
        ],
    ),
    "orders/$DeadLetterQueue": (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("size.max-message", "warn")],
    ),
    # reached through the refunds subscription's forwardTo (with its filter); idle deletion
    "invoices": (
        "share-group-with-changes",
        [
            ("dlq.redrive", "info"),
            ("routing.auto-forward", "warn"),
            ("routing.pattern", "warn"),
            ("size.max-message", "warn"),
            ("ttl.expiry", "warn"),
        ],
    ),
    # invoices forwards its dead letters here: a sink
    "audit": (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("dlq.redrive", "info"), ("size.max-message", "warn")],
    ),
    "audit/$DeadLetterQueue": (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("size.max-message", "warn")],
    ),
    "{var.blue_queue}": (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("naming.unresolved", "warn"), ("size.max-message", "warn")],
    ),
    "{var.blue_queue}/$DeadLetterQueue": (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("size.max-message", "warn")],
    ),
    "{var.env}-green": (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("naming.unresolved", "warn"), ("size.max-message", "warn")],
    ),
    "{var.env}-green/$DeadLetterQueue": (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("size.max-message", "warn")],
    ),
    "events/Subscriptions/billing": (
        "share-group-with-changes",
        [
            ("dlq.redrive", "info"),
            ("fanout.share-groups", "info"),
            ("size.max-message", "warn"),
            ("ttl.expiry", "info"),
        ],
    ),
    "events/Subscriptions/billing/$DeadLetterQueue": (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("size.max-message", "warn")],
    ),
    "events/Subscriptions/analytics": (
        "share-group-with-changes",
        [
            ("dlq.redrive", "info"),
            ("fanout.share-groups", "info"),
            ("retry.limit", "warn"),
            ("size.max-message", "warn"),
            ("ttl.expiry", "info"),
            ("visibility.timeout", "warn"),
        ],
    ),
    "events/Subscriptions/analytics/$DeadLetterQueue": (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("size.max-message", "warn")],
    ),
    "events/Subscriptions/eu": (
        "share-group-with-changes",
        [
            ("dlq.redrive", "info"),
            ("routing.pattern", "warn"),
            ("size.max-message", "warn"),
            ("ttl.expiry", "info"),
        ],
    ),
    "events/Subscriptions/eu/$DeadLetterQueue": (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("size.max-message", "warn")],
    ),
}


def test_terraform_all_servicebus_rules():
    assert fired(TF) == SB_ALL


def test_terraform_values_merge_topic_and_subscription():
    source = read_estate([str(TF)]).sources[0]
    assert source.kind == "amqp1" and source.name == "servicebus shop-sb"
    assert source.endpoint == "amqp1s://shop-sb.servicebus.windows.net"
    q = {x.name: x for x in source.queues}
    orders = q["orders"]
    assert orders.visibility_timeout == 300 and orders.delivery_limit == 20
    assert orders.message_ttl == 86400 and orders.message_groups is True
    assert orders.max_length_bytes == 5120 * 1024 * 1024
    assert orders.max_message_size == 102400 * 1024
    assert orders.expires is None  # TimeSpan.MaxValue: never
    assert orders.dead_letter.target == "orders/$DeadLetterQueue"
    # var.lock has a default; the Premium namespace's 1 MiB message limit is a default
    inv = q["invoices"]
    assert inv.visibility_timeout == 45 and inv.expires == 3600
    assert inv.delivery_limit == 10 and "delivery_limit" in inv.defaulted
    assert inv.max_message_size == 1048576 and "max_message_size" in inv.defaulted
    assert inv.dead_letter.target == "audit" and "invoices/$DeadLetterQueue" not in q
    # subscription TTL is the shorter of the topic's (2 h) and its own (30 min)
    assert q["events/Subscriptions/billing"].message_ttl == 1800
    assert q["events/Subscriptions/analytics"].message_ttl == 7200
    assert q["events/Subscriptions/analytics"].visibility_timeout == 5
    # forwarding entities are routing hops, not workloads
    assert "inbox" not in q and "events/Subscriptions/refunds" not in q
    edges = {(tuple(e.path), e.queue): e for e in source.edges}
    assert edges[(("inbox",), "orders")].exchange_types == ["forward"]
    refunds = edges[(("events", "events/Subscriptions/refunds"), "invoices")]
    assert "kind = 'refund'" in refunds.arguments["filter"]
    assert edges[(("events",), "events/Subscriptions/eu")].arguments["filter"] == (
        "(correlation(label='order' AND region='eu'))"
    )
    assert "filter" not in edges[(("events",), "events/Subscriptions/analytics")].arguments


def test_terraform_targets():
    w = workloads(TF)
    billing = w["events/Subscriptions/billing"].target
    assert billing.topic.value == "events"
    assert billing.fanout.value == {
        "exchange": "events",
        "groups": ["events.analytics", "events.billing"],
    }
    assert billing.group.value == "events.billing"
    assert w["events/Subscriptions/analytics"].target.topic.value == "events"
    # the filtered subscription is not a fan-out member: its own topic, a router fills it
    eu = w["events/Subscriptions/eu"]
    assert eu.target.topic.value == "events.eu" and eu.target.fanout is None
    routing = next(f for f in eu.findings if f.rule == "routing.pattern")
    assert routing.evidence["routing"] == ["subscription filter"]
    orders = w["orders"].target
    assert orders.mode.value == "consumer-group" and orders.key.value == "group-id"
    assert orders.group_configs == {}
    fifo = next(f for f in w["orders"].findings if f.rule == "ordering.fifo")
    assert fifo.evidence == {"requiresSession": True}
    dedup = next(f for f in w["orders"].findings if f.rule == "exactly-once.dedup")
    assert dedup.evidence == {
        "requiresDuplicateDetection": True,
        "duplicateDetectionHistoryTimeWindow": "PT30M",
    }
    fwd = next(f for f in w["orders"].findings if f.rule == "routing.auto-forward")
    assert fwd.evidence == {"auto-forwarded through": ["inbox -> orders"]}
    # the dead-letter sub-queue becomes the DLQ topic of its queue
    dlq = w["orders/$DeadLetterQueue"].target
    assert dlq.role == "dead-letter" and dlq.topic.value == "dlq.orders"
    assert w["orders"].target.dlq_topic.value == "dlq.orders"
    # a fan-out subscription's dead letters go to the DLQ topic of the fan-out topic
    assert w["events/Subscriptions/billing/$DeadLetterQueue"].target.topic.value == "dlq.events"
    # two names the file leaves to variables: two placeholder topics, never one
    assert w["{var.blue_queue}"].target.topic.value == "var.blue_queue"
    assert w["{var.env}-green"].target.topic.value == "green"
    assert "not resolvable offline" in w["{var.blue_queue}"].target.topic.reason


def _summary(path: Path) -> dict:
    return {
        w.queue: (
            w.verdict,
            sorted((f.rule, f.severity.value, f.status.value) for f in w.findings),
            w.target and (w.target.role, w.target.topic.value),
        )
        for w in workloads(path).values()
    }


def test_arm_nested_and_flat_equals_bicep():
    arm, bicep = _summary(ARM), _summary(BICEP)
    assert arm == bicep
    assert sorted(q for q in arm if q) == [
        "events/Subscriptions/analytics",
        "events/Subscriptions/analytics/$DeadLetterQueue",
        "events/Subscriptions/billing",
        "events/Subscriptions/billing/$DeadLetterQueue",
        "events/Subscriptions/eu",
        "events/Subscriptions/eu/$DeadLetterQueue",
        "orders",
        "orders/$DeadLetterQueue",
        "{blueQueue}",
        "{blueQueue}/$DeadLetterQueue",
    ]
    for path in (ARM, BICEP):
        s = read_estate([str(path)]).sources[0]
        assert s.name == "servicebus shop-sb-prod"  # concat(variable, default) / interpolation
        assert s.endpoint == "amqp1s://shop-sb-prod.servicebus.windows.net"
        q = {x.name: x for x in s.queues}
        assert q["events/Subscriptions/analytics"].visibility_timeout == 5  # 00:00:05 / PT5S
        assert q["events/Subscriptions/billing"].max_length_bytes == 2048 * 1024 * 1024
        assert q["orders"].delivery_limit == 20 and q["orders"].message_groups is True
        assert q["orders"].max_message_size == 262144  # Standard tier default
        assert any("inbox auto-forwards to orders" in n for n in s.notes)


def test_arm_quickstart_unresolved_names():
    """The quickstart's names are parameters without defaults: every entity is reported with
    its unresolved name; "1024"/"false"/"10" strings are read as values."""
    w = workloads(ARM_REAL)
    sub = "{serviceBusTopicName}/Subscriptions/{serviceBusSubscriptionName}"
    assert sorted(q for q in w if q) == [sub, sub + "/$DeadLetterQueue"]
    s = read_estate([str(ARM_REAL)]).sources[0]
    q = s.queue(sub)
    assert q.delivery_limit == 10 and q.visibility_timeout == 60 and q.message_ttl is None
    assert q.max_length_bytes == 1024 * 1024 * 1024 and q.message_groups is False
    assert s.endpoint.endswith(".json")  # namespace unknown: no endpoint to plan with
    t = w[sub].target
    assert t.topic.value == "serviceBusTopicName.serviceBusSubscriptionName"
    rules = {f.rule: f for f in w[sub].findings}
    assert rules["naming.unresolved"].evidence["unresolved"] == [
        "serviceBusTopicName",
        "serviceBusSubscriptionName",
    ]
    assert rules["routing.pattern"].evidence["filters"] == ["(FilterTag = 'true')"]
    assert w[sub + "/$DeadLetterQueue"].target.role == "dead-letter"


def test_bicep_quickstart_queue():
    w = workloads(BICEP_REAL)
    q = w["{serviceBusQueueName}"]
    rules = {(f.rule, f.status.value) for f in q.findings}
    assert ("visibility.timeout", "fired") in rules and ("lock.renewal", "fired") in rules
    lock = q.target.group_configs["share.record.lock.duration.ms"]
    assert lock.value == 60000 and "raise" in lock.reason  # 5 min needs raised bounds
    assert q.target.group_configs["share.delivery.count.limit"].value == 10


def test_terraform_acceptance_config():
    w = workloads(TF_REAL)
    sub = (
        "acctestservicebustopic-230421022903130558/Subscriptions/"
        "acctestservicebussubscription-230421022903130558"
    )
    assert w[sub].target.topic.value == (
        "acctestservicebustopic-230421022903130558.acctestservicebussubscription-230421022903130558"
    )
    routing = next(f for f in w[sub].findings if f.rule == "routing.pattern")
    assert routing.evidence["filters"] == ["(3=3)"]
    s = read_estate([str(TF_REAL)]).sources[0]
    assert s.endpoint == (
        "amqp1s://acctestservicebusnamespace-230421022903130558.servicebus.windows.net"
    )
    assert s.queue(sub).max_message_size == 262144  # Standard namespace


def test_plan_from_servicebus(tmp_path: Path, capsys):
    code, out, err = run_cli(["plan", str(TF), "-o", str(tmp_path), "--name", "sb"], capsys)
    assert code == 0, err
    doc = yaml.safe_load((tmp_path / "sb.yaml").read_text())
    wl = {w["source"]["queue"]: w for w in doc["workloads"]}
    assert sorted(wl) == [
        "events/Subscriptions/analytics",
        "events/Subscriptions/billing",
        "events/Subscriptions/eu",
        "invoices",
        "orders",
        "{var.blue_queue}",
        "{var.env}-green",
    ]
    for w in wl.values():
        assert w["source"]["kind"] == "amqp1"
        assert w["source"]["endpoint"] == "amqp1s://shop-sb.servicebus.windows.net"
        assert w["source"]["credentials"] == {"env": "AMQP1_URI"}
        assert w["strategy"] == "drain-only"  # Service Bus cannot browse: no shadow copy
    assert wl["orders"]["mapping"]["key"] == "amqp-group-id"  # SessionId is AMQP group-id
    assert wl["orders"]["target"]["consumer"]["type"] == "consumer-group"
    decisions = {d["rule"] for d in wl["{var.blue_queue}"]["decisions"]}
    assert "naming.unresolved" in decisions
    assert wl["{var.blue_queue}"]["target"]["topic"] == "var.blue_queue"
    topics = [w["target"]["topic"] for w in wl.values()]
    assert topics.count("events") == 2  # the fan-out, deliberately
    assert len(set(topics)) == len(topics) - 1


@pytest.mark.parametrize(
    "name,content,needle",
    [
        (
            "storage.tf",
            'resource "azurerm_storage_account" "a" {\n  name = "x"\n}\n'
            'resource "azurerm_storage_account" "b" {\n  name = "y"\n}\n',
            "Terraform declares no queue the tool can read (found azurerm_storage_account x2)",
        ),
        (
            "namespace.tf",
            'resource "azurerm_servicebus_namespace" "n" {\n  name = "x"\n  sku = "Basic"\n}\n',
            "found azurerm_servicebus_namespace",
        ),
        ("vars.tf", 'variable "x" {\n  default = 1\n}\n', "found no resource"),
        (
            "storage.json",
            '{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/'
            'deploymentTemplate.json#", "resources": [{"type": '
            '"Microsoft.Storage/storageAccounts", "apiVersion": "1", "name": "x"}]}',
            "found Microsoft.Storage/storageAccounts",
        ),
        (
            "st.bicep",
            "resource st 'Microsoft.Storage/storageAccounts@2023-01-01' = {\n  name: 'x'\n}\n",
            "Bicep file declares no Microsoft.ServiceBus queue",
        ),
        (
            "broken.bicep",
            "resource ns 'Microsoft.ServiceBus/namespaces@2022-01-01' = {\n"
            "  name: 'x'\n  properties: {\n",
            "broken.bicep:4: cannot read Bicep",
        ),
        (
            "bucket.yaml",
            "Resources:\n  B:\n    Type: AWS::S3::Bucket\n",
            "declares no AWS::SQS::Queue (found AWS::S3::Bucket)",
        ),
        ("notes.txt", "just some notes\n", "not an estate file the tool reads (found plain text)"),
        ("empty.txt", "", "(found an empty file)"),
        ("array.json", "[1, 2]", "(found a JSON list)"),
    ],
)
def test_unreadable_estates_exit_2_naming_what_they_hold(
    tmp_path: Path, capsys, name, content, needle
):
    path = tmp_path / name
    path.write_text(content)
    code, out, err = run_cli(["assess", str(path)], capsys)
    assert code == 2 and out == "", err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], err
    assert "Traceback" not in err


def test_servicebus_detected_by_content_not_extension(tmp_path: Path):
    for src, name in ((ARM, "template.txt"), (BICEP, "infra.txt"), (TF, "main.hcl")):
        path = tmp_path / name
        path.write_text(src.read_text())
        assert fired(path) == fired(src)


def test_terraform_directory_with_sqs_and_servicebus(tmp_path: Path):
    """One module directory may declare SQS queues and a Service Bus namespace: two sources."""
    (tmp_path / "sqs.tf").write_text((FIXTURES / "sqs_all_rules.tf").read_text())
    (tmp_path / "servicebus.tf").write_text(TF.read_text())
    (tmp_path / "outputs.tf").write_text('output "x" {\n  value = 1\n}\n')
    sources = read_estate([str(tmp_path)]).sources
    assert sorted(s.kind for s in sources) == ["amqp1", "sqs"]
    sb = next(s for s in sources if s.kind == "amqp1")
    assert sb.queue("orders") is not None and sb.queue("events/Subscriptions/billing") is not None
    sqs = next(s for s in sources if s.kind == "sqs")
    assert sqs.queue("tidy") is not None


def test_module_style_variables_are_unknown_not_defaults(tmp_path: Path):
    """A reusable module sets everything from variables without defaults: the values are
    unknown (never Service Bus's defaults), the names placeholders, and an unknown forwardTo
    leaves the subscription a workload with a note."""
    path = tmp_path / "module.tf"
    path.write_text("""resource "azurerm_servicebus_subscription" "this" {
  name               = var.name
  topic_id           = var.topic_id
  lock_duration      = var.lock_duration
  max_delivery_count = var.max_delivery_count
  requires_session   = var.requires_session
  forward_to         = var.forward_to
}
""")
    source = read_estate([str(path)]).sources[0]
    q = source.queue("{var.topic_id}/Subscriptions/{var.name}")
    assert q is not None
    assert q.visibility_timeout is None and q.delivery_limit is None
    assert q.message_groups is None and not q.defaulted - {"max_message_size"}
    assert any("forwardTo is unknown offline" in n for n in source.notes)
    assert any(
        "lockDuration, maxDeliveryCount, requiresSession not resolvable" in n for n in source.notes
    )
    w = workloads(path)["{var.topic_id}/Subscriptions/{var.name}"]
    unknown = {f.rule for f in w.findings if f.status.value == "unknown"}
    assert {"retry.limit", "visibility.timeout"} <= unknown
    assert w.target.group_configs["share.delivery.count.limit"].reason.startswith(
        "source limit unknown"
    )
