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

import dataclasses
import datetime as dt
import decimal
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pika
import pytest
from proton import Message, Timeout, symbol, timestamp, ulong
from proton.reactor import Selector
from proton.utils import BlockingConnection

from mqmigrate.errors import SourceError, SourceUnavailable
from mqmigrate.headers import SQS_SOURCE_ID_ATTRIBUTE
from mqmigrate.sources import adapter_class
from mqmigrate.sources.amqp1.adapter import AMQP1Source
from mqmigrate.sources.base import Capabilities, Envelope, Outcome, SourceAdapter
from mqmigrate.sources.memory import MemoryBroker, MemoryMessage, MemorySource
from mqmigrate.sources.rabbitmq.adapter import RabbitMQSource
from mqmigrate.sources.sqs.adapter import SQSSource
from tests.support.amqp1 import Artemis, publish
from tests.support.proxy import TcpProxy
from tests.support.sqs import send_batches

pytestmark = [pytest.mark.integration]

#: a password in every network source URI; never in describe() or an error
SECRET = "s3cr3t-contract"


class Broker:
    """One adapter on one broker, as the contract sees it (subclasses fill it in)."""

    #: the adapter class (its registry name and capabilities come from it)
    adapter: ClassVar[type[SourceAdapter]]
    #: how long "not delivered again" is watched for
    quiet: ClassVar[float] = 3.0

    @property
    def capabilities(self) -> Capabilities:
        """What this adapter supports on this broker: the adapter's data by default."""
        return self.adapter.capabilities

    def declare(self, queue: str, *, dead_letter: bool = False) -> None:
        """Create ``queue``; with ``dead_letter``, rejected messages go to a dead-letter
        queue where the broker needs one configured."""
        raise NotImplementedError

    def delete(self, queue: str) -> None:
        raise NotImplementedError

    def source(self, queue: str, **options: Any) -> SourceAdapter:
        """An adapter (not opened) for ``queue``, through the cuttable path."""
        raise NotImplementedError

    def publish(self, queue: str, ids: list[str]) -> None:
        """One persistent message per id, which the adapter reports as its source id."""
        raise NotImplementedError

    def publish_typed(self, queue: str) -> dict[str, Any]:
        """Publish one message with typed application headers; returns them as the adapter
        must hand them over in :attr:`Envelope.headers` (values and types)."""
        raise NotImplementedError

    def dead_lettered(self, queue: str) -> set[str]:
        """Ids of ``queue``'s messages the broker dead-lettered."""
        raise NotImplementedError

    def cut(self, source: SourceAdapter) -> None:
        """Drop the adapter's connection as a broker restart would."""
        raise NotImplementedError

    def restore(self) -> None:
        """Let connections through again after :meth:`cut`."""

    def close(self) -> None:
        """Release what the profile holds (proxies)."""


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


class MemoryProfile(Broker):
    adapter = MemorySource
    quiet = 0.5

    def __init__(self) -> None:
        self.memory = MemoryBroker()
        self.declared: set[str] = set()

    def declare(self, queue: str, *, dead_letter: bool = False) -> None:
        self.declared.add(queue)

    def delete(self, queue: str) -> None:
        self.declared.discard(queue)

    def source(self, queue: str, **options: Any) -> SourceAdapter:
        return MemorySource(self.memory, queue, missing_queue=queue not in self.declared)

    def publish(self, queue: str, ids: list[str]) -> None:
        self.memory.publish(queue, [MemoryMessage(f"{i}:".encode(), i) for i in ids])

    def publish_typed(self, queue: str) -> dict[str, Any]:
        headers = {"n": 7, "price": decimal.Decimal("1.50"), "blob": b"\x00", "ok": True}
        self.memory.publish(queue, [MemoryMessage(b"t:", "t", headers=dict(headers))])
        return headers

    def dead_lettered(self, queue: str) -> set[str]:
        return {m.message_id for m in self.memory.dead}

    def cut(self, source: SourceAdapter) -> None:
        assert isinstance(source, MemorySource)
        source.fail_receive_on = {source.receive_calls + 1}  # the next receive: dropped


class TestMemory(SourceContract):
    @pytest.fixture
    def broker(self) -> Iterator[Broker]:
        yield MemoryProfile()


# -- network brokers ---------------------------------------------------------------------------


class ProxiedProfile(Broker):
    """A broker reached through a TcpProxy to ``port``."""

    def __init__(self, port: int):
        self.proxy = TcpProxy(port).start()

    def cut(self, source: SourceAdapter) -> None:
        self.proxy.stop()

    def restore(self) -> None:
        self.proxy.start()

    def close(self) -> None:
        self.proxy.stop()


