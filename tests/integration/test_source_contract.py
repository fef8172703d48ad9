"""The ``SourceAdapter`` contract (mqmigrate/sources/base.py), one suite for every adapter.

:class:`SourceContract` states what the bridge engine relies on from any source: open,
receive, settle with each :class:`Outcome`, ``settle_many``'s count, depth, close, a
reconnect after the connection was cut, typed headers, a missing queue as a terminal error,
no secret in ``describe()``.  Each ``Test*`` class below runs it on one adapter and broker:
memory, RabbitMQ, RabbitMQ's AMQP 1.0 plugin, ActiveMQ Artemis, SQS on ElasticMQ and SQS on
moto.  What an adapter cannot do is data, its :class:`Capabilities` (e.g. ``depth=False``
on the AMQP 1.0 plugin, which has no management API the adapter reads), and the tests
branch on that data, never on the adapter's name.

A network adapter reaches its broker through a :class:`~tests.support.proxy.TcpProxy`, so a
test can cut the connection (every socket closed, like a broker restart) without touching
the shared sandbox broker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from mqmigrate.errors import SourceError, SourceUnavailable
from tests.support.sources import (
    SECRET,
    ArtemisProfile,
    Broker,
    MemoryProfile,
    RabbitMQAmqp1Profile,
    RabbitMQProfile,
    SqsProfile,
)
from mqmigrate.sources import adapter_class
from mqmigrate.sources.base import Capabilities, Envelope, Outcome, SourceAdapter
from mqmigrate.sources.rabbitmq.adapter import RabbitMQSource

pytestmark = [pytest.mark.integration]


#: a password in every network source URI; never in describe() or an error
def _receive(source: SourceAdapter, n: int, timeout: float = 20.0) -> list[Envelope]:
    """Receive until ``n`` envelopes arrived or ``timeout`` passed."""
    got: list[Envelope] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got.extend(source.receive(n - len(got), 0.5))
    return got


def _ids(envelopes: list[Envelope]) -> list[str]:
    return [e.source_id for e in envelopes]


def _quiet(source: SourceAdapter, seconds: float) -> list[Envelope]:
    """Everything received during ``seconds`` (nothing is expected)."""
    got: list[Envelope] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got.extend(source.receive(100, 0.5))
    return got


class SourceContract:
    """The contract; a subclass provides the ``broker`` fixture."""

    @pytest.fixture
    def queue(self, broker: Broker, unique_name: str) -> Iterator[str]:
        broker.declare(unique_name)
        yield unique_name
        broker.delete(unique_name)

    @pytest.fixture
    def dead_letter_queue(self, broker: Broker, unique_name: str) -> Iterator[str]:
        broker.declare(unique_name, dead_letter=True)
        yield unique_name
        broker.delete(unique_name)

    @pytest.fixture
    def opened(self, broker: Broker) -> Iterator[Any]:
        """``opened(queue, **options)``: an open adapter, closed after the test."""
        made: list[SourceAdapter] = []

        def make(queue: str, **options: Any) -> SourceAdapter:
            source = broker.source(queue, **options)
            source.open()
            made.append(source)
            return source

        yield make
        for source in made:
            source.close()

    def test_kind_and_capabilities_are_data(self, broker, queue, opened):
        source = opened(queue)
        assert adapter_class(source.kind) is type(source) is broker.adapter
        assert isinstance(type(source).capabilities, Capabilities)
        assert source.queue == queue
        assert SECRET not in source.describe() and SECRET not in repr(source)

    def test_missing_queue_is_a_terminal_source_error(self, broker, unique_name):
        source = broker.source(unique_name + "-missing")
        with pytest.raises(SourceError) as caught:
            source.open()
        source.close()
        assert not isinstance(caught.value, SourceUnavailable), caught.value
        assert SECRET not in str(caught.value)

    def test_receive_hands_over_each_message_once(self, broker, queue, opened):
        ids = [f"r-{i}" for i in range(20)]
        broker.publish(queue, ids)
        source = opened(queue)
        got = _receive(source, len(ids))
        assert sorted(_ids(got)) == sorted(ids)
        for envelope in got:
            assert envelope.source_kind == source.kind and envelope.queue == queue
            assert envelope.body.startswith(envelope.source_id.encode() + b":")
        assert _quiet(source, 1.0) == []  # nothing twice while held
        assert source.settle_many(got, Outcome.ACCEPT) == len(ids)

    def test_receive_waits_at_most_its_timeout(self, broker, queue, opened):
        source = opened(queue)
        began = time.monotonic()
        assert source.receive(10, 1.0) == []
        assert time.monotonic() - began < 1.0 + 5.0
        began = time.monotonic()
        assert source.receive(10, 0) == []  # serves the connection without waiting
        assert time.monotonic() - began < 3.0

    def test_accept_removes_the_message(self, broker, queue, opened):
        broker.publish(queue, ["a-0", "a-1", "a-2"])
        source = opened(queue)
        got = _receive(source, 3)
        assert source.settle_many(got, Outcome.ACCEPT) == 3
        source.flush()
        source.close()
        again = opened(queue)
        assert _quiet(again, broker.quiet) == []
        if broker.capabilities.depth:
            assert again.depth() == 0

    def test_flush_puts_settlements_on_the_wire_before_an_abrupt_close(self, broker, queue, opened):
        """After ``flush`` the broker has every settlement even when nothing serves the
        connection again (the process dies, the network goes): the cut connection gives
        back nothing that was accepted."""
        ids = ["f-0", "f-1", "f-2"]
        broker.publish(queue, ids)
        source = opened(queue)
        got = _receive(source, len(ids))
        assert sorted(_ids(got)) == ids
        assert source.settle_many(got, Outcome.ACCEPT) == len(ids)
        source.flush()
        time.sleep(0.5)  # what flush wrote crosses the proxy; the adapter is not served
        broker.cut(source)
        broker.restore()
        again = opened(queue)
        assert _ids(_quiet(again, max(broker.quiet, broker.given_back_after_cut))) == []

    def test_release_gives_the_message_back(self, broker, queue, opened):
        broker.publish(queue, ["rel-0"])
        source = opened(queue)
        [envelope] = _receive(source, 1)
        source.settle(envelope, Outcome.RELEASE)
        source.flush()
        back = _receive(source, 1, timeout=15 if broker.capabilities.release_redelivers else 2)
        if broker.capabilities.release_redelivers:
            assert _ids(back) == ["rel-0"], "RELEASE must make the message available again"
            source.settle(back[0], Outcome.ACCEPT)
        else:
            assert back == []

    def test_reject_is_final_and_dead_lettered(self, broker, dead_letter_queue, opened):
        queue = dead_letter_queue
        broker.publish(queue, ["rej-0"])
        source = opened(queue)
        [envelope] = _receive(source, 1)
        source.settle(envelope, Outcome.REJECT)
        source.flush()
        assert _quiet(source, broker.quiet) == []
        deadline = time.monotonic() + 30
        while "rej-0" not in (dead := broker.dead_lettered(queue)):
            assert time.monotonic() < deadline, f"not dead-lettered: {dead}"
            time.sleep(0.5)

    @pytest.mark.parametrize("outcome", list(Outcome), ids=[o.value for o in Outcome])
    def test_settle_many_counts_and_settling_twice_is_a_noop(self, broker, queue, opened, outcome):
        broker.publish(queue, ["s-0", "s-1", "s-2"])
        source = opened(queue)
        got = _receive(source, 3)
        assert source.settle_many(got, outcome) == 3
        assert source.settle_many(got, outcome) == 0
        source.flush()

    def test_close_gives_unsettled_messages_back(self, broker, queue, opened):
        ids = [f"c-{i}" for i in range(5)]
        broker.publish(queue, ids)
        source = opened(queue)
        assert sorted(_ids(_receive(source, 5))) == sorted(ids)
        source.close()
        again = opened(queue)
        back = _receive(again, 5)
        assert sorted(_ids(back)) == sorted(ids)
        assert again.settle_many(back, Outcome.ACCEPT) == 5

    def test_settle_of_a_previous_connection_is_a_noop(self, broker, queue, opened):
        ids = ["p-0", "p-1"]
        broker.publish(queue, ids)
        source = opened(queue)
        old = _receive(source, 2)
        source.close()
        source.open()  # reconnect: the broker took the two back
        assert source.settle_many(old, Outcome.ACCEPT) == 0
        back = _receive(source, 2)
        assert sorted(_ids(back)) == sorted(ids)  # the stale ACCEPT removed nothing
        assert source.settle_many(back, Outcome.ACCEPT) == 2

    def test_depth_counts_waiting_messages(self, broker, queue, opened):
        """Depth counts what no consumer holds (whether the adapter's own unsettled messages
        count varies by broker): with N published and a credit of 1, N-1 <= depth <= N."""
        ids = [f"d-{i}" for i in range(7)]
        broker.publish(queue, ids)
        source = opened(queue, prefetch=1)
        if not broker.capabilities.depth:
            assert source.depth() is None
            return
        deadline = time.monotonic() + 15
        while not len(ids) - 1 <= (depth := source.depth()) <= len(ids):
            assert time.monotonic() < deadline, depth
            time.sleep(0.2)
        got: list[Envelope] = []
        while len(got) < len(ids) and time.monotonic() < deadline + 30:
            batch = source.receive(10, 0.5)
            source.settle_many(batch, Outcome.ACCEPT)
            got += batch
        assert sorted(_ids(got)) == sorted(ids)
        source.flush()
        deadline = time.monotonic() + 15
        while (depth := source.depth()) != 0:
            assert time.monotonic() < deadline, depth
            # served while idle, as the engine does: AMQP 1.0 sends the last dispositions then
            assert source.receive(10, 0.2) == []

    def test_reconnects_after_the_connection_is_cut(self, broker, queue, opened):
        ids = [f"x-{i}" for i in range(10)]
        broker.publish(queue, ids)
        source = opened(queue)
        held = _receive(source, 3)
        assert len(held) == 3
        broker.cut(source)
        try:
            deadline = time.monotonic() + 90
            with pytest.raises(SourceUnavailable):  # transient: the engine reconnects
                while time.monotonic() < deadline:
                    source.receive(10, 0.5)
                    source.settle_many(held, Outcome.ACCEPT)
                    held = []
        finally:
            broker.restore()
        deadline = time.monotonic() + 60
        while True:
            try:
                source.open()
                break
            except SourceUnavailable:
                assert time.monotonic() < deadline, "no reconnect within 60 s"
                time.sleep(0.5)
        got: dict[str, Envelope] = {}
        deadline = time.monotonic() + 60
        while not set(ids) <= set(got):
            for envelope in source.receive(10, 0.5):
                got[envelope.source_id] = envelope
                source.settle(envelope, Outcome.ACCEPT)
            assert time.monotonic() < deadline, sorted(set(ids) - set(got))
        assert set(got) == set(ids)  # the three held ones came back: nothing lost

    def test_typed_headers_reach_the_envelope(self, broker, queue, opened):
        expected = broker.publish_typed(queue)
        source = opened(queue)
        [envelope] = _receive(source, 1)
        got = {name: envelope.headers.get(name) for name in expected}
        assert got == expected
        for name, value in expected.items():
            assert type(got[name]) is type(value), name
        source.settle(envelope, Outcome.ACCEPT)


# -- memory ------------------------------------------------------------------------------------


class TestMemory(SourceContract):
    @pytest.fixture
    def broker(self) -> Iterator[Broker]:
        yield MemoryProfile()


# -- network brokers ---------------------------------------------------------------------------


class TestRabbitMQ(SourceContract):
    pytestmark = [pytest.mark.rabbitmq]

    @pytest.fixture
    def broker(self, rabbitmq_service) -> Iterator[Broker]:
        profile = RabbitMQProfile(rabbitmq_service)
        yield profile
        profile.close()

    def test_describe_masks_the_password(self, broker, queue):
        uri = f"amqp://guest:{SECRET}@127.0.0.1:{broker.proxy.port}/%2f"
        source = RabbitMQSource(uri, queue)
        assert SECRET not in source.describe()


class Amqp1Extras:
    """AMQP 1.0 only: the adapter's link credit bounds what the broker sends."""

    def test_credit_bounds_unsettled_and_close_gives_them_back(self, broker, queue, opened):
        ids = [f"k-{i}" for i in range(30)]
        broker.publish(queue, ids)
        source = opened(queue, prefetch=5)
        first = _receive(source, 30, timeout=3)
        assert len(first) == 5, "the broker sent beyond the link credit"
        source.close()
        again = opened(queue, prefetch=100)
        got = _receive(again, 30)
        assert sorted(_ids(got)) == sorted(ids)
        assert again.settle_many(got, Outcome.ACCEPT) == 30


