"""``plan``: assessment → playbooks (core and CLI), without brokers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mqmigrate.assessment.model import KafkaCapabilities
from mqmigrate.cli import main
from mqmigrate.errors import UsageError
from mqmigrate.inventory.readers import read_estate
from mqmigrate.playbooks import loader
from mqmigrate.playbooks.plan import from_estate, origin_label, plan, public_endpoint
from tests.playbook_examples import ROOT

FIXTURES = ROOT / "tests" / "data" / "fixtures"
PLAN = ROOT / "tests" / "data" / "plan"

#: every secret planted in the fixtures and estates used below
SECRETS = [
    "S3cr3tPlainPw!",
    "HASHxyzPZ9k2Lm0Q7w==",
    "ShovelPw99",
    "AmqpPw42",
    "PlanSecretPw-17",
    "PLANHASHq1w2e3r4==",
    "FanoutPw-99",
    "AmqpPlanPw-5",
    "billing-svc",
    "guestpw",
]


def _plan(*paths: Path, **kwargs):
    estate = read_estate([str(p) for p in paths])
    return plan(
        from_estate(estate, KafkaCapabilities.parse(kwargs.pop("version", "4.4"))), **kwargs
    )


def _only(result):
    (f,) = result.files
    return f.playbook


def test_public_endpoint_drops_user_information_and_query():
    assert (
        public_endpoint("amqp://svc:***@broker.internal:5672/?password=***")
        == "amqp://broker.internal:5672/"
    )
    assert (
        public_endpoint("rabbitmq+http://guest:guestpw@127.0.0.1:15672")
        == "rabbitmq+http://127.0.0.1:15672"
    )
    assert public_endpoint("tests/data/plan/x.json") is None  # a file is no endpoint
    assert (
        origin_label(["defs.json", "rabbitmq+http://guest:guestpw@h:15672"])
        == "defs.json, rabbitmq+http://h:15672"
    )


def test_no_secret_reaches_a_playbook(tmp_path, capsys):
    """Definitions with plaintext and hashed passwords, a shovel URI with credentials, an AMQP
    1.0 endpoint with credentials and a live-style masked URI: none of it is written."""
    paths = [
        FIXTURES / "rabbit_all_rules.json",
        FIXTURES / "amqp1.yaml",
        PLAN / "rabbitmq-work-queue.json",
        PLAN / "rabbitmq-fanout.json",
        PLAN / "amqp1-queue.yaml",
    ]
    estate = read_estate([str(p) for p in paths])
    # what the management-API reader records for rabbitmq+http://guest:guestpw@host:15672
    estate.sources[0].endpoint = "rabbitmq+http://guest:***@rabbit.internal:15672"
    result = plan(
        from_estate(
            estate,
            KafkaCapabilities(),
            origin=origin_label(["rabbitmq+http://guest:guestpw@h:15672"]),
        )
    )
    from mqmigrate.playbooks.plan import write_plan

    write_plan(result, tmp_path)
    text = (tmp_path / "migration.yaml").read_text()
    for secret in SECRETS + ["guest", "***"]:
        assert secret not in text, secret
    playbook = loader.load(tmp_path / "migration.yaml")
    endpoints = {w.source.endpoint for w in playbook.workloads}
    assert endpoints == {
        None,
        "rabbitmq+http://rabbit.internal:15672",
        "amqp://broker.internal:5672",
        "amqp://artemis.internal:5672",
    }
    assert {w.source.credentials.env for w in playbook.workloads} == {"RABBITMQ_URI", "AMQP1_URI"}
    # and through the CLI, whatever is printed
    assert main(["plan", *map(str, paths), "--out", str(tmp_path / "cli")]) == 0
    captured = capsys.readouterr()
    written = "".join(p.read_text() for p in (tmp_path / "cli").iterdir())
    for secret in SECRETS:
        assert secret not in captured.out + captured.err + written, secret


def test_work_queue_values_and_reasons_come_from_the_assessment():
    playbook = _only(_plan(PLAN / "rabbitmq-work-queue.json"))
    (w,) = playbook.workloads
    assert (w.id, w.source.queue, w.source.vhost) == ("orders", "orders", "shop")
    assert (w.target.topic, w.target.partitions, w.target.replication) == ("shop.orders", 3, 3)
    assert w.target.configs == {"retention.ms": "604800000", "min.insync.replicas": "2"}
    assert w.target.consumer.configs.as_kafka() == {
        "share.auto.offset.reset": "earliest",
        "share.record.lock.duration.ms": "45000",
        "share.delivery.count.limit": "5",
    }
    assert (w.target.dlq.topic, w.target.dlq.use_broker_dlq) == ("dlq.shop.orders", True)
    assert [d.rule for d in w.decisions] == [
        "ttl.expiry",
        "security.mapping",
        "dlq.redrive",
        "security.acls",
    ]
    assert all(not d.done for d in w.decisions)
    reasons = playbook.reasons
    base = ("workloads", 0, "target")
    assert (
        reasons[base + ("consumer", "configs", "share.record.lock.duration.ms")]
        == "consumer timeout 45 s"
    )
    assert reasons[base + ("partitions",)].startswith("no rates known: 3")
    assert "message TTL" in reasons[base + ("configs", "retention.ms")]
    assert w.strategy == "shadow-then-drain"


def test_kafka_below_4_4_leaves_dead_lettering_to_the_worker():
    w = _only(_plan(PLAN / "rabbitmq-work-queue.json", kafka_version="4.3")).workloads[0]
    assert w.target.dlq.topic == "dlq.shop.orders" and w.target.dlq.use_broker_dlq is False
    # the assessment's 4.4 setting is what --kafka-version overrides
    w = _only(_plan(PLAN / "rabbitmq-work-queue.json", version="4.2")).workloads[0]
    assert w.target.dlq.use_broker_dlq is False


def test_kafka_4_2_has_no_per_group_delivery_limit_and_plan_says_so():
    """4.2 refuses the group config: plan moves the limit into a decision naming the broker
    setting (never dropped unseen); 4.3 keeps it on the group."""
    w42 = _only(_plan(PLAN / "rabbitmq-work-queue.json", kafka_version="4.2")).workloads[0]
    assert w42.target.consumer.configs.delivery_count_limit is None
    (decision,) = [d for d in w42.decisions if d.rule == "retry.limit.broker-wide"]
    assert "group.share.delivery.count.limit=" in decision.question
    w43 = _only(_plan(PLAN / "rabbitmq-work-queue.json", kafka_version="4.3")).workloads[0]
    assert w43.target.consumer.configs.delivery_count_limit is not None
    assert not [d for d in w43.decisions if d.rule == "retry.limit.broker-wide"]


def test_sqs_fifo_is_a_keyed_consumer_group():
    playbook = _only(_plan(PLAN / "sqs-fifo.yaml"))
    (w,) = playbook.workloads
    assert w.target.consumer.type == "consumer-group"
    assert w.target.consumer.key == w.mapping.key == "message-group-id"
    assert w.target.consumer.configs is None
    assert (w.target.partitions, w.target.dlq.topic, w.target.dlq.use_broker_dlq) == (
        12,
        "dlq.payments",
        False,
    )
    assert w.decisions[0].rule == "ordering.fifo"
    assert w.strategy == "drain-only"  # SQS cannot be shadowed without SNS


def test_fanout_one_topic_one_share_group_per_queue():
    playbook = _only(_plan(PLAN / "rabbitmq-fanout.json"))
    assert [w.id for w in playbook.workloads] == ["billing", "shipping", "analytics"]
    assert {w.target.topic for w in playbook.workloads} == {"order-events"}
    assert [w.target.consumer.group for w in playbook.workloads] == [
        "billing",
        "shipping",
        "analytics",
    ]
    # the one topic is declared identically by every workload: the longest retention wins
    assert (
        len(
            {
                (w.target.partitions, tuple(sorted(w.target.configs.items())))
                for w in playbook.workloads
            }
        )
        == 1
    )
    assert playbook.workloads[0].target.configs["retention.ms"] == "1209600000"
    # copying the exchange once for all groups is a decision on each of them
    assert all([d.rule for d in w.decisions] == ["fanout.share-groups"] for w in playbook.workloads)
    question = playbook.workloads[0].decisions[0].question
    assert "3 share groups (analytics, billing, shipping)" in question
    # per-queue settings stay per group
    assert [w.target.consumer.configs.delivery_count_limit for w in playbook.workloads] == [4, 4, 8]


def test_reply_queues_and_dead_letter_queues_are_left_out_with_a_reason():
    result = _plan(FIXTURES / "rabbit_all_rules.json")
    left = dict(result.left_out)
    assert (
        left["rabbitmq:rabbit_all_rules.json:orders/rpc.replies"]
        == "request/reply queue: not a queue workload"
    )
    assert "rpc.replies" not in [w.source.queue for w in _only(result).workloads]
    assert "rpc.replies" in _only(result).metadata.description
    sqs = _plan(PLAN / "sqs-standard.tf")
    assert dict(sqs.left_out)["sqs:sqs-standard.tf:thumbnails-dlq"].startswith(
        "dead-letter queue of thumbnails"
    )


def test_strategies_default_override_and_per_workload():
    result = _plan(
        PLAN / "rabbitmq-fanout.json",
        strategy="dual-write",
        strategy_for={
            "shipping": "drain-only",
            "rabbitmq:rabbitmq-fanout.json://analytics": "shadow-then-drain",
        },
    )
    assert {w.id: w.strategy for w in _only(result).workloads} == {
        "billing": "dual-write",
        "shipping": "drain-only",
        "analytics": "shadow-then-drain",
    }
    assert "verify" in _only(result).workloads[0].phases.model_dump(exclude_none=True)
    with pytest.raises(UsageError, match="no workload 'nope'"):
        _plan(PLAN / "rabbitmq-fanout.json", strategy_for={"nope": "drain-only"})
    with pytest.raises(UsageError, match="unknown strategy 'yolo'"):
        _plan(PLAN / "rabbitmq-fanout.json", strategy="yolo")


def test_per_workload_writes_one_playbook_each(tmp_path, capsys):
    path = PLAN / "rabbitmq-fanout.json"
    assert main(["plan", str(path), "--per-workload", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "analytics.yaml",
        "billing.yaml",
        "shipping.yaml",
    ]
    assert loader.load(tmp_path / "billing.yaml").metadata.name == "billing"
    assert capsys.readouterr().out.count("wrote") == 3
    assert main(["plan", str(path), "--per-workload", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("unchanged") == 3


@pytest.mark.parametrize(
    "estate",
    [
        "amqp1-queue.yaml",
        "rabbitmq-work-queue.json",
        "rabbitmq-fanout.json",
        "sqs-standard.tf",
        "sqs-fifo.yaml",
    ],
)
def test_from_assessment_json_gives_the_same_playbook(tmp_path, capsys, estate):
    estate = PLAN / estate
    assessment = tmp_path / "assessment.json"
    assert (
        main(
            [
                "assess",
                str(estate),
                "--format",
                "json",
                "--out",
                str(assessment),
                "--fail-on",
                "never",
            ]
        )
        == 0
    )
    text = assessment.read_text()
    for secret in SECRETS:
        assert secret not in text, secret
    assert main(["plan", "--from", str(assessment), "--out", str(tmp_path / "a")]) == 0
    assert main(["plan", str(estate), "--out", str(tmp_path / "b")]) == 0
    a = loader.load(tmp_path / "a" / "migration.yaml")
    b = loader.load(tmp_path / "b" / "migration.yaml")
    # endpoint, ACL grants, header drops and every reason survive the JSON
    assert [w.model_dump() for w in a.workloads] == [w.model_dump() for w in b.workloads]
    assert a.reasons == b.reasons
    # only the header comment naming the input differs
    lines_a = (tmp_path / "a" / "migration.yaml").read_text().splitlines()
    lines_b = (tmp_path / "b" / "migration.yaml").read_text().splitlines()
    assert lines_a[1:] == lines_b[1:]


def test_from_assessment_json_carries_the_endpoint_without_credentials(tmp_path, capsys):
    assessment = tmp_path / "assessment.json"
    assert (
        main(
            [
                "assess",
                str(PLAN / "amqp1-queue.yaml"),
                "--format",
                "json",
                "--out",
                str(assessment),
                "--fail-on",
                "never",
            ]
        )
        == 0
    )
    assert main(["plan", "--from", str(assessment), "--out", str(tmp_path)]) == 0
    (w,) = loader.load(tmp_path / "migration.yaml").workloads
    assert w.source.endpoint == "amqp://artemis.internal:5672"
    # a hand-edited assessment with credentials in the endpoint: they never reach the playbook
    doc = json.loads(assessment.read_text())
    for item in doc["workloads"]:
        item["source"]["endpoint"] = "amqp://svc:HandPw-1@artemis.internal:5672/?token=abc"
    assessment.write_text(json.dumps(doc))
    assert main(["plan", "--from", str(assessment), "--out", str(tmp_path / "edited")]) == 0
    text = (tmp_path / "edited" / "migration.yaml").read_text()
    assert "HandPw-1" not in text and "token" not in text and "svc" not in text
    assert "endpoint: amqp://artemis.internal:5672/" in text


def test_json_output_lists_files_and_left_out(tmp_path, capsys):
    assert (
        main(["plan", str(PLAN / "sqs-standard.tf"), "--out", str(tmp_path), "--format", "json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["files"] == [
        {"path": str(tmp_path / "migration.yaml"), "written": True, "workloads": ["thumbnails"]}
    ]
    assert [x["workload"] for x in data["left_out"]] == [
        "sqs:sqs-standard.tf:*",
        "sqs:sqs-standard.tf:thumbnails-dlq",
    ]


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "give SOURCE... or --from FILE"),
        (["x.json", "--from", "y.json"], "give SOURCE... or --from FILE"),
        (["--from", "{missing}"], "no such file"),
        (["--from", "{not_assessment}"], "not an mqmigrate.assessment/v1 document"),
        (["--from", "{bad_workload}"], "workloads.0.verdict"),
        (["{estate}", "--strategy-for", "orders"], "is not WORKLOAD=STRATEGY"),
        (["{estate}", "--name", "Bad Name"], "is not a playbook name"),
        (["{estate}", "--kafka-version", "four"], "is not a version like 4.4"),
        (["{estate}", "--kafka", "user:pw@host:9092"], "generated playbook is invalid"),
    ],
)
def test_usage_and_input_errors_are_one_line_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "na.json").write_text('{"schema": "something/else"}')
    (tmp_path / "bad.json").write_text(
        json.dumps(
            {
                "schema": "mqmigrate.assessment/v1",
                "kafka": {"version": "4.4"},
                "workloads": [
                    {
                        "id": "x",
                        "source": {"kind": "sqs"},
                        "queue": "q",
                        "verdict": "maybe",
                        "findings": [],
                    }
                ],
            }
        )
    )
    values = {
        "missing": str(tmp_path / "missing.json"),
        "not_assessment": str(tmp_path / "na.json"),
        "bad_workload": str(tmp_path / "bad.json"),
        "estate": str(PLAN / "rabbitmq-work-queue.json"),
    }
    argv = ["plan", *(a.format(**values) for a in args), "--out", str(tmp_path / "out")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_share_client_strict_limit_only_where_broker_and_client_have_it():
    from mqmigrate.playbooks.plan import share_client

    strict = share_client(KafkaCapabilities.parse("4.2"), client_has_acquire_mode=True)
    assert strict["share.acquire.mode"].value == "record_limit"
    assert strict["max.poll.records"].value == 1
    soft = share_client(KafkaCapabilities.parse("4.4"), client_has_acquire_mode=False)
    assert "share.acquire.mode" not in soft and soft["max.poll.records"].value == 1
    assert "has no share.acquire.mode" in soft["max.poll.records"].reason
    old = share_client(KafkaCapabilities.parse("4.1"), client_has_acquire_mode=True)
    assert "share.acquire.mode" not in old
    assert "no strict one (KIP-1206, 4.2+)" in old["max.poll.records"].reason


def test_client_settings_belong_to_share_groups_only():
    from pydantic import ValidationError

    from mqmigrate.playbooks.model import Consumer

    ok = Consumer.model_validate(
        {
            "type": "share-group",
            "group": "g",
            "client": {"max.poll.records": 1, "share.acquire.mode": "record_limit"},
        }
    )
    assert ok.client.as_kafka() == {"max.poll.records": "1", "share.acquire.mode": "record_limit"}
    with pytest.raises(ValidationError, match="share-consumer settings"):
        Consumer.model_validate(
            {"type": "consumer-group", "group": "g", "key": "k", "client": {"max.poll.records": 1}}
        )
    with pytest.raises(ValidationError):
        Consumer.model_validate(
            {"type": "share-group", "group": "g", "client": {"share.acquire.mode": "strict"}}
        )
