"""The SQS source end to end: ElasticMQ or moto → ``mqmigrate bridge`` → the sandbox Kafka."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest

from tests.support.bridge import read_topic, source_ids
from mqmigrate import headers as mqheaders
from mqmigrate.sources.sqs.adapter import SHADOW_SUFFIX
from tests.support.proxy import TcpProxy
from tests.support.sqs import (
    bridge_cmd,
    depth,
    queue_factory,
    run_bridge,
    send_batches,
    source_uri,
    start_bridge,
)

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.sqs]


@pytest.fixture
def moto_sqs(moto_service) -> Any:
    return moto_service.client("sqs")


@pytest.fixture
def moto_sns(moto_service) -> Any:
    return moto_service.client("sns")


@pytest.fixture
def moto_queue(moto_sqs, unique_name):
    yield from queue_factory(moto_sqs, unique_name)


def _arn(sqs, url) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def test_drain_moves_every_message_once(
    elasticmq_sqs, elasticmq_queue, kafka_topics, kafka_bootstrap, elasticmq_service, unique_name
):
    url = elasticmq_queue()
    topic = kafka_topics(unique_name)
    ids = [f"m-{i}" for i in range(3000)]
    send_batches(
        elasticmq_sqs,
        url,
        [
            {
                "MessageBody": f"{mid}:".ljust(200, "."),
                "MessageAttributes": {"mq-source-id": {"DataType": "String", "StringValue": mid}},
            }
            for mid in ids
        ],
    )
    proc = run_bridge(
        bridge_cmd(
            source_uri(elasticmq_service.endpoint_url),
            unique_name,
            kafka_bootstrap,
            topic,
            "--idle-exit",
            "1",
        )
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["stopped"] == "drained" and summary["acked"] == len(ids)
    got = source_ids(read_topic(kafka_bootstrap, topic))
    # the producer's mq-source-id attribute is the source id (the dual-write SDK sets it)
    assert sorted(got) == sorted(ids)
    assert depth(elasticmq_sqs, url) == (0, 0)


def test_source_outage_reconnects_without_loss(
    elasticmq_sqs, elasticmq_queue, kafka_topics, kafka_bootstrap, elasticmq_service, unique_name
):
    url = elasticmq_queue(VisibilityTimeout=5)
    topic = kafka_topics(unique_name)
    ids = [f"o-{i}" for i in range(20000)]
    send_batches(
        elasticmq_sqs,
        url,
        [
            {
                "MessageBody": mid,
                "MessageAttributes": {"mq-source-id": {"DataType": "String", "StringValue": mid}},
            }
            for mid in ids
        ],
    )
    proxy = TcpProxy(elasticmq_service.port("http")).start()
    proc = start_bridge(
        bridge_cmd(
            f"sqs+http://127.0.0.1:{proxy.port}",
            unique_name,
            kafka_bootstrap,
            topic,
            "--idle-exit",
            "3",
            "--max-in-flight",
            "500",
            "--reconnect-timeout",
            "60",
        )
    )
    try:
        deadline = time.monotonic() + 60
        while depth(elasticmq_sqs, url)[1] == 0 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        time.sleep(0.3)
        proxy.stop()  # the endpoint vanishes mid-drain, connections cut
        # longer than boto3's own retries (3 attempts, jittered backoff) can ride out, so the
        # bridge has to reconnect
        time.sleep(10)
        assert proc.poll() is None, proc.stderr.read()  # still trying, not dead
        proxy.start()
        out, err = proc.communicate(timeout=180)
    finally:
        proxy.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["stopped"] == "drained" and summary["source_reconnects"] >= 1, (
        summary,
        err[-3000:],
    )
    got = source_ids(read_topic(kafka_bootstrap, topic))
    assert set(got) == set(ids)  # nothing lost; redeliveries are counted duplicates
    assert depth(elasticmq_sqs, url) == (0, 0)


def test_two_bridges_share_one_queue(
    elasticmq_sqs, elasticmq_queue, kafka_topics, kafka_bootstrap, elasticmq_service, unique_name
):
    url = elasticmq_queue()
    topic = kafka_topics(unique_name)
    ids = [f"s-{i}" for i in range(4000)]
    send_batches(
        elasticmq_sqs,
        url,
        [
            {
                "MessageBody": mid,
                "MessageAttributes": {"mq-source-id": {"DataType": "String", "StringValue": mid}},
            }
            for mid in ids
        ],
    )
    cmd = bridge_cmd(
        source_uri(elasticmq_service.endpoint_url),
        unique_name,
        kafka_bootstrap,
        topic,
        "--idle-exit",
        "2",
        "--max-in-flight",
        "200",
    )
    procs = [start_bridge(cmd) for _ in range(2)]
    summaries = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        summaries.append(json.loads(out))
    # SQS competing consumers: each bridge moved part, together exactly the queue
    assert all(s["acked"] > 0 for s in summaries), summaries
    assert sum(s["acked"] for s in summaries) == len(ids)
    assert sorted(source_ids(read_topic(kafka_bootstrap, topic))) == sorted(ids)


def test_attributes_key_and_timestamp_round_trip_through_kafka(
    elasticmq_sqs, elasticmq_queue, kafka_topics, kafka_bootstrap, elasticmq_service, unique_name
):
    url = elasticmq_queue(FifoQueue=True, ContentBasedDeduplication=True)
    topic = kafka_topics(unique_name)
    attributes = {
        "text": {"DataType": "String", "StringValue": "naïve ✓"},
        "price": {"DataType": "Number", "StringValue": "19.990"},
        "count": {"DataType": "Number.int", "StringValue": "-7"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "doc": {"DataType": "String.json", "StringValue": '{"a": 1}'},
    }
    elasticmq_sqs.send_message(
        QueueUrl=url,
        MessageBody="typed",
        MessageAttributes=attributes,
        MessageGroupId="customer-42",
    )
    proc = run_bridge(
        bridge_cmd(
            source_uri(elasticmq_service.endpoint_url),
            unique_name + ".fifo",
            kafka_bootstrap,
            topic,
            "--idle-exit",
            "1",
        )
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    [record] = read_topic(kafka_bootstrap, topic)
    meta = mqheaders.decode(record.headers())
    assert meta.source_kind == "sqs" and meta.queue == unique_name + ".fifo"
    # the attributes exactly as boto3 returned them: types, custom suffixes, Number text
    assert meta.headers == attributes
    typed = {name: mqheaders.sqs_attribute_value(a) for name, a in meta.headers.items()}
    assert typed == {
        "text": "naïve ✓",
        "price": Decimal("19.990"),
        "count": -7,
        "blob": b"\x00\x01\xff",
        "doc": '{"a": 1}',
    }
    system = meta.sections["sqs.system"]
    assert system["MessageGroupId"] == "customer-42"
    assert system["ApproximateReceiveCount"] == "1"
    assert system["MessageDeduplicationId"] and system["SequenceNumber"]
    # key = MessageGroupId, timestamp = SentTimestamp, id = the SQS MessageId
    assert record.key() == b"customer-42"
    assert record.timestamp()[1] == int(system["SentTimestamp"]) == meta.timestamp_ms
    assert meta.source_id == meta.properties["message_id"]
    assert record.value() == b"typed"


def _wait_for_shadow(sqs, sns, proc, shadow_name: str, topic_arn: str) -> tuple[str, dict]:
    """The shadow queue's URL and subscription, once the bridge has made both."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            url = sqs.get_queue_url(QueueName=shadow_name)["QueueUrl"]
            subs = [
                s
                for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
                if s["Endpoint"] == _arn(sqs, url)
            ]
            if subs:
                [sub] = subs
                return url, sub
        except sqs.exceptions.QueueDoesNotExist:
            pass
        time.sleep(0.2)
    raise AssertionError("the bridge never created and subscribed its shadow queue")