class RabbitMQProfile(ProxiedProfile):
    adapter = RabbitMQSource

    def __init__(self, service: Any):
        super().__init__(service.port("amqp"))
        self.params = pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{service.port('amqp')}/%2f")

    def _channel(self) -> Any:
        connection = pika.BlockingConnection(self.params)
        return connection, connection.channel()

    def declare(self, queue: str, *, dead_letter: bool = False) -> None:
        connection, channel = self._channel()
        try:
            channel.queue_declare(queue + ".dlq", durable=True)
            channel.queue_declare(
                queue,
                durable=True,
                arguments={
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": queue + ".dlq",
                },
            )
        finally:
            connection.close()

    def delete(self, queue: str) -> None:
        connection, channel = self._channel()
        try:
            channel.queue_delete(queue)
            channel.queue_delete(queue + ".dlq")
        finally:
            connection.close()

    def source(self, queue: str, **options: Any) -> SourceAdapter:
        uri = f"amqp://guest:guest@127.0.0.1:{self.proxy.port}/%2f"
        return RabbitMQSource(uri, queue, **{"prefetch": 50, **options})

    def publish(self, queue: str, ids: list[str], headers: dict | None = None) -> None:
        connection, channel = self._channel()
        try:
            channel.confirm_delivery()
            for mid in ids:
                channel.basic_publish(
                    "",
                    queue,
                    f"{mid}:".encode(),
                    pika.BasicProperties(message_id=mid, delivery_mode=2, headers=headers),
                )
        finally:
            connection.close()

    def publish_typed(self, queue: str) -> dict[str, Any]:
        when = dt.datetime(2026, 11, 25, 12, 30, tzinfo=dt.timezone.utc)
        headers = {
            "qty": 3,
            # a 64-bit AMQP table integer ('l') keeps its type as pika's long
            "big": pika.compat.long(2**40),
            "price": decimal.Decimal("19.99"),
            "ok": True,
            "none": None,
            "blob": b"\x00\xff",
            "nested": {"a": [1, "two", {"three": 3}]},
            "when": when,
            "x-death": [{"count": 2, "reason": "expired", "queue": "orders", "time": when}],
        }
        self.publish(queue, ["typed"], headers=headers)
        return headers

    def dead_lettered(self, queue: str) -> set[str]:
        connection, channel = self._channel()
        found = set()
        try:
            while True:
                method, properties, _body = channel.basic_get(queue + ".dlq", auto_ack=False)
                if method is None:
                    return found
                found.add(properties.message_id)
        finally:
            connection.close()  # nothing acked: the dead letters stay


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


class Amqp1Profile(ProxiedProfile):
    adapter = AMQP1Source
    #: where a queue's messages are sent (RabbitMQ: /amq/queue/NAME)
    address_format = "{}"
    send_capabilities: tuple[str, ...] = ("queue",)

    def __init__(self, port: int, user: str, password: str):
        super().__init__(port)
        self.port, self.user, self.password = port, user, password

    def uri(self, password: str | None = None) -> str:
        return f"amqp1://{self.user}:{password or self.password}@127.0.0.1:{self.proxy.port}"

    def _send(self, queue: str, messages: Any) -> None:
        publish(
            f"amqp://127.0.0.1:{self.port}",
            self.address_format.format(queue),
            messages,
            user=self.user,
            password=self.password,
            capabilities=self.send_capabilities,
        )

    def publish(self, queue: str, ids: list[str]) -> None:
        def tag(_i: int, message: Message) -> None:
            message.properties = {"test": queue}

        self._send(queue, _messages(ids, tag))

    def publish_typed(self, queue: str) -> dict[str, Any]:
        properties = {
            "test": queue,
            "ulong": ulong(2**63),
            "long": -(2**40),
            "double": 2.5,
            "timestamp": timestamp(1_700_000_000_000),
            "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "binary": b"\x00\xff",
            "symbol": symbol("sym"),
            "string": "héllo",
            "true": True,
            "null": None,
        }

        def typed(_i: int, message: Message) -> None:
            message.properties = dict(properties)

        self._send(queue, _messages(["typed"], typed))
        return properties


def _messages(ids: list[str], extra: Any) -> Iterator[Message]:
    for mid in ids:
        message = Message(id=mid, body=f"{mid}:".encode(), durable=True)
        message.inferred = True  # bytes as a data section
        extra(0, message)
        yield message


class RabbitMQAmqp1Profile(Amqp1Profile, RabbitMQProfile):
    """RabbitMQ 3.10's AMQP 1.0 plugin: queues declared over 0-9-1, dead letters through the
    queue's dead-letter exchange; the adapter reads no depth there and makes no shadow."""

    address_format = "/amq/queue/{}"
    send_capabilities = ()

    def __init__(self, service: Any):
        RabbitMQProfile.__init__(self, service)
        self.port, self.user, self.password = service.port("amqp"), "guest", "guest"

    @property
    def capabilities(self) -> Capabilities:
        return dataclasses.replace(AMQP1Source.capabilities, depth=False, shadow=False)

    def source(self, queue: str, **options: Any) -> SourceAdapter:
        return AMQP1Source(self.uri(), queue, **{"prefetch": 50, **options})

    def dead_lettered(self, queue: str) -> set[str]:
        connection, channel = self._channel()
        found = set()
        try:
            while True:
                method, _properties, body = channel.basic_get(queue + ".dlq", auto_ack=False)
                if method is None:
                    return found
                # an AMQP 1.0 message read over 0-9-1 keeps its encoded sections as the body
                found.update(m for m in ("rej-0",) if m.encode() + b":" in body)
        finally:
            connection.close()


