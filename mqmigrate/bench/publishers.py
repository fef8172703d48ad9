"""The benchmark's publishers: each sends the way a production publisher of its system does,
so the source is measured, not the harness.

One self-contained class per protocol, each counting what its broker confirmed:

* :class:`KafkaPublisher` — asynchronous, batching (``acks=all``, idempotent), every delivery
  report checked.
* :class:`RabbitMQConfirmPublisher` — publisher confirms, asynchronous and windowed: at most
  ``window`` messages unconfirmed, ``Basic.Ack`` (single or ``multiple``) counted as they come.
* :class:`AMQP1CreditPublisher` — sends within the link's credit, at most ``window``
  deliveries unsettled, each settled as the broker accepts it.
* :class:`SQSBatchPublisher` — ``SendMessageBatch`` of 10, every ``Failed`` entry checked.

``publish`` returns as soon as the message is handed to the client (it waits only while the
window is full); ``flush`` returns once every message published so far is confirmed.  A
refusal (nack, rejected/released/modified, a failed delivery report, a failed batch entry)
or a confirmation that does not come within ``timeout`` raises
:class:`~mqmigrate.errors.PublishRefused`: no message is ever counted as sent that the broker
did not take.  ``confirmed`` is how many the broker confirmed so far.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mqmigrate.errors import ConnectionFailed, PublishRefused

if TYPE_CHECKING:
    from mqmigrate.kafka.config import KafkaConfig

#: the unconfirmed messages a publisher allows by default (RabbitMQ PerfTest's users commonly
#: run ``--confirm`` 100–1000; the bridge benchmark's AMQP 1.0 filler uses 1,000)
DEFAULT_WINDOW = 1000
#: how long a publisher waits for a confirmation (credit, ack, settlement) before giving up
DEFAULT_TIMEOUT = 60.0


def _deadline_passed(deadline: float) -> bool:
    return time.monotonic() >= deadline


# -- Kafka ---------------------------------------------------------------------------------------
class KafkaPublisher:
    """confluent-kafka's asynchronous producer; every delivery report is counted."""

    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        settings: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        """``config``: the connection (bootstrap, security); ``settings``: the producer's own
        (acks, idempotence, linger...) on top of it."""
        from confluent_kafka import Producer

        self.producer = Producer(config.client(settings))
        self.topic = topic
        self.timeout = timeout
        self.confirmed = 0
        self.failed = 0
        self.first_error = ""

    def _report(self, error: Any, _message: Any) -> None:
        if error is None:
            self.confirmed += 1
        else:
            self.failed += 1
            self.first_error = self.first_error or str(error)

    def publish(self, body: bytes) -> None:
        """Queue ``body`` for sending (serving delivery reports while the local queue is full)."""
        while True:
            try:
                self.producer.produce(self.topic, body, on_delivery=self._report)
                break
            except BufferError:  # local queue full: serve delivery reports, retry
                self.producer.poll(0.05)
        self.producer.poll(0)
        self._raise_if_failed()

    def flush(self) -> None:
        """Wait until every queued message has its delivery report."""
        remaining = self.producer.flush(self.timeout)
        self._raise_if_failed()
        if remaining:
            raise PublishRefused(
                f"Kafka did not acknowledge {remaining} message(s) within {self.timeout:.0f} s"
            )

    def _raise_if_failed(self) -> None:
        if self.failed:
            raise PublishRefused(
                f"Kafka refused {self.failed} message(s): {self.first_error[:200]}"
            )

    def close(self) -> None:
        """Give queued messages a last chance; nothing is counted that was not reported."""
        self.producer.flush(10)


# -- RabbitMQ (AMQP 0-9-1) -----------------------------------------------------------------------
class ConfirmTracker:
    """Which of a confirm-mode channel's messages are still unconfirmed.

    Delivery tags run 1, 2, ... in publish order; the broker acks or nacks each exactly once,
    either alone or, with ``multiple``, together with every earlier one still unconfirmed.
    """

    def __init__(self) -> None:
        self.sent = self.acked = self.nacked = 0
        #: unconfirmed tags, oldest first, and those among them confirmed alone, out of order
        self._pending: deque[int] = deque()
        self._confirmed_alone: set[int] = set()

    @property
    def outstanding(self) -> int:
        """Messages published and neither acked nor nacked yet."""
        return len(self._pending) - len(self._confirmed_alone)

    def published(self) -> int:
        """Record one more publish; returns its delivery tag."""
        self.sent += 1
        self._pending.append(self.sent)
        return self.sent

    def confirm(self, tag: int, *, multiple: bool, ack: bool) -> int:
        """Apply one ``Basic.Ack`` (``ack``) or ``Basic.Nack``; returns how many it resolved."""
        pending, alone = self._pending, self._confirmed_alone
        resolved = 0
        if multiple:
            while pending and pending[0] <= tag:
                oldest = pending.popleft()
                if oldest in alone:
                    alone.discard(oldest)
                else:
                    resolved += 1
        elif pending and pending[0] <= tag <= self.sent and tag not in alone:
            alone.add(tag)
            resolved = 1
        while pending and pending[0] in alone:
            alone.discard(pending.popleft())
        if ack:
            self.acked += resolved
        else:
            self.nacked += resolved
        return resolved


