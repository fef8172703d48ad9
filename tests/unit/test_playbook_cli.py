"""``playbook validate`` / ``playbook show`` / ``provision`` usage errors, in-process."""

from __future__ import annotations

import json

from mqmigrate.cli import main
from tests.playbook_examples import EXAMPLES
from tests.unit.test_playbook_loader import MINIMAL

EXAMPLE = str(EXAMPLES / "rabbitmq-work-queue.yaml")


def test_validate_valid_file_exit_0(capsys):
    assert main(["playbook", "validate", EXAMPLE]) == 0
    captured = capsys.readouterr()
    assert "1 valid, 0 invalid" in captured.err
    # open decisions are surfaced as warnings with their location
    assert "rabbitmq-work-queue.yaml:82:9: workloads[0].decisions[0]: open decision" in captured.out


def test_validate_invalid_exit_1_with_every_problem(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        MINIMAL.replace("partitions: 3", "partitions: 0").replace(
            "share.delivery.count.limit: 5", "share.delivery.count.limit: 50"
        )
    )
    assert main(["playbook", "validate", EXAMPLE, str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert (
        f"{bad}:14:19: workloads[0].target.partitions: Input should be greater than or equal "
        "to 1" in out
    )
    assert any(line.startswith(f"{bad}:19:39: ") for line in out)


def test_validate_unreadable_wins_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("partitions: 3", "partitions: 0"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [\n")
    assert (
        main(
            [
                "playbook",
                "validate",
                str(bad),
                str(broken),
                str(tmp_path / "nope.yaml"),
                "--format",
                "json",
            ]
        )
        == 2
    )
    report = json.loads(capsys.readouterr().out)
    assert [f["valid"] for f in report["files"]] == [False, False, False]
    assert report["files"][0]["problems"][0]["line"] == 14
    assert report["files"][1]["error"].startswith(f"{broken}:2:1: malformed YAML")
    assert "no such file" in report["files"][2]["error"]


def test_validate_help_documents_exit_codes(capsys):
    assert main(["playbook", "validate", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 at least one is valid YAML but not a valid playbook" in out
    assert "2 at least one cannot be read or parsed" in out


def test_show_renders_phases_gates_and_open_decisions(capsys):
    assert main(["playbook", "show", EXAMPLE]) == 0
    out = capsys.readouterr().out
    for expected in (
        "provision.apply",
        "gate bridge.lag <= 1000 for 300s",
        "decisions (4 open)",
        "rollback",
        "revert-consumers: consumers.source",
        "decommission",
    ):
        assert expected in out
    phases = [
        line.split("── ")[1].strip()
        for line in out.splitlines()
        if line.startswith("    ├── ") or line.startswith("    └── ")
    ]
    assert phases == [
        "target",
        "decisions (4 open)",
        "provision",
        "shadow",
        "verify",
        "consumers",
        "producers",
        "drain",
        "decommission",
    ]


def test_show_invalid_is_one_line_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("strategy: drain-only", "strategy: yolo"))
    assert main(["playbook", "show", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:21:15: workloads[0].strategy:" in err


def test_provision_without_bootstrap_is_usage_error(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text(MINIMAL)
    assert main(["provision", str(path), "--dry-run"]) == 2
    assert "no Kafka cluster to provision" in capsys.readouterr().err


def test_provision_unreachable_cluster_is_exit_2(capsys):
    assert main(["provision", EXAMPLE, "--kafka", "127.0.0.1:1", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error:") and err.count("\n") == 1


def test_provision_unknown_workload_is_usage_error(capsys):
    assert main(["provision", EXAMPLE, "--kafka", "127.0.0.1:1", "--workload", "nope"]) == 2
    assert "no workload 'nope'" in capsys.readouterr().err
