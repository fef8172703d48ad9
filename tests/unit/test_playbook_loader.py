"""Loading playbooks: every error kind with its exact file:line:column, all at once."""

from __future__ import annotations

import pytest

from mqmigrate.errors import ExitCode, PlaybookInvalid, PlaybookUnreadable
from mqmigrate.playbooks import loader
from mqmigrate.playbooks.model import Playbook, warnings

# line numbers in the comments are what the assertions below rely on
MINIMAL = """\
apiVersion: mqmigrate/v1
kind: MigrationPlaybook
metadata:
  name: demo
workloads:
  - id: orders
    source:
      kind: rabbitmq
      credentials: {env: RABBITMQ_URI}
      queue: orders
      vhost: /
    target:
      topic: orders
      partitions: 3
      consumer:
        type: share-group
        group: orders-workers
        configs:
          share.delivery.count.limit: 5
      dlq: {topic: dlq.orders, use_broker_dlq: true}
    strategy: drain-only
    phases:
      provision:
        steps:
          - {id: provision, action: provision.apply}
      consumers:
        steps:
          - id: switch
            action: consumers.switch
            requires: [provision]
        gates:
          - {metric: share-group.backlog, op: "<=", value: 100, for_seconds: 60}
"""


def problems(text: str, tmp_path) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return [str(p) for p in loader.check_file(path)]


def invalid(text: str, tmp_path) -> list[str]:
    """The problems, checking that load() raises PlaybookInvalid (exit 1) listing them all."""
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaybookInvalid) as caught:
        loader.load(path)
    assert caught.value.exit_code == ExitCode.NEGATIVE
    found = [str(p) for p in loader.check_file(path)]
    assert caught.value.problems == found
    return [p.replace(str(path), "p.yaml") for p in found]


def unreadable(data: bytes | str, tmp_path) -> str:
    path = tmp_path / "p.yaml"
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    with pytest.raises(PlaybookUnreadable) as caught:
        loader.load(path)
    assert caught.value.exit_code == ExitCode.USAGE
    return caught.value.one_line().replace(str(path), "p.yaml")


def test_minimal_playbook_loads(tmp_path):
    assert problems(MINIMAL, tmp_path) == []
    playbook = loader.loads(MINIMAL)
    assert isinstance(playbook, Playbook)
    workload = playbook.workload("orders")
    assert workload.target.consumer.configs.as_kafka() == {"share.delivery.count.limit": "5"}
    assert [name for name, _ in workload.phases.present()] == ["provision", "consumers"]


def test_unknown_key_points_at_the_key_and_suggests(tmp_path):
    text = MINIMAL.replace("      partitions: 3", "      partitons: 3")
    assert invalid(text, tmp_path) == [
        # a missing key is reported at the start of the mapping that lacks it
        "p.yaml:13:7: workloads[0].target.partitions: missing required key 'partitions'",
        "p.yaml:14:7: workloads[0].target.partitons: unknown key 'partitons'; did you mean "
        "'partitions'?",
    ]


def test_unknown_phase(tmp_path):
    text = MINIMAL.replace("      consumers:\n", "      consumer:\n")
    assert invalid(text, tmp_path) == [
        "p.yaml:26:7: workloads[0].phases.consumer: unknown key 'consumer'; did you mean "
        "'consumers'?",
    ]


def test_wrong_type_points_at_the_value(tmp_path):
    text = MINIMAL.replace("partitions: 3", "partitions: many")
    assert invalid(text, tmp_path) == [
        "p.yaml:14:19: workloads[0].target.partitions: Input should be a valid integer, unable "
        "to parse string as an integer",
    ]


