"""Shared fixtures.

Integration fixtures bring up the sandbox service they need once per test session (reusing one
that is already running, e.g. after ``mqmigrate sandbox up``).  A service that cannot start is
an error, never a skip: in CI a broker that is down fails the run.
"""

from __future__ import annotations

import uuid

import pika
import pytest

from mqmigrate.kafka.admin import QUARANTINE_TOPIC_CONFIG, delete_topics, ensure_topic

from mqmigrate.sandbox import manager
from mqmigrate.sandbox.base import Service
from mqmigrate.sandbox.registry import service_class

_started: dict[str, Service] = {}


def sandbox_service(name: str) -> Service:
    """The running sandbox service ``name``, started if needed (once per test session)."""
    if name not in _started:
        ctx = manager.context()
        manager.up(ctx, [name])
        _started[name] = service_class(name)(ctx)
    return _started[name]


@pytest.fixture(scope="session")
def kafka_service():
    return sandbox_service("kafka")


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_service) -> str:
    return kafka_service.bootstrap


@pytest.fixture(scope="session")
def rabbitmq_service():
    return sandbox_service("rabbitmq")


@pytest.fixture(scope="session")
def moto_service():
    return sandbox_service("moto")


@pytest.fixture(scope="session")
def elasticmq_service():
    return sandbox_service("elasticmq")


@pytest.fixture(scope="session")
def artemis_service():
    return sandbox_service("artemis")


@pytest.fixture
def rabbitmq_uri(rabbitmq_service) -> str:
    """The sandbox RabbitMQ's AMQP 0-9-1 URI (guest)."""
    return f"amqp://guest:guest@127.0.0.1:{rabbitmq_service.port('amqp')}/%2f"


@pytest.fixture
def rabbitmq_management_url(rabbitmq_service) -> str:
    """The sandbox RabbitMQ's management API."""
    return f"http://127.0.0.1:{rabbitmq_service.port('management')}"


@pytest.fixture
def rabbitmq_channel(rabbitmq_uri):
    """A pika channel to the sandbox RabbitMQ with publisher confirms on."""
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_uri))
    ch = conn.channel()
    ch.confirm_delivery()
    yield ch
    if conn.is_open:
        conn.close()


@pytest.fixture
def rabbitmq_names(rabbitmq_uri):
    """``("queue" | "exchange", name)`` a test declared on the sandbox RabbitMQ; deleted
    afterwards on a fresh connection (the test's own channel may have been closed by a broker
    error it provoked)."""
    made: list[tuple[str, str]] = []
    yield made
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_uri))
    try:
        for kind, name in made:
            ch = conn.channel()
            try:
                if kind == "queue":
                    ch.queue_delete(name)
                else:
                    ch.exchange_delete(name)
            except pika.exceptions.ChannelClosedByBroker:
                pass  # already gone
    finally:
        conn.close()


@pytest.fixture
def kafka_topics(kafka_bootstrap):
    """``kafka_topics(name, **config)`` creates a topic on the sandbox Kafka (and
    ``name.quarantine``); all deleted after the test."""
    made: list[str] = []

    def create(name: str, quarantine: bool = True, **config: str) -> str:
        ensure_topic(kafka_bootstrap, name, config=config)
        made.append(name)
        if quarantine:
            ensure_topic(kafka_bootstrap, name + ".quarantine", config=QUARANTINE_TOPIC_CONFIG)
            made.append(name + ".quarantine")
        return name

    yield create
    delete_topics(kafka_bootstrap, made)


@pytest.fixture
def elasticmq_sqs(elasticmq_service):
    """A boto3 SQS client for the sandbox's ElasticMQ."""
    return elasticmq_service.client("sqs", timeout=30)


@pytest.fixture
def elasticmq_queue(elasticmq_sqs, unique_name):
    """``elasticmq_queue(suffix="", **attributes) -> url``: an ElasticMQ queue, deleted after."""
    from tests.support.sqs import queue_factory

    yield from queue_factory(elasticmq_sqs, unique_name)


