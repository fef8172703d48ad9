"""Each source adapter on its sandbox broker, as the suites see it (one "profile" a broker).

A profile makes and deletes queues, publishes messages with known source ids (typed headers
too), reads what is left in a queue and what was dead-lettered, builds the adapter, and gives
the URI and options the ``mqmigrate bridge`` command takes.  A network broker is reached
through a :class:`~tests.support.proxy.TcpProxy`, so a test can cut the connection (every
socket closed, as in a broker restart) without touching the shared sandbox broker.  Used by
tests/integration/test_source_contract.py (the ``SourceAdapter`` contract) and
tests/bridge/test_bridge_scenarios.py (the bridge's scenarios).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pika
from proton import Message, Timeout, symbol, timestamp, ulong
from proton.reactor import Selector
from proton.utils import BlockingConnection

from mqmigrate.headers import SQS_SOURCE_ID_ATTRIBUTE
from mqmigrate.sources.amqp1.adapter import AMQP1Source
from mqmigrate.sources.base import Capabilities, SourceAdapter
from mqmigrate.sources.memory import MemoryBroker, MemoryMessage, MemorySource
from mqmigrate.sources.rabbitmq.adapter import SHADOW_SUFFIX as RABBITMQ_SHADOW_SUFFIX
from mqmigrate.sources.rabbitmq.adapter import RabbitMQSource
from mqmigrate.sources.sqs.adapter import SHADOW_SUFFIX as SQS_SHADOW_SUFFIX
from mqmigrate.sources.sqs.adapter import SQSSource
from tests.support.amqp1 import Artemis, publish
from tests.support.proxy import TcpProxy
from tests.support.sqs import depth as sqs_depth
from tests.support.sqs import send_batches

#: a password in every network source URI; never in describe() or an error
SECRET = "s3cr3t-contract"

#: the body of :meth:`Broker.publish_properties`' message: not ASCII (SQS bodies are text)
PROPERTIES_BODY = "props:héllo wörld ✓".encode()


@dataclasses.dataclass(frozen=True)
class Sent:
    """The message :meth:`Broker.publish_properties` sent, as the adapter must hand it over."""

    body: bytes
    #: a part of :attr:`Envelope.properties` (values and types)
    properties: dict[str, Any]
    #: a part of :attr:`Envelope.headers` (values and types, nested ones too)
    headers: dict[str, Any]
    #: :attr:`Envelope.timestamp_ms`; None when the broker stamps the message itself (SQS's
    #: ``SentTimestamp``: then it lies between the publish's start and end)
    timestamp_ms: int | None
    #: :attr:`Envelope.key`
    key: str | None = None


class Broker:
    """One adapter on one broker, as the contract sees it (subclasses fill it in)."""

    #: the adapter class (its registry name and capabilities come from it)
    adapter: ClassVar[type[SourceAdapter]]
    #: how long "not delivered again" is watched for
    quiet: ClassVar[float] = 3.0
    #: how long the broker may take to give back what a cut connection held
    given_back_after_cut: ClassVar[float] = 3.0
    #: whether a RELEASEd message comes back marked redelivered (AMQP 1.0's ``released``
    #: leaves ``delivery-count`` as it was: not a failed delivery)
    release_redelivered: ClassVar[bool] = True

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

    def publish(self, queue: str, ids: list[str], size: int = 0) -> None:
        """One persistent message per id, which the adapter reports as its source id; the
        body is ``id:`` padded with dots to ``size`` bytes."""
        raise NotImplementedError

    def publish_typed(self, queue: str) -> dict[str, Any]:
        """Publish one message with typed application headers; returns them as the adapter
        must hand them over in :attr:`Envelope.headers` (values and types)."""
        raise NotImplementedError

    def publish_properties(self, queue: str) -> Sent:
        """Publish one message (source id ``props``, body :data:`PROPERTIES_BODY`) with the
        broker's message properties, a send time and more typed headers than
        :meth:`publish_typed`; returns what the adapter must hand over."""
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

    # -- what the bridge scenarios use -------------------------------------------------------
    #: seconds a cut stays cut in the reconnect scenario (SQS: longer than boto3's retries)
    outage: ClassVar[float] = 3.0

    def uri(self, *, proxied: bool = False) -> str | None:
        """The bridge's ``--source`` (through the cuttable proxy when ``proxied``); None when
        the adapter cannot be built from a URI (the memory source lives only in a test)."""
        return None

    def cli_args(self) -> tuple[str, ...]:
        """Options the bridge command needs for this broker besides the URI."""
        return ()

    def remaining(self, queue: str) -> int:
        """Messages in ``queue``, waiting or held by a consumer (read on the broker)."""
        raise NotImplementedError

    def feed(self, queue: str) -> None:
        """Make ``queue`` one a shadow copy can be taken of (an exchange binding, an SNS
        subscription); only for profiles whose capabilities say ``shadow``."""

    def publish_fed(self, queue: str, ids: list[str]) -> None:
        """Publish the way the queue's producers do, so a shadow sees the messages too."""
        self.publish(queue, ids)

    def shadow_exists(self, queue: str) -> bool:
        """Whether the shadow copy of ``queue`` is on the broker."""
        raise NotImplementedError

    def fill(self, queue: str, ids: list[str], size: int = 0) -> None:
        """:meth:`publish` for a backlog of a crash campaign (as fast as the broker takes it);
        returns once ``queue`` holds every message."""
        self.publish(queue, ids, size)

    # -- only for the scenarios classes that set ``fifo_campaign`` / ``visibility_watch`` ----
    def declare_fifo(self, queue: str) -> str:
        """Create a FIFO queue for ``queue`` (each message group served in order); returns the
        name the bridge takes (:meth:`delete` and :meth:`remaining` take it too)."""
        raise NotImplementedError

    def publish_groups(self, queue: str, groups: int, per_group: int) -> None:
        """``per_group`` messages in each of ``groups`` groups of a FIFO queue: group ``gN``,
        bodies ``gN:0`` .. ``gN:{per_group - 1}``, each group sent in order."""
        raise NotImplementedError

    def visible(self, queue: str) -> int:
        """Messages of ``queue`` another consumer could receive now (not held by one)."""
        raise NotImplementedError

    def received_elsewhere(self, queue: str, seconds: float) -> int:
        """How many messages another consumer receives from ``queue`` polling for
        ``seconds`` (each made visible again at once)."""
        raise NotImplementedError


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

    def publish(self, queue: str, ids: list[str], size: int = 0) -> None:
        self.memory.publish(queue, [MemoryMessage(_body(i, size), i) for i in ids])

    def remaining(self, queue: str) -> int:
        return self.memory.depth(queue)

    def publish_typed(self, queue: str) -> dict[str, Any]:
        headers = {"n": 7, "price": decimal.Decimal("1.50"), "blob": b"\x00", "ok": True}
        self.memory.publish(queue, [MemoryMessage(b"t:", "t", headers=dict(headers))])
        return headers

    def publish_properties(self, queue: str) -> Sent:
        headers = {"string": "héllo", "negative": -7, "false": False, "list": [1, "two"]}
        message = MemoryMessage(
            PROPERTIES_BODY, "props", dict(headers), group_id="g-7", timestamp_ms=1_700_000_000_123
        )
        self.memory.publish(queue, [message])
        properties = {"message_id": "props", "group_id": "g-7"}
        return Sent(PROPERTIES_BODY, properties, headers, 1_700_000_000_123, key="g-7")

    def dead_lettered(self, queue: str) -> set[str]:
        return {m.message_id for m in self.memory.dead}

    def cut(self, source: SourceAdapter) -> None:
        assert isinstance(source, MemorySource)
        source.fail_receive_on = {source.receive_calls + 1}  # the next receive: dropped


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
        self.amqp_port = service.port("amqp")
        self.management_url = f"http://127.0.0.1:{service.port('management')}"
        self.params = pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2f")

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
            channel.queue_delete(queue + RABBITMQ_SHADOW_SUFFIX)
            channel.exchange_delete(queue + "-x")
        finally:
            connection.close()

    def source(self, queue: str, **options: Any) -> SourceAdapter:
        uri = f"amqp://guest:guest@127.0.0.1:{self.proxy.port}/%2f"
        return RabbitMQSource(uri, queue, **{"prefetch": 50, **options})

    def publish(
        self,
        queue: str,
        ids: list[str],
        size: int = 0,
        headers: dict | None = None,
        exchange: str = "",
    ) -> None:
        connection, channel = self._channel()
        try:
            channel.confirm_delivery()
            for mid in ids:
                channel.basic_publish(
                    exchange,
                    queue,
                    _body(mid, size),
                    pika.BasicProperties(message_id=mid, delivery_mode=2, headers=headers),
                )
        finally:
            connection.close()

    def fill(self, queue: str, ids: list[str], size: int = 0) -> None:
        """Without publisher confirms (one round trip a message would take minutes for a
        campaign): counts what arrived instead."""
        connection, channel = self._channel()
        try:
            for mid in ids:
                channel.basic_publish(
                    "",
                    queue,
                    _body(mid, size),
                    pika.BasicProperties(message_id=mid, delivery_mode=2),
                )
        finally:
            connection.close()
        deadline = time.monotonic() + 120
        while self.remaining(queue) != len(ids):
            assert time.monotonic() < deadline, f"{queue} never held {len(ids)} messages"
            time.sleep(0.1)

    def uri(self, *, proxied: bool = False) -> str | None:
        port = self.proxy.port if proxied else self.amqp_port
        return f"amqp://guest:guest@127.0.0.1:{port}/%2f"

    def cli_args(self) -> tuple[str, ...]:
        return ("--management-url", self.management_url)

    def remaining(self, queue: str) -> int:
        connection, channel = self._channel()
        try:
            return channel.queue_declare(queue, passive=True).method.message_count
        finally:
            connection.close()

    def feed(self, queue: str) -> None:
        connection, channel = self._channel()
        try:
            channel.exchange_declare(queue + "-x", "topic", durable=True)
            channel.queue_bind(queue, queue + "-x", routing_key="orders.*")
        finally:
            connection.close()

    def publish_fed(self, queue: str, ids: list[str]) -> None:
        self.publish("orders.created", ids, exchange=queue + "-x")

    def shadow_exists(self, queue: str) -> bool:
        connection, channel = self._channel()
        try:
            channel.queue_declare(queue + RABBITMQ_SHADOW_SUFFIX, passive=True)
            return True
        except pika.exceptions.ChannelClosedByBroker:
            return False
        finally:
            if connection.is_open:
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

    def publish_properties(self, queue: str) -> Sent:
        when = dt.datetime(2026, 11, 25, 12, 30, 15, tzinfo=dt.timezone.utc)
        headers = {
            "string": "héllo",
            "negative": -7,
            "false": False,
            "array": [1, "two", True, [4, 5], {"k": "v"}],
            "table": {"nested": {"deeper": 1}, "list": ["a", "b"], "when": when},
        }
        # every basic property but headers and timestamp, which the envelope keeps apart
        properties = {
            "content_type": "application/json",
            "content_encoding": "utf-8",
            "correlation_id": "corr-1",
            "message_id": "props",
            "priority": 7,
            "delivery_mode": 2,
            "expiration": "600000",
            "type": "order.created",
            "app_id": "contract-test",
            "reply_to": "replies",
        }
        sent_s = 1_764_073_815  # AMQP 0-9-1 timestamps are whole seconds
        connection, channel = self._channel()
        try:
            channel.confirm_delivery()
            channel.basic_publish(
                "",
                queue,
                PROPERTIES_BODY,
                pika.BasicProperties(timestamp=sent_s, headers=headers, **properties),
            )
        finally:
            connection.close()
        return Sent(PROPERTIES_BODY, properties, headers, sent_s * 1000)

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