class ArtemisProfile(Amqp1Profile):
    """ActiveMQ Artemis: anycast queues made through Jolokia; rejected messages go to the DLQ
    address of the default address settings (shared, so a selector finds this test's)."""

    def __init__(self, service: Any):
        self.artemis = Artemis(service)
        super().__init__(service.port("acceptor"), self.artemis.user, self.artemis.password)

    def declare(self, queue: str, *, dead_letter: bool = False) -> None:
        self.artemis.create_queue(queue)

    def delete(self, queue: str) -> None:
        self.artemis.cleanup(queue)

    def source(self, queue: str, **options: Any) -> SourceAdapter:
        return AMQP1Source(
            self.uri(),
            queue,
            management_url=self.artemis.management_url,
            **{"prefetch": 50, **options},
        )

    def dead_lettered(self, queue: str) -> set[str]:
        connection = BlockingConnection(
            f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}", timeout=10
        )
        found = set()
        try:
            receiver = connection.create_receiver(
                "DLQ", credit=10, name=uuid.uuid4().hex, options=[Selector(f"test = '{queue}'")]
            )
            while True:
                try:
                    message = receiver.receive(timeout=2)
                except Timeout:
                    return found
                found.add(str(message.id))
                receiver.accept()  # this test's dead letter, read: removed from the DLQ
        finally:
            connection.close()


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


class SqsProfile(ProxiedProfile):
    """An SQS endpoint: queues with a 2 s visibility timeout (a cut adapter's messages come
    back soon); the dead-lettering one has a redrive policy of one receive (a REJECTed
    message, no longer extended, is dead-lettered when it reappears)."""

    adapter = SQSSource
    quiet = 5.0

    def __init__(self, service: Any, sqs: Any):
        super().__init__(service.port("http"))
        self.sqs = sqs
        self.urls: dict[str, str] = {}

    def declare(self, queue: str, *, dead_letter: bool = False) -> None:
        dlq = self.sqs.create_queue(QueueName=queue + "-dlq")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        attributes = {"VisibilityTimeout": "2"}
        if dead_letter:  # a REJECTed message is dead-lettered when it reappears
            policy = {"deadLetterTargetArn": arn, "maxReceiveCount": "1"}
            attributes["RedrivePolicy"] = json.dumps(policy)
        self.urls[queue] = self.sqs.create_queue(QueueName=queue, Attributes=attributes)["QueueUrl"]
        self.urls[queue + "-dlq"] = dlq

    def delete(self, queue: str) -> None:
        for name in (queue, queue + "-dlq"):
            try:
                self.sqs.delete_queue(QueueUrl=self.urls.pop(name))
            except Exception:  # noqa: BLE001 - already gone; the sandbox is in memory anyway
                pass

    def source(self, queue: str, **options: Any) -> SourceAdapter:
        uri = f"sqs+http://AKIDEXAMPLE:{SECRET}@127.0.0.1:{self.proxy.port}"
        return SQSSource(uri, queue, **options)

    def publish(self, queue: str, ids: list[str], attributes: dict | None = None) -> None:
        send_batches(
            self.sqs,
            self.urls[queue],
            [
                {
                    "MessageBody": f"{mid}:",
                    "MessageAttributes": {
                        SQS_SOURCE_ID_ATTRIBUTE: {"DataType": "String", "StringValue": mid},
                        **(attributes or {}),
                    },
                }
                for mid in ids
            ],
        )

    def publish_typed(self, queue: str) -> dict[str, Any]:
        attributes = {
            "text": {"DataType": "String", "StringValue": "naïve ✓"},
            "price": {"DataType": "Number", "StringValue": "19.990"},
            "count": {"DataType": "Number.int", "StringValue": "-7"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
            "doc": {"DataType": "String.json", "StringValue": '{"a": 1}'},
        }
        self.publish(queue, ["typed"], attributes)
        return attributes

    def dead_lettered(self, queue: str) -> set[str]:
        found = set()
        reply = self.sqs.receive_message(
            QueueUrl=self.urls[queue + "-dlq"],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,
        )
        for message in reply.get("Messages", []):
            found.add(message["MessageAttributes"][SQS_SOURCE_ID_ATTRIBUTE]["StringValue"])
        return found


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
    def broker(self, moto_service, moto_sqs) -> Iterator[Broker]:
        profile = SqsProfile(moto_service, moto_sqs)
        yield profile
        profile.close()