@pytest.fixture
def moto_sqs(moto_service):
    """A boto3 SQS client for the sandbox's moto."""
    return moto_service.client("sqs")


@pytest.fixture
def moto_sns(moto_service):
    """A boto3 SNS client for the sandbox's moto."""
    return moto_service.client("sns")


@pytest.fixture
def moto_queue(moto_sqs, unique_name):
    """``moto_queue(suffix="", **attributes) -> url``: a moto queue, deleted after."""
    from tests.support.sqs import queue_factory

    yield from queue_factory(moto_sqs, unique_name)


@pytest.fixture
def unique_name(request) -> str:
    """A name no other test (or earlier run against the same sandbox) has used."""
    stem = request.node.name.replace("[", "-").replace("]", "").replace("_", "-")[:40]
    return f"t-{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory, kafka_service):
    """A Kafka broker of this test module's own, which it may restart (see tests/support/brokers.py)."""
    from tests.support.brokers import PrivateKafka, running

    broker = PrivateKafka(tmp_path_factory.mktemp("private-kafka"), kafka_service.ctx.cache_dir)
    with running(broker):
        yield broker


@pytest.fixture(scope="session")
def secured_only_kafka(tmp_path_factory, kafka_service):
    """A private broker whose only client listeners are the secured ones (SASL_SSL SCRAM and
    PLAIN, OAUTHBEARER, mTLS; a CA of its own): a client built without the secured
    configuration cannot connect.  StandardAuthorizer is on: the principals of its own client
    files are super users, anybody else gets only what an ACL grants.  One per session,
    shared by every module that needs this configuration (one JVM start instead of one per
    module), so no test restarts or reconfigures it; each names its topics, groups and ACL
    principals uniquely.  ``service.client_properties_file(kind)`` gives each ready client
    file."""
    from mqmigrate.sandbox import kafka_secured
    from tests.support.brokers import PrivateKafka, running

    authorizer = {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # the controller link (PLAINTEXT, on the controller port only), the inter-broker link
        # (mTLS, the server certificate's CN), the mTLS client file (which also sets up the
        # SCRAM user) and the SASL/OAUTHBEARER user of the other client files
        "super.users": ";".join(
            dict.fromkeys(
                [
                    "User:ANONYMOUS",
                    "User:CN=127.0.0.1,O=mqmigrate sandbox",
                    "User:CN=mqmigrate-client,O=mqmigrate sandbox",
                    f"User:{kafka_secured.SASL_USER}",
                    f"User:{kafka_secured.OAUTH_PRINCIPAL}",
                ]
            )
        ),
        "allow.everyone.if.no.acl.found": "false",
    }
    broker = PrivateKafka.in_temp_dir(
        tmp_path_factory,
        kafka_service,
        "kafka-secured-only",
        properties=authorizer,
        secured=True,
        plaintext=False,
    )
    with running(broker):
        yield broker


@pytest.fixture(scope="module")
def private_rabbitmq(tmp_path_factory):
    """A RabbitMQ node of this test module's own, which it may restart (see tests/support/brokers.py)."""
    from tests.support.brokers import PrivateRabbitMQ, running

    broker = PrivateRabbitMQ(tmp_path_factory.mktemp("private-rabbitmq"))
    with running(broker):
        yield broker


@pytest.fixture(scope="module")
def rabbitmq4_service(tmp_path_factory, kafka_service):
    """A RabbitMQ 4.x node (Debian trixie's, in a chroot cached under the sandbox's cache
    directory) for this test module only; stopped, with nothing left mounted, afterwards."""
    from mqmigrate.sandbox.rabbitmq4 import ChrootRabbitMQService
    from tests.support.brokers import PrivateRabbitMQ, running

    broker = PrivateRabbitMQ(
        tmp_path_factory.mktemp("rabbitmq4"),
        name="rabbitmq4",
        service=ChrootRabbitMQService,
        cache_dir=kafka_service.ctx.cache_dir,
    )
    with running(broker):
        yield broker.service
