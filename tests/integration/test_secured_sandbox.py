"""The sandbox's secured listeners accept the right credentials and refuse wrong ones.

Plain client libraries only (confluent-kafka, pika, proton, boto3): the product's own
commands over these listeners are tested where those commands are.  Every refusal is
bounded in time and checked for its cause (the client's log line), so a listener that is
merely down cannot pass for one that refuses.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import AcknowledgeType, KafkaException, Producer, ShareConsumer
from confluent_kafka.admin import AdminClient

from mqmigrate.kafka import share
from mqmigrate.kafka.config import read_config_file
from mqmigrate.sandbox import kafka_secured, tls

pytestmark = [pytest.mark.integration]

REFUSAL_TIMEOUT = 10.0


# -- helpers -------------------------------------------------------------------------------


def load_client_properties(path: Path) -> dict[str, str]:
    """A sandbox ``client-*.properties`` file as a confluent-kafka dict, read the way
    ``--kafka-config`` reads it (``${file:PATH}`` expanded)."""
    from mqmigrate.kafka.config import read_config_file

    return read_config_file(path).client()


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def kafka_attempt(
    config: dict[str, str], *, expect: str | None = None, timeout: float = REFUSAL_TIMEOUT
) -> tuple[bool, str]:
    """Ask for metadata with ``config``; return (answered, everything the client logged).

    Gives up after ``timeout`` seconds, or as soon as a log line contains ``expect``.
    """
    capture = _Capture()
    logger = logging.getLogger(f"secured-sandbox-{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)  # librdkafka's connection failures are info-level lines
    logger.addHandler(capture)
    errors: list[str] = []
    admin = AdminClient(
        {
            **config,
            "logger": logger,
            "socket.timeout.ms": 5000,
            "error_cb": lambda err: errors.append(str(err)),
        }
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=1.5)
            return True, "\n".join(capture.lines + errors)
        except KafkaException:
            admin.poll(0.2)  # serves the log and error callbacks
            if expect and any(expect in line for line in capture.lines + errors):
                break
    return False, "\n".join(capture.lines + errors)


def tls_alert(address: str, files: tls.TlsFiles, identity: str) -> str:
    """The TLS alert a server answers a client certificate with (its SSLError text), or "".

    Under TLS 1.3 the server checks the client certificate after the client considers the
    handshake done, so a driver may see the refusal as its alert or as a bare EOF, depending
    on timing.  Under TLS 1.2 the check is part of the handshake, so the alert always arrives
    before the handshake completes: this probe uses TLS 1.2 to read the cause reliably.
    """
    import socket
    import ssl

    host, _, port = address.rpartition(":")
    context = ssl.create_default_context(cafile=str(files.ca_cert))
    context.load_cert_chain(
        str(files.dir / f"{identity}.pem"), str(files.dir / f"{identity}-key.pem")
    )
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.recv(1)
    except ssl.SSLError as exc:
        return str(exc)
    return ""


def tail(log: str, keep: int = 4) -> str:
    """The first ``keep`` lines of a client log, for an assertion message (librdkafka repeats
    itself on every retry)."""
    return "\n".join(log.splitlines()[:keep])


# -- Kafka ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka_secured_dir(kafka_service) -> Path:
    """The sandbox Kafka's directory, once its secured listeners answer a TLS handshake."""
    secured = kafka_service.secured_listeners()
    try:
        for key in kafka_secured.SECURED_PORTS:
            tls.check_tls_listener(secured.address(key), secured.tls)
    except OSError as exc:
        pytest.fail(
            f"the sandbox Kafka has no secured listeners ({exc}); it was started by a "
            "release without them: mqmigrate sandbox down -s kafka && "
            "mqmigrate sandbox up -s kafka"
        )
    return kafka_service.dir


def _client(kafka_secured_dir: Path, stem: str) -> dict[str, str]:
    """The sandbox's ``client-*.properties`` file as read by ``--kafka-config`` (the
    ``${file:...}`` password reference expanded)."""
    return read_config_file(kafka_secured_dir / f"{stem}.properties").client()