class Amqp1Profile(ProxiedProfile):
    adapter = AMQP1Source
    #: Artemis and RabbitMQ's plugin give a cut AMQP 1.0 connection's deliveries back some
    #: seconds later (Artemis: 4.4 s measured)
    given_back_after_cut = 10.0
    release_redelivered = False
    #: where a queue's messages are sent (RabbitMQ: /amq/queue/NAME)
    address_format = "{}"
    send_capabilities: tuple[str, ...] = ("queue",)

    def __init__(self, port: int, user: str, password: str):
        super().__init__(port)
        self.port, self.user, self.password = port, user, password

    def uri(self, *, proxied: bool = False) -> str:
        port = self.proxy.port if proxied else self.port
        return f"amqp1://{self.user}:{self.password}@127.0.0.1:{port}"

    def _send(self, queue: str, messages: Any) -> None:
        publish(
            f"amqp://127.0.0.1:{self.port}",
            self.address_format.format(queue),
            messages,
            user=self.user,
            password=self.password,
            capabilities=self.send_capabilities,
        )

    def publish(self, queue: str, ids: list[str], size: int = 0) -> None:
        def tag(message: Message) -> None:
            message.properties = {"test": queue}

        self._send(queue, _messages(ids, tag, size))

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

        def typed(message: Message) -> None:
            message.properties = dict(properties)

        self._send(queue, _messages(["typed"], typed))
        return properties

    def publish_properties(self, queue: str) -> Sent:
        headers = {
            "test": queue,
            "negative": -7,
            "double": 3.25,
            "false": False,
            "binary": b"\x00\xff",
            "string": "héllo",
        }
        creation_ms = 1_700_000_000_123

        def described(message: Message) -> None:
            message.correlation_id = "corr-1"
            message.subject = "order.created"
            message.content_type = "application/json"
            message.priority = 6
            message.group_id = "order-7"
            message.creation_time = creation_ms / 1000
            message.properties = dict(headers)

        self._send(queue, _messages(["props"], described, body=PROPERTIES_BODY))
        properties = {
            "message_id": "props",
            "correlation_id": "corr-1",
            "subject": "order.created",
            "content_type": "application/json",
            "priority": 6,
            "group_id": "order-7",
        }
        return Sent(PROPERTIES_BODY, properties, headers, creation_ms, key="order-7")