def test_out_of_range_delivery_count_limit(tmp_path):
    text = MINIMAL.replace("share.delivery.count.limit: 5", "share.delivery.count.limit: 50")
    assert invalid(text, tmp_path) == [
        "p.yaml:19:39: workloads[0].target.consumer.configs[share.delivery.count.limit]: Input "
        "should be less than or equal to 25",
    ]


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("share.record.lock.duration.ms", "999", "greater than or equal to 1000"),
        ("share.record.lock.duration.ms", "3600001", "less than or equal to 3600000"),
        ("share.partition.max.record.locks", "99", "greater than or equal to 100"),
        ("share.partition.max.record.locks", "10001", "less than or equal to 10000"),
        ("share.delivery.count.limit", "1", "greater than or equal to 2"),
        ("share.auto.offset.reset", "oldest", "Input should be 'earliest' or 'latest'"),
    ],
)
def test_share_group_config_ranges(tmp_path, key, value, message):
    text = MINIMAL.replace("share.delivery.count.limit: 5", f"{key}: {value}")
    [problem] = invalid(text, tmp_path)
    assert problem.startswith(
        f"p.yaml:19:{len(key) + 13}: workloads[0].target.consumer.configs[{key}]: "
    )
    assert message in problem


def test_delivery_limit_above_ten_is_valid_with_a_warning():
    text = MINIMAL.replace("share.delivery.count.limit: 5", "share.delivery.count.limit: 15")
    playbook = loader.loads(text)
    [(path, message)] = [w for w in warnings(playbook) if "delivery" in w[0][-1]]
    assert "group.share.max.delivery.count.limit" in message


def test_unknown_share_group_config_is_an_error(tmp_path):
    text = MINIMAL.replace("share.delivery.count.limit: 5", "share.delivery.count.limt: 5")
    assert invalid(text, tmp_path) == [
        "p.yaml:19:11: workloads[0].target.consumer.configs[share.delivery.count.limt]: unknown "
        "key 'share.delivery.count.limt'; did you mean 'share.delivery.count.limit'?",
    ]


def test_broker_dlq_name_must_start_with_dlq_prefix(tmp_path):
    text = MINIMAL.replace("topic: dlq.orders", "topic: orders.dead")
    assert invalid(text, tmp_path) == [
        "p.yaml:20:12: workloads[0].target.dlq: with use_broker_dlq the topic name must start "
        "with 'dlq.' (KIP-1191), got 'orders.dead'",
    ]


def test_partitions_at_least_one(tmp_path):
    text = MINIMAL.replace("partitions: 3", "partitions: 0")
    [problem] = invalid(text, tmp_path)
    assert problem.startswith(
        "p.yaml:14:19: workloads[0].target.partitions: Input should be greater than or equal to 1"
    )


def test_secrets_in_endpoint_are_refused(tmp_path):
    text = MINIMAL.replace(
        "      queue: orders\n",
        "      queue: orders\n      endpoint: amqp://guest:guest@rabbit:5672\n",
    )
    [problem] = invalid(text, tmp_path)
    assert problem.startswith(
        "p.yaml:11:17: workloads[0].source.endpoint: endpoint must not contain user information"
    )


def test_missing_and_bad_values_reported_all_at_once(tmp_path):
    text = (
        MINIMAL.replace("kind: MigrationPlaybook", "kind: Playbook")
        .replace("partitions: 3", "partitions: -1")
        .replace("strategy: drain-only", "strategy: yolo")
        .replace("requires: [provision]", "requires: [provison]")
    )
    found = invalid(text, tmp_path)
    assert [p.split(": ")[0] for p in found] == ["p.yaml:2:7", "p.yaml:14:19", "p.yaml:21:15"]
    # the graph is only checked once the types are right, so the dangling reference comes later
    text = MINIMAL.replace("requires: [provision]", "requires: [provison]")
    assert invalid(text, tmp_path) == [
        "p.yaml:30:24: workloads[0].phases.consumers.steps[0].requires[0]: requires unknown step "
        "'provison'",
    ]


def test_duplicate_step_id(tmp_path):
    text = MINIMAL.replace(
        "          - {id: provision, action: provision.apply}",
        "          - {id: provision, action: provision.apply}\n"
        "          - {id: switch, action: manual, description: twice}",
    )
    assert invalid(text, tmp_path) == [
        "p.yaml:29:17: workloads[0].phases.consumers.steps[0].id: duplicate step id 'switch' "
        "(first defined at workloads[0].phases.provision.steps[1])",
    ]