@pytest.mark.kafka
@pytest.mark.parametrize("stem", ["client-scram", "client-plain", "client-oauth", "client-mtls"])
def test_kafka_listener_accepts_its_client_file(kafka_secured_dir, stem, unique_name):
    config = _client(kafka_secured_dir, stem)
    assert "${" not in "".join(map(str, config.values()))
    answered, log = kafka_attempt(config, timeout=30)
    assert answered, tail(log)
    # a produce/consume round trip through the listener, not only metadata
    admin = AdminClient(config)
    share.create_topic(admin, unique_name, partitions=1)
    try:
        producer = Producer({**config, "acks": "all"})
        producer.produce(unique_name, b"over " + stem.encode())
        assert producer.flush(30) == 0
        from confluent_kafka import Consumer

        consumer = Consumer({**config, "group.id": unique_name, "auto.offset.reset": "earliest"})
        try:
            consumer.subscribe([unique_name])
            deadline, value = time.monotonic() + 30, None
            while value is None and time.monotonic() < deadline:
                msg = consumer.poll(1.0)
                if msg is not None and msg.error() is None:
                    value = msg.value()
        finally:
            consumer.close()
        assert value == b"over " + stem.encode()
    finally:
        share.delete_topic(admin, unique_name)


@pytest.mark.kafka
@pytest.mark.parametrize("stem", ["client-scram", "client-oauth"])
def test_share_group_round_trip_over_sasl_ssl(kafka_secured_dir, stem, unique_name):
    """Every client here, admin included, talks to the secured listener only."""
    config = _client(kafka_secured_dir, stem)
    admin = AdminClient(config)
    share.create_topic(admin, unique_name, partitions=1)
    try:
        group = f"g-{unique_name}"
        share.set_group_configs(admin, group, {"share.auto.offset.reset": "earliest"})
        producer = Producer({**config, "acks": "all"})
        sent = [f"{stem}-{i}".encode() for i in range(20)]
        for value in sent:
            producer.produce(unique_name, value)
        assert producer.flush(30) == 0
        consumer = ShareConsumer(
            {**config, "group.id": group, "share.acknowledgement.mode": "explicit"}
        )
        received: list[bytes] = []
        try:
            consumer.subscribe([unique_name])
            deadline = time.monotonic() + 60
            while len(received) < len(sent) and time.monotonic() < deadline:
                for msg in consumer.poll(1.0) or []:
                    if msg.error() is None:
                        received.append(msg.value())
                        consumer.acknowledge(msg, AcknowledgeType.ACCEPT)
                consumer.commit_sync(10)
        finally:
            consumer.close()
        assert sorted(received) == sorted(sent)
    finally:
        share.delete_topic(admin, unique_name)


@pytest.mark.kafka
def test_kafka_refuses_a_wrong_scram_password(kafka_secured_dir):
    config = {**_client(kafka_secured_dir, "client-scram"), "sasl.password": "wrong-password"}
    began = time.monotonic()
    answered, log = kafka_attempt(config, expect="invalid credentials")
    assert not answered
    assert "Authentication failed" in log and "invalid credentials" in log, tail(log)
    assert time.monotonic() - began < REFUSAL_TIMEOUT + 5


@pytest.mark.kafka
def test_kafka_refuses_an_unknown_scram_user(kafka_secured_dir):
    config = {**_client(kafka_secured_dir, "client-scram"), "sasl.username": "nobody"}
    answered, log = kafka_attempt(config, expect="invalid credentials")
    assert not answered and "invalid credentials" in log, tail(log)


@pytest.mark.kafka
def test_kafka_refuses_a_mechanism_the_listener_does_not_offer(kafka_secured_dir):
    config = {**_client(kafka_secured_dir, "client-scram"), "sasl.mechanism": "SCRAM-SHA-256"}
    # SCRAM-SHA-256 is offered on the SCRAM listener; OAUTHBEARER's listener offers only that
    answered, _ = kafka_attempt(config, timeout=30)
    assert answered
    oauth_port = _client(kafka_secured_dir, "client-oauth")["bootstrap.servers"]
    config = {**config, "bootstrap.servers": oauth_port}
    answered, log = kafka_attempt(config, expect="Unsupported SASL mechanism")
    assert not answered and "Unsupported SASL mechanism" in log, tail(log)