def _body(mid: str, size: int) -> bytes:
    return f"{mid}:".encode().ljust(size, b".")


def _messages(
    ids: list[str], extra: Any, size: int = 0, body: bytes | None = None
) -> Iterator[Message]:
    for mid in ids:
        message = Message(id=mid, body=_body(mid, size) if body is None else body, durable=True)
        message.inferred = True  # bytes as a data section
        extra(message)
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
        return AMQP1Source(self.uri(proxied=True), queue, **{"prefetch": 50, **options})

    uri = Amqp1Profile.uri
    publish = Amqp1Profile.publish
    cli_args = Broker.cli_args

    def publish_fed(self, queue: str, ids: list[str]) -> None:
        self.publish(queue, ids)

    def dead_lettered(self, queue: str) -> set[str]:
        connection, channel = self._channel()
        found = set()
        try:
            while True:
                method, _properties, body = channel.basic_get(queue + ".dlq", auto_ack=False)
                if method is None:
                    return found
                # an AMQP 1.0 message read over 0-9-1 keeps its encoded sections as the body:
                # the data section, "id:" and its padding, comes last
                found.update(m.decode() for m in re.findall(rb"([\w.-]+):\.*$", body))
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

    def cli_args(self) -> tuple[str, ...]:
        return ("--management-url", self.artemis.management_url)

    def remaining(self, queue: str) -> int:
        return self.artemis.count(queue)

    def shadow_exists(self, queue: str) -> bool:
        return queue + ".mqmigrate-shadow" in self.artemis.queue_names()

    def source(self, queue: str, **options: Any) -> SourceAdapter:
        return AMQP1Source(
            self.uri(proxied=True),
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


class SqsProfile(ProxiedProfile):
    """An SQS endpoint: queues with a 2 s visibility timeout (a cut adapter's messages come
    back soon); the dead-lettering one has a redrive policy of one receive (a REJECTed
    message, no longer extended, is dead-lettered when it reappears)."""

    adapter = SQSSource
    quiet = 5.0
    outage = 10.0

    def __init__(self, service: Any, sqs: Any, sns: Any = None, *, visibility: int = 2):
        super().__init__(service.port("http"))
        self.visibility = visibility
        self.endpoint_port = service.port("http")
        self.sqs, self.sns = sqs, sns
        self.urls: dict[str, str] = {}
        self.topics: dict[str, str] = {}

    @property
    def capabilities(self) -> Capabilities:
        """A shadow copy of an SQS queue is fed by the queue's SNS topic: only where the
        endpoint has SNS (moto; ElasticMQ has none)."""
        return dataclasses.replace(SQSSource.capabilities, shadow=self.sns is not None)

    def uri(self, *, proxied: bool = False) -> str | None:
        port = self.proxy.port if proxied else self.endpoint_port
        return f"sqs+http://127.0.0.1:{port}"

    def remaining(self, queue: str) -> int:
        return sum(sqs_depth(self.sqs, self.urls[queue]))

    def _arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def feed(self, queue: str) -> None:
        topic = self.sns.create_topic(Name=queue)["TopicArn"]
        self.topics[queue] = topic
        self.sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=self._arn(self.urls[queue]),
            Attributes={"RawMessageDelivery": "true"},
        )

    def publish_fed(self, queue: str, ids: list[str]) -> None:
        for mid in ids:
            self.sns.publish(
                TopicArn=self.topics[queue],
                Message=f"{mid}:",
                MessageAttributes={
                    SQS_SOURCE_ID_ATTRIBUTE: {"DataType": "String", "StringValue": mid}
                },
            )

    def shadow_exists(self, queue: str) -> bool:
        try:
            self.sqs.get_queue_url(QueueName=queue + SQS_SHADOW_SUFFIX)
            return True
        except self.sqs.exceptions.QueueDoesNotExist:
            return False

    def declare_fifo(self, queue: str) -> str:
        name = queue + ".fifo"
        attributes = {"FifoQueue": "true", "VisibilityTimeout": str(self.visibility)}
        self.urls[name] = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return name

    def publish_groups(self, queue: str, groups: int, per_group: int) -> None:
        def send_group(g: int) -> None:  # one sender per group keeps its send order
            entries = [
                {
                    "MessageBody": f"g{g}:{i}",
                    "MessageGroupId": f"g{g}",
                    "MessageDeduplicationId": f"g{g}-{i}",
                }
                for i in range(per_group)
            ]
            send_batches(self.sqs, self.urls[queue], entries, threads=1)

        with ThreadPoolExecutor(groups) as pool:
            list(pool.map(send_group, range(groups)))

    def visible(self, queue: str) -> int:
        return sqs_depth(self.sqs, self.urls[queue])[0]

    def received_elsewhere(self, queue: str, seconds: float) -> int:
        received = 0
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            reply = self.sqs.receive_message(
                QueueUrl=self.urls[queue],
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                VisibilityTimeout=0,
            )
            received += len(reply.get("Messages", []))
        return received

    def declare(self, queue: str, *, dead_letter: bool = False) -> None:
        dlq = self.sqs.create_queue(QueueName=queue + "-dlq")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        attributes = {"VisibilityTimeout": str(self.visibility)}
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
        if queue in self.topics:
            self.sns.delete_topic(TopicArn=self.topics.pop(queue))

    def source(self, queue: str, **options: Any) -> SourceAdapter:
        uri = f"sqs+http://AKIDEXAMPLE:{SECRET}@127.0.0.1:{self.proxy.port}"
        return SQSSource(uri, queue, **options)

    def publish(
        self, queue: str, ids: list[str], size: int = 0, attributes: dict | None = None
    ) -> None:
        send_batches(
            self.sqs,
            self.urls[queue],
            [
                {
                    "MessageBody": _body(mid, size).decode(),
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
        self.publish(queue, ["typed"], attributes=attributes)
        return attributes

    def publish_properties(self, queue: str) -> Sent:
        attributes = {
            SQS_SOURCE_ID_ATTRIBUTE: {"DataType": "String", "StringValue": "props"},
            "bytes": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
            # custom type labels stay as they are: headers map them to typed values
            "gz": {"DataType": "Binary.gzip", "BinaryValue": b"\x1f\x8b\x08\x00"},
            "big": {"DataType": "Number.int", "StringValue": "12345678901234567890"},
        }
        sent = self.sqs.send_message(
            QueueUrl=self.urls[queue],
            MessageBody=PROPERTIES_BODY.decode(),
            MessageAttributes=attributes,
        )
        return Sent(PROPERTIES_BODY, {"message_id": sent["MessageId"]}, attributes, None)

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
