"""``mqmigrate bench`` against the real sandbox brokers: small, bounded runs."""

from __future__ import annotations

import json
import threading

import pytest

from mqmigrate.bench.model import Workload
from mqmigrate.bench.runner import run
from mqmigrate.bench.targets import KafkaShareTarget
from mqmigrate.cli import main

# heavy: a benchmark's rates and latencies are measured on a machine it has to itself
pytestmark = [pytest.mark.integration, pytest.mark.heavy]


@pytest.mark.kafka
def test_kafka_share_group_latency_includes_processing_delay(kafka_bootstrap):
    workload = Workload(max_messages=60, consumers=2, processing_ms=30.0, rate=100.0)
    result = run(KafkaShareTarget(kafka_bootstrap), workload)
    assert result.unique == 60 and result.lost == 0, result.notes
    assert min(result.latencies_ms) >= 30.0


@pytest.mark.kafka
def test_kafka_fixed_rate_count(kafka_bootstrap):
    workload = Workload(max_messages=100_000, duration=3.0, rate=100.0, consumers=1)
    result = run(KafkaShareTarget(kafka_bootstrap), workload)
    assert abs(result.published - 300) <= 15
    assert result.unique == result.published, result.notes


def _bench_json(capsys, *args: str) -> dict:
    code = main(["bench", *args, "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


@pytest.mark.kafka
@pytest.mark.rabbitmq
def test_bench_rabbitmq_vs_kafka_side_by_side(rabbitmq_service, kafka_bootstrap, capsys, tmp_path):
    uri = f"amqp://guest:guest@127.0.0.1:{rabbitmq_service.port('amqp')}/"
    plot = tmp_path / "bench.html"
    doc = _bench_json(
        capsys,
        "--source",
        uri,
        "--kafka",
        kafka_bootstrap,
        "--messages",
        "500",
        "--consumers",
        "2",
        "--plot",
        str(plot),
    )
    systems = [r["system"] for r in doc["runs"]]
    assert systems == ["rabbitmq", "kafka-share-group"]
    for r in doc["runs"]:
        assert r["published"] == r["confirmed"] == r["unique"] == 500 and r["lost"] == 0
        assert 0 < r["latency_ms"]["p50"] <= r["latency_ms"]["p99"] <= r["latency_ms"]["max"]
    assert doc["ratio"]["throughput"] > 0
    page = plot.read_text()
    assert page.count("<svg") == 2 and "kafka-share-group" in page
    assert "guest:guest" not in json.dumps(doc)


@pytest.mark.kafka
@pytest.mark.sqs
def test_bench_sqs_vs_kafka(elasticmq_service, kafka_bootstrap, capsys):
    uri = f"sqs+http://x:y@127.0.0.1:{elasticmq_service.port('http')}?region=us-east-1"
    doc = _bench_json(
        capsys, "--source", uri, "--kafka", kafka_bootstrap, "--messages", "300", "--consumers", "2"
    )
    assert [r["unique"] for r in doc["runs"]] == [300, 300]
    assert [r["confirmed"] for r in doc["runs"]] == [300, 300]


@pytest.mark.kafka
@pytest.mark.amqp1
def test_bench_amqp1_vs_kafka(artemis_service, kafka_bootstrap, capsys):
    uri = f"amqp1://artemis:artemis@127.0.0.1:{artemis_service.port('acceptor')}"
    doc = _bench_json(
        capsys,
        "--source",
        uri,
        "--kafka",
        kafka_bootstrap,
        "--messages",
        "2000",
        "--consumers",
        "2",
        "--publish-window",
        "200",
    )
    for r in doc["runs"]:
        assert r["published"] == r["confirmed"] == r["unique"] == 2000, r["notes"]


@pytest.mark.kafka
def test_worker_sdk_target_settles_after_processing(kafka_bootstrap):
    from mqmigrate.bench.targets import KafkaWorkerTarget

    workload = Workload(max_messages=80, consumers=4, processing_ms=20.0, rate=100.0)
    before = set(threading.enumerate())
    result = run(KafkaWorkerTarget(kafka_bootstrap), workload)
    assert result.system == "kafka-worker-sdk"
    assert result.unique == 80 and result.lost == 0 and result.duplicates == 0, result.notes
    assert min(result.latencies_ms) >= 20.0
    # the group's consumers share one worker, stopped with the run: none of its threads is
    # left polling (a leftover worker ran on into the next run of a series, and its
    # handler threads were counted in this run's concurrency)
    left = [t.name for t in set(threading.enumerate()) - before if t.name.startswith("mqmigrate-")]
    assert left == []


# -- the publishers: asynchronous, windowed, every message confirmed or an error ---------------
def _rabbit_params(rabbitmq_service):
    import pika

    return pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{rabbitmq_service.port('amqp')}/%2f")


def _publish_all(publisher, n: int, size: int = 100) -> int:
    """Publish ``n`` bodies and flush; returns the most messages ever unconfirmed at once."""
    most = 0
    for _ in range(n):
        publisher.publish(b"x" * size)
        most = max(most, _unconfirmed(publisher))
    publisher.flush()
    assert _unconfirmed(publisher) == 0
    return most


def _unconfirmed(publisher) -> int:
    from mqmigrate.bench.publishers import AMQP1CreditPublisher

    if isinstance(publisher, AMQP1CreditPublisher):
        return len(publisher._unsettled)
    return publisher.outstanding


@pytest.mark.rabbitmq
def test_rabbitmq_publisher_confirms_every_message_within_its_window(rabbitmq_service, unique_name):
    import pika

    from mqmigrate.bench.publishers import RabbitMQConfirmPublisher

    params = _rabbit_params(rabbitmq_service)
    admin = pika.BlockingConnection(params)
    channel = admin.channel()
    channel.queue_declare(unique_name, durable=True)
    publisher = RabbitMQConfirmPublisher(
        pika.BlockingConnection(params), "", unique_name, window=50
    )
    try:
        most = _publish_all(publisher, 2000)
        assert publisher.confirmed == 2000 and publisher.tracker.nacked == 0
        # asynchronous (many in flight at once), yet never more than the window
        assert 1 < most <= 50
        assert channel.queue_declare(unique_name, passive=True).method.message_count == 2000
    finally:
        publisher.close()
        channel.queue_delete(unique_name)
        admin.close()


@pytest.mark.rabbitmq
def test_rabbitmq_publisher_nack_stops_the_run(rabbitmq_service, unique_name):
    import pika

    from mqmigrate.bench.publishers import RabbitMQConfirmPublisher
    from mqmigrate.errors import PublishRefused

    params = _rabbit_params(rabbitmq_service)
    admin = pika.BlockingConnection(params)
    channel = admin.channel()
    # a full queue that refuses new messages: RabbitMQ nacks them
    channel.queue_declare(
        unique_name, durable=True, arguments={"x-max-length": 10, "x-overflow": "reject-publish"}
    )
    publisher = RabbitMQConfirmPublisher(
        pika.BlockingConnection(params), "", unique_name, window=100
    )
    try:
        with pytest.raises(PublishRefused, match="nacked"):
            _publish_all(publisher, 50)
        assert publisher.tracker.nacked >= 1 and publisher.confirmed <= 10
        assert channel.queue_declare(unique_name, passive=True).method.message_count == 10
    finally:
        publisher.close()
        channel.queue_delete(unique_name)
        admin.close()


@pytest.mark.rabbitmq
def test_rabbitmq_fan_out_at_500_per_second_confirms_every_message(rabbitmq_service, monkeypatch):
    """The fan-out preset's shape (a fanout exchange, three queues, a consumer each, 500
    msg/s): RabbitMQ confirms each message at once and alone (a single ``basic.ack``), often
    while ``basic_publish`` is still serving the socket; every confirm must count."""
    from mqmigrate.bench.model import PRESETS
    from mqmigrate.bench.targets import SourceTarget
    from mqmigrate.sources.rabbitmq.publisher import RabbitMQConfirmPublisher

    publishing = [False]
    early: list[int] = []  # tags confirmed while their own basic_publish was running
    original_publish = RabbitMQConfirmPublisher.publish
    original_on_confirm = RabbitMQConfirmPublisher._on_confirm

    def publish(self, body: bytes) -> None:
        publishing[0] = True
        try:
            original_publish(self, body)
        finally:
            publishing[0] = False

    def on_confirm(self, frame) -> None:
        if publishing[0] and frame.method.delivery_tag >= self.tracker.sent:
            early.append(frame.method.delivery_tag)
        original_on_confirm(self, frame)

    monkeypatch.setattr(RabbitMQConfirmPublisher, "publish", publish)
    monkeypatch.setattr(RabbitMQConfirmPublisher, "_on_confirm", on_confirm)
    original_for_queue = RabbitMQConfirmPublisher.for_queue.__func__

    def for_queue(cls, *args, **kwargs):
        publisher = original_for_queue(cls, *args, **kwargs)
        publisher.timeout = 10.0  # a lost confirm fails the test in seconds, not a minute
        return publisher

    monkeypatch.setattr(RabbitMQConfirmPublisher, "for_queue", classmethod(for_queue))
    workload = Workload(**{**PRESETS["fan-out"], "max_messages": 1000, "drain_timeout": 15.0})
    uri = f"amqp://guest:guest@127.0.0.1:{rabbitmq_service.port('amqp')}/"
    result = run(SourceTarget(uri), workload)
    assert early, "no confirm arrived during its own publish: the run did not test the race"
    assert result.published == result.confirmed == 1000, result.notes
    assert result.unique == 3000 and result.lost == 0, result.notes


def _drain_amqp1(source, address: str, expected: int, options=None) -> int:
    from proton import Timeout

    from mqmigrate.sources.connect import proton_blocking_connection

    connection = proton_blocking_connection(source)
    receiver = connection.create_receiver(address, credit=500, options=options)
    got = 0
    try:
        while got < expected:
            try:
                receiver.receive(timeout=10)
            except Timeout:
                break
            receiver.accept()
            got += 1
    finally:
        connection.close()
    return got


@pytest.mark.amqp1
def test_amqp1_publisher_sends_within_credit_and_window_on_artemis(artemis_service, unique_name):
    from mqmigrate.bench.publishers import AMQP1CreditPublisher
    from mqmigrate.sources.amqp1 import queue_capability
    from mqmigrate.sources.connect import proton_blocking_connection
    from mqmigrate.sources.uri import parse_source_uri

    source = parse_source_uri(
        f"amqp1://artemis:artemis@127.0.0.1:{artemis_service.port('acceptor')}"
    )
    publisher = AMQP1CreditPublisher(
        proton_blocking_connection(source), unique_name, options=queue_capability(), window=100
    )
    try:
        most = _publish_all(publisher, 3000)
    finally:
        publisher.close()
    assert publisher.confirmed == 3000 and not publisher.refused
    assert 1 < most <= 100
    assert _drain_amqp1(source, unique_name, 3000, queue_capability()) == 3000


@pytest.mark.rabbitmq
@pytest.mark.amqp1
def test_amqp1_publisher_refusal_is_an_error_on_rabbitmq(rabbitmq_service, unique_name):
    import pika

    from mqmigrate.bench.publishers import AMQP1CreditPublisher
    from mqmigrate.errors import PublishRefused
    from mqmigrate.sources.connect import proton_blocking_connection
    from mqmigrate.sources.uri import parse_source_uri

    admin = pika.BlockingConnection(_rabbit_params(rabbitmq_service))
    channel = admin.channel()
    channel.queue_declare(
        unique_name, durable=True, arguments={"x-max-length": 10, "x-overflow": "reject-publish"}
    )
    source = parse_source_uri(f"amqp1://guest:guest@127.0.0.1:{rabbitmq_service.port('amqp')}")
    publisher = AMQP1CreditPublisher(
        proton_blocking_connection(source), f"/amq/queue/{unique_name}", window=100
    )
    try:
        # RabbitMQ 3.10's plugin answers the refused transfers by closing the connection,
        # later releases with a rejected outcome: either way the run stops
        with pytest.raises(PublishRefused):
            _publish_all(publisher, 50)
        depth = channel.queue_declare(unique_name, passive=True).method.message_count
        assert publisher.confirmed <= depth == 10
    finally:
        publisher.close()
        channel.queue_delete(unique_name)
        admin.close()


@pytest.mark.kafka
def test_kafka_publisher_counts_delivery_reports(kafka_bootstrap):
    workload = Workload(max_messages=3000, consumers=2, backlog_first=True)
    result = run(KafkaShareTarget(kafka_bootstrap), workload)
    assert result.published == result.confirmed == result.unique == 3000, result.notes


@pytest.mark.rabbitmq
def test_runner_counts_what_rabbitmq_confirmed(rabbitmq_service):
    from mqmigrate.bench.targets import source_target

    uri = f"amqp://guest:guest@127.0.0.1:{rabbitmq_service.port('amqp')}/"
    result = run(source_target(uri, publish_window=64), Workload(max_messages=3000, consumers=2))
    assert result.published == result.confirmed == result.unique == 3000, result.notes
    assert result.lost == 0 and result.duplicates == 0


@pytest.mark.amqp1
def test_amqp1_target_counts_what_artemis_accepted_and_removes_its_queue(artemis_service):
    from mqmigrate.bench.targets import source_target
    from mqmigrate.sources.amqp1.artemis import ArtemisManagement

    uri = f"amqp1://artemis:artemis@127.0.0.1:{artemis_service.port('acceptor')}"
    target = source_target(uri, publish_window=100)
    result = run(target, Workload(max_messages=2000, consumers=2))
    assert result.published == result.confirmed == result.unique == 2000, result.notes
    management = ArtemisManagement(
        f"artemis+http://artemis:artemis@127.0.0.1:{artemis_service.port('console')}"
    )
    try:
        assert management.find_queue(target.queues[0].name) is None
    finally:
        management.close()
