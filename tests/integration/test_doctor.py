"""``mqmigrate doctor`` against real brokers: ready, share groups disabled, nothing listening."""

from __future__ import annotations

import json
import socket

import pytest

from mqmigrate.cli import main
from mqmigrate.sandbox.base import SandboxContext
from mqmigrate.sandbox.kafka import KafkaService

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def kafka_without_share_groups(tmp_path_factory, kafka_service):
    """A second real broker formatted with ``share.version=0``."""
    ctx = SandboxContext(
        state_dir=tmp_path_factory.mktemp("noshare"),
        cache_dir=kafka_service.ctx.cache_dir,
        ports={"kafka-noshare.broker": _free_port(), "kafka-noshare.controller": _free_port()},
    )
    service = KafkaService(
        ctx, name="kafka-noshare", features={"share.version": 0}, heap="384m", secured=False
    )  # its ports are the two below only
    service.default_ports = {"broker": 0, "controller": 0}  # ports come from ctx.ports
    service.install()
    service.start()
    try:
        service.wait_healthy()
        service.after_healthy()  # must leave share.version at 0 for this broker
        yield service
    finally:
        service.stop()


def test_doctor_says_ready_on_the_sandbox(kafka_bootstrap, capsys):
    code = main(["doctor", "--kafka", kafka_bootstrap, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["ready"] is True
    results = {c["name"]: c["result"] for c in report["checks"]}
    assert results == {"kafka.version": "ok", "share.version": "ok", "share.round-trip": "ok"}


def test_doctor_names_the_fix_when_share_groups_are_off(kafka_without_share_groups, capsys):
    bootstrap = kafka_without_share_groups.bootstrap
    code = main(["doctor", "--kafka", bootstrap, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    check = next(c for c in report["checks"] if c["name"] == "share.version")
    assert check["result"] == "fail"
    assert "share.version is 0" in check["detail"]
    assert f"--bootstrap-server {bootstrap} upgrade --feature share.version=" in check["fix"]
    round_trip = next(c for c in report["checks"] if c["name"] == "share.round-trip")
    assert round_trip["result"] == "skip"


def test_doctor_on_a_closed_port_is_one_line_and_exit_2(capsys):
    code = main(["doctor", "--kafka", f"127.0.0.1:{_free_port()}"])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Kafka at 127.0.0.1:")
    assert "Traceback" not in captured.err + captured.out


def test_doctor_reports_an_unreachable_source_with_masked_credentials(kafka_bootstrap, capsys):
    uri = f"amqp://admin:s3cret-pw@127.0.0.1:{_free_port()}/"
    code = main(
        [
            "doctor",
            "--kafka",
            kafka_bootstrap,
            "--source",
            uri,
            "--no-round-trip",
            "--format",
            "json",
        ]
    )
    out = capsys.readouterr().out
    assert code == 2
    assert "s3cret-pw" not in out
    report = json.loads(out)
    source = report["checks"][-1]
    assert source["result"] == "error" and source["detail"].startswith("unreachable")
    assert source["name"].startswith("source amqp://admin:***@127.0.0.1:")


@pytest.mark.rabbitmq
@pytest.mark.sqs
@pytest.mark.amqp1
def test_doctor_sandbox_checks_every_endpoint_without_credentials_on_the_command_line(
    kafka_service, rabbitmq_service, moto_service, elasticmq_service, artemis_service, capsys
):
    code = main(["doctor", "--sandbox", "--no-round-trip", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    sources = [c for c in report["checks"] if c["name"].startswith("source")]
    assert all(c["result"] == "ok" for c in sources), sources
    schemes = sorted(c["name"].split()[1].split("://")[0] for c in sources)
    # the plain endpoints and the secured ones, verified against the sandbox's CA
    assert schemes == sorted(
        ["amqp", "rabbitmq+http", "amqp1", "sqs+http", "sqs+http"]
        + ["amqps", "rabbitmq+https", "amqp1s"]
    ), schemes
    text = json.dumps(report)
    assert "guest:guest" not in text and "artemis:artemis" not in text


def test_doctor_without_kafka_or_sandbox_is_a_usage_error(capsys):
    assert main(["doctor"]) == 2
