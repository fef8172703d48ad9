"""The sandbox's secured listeners accept the right credentials and refuse wrong ones.

Plain client libraries only (confluent-kafka, pika, proton, boto3): the product's own
commands over these listeners are tested where those commands are.  Every refusal is
bounded in time and checked for its cause (the client's log line), so a listener that is
merely down cannot pass for one that refuses.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import AcknowledgeType, KafkaException, Producer, ShareConsumer
from confluent_kafka.admin import AdminClient

from mqmigrate.kafka import share
from mqmigrate.sandbox import kafka_secured

pytestmark = [pytest.mark.integration]

REFUSAL_TIMEOUT = 10.0


# -- helpers -------------------------------------------------------------------------------

def load_client_properties(path: Path) -> dict[str, str]:
    """A sandbox ``client-*.properties`` file as a confluent-kafka dict (``${file:PATH}``
    expanded the way ``--kafka-config`` does: the file's text without its final newline)."""
    settings = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        if value.startswith("${file:") and value.endswith("}"):
            value = Path(value[len("${file:"):-1]).read_text().rstrip("\n")
        settings[key.strip()] = value.strip()
    return settings


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def kafka_attempt(config: dict[str, str], *, expect: str | None = None,
                  timeout: float = REFUSAL_TIMEOUT) -> tuple[bool, str]:
    """Ask for metadata with ``config``; return (answered, everything the client logged).

    Gives up after ``timeout`` seconds, or as soon as a log line contains ``expect``.
    """
    capture = _Capture()
    logger = logging.getLogger(f"secured-sandbox-{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)  # librdkafka's connection failures are info-level lines
    logger.addHandler(capture)
    errors: list[str] = []
    admin = AdminClient({**config, "logger": logger, "socket.timeout.ms": 5000,
                         "error_cb": lambda err: errors.append(str(err))})
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
            kafka_secured.check_tls_listener(secured.address(key), secured.tls)
    except OSError as exc:
        pytest.fail(f"the sandbox Kafka has no secured listeners ({exc}); it was started by a "
                    "release without them: mqmigrate sandbox down -s kafka && "
                    "mqmigrate sandbox up -s kafka")
    return kafka_service.dir


def _client(kafka_secured_dir: Path, stem: str) -> dict[str, str]:
    return load_client_properties(kafka_secured_dir / f"{stem}.properties")


@pytest.mark.kafka
@pytest.mark.parametrize("stem", ["client-scram", "client-plain", "client-oauth", "client-mtls"])
def test_kafka_listener_accepts_its_client_file(kafka_secured_dir, stem, unique_name):
    config = _client(kafka_secured_dir, stem)
    assert "${" not in "".join(config.values())
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

        consumer = Consumer({**config, "group.id": unique_name,
                             "auto.offset.reset": "earliest"})
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
        consumer = ShareConsumer({**config, "group.id": group,
                                  "share.acknowledgement.mode": "explicit"})
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
@pytest.mark.parametrize("identity, alert", [
    # signed by the sandbox CA, dates over: the broker's certificate_unknown alert
    ("expired-client", "alert certificate unknown"),
    # the broker names the sandbox CA as the only acceptable issuer, so librdkafka withholds
    # this certificate ("No matching issuer found") and the broker refuses with bad_certificate
    ("unknown-ca-client", "alert bad certificate"),
])
def test_mtls_refuses_a_client_certificate_it_cannot_trust(kafka_secured_dir, identity, alert):
    tls_dir = kafka_secured_dir.parent / "tls"
    config = {**_client(kafka_secured_dir, "client-mtls"),
              "ssl.certificate.location": str(tls_dir / f"{identity}.pem"),
              "ssl.key.location": str(tls_dir / f"{identity}-key.pem")}
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
    config = {**_client(kafka_secured_dir, "client-scram"),
              "ssl.ca.location": str(kafka_secured_dir.parent / "tls" / "unknown-ca.pem")}
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