def test_step_requiring_a_later_phase(tmp_path):
    text = MINIMAL.replace(
        "          - {id: provision, action: provision.apply}",
        "          - {id: provision, action: provision.apply, requires: [switch]}",
    )
    assert invalid(text, tmp_path) == [
        # switch requires provision, so the two also form a cycle (reported at the list)
        "p.yaml:25:64: workloads[0].phases.provision.steps[0].requires: steps require each "
        "other in a cycle: provision -> switch -> provision",
        "p.yaml:25:65: workloads[0].phases.provision.steps[0].requires[0]: step 'provision' in "
        "phase provision requires 'switch' of the later phase consumers",
    ]


def test_cycle_is_reported(tmp_path):
    text = MINIMAL.replace(
        "          - {id: provision, action: provision.apply}",
        "          - {id: provision, action: provision.apply, requires: [b]}\n"
        "          - {id: b, action: manual, description: x, requires: [provision]}",
    )
    assert invalid(text, tmp_path) == [
        "p.yaml:25:64: workloads[0].phases.provision.steps[0].requires: steps require each "
        "other in a cycle: provision -> b -> provision",
    ]


def test_duplicate_yaml_key(tmp_path):
    text = MINIMAL.replace("      partitions: 3\n", "      partitions: 3\n      partitions: 4\n")
    assert invalid(text, tmp_path) == [
        "p.yaml:15:7: workloads[0].target.partitions: duplicate key 'partitions' (YAML keeps "
        "only the last)",
    ]


def test_not_a_mapping_is_invalid_exit_1(tmp_path):
    assert invalid("- just\n- a list\n", tmp_path) == [
        "p.yaml:1:1: a playbook is a mapping (apiVersion, kind, metadata, workloads), not a list"
    ]


def test_malformed_yaml_gives_line_and_column(tmp_path):
    text = MINIMAL.replace("      queue: orders", "      queue: [orders")
    assert unreadable(text, tmp_path).startswith(
        "p.yaml:11:12: malformed YAML: expected ',' or ']', but got ':'"
    )


def test_tab_indentation_is_malformed(tmp_path):
    assert unreadable("apiVersion: x\n\tkind: y\n", tmp_path).startswith("p.yaml:2:1: malformed")


def test_non_utf8(tmp_path):
    assert unreadable(b"apiVersion: mqmigrate/v1\nkind: \xff\n", tmp_path).startswith(
        "p.yaml:2:7: not UTF-8 (byte 0xff)"
    )


def test_empty_file(tmp_path):
    assert unreadable("  \n# only a comment\n", tmp_path).startswith("p.yaml: empty")


def test_huge_file(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "MAX_BYTES", 1000)
    assert "larger than the 1000-byte limit" in unreadable("#" * 1001, tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(PlaybookUnreadable, match="no such file"):
        loader.load(tmp_path / "nope.yaml")


def test_python_tags_are_refused(tmp_path):
    assert "malformed YAML" in unreadable("a: !!python/object:os.system x\n", tmp_path)


def test_deep_nesting_is_refused(tmp_path):
    assert "nesting" in unreadable("a: " + "[" * 200 + "]" * 200 + "\n", tmp_path)


def test_phases_out_of_order(tmp_path):
    text = MINIMAL.replace(
        "      provision:\n        steps:\n          - {id: provision, action: provision.apply}\n",
        "",
    )
    text += (
        "      provision:\n        steps:\n          - {id: provision, action: provision.apply}\n"
    )
    assert invalid(text, tmp_path) == [
        "p.yaml:30:7: workloads[0].phases.provision: phase 'provision' is written after "
        "'consumers'; phases run in the fixed order provision → shadow → verify → consumers → "
        "producers → drain → decommission",
    ]


def test_bootstrap_must_be_plain_host_port(tmp_path):
    text = MINIMAL.replace(
        "workloads:\n", "kafka:\n  bootstrap: sasl://app:pw@k1:9092\nworkloads:\n", 1
    )
    [problem] = invalid(text, tmp_path)
    assert problem.startswith("p.yaml:6:14: kafka.bootstrap: bootstrap is host:port")
    assert (
        loader.loads(
            MINIMAL.replace("workloads:\n", "kafka:\n  bootstrap: k1:9092,k2:9092\nworkloads:\n", 1)
        ).kafka.bootstrap
        == "k1:9092,k2:9092"
    )