class RabbitMQConfirmPublisher:
    """Persistent messages on a confirm-mode channel, confirms handled asynchronously.

    pika's ``BlockingChannel.confirm_delivery`` makes every ``basic_publish`` wait for its own
    confirm (one round trip per message), which production publishers avoid.  The channel
    implementation underneath it (pika's ``Channel``, reached as ``BlockingChannel._impl``,
    checked on pika 1.4) takes an ack/nack callback instead; the blocking connection calls it
    while serving its socket, so this class publishes without waiting and counts the acks as
    they arrive, serving the socket whenever half the window is outstanding.
    """

    def __init__(
        self,
        connection: Any,
        exchange: str,
        routing_key: str = "",
        *,
        window: int = DEFAULT_WINDOW,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        """``connection``: an open ``pika.BlockingConnection`` (closed by :meth:`close`)."""
        import pika

        self.connection = connection
        self.exchange, self.routing_key = exchange, routing_key
        self.window, self.timeout = max(window, 1), timeout
        self.properties = pika.BasicProperties(delivery_mode=2)
        self.channel = connection.channel()
        self.tracker = ConfirmTracker()
        impl = getattr(self.channel, "_impl", None)
        if impl is None or not hasattr(impl, "confirm_delivery"):
            raise ConnectionFailed(
                "this pika has no channel implementation to take asynchronous confirms from",
                hint="install pika 1.x (pip install 'pika>=1.3,<2')",
            )
        selected: list[Any] = []
        impl.confirm_delivery(self._on_confirm, callback=selected.append)
        self._serve_until(lambda: bool(selected), "Confirm.SelectOk")

    @property
    def outstanding(self) -> int:
        """Messages published and neither acked nor nacked yet."""
        return self.tracker.outstanding

    @property
    def confirmed(self) -> int:
        """Messages the broker acked."""
        return self.tracker.acked

    def _on_confirm(self, frame: Any) -> None:
        from pika import spec

        method = frame.method
        self.tracker.confirm(
            method.delivery_tag,
            multiple=bool(method.multiple),
            ack=not isinstance(method, spec.Basic.Nack),
        )

    def _serve(self, time_limit: float) -> None:
        import pika.exceptions as pex

        try:
            self.connection.process_data_events(time_limit)
        except pex.AMQPError as exc:
            raise PublishRefused(
                f"RabbitMQ closed the publishing channel: {type(exc).__name__} {exc}"[:300]
            ) from exc
        if self.tracker.nacked:
            raise PublishRefused(f"RabbitMQ nacked {self.tracker.nacked} message(s)")

    def _serve_until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not done():
            if _deadline_passed(deadline):
                raise PublishRefused(
                    f"RabbitMQ did not send {what} within {self.timeout:.0f} s "
                    f"({self.outstanding} message(s) unconfirmed)"
                )
            self._serve(0.05)

    def publish(self, body: bytes) -> None:
        """Publish ``body``; waits only while ``window`` messages are unconfirmed."""
        import pika.exceptions as pex

        if self.outstanding >= self.window:
            self._serve_until(lambda: self.outstanding < self.window, "confirms")
        try:
            self.channel.basic_publish(self.exchange, self.routing_key, body, self.properties)
        except pex.AMQPError as exc:
            raise PublishRefused(
                f"RabbitMQ refused a publish: {type(exc).__name__} {exc}"[:300]
            ) from exc
        self.tracker.published()
        if self.outstanding >= self.window // 2:
            self._serve(0)

    def flush(self) -> None:
        """Wait for the confirm of every message published so far."""
        self._serve_until(lambda: self.outstanding == 0, "confirms")

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:  # closing a broken connection: nothing left to do
            pass


# -- AMQP 1.0 ------------------------------------------------------------------------------------
class AMQP1CreditPublisher:
    """Durable messages sent within the link's credit, at most ``window`` unsettled.

    proton's ``BlockingSender.send`` waits for each delivery's settlement (a round trip per
    message).  This class sends on the underlying link whenever there is credit and room in
    the window, serves the connection without blocking after each send, and settles each
    delivery as the broker's outcome arrives: ``accepted`` is counted, anything else
    (``rejected``, ``released``, ``modified``, settled without an outcome) is a refusal.
    """

    def __init__(
        self,
        connection: Any,
        address: str,
        *,
        options: Any = None,
        window: int = DEFAULT_WINDOW,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        """``connection``: an open ``proton.utils.BlockingConnection`` (closed by
        :meth:`close`); ``options``: link options (e.g. Artemis' queue capability)."""
        self.connection = connection
        self.link = connection.create_sender(address, options=options).link
        self.window, self.timeout = max(window, 1), timeout
        self.confirmed = 0
        self.refused: dict[str, int] = {}
        self._unsettled: deque[Any] = deque()
        self._served_at = 0.0

    #: seconds between two serves of the connection while messages are sent back to back
    SERVE_INTERVAL = 0.002

    def _serve(self, timeout: float) -> None:
        from proton import ProtonException

        container = self.connection.container
        saved = container.timeout
        container.timeout = timeout
        try:
            container.process()
        except (ProtonException, OSError) as exc:
            raise PublishRefused(f"AMQP 1.0 connection failed: {exc}"[:300]) from exc
        finally:
            container.timeout = saved
        if self.connection.disconnected:
            raise PublishRefused(f"AMQP 1.0 connection lost ({self.connection.disconnected})")
        self._collect()

    def _collect(self) -> None:
        """Settle, oldest first, the deliveries the broker has given an outcome."""
        from proton import Delivery

        unsettled = self._unsettled
        while unsettled:
            delivery = unsettled[0]
            state = delivery.remote_state
            if not delivery.settled and state not in (
                Delivery.ACCEPTED,
                Delivery.REJECTED,
                Delivery.RELEASED,
                Delivery.MODIFIED,
            ):
                break
            unsettled.popleft()
            if state == Delivery.ACCEPTED:
                self.confirmed += 1
            else:
                reason = str(state).lower() if state else "settled without an outcome"
                self.refused[reason] = self.refused.get(reason, 0) + 1
            delivery.settle()
        if self.refused:
            what = ", ".join(f"{n} {reason}" for reason, n in self.refused.items())
            raise PublishRefused(f"the AMQP 1.0 broker did not accept every message: {what}")
        condition = self.link.remote_condition
        if condition is not None:
            raise PublishRefused(f"the AMQP 1.0 broker closed the sender: {condition}"[:300])

    def _serve_until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not done():
            if _deadline_passed(deadline):
                raise PublishRefused(
                    f"the AMQP 1.0 broker gave no {what} within {self.timeout:.0f} s "
                    f"({len(self._unsettled)} message(s) unsettled)"
                )
            self._serve(0.05)

    def publish(self, body: bytes) -> None:
        """Send ``body``; waits only for credit or while ``window`` deliveries are unsettled."""
        from proton import Message

        link = self.link
        if not link.credit or len(self._unsettled) >= self.window:
            self._serve_until(
                lambda: bool(link.credit) and len(self._unsettled) < self.window, "credit"
            )
        self._unsettled.append(link.send(Message(body=body, durable=True)))
        # the message reaches the socket when the connection is served; serving after every
        # send costs more than the send (proton dispatches each event in Python), so a burst
        # is written every SERVE_INTERVAL, a paced publisher's message at once
        now = time.monotonic()
        if now - self._served_at >= self.SERVE_INTERVAL:
            self._serve(0)
            self._served_at = now

    def flush(self) -> None:
        """Wait until the broker accepted every message sent so far."""
        self._serve_until(lambda: not self._unsettled, "settlement")

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:  # closing a broken connection: nothing left to do
            pass


# -- SQS -----------------------------------------------------------------------------------------
class SQSBatchPublisher:
    """``SendMessageBatch`` of 10 (SQS's maximum); a failed entry is a refusal."""

    def __init__(self, client: Any, queue_url: str):
        self.client, self.queue_url = client, queue_url
        self.batch: list[dict[str, str]] = []
        self.confirmed = 0

    def publish(self, body: bytes) -> None:
        """Add ``body`` to the batch (SQS bodies are text: base64 keeps binary intact)."""
        import base64

        self.batch.append(
            {"Id": str(len(self.batch)), "MessageBody": base64.b64encode(body).decode()}
        )
        if len(self.batch) == 10:
            self.flush()

    def flush(self) -> None:
        """Send the batch; every entry must come back in ``Successful``."""
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=batch)
        taken = len(answer.get("Successful") or [])
        self.confirmed += taken
        if taken != len(batch):
            first = (answer.get("Failed") or [{}])[0]
            raise PublishRefused(
                f"SQS refused {len(batch) - taken} of {len(batch)} message(s): "
                f"{first.get('Code', '?')} {first.get('Message', '')}".strip()
            )

    def close(self) -> None:
        self.flush()
