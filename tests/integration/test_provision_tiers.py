"""provision creates a workload's retry tier topics (target.retry): dry run, create, idempotent;
then a worker with the playbook's schedule starts against them."""

from __future__ import annotations

import json

import pytest

from mqmigrate.cli import main
from mqmigrate.kafka import share
from mqmigrate.playbooks import loader
from mqmigrate.playbooks.render import Derived, WorkloadSpec, build_playbook, render
from mqmigrate.playbooks.provision import provision
from mqmigrate.sdk.worker import Worker

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

SOURCE = {"kind": "sqs", "credentials": {"profile": "p"}, "queue": "orders"}


def test_provision_creates_the_tier_topics_dry_run_first_then_idempotent(
    kafka_bootstrap, unique_name, tmp_path, capsys
):
    topic, group = unique_name, f"g-{unique_name}"
    tiers = [f"{topic}.retry-2s", f"{topic}.retry-30s"]
    spec = WorkloadSpec(
        id="orders",
        source=SOURCE,
        topic=topic,
        partitions=Derived(2, "test"),
        group=group,
        share_configs={"share.auto.offset.reset": "earliest"},
        strategy="drain-only",
        retry={
            "tiers": Derived(["2s", "30s"], "test"),
            "configs": {"retention.ms": Derived("604800000", "a week")},
        },
    )
    path = tmp_path / "orders.yaml"
    path.write_text(render(build_playbook([spec], name="it", bootstrap=kafka_bootstrap)))
    admin = share.admin_client(kafka_bootstrap)
    try:
        assert main(["provision", str(path), "--dry-run", "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        rows = {
            (c["resource"], c["name"]): c["action"]
            for c in report["changes"]
            if c["item"] in ("topic", "configs")
        }
        assert rows[("tier-topic", tiers[0])] == rows[("tier-topic", tiers[1])] == "create"
        assert rows[("tier-group", f"{group}.retry-2s")] == "skipped"
        assert all(share.describe_topic(admin, t) is None for t in tiers)

        assert main(["provision", str(path), "--format", "json"]) == 0
        capsys.readouterr()
        for tier in tiers:
            state = share.describe_topic(admin, tier)
            assert (state.partitions, state.replication) == (2, 1)
            assert share.topic_configs(admin, tier, ["retention.ms"]) == {
                "retention.ms": "604800000"
            }
        report = provision(loader.load(path))
        assert report.pending == [] and report.drift == []  # a second run changes nothing

        # the worker with the playbook's schedule finds its tier topics
        retry = loader.load(path).workloads[0].target.retry
        worker = Worker(
            kafka_bootstrap,
            topic,
            group,
            lambda m: None,
            retry_tiers=retry.tiers,
            install_signal_handlers=False,
            metrics=False,
        )
        worker.start()
        worker.stop()
        assert worker.join(timeout=60)
    finally:
        share.delete_topics(admin, [topic, *tiers], missing_ok=True)
