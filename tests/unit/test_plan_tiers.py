"""Retry tiers in plan, the playbook model and provision's ACLs (no broker)."""

from __future__ import annotations

from pathlib import Path

from mqmigrate.playbooks import loader
from mqmigrate.playbooks.render import render
from mqmigrate.playbooks.provision import grant_acls
from tests.unit.test_plan import _only, _plan
from tests.unit.test_playbook_loader import MINIMAL, invalid

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"
WITH_RETRY = MINIMAL.replace(
    "      dlq: {topic: dlq.orders, use_broker_dlq: true}\n",
    "      dlq: {topic: dlq.orders, use_broker_dlq: true}\n"
    "      retry: {tiers: [30s, 1s, 5m]}\n"
    "      acls: [{principal: 'User:app', role: consume}]\n",
)


def test_a_ttl_dlx_retry_loop_becomes_a_tier_of_its_ttl_with_reasons():
    playbook = _only(_plan(FIXTURES / "rabbit_all_rules.json"))
    planned = {w.id: w.target.retry for w in playbook.workloads}
    assert planned["work.main"] is not None
    assert planned["work.main"].tiers == ["5s"]
    assert planned["work.main"].configs["retention.ms"] == "604800000"
    text = render(playbook)
    assert "# 5s: the TTL of wait queue work.wait (work.main -> work.wait -> work.main)" in text
    assert "retry_tiers=tiers" in text
    # consumer-group (ordered) workloads have no worker to read tiers
    assert all(
        w.target.retry is None
        for w in playbook.workloads
        if w.target.consumer.type == "consumer-group"
    )
    # a workload without delays gets none
    assert planned["bounded"] is None


def test_retry_tiers_load_sorted_by_label_and_cover_acls(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(WITH_RETRY.replace("[30s, 1s, 5m]", "[1s, 30s, 5m]"))
    workload = loader.load(path).workloads[0]
    assert workload.target.tier_topics() == [
        "orders.retry-1s",
        "orders.retry-30s",
        "orders.retry-5m",
    ]
    acls = {
        (a.resource, a.name, a.operation) for a in grant_acls(workload, workload.target.acls[0])
    }
    assert ("topic", "orders.retry-30s", "WRITE") in acls  # the worker writes its retries
    assert ("topic", "orders.retry-30s", "READ") in acls
    assert ("group", "orders-workers.retry-30s", "READ") in acls


def test_bad_retry_tiers_are_playbook_errors(tmp_path):
    found = invalid(WITH_RETRY, tmp_path)  # 30s before 1s
    assert any("retry.tiers" in p and "ascending" in p for p in found)
    found = invalid(WITH_RETRY.replace("[30s, 1s, 5m]", "[soon]"), tmp_path)
    assert any("retry.tiers" in p and "not a duration" in p for p in found)


def test_the_wait_queue_of_a_retry_loop_is_left_out_and_the_drain_outlasts_its_ttl():
    result = _plan(FIXTURES / "rabbit_all_rules.json")
    left = dict(result.left_out)
    [reason] = [why for wid, why in left.items() if wid.endswith("/work.wait")]
    assert "work.main" in reason  # the assessment's reason: a delay tier of work.main
    playbook = _only(result)
    assert "work.wait" not in {w.id for w in playbook.workloads}
    main = playbook.workload("work.main")
    quiet = {g.metric: g.for_seconds for g in main.phases.drain.gates}
    assert quiet["source.depth"] == quiet["source.in-flight"] == 65  # 5 s TTL + a minute
    other = playbook.workload("bounded")
    assert {g.for_seconds for g in other.phases.drain.gates if g.metric == "source.depth"} == {60}


def test_the_final_drain_bridge_of_a_retry_loop_waits_out_the_ttl(tmp_path):
    """A message parked in the wait queue comes back after the TTL: the drain bridge must still
    run then; workloads without delays keep the short idle exit."""
    from mqmigrate.cutover.actions import ActionContext, drain_idle

    playbook = _only(_plan(FIXTURES / "rabbit_all_rules.json"))

    def idle(workload_id: str) -> float:
        wl = playbook.workload(workload_id)
        step = wl.phases.drain.steps[0]
        return drain_idle(ActionContext(playbook, tmp_path, wl, step, "drain", None, "file:x"))

    assert idle("work.main") == 65  # the 5 s TTL plus a minute, the drain gates' quiet
    assert idle("bounded") == 10  # no delays: the usual 10 s


def test_an_artemis_redelivery_multiplier_becomes_a_series_of_tiers():
    from types import SimpleNamespace

    from mqmigrate.playbooks.plan import _evidence_ms

    finding = SimpleNamespace(
        evidence={
            "redelivery_delay": 1.0,
            "redelivery-delay-multiplier": 2.0,
            "max-redelivery-delay": 10000,
        }
    )
    assert [ms for ms, _ in _evidence_ms(finding)] == [2000, 4000, 8000, 10000, 1000]
    plain = SimpleNamespace(evidence={"redelivery_delay": "5.0"})
    assert [ms for ms, _ in _evidence_ms(plain)] == [5000]
