"""``cutover`` on an SNS-fed SQS queue (moto): a shadow-then-drain playbook ``mqmigrate plan``
wrote is run through its shadow phase (the SQS shadow bridge as a managed background process,
its ``bridge.lag`` gate measured from its /metrics) and rolled back, whose ``source.delete-shadow``
unsubscribes and deletes the shadow queue and leaves the application's queue and subscription
as they were.

The zero-downtime run for SQS is drain-only on ElasticMQ (test_zero_downtime.py); this covers
the SQS-only steps of shadow-then-drain, on moto because only moto serves SNS here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mqmigrate.cli import main
from mqmigrate.cutover import bridgeproc
from mqmigrate.cutover.runner import run_dir
from mqmigrate.kafka.admin import delete_topics
from mqmigrate.playbooks.state import state_path
from mqmigrate.sources.sqs.adapter import SHADOW_SUFFIX

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.sqs]

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@pytest.fixture
def moto(moto_service):
    """moto's SQS and SNS clients, made before ``aws_profile`` points boto3 at its files."""
    return moto_service.client("sqs"), moto_service.client("sns")


@pytest.fixture
def aws_profile(moto, tmp_path, monkeypatch) -> str:
    """The playbook's ``AWS_PROFILE`` reference, resolved by boto3's own chain from config
    files of the test's own (moto accepts any key)."""
    profile = "mqmigrate-cutover"
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text(f"[profile {profile}]\nregion = {REGION}\n")
    credentials.write_text(
        f"[{profile}]\naws_access_key_id = cutover\naws_secret_access_key = cutover\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", profile)
    return profile


def cutover(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "mqmigrate", "cutover", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    sys.stderr.write(done.stderr)
    return done


def test_sqs_shadow_phase_and_rollback_removes_the_shadow_queue(
    moto_service, moto, aws_profile, kafka_bootstrap, unique_name, tmp_path, capsys
):
    sqs, sns = moto
    queue = unique_name
    shadow = queue + SHADOW_SUFFIX
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic_arn = sns.create_topic(Name=queue)["TopicArn"]
    app_sub = sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    out = tmp_path / "playbooks"
    plan_uri = f"{moto_service.endpoint_url.replace('http://', 'sqs+http://')}?region={REGION}"
    assert (
        main(
            [
                "plan",
                plan_uri,
                "--prefix",
                queue,
                "--name",
                "sqs",
                "--strategy",
                "shadow-then-drain",
                "--replication",
                "1",
                "--kafka",
                kafka_bootstrap,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    path = out / "sqs.yaml"
    doc = yaml.safe_load(path.read_text())
    wl = doc["workloads"][0]
    wid, topic = wl["id"], wl["target"]["topic"]
    assert wl["source"]["credentials"] == {"env": "AWS_PROFILE"}
    assert [s["action"] for s in wl["phases"]["shadow"]["rollback"]] == [
        "bridge.stop",
        "source.delete-shadow",
    ]
    for phase in wl["phases"].values():
        for gate in phase.get("gates", []):
            gate["for_seconds"] = min(gate["for_seconds"], 2)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    rd = run_dir(path)
    try:
        run = ["--yes", "--poll-interval", "1", "--gate-timeout", "60"]
        done = cutover("run", str(path), "--until", "shadow", *run)
        assert done.returncode == 0, done.stderr[-2000:]
        bridge = bridgeproc.running(rd, wid)
        assert bridge is not None and bridge.mode == "shadow"
        assert "gate bridge.lag <= " in done.stderr and "holds" in done.stderr
        shadow_url = sqs.get_queue_url(QueueName=shadow)["QueueUrl"]
        subs = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        assert len(subs) == 2  # the application's and the shadow's

        for i in range(10):
            sns.publish(
                TopicArn=topic_arn,
                Message=f"m-{i}",
                MessageAttributes={
                    "mq-source-id": {"DataType": "String", "StringValue": f"{queue}-{i}"}
                },
            )
        ledger = bridgeproc.ledger_path(rd, wid)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            not ledger.exists() or len(ledger.read_text().splitlines()) < 10
        ):
            time.sleep(0.5)
        copied = {json.loads(line).get("id") for line in ledger.read_text().splitlines()}
        assert {f"{queue}-{i}" for i in range(10)} <= copied, copied

        # rollback of the shadow phase: the bridge stops, then source.delete-shadow (SQS)
        done = cutover("rollback", str(path), "--to", "provision", "--yes")
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"removed: queue {shadow}, subscription to" in done.stderr
        assert bridgeproc.running(rd, wid) is None
        with pytest.raises(sqs.exceptions.QueueDoesNotExist):
            sqs.get_queue_url(QueueName=shadow)
        remaining = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        assert [s["SubscriptionArn"] for s in remaining] == [app_sub]
        # the application's queue kept every message for its consumers
        depth = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        assert int(depth) == 10
        applied = [
            a["step"] for a in json.loads(state_path(path).read_text())["workloads"][wid]["applied"]
        ]
        assert applied == ["provision"]
        assert shadow_url  # it existed while the shadow ran
    finally:
        bridgeproc.stop(rd, wid, timeout=30)
        for name in (queue, shadow):
            try:
                sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
            except sqs.exceptions.QueueDoesNotExist:
                pass
        sns.delete_topic(TopicArn=topic_arn)
        delete_topics(kafka_bootstrap, [topic, wl["target"]["dlq"]["topic"], topic + ".quarantine"])