@pytest.mark.kafka
@pytest.mark.parametrize(
    "identity, alert",
    [
        # signed by the sandbox CA, dates over: the broker's certificate_unknown alert
        ("expired-client", "alert certificate unknown"),
        # the broker names the sandbox CA as the only acceptable issuer, so librdkafka withholds
        # this certificate ("No matching issuer found") and the broker refuses with bad_certificate
        ("unknown-ca-client", "alert bad certificate"),
    ],
)
def test_mtls_refuses_a_client_certificate_it_cannot_trust(kafka_secured_dir, identity, alert):
    tls_dir = kafka_secured_dir.parent / "tls"
    config = {
        **_client(kafka_secured_dir, "client-mtls"),
        "ssl.certificate.location": str(tls_dir / f"{identity}.pem"),
        "ssl.key.location": str(tls_dir / f"{identity}-key.pem"),
    }
    answered, log = kafka_attempt(config, expect=alert)
    assert not answered
    # the broker's TLS alert, not a closed port: the handshake reached client authentication
    assert alert in log, tail(log)


@pytest.mark.kafka
def test_mtls_refuses_a_client_without_certificate(kafka_secured_dir):
    config = _client(kafka_secured_dir, "client-mtls")
    del config["ssl.certificate.location"], config["ssl.key.location"]
    answered, log = kafka_attempt(config, expect="alert bad certificate")
    assert not answered and "alert bad certificate" in log, tail(log)


@pytest.mark.kafka
def test_client_refuses_a_server_signed_by_another_ca(kafka_secured_dir):
    config = {
        **_client(kafka_secured_dir, "client-scram"),
        "ssl.ca.location": str(kafka_secured_dir.parent / "tls" / "unknown-ca.pem"),
    }
    answered, log = kafka_attempt(config, expect="certificate verify failed")
    assert not answered and "certificate verify failed" in log, tail(log)


@pytest.mark.kafka
@pytest.mark.parametrize("stem", ["client-scram", "client-mtls"])
def test_plaintext_to_a_tls_port_is_refused(kafka_secured_dir, stem):
    bootstrap = _client(kafka_secured_dir, stem)["bootstrap.servers"]
    answered, log = kafka_attempt({"bootstrap.servers": bootstrap}, expect="Disconnected")
    assert not answered
    assert "APIVERSION_QUERY" in log, log  # the broker hung up on the plaintext request


@pytest.mark.kafka
def test_tls_to_the_plaintext_port_is_refused(kafka_secured_dir, kafka_bootstrap):
    config = {**_client(kafka_secured_dir, "client-scram"), "bootstrap.servers": kafka_bootstrap}
    answered, log = kafka_attempt(config, expect="SSL handshake failed")
    assert not answered and "SSL handshake failed" in log, tail(log)


# -- RabbitMQ ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rabbit_tls(rabbitmq_service):
    """The sandbox RabbitMQ, once its amqps listener answers a TLS handshake."""
    try:
        tls.check_tls_listener(
            f"127.0.0.1:{rabbitmq_service.port('amqps')}", rabbitmq_service.tls_files
        )
    except OSError as exc:
        pytest.fail(
            f"the sandbox RabbitMQ has no amqps listener ({exc}); it was started by a "
            "release without it: mqmigrate sandbox down -s rabbitmq && "
            "mqmigrate sandbox up -s rabbitmq"
        )
    return rabbitmq_service


def _ssl_context(files: tls.TlsFiles, *, ca: Path | None = None, identity: str | None = None):
    import ssl

    context = ssl.create_default_context(cafile=str(ca or files.ca_cert))
    if identity:
        context.load_cert_chain(
            str(files.dir / f"{identity}.pem"), str(files.dir / f"{identity}-key.pem")
        )
    return context


