"""Cutover gates and delayed messages: a drain must not end while the source still holds
messages that are only delayed (SQS ``DelaySeconds``), or they would be stranded when the
source is decommissioned."""

from __future__ import annotations

import time

import pytest

from mqmigrate import delays
from mqmigrate.cutover.probes import SourceDepthProbe
from mqmigrate.cutover.source import SourceAccess

pytestmark = [pytest.mark.integration, pytest.mark.sqs]


def test_sqs_source_depth_counts_delayed_messages_until_they_are_drained(elasticmq_service,
                                                                         unique_name):
    client = elasticmq_service.client("sqs", timeout=30)
    url = client.create_queue(QueueName=unique_name)["QueueUrl"]
    port = elasticmq_service.port("http")
    access = SourceAccess("sqs", unique_name, f"sqs+http://x:y@127.0.0.1:{port}?region=us-east-1")
    depth = SourceDepthProbe("depth", lambda w: access)
    try:
        sent_at = delays.now_ms()
        for i in range(3):
            client.send_message(QueueUrl=url, MessageBody=f"m{i}", DelaySeconds=3)
        measured = depth.measure_access(access)
        # none receivable yet, all still in the queue: the drain gate (depth == 0) must wait
        assert not client.receive_message(QueueUrl=url).get("Messages")
        assert measured.value == 3, measured.detail
        assert "ApproximateNumberOfMessagesDelayed" in measured.detail
        received = []
        while len(received) < 3 and delays.now_ms() - sent_at < 15_000:
            for m in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=1).get("Messages", []):
                received.append(delays.now_ms())
                client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        assert len(received) == 3
        assert min(received) - sent_at >= 3000  # the drain bridge gets them when due, not before
        time.sleep(1)
        assert depth.measure_access(access).value == 0
    finally:
        client.delete_queue(QueueUrl=url)
