"""The public estates of tests/data/estates (see SOURCES.md there) are assessed without error
and give the findings, roles and topics a reader of each file expects."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.unit.assess_helpers import ESTATES, FIXTURES, fired, run_cli, workloads

CRABZIE = ESTATES / "Crabzie__Optimized-RabbitMQ-Scheduler__config__rabbitmq__definitions.json"
FUSIONX = ESTATES / "FusionX-Tech__eagle-infrastructure__rabbitmq__definitions.json"
NEIC = ESTATES / "neicnordic__sensitive-data-archive__rabbitmq__definitions.json"
STORACHA = ESTATES / "storacha__piri__deploy__app__sqs.tf"
NHSD = ESTATES / "nhsd-exeter__dos-integration__infrastructure__stacks__application__sqs.tf"
WKI = ESTATES / "wki__MessageQ__examples__definitions.js"
#: every real estate file that declares queues (the MQSC script without queue definitions is
#: a bad-input case of test_assess_brokers; edge/ holds hand-written files)
ALL = sorted(
    p
    for p in ESTATES.iterdir()
    if p.is_file()
    and p.name != "SOURCES.md"
    and p.name != "ibm-messaging__mq-container__test-image__20-config.mqsc"
)


def _rule_counts(path) -> Counter:
    return Counter(rule for _, findings in fired(path).values() for rule, _ in findings)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name[:30])
@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "html"])
def test_every_estate_assesses_in_every_format(path, fmt, capsys):
    code, out, err = run_cli(["assess", str(path), "--format", fmt, "--fail-on", "never"], capsys)
    assert code == 0, err
    assert out.strip() and "Error" not in err


def test_crabzie_scheduler():
    r = fired(CRABZIE)
    # quorum task queues: x-delivery-limit 3 is inside 2-10 (no retry.limit), DLX per queue,
    # x-max-length 10000 with reject-publish
    for q in ("tasks.high_priority", "tasks.normal", "tasks.low_priority"):
        assert r[q] == (
            "share-group-with-changes",
            [("backpressure.max-length", "warn"), ("dlq.redrive", "info")],
        )
    # drop-head queues behind topic exchanges; no delivery limit and no broker version in the
    # file: unlimited (3.x) or 20 (4.x), both outside 2-10
    for q in ("results.success", "results.failed", "metrics.node"):
        assert r[q] == (
            "share-group-with-changes",
            [
                ("backpressure.max-length", "warn"),
                ("retry.limit", "warn"),
                ("routing.pattern", "warn"),
            ],
        )
    w = workloads(CRABZIE)
    assert w["results.success"].findings[0].evidence == {
        "x-max-length": 50000,
        "overflow": "drop-head",
    }
    # the DLX "dlx" (topic, bound with #) feeds "dlq": a shared dead-letter queue
    assert r["dlq"] == (
        "share-group-with-changes",
        [("dlq.redrive", "info"), ("routing.pattern", "warn")],
    )
    dlq = w["dlq"]
    assert dlq.target.role == "dead-letter" and dlq.target.topic.value == "dlq.fog.dlq"
    ev = [f.evidence for f in dlq.findings if f.rule == "dlq.redrive"][0]
    assert ev == {
        "dead-letter queue of": ["tasks.high_priority", "tasks.low_priority", "tasks.normal"]
    }
    # no users or permissions in this file, but a non-default vhost
    assert r[None] == ("not-a-workload", [("security.mapping", "warn")])
    t = w["tasks.normal"].target
    assert t.topic.value == "fog.tasks.normal"
    assert t.group_configs["share.delivery.count.limit"].value == 3
    assert t.dlq_topic.value == "dlq.fog.tasks.normal"


def test_fusionx_eagle():
    r = fired(FUSIONX)
    assert len(r) == 19  # 18 queues + the source-wide workload
    ttl_dlx = [q for q, (_, f) in r.items() if ("ttl.expiry", "warn") in f]
    assert len(ttl_dlx) == 16  # every quorum queue: TTL and DLX eagle.dlx
    # RabbitMQ 3.13 quorum queues without x-delivery-limit redeliver forever
    assert r["alert.events"] == (
        "share-group-with-changes",
        [
            ("dlq.redrive", "info"),
            ("retry.limit", "warn"),
            ("routing.pattern", "warn"),
            ("ttl.expiry", "warn"),
        ],
    )
    w = workloads(FUSIONX)
    routing = [f for f in w["orchestrator.events"].findings if f.rule == "routing.pattern"][0]
    assert "multi-key bindings" in routing.evidence["routing"]
    assert routing.evidence["edges"] == [
        "eagle.events[alert.#] -> orchestrator.events",
        "eagle.events[customer.#] -> orchestrator.events",
        "eagle.events[dossier.#] -> orchestrator.events",
    ]
    # the '#' catch-all queues receive everything
    analytics = [f for f in w["analytics.all"].findings if f.rule == "routing.pattern"][0]
    assert analytics.evidence["edges"] == ["eagle.events[#] -> analytics.all"]
    # eagle.dlq is the DLQ of all 16 queues
    assert w["eagle.dlq"].target.role == "dead-letter"
    assert w["eagle.dlq"].target.topic.value == "dlq.eagle.dlq"
    assert w["analytics.all"].target.topic_configs["retention.ms"].value == 604800000
    sec = r[None]
    assert sec == ("not-a-workload", [("security.mapping", "warn")])
    # retry.limit: every queue but the dead-letter queue eagle.dlq
    assert _rule_counts(FUSIONX) == Counter(
        {
            "retry.limit": 17,
            "routing.pattern": 17,
            "dlq.redrive": 17,
            "ttl.expiry": 16,
            "security.mapping": 1,
        }
    )


def test_neicnordic_sda():
    r = fired(NEIC)
    for q in ("completed_stream", "error_stream", "mapping_stream"):
        verdict, findings = r[q]
        assert verdict == "consumer-group"
        assert ("queue-type.stream", "info") in findings and ("ttl.expiry", "info") in findings
    w = workloads(NEIC)
    assert w["completed_stream"].target.topic_configs["retention.ms"].value == 30 * 86400 * 1000
    # alternate-exchange comes from a policy on exchange "sda"; unroutable messages reach
    # catch_all.dead through sda.dead (bound with #)
    dead = [f for f in w["catch_all.dead"].findings if f.rule == "routing.pattern"][0]
    assert "alternate-exchange" in dead.evidence["routing"]
    assert "sda[(unroutable)] -> sda.dead[#] -> catch_all.dead" in dead.evidence["edges"]
    # shovels are runtime parameters: source hygiene; one admin permission with .*
    assert r[None] == ("not-a-workload", [("security.mapping", "warn"), ("source.hygiene", "info")])
    src = [f for f in w[None].findings if f.rule == "source.hygiene"][0]
    assert src.evidence == {"runtime parameters": {"shovel": 2}}
    # classic queues redeliver without limit
    assert r["inbox"] == (
        "share-group-with-changes",
        [("retry.limit", "warn"), ("routing.pattern", "warn")],
    )
    assert r["mappings"] == ("share-group-with-changes", [("retry.limit", "warn")])


def test_storacha_piri_terraform():
    r = fired(STORACHA)
    pub = "{terraform.workspace}-{var.app}-ipni-publisher.fifo"
    dlq = "{terraform.workspace}-{var.app}-ipni-publisher-deadletter.fifo"
    assert r[pub] == (
        "consumer-group",
        [
            ("dlq.redrive", "info"),
            ("exactly-once.dedup", "warn"),
            ("naming.unresolved", "warn"),
            ("ordering.fifo", "blocker"),
            ("size.max-message", "warn"),
            ("ttl.expiry", "info"),
        ],
    )
    # redrive-allow policy (byQueue) on the DLQs maps to ACLs
    assert ("security.mapping", "warn") in r[dlq][1]
    w = workloads(STORACHA)
    t = w[pub].target
    assert t.mode.value == "consumer-group" and t.key.value == "MessageGroupId"
    assert t.topic.value == "ipni-publisher"
    assert t.dlq_topic.value == "dlq.ipni-publisher"
    assert w[dlq].target.topic.value == "dlq.ipni-publisher"
    q = {f.rule: f for f in w[pub].findings}
    assert q["ordering.fifo"].evidence == {
        "FifoQueue": True,
        "FifoThroughputLimit": "perMessageGroupId",
    }
    assert q["dlq.redrive"].evidence == {"RedrivePolicy.deadLetterTargetArn": dlq}
    assert q["ttl.expiry"].evidence == {"MessageRetentionPeriod": "345600 (default)"}
    assert len(r) == 5


def test_all_estates_together_exit_code(capsys):
    # the Terraform FIFO queues are blockers: exit 1 with the default --fail-on blocker
    code, _, _ = run_cli(
        ["assess", str(CRABZIE), str(FUSIONX), str(NEIC), str(STORACHA), "-f", "json"], capsys
    )
    assert code == 1
    code, _, _ = run_cli(["assess", str(CRABZIE), "-f", "json"], capsys)
    assert code == 0  # warnings only
    code, _, _ = run_cli(["assess", str(CRABZIE), "-f", "json", "--fail-on", "warn"], capsys)
    assert code == 1


def _roles_and_topics(path) -> dict:
    return {
        q: (w.target.role, w.target.topic.value, w.target.dlq_topic and w.target.dlq_topic.value)
        for q, w in workloads(path).items()
        if w.target is not None
    }


def test_nhsd_unresolved_queue_names_never_share_a_topic():
    """Every queue name is a variable without default: each queue keeps its own placeholder
    topic (not one topic "queue" for all), and the plan asks a human for the real names."""
    assert _roles_and_topics(NHSD) == {
        "{var.holding_queue}": ("work-queue", "var.holding_queue", "dlq.var.holding_queue"),
        "{var.update_request_queue}": (
            "work-queue",
            "var.update_request_queue",
            "dlq.var.update_request_queue",
        ),
        "{var.holding_queue_dlq}": ("dead-letter", "dlq.var.holding_queue", None),
        "{var.update_request_dlq}": ("dead-letter", "dlq.var.update_request_queue", None),
    }
    r = fired(NHSD)
    for q in r:
        if q is not None:
            assert ("naming.unresolved", "warn") in r[q][1]


def test_nhsd_plan_marks_placeholders(tmp_path, capsys):
    import yaml

    code, _, err = run_cli(["plan", str(NHSD), "-o", str(tmp_path), "--name", "nhsd"], capsys)
    assert code == 0, err
    doc = yaml.safe_load((tmp_path / "nhsd.yaml").read_text())
    topics = sorted(w["target"]["topic"] for w in doc["workloads"])
    assert topics == ["var.holding_queue", "var.update_request_queue"]
    for w in doc["workloads"]:
        assert "naming.unresolved" in {d["rule"] for d in w["decisions"]}


def test_wki_ttl_dlx_wait_queue_is_a_delay_tier():
    """ "delay" (TTL 2 s) dead-letters through the work exchange "render" back to the work
    queue "render": a delay tier, and "render" stays a work queue (not "the DLQ of delay")."""
    assert _roles_and_topics(WKI) == {
        "delay": ("delay-tier", "delay", None),
        "me-render": ("work-queue", "me-render", "dlq.me-render"),
        "render": ("work-queue", "render", "dlq.render"),
    }
    w = workloads(WKI)
    tier = next(f for f in w["delay"].findings if f.rule == "delay.delivery")
    assert tier.evidence["wait queue TTL"] == 2000
    assert tier.evidence["returns to"] == ["render"]
    assert tier.evidence["through"] == "render[delayed.render]"
    loop = next(f for f in w["render"].findings if f.rule == "delay.delivery")
    assert loop.evidence == {
        "wait_queue": "delay",
        "x-message-ttl": 2000,
        "loop": "delay -> render -> render",
    }
    assert not any(f.rule == "dlq.redrive" for f in w["render"].findings)
    assert w["delay"].verdict == "redesign" and w["delay"].target.mode.value == "none"


def test_retry_loop_by_original_key_and_policy_precedence():
    """retry.30s sets x-dead-letter-exchange=work (its argument wins over the dead-letter-all
    policy) and no key: expired messages return to orders or invoices by their original key.
    Both stay work queues with their own topics; "dead" (fed by the policy's dlx) is the sink."""
    path = FIXTURES / "rabbit_retry_loop.json"
    assert _roles_and_topics(path) == {
        "orders": ("work-queue", "orders", "dlq.orders"),
        "invoices": ("work-queue", "invoices", "dlq.invoices"),
        "retry.30s": ("delay-tier", "retry.30s", None),
        "dead": ("dead-letter", "dlq.dead", "dlq.dlq.dead"),
    }
    w = workloads(path)
    tier = next(f for f in w["retry.30s"].findings if f.rule == "delay.delivery")
    assert tier.evidence["returns to"] == ["invoices", "orders"]
    assert tier.evidence["through"] == "work (original routing key)"
    dead = next(f for f in w["dead"].findings if f.evidence.get("dead-letter queue of"))
    assert dead.evidence == {"dead-letter queue of": ["invoices", "orders"]}
    for q in ("orders", "invoices"):
        assert ("delay.delivery", "warn") in fired(path)[q][1]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name[:30])
def test_no_two_queues_planned_into_one_topic(path):
    """Outside a deliberate fan-out, every work queue has its own topic and every DLQ topic
    belongs to one source topic."""
    seen: dict[str, str] = {}
    for q, w in workloads(path).items():
        t = w.target
        if t is None or t.role != "work-queue" or t.fanout is not None:
            continue
        assert t.topic.value not in seen, (q, seen.get(t.topic.value))
        seen[t.topic.value] = q


def test_expiry_through_a_shared_exchange_to_a_dlq_is_not_a_retry_loop():
    """orders expires messages (1 day) through the topic exchange "events", which also routes
    to work queues, with key failed.orders to failed-orders: a DLQ by its name, so orders
    stays a work queue and failed-orders its dead-letter queue (not a delay tier)."""
    path = FIXTURES / "rabbit_expiry_to_dlq.json"
    assert _roles_and_topics(path) == {
        "orders": ("work-queue", "orders", "dlq.orders"),
        "failed-orders": ("dead-letter", "dlq.orders", "dlq.dlq.orders"),
        "audit": ("work-queue", "audit", "dlq.audit"),
    }
    assert not any(f.rule == "delay.delivery" for f in workloads(path)["orders"].findings)
