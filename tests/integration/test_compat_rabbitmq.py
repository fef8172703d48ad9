"""The product on RabbitMQ 3.x and 4.x: the sandbox's 3.10 node and a 4.0 node (Debian trixie's
``rabbitmq-server`` in a chroot, :mod:`mqmigrate.sandbox.rabbitmq4`), each a real broker.

What differs, and is asserted per release (each expectation fails on the other release):

================================  ==========================  ===============================
                                  3.10                        4.0
================================  ==========================  ===============================
quorum queue, no x-delivery-limit redelivers forever (-1)     dead-letters after 20 (default)
classic mirroring (ha-mode)       a policy the broker takes   refused by the broker
AMQP 1.0                          plugin, /amq/queue/NAME     native, v2 address /queues/NAME
================================  ==========================  ===============================

The 4.x node runs with ``deprecated_features.permit.amqp_address_v1 = false``, so a bridge
that still used the v1 address would be refused there.  Kafka is the sandbox's (4.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pika
import pytest
from proton import Message

from mqmigrate.assessment.engine import assess
from mqmigrate.inventory import read_estate
from mqmigrate.sources.amqp1.adapter import AMQP1Source
from mqmigrate.sources.base import Outcome
from mqmigrate.sources.rabbitmq.adapter import RabbitMQSource
from tests.support.amqp1 import publish as amqp1_publish
from tests.support.amqp1 import run_bridge
from tests.support.bridge import read_topic, source_ids

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.kafka, pytest.mark.compat]


@dataclass
class Node:
    """One RabbitMQ release under test."""

    major: int
    amqp_port: int
    management: str
    user: str
    password: str

    @property
    def amqp(self) -> str:
        return f"amqp://{quote(self.user)}:{quote(self.password)}@127.0.0.1:{self.amqp_port}/"

    @property
    def amqp1(self) -> str:
        return f"amqp1://{quote(self.user)}:{quote(self.password)}@127.0.0.1:{self.amqp_port}"

    @property
    def assess_uri(self) -> str:
        return self.management.replace("http://", f"rabbitmq+http://{self.user}:{self.password}@")


def _node(service) -> Node:
    user, password = service.credentials()
    version = service.probe()
    return Node(
        int(version.split(".")[0]),
        service.port("amqp"),
        f"http://127.0.0.1:{service.port('management')}",
        user,
        password,
    )


@pytest.fixture(scope="module", params=["3", "4"], ids=lambda v: f"rabbitmq-{v}")
def node(request) -> Node:
    if request.param == "3":
        made = _node(request.getfixturevalue("rabbitmq_service"))
    else:
        made = _node(request.getfixturevalue("rabbitmq4_service"))
    assert made.major == int(request.param)
    return made


@pytest.fixture
def api(node, unique_name):
    """The management API, and what the test made there deleted afterwards."""
    client = httpx.Client(base_url=node.management, auth=(node.user, node.password), timeout=15)
    client.made = []  # type: ignore[attr-defined]
    yield client
    for kind, name in reversed(client.made):  # type: ignore[attr-defined]
        client.delete(f"/api/{kind}/%2F/{quote(name, safe='')}")
    client.close()


def declare(api, name: str, arguments: dict) -> None:
    r = api.put(
        f"/api/queues/%2F/{quote(name, safe='')}", json={"durable": True, "arguments": arguments}
    )
    assert r.status_code in (201, 204), r.text
    api.made.append(("queues", name))


def test_assess_reads_what_the_release_does(node, api, unique_name):
    """Delivery limit, mirroring and streams, as ``assess`` reads them from the live broker."""
    prefix = unique_name
    declare(api, prefix + ".qq", {"x-queue-type": "quorum"})
    declare(api, prefix + ".cq", {})
    declare(api, prefix + ".stream", {"x-queue-type": "stream", "x-max-age": "7D"})
    policy = api.put(
        f"/api/policies/%2F/{prefix}-ha",
        json={
            "pattern": f"^{prefix}\\.cq$",
            "apply-to": "queues",
            "definition": {"ha-mode": "all"},
        },
    )
    if node.major >= 4:  # classic mirroring is gone: the broker refuses the policy
        assert policy.status_code == 400, policy.text
    else:
        assert policy.status_code in (201, 204), policy.text
        api.made.append(("policies", f"{prefix}-ha"))

    workloads = {
        w.queue: w for w in assess(read_estate([node.assess_uri], prefix=prefix)) if w.queue
    }
    qq = workloads[prefix + ".qq"]
    retry = next(f for f in qq.findings if f.rule == "retry.limit")
    limit = qq.target.group_configs["share.delivery.count.limit"]
    if node.major >= 4:
        assert retry.evidence["x-delivery-limit"] == "20 (default)", retry.evidence
        assert retry.evidence["note"] == "RabbitMQ 4.x quorum-queue default"
        assert "the bridge's returns count too" in retry.evidence["bridge"]
        assert (limit.value, limit.reason) == (10, "source limit 20 (default), clamped to 2-10")
    else:
        assert "unlimited" in str(retry.evidence["x-delivery-limit"]), retry.evidence
        assert limit.value == 5 and "without limit" in limit.reason

    mirrored = [
        f
        for f in workloads[prefix + ".cq"].findings
        if f.rule == "source.hygiene" and "ha-mode" in f.evidence
    ]
    assert len(mirrored) == (0 if node.major >= 4 else 1)

    stream = workloads[prefix + ".stream"]
    assert [f.rule for f in stream.findings if f.rule == "queue-type.stream"] == [
        "queue-type.stream"
    ]
    assert stream.target.mode.value == "consumer-group"


def test_the_bridge_s_releases_count_toward_the_4_x_default_delivery_limit(node, api, unique_name):
    """What assess warns about on 4.x: each RELEASE by the bridge's RabbitMQ source (a Kafka
    write that failed, prefetch handed back at shutdown) is one delivery of a quorum queue's
    budget; with 4.x's default of 20 the broker drops the message after the 20th return
    (no dead-letter exchange here). On 3.10 the same queue redelivers forever."""
    declare(api, unique_name, {"x-queue-type": "quorum"})
    connection = pika.BlockingConnection(pika.URLParameters(node.amqp))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", unique_name, b"x", pika.BasicProperties(message_id="only"))
    finally:
        connection.close()
    source = RabbitMQSource(node.amqp, unique_name, prefetch=1)
    source.open()
    deliveries = 0
    try:
        while deliveries < 25:
            envelopes = source.receive(1, timeout=3.0)
            if not envelopes:
                break
            deliveries += 1
            source.settle(envelopes[0], Outcome.RELEASE)
            source.flush()
    finally:
        source.close()
    assert deliveries == (21 if node.major >= 4 else 25)


def test_bridge_over_amqp_091_drains_a_quorum_queue(
    node, api, unique_name, kafka_bootstrap, kafka_topics
):
    declare(api, unique_name, {"x-queue-type": "quorum"})
    connection = pika.BlockingConnection(pika.URLParameters(node.amqp))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for i in range(300):
            channel.basic_publish(
                "",
                unique_name,
                f"m{i}".encode(),
                pika.BasicProperties(message_id=f"q-{i}", delivery_mode=2),
            )
    finally:
        connection.close()
    topic = kafka_topics(unique_name)
    code, summary, err = run_bridge(
        node.amqp, unique_name, kafka_bootstrap, topic, "--idle-exit", "2"
    )
    assert code == 0, err[-2000:]
    assert summary["stopped"] == "drained" and summary["acked"] == 300
    assert sorted(source_ids(read_topic(kafka_bootstrap, topic))) == sorted(
        f"q-{i}" for i in range(300)
    )
    # the queue's own count (the management API's figure is a sample up to 5 s old)
    connection = pika.BlockingConnection(pika.URLParameters(node.amqp))
    try:
        declared = connection.channel().queue_declare(unique_name, passive=True)
        assert declared.method.message_count == 0
    finally:
        connection.close()


def test_bridge_over_amqp_1_0_uses_the_release_s_address(
    node, api, unique_name, kafka_bootstrap, kafka_topics
):
    declare(api, unique_name, {"x-queue-type": "quorum"})
    address = (
        f"/queues/{quote(unique_name, safe='')}" if node.major >= 4 else f"/amq/queue/{unique_name}"
    )
    messages = []
    for i in range(200):
        message = Message(body=f"a{i}".encode())
        message.id = f"a-{i}"
        message.durable = True
        messages.append(message)
    assert (
        amqp1_publish(
            f"amqp://127.0.0.1:{node.amqp_port}",
            address,
            messages,
            user=node.user,
            password=node.password,
            capabilities=(),
        )
        == 200
    )

    source = AMQP1Source(node.amqp1, unique_name)
    source.open()
    try:
        assert source._address() == address  # what the bridge attaches to on this release
    finally:
        source.close()

    topic = kafka_topics(unique_name)
    code, summary, err = run_bridge(
        node.amqp1, unique_name, kafka_bootstrap, topic, "--idle-exit", "2"
    )
    assert code == 0, err[-2000:]
    assert summary["stopped"] == "drained" and summary["acked"] == 200
    assert sorted(source_ids(read_topic(kafka_bootstrap, topic))) == sorted(
        f"a-{i}" for i in range(200)
    )