def _pika_connect(service, *, context=None, credentials=None, port_key: str = "amqps"):
    import pika

    user, password = service.credentials()
    return pika.BlockingConnection(
        pika.ConnectionParameters(
            host="127.0.0.1",
            port=service.port(port_key),
            credentials=credentials or pika.PlainCredentials(user, password),
            ssl_options=pika.SSLOptions(context, "localhost") if context else None,
            connection_attempts=1,
            socket_timeout=5,
            stack_timeout=10,
            blocked_connection_timeout=5,
        )
    )


def _round_trip(connection, queue: str) -> bytes | None:
    channel = connection.channel()
    channel.queue_declare(queue, auto_delete=True)
    channel.basic_publish("", queue, b"over amqps")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, _, body = channel.basic_get(queue, auto_ack=True)
        if body is not None:
            return body
        time.sleep(0.1)
    return None


@pytest.mark.rabbitmq
def test_amqps_accepts_a_password_login(rabbit_tls, unique_name):
    connection = _pika_connect(rabbit_tls, context=_ssl_context(rabbit_tls.tls_files))
    try:
        assert _round_trip(connection, unique_name) == b"over amqps"
    finally:
        connection.close()


@pytest.mark.rabbitmq
def test_amqps_accepts_x509_external_as_the_certificates_cn(rabbit_tls, unique_name):
    import httpx
    import pika

    context = _ssl_context(rabbit_tls.tls_files, identity="client")
    connection = _pika_connect(
        rabbit_tls, context=context, credentials=pika.credentials.ExternalCredentials()
    )
    try:
        assert _round_trip(connection, unique_name) == b"over amqps"
        user, password = rabbit_tls.credentials()
        # the broker's own view: the connection is TLS, authenticated as the CN, by EXTERNAL
        deadline, mine = time.monotonic() + 15, []
        while not mine and time.monotonic() < deadline:
            listed = httpx.get(
                f"{rabbit_tls.management_url}api/connections", auth=(user, password), timeout=5
            ).json()
            mine = [c for c in listed if c.get("user") == tls.CLIENT_CN]
            time.sleep(0.5)
        assert mine and mine[0]["ssl"] is True and mine[0]["auth_mechanism"] == "EXTERNAL"
    finally:
        connection.close()


@pytest.mark.rabbitmq
def test_amqps_refuses_a_wrong_password(rabbit_tls):
    import pika

    user, _ = rabbit_tls.credentials()
    began = time.monotonic()
    with pytest.raises(pika.exceptions.ProbableAuthenticationError, match="ACCESS_REFUSED"):
        _pika_connect(
            rabbit_tls,
            context=_ssl_context(rabbit_tls.tls_files),
            credentials=pika.PlainCredentials(user, "wrong-password"),
        )
    assert time.monotonic() - began < 15


@pytest.mark.rabbitmq
@pytest.mark.parametrize(
    "identity, alert",
    [
        ("expired-client", "CERTIFICATE_EXPIRED"),
        ("unknown-ca-client", "UNKNOWN_CA"),
    ],
)
def test_amqps_refuses_a_client_certificate_it_cannot_trust(rabbit_tls, identity, alert):
    import ssl

    import pika

    context = _ssl_context(rabbit_tls.tls_files, identity=identity)
    began = time.monotonic()
    with pytest.raises((pika.exceptions.AMQPConnectionError, ssl.SSLError)):
        _pika_connect(
            rabbit_tls, context=context, credentials=pika.credentials.ExternalCredentials()
        )
    assert time.monotonic() - began < 15
    # the cause: the broker's TLS alert for this certificate
    answer = tls_alert(f"127.0.0.1:{rabbit_tls.port('amqps')}", rabbit_tls.tls_files, identity)
    assert alert in answer, answer


@pytest.mark.rabbitmq
def test_amqps_client_refuses_a_server_it_cannot_verify(rabbit_tls):
    import pika

    import ssl

    context = _ssl_context(rabbit_tls.tls_files, ca=rabbit_tls.tls_files.unknown_ca_cert)
    # pika lets the handshake's own error through here
    with pytest.raises((pika.exceptions.AMQPConnectionError, ssl.SSLError)) as refused:
        _pika_connect(rabbit_tls, context=context)
    assert "CERTIFICATE_VERIFY_FAILED" in repr(refused.value), repr(refused.value)


