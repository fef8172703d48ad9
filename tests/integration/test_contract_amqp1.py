"""Contract: the AMQP 1.0 behaviour of both sandbox brokers, with python-qpid-proton.

One suite, parametrised over RabbitMQ 3.10's AMQP 1.0 plugin (queue addresses
``/amq/queue/NAME``) and ActiveMQ Artemis (an anycast queue whose address is its name).

The settlement outcomes are what the bridge and the worker map onto share-group outcomes, so
each test asserts what the broker *really* does (documented in docs/sandbox.md):

* accepted: gone, on both.
* released: redelivered at once to the same receiver, ``delivery-count`` unchanged, on both.
* modified: Artemis redelivers at once to the same receiver and adds one to
  ``delivery-count`` only when ``delivery-failed`` is set; RabbitMQ 3.10 puts the message back
  in the queue but does not offer it to the same receiver again (within several seconds), and
  a receiver on a new connection gets it with ``delivery-count`` 0 either way.
* rejected: never redelivered; dead-lettered (RabbitMQ: the queue's DLX, with no ``x-death``
  visible over AMQP 1.0; Artemis: the ``DLQ`` address of the default address settings, with
  the ``x-opt-ORIG-QUEUE`` message annotation).

RabbitMQ 3.10 does not answer a link detach with ``closed=true``: closing a receiver link
times out, so every receiver here has its own connection, and closing that connection
ends the link.
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from typing import Iterator, Protocol

import pika
import pytest
from proton import Delivery, Message, Timeout
from proton.reactor import Selector
from proton.utils import BlockingConnection, BlockingReceiver

pytestmark = [pytest.mark.integration, pytest.mark.amqp1]

#: how long "not redelivered" is watched for
QUIET_SECONDS = 3.0


class Amqp1Broker(Protocol):
    name: str

    def url(self) -> str: ...

    def declare(self, queue: str, dead_letter_queue: str | None = None) -> str:
        """Create ``queue`` (dead-lettering to ``dead_letter_queue``); return its address."""

    def dead_letters(self, queue: str, dead_letter_queue: str, test_id: str) -> tuple[str, list]:
        """Address and receiver options that see ``queue``'s dead letters from this test."""

    def delete(self, queue: str) -> None: ...


class RabbitMQAmqp1:
    name = "rabbitmq"

    def __init__(self, service):
        self.service = service

    def url(self) -> str:
        user, password = self.service.credentials()
        return f"amqp://{user}:{password}@127.0.0.1:{self.service.port('amqp')}"

    @contextmanager
    def _channel(self) -> Iterator:
        user, password = self.service.credentials()
        connection = pika.BlockingConnection(
            pika.ConnectionParameters(
                "127.0.0.1",
                self.service.port("amqp"),
                credentials=pika.PlainCredentials(user, password),
            )
        )
        try:
            yield connection.channel()
        finally:
            connection.close()

    def declare(self, queue: str, dead_letter_queue: str | None = None) -> str:
        # the 3.10 plugin cannot declare queues itself: /amq/queue/NAME must exist
        arguments = {}
        with self._channel() as channel:
            if dead_letter_queue:
                channel.queue_declare(dead_letter_queue, durable=True)
                arguments = {
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": dead_letter_queue,
                }
            channel.queue_declare(queue, durable=True, arguments=arguments)
        return f"/amq/queue/{queue}"

    def dead_letters(self, queue: str, dead_letter_queue: str, test_id: str) -> tuple[str, list]:
        return f"/amq/queue/{dead_letter_queue}", []

    def delete(self, queue: str) -> None:
        with self._channel() as channel:
            channel.queue_delete(queue)


class ArtemisAmqp1:
    name = "artemis"
    mbean = 'org.apache.activemq.artemis:broker="mqmigrate"'

    def __init__(self, service):
        self.service = service

    def url(self) -> str:
        user, password = self.service.credentials()
        return f"amqp://{user}:{password}@127.0.0.1:{self.service.port('acceptor')}"

    def declare(self, queue: str, dead_letter_queue: str | None = None) -> str:
        # dead letters go to the DLQ address of the default address settings ("#")
        config = {"name": queue, "address": queue, "routing-type": "ANYCAST", "durable": True}
        self.service.jolokia(
            {
                "type": "exec",
                "mbean": self.mbean,
                "operation": "createQueue(java.lang.String,boolean)",
                "arguments": [json.dumps(config), True],
            }
        )
        return queue

    def dead_letters(self, queue: str, dead_letter_queue: str, test_id: str) -> tuple[str, list]:
        # DLQ is shared by every queue: a selector keeps other tests' dead letters out
        return "DLQ", [Selector(f"test_id = '{test_id}'")]

    def delete(self, queue: str) -> None:
        self.service.jolokia(
            {
                "type": "exec",
                "mbean": self.mbean,
                "operation": "destroyQueue(java.lang.String,boolean)",
                "arguments": [queue, True],
            }
        )


@pytest.fixture(params=["rabbitmq", "artemis"])
def broker(request) -> Amqp1Broker:
    service = request.getfixturevalue(f"{request.param}_service")
    return {"rabbitmq": RabbitMQAmqp1, "artemis": ArtemisAmqp1}[request.param](service)


@pytest.fixture
def queue(broker, unique_name) -> Iterator[str]:
    address = broker.declare(unique_name)
    yield address
    broker.delete(unique_name)


