"""Every command and both SDKs work against a broker they can reach only over SASL_SSL
(SCRAM-SHA-512, a private CA), with the connection configuration from ``--kafka-config``,
``$MQMIGRATE_KAFKA_CONFIG``, the playbook's ``kafka.credentials`` or ``kafka_config=``.
The broker is the session's ``secured_only_kafka`` (tests/conftest.py): no PLAINTEXT client
listener at all.

This is the guard the issue asks for: a Kafka client built without the shared configuration
speaks plaintext to the TLS port and fails (the static half is
tests/unit/test_kafka_client_guard.py).  The bad-input cases (wrong password, wrong
mechanism, TLS to a plaintext port, plaintext to the TLS port, unknown CA) each end in one
line and exit 2 within seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pika
import pytest
from prometheus_client import CollectorRegistry

from mqmigrate.cli import main
from mqmigrate.sdk.dualwrite import DualWriter, WriteMode
from mqmigrate.kafka import share
from mqmigrate.kafka.config import ENV_VAR, read_config_file
from mqmigrate.kafka.snapshot import read_snapshot
from mqmigrate.playbooks.render import Derived, WorkloadSpec, build_playbook, render
from mqmigrate.sdk.worker import Worker, WorkerMetrics
from tests.support.brokers import PrivateKafka

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]

#: seconds a misconfigured command may take to fail (librdkafka alone would retry forever)
BAD_INPUT_BOUND = 15.0
#: where the client properties files of this module find the SCRAM password
PASSWORD_ENV = "MQMIGRATE_TEST_KAFKA_PASSWORD"


@pytest.fixture(scope="module")
def secured(secured_only_kafka) -> PrivateKafka:
    return secured_only_kafka


@pytest.fixture(scope="module")
def password(secured) -> str:
    return secured.sasl_password


def write_properties(secured: PrivateKafka, path: Path, **overrides: str) -> Path:
    """A SCRAM-SHA-512 client file for the SASL_SSL listener, the password as ``${env:...}``."""
    return secured.write_client_properties(
        path, "scram", **{"sasl.password": "${env:" + PASSWORD_ENV + "}", **overrides}
    )


@pytest.fixture
def password_env(monkeypatch, password):
    """The SCRAM password where the properties file's ${env:...} finds it (never argv)."""
    monkeypatch.setenv(PASSWORD_ENV, password)
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def client_properties(secured, tmp_path, password_env) -> Path:
    return write_properties(secured, tmp_path / "client.properties")


def config_of(path: Path):
    return read_config_file(path)


@pytest.fixture
def no_secret(password):
    def check(*texts: str) -> None:
        for text in texts:
            assert password not in text

    return check


# ------------------------------------------------------------------ commands


def test_doctor_is_ready_over_sasl_ssl(client_properties, no_secret, capsys):
    code = main(["doctor", "--kafka-config", str(client_properties), "--format", "json"])
    captured = capsys.readouterr()
    no_secret(captured.out, captured.err)
    report = json.loads(captured.out)
    assert code == 0, report
    assert report["ready"] and {c["name"] for c in report["checks"]} >= {
        "kafka.version",
        "share.version",
        "share.round-trip",
    }