@pytest.mark.rabbitmq
def test_plaintext_amqp_to_the_amqps_port_is_refused(rabbit_tls):
    import pika

    began = time.monotonic()
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        _pika_connect(rabbit_tls, context=None)  # plain AMQP to the TLS port
    assert time.monotonic() - began < 15


@pytest.mark.rabbitmq
def test_management_over_https(rabbit_tls):
    import httpx

    user, password = rabbit_tls.credentials()
    url = f"{rabbit_tls.management_tls_url}api/overview"
    files = rabbit_tls.tls_files
    response = httpx.get(url, auth=(user, password), timeout=5, verify=_ssl_context(files))
    assert response.status_code == 200 and response.json()["rabbitmq_version"]
    assert (
        httpx.get(
            url, auth=(user, "wrong-password"), timeout=5, verify=_ssl_context(files)
        ).status_code
        == 401
    )
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(
            url,
            auth=(user, password),
            timeout=5,
            verify=_ssl_context(files, ca=files.unknown_ca_cert),
        )
    # plain http to the https port: no answer a client could take for success
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https://", "http://"), timeout=5)


@pytest.mark.rabbitmq
@pytest.mark.amqp1
def test_amqp10_over_tls_on_the_amqps_port(rabbit_tls, unique_name):
    from proton import Message, SSLDomain
    from proton.utils import BlockingConnection

    with _pika_connect(rabbit_tls, port_key="amqp") as setup:
        setup.channel().queue_declare(unique_name, auto_delete=False)
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_trusted_ca_db(str(rabbit_tls.tls_files.ca_cert))
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    user, password = rabbit_tls.credentials()
    connection = BlockingConnection(
        f"amqps://localhost:{rabbit_tls.port('amqps')}",
        timeout=10,
        ssl_domain=domain,
        sasl_enabled=True,
        allowed_mechs="PLAIN",
        user=user,
        password=password,
    )
    try:
        address = f"/amq/queue/{unique_name}"
        connection.create_sender(address).send(Message(body="over amqp1s"))
        receiver = connection.create_receiver(address)
        message = receiver.receive(timeout=10)
        receiver.accept()
        assert message.body == "over amqp1s"
    finally:
        connection.close()
        with _pika_connect(rabbit_tls, port_key="amqp") as cleanup:
            cleanup.channel().queue_delete(unique_name)


# -- Artemis -------------------------------------------------------------------------------

ARTEMIS_MBEAN = 'org.apache.activemq.artemis:broker="mqmigrate"'


@pytest.fixture(scope="module")
def artemis_tls(artemis_service):
    """The sandbox Artemis, once its TLS acceptor answers a TLS handshake."""
    try:
        tls.check_tls_listener(
            f"127.0.0.1:{artemis_service.port('tls')}", artemis_service.tls_files
        )
    except OSError as exc:
        pytest.fail(
            f"the sandbox Artemis has no TLS acceptor ({exc}); it was started by a "
            "release without it: mqmigrate sandbox down -s artemis && "
            "mqmigrate sandbox up -s artemis"
        )
    return artemis_service


def _proton_domain(files: tls.TlsFiles, *, ca: Path | None = None, identity: str | None = None):
    from proton import SSLDomain

    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_trusted_ca_db(str(ca or files.ca_cert))
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    if identity:
        domain.set_credentials(
            str(files.dir / f"{identity}.pem"), str(files.dir / f"{identity}-key.pem"), None
        )
    return domain


