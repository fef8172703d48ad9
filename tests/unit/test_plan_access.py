"""What ``plan`` derives beyond sizing: ACL grants from the source's security data, transport-only
header drops, a fan-out's shadow step per queue, and the model's checks of ``target.acls``."""

from __future__ import annotations

import pytest

from mqmigrate.assessment.access import rabbitmq_access, sqs_access
from mqmigrate.assessment.header_map import header_mapping
from mqmigrate.inventory.model import Edge, Permission, Queue, Source
from mqmigrate.playbooks.model import Action
from tests.unit.test_playbook_loader import MINIMAL, invalid
from tests.unit.test_plan import PLAN, _only, _plan


def _rabbit(*perms: Permission, parameters=None) -> Source:
    return Source(
        kind="rabbitmq",
        name="r",
        endpoint="defs.json",
        vhosts=["shop"],
        permissions=list(perms),
        parameters=parameters or {},
    )


def _edge(exchange: str, queue: str = "orders", types=("direct",)) -> Edge:
    return Edge(
        exchange=exchange,
        queue=queue,
        vhost="shop",
        path=[exchange],
        routing_keys=[queue],
        exchange_types=list(types),
    )


QUEUE = Queue(name="orders", vhost="shop", type="quorum")


def _grants(access):
    return [(g["principal"], g["role"], g["pattern"], g.get("prefix")) for g in access["grants"]]


def test_whole_vhost_permission_is_a_prefixed_grant_on_the_vhost_prefix():
    access = rabbitmq_access(
        _rabbit(Permission(user="admin", vhost="shop", configure=".*", write=".*", read=".*")),
        QUEUE,
        [_edge("orders")],
        "shop.orders",
        "shop.orders",
    )
    assert _grants(access) == [
        ("User:admin", "produce", "prefixed", "shop."),
        ("User:admin", "consume", "prefixed", "shop."),
    ]
    assert access["unmapped"] == []


def test_exact_name_is_literal_and_name_prefix_is_prefixed():
    access = rabbitmq_access(
        _rabbit(Permission(user="app", vhost="shop", write="^orders$", read="^ord.*")),
        QUEUE,
        [_edge("orders")],
        "shop.orders",
        "shop.orders",
    )
    assert _grants(access) == [
        ("User:app", "produce", "literal", None),
        ("User:app", "consume", "prefixed", "shop.ord"),
    ]
    assert access["unmapped"] == []


def test_a_name_prefix_that_does_not_cover_the_group_falls_back_to_literal():
    # fan-out: the topic is the exchange's name, the group the queue's
    access = rabbitmq_access(
        _rabbit(Permission(user="app", vhost="shop", read="^orders")),
        QUEUE,
        [_edge("events", types=("fanout",))],
        "shop.events",
        "shop.orders",
    )
    assert _grants(access) == [("User:app", "consume", "literal", None)]


def test_non_prefix_regex_is_literal_and_listed():
    access = rabbitmq_access(
        _rabbit(Permission(user="app", vhost="shop", write="", read="^(orders|payments)$")),
        QUEUE,
        [_edge("orders")],
        "shop.orders",
        "shop.orders",
    )
    assert _grants(access) == [("User:app", "consume", "literal", None)]
    assert access["unmapped"] == [
        "app@shop read=^(orders|payments)$: not a name prefix; "
        "granted on this workload's resources only (LITERAL)"
    ]


def test_regexes_match_unanchored_and_empty_grants_nothing():
    perms = [
        Permission(user="a", vhost="shop", write="", read="rder"),  # RabbitMQ: re:run
        Permission(user="b", vhost="shop", write="^billing$", read="^payments$"),
        Permission(user="c", vhost="other", write=".*", read=".*"),
    ]
    access = rabbitmq_access(
        _rabbit(*perms), QUEUE, [_edge("orders")], "shop.orders", "shop.orders"
    )
    assert [(p, r) for p, r, _, _ in _grants(access)] == [("User:a", "consume")]


def test_default_exchange_counts_as_a_route_and_bad_regexes_are_listed():
    access = rabbitmq_access(
        _rabbit(Permission(user="a", vhost="shop", write="^amq\\.default$", read="(")),
        QUEUE,
        [],
        "shop.orders",
        "shop.orders",
    )
    assert _grants(access) == [("User:a", "produce", "literal", None)]
    assert access["unmapped"] == ["a@shop read=(: not a regex this tool can evaluate; map by hand"]


