"""Sources over TLS, end to end through the CLI: ``doctor --source``, ``assess`` live and
``bridge`` over ``amqps://`` (password and x509 EXTERNAL), the management API over https
(chosen by default for a TLS source), AMQP 1.0 over TLS (``amqp1s://``), and SQS through an
assumed role on moto's STS; and each bad input (unknown CA, expired or untrusted client
certificate, wrong password, wrong mechanism, TLS to a plaintext port, plaintext to a TLS port)
as one line, exit 2, within seconds.

The RabbitMQ node is a private one with the sandbox's secured listeners (its own CA under its
state directory, see mqmigrate.sandbox.rabbitmq_secured), so these tests do not depend on when
the shared sandbox was started; Kafka is the shared sandbox's plain listener.  Every password
reaches the child processes through the environment (``${env:NAME}`` in the URI), never the
command line, and every test checks it appears in no output.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.bridge import publish, read_topic, source_ids

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.kafka]
PW_ENV = "MQM_TLS_TEST_PASSWORD"


@pytest.fixture(scope="module")
def secured_rabbitmq(tmp_path_factory):
    """A RabbitMQ node with amqps, management over https and x509 EXTERNAL."""
    from tests.support.brokers import PrivateRabbitMQ

    broker = PrivateRabbitMQ(
        tmp_path_factory.mktemp("tls-rabbitmq"), name="rabbitmq-tls", secured=True
    )
    broker.start()
    try:
        yield broker.service
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def files(secured_rabbitmq):
    return secured_rabbitmq.tls_files


USER = "tls-svc"
#: the topic the refused bridges never reach, on the shared sandbox Kafka: this process's own
NEVER_TOPIC = f"srctls-never-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def password(secured_rabbitmq) -> str:
    """A user of this module's own with a password no other output contains."""
    secret = f"Pw-{uuid.uuid4().hex}"
    secured_rabbitmq.rabbitmqctl("add_user", USER, secret)
    secured_rabbitmq.rabbitmqctl("set_permissions", "-p", "/", USER, ".*", ".*", ".*")
    # assess reads users and permissions too, which RabbitMQ shows administrators only
    secured_rabbitmq.rabbitmqctl("set_user_tags", USER, "administrator")
    return secret