def _artemis_connect(
    service,
    *,
    password: str | None = None,
    ca: Path | None = None,
    identity: str | None = None,
    scheme: str = "amqps",
    timeout: float = 5,
):
    from proton.utils import BlockingConnection

    user, right = service.credentials()
    ssl = (
        {"ssl_domain": _proton_domain(service.tls_files, ca=ca, identity=identity)}
        if scheme == "amqps"
        else {}
    )
    return BlockingConnection(
        f"{scheme}://localhost:{service.port('tls')}",
        timeout=timeout,
        sasl_enabled=True,
        allowed_mechs="PLAIN",
        user=user,
        password=right if password is None else password,
        **ssl,
    )


@pytest.mark.amqp1
@pytest.mark.parametrize("identity", [None, "client"])
def test_artemis_tls_acceptor_round_trip(artemis_tls, unique_name, identity):
    from proton import Message

    config = {
        "name": unique_name,
        "address": unique_name,
        "routing-type": "ANYCAST",
        "durable": True,
    }
    artemis_tls.jolokia(
        {
            "type": "exec",
            "mbean": ARTEMIS_MBEAN,
            "operation": "createQueue(java.lang.String,boolean)",
            "arguments": [json.dumps(config), True],
        }
    )
    connection = _artemis_connect(artemis_tls, identity=identity, timeout=10)
    try:
        connection.create_sender(unique_name).send(Message(body="over amqps"))
        receiver = connection.create_receiver(unique_name)
        message = receiver.receive(timeout=10)
        receiver.accept()
        assert message.body == "over amqps"
    finally:
        connection.close()
        artemis_tls.jolokia(
            {
                "type": "exec",
                "mbean": ARTEMIS_MBEAN,
                "operation": "destroyQueue(java.lang.String,boolean)",
                "arguments": [unique_name, True],
            }
        )


@pytest.mark.amqp1
@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"password": "wrong-password"}, "Authentication failed"),
        ({"ca": "unknown-ca"}, "certificate verify failed"),
    ],
    ids=["wrong-password", "unknown-server-ca"],
)
def test_artemis_tls_acceptor_refuses(artemis_tls, kwargs, reason):
    from proton import ConnectionException

    if "ca" in kwargs:
        kwargs = {"ca": artemis_tls.tls_files.unknown_ca_cert}
    began = time.monotonic()
    with pytest.raises(ConnectionException, match=reason):
        _artemis_connect(artemis_tls, **kwargs).close()
    assert time.monotonic() - began < 10


@pytest.mark.amqp1
@pytest.mark.parametrize("identity", ["expired-client", "unknown-ca-client"])
def test_artemis_tls_acceptor_refuses_a_client_certificate_it_cannot_trust(artemis_tls, identity):
    from proton import ConnectionException

    began = time.monotonic()
    with pytest.raises(ConnectionException):
        _artemis_connect(artemis_tls, identity=identity).close()
    assert time.monotonic() - began < 10
    # the cause: Java answers either certificate with a certificate_unknown alert
    answer = tls_alert(f"127.0.0.1:{artemis_tls.port('tls')}", artemis_tls.tls_files, identity)
    assert "CERTIFICATE_UNKNOWN" in answer, answer


@pytest.mark.amqp1
def test_plaintext_amqp_to_the_artemis_tls_port_gets_no_connection(artemis_tls):
    from proton import Timeout

    began = time.monotonic()
    # the TLS acceptor waits for a ClientHello and never answers the AMQP header
    with pytest.raises(Timeout):
        _artemis_connect(artemis_tls, scheme="amqp", timeout=3).close()
    assert time.monotonic() - began < 10


@pytest.mark.amqp1
def test_artemis_jolokia_over_https(artemis_tls):
    import httpx

    user, password = artemis_tls.credentials()
    files = artemis_tls.tls_files
    url = f"{artemis_tls.console_tls_url}jolokia/"
    request = {"type": "read", "mbean": ARTEMIS_MBEAN, "attribute": "Version"}
    headers = {"Origin": f"https://127.0.0.1:{artemis_tls.port('console_tls')}"}
    answer = httpx.post(
        url,
        json=request,
        auth=(user, password),
        headers=headers,
        timeout=10,
        verify=_ssl_context(files),
    )
    assert answer.status_code == 200 and answer.json()["value"].startswith("2.")
    refused = httpx.post(
        url,
        json=request,
        auth=(user, "wrong-password"),
        headers=headers,
        timeout=10,
        verify=_ssl_context(files),
    )
    assert refused.status_code in (401, 403)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.post(
            url,
            json=request,
            auth=(user, password),
            headers=headers,
            timeout=10,
            verify=_ssl_context(files, ca=files.unknown_ca_cert),
        )


