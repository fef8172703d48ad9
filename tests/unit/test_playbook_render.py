"""build_playbook + render: valid, commented, byte-identical on re-run; the JSON Schema."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

import mqmigrate.playbooks as package
from mqmigrate.errors import PlaybookInvalid
from mqmigrate.playbooks import graph, loader
from mqmigrate.playbooks.model import PHASES, json_schema, json_schema_text
from mqmigrate.playbooks.render import Derived, WorkloadSpec, build_playbook, render, write
from tests.playbook_examples import ROOT, rabbitmq_work_queue

SOURCE = {"kind": "sqs", "credentials": {"profile": "prod"}, "queue": "jobs", "region": "eu-west-1"}


def spec(**overrides) -> WorkloadSpec:
    values = dict(
        id="jobs", source=SOURCE, topic="jobs", partitions=Derived(4, "four"), group="jobs-workers"
    )
    values.update(overrides)
    return WorkloadSpec(**values)


def test_render_is_byte_identical_on_rerun():
    first = render(rabbitmq_work_queue())
    second = render(rabbitmq_work_queue())
    assert first == second
    assert "generated-at" not in first


def test_config_order_of_the_input_does_not_change_the_bytes():
    a = spec(topic_configs={"retention.ms": "1", "cleanup.policy": "delete"})
    b = spec(topic_configs={"cleanup.policy": "delete", "retention.ms": "1"})
    assert render(build_playbook([a])) == render(build_playbook([b]))


def test_rendered_yaml_reloads_to_the_same_playbook():
    playbook = rabbitmq_work_queue()
    again = loader.loads(render(playbook))
    assert again.model_dump() == playbook.model_dump()


def test_derived_values_get_a_comment_right_above_them():
    lines = render(rabbitmq_work_queue()).splitlines()
    at = lines.index("      partitions: 3")
    assert lines[at - 1] == (
        "      # no rates known: 3 (share groups scale consumers beyond partitions)"
    )
    at = lines.index("          share.record.lock.duration.ms: 45000")
    assert lines[at - 1] == "          # consumer timeout 45 s"


def test_generated_at_only_when_asked():
    when = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    text = render(build_playbook([spec()], generated_at=when))
    assert "  generated-at: 2026-11-25T12:00:00+00:00\n" in text
    assert loader.loads(text).metadata.generated_at == when


@pytest.mark.parametrize(
    "awkward",
    [
        "yes",
        "123",
        "a: b",
        "#x",
        "null",
        " lead",
        "x #y",
        "2026-01-01",
        "ünïcode",
        "'q'",
        "tab\there",
        "",
        "~",
        "multi\nline",
    ],
)
def test_awkward_strings_round_trip(awkward):
    playbook = build_playbook([spec()], description=awkward or None)
    text = render(playbook)
    assert yaml.safe_load(text)["metadata"].get("description") == (awkward or None)


@pytest.mark.parametrize("strategy", ["shadow-then-drain", "drain-only", "dual-write"])
def test_each_strategy_builds_a_valid_graph_in_phase_order(strategy):
    playbook = build_playbook([spec()], strategy)
    workload = playbook.workloads[0]
    assert graph.check(playbook) == []
    names = [name for name, _ in workload.phases.present()]
    assert names == [p for p in PHASES if p in names]
    ordered = [step.id for _, step in graph.ordered_steps(workload)]
    assert ordered[0] == "provision" and ordered[-1] == "delete-source-queue"
    actions = {step.action.value for _, step in workload.steps()}
    if strategy == "shadow-then-drain":
        assert "verify.run" in actions and "source.delete-shadow" in actions
    if strategy == "drain-only":
        assert "verify" not in names and "shadow" not in names
    if strategy == "dual-write":
        assert "producers.dual-write" in actions
    # every phase that changes something has a way back, except the point of no return
    for name, phase in workload.phases.present():
        if name in ("shadow", "consumers", "producers", "drain"):
            assert phase.rollback, name


def test_keyed_consumer_group_workload():
    playbook = build_playbook(
        [spec(consumer_type="consumer-group", key="message-group-id", partitions=8)]
    )
    consumer = playbook.workloads[0].target.consumer
    assert consumer.type == "consumer-group" and consumer.key == "message-group-id"
    assert loader.loads(render(playbook)).workloads[0].mapping.key == "message-group-id"


def test_invalid_spec_raises_with_every_problem():
    with pytest.raises(PlaybookInvalid) as caught:
        build_playbook([spec(partitions=0, share_configs={"share.delivery.count.limit": 50})])
    assert len(caught.value.problems) == 2
    assert "workloads[0].target.partitions" in caught.value.problems[0]


def test_write_is_atomic_and_reports_unchanged(tmp_path):
    path = tmp_path / "p.yaml"
    playbook = build_playbook([spec()])
    assert write(playbook, path) is True
    assert write(playbook, path) is False
    assert [p.name for p in tmp_path.iterdir()] == ["p.yaml"]


def test_schema_files_match_the_model():
    shipped = Path(package.__file__).with_name("playbook.schema.json")
    docs = ROOT / "docs" / "playbook.schema.json"
    regenerate = (
        "regenerate with: PYTHONPATH=. python -c 'from mqmigrate.playbooks.model import "
        'json_schema_text as t; [open(p, "w").write(t()) for p in '
        '("docs/playbook.schema.json", "mqmigrate/playbooks/playbook.schema.json")]\''
    )
    assert shipped.read_text(encoding="utf-8") == json_schema_text(), regenerate
    assert docs.read_text(encoding="utf-8") == json_schema_text(), regenerate


def test_schema_knows_the_yaml_names_and_ranges():
    schema = json_schema()
    assert schema["properties"]["apiVersion"]["const"] == "mqmigrate/v1"
    configs = schema["$defs"]["ShareGroupConfigs"]
    limit = configs["properties"]["share.delivery.count.limit"]["anyOf"][0]
    assert (limit["minimum"], limit["maximum"]) == (2, 25)
    assert configs["additionalProperties"] is False
    json.dumps(schema)  # serialisable
