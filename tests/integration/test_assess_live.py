"""Live assessment against the sandbox brokers: seed queues that trigger rules (and one that
triggers none), assess the live endpoint and the broker's own export of the same estate, and
assert the exact findings and targets.

Each test creates uniquely named objects and removes them afterwards; nothing else on the
shared brokers is touched.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from mqmigrate.assessment.engine import assess
from mqmigrate.inventory import read_estate

pytestmark = pytest.mark.integration


def _url(service, *hints: str, default: str) -> str:
    """The service endpoint whose name or URL contains one of ``hints``."""
    for e in service.endpoints():
        if any(h in e.name or h in e.url for h in hints):
            return e.url
    return default


def _fired(workloads, prefix: str) -> dict:
    return {
        w.queue: sorted((f.rule, f.severity.value) for f in w.findings if f.status.value == "fired")
        for w in workloads
        if w.queue and w.queue.startswith(prefix)
    }


# --------------------------------------------------------------------------------- RabbitMQ


@pytest.fixture
def rabbit(rabbitmq_service, unique_name):
    url = _url(rabbitmq_service, "management", "15672", default="http://127.0.0.1:15672")
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
    api = httpx.Client(base_url=base, auth=("guest", "guest"), timeout=15)
    prefix = unique_name
    created_q, created_x = [], []

    def queue(name, arguments, durable=True, auto_delete=False):
        r = api.put(
            f"/api/queues/%2F/{quote(prefix + name, safe='')}",
            json={"durable": durable, "auto_delete": auto_delete, "arguments": arguments},
        )
        assert r.status_code in (201, 204), r.text
        created_q.append(prefix + name)

    def exchange(name, kind):
        r = api.put(
            f"/api/exchanges/%2F/{quote(prefix + name, safe='')}",
            json={"type": kind, "durable": True},
        )
        assert r.status_code in (201, 204), r.text
        created_x.append(prefix + name)

    def bind(x, q, key=""):
        r = api.post(
            f"/api/bindings/%2F/e/{quote(prefix + x, safe='')}/q/{quote(prefix + q, safe='')}",
            json={"routing_key": key},
        )
        assert r.status_code == 201, r.text

    yield prefix, base, api, queue, exchange, bind
    for q in created_q:
        api.delete(f"/api/queues/%2F/{quote(q, safe='')}")
    for x in created_x:
        api.delete(f"/api/exchanges/%2F/{quote(x, safe='')}")
    api.close()


@pytest.mark.rabbitmq
def test_rabbitmq_live_and_export(rabbit, tmp_path: Path):
    import pika

    prefix, base, api, queue, exchange, bind = rabbit
    queue(".clean", {"x-queue-type": "quorum", "x-delivery-limit": 5})
    queue(
        ".sac", {"x-queue-type": "quorum", "x-delivery-limit": 5, "x-single-active-consumer": True}
    )
    queue(".prio", {"x-max-priority": 5, "x-max-length": 100, "x-overflow": "reject-publish"})
    queue(".stream", {"x-queue-type": "stream", "x-max-age": "7D"})
    queue(
        ".ttl",
        {
            "x-queue-type": "quorum",
            "x-delivery-limit": 5,
            "x-message-ttl": 60000,
            "x-dead-letter-exchange": prefix + ".dlx",
        },
    )
    exchange(".fan", "fanout")
    exchange(".dlx", "fanout")
    queue(".fan.a", {"x-queue-type": "quorum", "x-delivery-limit": 5})
    queue(".fan.b", {"x-queue-type": "quorum", "x-delivery-limit": 5})
    queue(".dead", {"x-queue-type": "quorum", "x-delivery-limit": 5})
    bind(".fan", ".fan.a")
    bind(".fan", ".fan.b")
    bind(".dlx", ".dead")
    # routing by pattern, a transient queue, an auto-delete reply queue
    exchange(".events", "topic")
    queue(".routed", {"x-queue-type": "quorum", "x-delivery-limit": 5})
    bind(".events", ".routed", "orders.*.created")
    queue(".transient", {}, durable=False)
    queue(".reply", {}, durable=False, auto_delete=True)

    # 10 messages, a pika consumer holding 7 unacked: depth, in-flight and client properties
    for i in range(10):
        r = api.post(
            "/api/exchanges/%2F/amq.default/publish",
            json={
                "properties": {},
                "routing_key": prefix + ".clean",
                "payload": f"m{i}",
                "payload_encoding": "string",
            },
        )
        assert r.json()["routed"] is True
    host = urlsplit(base).hostname
    conn = pika.BlockingConnection(
        pika.ConnectionParameters(host=host, credentials=pika.PlainCredentials("guest", "guest"))
    )
    try:
        ch = conn.channel()
        ch.basic_qos(prefetch_count=7)
        ch.basic_consume(prefix + ".clean", lambda *a: None, auto_ack=False)
        deadline = time.monotonic() + 30
        while True:  # management stats refresh every few seconds
            conn.process_data_events(time_limit=0.5)
            q = api.get(f"/api/queues/%2F/{quote(prefix + '.clean', safe='')}").json()
            if q.get("messages_unacknowledged") == 7 and q.get("messages_ready") == 3:
                break
            assert time.monotonic() < deadline, q
        uri = base.replace("http://", "rabbitmq+http://guest:guest@")
        live = assess(read_estate([uri], prefix=prefix))
    finally:
        conn.close()

    fired = _fired(live, prefix)
    expected = {
        prefix + ".clean": [("client.share-consumer", "warn")],
        prefix + ".sac": [("ordering.fifo", "blocker")],
        prefix + ".prio": [
            ("backpressure.max-length", "warn"),
            ("priority", "warn"),
            ("retry.limit", "warn"),
        ],
        prefix + ".stream": [("queue-type.stream", "info"), ("ttl.expiry", "info")],
        prefix + ".ttl": [("dlq.redrive", "info"), ("ttl.expiry", "warn")],
        prefix + ".fan.a": [("fanout.share-groups", "info")],
        prefix + ".fan.b": [("fanout.share-groups", "info")],
        prefix + ".dead": [("dlq.redrive", "info")],
        prefix + ".routed": [("routing.pattern", "warn")],
        # classic queues have no delivery limit: redelivered forever
        prefix + ".transient": [("retry.limit", "warn"), ("source.hygiene", "info")],
        prefix + ".reply": [
            ("retry.limit", "warn"),
            ("rpc.reply-to", "blocker"),
            ("source.hygiene", "info"),
        ],
    }
    assert fired == expected
    w = {x.queue: x for x in live}
    clean = w[prefix + ".clean"]
    client = [f for f in clean.findings if f.rule == "client.share-consumer"][0]
    assert client.evidence["languages"] == ["Python"]
    cfg = {k: d.value for k, d in clean.target.group_configs.items()}
    assert cfg["share.auto.offset.reset"] == "earliest"
    assert cfg["share.delivery.count.limit"] == 5
    assert clean.target.mode.value == "share-group"
    assert w[prefix + ".sac"].target.mode.value == "consumer-group"
    assert w[prefix + ".fan.a"].target.topic.value == prefix + ".fan"
    assert w[prefix + ".dead"].target.topic.value == "dlq." + prefix + ".ttl"

    # the same estate from the broker's own definitions export: same findings except what
    # only a live broker shows (consumers)
    defs = api.get("/api/definitions").json()
    path = tmp_path / "definitions.json"
    path.write_text(json.dumps(defs))
    offline = _fired(assess(read_estate([str(path)], prefix=prefix)), prefix)
    expected[prefix + ".clean"] = []
    assert offline == expected
    assert "guest" not in json.dumps(
        read_estate([str(path)]).model_dump(mode="json")["sources"][0]["queues"]
    )


@pytest.mark.rabbitmq
def test_rabbitmq_bad_credentials(rabbitmq_service, capsys):
    from mqmigrate.cli import main

    url = _url(rabbitmq_service, "management", "15672", default="http://127.0.0.1:15672")
    parts = urlsplit(url)
    uri = f"rabbitmq+http://guest:WrongPw77@{parts.hostname}:{parts.port or 15672}"
    assert main(["assess", uri]) == 2
    err = capsys.readouterr().err
    assert "rejected the credentials (HTTP 401)" in err and "WrongPw77" not in err


# -------------------------------------------------------------------------------------- SQS


@pytest.mark.sqs
def test_sqs_live_moto(moto_service, unique_name):
    import boto3

    endpoint = _url(moto_service, "sqs", default="http://127.0.0.1:5000")
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    p = unique_name
    urls = []
    try:
        dlq = sqs.create_queue(QueueName=f"{p}-dlq")["QueueUrl"]
        urls.append(dlq)
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        urls.append(
            sqs.create_queue(
                QueueName=f"{p}-clean",
                Attributes={
                    "MaximumMessageSize": "262144",
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
                    ),
                },
            )["QueueUrl"]
        )
        urls.append(
            sqs.create_queue(
                QueueName=f"{p}-orders.fifo",
                Attributes={
                    "FifoQueue": "true",
                    "ContentBasedDeduplication": "true",
                    "VisibilityTimeout": "600",
                    "DelaySeconds": "10",
                    "MaximumMessageSize": "262144",
                },
            )["QueueUrl"]
        )
        sqs.tag_queue(QueueUrl=urls[-1], Tags={"team": "orders"})
        for i in range(3):
            sqs.send_message(QueueUrl=urls[1], MessageBody=f"m{i}")
        host = urlsplit(endpoint)
        uri = f"sqs+http://{host.hostname}:{host.port}?region=us-east-1"
        fired = _fired(assess(read_estate([uri], prefix=p)), p)
        assert fired[f"{p}-clean"] == [("dlq.redrive", "info"), ("ttl.expiry", "info")]
        # created without MaximumMessageSize: the endpoint reports today's default, 1 MiB
        assert fired[f"{p}-dlq"] == [
            ("dlq.redrive", "info"),
            ("size.max-message", "warn"),
            ("ttl.expiry", "info"),
        ]
        assert fired[f"{p}-orders.fifo"] == [
            ("delay.delivery", "warn"),
            ("exactly-once.dedup", "warn"),
            ("ordering.fifo", "blocker"),
            ("retry.limit", "warn"),
            ("ttl.expiry", "info"),
            ("visibility.timeout", "warn"),
        ]
        w = {x.queue: x for x in assess(read_estate([uri], prefix=p))}
        clean = w[f"{p}-clean"].target
        assert clean.group_configs["share.auto.offset.reset"].value == "earliest"
        assert clean.group_configs["share.delivery.count.limit"].value == 5
        assert w[f"{p}-dlq"].target.role == "dead-letter"
    finally:
        for u in urls:
            sqs.delete_queue(QueueUrl=u)


# ------------------------------------------------------------------------- AMQP 1.0 / Artemis


@pytest.mark.amqp1
def test_artemis_live(artemis_service, unique_name):
    url = _url(artemis_service, "console", "8161", "jolokia", default="http://127.0.0.1:8161")
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 8161}"
    api = httpx.Client(
        base_url=base + "/console/jolokia",
        auth=("artemis", "artemis"),
        headers={"Origin": base},
        timeout=15,
    )
    mbean = api.post(
        "/", json={"type": "search", "mbean": "org.apache.activemq.artemis:broker=*"}
    ).json()["value"][0]

    def op(operation, *args):
        body = api.post(
            "/",
            json={"type": "exec", "mbean": mbean, "operation": operation, "arguments": list(args)},
        ).json()
        assert body.get("status") == 200, body
        return body.get("value")

    p = unique_name
    names = [f"{p}.clean", f"{p}.groups", f"{p}.noretry"]
    try:
        op(
            "addAddressSettings(java.lang.String,java.lang.String)",
            f"{p}.noretry",
            json.dumps({"maxDeliveryAttempts": -1}),
        )
        op(
            "addAddressSettings(java.lang.String,java.lang.String)",
            f"{p}.clean",
            json.dumps({"maxDeliveryAttempts": 4}),
        )
        for n in names:
            cfg = {
                "name": n,
                "address": n,
                "routing-type": "ANYCAST",
                "durable": True,
                "auto-create-address": True,
            }
            if n.endswith(".groups"):
                cfg.update({"group-rebalance": True, "group-buckets": 8})
            op("createQueue(java.lang.String)", json.dumps(cfg))
        fired = _fired(
            assess(
                read_estate([base.replace("http://", "artemis+http://artemis:artemis@")], prefix=p)
            ),
            p,
        )
        assert fired[f"{p}.clean"] == [("dlq.redrive", "info")]
        assert ("ordering.fifo", "blocker") in fired[f"{p}.groups"]
        assert ("retry.limit", "warn") in fired[f"{p}.noretry"]
    finally:
        for n in names:
            api.post(
                "/",
                json={
                    "type": "exec",
                    "mbean": mbean,
                    "operation": "destroyQueue(java.lang.String,boolean,boolean)",
                    "arguments": [n, True, True],
                },
            )
        for n in (f"{p}.noretry", f"{p}.clean"):
            api.post(
                "/",
                json={
                    "type": "exec",
                    "mbean": mbean,
                    "operation": "removeAddressSettings(java.lang.String)",
                    "arguments": [n],
                },
            )
        api.close()
