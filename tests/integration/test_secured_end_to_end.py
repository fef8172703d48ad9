"""Secured end to end: every connection of a migration over TLS, Kafka only through
``--kafka-config`` (the parts the per-connection tests leave out).

* ``bridge`` from each source kind over TLS into the sandbox's SASL_SSL Kafka listener
  (SCRAM-SHA-512, the sandbox's ``client-scram.properties``), with ``--create-topics`` and
  ``--effectively-once``, then ``verify`` on the result: RabbitMQ over ``amqps`` (password and
  x509 EXTERNAL), Artemis over ``amqp1s`` (the TLS acceptor), SQS through the sandbox's
  assumed role on moto's STS.
* ``plan``'s playbook → ``provision`` (topics, share-group configs and ACLs) against a private
  broker whose only client listeners are secured (no PLAINTEXT listener at all) and which runs
  StandardAuthorizer: ACLs are created over SASL_SSL and described back.

The sandbox's secured listeners are the shared ones (docs/sandbox.md, "Secured endpoints"):
no private RabbitMQ or Artemis here, which keeps the module's wall time small.  Every secret
reaches the child processes through the environment or a file (``${env:...}``,
``${file:...}``), never the command line, and no output contains one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from mqmigrate.kafka import share
from mqmigrate.kafka.config import ENV_VAR, read_config_file
from mqmigrate.kafka.snapshot import read_snapshot
from mqmigrate.sandbox import kafka_secured

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.kafka]

#: messages per bridge run: a few hundred, bounded in time
MESSAGES = 300
#: the environment variable that carries a source password to the child processes
PW_ENV = "MQM_E2E_SOURCE_PASSWORD"


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scram_file(kafka_service) -> Path:
    """The sandbox's SASL_SSL SCRAM-SHA-512 client file (its password by ``${file:...}``)."""
    path = kafka_service.dir / "client-scram.properties"
    assert path.exists(), f"the sandbox wrote no {path.name}: restart it with this release"
    config = read_config_file(path)
    assert config.bootstrap != kafka_service.bootstrap  # not the PLAINTEXT listener
    return path


@pytest.fixture(scope="module")
def kafka_secret(kafka_service) -> str:
    return kafka_secured.read_password(kafka_service.dir / "sandbox-password")


