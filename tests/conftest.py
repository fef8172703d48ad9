"""Shared fixtures.

Integration fixtures bring up the sandbox service they need once per test session (reusing one
that is already running, e.g. after ``mqmigrate sandbox up``).  A service that cannot start is
an error, never a skip: in CI a broker that is down fails the run.
"""

from __future__ import annotations

import fcntl
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pika
import pytest

from mqmigrate.kafka.admin import QUARANTINE_TOPIC_CONFIG, delete_topics, ensure_topic

from mqmigrate.sandbox import manager
from mqmigrate.sandbox.base import Service
from mqmigrate.sandbox.registry import service_class

_started: dict[str, Service] = {}


# -- running in parallel (docs/testing.md, "Parallel run") ----------------------------------
#
# `make test` runs the suite on two pytest-xdist workers with `--dist loadgroup`: tests with the
# same `xdist_group` run on one worker, one after the other; every other test goes to whichever
# worker is free.  The groups are made here, in one place, from what a test needs, so a new
# test is grouped by the fixtures and markers it uses, not by a mark somebody must remember:
#
# * A fixture of the test tree wider than a function (module, class or session scope) exists
#   once per worker that uses it.  Its tests share one worker, so it is still made once: a
#   private broker (a JVM or an Erlang node, 10-30 s to start) starts once, and what a module
#   fixture puts on a shared broker (a user, a topic it deletes at teardown) is not made and
#   removed by two workers at once.
# * `heavy` tests (10^4-10^5 messages, a whole cutover, the benchmarks) keep both cores busy on
#   their own: two at once slow each other down to their timeouts, so they share one worker.
# * A test has one group: one that shares a fixture with a heavy test is in the heavy group, and
#   two fixtures used by one test put all their tests in one group.
#
# The sandbox handles below are exempt: they are the shared sandbox (one set of brokers for
# every worker), each worker only looks them up.
SANDBOX_HANDLES = frozenset(
    {
        "kafka_service",
        "kafka_bootstrap",
        "rabbitmq_service",
        "moto_service",
        "elasticmq_service",
        "artemis_service",
    }
)
HEAVY_GROUP = "heavy"


def _shared_resources(item: pytest.Item) -> Iterable[str]:
    """The names of what ``item`` shares with other tests and must not use from two workers:
    ``heavy`` and each non-function fixture of the test tree it requests.  A fixture requested
    through ``request.getfixturevalue`` is not seen (pytest cannot know it at collection): the
    ``rabbitmq-secured`` kind of test_zero_downtime.py (heavy) starts its own
    ``secured_only_kafka`` when the secured modules ran on the other worker, one JVM start
    rather than their few minutes in the heavy group."""
    if item.get_closest_marker("heavy"):
        yield HEAVY_GROUP
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    module = item.nodeid.split("::", 1)[0]
    for name in info.names_closure:
        defs = info.name2fixturedefs.get(name)
        if not defs or name in SANDBOX_HANDLES:
            continue
        fixture = defs[-1]
        if not fixture.baseid or fixture.scope == "function":
            continue  # pytest's own or a plugin's, or made per test
        if fixture.scope == "session":
            yield name
        elif fixture.scope == "class":
            yield f"{name}@{item.nodeid.rsplit('::', 1)[0]}"
        else:  # module (package: the module is a finer key, still one instance per worker)
            yield f"{name}@{module}"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test that shares something (above) gets the ``xdist_group`` of everything it is
    connected to through shared fixtures; the others get none and are spread per test."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    shared = {item.nodeid: list(_shared_resources(item)) for item in items}
    for keys in shared.values():
        for key in keys:
            parent[root(key)] = root(keys[0])
    names: dict[str, str] = {}
    for key in parent:  # a group is named after its heavy member, else its first key
        group = root(key)
        if key == HEAVY_GROUP or group not in names:
            names[group] = key
    for item in items:
        if shared[item.nodeid]:
            item.add_marker(pytest.mark.xdist_group(names[root(shared[item.nodeid][0])]))


def pytest_collection_finish(session: pytest.Session) -> None:
    """On a worker of a ``--dist loadgroup`` run, fail unless xdist took the groups: it passes
    them on in the node ids, which pytest 9.2 stopped honouring without a word (every test of
    a group ran on any worker, pytest-dev/pytest-xdist#1386)."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    for item in session.items:
        marker = item.get_closest_marker("xdist_group")
        if marker and not item.nodeid.endswith(f"@{marker.args[0]}"):
            raise pytest.UsageError(
                f"pytest-xdist did not put {item.nodeid} in its group {marker.args[0]}: "
                "this pytest and pytest-xdist do not work together (see pyproject.toml)"
            )


@contextmanager
def _sandbox_up_lock() -> Iterator[None]:
    """Held while a test process brings a sandbox service up: the two workers of a parallel
    run (or two runs on one machine) share the sandbox, and the first to need a stopped
    service starts it while the other waits, instead of both starting it on the same ports."""
    with open(Path(tempfile.gettempdir()) / "mqmigrate-tests-sandbox-up.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def sandbox_service(name: str) -> Service:
    """The running sandbox service ``name``, started if needed (once per test process)."""
    if name not in _started:
        with _sandbox_up_lock():
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
