"""End to end: 1,000 messages in RabbitMQ → ``mqmigrate bridge`` (drain) → ``verify`` exit 0.

The bridge writes the verify ledger (``--verify-ledger``): one line per message it settled
after the record reached the topic.  The test checks that ledger against what it published,
then lets ``verify`` reconcile the ledger with the topic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pika
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from mqmigrate.cli import main
from mqmigrate.verify.ledger import _sha256, read_ledger

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.rabbitmq, pytest.mark.slow]

N = 1000
ROOT = Path(__file__).resolve().parents[2]


def test_bridge_drain_then_verify_clean(
    rabbitmq_service, kafka_bootstrap, unique_name, tmp_path, capsys
):
    user, password = rabbitmq_service.credentials()
    port = rabbitmq_service.port("amqp")
    conn = pika.BlockingConnection(
        pika.ConnectionParameters("127.0.0.1", port, "/", pika.PlainCredentials(user, password))
    )
    ch = conn.channel()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(unique_name, 3, 1)])[unique_name].result(30)
    try:
        ch.queue_declare(unique_name, durable=True)
        ch.confirm_delivery()
        published = {}
        for i in range(N):
            mid, body = f"m-{i}", f"payload {i}".encode()
            ch.basic_publish(
                "", unique_name, body, pika.BasicProperties(message_id=mid, delivery_mode=2)
            )
            published[mid] = _sha256(body)
        ledger_path = tmp_path / "ledger.jsonl"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mqmigrate",
                "bridge",
                "--queue",
                unique_name,
                "--kafka",
                kafka_bootstrap,
                "--topic",
                unique_name,
                "--mode",
                "drain",
                "--idle-exit",
                "2",
                "--quarantine-topic",
                "",
                "--verify-ledger",
                str(ledger_path),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "MQMIGRATE_SOURCE": f"amqp://{user}:{password}@127.0.0.1:{port}/%2f",
            },
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert dict(read_ledger(ledger_path)) == published
        capsys.readouterr()
        rc = main(
            [
                "verify",
                "--ledger",
                str(ledger_path),
                "--kafka",
                kafka_bootstrap,
                "--topic",
                unique_name,
                "--format",
                "json",
            ]
        )
        data = json.loads(capsys.readouterr().out)
        assert rc == 0, data
        assert data["counts"]["source"] == N and data["counts"]["missing"] == 0
        assert data["counts"]["altered"] == 0 and data["counts"]["unexpected"] == 0
    finally:
        ch.queue_delete(unique_name)
        conn.close()
        admin.delete_topics([unique_name])[unique_name].result(30)
