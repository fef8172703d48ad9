"""The AMQP 1.0 adapter's settlement and credit on both real brokers (Artemis and RabbitMQ's
AMQP 1.0 plugin), below the engine: what ACCEPT / RELEASE / REJECT do, that credit bounds
what the broker sends, and that ``receive(timeout=0)`` keeps the connection served."""

from __future__ import annotations

import time
from typing import Iterator

import pika
import pytest

from tests.support.amqp1 import Artemis, numbered, publish
from mqmigrate.sources.amqp1.adapter import AMQP1Source
from mqmigrate.sources.base import Outcome

pytestmark = [pytest.mark.integration, pytest.mark.amqp1]


class _Broker:
    def __init__(self, name, uri, url, user, password, capabilities, address_of, count):
        self.name, self.uri, self.url = name, uri, url
        self.user, self.password, self.capabilities = user, password, capabilities
        self.address_of, self.count = address_of, count


@pytest.fixture(params=["artemis", "rabbitmq"])
def broker(request, unique_name) -> Iterator[_Broker]:
    if request.param == "artemis":
        artemis = Artemis(request.getfixturevalue("artemis_service"))
        artemis.create_queue(unique_name)
        yield _Broker(
            "artemis",
            artemis.uri,
            artemis.url,
            artemis.user,
            artemis.password,
            ("queue",),
            lambda q: q,
            artemis.count,
        )
        artemis.cleanup(unique_name)
        return
    rabbit = request.getfixturevalue("rabbit")
    port = rabbit.port("amqp")
    connection = pika.BlockingConnection(
        pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{port}/%2f")
    )
    channel = connection.channel()
    channel.queue_declare(unique_name, durable=True)
    try:
        yield _Broker(
            "rabbitmq",
            f"amqp1://guest:guest@127.0.0.1:{port}",
            f"amqp://127.0.0.1:{port}",
            "guest",
            "guest",
            (),
            lambda q: f"/amq/queue/{q}",
            lambda q: channel.queue_declare(q, passive=True).method.message_count,
        )
    finally:
        channel.queue_delete(unique_name)
        connection.close()


def _send(broker: _Broker, queue: str, n: int, prefix: str = "s") -> None:
    publish(
        broker.url,
        broker.address_of(queue),
        numbered(n, prefix=prefix),
        user=broker.user,
        password=broker.password,
        capabilities=broker.capabilities,
    )


def _receive(source: AMQP1Source, n: int, timeout: float = 10.0) -> list:
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got.extend(source.receive(n - len(got), 0.2))
    return got


def test_release_redelivers_at_once_and_accept_removes(broker, unique_name):
    _send(broker, unique_name, 3)
    source = AMQP1Source(broker.uri, unique_name, prefetch=10)
    source.open()
    try:
        first = _receive(source, 3)
        assert [e.source_id for e in first] == ["s-0", "s-1", "s-2"]
        assert source.settle_many(first[1:], Outcome.ACCEPT) == 2
        source.settle(first[0], Outcome.RELEASE)
        started = time.monotonic()
        again = _receive(source, 1, timeout=5)
        # released (not proton's modified): both brokers offer it again to this receiver
        assert [e.source_id for e in again] == ["s-0"]
        assert time.monotonic() - started < 2.0
        source.settle(again[0], Outcome.ACCEPT)
        source.flush()
        assert source.receive(10, 1.0) == []
    finally:
        source.close()
    time.sleep(0.5)
    assert broker.count(unique_name) == 0


def test_reject_is_not_redelivered(broker, unique_name):
    _send(broker, unique_name, 1, prefix="poison")
    source = AMQP1Source(broker.uri, unique_name, prefetch=10)
    source.open()
    try:
        [envelope] = _receive(source, 1)
        source.settle(envelope, Outcome.REJECT)
        assert source.receive(10, 2.0) == []
    finally:
        source.close()
    time.sleep(0.5)
    assert broker.count(unique_name) == 0  # dead-lettered (or dropped without a DLX), not kept


def test_credit_bounds_unsettled_and_close_gives_them_back(broker, unique_name):
    _send(broker, unique_name, 50)
    source = AMQP1Source(broker.uri, unique_name, prefetch=8)
    source.open()
    try:
        held = _receive(source, 50, timeout=3)
        assert len(held) == 8  # no more than the credit while nothing is settled
        assert source.receive(50, 1.0) == []
        source.settle_many(held[:4], Outcome.ACCEPT)
        more = _receive(source, 50, timeout=3)
        assert len(more) == 4  # credit comes back as messages are settled
        # a settle for a delivery of a closed connection is a no-op, not an error
        stale = held[4:]
    finally:
        source.close()
    source.open()
    try:
        assert source.settle_many(stale, Outcome.ACCEPT) == 0
        rest: list = []
        deadline = time.monotonic() + 20
        while len(rest) < 46 and time.monotonic() < deadline:
            batch = source.receive(46, 0.2)
            source.settle_many(batch, Outcome.ACCEPT)
            rest.extend(batch)
        assert len({e.source_id for e in rest}) == 46  # the unsettled ones came back
        source.flush()
    finally:
        source.close()
    time.sleep(0.5)
    assert broker.count(unique_name) == 0


def test_receive_with_zero_timeout_serves_the_connection(broker, unique_name):
    _send(broker, unique_name, 1)
    # a 4 s idle timeout (proton advertises 2 s; RabbitMQ cannot beat faster than 1 s): the
    # broker's heartbeats must be read in time or proton drops the connection
    source = AMQP1Source(broker.uri, unique_name, prefetch=10, heartbeat=4.0)
    source.open()
    try:
        [envelope] = _receive(source, 1)
        until = time.monotonic() + 8
        while time.monotonic() < until:  # what the engine does while Kafka is slow
            assert source.receive(0, 0) == []
            time.sleep(0.05)
        assert source.settle_many([envelope], Outcome.ACCEPT) == 1
        source.flush()
        assert source.receive(10, 1.0) == []
    finally:
        source.close()
    time.sleep(0.5)
    assert broker.count(unique_name) == 0