@contextmanager
def receiving(
    broker: Amqp1Broker, address: str, credit: int = 1, options: list | None = None
) -> Iterator[BlockingReceiver]:
    """A receiver on its own connection; closing the connection ends the link."""
    connection = BlockingConnection(broker.url(), timeout=10)
    try:
        yield connection.create_receiver(
            address, credit=credit, name=uuid.uuid4().hex, options=options
        )
    finally:
        connection.close()


def send(broker: Amqp1Broker, address: str, *messages: Message) -> None:
    connection = BlockingConnection(broker.url(), timeout=10)
    try:
        sender = connection.create_sender(address)
        for message in messages:
            sender.send(message)  # blocks until the broker settles it
    finally:
        connection.close()


def receive_or_none(receiver: BlockingReceiver, timeout: float) -> Message | None:
    try:
        return receiver.receive(timeout=timeout)
    except Timeout:
        return None


def settle_modified(receiver: BlockingReceiver, *, delivery_failed: bool) -> None:
    """Settle the oldest unsettled delivery as MODIFIED (BlockingReceiver cannot set the flag)."""
    delivery = receiver.fetcher.unsettled.popleft()
    delivery.local.failed = delivery_failed
    delivery.update(Delivery.MODIFIED)
    delivery.settle()


def test_send_receive_keeps_properties_and_application_properties(broker, queue):
    properties = {
        "string": "héllo",
        "long": 2**40,
        "negative": -7,
        "double": 3.25,
        "true": True,
        "false": False,
        "binary": b"\x00\xff",
    }
    message = Message(
        id="msg-1",
        correlation_id="corr-1",
        subject="order.created",
        content_type="application/json",
        durable=True,
        priority=6,
        properties=properties,
        body=b'{"n": 1}',
    )
    send(broker, queue, message)

    with receiving(broker, queue) as receiver:
        got = receiver.receive(timeout=10)
        receiver.accept()

    assert (got.id, got.correlation_id, got.subject) == ("msg-1", "corr-1", "order.created")
    assert (got.content_type, got.durable, got.priority) == ("application/json", True, 6)
    assert bytes(got.body) == b'{"n": 1}'
    # proton 0.40 hands AMQP binary values out as memoryview
    received = {k: bytes(v) if isinstance(v, memoryview) else v for k, v in got.properties.items()}
    assert received == properties
    for key, value in properties.items():
        assert type(received[key]) is type(value), key


def test_accepted_message_is_gone(broker, queue):
    send(broker, queue, Message(body="once"))
    with receiving(broker, queue) as receiver:
        assert receiver.receive(timeout=10).body == "once"
        receiver.accept()
        assert receive_or_none(receiver, QUIET_SECONDS) is None
    with receiving(broker, queue) as receiver:
        assert receive_or_none(receiver, 1.0) is None


def test_released_message_is_redelivered_to_the_same_receiver(broker, queue):
    send(broker, queue, Message(id="r-1", body="again"))
    with receiving(broker, queue) as receiver:
        first = receiver.receive(timeout=10)
        assert first.delivery_count == 0
        receiver.release(delivered=False)  # RELEASED: "not processed, give it to anyone"

        started = time.monotonic()
        second = receiver.receive(timeout=QUIET_SECONDS)
        assert time.monotonic() - started < 1.0
        assert (second.id, second.body) == ("r-1", "again")
        assert second.delivery_count == 0  # released does not count as a delivery attempt
        receiver.accept()


@pytest.mark.parametrize("delivery_failed", [False, True], ids=["modified", "modified-failed"])
def test_modified_message(broker, queue, delivery_failed):
    send(broker, queue, Message(id="m-1", body="retry"))
    with receiving(broker, queue) as receiver:
        receiver.receive(timeout=10)
        settle_modified(receiver, delivery_failed=delivery_failed)
        again = receive_or_none(receiver, QUIET_SECONDS)
        if broker.name == "artemis":
            assert again is not None and again.id == "m-1"
            assert again.delivery_count == (1 if delivery_failed else 0)
            receiver.accept()
            return
        # RabbitMQ 3.10: requeued, but not offered to this receiver again
        assert again is None
    with receiving(broker, queue) as receiver:
        later = receiver.receive(timeout=10)
        assert later.id == "m-1"
        assert later.delivery_count == 0  # the plugin does not count failed deliveries
        receiver.accept()


def test_rejected_message_is_not_redelivered_but_dead_lettered(broker, unique_name):
    dead_letter_queue = f"{unique_name}-dlq"
    address = broker.declare(unique_name, dead_letter_queue)
    test_id = uuid.uuid4().hex
    try:
        send(broker, address, Message(id="p-1", body="poison", properties={"test_id": test_id}))
        with receiving(broker, address) as receiver:
            receiver.receive(timeout=10)
            receiver.reject()
            assert receive_or_none(receiver, QUIET_SECONDS) is None
        with receiving(broker, address) as receiver:
            assert receive_or_none(receiver, 1.0) is None

        source, options = broker.dead_letters(unique_name, dead_letter_queue, test_id)
        with receiving(broker, source, options=options) as receiver:
            dead = receiver.receive(timeout=10)
            receiver.accept()
        assert (dead.id, dead.body, dead.properties["test_id"]) == ("p-1", "poison", test_id)
        if broker.name == "artemis":
            assert dead.annotations["x-opt-ORIG-QUEUE"] == unique_name
        else:
            # the 3.10 plugin hands back the original AMQP 1.0 sections: the x-death history
            # that an AMQP 0-9-1 consumer would see is not visible over AMQP 1.0
            assert not dead.annotations
    finally:
        broker.delete(unique_name)
        if broker.name == "rabbitmq":
            broker.delete(dead_letter_queue)
