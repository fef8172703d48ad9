"""The applied-step ledger (stamp / current / pending), persisted atomically."""

from __future__ import annotations

import json

import pytest

from mqmigrate.errors import LedgerError
from mqmigrate.playbooks.render import render
from mqmigrate.playbooks.state import Ledger, state_path
from tests.playbook_examples import rabbitmq_work_queue


@pytest.fixture
def playbook_file(tmp_path):
    path = tmp_path / "orders.yaml"
    path.write_text(render(rabbitmq_work_queue()), encoding="utf-8")
    return path


@pytest.fixture
def ledger(playbook_file):
    return Ledger.open(playbook_file, rabbitmq_work_queue())


def test_state_file_sits_next_to_the_playbook(playbook_file):
    assert state_path(playbook_file) == playbook_file.with_name("orders.yaml.state.json")


def test_fresh_ledger_has_everything_pending(ledger):
    assert ledger.current("orders") == []
    assert ledger.next_step("orders")[1].id == "provision"
    assert len(ledger.pending("orders")) == 11


def test_stamp_records_persists_and_resumes(ledger, playbook_file):
    ledger.stamp("orders", "provision")
    ledger.stamp("orders", "shadow-bridge")
    reopened = Ledger.open(playbook_file, rabbitmq_work_queue())
    assert reopened.current("orders") == ["provision", "shadow-bridge"]
    assert reopened.next_step("orders") == (
        "verify",
        reopened.playbook.workload("orders").phases.verify.steps[0],
    )
    raw = json.loads(state_path(playbook_file).read_text())
    assert raw["version"] == 1 and raw["playbook"] == "rabbitmq-work-queue"
    assert raw["workloads"]["orders"]["applied"][0]["phase"] == "provision"
    # atomic writes leave no temporary files behind
    assert sorted(p.name for p in playbook_file.parent.iterdir()) == [
        "orders.yaml",
        "orders.yaml.state.json",
    ]


def test_stamping_twice_is_a_no_op(ledger):
    first = ledger.stamp("orders", "provision")
    assert ledger.stamp("orders", "provision") == first
    assert ledger.current("orders") == ["provision"]


def test_stamp_refuses_unmet_requirements(ledger):
    with pytest.raises(LedgerError, match="requires shadow-bridge"):
        ledger.stamp("orders", "verify")
    assert ledger.current("orders") == []


def test_stamp_refuses_unknown_step_and_workload(ledger):
    with pytest.raises(LedgerError, match="no step 'nope'"):
        ledger.stamp("orders", "nope")
    with pytest.raises(LedgerError, match="no workload 'other'"):
        ledger.stamp("other", "provision")


def test_unstamp_refuses_while_a_later_step_needs_it(ledger):
    ledger.stamp("orders", "provision")
    ledger.stamp("orders", "shadow-bridge")
    with pytest.raises(LedgerError, match="shadow-bridge require it"):
        ledger.unstamp("orders", "provision")
    ledger.unstamp("orders", "shadow-bridge")
    assert ledger.current("orders") == ["provision"]


def test_corrupt_or_foreign_ledger_is_an_error(ledger, playbook_file):
    path = state_path(playbook_file)
    path.write_text("{not json")
    with pytest.raises(LedgerError, match="unreadable ledger"):
        Ledger.open(playbook_file, rabbitmq_work_queue())
    path.write_text(json.dumps({"version": 1, "playbook": "other", "workloads": {}}))
    with pytest.raises(LedgerError, match="belongs to playbook 'other'"):
        Ledger.open(playbook_file, rabbitmq_work_queue())
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "playbook": "rabbitmq-work-queue",
                "workloads": {"orders": {"applied": [{"step": "x"}]}},
            }
        )
    )
    with pytest.raises(LedgerError, match="malformed ledger entry"):
        Ledger.open(playbook_file, rabbitmq_work_queue())


def test_ledger_naming_steps_the_playbook_lost_is_an_error(ledger, playbook_file):
    ledger.stamp("orders", "provision")
    raw = json.loads(state_path(playbook_file).read_text())
    raw["workloads"]["orders"]["applied"].append(
        {"step": "gone", "phase": "shadow", "at": "2026-11-25T00:00:00+00:00"}
    )
    state_path(playbook_file).write_text(json.dumps(raw))
    with pytest.raises(LedgerError, match="does not have: orders/gone"):
        Ledger.open(playbook_file, rabbitmq_work_queue())
