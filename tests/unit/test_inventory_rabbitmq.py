"""Effective policy computation and exchange-to-exchange flattening."""

from __future__ import annotations

from pathlib import Path

from mqmigrate.inventory.model import Binding, Exchange, Policy
from mqmigrate.inventory.readers import rabbitmq_definitions
from mqmigrate.inventory.readers.rabbitmq_common import (
    effective_policy,
    flatten,
    merge_effective,
    normalize_queue,
)


def _p(name, pattern, priority=0, apply_to="all", operator=False, **definition):
    return Policy(
        name=name,
        vhost="/",
        pattern=pattern,
        priority=priority,
        apply_to=apply_to,
        operator=operator,
        definition=definition,
    )


def test_highest_priority_wins_and_only_one_applies():
    pols = [
        _p("low", "^orders", 1, **{"message-ttl": 1000}),
        _p("high", "^orders\\.eu", 9, **{"max-length": 5}),
        _p("other", "^billing", 50),
    ]
    assert effective_policy(pols, "orders.eu.1", "/", "queue").name == "high"
    assert effective_policy(pols, "orders.us", "/", "queue").name == "low"
    assert effective_policy(pols, "shipping", "/", "queue") is None
    q = normalize_queue(
        {"name": "orders.eu.1", "vhost": "/"}, policies=pols, rabbit_version="3.13.0"
    )
    assert q.policy == "high" and q.max_length == 5
    assert q.message_ttl is None  # "low" also matches but does not apply


def test_apply_to_filters_queues_exchanges_and_queue_types():
    pols = [
        _p("ex", ".*", 10, apply_to="exchanges"),
        _p("q", ".*", 1, apply_to="queues"),
        _p("quorum-only", ".*", 5, apply_to="quorum_queues"),
    ]
    assert effective_policy(pols, "x", "/", "queue", "classic").name == "q"
    assert effective_policy(pols, "x", "/", "queue", "quorum").name == "quorum-only"
    assert effective_policy(pols, "x", "/", "exchange").name == "ex"


def test_policy_vhost_scoping_and_ties_are_deterministic():
    a = Policy(name="b-pol", vhost="other", pattern=".*", priority=5)
    b = _p("a-pol", ".*", 1)
    c = _p("c-pol", ".*", 1)
    assert effective_policy([a, b, c], "q", "/", "queue").name == "a-pol"


def test_arguments_win_except_numeric_limits_take_the_minimum():
    eff = merge_effective(
        {"x-message-ttl": 90000, "x-dead-letter-exchange": "arg-dlx"},
        {"message-ttl": 30000, "dead-letter-exchange": "pol-dlx", "max-length": 100},
        {"max-length": 50},
    )
    assert eff["message-ttl"] == 30000
    assert eff["dead-letter-exchange"] == "arg-dlx"
    assert eff["max-length"] == 50


def test_operator_policy_caps_the_queue():
    pols = [
        _p("user", ".*", 1, **{"max-length": 1000}),
        _p("ops", ".*", 0, operator=True, **{"max-length": 10, "delivery-limit": 7}),
    ]
    q = normalize_queue(
        {"name": "q", "vhost": "/", "arguments": {"x-queue-type": "quorum"}},
        policies=pols,
        rabbit_version="4.0.1",
    )
    assert q.max_length == 10 and q.delivery_limit == 7
    assert q.policy == "user" and q.operator_policy == "ops"


def test_quorum_delivery_limit_defaults_by_version():
    raw = {"name": "q", "vhost": "/", "arguments": {"x-queue-type": "quorum"}}
    assert normalize_queue(raw, policies=[], rabbit_version="4.1.0").delivery_limit == 20
    assert normalize_queue(raw, policies=[], rabbit_version="3.13.0").delivery_limit == -1
    unknown = normalize_queue(raw, policies=[], rabbit_version=None)
    assert unknown.delivery_limit is None and "delivery_limit" not in unknown.defaulted


def test_exchange_to_exchange_chains_are_flattened():
    ex = [
        Exchange(name="edge", type="topic"),
        Exchange(name="mid", type="direct"),
        Exchange(name="leaf", type="fanout"),
        Exchange(name="ae", type="fanout"),
        Exchange(name="loop", type="fanout"),
    ]
    ex[0].alternate_exchange = "ae"
    b = [
        Binding(source="edge", destination="mid", destination_type="exchange", routing_key="a.#"),
        Binding(source="mid", destination="leaf", destination_type="exchange", routing_key="k"),
        Binding(source="leaf", destination="q1"),
        Binding(source="leaf", destination="loop", destination_type="exchange"),
        Binding(source="loop", destination="leaf", destination_type="exchange"),
        Binding(source="ae", destination="parking"),
    ]
    edges = {(e.exchange, e.queue): e for e in flatten(ex, b)}
    e = edges[("edge", "q1")]
    assert e.path == ["edge", "mid", "leaf"] and e.routing_keys == ["a.#", "k", ""]
    assert e.exchange_types == ["topic", "direct", "fanout"]
    assert edges[("edge", "parking")].routing_keys == ["(unroutable)", ""]
    assert ("mid", "q1") in edges and ("leaf", "q1") in edges
    # the leaf <-> loop cycle terminates and yields one edge per distinct path
    assert [x.path for x in flatten(ex, b) if x.exchange == "loop"] == [["loop", "leaf"]]


def test_definitions_quirks_missing_arguments_extra_keys_secrets(tmp_path: Path):
    data = {
        "users": [{"name": "u", "password": "PlainPw123"}, {"name": "v"}],
        "queues": [{"name": "q", "vhost": "/", "durable": True, "extra": 1}],
        "bindings": [{"source": "x", "destination": "q", "routing_key": "k", "vhost": "/"}],
        "exchanges": [{"name": "x", "vhost": "/", "type": "direct", "description": "d"}],
    }
    src = rabbitmq_definitions.read(tmp_path / "defs.json", data)
    assert src.users_count == 2
    assert src.queues[0].arguments == {} and src.queues[0].type == "classic"
    assert "PlainPw123" not in src.model_dump_json()
    assert [e.path for e in src.edges] == [["x"]]
