"""The playbook run state (stamp / current / pending), persisted atomically."""

from __future__ import annotations

import json

import pytest

from mqmigrate.errors import PlaybookStateError
from mqmigrate.playbooks.render import render
from mqmigrate.playbooks.state import PlaybookState, state_path
from tests.playbook_examples import rabbitmq_work_queue


@pytest.fixture
def playbook_file(tmp_path):
    path = tmp_path / "orders.yaml"
    path.write_text(render(rabbitmq_work_queue()), encoding="utf-8")
    return path


@pytest.fixture
def state(playbook_file):
    return PlaybookState.open(playbook_file, rabbitmq_work_queue())


def test_state_file_sits_next_to_the_playbook(playbook_file):
    assert state_path(playbook_file) == playbook_file.with_name("orders.yaml.state.json")


def test_fresh_state_has_everything_pending(state):
    assert state.current("orders") == []
    assert state.next_step("orders")[1].id == "provision"
    assert len(state.pending("orders")) == 11


def test_stamp_records_persists_and_resumes(state, playbook_file):
    state.stamp("orders", "provision")
    state.stamp("orders", "shadow-bridge")
    reopened = PlaybookState.open(playbook_file, rabbitmq_work_queue())
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


def test_stamping_twice_is_a_no_op(state):
    first = state.stamp("orders", "provision")
    assert state.stamp("orders", "provision") == first
    assert state.current("orders") == ["provision"]


def test_stamp_refuses_unmet_requirements(state):
    with pytest.raises(PlaybookStateError, match="requires shadow-bridge"):
        state.stamp("orders", "verify")
    assert state.current("orders") == []


def test_stamp_refuses_unknown_step_and_workload(state):
    with pytest.raises(PlaybookStateError, match="no step 'nope'"):
        state.stamp("orders", "nope")
    with pytest.raises(PlaybookStateError, match="no workload 'other'"):
        state.stamp("other", "provision")


def test_unstamp_refuses_while_a_later_step_needs_it(state):
    state.stamp("orders", "provision")
    state.stamp("orders", "shadow-bridge")
    with pytest.raises(PlaybookStateError, match="shadow-bridge require it"):
        state.unstamp("orders", "provision")
    state.unstamp("orders", "shadow-bridge")
    assert state.current("orders") == ["provision"]


def test_corrupt_or_foreign_state_is_an_error(state, playbook_file):
    path = state_path(playbook_file)
    path.write_text("{not json")
    with pytest.raises(PlaybookStateError, match="unreadable state file"):
        PlaybookState.open(playbook_file, rabbitmq_work_queue())
    path.write_text(json.dumps({"version": 1, "playbook": "other", "workloads": {}}))
    with pytest.raises(PlaybookStateError, match="belongs to playbook 'other'"):
        PlaybookState.open(playbook_file, rabbitmq_work_queue())
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "playbook": "rabbitmq-work-queue",
                "workloads": {"orders": {"applied": [{"step": "x"}]}},
            }
        )
    )
    with pytest.raises(PlaybookStateError, match="malformed state file entry"):
        PlaybookState.open(playbook_file, rabbitmq_work_queue())


def test_state_naming_steps_the_playbook_lost_is_an_error(state, playbook_file):
    state.stamp("orders", "provision")
    raw = json.loads(state_path(playbook_file).read_text())
    raw["workloads"]["orders"]["applied"].append(
        {"step": "gone", "phase": "shadow", "at": "2026-11-25T00:00:00+00:00"}
    )
    state_path(playbook_file).write_text(json.dumps(raw))
    with pytest.raises(PlaybookStateError, match="does not have: orders/gone"):
        PlaybookState.open(playbook_file, rabbitmq_work_queue())