def mqmigrate(
    args: list[str], secrets: list[str], *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``mqmigrate ARGS`` in a child; no secret is on its command line or in its output."""
    for secret in secrets:
        assert not any(secret in arg for arg in args), "a secret on the command line"
    environ = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    environ.update({"PYTHONPATH": str(ROOT), **(env or {})})
    done = subprocess.run(
        [sys.executable, "-m", "mqmigrate", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for secret in secrets:
        assert secret not in done.stdout and secret not in done.stderr, "a secret in the output"
    return done


@pytest.fixture
def secured_topics(scram_file):
    """``secured_topics(name)`` registers a topic (and its quarantine) for deletion over
    SASL_SSL after the test; ``bridge --create-topics`` creates them."""
    made: list[str] = []

    def register(name: str) -> str:
        made.extend([name, f"{name}.quarantine"])
        return name

    yield register
    share.delete_topics(share.admin_client(read_config_file(scram_file)), made, missing_ok=True)


def bridge_then_verify(
    source: str,
    queue: str,
    topic: str,
    ids: list[str],
    scram_file: Path,
    tmp_path: Path,
    secrets: list[str],
    *,
    env: dict[str, str],
    extra: list[str] = (),
) -> None:
    """``bridge --create-topics --effectively-once`` from ``source`` into SASL_SSL Kafka, then
    ``verify`` the ledger against the topic: every id there once, nothing missing."""
    ledger = tmp_path / f"{topic}.ledger.jsonl"
    done = mqmigrate(
        [
            "bridge",
            "--source",
            source,
            "--queue",
            queue,
            "--kafka-config",
            str(scram_file),
            "--topic",
            topic,
            "--create-topics",
            "--effectively-once",
            "--mode",
            "drain",
            "--idle-exit",
            "2",
            "--verify-ledger",
            str(ledger),
            "--log-format",
            "json",
            *extra,
        ],
        secrets,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    # "in" may count a redelivery (SQS is at-least-once): effectively-once writes it once
    assert (summary["out"], summary["quarantined"]) == (len(ids), 0), summary
    assert summary["in"] >= len(ids), summary
    checked = mqmigrate(
        [
            "verify",
            "--ledger",
            str(ledger),
            "--kafka-config",
            str(scram_file),
            "--topic",
            topic,
            "--format",
            "json",
        ],
        secrets,
        env=env,
    )
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["clean"], report
    counts = report["counts"]
    assert counts["source"] == counts["kafka"] == len(ids), counts
    assert counts["missing"] == counts["duplicated_ids"] == counts["duplicate_copies"] == 0
    # read back independently of verify, over the same secured listener
    records = list(read_snapshot(read_config_file(scram_file), [topic], timeout=60))
    got = sorted(dict(r.headers())["mq.source.id"].decode() for r in records)
    assert got == sorted(ids)


# -- bridge: RabbitMQ over amqps ----------------------------------------------------------------

# a user of this test process alone on the shared sandbox RabbitMQ (another run may use it too)
RABBIT_USER = f"e2e-secured-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def rabbit_password(rabbitmq_service):
    """A user of this module's own on the sandbox RabbitMQ, created over https management,
    with a password no other output contains (the sandbox's own is the guessable one)."""
    import httpx

    user, password = rabbitmq_service.credentials()
    secret = f"Pw-{uuid.uuid4().hex}"
    api = httpx.Client(
        base_url=f"https://localhost:{rabbitmq_service.port('management_tls')}",
        auth=(user, password),
        verify=str(rabbitmq_service.tls_files.ca_cert),
        timeout=30,
    )
    try:
        api.put(
            f"/api/users/{RABBIT_USER}", json={"password": secret, "tags": ""}
        ).raise_for_status()
        api.put(
            f"/api/permissions/%2F/{RABBIT_USER}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        ).raise_for_status()
        yield secret
    finally:
        api.delete(f"/api/users/{RABBIT_USER}")
        api.close()


def rabbit_uri(service, *, external: bool) -> str:
    files = service.tls_files
    if external:  # x509 EXTERNAL: the client certificate's CN is the user (mqmigrate-client)
        return (
            f"amqps://localhost:{service.port('amqps')}/?cafile={files.ca_cert}"
            f"&certfile={files.dir / 'client.pem'}&keyfile={files.dir / 'client-key.pem'}"
        )
    return (
        f"amqps://{RABBIT_USER}:${{env:{PW_ENV}}}@localhost:{service.port('amqps')}/"
        f"?cafile={files.ca_cert}"
    )


@pytest.mark.rabbitmq
@pytest.mark.parametrize("auth", ["password", "external"])
def test_bridge_from_rabbitmq_over_amqps_into_sasl_ssl(
    rabbitmq_service, rabbit_password, scram_file, kafka_secret, secured_topics, tmp_path, auth
):
    import pika

    from mqmigrate.sources.connect import pika_parameters
    from mqmigrate.sources.uri import parse_source_uri
    from tests.support.bridge import publish

    password = rabbit_password
    queue = f"e2e-amqps-{auth}-{uuid.uuid4().hex[:8]}"
    topic = secured_topics(queue)
    connection = pika.BlockingConnection(
        pika_parameters(parse_source_uri(rabbit_uri(rabbitmq_service, external=True)))
    )
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.queue_declare(queue, durable=True)
        ids = publish(channel, "", queue, MESSAGES, prefix=queue)
        source = rabbit_uri(rabbitmq_service, external=auth == "external")
        bridge_then_verify(
            source,
            queue,
            topic,
            ids,
            scram_file,
            tmp_path,
            [password, kafka_secret],
            env={PW_ENV: password},
        )
        assert channel.queue_declare(queue, passive=True).method.message_count == 0
    finally:
        try:
            connection.channel().queue_delete(queue)
        finally:
            connection.close()


# -- bridge: Artemis over amqp1s ----------------------------------------------------------------


@pytest.mark.amqp1
def test_bridge_from_artemis_over_amqp1s_into_sasl_ssl(
    artemis_service, scram_file, kafka_secret, secured_topics, tmp_path, monkeypatch
):
    from proton import Message

    from mqmigrate.sources.amqp1 import queue_capability
    from mqmigrate.sources.amqp1.artemis import ArtemisManagement
    from mqmigrate.sources.connect import proton_blocking_connection
    from mqmigrate.sources.uri import parse_source_uri

    user, password = artemis_service.credentials()
    files = artemis_service.tls_files
    monkeypatch.setenv(PW_ENV, password)
    source = (
        f"amqp1s://{user}:${{env:{PW_ENV}}}@localhost:{artemis_service.port('tls')}"
        f"?cafile={files.ca_cert}"
    )
    # 127.0.0.1: the console's CORS allow-list names the host it was created for
    jolokia = (
        f"artemis+https://{user}:${{env:{PW_ENV}}}@127.0.0.1:"
        f"{artemis_service.port('console_tls')}?cafile={files.ca_cert}"
    )
    queue = f"e2e-amqp1s-{uuid.uuid4().hex[:8]}"
    topic = secured_topics(queue)
    api = ArtemisManagement(parse_source_uri(jolokia))
    try:
        api.create_queue(queue, queue, "anycast")
        connection = proton_blocking_connection(parse_source_uri(source), timeout=30)
        ids = [f"{queue}-{i}" for i in range(MESSAGES)]
        try:
            sender = connection.create_sender(queue, options=[queue_capability()])
            for mid in ids:
                sender.send(Message(id=mid, body=mid.encode(), durable=True))
        finally:
            connection.close()
        # the sandbox's Artemis password is its user name: the leak check looks for the
        # Kafka password only
        bridge_then_verify(
            source,
            queue,
            topic,
            ids,
            scram_file,
            tmp_path,
            [kafka_secret],
            env={PW_ENV: password},
            extra=["--management-url", f"https://127.0.0.1:{artemis_service.port('console_tls')}"],
        )
        assert api.message_count(queue) == 0  # depth over https: drained
    finally:
        try:
            api.destroy_queue(queue)
        finally:
            api.close()


# -- bridge: SQS through the sandbox's assumed role -----------------------------------------------


@pytest.mark.sqs
def test_bridge_from_sqs_through_an_assumed_role_into_sasl_ssl(
    moto_service, scram_file, kafka_secret, secured_topics, tmp_path
):
    import boto3

    from mqmigrate.sandbox import sts

    endpoint = moto_service.endpoint_url
    host = endpoint.split("://", 1)[1]
    source = (
        f"sqs+http://{host}?region=us-east-1&role_arn={quote(sts.ROLE_ARN, safe='')}"
        f"&external_id=${{env:{PW_ENV}}}&session_name=e2e-secured"
    )
    admin = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    queue = f"e2e-role-{uuid.uuid4().hex[:8]}"
    topic = secured_topics(queue)
    url = admin.create_queue(QueueName=queue)["QueueUrl"]
    try:
        ids = [f"{queue}-{i}" for i in range(MESSAGES)]
        for start in range(0, MESSAGES, 10):
            admin.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {
                        "Id": str(j),
                        "MessageBody": mid,
                        "MessageAttributes": {
                            "mq-source-id": {"DataType": "String", "StringValue": mid}
                        },
                    }
                    for j, mid in enumerate(ids[start : start + 10])
                ],
            )
        # the sandbox's external id is part of its role's name too, so the leak check looks
        # for the Kafka password only
        bridge_then_verify(
            source,
            queue,
            topic,
            ids,
            scram_file,
            tmp_path,
            [kafka_secret],
            env={PW_ENV: sts.EXTERNAL_ID},
        )
    finally:
        admin.delete_queue(QueueUrl=url)


# -- plan → provision (topics, share-group configs, ACLs) over SASL_SSL ----------------------------


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_plan_then_provision_topics_group_configs_and_acls_over_sasl_ssl(
    secured_only_kafka, rabbitmq_service, rabbit_password, tmp_path
):
    """``plan`` reads the sandbox RabbitMQ over https management; its playbook, with the
    client file as ``kafka.credentials`` and ACLs declared, is provisioned on the secured-only
    broker; a second run changes nothing."""
    import socket

    import httpx
    import yaml
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    # the session's StandardAuthorizer broker without PLAINTEXT (tests/conftest.py)
    kafka = secured_only_kafka.service
    with socket.socket() as probe:  # nothing listens on the PLAINTEXT port key
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", kafka.port("broker"))) != 0
    client_file = kafka.client_properties_file("scram")
    secret = kafka_secured.read_password(kafka.dir / "sandbox-password")
    config = read_config_file(client_file)
    assert config.bootstrap == kafka.bootstrap

    prefix = f"e2e-plan-{uuid.uuid4().hex[:8]}"
    queue = f"{prefix}.orders"
    files = rabbitmq_service.tls_files
    management = f"https://localhost:{rabbitmq_service.port('management_tls')}"
    user, admin_password = rabbitmq_service.credentials()
    with httpx.Client(
        base_url=management, auth=(user, admin_password), verify=str(files.ca_cert), timeout=30
    ) as api:
        api.put(f"/api/queues/%2F/{queue}", json={"durable": True}).raise_for_status()
        # plan reads users and permissions too, which RabbitMQ shows administrators only
        api.put(
            f"/api/users/{RABBIT_USER}", json={"password": rabbit_password, "tags": "administrator"}
        ).raise_for_status()
        try:
            source = (
                f"rabbitmq+https://{RABBIT_USER}:${{env:{PW_ENV}}}@localhost:"
                f"{rabbitmq_service.port('management_tls')}?cafile={files.ca_cert}"
            )
            out = tmp_path / "playbooks"
            planned = mqmigrate(
                [
                    "plan",
                    source,
                    "--prefix",
                    prefix,
                    "--kafka",
                    kafka.bootstrap,
                    "--replication",
                    "1",
                    "--strategy",
                    "drain-only",
                    "--name",
                    "secured",
                    "-o",
                    str(out),
                ],
                [rabbit_password, secret],
                env={PW_ENV: rabbit_password},
            )
        finally:
            api.delete(f"/api/queues/%2F/{queue}")
    assert planned.returncode == 0, planned.stderr[-2000:]

    playbook = out / "secured.yaml"
    document = yaml.safe_load(playbook.read_text())
    assert document["kafka"]["bootstrap"] == kafka.bootstrap
    # the connection by reference: the playbook names the file, the file names the password
    document["kafka"]["credentials"] = {"file": str(client_file)}
    (workload,) = document["workloads"]
    target = workload["target"]
    app, worker = f"User:app-{prefix}", f"User:worker-{prefix}"
    target["acls"] = [
        {"principal": app, "role": "produce", "pattern": "literal"},
        {"principal": worker, "role": "consume", "pattern": "literal"},
    ]
    playbook.write_text(yaml.safe_dump(document, sort_keys=False))
    assert secret not in playbook.read_text()

    done = mqmigrate(["provision", str(playbook), "--format", "json"], [secret])
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert {c["resource"] for c in report["changes"] if c["action"] == "create"} >= {
        "topic",
        "acls",
    }, report["changes"]

    topic, group, dlq = target["topic"], target["consumer"]["group"], target["dlq"]["topic"]
    admin = share.admin_client(config)
    try:
        assert share.describe_topic(admin, topic) is not None
        assert share.describe_topic(admin, dlq) is not None
        wanted = target["consumer"]["configs"]
        assert wanted and share.group_configs(admin, group, list(wanted)) == {
            k: str(v) for k, v in wanted.items()
        }

        def described(principal: str) -> set[tuple]:
            match = AclBindingFilter(
                ResourceType.ANY,
                None,
                ResourcePatternType.ANY,
                principal,
                None,
                AclOperation.ANY,
                AclPermissionType.ANY,
            )
            return {
                (b.restype.name, b.name, b.operation.name)
                for b in admin.describe_acls(match, request_timeout=30).result(timeout=30)
            }

        assert ("TOPIC", topic, "WRITE") in described(app)
        assert {("TOPIC", topic, "READ"), ("GROUP", group, "READ")} <= described(worker)

        again = mqmigrate(["provision", str(playbook), "--format", "json"], [secret])
        assert again.returncode == 0, again.stderr[-2000:]
        assert json.loads(again.stdout)["applied"] == 0
    finally:
        share.delete_topics(admin, [topic, dlq], missing_ok=True)
