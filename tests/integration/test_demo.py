"""``mqmigrate demo`` end to end on the sandbox: the README's first command loses nothing."""

from __future__ import annotations

import json

import pytest

from mqmigrate.cli import main
from mqmigrate.kafka.admin import topic_exists

pytestmark = [
    pytest.mark.integration,
    pytest.mark.kafka,
    pytest.mark.rabbitmq,
    pytest.mark.sqs,
    pytest.mark.slow,
]


def test_demo_migrates_a_live_queue_without_loss(
    kafka_service, rabbitmq_service, moto_service, tmp_path, capsys
):
    code = main(
        [
            "demo",
            "--messages",
            "600",
            "--rate",
            "100",
            "--format",
            "json",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 0, captured.err[-3000:]
    for name in (
        "sent",
        "processed",
        "processed_legacy",
        "processed_worker",
        "unique",
        "lost",
        "duplicated",
        "duplicate_deliveries_skipped",
        "shadow_copies_skipped",
        "longest_gap_s",
        "phases",
        "verify",
    ):
        assert name in summary
    assert summary["sent"] == 600
    assert summary["lost"] == 0
    assert summary["processed"] >= summary["sent"]
    assert summary["duplicated"] == summary["processed"] - summary["unique"]
    assert summary["processed"] == summary["processed_legacy"] + summary["processed_worker"]
    # both consumers did part of the work: the cutover happened mid-stream
    assert summary["processed_legacy"] > 0 and summary["processed_worker"] > 0
    assert summary["verify"]["missing"] == 0 and summary["verify"]["expected"] > 0
    assert set(summary["phases"]) >= {
        "assess",
        "plan",
        "provision",
        "shadow",
        "verify",
        "consumers",
        "producers",
        "drain",
    }
    assert summary["longest_gap_s"] < 5.0
    # the run directory holds the playbook and the summary; the demo's topic is gone
    assert list((tmp_path / "run" / "playbooks").glob("*.yaml"))
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["lost"] == 0
    assert summary["topic"].startswith("demo.orders-")
    assert not topic_exists(kafka_service.bootstrap, summary["topic"])
