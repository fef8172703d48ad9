"""Shared fixtures.

Integration fixtures bring up the sandbox service they need once per test session (reusing one
that is already running, e.g. after ``mqmigrate sandbox up``).  A service that cannot start is
an error, never a skip: in CI a broker that is down fails the run.
"""

from __future__ import annotations

import uuid

import pytest

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
def unique_name(request) -> str:
    """A name no other test (or earlier run against the same sandbox) has used."""
    stem = request.node.name.replace("[", "-").replace("]", "").replace("_", "-")[:40]
    return f"t-{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory, kafka_service):
    """A Kafka broker of this test module's own, which it may restart (see private_brokers)."""
    from tests.private_brokers import PrivateKafka

    broker = PrivateKafka(tmp_path_factory.mktemp("private-kafka"), kafka_service.ctx.cache_dir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def private_rabbitmq(tmp_path_factory):
    """A RabbitMQ node of this test module's own, which it may restart (see private_brokers)."""
    from tests.private_brokers import PrivateRabbitMQ

    broker = PrivateRabbitMQ(tmp_path_factory.mktemp("private-rabbitmq"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def rabbitmq4_service(tmp_path_factory, kafka_service):
    """A RabbitMQ 4.x node (Debian trixie's, in a chroot cached under the sandbox's cache
    directory) for this test module only; stopped, with nothing left mounted, afterwards."""
    from mqmigrate.sandbox.rabbitmq4 import ChrootRabbitMQService
    from tests.private_brokers import PrivateRabbitMQ

    broker = PrivateRabbitMQ(
        tmp_path_factory.mktemp("rabbitmq4"),
        name="rabbitmq4",
        service=ChrootRabbitMQService,
        cache_dir=kafka_service.ctx.cache_dir,
    )
    broker.start()
    try:
        yield broker.service
    finally:
        broker.stop()