def run(
    args: list[str], password: str, *, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``mqmigrate ARGS`` in a child whose environment holds the password; the password is
    in no argument and in no output."""
    import os

    assert not any(password in a for a in args), "a secret on the command line"
    environ = {**os.environ, "PYTHONPATH": str(ROOT), PW_ENV: password, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "mqmigrate", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert password not in done.stdout and password not in done.stderr
    return done


def amqps(
    service,
    files,
    *,
    user: bool = True,
    port_key: str = "amqps",
    scheme: str = "amqps",
    extra: str = "",
) -> str:
    login = f"{USER}:${{env:{PW_ENV}}}@" if user else ""
    path = "/" if scheme.startswith("amqp") and "1" not in scheme else ""
    return (
        f"{scheme}://{login}localhost:{service.port(port_key)}{path}?cafile={files.ca_cert}" + extra
    )


def client_cert(files, identity: str = "client") -> str:
    return f"&certfile={files.dir / f'{identity}.pem'}&keyfile={files.dir / f'{identity}-key.pem'}"


def doctor(sources: list[str], password: str, kafka: str) -> dict:
    args = ["doctor", "-k", kafka, "--no-round-trip", "--timeout", "10", "-f", "json"]
    for source in sources:
        args += ["-s", source]
    done = run(args, password)
    return json.loads(done.stdout)


# -- doctor ----------------------------------------------------------------------------------
def test_doctor_over_amqps_https_management_and_amqp1s(
    secured_rabbitmq, files, password, kafka_bootstrap
):
    service = secured_rabbitmq
    sources = [
        amqps(service, files),  # password over TLS
        amqps(service, files, user=False, extra=client_cert(files)),  # x509 EXTERNAL
        f"rabbitmq+https://{USER}:${{env:{PW_ENV}}}@localhost:"
        f"{service.port('management_tls')}?cafile={files.ca_cert}",
        amqps(service, files, scheme="amqp1s"),  # AMQP 1.0, SASL PLAIN
        amqps(
            service, files, scheme="amqp1s", user=False, extra=client_cert(files)
        ),  # AMQP 1.0, EXTERNAL
    ]
    report = doctor(sources, password, kafka_bootstrap)
    checks = [c for c in report["checks"] if c["name"].startswith("source")]
    assert len(checks) == len(sources)
    for check in checks:
        assert check["result"] == "ok", check
        assert "RabbitMQ" in check["detail"]


# -- assess ----------------------------------------------------------------------------------
def test_assess_live_over_https_management(secured_rabbitmq, files, password, tmp_path):
    import pika

    from mqmigrate.sources.connect import pika_parameters
    from mqmigrate.sources.uri import parse_source_uri

    queue = f"tls-assess-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(
        pika_parameters(
            parse_source_uri(amqps(secured_rabbitmq, files, user=False, extra=client_cert(files)))
        )
    )
    try:
        connection.channel().queue_declare(
            queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
    finally:
        connection.close()
    out = tmp_path / "assessment.json"
    source = (
        f"rabbitmq+https://{USER}:${{env:{PW_ENV}}}@"
        f"localhost:{secured_rabbitmq.port('management_tls')}?cafile={files.ca_cert}"
    )
    done = run(["assess", source, "-f", "json", "-o", str(out)], password)
    assert done.returncode in (0, 1), done.stderr
    text = out.read_text()
    assert password not in text
    assert queue in text and "https://" in text


# -- bridge ----------------------------------------------------------------------------------
def _declare_and_publish(service, files, queue: str, n: int) -> list[str]:
    import pika

    from mqmigrate.sources.connect import pika_parameters
    from mqmigrate.sources.uri import parse_source_uri

    connection = pika.BlockingConnection(
        pika_parameters(
            parse_source_uri(amqps(service, files, user=False, extra=client_cert(files)))
        )
    )
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare(queue + ".x", "direct", durable=True)
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, queue + ".x", routing_key=queue)
        return publish(channel, queue + ".x", queue, n, prefix=queue)
    finally:
        connection.close()


@pytest.mark.parametrize("auth", ["password", "external"])
def test_bridge_drains_over_amqps(
    secured_rabbitmq, files, password, kafka_bootstrap, kafka_topics, auth
):
    queue = f"tls-drain-{auth}-{uuid.uuid4().hex[:8]}"
    topic = kafka_topics(queue)
    ids = _declare_and_publish(secured_rabbitmq, files, queue, 200)
    source = (
        amqps(secured_rabbitmq, files)
        if auth == "password"
        else amqps(secured_rabbitmq, files, user=False, extra=client_cert(files))
    )
    done = run(
        [
            "bridge",
            "--source",
            source,
            "--queue",
            queue,
            "--kafka",
            kafka_bootstrap,
            "--topic",
            topic,
            "--idle-exit",
            "2",
            "--log-format",
            "json",
        ],
        password,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(source_ids(read_topic(kafka_bootstrap, topic))) == sorted(ids)


def test_bridge_shadow_reads_bindings_over_https_by_default(
    secured_rabbitmq, files, password, kafka_bootstrap, kafka_topics
):
    """Shadow mode needs the queue's bindings from the management API: for an amqps:// source
    it is https on port 15671's counterpart, with the source's CA and credentials."""
    queue = f"tls-shadow-{uuid.uuid4().hex[:8]}"
    topic = kafka_topics(queue)
    management = f"https://localhost:{secured_rabbitmq.port('management_tls')}"
    source = amqps(secured_rabbitmq, files)
    args = [
        "bridge",
        "--source",
        source,
        "--queue",
        queue,
        "--kafka",
        kafka_bootstrap,
        "--topic",
        topic,
        "--mode",
        "shadow",
        "--idle-exit",
        "3",
        "--remove-shadow",
        "--management-url",
        management,
        "--log-format",
        "json",
    ]
    _declare_and_publish(secured_rabbitmq, files, queue, 0)
    process = subprocess.Popen(
        [sys.executable, "-m", "mqmigrate", *args],
        cwd=ROOT,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT), PW_ENV: password},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(4)  # the shadow queue is declared and bound before copies can arrive
        ids = _declare_and_publish(secured_rabbitmq, files, queue, 50)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-2000:]
    assert password not in out + err
    assert sorted(source_ids(read_topic(kafka_bootstrap, topic))) == sorted(ids)


def test_a_plain_http_management_url_is_refused_for_a_tls_source(
    secured_rabbitmq, files, password, kafka_bootstrap, never_topic
):
    done = run(
        [
            "bridge",
            "--source",
            amqps(secured_rabbitmq, files),
            "--queue",
            "q",
            "--kafka",
            kafka_bootstrap,
            "--topic",
            NEVER_TOPIC,
            "--create-topics",
            "--mode",
            "shadow",
            "--management-url",
            "http://rabbit.example:15672",
        ],
        password,
        timeout=30,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "plain HTTP" in lines[0], done.stderr


def test_bridge_from_amqp1s(secured_rabbitmq, files, password, kafka_bootstrap, kafka_topics):
    queue = f"tls-amqp1-{uuid.uuid4().hex[:8]}"
    topic = kafka_topics(queue)
    ids = _declare_and_publish(secured_rabbitmq, files, queue, 100)
    done = run(
        [
            "bridge",
            "--source",
            amqps(secured_rabbitmq, files, scheme="amqp1s"),
            "--queue",
            queue,
            "--kafka",
            kafka_bootstrap,
            "--topic",
            topic,
            "--idle-exit",
            "2",
            "--log-format",
            "json",
        ],
        password,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(source_ids(read_topic(kafka_bootstrap, topic))) == sorted(ids)


# -- SQS through an assumed role ---------------------------------------------------------------
@pytest.mark.sqs
def test_bridge_from_sqs_through_an_assumed_role(moto_service, kafka_bootstrap, kafka_topics):
    """``?role_arn=&external_id=`` assumes the role on the endpoint's STS (moto) and the
    client signs with the role's temporary credentials (an ``ASIA`` key)."""
    import boto3

    from mqmigrate.sources.connect import sqs_client
    from mqmigrate.sources.uri import parse_source_uri

    endpoint = moto_service.endpoint_url
    host = endpoint.split("://", 1)[1]
    from mqmigrate.sandbox import sts

    uri = (
        f"sqs+http://{host}?region=us-east-1&role_arn={quote(sts.ROLE_ARN, safe='')}"
        "&external_id=${env:MQM_SQS_EXTERNAL_ID}&session_name=tls-test"
    )
    secret_external_id = sts.EXTERNAL_ID  # the sandbox role's trust policy names it
    admin = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    queue = f"tls-role-{uuid.uuid4().hex[:8]}"
    url = admin.create_queue(QueueName=queue)["QueueUrl"]
    try:
        ids = [f"{queue}-{i}" for i in range(40)]
        for i in range(0, 40, 10):
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
                    for j, mid in enumerate(ids[i : i + 10])
                ],
            )
        import os

        os.environ["MQM_SQS_EXTERNAL_ID"] = secret_external_id
        try:
            client = sqs_client(parse_source_uri(uri))
            client.get_queue_url(QueueName=queue)
            assert (
                client._request_signer._credentials.get_frozen_credentials().access_key.startswith(
                    "ASIA"
                )
            )  # moto's assumed-role keys
        finally:
            del os.environ["MQM_SQS_EXTERNAL_ID"]
        topic = kafka_topics(queue)
        # the sandbox's external id is also in its role's name: the leak check uses a marker
        done = run(
            [
                "bridge",
                "--source",
                uri,
                "--queue",
                queue,
                "--kafka",
                kafka_bootstrap,
                "--topic",
                topic,
                "--idle-exit",
                "3",
                "--log-format",
                "json",
            ],
            f"unused-{uuid.uuid4().hex}",
            env={"MQM_SQS_EXTERNAL_ID": secret_external_id},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert len(read_topic(kafka_bootstrap, topic)) == 40
    finally:
        admin.delete_queue(QueueUrl=url)


# -- bad input ---------------------------------------------------------------------------------
def _one_line_error(source: str, password: str, kafka: str, *, limit: float = 20) -> str:
    """``doctor --source`` and ``bridge --source`` both fail with one line and exit 2."""
    report = doctor([source], password, kafka)
    check = [c for c in report["checks"] if c["name"].startswith("source")][0]
    assert check["result"] != "ok"
    began = time.monotonic()
    done = run(
        [
            "bridge",
            "--source",
            source,
            "--queue",
            "q-never",
            "--kafka",
            kafka,
            "--topic",
            NEVER_TOPIC,
            "--create-topics",
            "--idle-exit",
            "1",
        ],
        password,
        timeout=60,
    )
    elapsed = time.monotonic() - began
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert elapsed < limit, f"{elapsed:.1f}s"
    return check["detail"] + " | " + lines[0]


@pytest.fixture(scope="module")
def never_topic(kafka_bootstrap):
    yield
    from mqmigrate.kafka.admin import delete_topics

    delete_topics(kafka_bootstrap, [NEVER_TOPIC, NEVER_TOPIC + ".quarantine"])


def test_unknown_ca(secured_rabbitmq, files, password, kafka_bootstrap, never_topic):
    source = amqps(secured_rabbitmq, files).replace(str(files.ca_cert), str(files.unknown_ca_cert))
    text = _one_line_error(source, password, kafka_bootstrap)
    assert "unknown CA" in text and f":{secured_rabbitmq.port('amqps')}" in text


@pytest.mark.parametrize("identity", ["expired-client", "unknown-ca-client"])
def test_client_certificate_refused(
    secured_rabbitmq, files, password, kafka_bootstrap, never_topic, identity
):
    source = amqps(secured_rabbitmq, files, user=False, extra=client_cert(files, identity))
    text = _one_line_error(source, password, kafka_bootstrap)
    assert "client certificate" in text, text


def test_wrong_password_over_tls(secured_rabbitmq, files, kafka_bootstrap, never_topic, password):
    source = amqps(secured_rabbitmq, files).replace(f"${{env:{PW_ENV}}}", "not-the-password")
    text = _one_line_error(source, password, kafka_bootstrap)
    assert "refused" in text.lower() or "authentication" in text.lower(), text


def test_wrong_mechanism(secured_rabbitmq, files, password, kafka_bootstrap, never_topic):
    source = amqps(secured_rabbitmq, files, scheme="amqp1s", extra="&sasl_mechanisms=CRAM-MD5")
    text = _one_line_error(source, password, kafka_bootstrap)
    assert "mechanism" in text, text


def test_tls_to_a_plaintext_port(secured_rabbitmq, files, password, kafka_bootstrap, never_topic):
    source = amqps(secured_rabbitmq, files, port_key="amqp")
    text = _one_line_error(source, password, kafka_bootstrap)
    assert "does not speak TLS" in text and f":{secured_rabbitmq.port('amqp')}" in text


def test_plaintext_to_a_tls_port(secured_rabbitmq, files, password, kafka_bootstrap, never_topic):
    source = f"amqp://{USER}:${{env:{PW_ENV}}}@localhost:{secured_rabbitmq.port('amqps')}/"
    text = _one_line_error(source, password, kafka_bootstrap, limit=30)
    assert "may expect TLS" in text, text


# -- the dual-write SDK ------------------------------------------------------------------------
def test_dualwrite_sources_publish_over_tls(secured_rabbitmq, files, password, monkeypatch):
    """``PikaSource`` (x509 EXTERNAL) and ``ProtonSource`` (amqp1s, SASL PLAIN with the password
    from ``${env:}``) take the same URIs as ``--source``; the messages arrive."""
    import pika

    from mqmigrate.sdk.dualwrite import PikaSource, ProtonSource
    from mqmigrate.sources.connect import pika_parameters
    from mqmigrate.sources.uri import parse_source_uri

    monkeypatch.setenv(PW_ENV, password)
    queue = f"tls-dualwrite-{uuid.uuid4().hex[:8]}"
    _declare_and_publish(secured_rabbitmq, files, queue, 0)
    rabbit = PikaSource(
        amqps(secured_rabbitmq, files, user=False, extra=client_cert(files)), routing_key=queue
    )
    amqp1 = ProtonSource(amqps(secured_rabbitmq, files, scheme="amqp1s"), f"/amq/queue/{queue}")
    try:
        rabbit.send(b"over amqps", "dw-1", {}, None)
        amqp1.send(b"over amqp1s", "dw-2", {}, None)
    finally:
        rabbit.close()
        amqp1.close()
    connection = pika.BlockingConnection(
        pika_parameters(parse_source_uri(amqps(secured_rabbitmq, files)))
    )
    try:
        channel = connection.channel()
        bodies = set()
        deadline = time.monotonic() + 10
        while len(bodies) < 2 and time.monotonic() < deadline:
            _, _, body = channel.basic_get(queue, auto_ack=True)
            if body is None:
                time.sleep(0.1)
                continue
            bodies.add(body)
        assert bodies == {b"over amqps", b"over amqp1s"}
    finally:
        connection.close()


# -- ActiveMQ Artemis: TLS acceptor and Jolokia over https --------------------------------
@pytest.fixture(scope="module")
def artemis_password() -> str:
    return f"Pw-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def secured_artemis(tmp_path_factory, artemis_service, artemis_password):
    """A private Artemis with the TLS acceptor and https console, and user ``tls-svc``."""
    from tests.support.brokers import PrivateArtemis

    broker = PrivateArtemis(
        tmp_path_factory.mktemp("tls-artemis"), artemis_service.ctx.cache_dir, secured=True
    )
    broker.create()
    etc = broker.service.instance / "etc"
    with open(etc / "artemis-users.properties", "a") as users:
        users.write(f"\n{USER} = {artemis_password}\n")
    roles = (etc / "artemis-roles.properties").read_text().splitlines()
    roles = [f"{line},{USER}" if line.split("=", 1)[0].strip() == "amq" else line for line in roles]
    (etc / "artemis-roles.properties").write_text("\n".join(roles) + "\n")
    broker.start()
    try:
        yield broker.service
    finally:
        broker.stop()


def artemis_amqp1s(service, *, user: bool = True, extra: str = "") -> str:
    login = f"{USER}:${{env:{PW_ENV}}}@" if user else ""
    return (
        f"amqp1s://{login}localhost:{service.port('tls')}?cafile={service.tls_files.ca_cert}"
        + extra
    )


def jolokia(service) -> str:
    # 127.0.0.1: the console's CORS allow-list names the host it was created for
    return (
        f"artemis+https://{USER}:${{env:{PW_ENV}}}@127.0.0.1:{service.port('console_tls')}"
        f"?cafile={service.tls_files.ca_cert}"
    )


def artemis_management(service, artemis_password: str):
    import os

    from mqmigrate.sources.amqp1.artemis import ArtemisManagement
    from mqmigrate.sources.uri import parse_source_uri

    os.environ[PW_ENV] = artemis_password
    try:
        return ArtemisManagement(parse_source_uri(jolokia(service)))
    finally:
        del os.environ[PW_ENV]


@pytest.mark.amqp1
def test_doctor_over_the_tls_acceptor_and_https_jolokia(
    secured_artemis, artemis_password, kafka_bootstrap
):
    report = doctor(
        [artemis_amqp1s(secured_artemis), jolokia(secured_artemis)],
        artemis_password,
        kafka_bootstrap,
    )
    checks = [c for c in report["checks"] if c["name"].startswith("source")]
    assert [c["result"] for c in checks] == ["ok", "ok"], checks
    assert "artemis" in checks[0]["detail"].lower() and "Jolokia" in checks[1]["detail"]


@pytest.mark.amqp1
def test_assess_live_over_https_jolokia(secured_artemis, artemis_password, tmp_path):
    queue = f"tls-assess-{uuid.uuid4().hex[:8]}"
    api = artemis_management(secured_artemis, artemis_password)
    try:
        api.create_queue(queue, queue, "anycast")
    finally:
        api.close()
    out = tmp_path / "assessment.json"
    done = run(["assess", jolokia(secured_artemis), "-f", "json", "-o", str(out)], artemis_password)
    assert done.returncode in (0, 1), done.stderr
    text = out.read_text()
    assert queue in text and artemis_password not in text


@pytest.mark.amqp1
def test_bridge_from_artemis_over_tls(
    secured_artemis, artemis_password, kafka_bootstrap, kafka_topics
):
    import os

    from proton import Message

    from mqmigrate.sources.amqp1 import queue_capability
    from mqmigrate.sources.connect import proton_blocking_connection
    from mqmigrate.sources.uri import parse_source_uri

    queue = f"tls-bridge-{uuid.uuid4().hex[:8]}"
    topic = kafka_topics(queue)
    api = artemis_management(secured_artemis, artemis_password)
    try:
        api.create_queue(queue, queue, "anycast")
    finally:
        api.close()
    os.environ[PW_ENV] = artemis_password
    try:
        connection = proton_blocking_connection(
            parse_source_uri(artemis_amqp1s(secured_artemis)), timeout=30
        )
    finally:
        del os.environ[PW_ENV]
    ids = [f"{queue}-{i}" for i in range(100)]
    try:
        sender = connection.create_sender(queue, options=[queue_capability()])
        for mid in ids:
            sender.send(Message(id=mid, body=mid.encode(), durable=True))
    finally:
        connection.close()
    done = run(
        [
            "bridge",
            "--source",
            artemis_amqp1s(secured_artemis),
            "--queue",
            queue,
            "--kafka",
            kafka_bootstrap,
            "--topic",
            topic,
            "--idle-exit",
            "2",
            "--management-url",
            f"https://127.0.0.1:{secured_artemis.port('console_tls')}",
            "--log-format",
            "json",
        ],
        artemis_password,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(source_ids(read_topic(kafka_bootstrap, topic))) == sorted(ids)
    api = artemis_management(secured_artemis, artemis_password)
    try:
        assert api.message_count(queue) == 0  # depth over https: drained
    finally:
        api.close()


@pytest.mark.amqp1
def test_artemis_wrong_password(secured_artemis, artemis_password, kafka_bootstrap, never_topic):
    source = artemis_amqp1s(secured_artemis).replace(
        f"${{env:{PW_ENV}}}", "not-the-artemis_password"
    )
    text = _one_line_error(source, artemis_password, kafka_bootstrap)
    assert "refused the credentials" in text, text


@pytest.mark.amqp1
def test_artemis_unknown_ca(secured_artemis, artemis_password, kafka_bootstrap, never_topic):
    files = secured_artemis.tls_files
    source = artemis_amqp1s(secured_artemis).replace(str(files.ca_cert), str(files.unknown_ca_cert))
    text = _one_line_error(source, artemis_password, kafka_bootstrap)
    assert "unknown CA" in text, text


@pytest.mark.amqp1
def test_artemis_expired_client_certificate(
    secured_artemis, artemis_password, kafka_bootstrap, never_topic
):
    files = secured_artemis.tls_files
    source = artemis_amqp1s(
        secured_artemis,
        extra=f"&certfile={files.expired_client_cert}&keyfile={files.expired_client_key}",
    )
    text = _one_line_error(source, artemis_password, kafka_bootstrap)
    assert "client certificate" in text, text
