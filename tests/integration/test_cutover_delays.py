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


def test_sqs_source_depth_counts_delayed_messages_until_they_are_drained(
    elasticmq_service, unique_name
):
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
            for m in client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", []):
                received.append(delays.now_ms())
                client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        assert len(received) == 3
        assert min(received) - sent_at >= 3000  # the drain bridge gets them when due, not before
        time.sleep(1)
        assert depth.measure_access(access).value == 0
    finally:
        client.delete_queue(QueueUrl=url)


@pytest.mark.kafka
@pytest.mark.rabbitmq
def test_rabbitmq_retry_loop_planned_live_and_drained_keeps_its_delays(
    rabbitmq_service, kafka_bootstrap, unique_name, tmp_path, capsys, monkeypatch
):
    """A RabbitMQ work queue with a TTL+DLX retry loop, planned from the live broker: the wait
    queue is left out, the loop becomes a retry tier, and the drain run by ``cutover`` moves the
    messages parked in the wait queue when their TTL ends — none before (early 0), none left
    behind, because the final drain bridge waits the drain gates' quiet period (longer than the
    TTL), not its usual 10 s."""
    from urllib.parse import quote

    import httpx
    import pika
    import yaml
    from confluent_kafka import Consumer

    from mqmigrate.cli import main
    from mqmigrate.cutover import bridgeproc
    from mqmigrate.cutover.runner import run_dir
    from mqmigrate.kafka.admin import delete_topics

    ttl_ms = 12_000
    user, password = rabbitmq_service.credentials()
    management = f"http://127.0.0.1:{rabbitmq_service.port('management')}"
    amqp = f"amqp://{quote(user)}:{quote(password)}@127.0.0.1:{rabbitmq_service.port('amqp')}/"
    api = httpx.Client(base_url=management, auth=(user, password), timeout=15)
    work, wait = unique_name, f"{unique_name}.wait"
    work_x, retry_x = f"{unique_name}.work", f"{unique_name}.retry"
    for x in (work_x, retry_x):
        assert api.put(
            f"/api/exchanges/%2F/{x}", json={"type": "direct", "durable": True}
        ).is_success
    assert api.put(
        f"/api/queues/%2F/{work}",
        json={
            "durable": True,
            "arguments": {"x-dead-letter-exchange": retry_x, "x-dead-letter-routing-key": "wait"},
        },
    ).is_success
    assert api.put(
        f"/api/queues/%2F/{wait}",
        json={
            "durable": True,
            "arguments": {
                "x-message-ttl": ttl_ms,
                "x-dead-letter-exchange": work_x,
                "x-dead-letter-routing-key": "work",
            },
        },
    ).is_success
    assert api.post(
        f"/api/bindings/%2F/e/{work_x}/q/{work}", json={"routing_key": "work"}
    ).is_success
    assert api.post(
        f"/api/bindings/%2F/e/{retry_x}/q/{wait}", json={"routing_key": "wait"}
    ).is_success
    monkeypatch.setenv("RABBITMQ_URI", amqp)
    out = tmp_path / "playbooks"
    path = out / "loop.yaml"
    topic = wid = None
    try:
        uri = management.replace("http://", f"rabbitmq+http://{user}:{password}@")
        assert (
            main(
                [
                    "plan",
                    uri,
                    "--prefix",
                    unique_name,
                    "--name",
                    "loop",
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
        err = capsys.readouterr().err
        assert "left out rabbitmq:" in err and f"/{wait}: " in err  # a delay tier, not a queue
        doc = yaml.safe_load(path.read_text())
        [wl] = doc["workloads"]
        topic, wid = wl["target"]["topic"], wl["id"]
        assert wl["target"]["retry"]["tiers"] == ["12s"]
        planned_quiet = {g["metric"]: g["for_seconds"] for g in wl["phases"]["drain"]["gates"]}
        assert planned_quiet["source.depth"] == 72  # the TTL plus a minute
        # the run: provision, then the drain (no service to switch here); the quiet period cut
        # from 72 s to the TTL + 2 s to keep the test short — still longer than the TTL
        phases = wl["phases"]
        for name in ("shadow", "verify", "consumers", "producers", "decommission"):
            phases.pop(name, None)
        phases["drain"]["steps"] = [
            {
                "id": "drain-bridge",
                "action": "bridge.start",
                "mode": "drain",
                "requires": ["provision"],
            },
            {"id": "source-drained", "action": "source.drain", "requires": ["drain-bridge"]},
        ]
        for gate in phases["drain"]["gates"]:
            gate["for_seconds"] = ttl_ms // 1000 + 2
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        # record timestamps = when the drain wrote them (the broker's append time)
        from mqmigrate.kafka import share

        share.create_topic(
            share.admin_client(kafka_bootstrap),
            topic,
            config={"message.timestamp.type": "LogAppendTime"},
        )

        connection = pika.BlockingConnection(pika.URLParameters(amqp))
        channel = connection.channel()
        channel.confirm_delivery()
        for i in range(5):  # due now
            channel.basic_publish(
                work_x,
                "work",
                f"due-{i}".encode(),
                pika.BasicProperties(message_id=f"due-{i}", delivery_mode=2),
            )
        parked_at = delays.now_ms()
        for i in range(5):  # parked in the wait queue: back in the work queue after the TTL
            channel.basic_publish(
                retry_x,
                "wait",
                f"parked-{i}".encode(),
                pika.BasicProperties(message_id=f"parked-{i}", delivery_mode=2),
            )
        connection.close()

        code = main(
            [
                "cutover",
                "run",
                str(path),
                "--until",
                "drain",
                "--yes",
                "--poll-interval",
                "1",
                "--gate-timeout",
                "90",
            ]
        )
        err = capsys.readouterr().err
        assert code == 0, err[-3000:]
        consumer = Consumer(
            {
                "bootstrap.servers": kafka_bootstrap,
                "group.id": f"r-{unique_name}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic])
        got: dict[str, int] = {}
        deadline = time.monotonic() + 20
        while len(got) < 10 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                headers = dict(msg.headers() or [])
                got[headers["mq.source.id"].decode()] = msg.timestamp()[1]
        consumer.close()
        depth = api.get(f"/api/queues/%2F/{work}").json().get("messages", 0)
        parked_depth = api.get(f"/api/queues/%2F/{quote(wait)}").json().get("messages", 0)
    finally:
        if wid is not None:
            bridgeproc.stop(run_dir(path), wid, timeout=30)
        for q in (work, wait):
            api.delete(f"/api/queues/%2F/{quote(q)}")
        for x in (work_x, retry_x):
            api.delete(f"/api/exchanges/%2F/{x}")
        api.close()
        if topic:
            delete_topics(
                kafka_bootstrap,
                [topic, f"{topic}.quarantine", f"dlq.{topic}", f"{topic}.retry-12s"],
            )
    assert sorted(got) == sorted(
        [f"due-{i}" for i in range(5)] + [f"parked-{i}" for i in range(5)]
    )  # none left behind
    early = [i for i, ts in got.items() if i.startswith("parked") and ts < parked_at + ttl_ms]
    print(
        f"\nretry loop drained: 10 of 10 in Kafka, parked ones after "
        f"{min(ts for i, ts in got.items() if i.startswith('parked')) - parked_at} ms "
        f"(TTL {ttl_ms} ms), early {len(early)}; source left {depth} + {parked_depth}"
    )
    assert early == []
    assert depth == 0 and parked_depth == 0


@pytest.mark.kafka
def test_sqs_delay_seconds_planned_live_and_drained_keeps_its_delays(
    elasticmq_service, kafka_bootstrap, unique_name, tmp_path, capsys, monkeypatch
):
    """An ElasticMQ queue with ``DelaySeconds``, planned from the live endpoint (a tier of its
    delay) and drained by ``cutover`` while its messages are still delayed: each reaches Kafka
    no earlier than its delay and none is left behind."""
    import yaml
    from confluent_kafka import Consumer

    from mqmigrate.cli import main
    from mqmigrate.cutover import bridgeproc
    from mqmigrate.cutover.runner import run_dir
    from mqmigrate.kafka.admin import delete_topics

    delay_s = 6
    admin = elasticmq_service.client("sqs", timeout=30)  # before AWS_PROFILE points elsewhere
    profile = "mqmigrate-delays"
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text(f"[profile {profile}]\nregion = us-east-1\n")
    credentials.write_text(f"[{profile}]\naws_access_key_id = d\naws_secret_access_key = d\n")
    for key, value in {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_PROFILE": profile,
    }.items():
        monkeypatch.setenv(key, value)
    url = admin.create_queue(QueueName=unique_name, Attributes={"DelaySeconds": str(delay_s)})[
        "QueueUrl"
    ]
    endpoint = elasticmq_service.endpoint_url
    out = tmp_path / "playbooks"
    path = out / "delayed.yaml"
    topic = wid = None
    try:
        assert (
            main(
                [
                    "plan",
                    f"{endpoint.replace('http://', 'sqs+http://')}?region=us-east-1",
                    "--prefix",
                    unique_name,
                    "--name",
                    "delayed",
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
        doc = yaml.safe_load(path.read_text())
        [wl] = doc["workloads"]
        topic, wid = wl["target"]["topic"], wl["id"]
        assert wl["target"]["retry"]["tiers"] == [f"{delay_s}s"]
        phases = wl["phases"]
        for name in ("shadow", "verify", "consumers", "producers", "decommission"):
            phases.pop(name, None)
        phases["drain"]["steps"] = [
            {
                "id": "drain-bridge",
                "action": "bridge.start",
                "mode": "drain",
                "requires": ["provision"],
            },
            {"id": "source-drained", "action": "source.drain", "requires": ["drain-bridge"]},
        ]
        for gate in phases["drain"]["gates"]:
            gate["for_seconds"] = delay_s + 2
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        # the bridge keeps SQS's SentTimestamp as the record's timestamp: made before provision
        # with the broker's append time instead, the timestamp says when the drain wrote it
        from mqmigrate.kafka import share

        share.create_topic(
            share.admin_client(kafka_bootstrap),
            topic,
            config={"message.timestamp.type": "LogAppendTime"},
        )

        sent_at = delays.now_ms()
        for i in range(5):
            admin.send_message(
                QueueUrl=url,
                MessageBody=f"d-{i}",
                MessageAttributes={"mq-source-id": {"DataType": "String", "StringValue": f"d-{i}"}},
            )
        code = main(
            [
                "cutover",
                "run",
                str(path),
                "--until",
                "drain",
                "--yes",
                "--poll-interval",
                "1",
                "--gate-timeout",
                "60",
            ]
        )
        err = capsys.readouterr().err
        assert code == 0, err[-3000:]
        consumer = Consumer(
            {
                "bootstrap.servers": kafka_bootstrap,
                "group.id": f"r-{unique_name}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic])
        got: list[tuple[bytes, int]] = []
        deadline = time.monotonic() + 20
        while len(got) < 5 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append((msg.value(), msg.timestamp()[1]))
        consumer.close()
        left = admin.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    finally:
        if wid is not None:
            bridgeproc.stop(run_dir(path), wid, timeout=30)
        admin.delete_queue(QueueUrl=url)
        if topic:
            delete_topics(
                kafka_bootstrap,
                [topic, f"{topic}.quarantine", f"dlq.{topic}", f"{topic}.retry-{delay_s}s"],
            )
    assert sorted(v for v, _ in got) == [f"d-{i}".encode() for i in range(5)]
    first = min(ts for _, ts in got) - sent_at
    print(
        f"\nSQS DelaySeconds={delay_s} drained: 5 of 5 in Kafka, the first written {first} ms "
        f"after sending"
    )
    assert first >= delay_s * 1000  # none early
    assert (
        sum(
            int(left[k])
            for k in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )
        == 0
    )