class TestRabbitMQAmqp1(Amqp1Extras, SourceContract):
    pytestmark = [pytest.mark.amqp1, pytest.mark.rabbitmq]

    @pytest.fixture
    def broker(self, rabbitmq_service) -> Iterator[Broker]:
        profile = RabbitMQAmqp1Profile(rabbitmq_service)
        yield profile
        profile.close()


class TestArtemis(Amqp1Extras, SourceContract):
    pytestmark = [pytest.mark.amqp1]

    @pytest.fixture
    def broker(self, artemis_service) -> Iterator[Broker]:
        profile = ArtemisProfile(artemis_service)
        yield profile
        profile.close()


# -- SQS -----------------------------------------------------------------------------------------


class TestSqsElasticMQ(SourceContract):
    pytestmark = [pytest.mark.sqs]

    @pytest.fixture
    def broker(self, elasticmq_service, elasticmq_sqs) -> Iterator[Broker]:
        profile = SqsProfile(elasticmq_service, elasticmq_sqs)
        yield profile
        profile.close()


class TestSqsMoto(SourceContract):
    pytestmark = [pytest.mark.sqs]

    @pytest.fixture
    def broker(self, moto_service, moto_sqs, moto_sns) -> Iterator[Broker]:
        profile = SqsProfile(moto_service, moto_sqs, moto_sns)
        yield profile
        profile.close()