@pytest.mark.parametrize("stem", ["client-scram", "client-plain", "client-oauth", "client-mtls"])
def test_doctor_is_ready_on_each_secured_sandbox_listener(kafka_service, stem, capsys, monkeypatch):
    """The sandbox's own client files (SCRAM, PLAIN, OAUTHBEARER, mTLS) read by
    --kafka-config: admin client, producer and share consumer of the round trip."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    path = kafka_service.dir / f"{stem}.properties"
    assert path.exists(), f"the sandbox wrote no {path.name}: restart it with this release"
    code = main(["doctor", "--kafka-config", str(path), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ready"], report
    assert report["kafka"] == read_config_file(path).bootstrap != kafka_service.bootstrap


def test_doctor_with_an_oauthbearer_token_callback(secured, tmp_path, password_env, capsys):
    path = write_properties(
        secured,
        tmp_path / "oauth.properties",
        **{
            "bootstrap.servers": secured.secured_address("oauth"),
            "sasl.mechanism": "OAUTHBEARER",
            "mqmigrate.oauth.callback": "tests.support.brokers:unsecured_token",
        },
    )
    text = path.read_text()
    path.write_text(
        "".join(
            line + "\n"
            for line in text.splitlines()
            if not line.startswith(("sasl.username", "sasl.password"))
        )
    )
    code = main(["doctor", "--kafka-config", str(path), "--format", "json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0 and report["ready"], report


def test_provision_with_the_playbooks_credentials_reference(
    secured, client_properties, no_secret, tmp_path, capsys
):
    name = f"guard-{uuid.uuid4().hex[:8]}"
    spec = WorkloadSpec(
        id="orders",
        source={"kind": "rabbitmq", "credentials": {"env": "RABBITMQ_URI"}, "queue": "orders"},
        topic=name,
        partitions=Derived(2, "test"),
        group=f"g-{name}",
        share_configs={"share.auto.offset.reset": "earliest"},
        dlq_topic=f"dlq.{name}",
        strategy="drain-only",
    )
    document = render(build_playbook([spec], name="guard", bootstrap=secured.bootstrap))
    # the playbook references the properties file; the file references the password
    document = document.replace(
        f"bootstrap: {secured.bootstrap}",
        f"bootstrap: {secured.bootstrap}\n  credentials:\n    file: {client_properties.name}",
        1,
    )
    # replication left out: the topics get the cluster's default.replication.factor
    document = document.replace("      replication: 1\n", "")
    playbook = tmp_path / "guard.yaml"
    playbook.write_text(document)
    assert "credentials:" in playbook.read_text() and "replication:" not in playbook.read_text()
    code = main(["provision", str(playbook), "--format", "json"])
    captured = capsys.readouterr()
    no_secret(captured.out, captured.err)
    assert code == 0, captured.out + captured.err
    admin = share.admin_client(config_of(client_properties))
    topic = share.describe_topic(admin, name)
    assert topic is not None and topic.partitions == 2
    # the cluster default (1 on a single broker), whatever the playbook left out
    assert topic.replication == int(share.default_replication_factor(admin))
    assert share.group_configs(admin, f"g-{name}", ["share.auto.offset.reset"]) == {
        "share.auto.offset.reset": "earliest"
    }
    assert main(["provision", str(playbook), "--format", "json"]) == 0  # converged
    capsys.readouterr()


def test_bridge_create_topics_effectively_once_then_verify(
    secured, client_properties, no_secret, rabbitmq_service, tmp_path, capsys
):
    name = f"guard-bridge-{uuid.uuid4().hex[:8]}"
    user, password = rabbitmq_service.credentials()
    uri = f"amqp://{user}:{password}@127.0.0.1:{rabbitmq_service.port('amqp')}/%2f"
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    try:
        channel = connection.channel()
        channel.queue_declare(name, durable=True)
        channel.confirm_delivery()
        for i in range(20):
            channel.basic_publish(
                "",
                name,
                f"body-{i}".encode(),
                pika.BasicProperties(message_id=f"m-{i}", delivery_mode=2),
            )
        ledger = tmp_path / "ledger.jsonl"
        # the configuration from the environment variable, the source URI too: nothing
        # secret on the command line
        env = {**os.environ, ENV_VAR: str(client_properties), "MQMIGRATE_SOURCE": uri}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mqmigrate",
                "bridge",
                "--queue",
                name,
                "--topic",
                name,
                "--mode",
                "drain",
                "--create-topics",
                "--effectively-once",
                "--idle-exit",
                "2",
                "--verify-ledger",
                str(ledger),
                "--log-format",
                "text",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        no_secret(proc.stdout, proc.stderr)
        assert proc.returncode == 0, proc.stderr[-2000:]
        summary = json.loads(proc.stdout)
        assert (summary["in"], summary["acked"], summary["quarantined"]) == (20, 20, 0), summary
    finally:
        try:
            connection.channel().queue_delete(name)
        finally:
            connection.close()
    config = config_of(client_properties)
    records = list(read_snapshot(config, [name], timeout=60))
    assert sorted(r.value() for r in records) == sorted(f"body-{i}".encode() for i in range(20))
    assert share.describe_topic(share.admin_client(config), f"{name}.quarantine") is not None
    code = main(
        [
            "verify",
            "--ledger",
            str(ledger),
            "--kafka-config",
            str(client_properties),
            "--topic",
            name,
            "--format",
            "json",
        ]
    )
    captured = capsys.readouterr()
    no_secret(captured.out, captured.err)
    report = json.loads(captured.out)
    assert code == 0 and report["clean"], report
    assert report["counts"]["source"] == report["counts"]["kafka"] == 20


# ------------------------------------------------------------------ SDKs


def test_worker_and_dualwrite_with_kafka_config(secured, client_properties):
    config = config_of(client_properties)
    name = f"guard-sdk-{uuid.uuid4().hex[:8]}"
    admin = share.admin_client(config)
    share.create_topic(admin, name, partitions=1)
    share.set_group_configs(admin, f"g-{name}", {"share.auto.offset.reset": "earliest"})

    class NoSource:
        """kafka-only mode never writes the source"""

        kind = "source"

        def send(self, *args, **kwargs):
            raise AssertionError("kafka-only must not write the source")

        def close(self):
            pass

    # the path of the properties file, as a service would pass it
    writer = DualWriter(
        NoSource(), client_properties, name, mode_source=WriteMode.KAFKA_ONLY, metrics=False
    )
    try:
        for i in range(5):
            result = writer.send(f"dw-{i}".encode(), message_id=f"dw-{i}")
            assert result.written == ("kafka",)
    finally:
        writer.close()

    seen: list[bytes] = []
    done = threading.Event()

    def handle(message) -> None:
        seen.append(message.value)
        if len(seen) >= 5:
            done.set()

    worker = Worker(
        None,
        name,
        f"g-{name}",
        handle,
        kafka_config=config,
        install_signal_handlers=False,
        metrics=WorkerMetrics(CollectorRegistry()),
    )
    worker.start()
    try:
        assert done.wait(60), f"worker saw {seen}"
    finally:
        worker.stop()
        assert worker.join(timeout=60)
    assert sorted(seen) == [f"dw-{i}".encode() for i in range(5)]


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "case, overrides, expected",
    [
        ("wrong password", {"sasl.password": "not-the-password"}, "rejected the credentials"),
        # the OAUTH listener offers OAUTHBEARER only
        (
            "wrong mechanism",
            {"bootstrap.servers": "OAUTH_PORT", "sasl.mechanism": "SCRAM-SHA-256"},
            "does not offer SASL mechanism",
        ),
        ("unknown CA", {"ssl.ca.location": "OTHER_CA"}, "CA the client does not trust"),
        # the sandbox broker's PLAINTEXT listener: the secured broker has none
        ("TLS to a plaintext port", {"bootstrap.servers": "PLAINTEXT_PORT"}, "does not speak TLS"),
        ("plaintext to the TLS port", {"security.protocol": "PLAINTEXT"}, "speaks TLS"),
        ("SASL without TLS to the TLS port", {"security.protocol": "SASL_PLAINTEXT"}, "speaks TLS"),
    ],
)
def test_bad_connection_settings_fail_in_one_line_within_seconds(
    secured, kafka_service, tmp_path, password_env, no_secret, case, overrides, expected
):
    placeholders = {
        # a CA that signed nothing the broker presents
        "OTHER_CA": str(secured.service.secured_listeners().tls.unknown_ca_cert),
        "PLAINTEXT_PORT": kafka_service.bootstrap,
        "OAUTH_PORT": secured.secured_address("oauth"),
    }
    values = {key: placeholders.get(value, value) for key, value in overrides.items()}
    path = write_properties(secured, tmp_path / "bad.properties", **values)
    for argv in (
        ["doctor", "--kafka-config", str(path), "--no-round-trip"],
        [
            "verify",
            "--kafka-config",
            str(path),
            "--topic",
            "t",
            "--ledger",
            str(tmp_path / "none.jsonl"),
        ],
    ):
        if argv[0] == "verify":
            (tmp_path / "none.jsonl").write_text("")
        began = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "mqmigrate", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ},
        )
        took = time.monotonic() - began
        assert proc.returncode == 2, (case, argv[0], proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:"), (case, proc.stderr)
        assert expected in lines[0] and "Traceback" not in proc.stderr, (case, lines[0])
        endpoint = values.get("bootstrap.servers", secured.bootstrap)
        assert endpoint in lines[0], lines[0]
        no_secret(proc.stdout, proc.stderr)
        assert took < BAD_INPUT_BOUND, f"{case}: {argv[0]} took {took:.1f}s"