# -- SQS through an assumed role (moto's STS) ----------------------------------------------


@pytest.mark.sqs
def test_assume_role_on_moto_gives_credentials_that_work_for_sqs(moto_service, unique_name):
    import boto3
    from botocore.config import Config

    from mqmigrate.sandbox import sqs, sts

    role = moto_service.client("iam").get_role(RoleName=sts.ROLE_NAME)["Role"]
    assert role["Arn"] == sts.ROLE_ARN
    assumed = moto_service.client("sts").assume_role(
        RoleArn=sts.ROLE_ARN,
        RoleSessionName="secured-sandbox",
        ExternalId=sts.EXTERNAL_ID,
        DurationSeconds=900,
    )
    credentials = assumed["Credentials"]
    assert credentials["AccessKeyId"] != sqs.DUMMY_CREDENTIALS["aws_access_key_id"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=sqs.REGION,
    )
    config = Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=10)
    identity = session.client(
        "sts", endpoint_url=moto_service.endpoint_url, config=config
    ).get_caller_identity()
    assert (
        identity["Arn"]
        == f"arn:aws:sts::{sts.ACCOUNT_ID}:assumed-role/{sts.ROLE_NAME}/secured-sandbox"
    )
    client = session.client("sqs", endpoint_url=moto_service.endpoint_url, config=config)
    url = client.create_queue(QueueName=unique_name)["QueueUrl"]
    try:
        client.send_message(QueueUrl=url, MessageBody="as the assumed role")
        received = client.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        assert [m["Body"] for m in received] == ["as the assumed role"]
    finally:
        client.delete_queue(QueueUrl=url)


# -- a Kafka broker with no PLAINTEXT listener at all --------------------------------------


# ``secured_only_kafka``: the session's shared broker (tests/conftest.py)


@pytest.mark.kafka
@pytest.mark.slow
def test_secured_only_broker_serves_share_groups_and_nothing_in_plaintext(
    secured_only_kafka, unique_name
):
    import socket

    service = secured_only_kafka.service
    with socket.socket() as probe:  # the PLAINTEXT port key is reserved but nothing listens
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", service.port("broker"))) != 0
    # a plaintext client on the bootstrap (the SASL_SSL listener) is dropped
    answered, log = kafka_attempt({"bootstrap.servers": service.bootstrap}, expect="Disconnected")
    assert not answered and "APIVERSION_QUERY" in log, tail(log)
    for kind in ("scram", "oauth", "mtls"):
        config = read_config_file(service.client_properties_file(kind)).client()
        answered, log = kafka_attempt(config, timeout=30)
        assert answered, f"{kind}: {tail(log)}"
    config = read_config_file(service.client_properties_file("scram")).client()
    admin = AdminClient(config)
    share.create_topic(admin, unique_name, partitions=1)
    group = f"g-{unique_name}"
    share.set_group_configs(admin, group, {"share.auto.offset.reset": "earliest"})
    producer = Producer({**config, "acks": "all"})
    producer.produce(unique_name, b"no plaintext anywhere")
    assert producer.flush(30) == 0
    consumer = ShareConsumer(
        {**config, "group.id": group, "share.acknowledgement.mode": "explicit"}
    )
    received: list[bytes] = []
    try:
        consumer.subscribe([unique_name])
        deadline = time.monotonic() + 60
        while not received and time.monotonic() < deadline:
            for msg in consumer.poll(1.0) or []:
                if msg.error() is None:
                    received.append(msg.value())
                    consumer.acknowledge(msg, AcknowledgeType.ACCEPT)
            consumer.commit_sync(10)
    finally:
        consumer.close()
    assert received == [b"no plaintext anywhere"]