def test_shadow_copies_sns_fed_queue_and_remove_shadow_cleans_up(
    moto_sqs, moto_sns, moto_queue, kafka_topics, kafka_bootstrap, moto_service, unique_name
):
    app_url = moto_queue("-app")
    app_name = unique_name + "-app"
    topic_arn = moto_sns.create_topic(Name=unique_name)["TopicArn"]
    policy = json.dumps({"kind": ["order"]})
    app_sub = moto_sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=_arn(moto_sqs, app_url),
        ReturnSubscriptionArn=True,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": policy},
    )["SubscriptionArn"]
    topic = kafka_topics(unique_name)
    shadow_name = app_name + SHADOW_SUFFIX
    proc = start_bridge(
        bridge_cmd(
            source_uri(moto_service.endpoint_url),
            app_name,
            kafka_bootstrap,
            topic,
            "--mode",
            "shadow",
            "--idle-exit",
            "4",
            "--remove-shadow",
        )
    )
    try:
        shadow_url, shadow_sub = _wait_for_shadow(moto_sqs, moto_sns, proc, shadow_name, topic_arn)
        shadow_attrs = moto_sns.get_subscription_attributes(
            SubscriptionArn=shadow_sub["SubscriptionArn"]
        )["Attributes"]
        assert shadow_attrs["RawMessageDelivery"] == "true"
        assert json.loads(shadow_attrs["FilterPolicy"]) == {"kind": ["order"]}
        queue_policy = json.loads(
            moto_sqs.get_queue_attributes(QueueUrl=shadow_url, AttributeNames=["Policy"])[
                "Attributes"
            ]["Policy"]
        )
        assert queue_policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == [
            topic_arn
        ]

        # String and Number attributes only: moto 5.2.1 breaks ReceiveMessage after a raw
        # SNS delivery with a Binary attribute (the strict xfail in test_contract_sqs.py)
        for i in range(20):
            kind = "order" if i % 4 else "audit"  # the filter policy drops every 4th
            moto_sns.publish(
                TopicArn=topic_arn,
                Message=f"msg-{i}",
                MessageAttributes={
                    "kind": {"DataType": "String", "StringValue": kind},
                    "seq": {"DataType": "Number", "StringValue": str(i)},
                },
            )
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err[-2000:]
    assert json.loads(out)["stopped"] == "idle"
    bodies = sorted(r.value().decode() for r in read_topic(kafka_bootstrap, topic))
    expected = sorted(f"msg-{i}" for i in range(20) if i % 4)
    assert bodies == expected
    # the application's queue lost nothing: all 15 still wait for its consumers
    assert depth(moto_sqs, app_url) == (15, 0)
    # --remove-shadow: the shadow queue and its subscription are gone, the app's stays
    with pytest.raises(moto_sqs.exceptions.QueueDoesNotExist):
        moto_sqs.get_queue_url(QueueName=shadow_name)
    remaining = moto_sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in remaining] == [app_sub]
    moto_sns.delete_topic(TopicArn=topic_arn)


