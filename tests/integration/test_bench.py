"""``mqmigrate bench`` against the real sandbox brokers: small, bounded runs."""

from __future__ import annotations

import json

import pytest

from mqmigrate.bench.model import Workload
from mqmigrate.bench.runner import run
from mqmigrate.bench.targets import KafkaShareTarget
from mqmigrate.cli import main

pytestmark = [pytest.mark.integration]


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
        assert r["published"] == 500 and r["unique"] == 500 and r["lost"] == 0
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


@pytest.mark.kafka
@pytest.mark.amqp1
def test_bench_amqp1_vs_kafka(artemis_service, kafka_bootstrap, capsys):
    uri = f"amqp1://artemis:artemis@127.0.0.1:{artemis_service.port('acceptor')}"
    doc = _bench_json(
        capsys, "--source", uri, "--kafka", kafka_bootstrap, "--messages", "300", "--consumers", "2"
    )
    assert [r["unique"] for r in doc["runs"]] == [300, 300]


@pytest.mark.kafka
def test_worker_sdk_target_settles_after_processing(kafka_bootstrap):
    from mqmigrate.bench.targets import KafkaWorkerTarget

    workload = Workload(max_messages=80, consumers=2, processing_ms=20.0, rate=100.0)
    result = run(KafkaWorkerTarget(kafka_bootstrap), workload)
    assert result.system == "kafka-worker-sdk"
    assert result.unique == 80 and result.lost == 0 and result.duplicates == 0, result.notes
    assert min(result.latencies_ms) >= 20.0