def test_root_vhost_has_no_prefix_to_grant_on():
    q = Queue(name="orders", vhost="/")
    source = Source(
        kind="rabbitmq",
        name="r",
        endpoint="x",
        permissions=[Permission(user="a", vhost="/", write=".*", read=".*")],
    )
    access = rabbitmq_access(source, q, [], "orders", "orders")
    assert {g["pattern"] for g in access["grants"]} == {"literal"}


def test_no_permissions_means_no_access_value():
    assert rabbitmq_access(_rabbit(), QUEUE, [], "shop.orders", "shop.orders") is None
    assert sqs_access(Queue(name="q"), "q", "q") is None


def test_sqs_policy_statements():
    policy = {
        "Statement": [
            {
                "Sid": "send",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Principal": {"AWS": ["arn:aws:iam::123456789012:role/team/api", "123456789012"]},
            },
            {
                "Sid": "all",
                "Effect": "Allow",
                "Action": "sqs:*",
                "Principal": {"AWS": "arn:aws:iam::123456789012:user/worker"},
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
            {"Sid": "anyone", "Effect": "Allow", "Action": "sqs:ReceiveMessage", "Principal": "*"},
            {
                "Sid": "sns",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Principal": {"Service": "sns.amazonaws.com"},
            },
            {"Sid": "no", "Effect": "Deny", "Action": "sqs:*", "Principal": "*"},
            {
                "Sid": "meta",
                "Effect": "Allow",
                "Action": "sqs:GetQueueAttributes",
                "Principal": {"AWS": "arn:aws:iam::123456789012:role/ops"},
            },
        ]
    }
    access = sqs_access(Queue(name="jobs", access_policy=policy), "jobs", "jobs")
    assert _grants(access) == [
        ("User:api", "produce", "literal", None),
        ("User:123456789012", "produce", "literal", None),
        ("User:worker", "produce", "literal", None),
        ("User:worker", "consume", "literal", None),
    ]
    assert [u.split(":")[0] for u in access["unmapped"]] == [
        "statement all",
        "statement anyone",
        "statement sns",
        "statement no",
    ]
    assert "no ACL equivalent; the grant is unconditional" in access["unmapped"][0]


@pytest.mark.parametrize(
    "queue,edges,source,expected",
    [
        (QUEUE, [], _rabbit(), ["x-delivery-count"]),
        (Queue(name="orders", vhost="shop", type="classic"), [], _rabbit(), None),
        (
            Queue(name="orders", vhost="shop", type="classic"),
            [_edge("later", types=("x-delayed-message",))],
            _rabbit(),
            ["x-delay"],
        ),
        (
            Queue(name="orders", vhost="shop", type="classic"),
            [],
            _rabbit(parameters={"shovel": 2}),
            ["x-received-from", "x-shovelled", "x-shovelled-timestamp"],
        ),
    ],
)
def test_transport_only_headers_are_dropped_only_when_the_estate_has_them(
    queue, edges, source, expected
):
    mapping = header_mapping(source, queue, edges)
    if expected is None:
        assert mapping is None
    else:
        assert mapping["rename"] == {} and list(mapping["drop"]) == expected
        assert all(mapping["drop"].values())  # every drop says why


def test_sqs_and_amqp1_keep_every_header():
    sqs = Source(kind="sqs", name="s", endpoint="x")
    assert header_mapping(sqs, Queue(name="q"), []) is None


def test_plan_writes_drops_with_their_reasons():
    playbook = _only(_plan(PLAN / "rabbitmq-work-queue.json"))
    (w,) = playbook.workloads
    assert (w.mapping.headers.rename, w.mapping.headers.drop) == ({}, ["x-delivery-count"])
    why = playbook.reasons[("workloads", 0, "mapping", "headers", "drop", 0)]
    assert "share group counts deliveries itself" in why


def test_plan_writes_acl_grants_and_a_checklist_item():
    playbook = _only(_plan(PLAN / "rabbitmq-work-queue.json"))
    (w,) = playbook.workloads
    assert [(g.principal, g.role, g.pattern, g.prefix) for g in w.target.acls] == [
        ("User:shop-admin", "produce", "prefixed", "shop."),
        ("User:shop-admin", "consume", "prefixed", "shop."),
        ("User:shop-app", "produce", "literal", None),
        ("User:shop-app", "consume", "literal", None),
    ]
    # the broker dead-letters (4.4): nobody needs to write the DLQ topic
    assert not any(g.role == "dlq-write" for g in w.target.acls)
    item = next(d for d in w.decisions if d.rule == "security.acls")
    assert not item.done and "placeholders" in item.question
    assert "read=^(orders|payments)$" in item.question  # the non-prefix regex is listed
    assert playbook.reasons[("workloads", 0, "target", "acls", 2)] == "shop-app@shop write=^orders$"


def test_a_forwarding_worker_gets_dlq_write():
    # Kafka 4.3: no broker DLQ, the worker forwards with the consumers' identity
    w = _only(_plan(PLAN / "rabbitmq-work-queue.json", version="4.3")).workloads[0]
    assert [(g.principal, g.role) for g in w.target.acls if g.role == "dlq-write"] == [
        ("User:shop-admin", "dlq-write"),
        ("User:shop-app", "dlq-write"),
    ]
    fifo = _only(_plan(PLAN / "sqs-fifo.yaml")).workloads[0]  # a consumer group always forwards
    assert [(g.principal, g.role) for g in fifo.target.acls] == [
        ("User:payments-api", "produce"),
        ("User:settlement-worker", "produce"),
        ("User:settlement-worker", "consume"),
        ("User:settlement-worker", "dlq-write"),
    ]


def test_no_security_data_no_acls_and_no_checklist_item():
    w = _only(_plan(PLAN / "amqp1-queue.yaml")).workloads[0]
    assert w.target.acls == [] and "security.acls" not in [d.rule for d in w.decisions]


def test_fanout_has_a_shadow_step_per_queue():
    playbook = _only(_plan(PLAN / "rabbitmq-fanout.json"))
    shadows = [
        (w.source.queue, s.id)
        for w in playbook.workloads
        for s in w.phases.shadow.steps
        if s.action is Action.bridge_start and s.mode == "shadow"
    ]
    assert shadows == [
        ("billing", "shadow-bridge"),
        ("shipping", "shadow-bridge"),
        ("analytics", "shadow-bridge"),
    ]
    why = playbook.reasons[("workloads", 1, "phases", "shadow", "steps", 0)]
    assert "first of the 3 workloads" in why and "one copy, not one per queue" in why


ACLS = "      dlq: {topic: dlq.orders, use_broker_dlq: true}\n"


@pytest.mark.parametrize(
    "grant,message",
    [
        (
            "{principal: User:a, role: produce, pattern: prefixed}",
            "workloads[0].target.acls[0]: a prefixed grant needs 'prefix'",
        ),
        (
            "{principal: User:a, role: produce, prefix: ord}",
            "workloads[0].target.acls[0]: 'prefix' applies to pattern: prefixed only",
        ),
        (
            "{principal: User:a, role: consume, pattern: prefixed, prefix: orders-}",
            "workloads[0].target.acls[0]: prefix 'orders-' does not cover orders",
        ),
        (
            "{principal: alice, role: produce}",
            "workloads[0].target.acls[0].principal: String should match pattern",
        ),
        (
            "{principal: User:a, role: admin}",
            "workloads[0].target.acls[0].role: Input should be 'produce', 'consume' or 'dlq-write'",
        ),
    ],
)
def test_acl_grant_errors(tmp_path, grant, message):
    text = MINIMAL.replace(ACLS, ACLS + f"      acls:\n        - {grant}\n")
    (problem,) = invalid(text, tmp_path)
    assert message in problem, problem


def test_dlq_write_needs_a_dlq(tmp_path):
    text = MINIMAL.replace(ACLS, "      acls: [{principal: User:a, role: dlq-write}]\n")
    (problem,) = invalid(text, tmp_path)
    assert (
        "p.yaml:20:14: workloads[0].target.acls[0]: a dlq-write grant needs target.dlq" in problem
    ), problem