def test_shadow_of_fifo_queue_fed_by_fifo_topic_keeps_group_order(
    moto_sqs, moto_sns, moto_queue, kafka_topics, kafka_bootstrap, moto_service, unique_name
):
    app_url = moto_queue("-app", FifoQueue=True)
    app_name = unique_name + "-app.fifo"
    topic_arn = moto_sns.create_topic(
        Name=unique_name + ".fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    moto_sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=_arn(moto_sqs, app_url),
        Attributes={"RawMessageDelivery": "true"},
    )
    topic = kafka_topics(unique_name)
    shadow_name = unique_name + "-app" + SHADOW_SUFFIX + ".fifo"
    proc = start_bridge(
        bridge_cmd(
            source_uri(moto_service.endpoint_url),
            app_name,
            kafka_bootstrap,
            topic,
            "--mode",
            "shadow",
            "--idle-exit",
            "4",
            "--remove-shadow",
        )
    )
    try:
        shadow_url, _ = _wait_for_shadow(moto_sqs, moto_sns, proc, shadow_name, topic_arn)
        assert (
            moto_sqs.get_queue_attributes(QueueUrl=shadow_url, AttributeNames=["FifoQueue"])[
                "Attributes"
            ]["FifoQueue"]
            == "true"
        )
        for i in range(12):
            moto_sns.publish(
                TopicArn=topic_arn,
                Message=f"g{i % 2}:{i // 2}",
                MessageGroupId=f"g{i % 2}",
                MessageDeduplicationId=f"d-{i}",
            )
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err[-2000:]
    by_key: dict[bytes, list[str]] = {}
    for record in read_topic(kafka_bootstrap, topic):
        by_key.setdefault(record.key(), []).append(record.value().decode())
    assert by_key == {b"g0": [f"g0:{i}" for i in range(6)], b"g1": [f"g1:{i}" for i in range(6)]}
    assert depth(moto_sqs, app_url) == (12, 0)  # the application's FIFO queue keeps all
    moto_sns.delete_topic(TopicArn=topic_arn)


def test_shadow_of_queue_without_sns_is_refused_in_one_line(
    moto_queue, kafka_topics, kafka_bootstrap, moto_service, moto_sqs, unique_name
):
    url = moto_queue()
    moto_sqs.send_message(QueueUrl=url, MessageBody="stay")
    topic = kafka_topics(unique_name)
    proc = run_bridge(
        bridge_cmd(
            source_uri(moto_service.endpoint_url),
            unique_name,
            kafka_bootstrap,
            topic,
            "--mode",
            "shadow",
        ),
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("Error:")
    assert "not fed by an SNS topic" in proc.stderr and "non-destructive" in proc.stderr
    assert "--mode drain" in proc.stderr and "dual-write" in proc.stderr
    assert depth(moto_sqs, url) == (1, 0)  # nothing was taken
    with pytest.raises(moto_sqs.exceptions.QueueDoesNotExist):
        moto_sqs.get_queue_url(QueueName=unique_name + SHADOW_SUFFIX)


def test_unreachable_missing_queue_and_no_credentials_are_one_line_exit_2(
    kafka_topics, kafka_bootstrap, elasticmq_service, unique_name
):
    topic = kafka_topics(unique_name)
    # no instance-metadata lookup either: this test must not send anything off the machine
    no_aws = {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
        "AWS_WEB_IDENTITY_TOKEN_FILE": None,
    }
    cases = [
        ("sqs+http://AKIDEXAMPLE:s3cr3t-value@127.0.0.1:1", "orders", {}, "endpoint unreachable"),
        (
            source_uri(elasticmq_service.endpoint_url),
            unique_name + "-missing",
            {},
            "does not exist",
        ),
        # AWS proper with no credentials anywhere: refused before any request leaves
        ("sqs://us-east-1", "orders", no_aws, "no usable AWS credentials"),
    ]
    for uri, queue, env, expected in cases:
        proc = run_bridge(
            bridge_cmd(uri, queue, kafka_bootstrap, topic, "--quarantine-topic", ""),
            timeout=90,
            env=env,
        )
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith("Error:") and expected in proc.stderr, proc.stderr
        assert "s3cr3t" not in proc.stderr and "Traceback" not in proc.stderr
