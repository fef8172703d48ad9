"""RabbitMQ (AMQP 0-9-1) publisher with publisher confirms: the write side of a RabbitMQ source.

``basic_publish`` returns only after the broker confirmed (``confirm_delivery``);
``mandatory=True`` so an unroutable message is an error, not a silent drop.  The message id
is the ``message_id`` property; headers go to the header table with their types;
persistent delivery.  The connection is opened lazily and reopened after a failure.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable, Literal, Mapping

from mqmigrate.errors import (
    ConfigError,
    ConnectionFailed,
    PublishRefused,
    SourceError,
    SourceUnavailable,
)
from mqmigrate.kafka.delays import label
from mqmigrate.redact import mask_uri
from mqmigrate.sources.base import (
    PUBLISH_TIMEOUT,
    PUBLISH_WINDOW,
    QueueSpec,
    SourcePublisher,
    check_properties,
    deadline_passed,
)
from mqmigrate.sources.connect import pika_parameters
from mqmigrate.sources.uri import parse_source_uri

#: neutral property names -> pika.BasicProperties fields
_PROPERTIES = {
    "content_type": "content_type",
    "content_encoding": "content_encoding",
    "correlation_id": "correlation_id",
    "reply_to": "reply_to",
    "type": "type",
    "app_id": "app_id",
    "user_id": "user_id",
    "expiration": "expiration",
    "priority": "priority",
}


class RabbitMQPublisher(SourcePublisher):
    """RabbitMQ over AMQP 0-9-1 with publisher confirms (the SDK's ``PikaSource``).

    ``url`` is a source URI as ``--source`` takes it (``amqps://`` with ``?cafile=``, x509
    EXTERNAL, a password as ``${env:NAME}``) or ready ``pika`` connection parameters.

    A delayed message (``send(..., delay_ms=...)``) goes, with ``delay_via="wait-queue"``
    (default), to a durable wait queue of that delay, ``mqmigrate.delay.<exchange or
    default>.<routing key>.<delay>``, declared on first use with ``x-message-ttl`` = the delay
    (rounded up to the second, :meth:`wait_delay`)
    and ``x-dead-letter-exchange`` / ``-routing-key`` = this producer's exchange and routing
    key: RabbitMQ dead-letters it to its real destination when the TTL runs out (one fixed TTL
    per queue, so messages expire in order and none waits behind a longer one).  With
    ``delay_via="x-delay"`` the exchange must be of type ``x-delayed-message`` (the
    rabbitmq-delayed-message-exchange plugin): the ``x-delay`` header carries the delay, and
    ``mandatory`` is off for those messages because the plugin routes only when the delay ends
    (it would return every mandatory message as unroutable).
    """

    kind = "rabbitmq"
    #: distinct delays (wait queues) one producer may use: each is a queue on the broker
    MAX_WAIT_QUEUES = 32

    def __init__(
        self,
        url: str | Any,
        *,
        routing_key: str,
        exchange: str = "",
        persistent: bool = True,
        delay_via: Literal["wait-queue", "x-delay"] = "wait-queue",
    ):
        if delay_via not in ("wait-queue", "x-delay"):
            raise ConfigError(f"delay_via must be 'wait-queue' or 'x-delay', not {delay_via!r}")
        self.url = url
        self.exchange = exchange
        self.routing_key = routing_key
        self.persistent = persistent
        self.delay_via = delay_via
        self._connection: Any = None
        self._channel: Any = None
        self._wait_queues: set[str] = set()
        self._declared: set[str] = set()

    @classmethod
    def from_uri(cls, uri: str, *, queue: str, **options: Any) -> "RabbitMQPublisher":
        """A publisher to ``queue`` through the default exchange, or through ``exchange=``
        with ``routing_key=`` (``queue`` by default)."""
        options.setdefault("routing_key", queue)
        return cls(uri, **options)

    @staticmethod
    def wait_delay(delay_ms: int) -> int:
        """The wait queue's TTL for ``delay_ms``: rounded up to the second (to 100 ms under a
        second), so a retry or a replay, which sends what is left of a delay, reuses a queue
        instead of declaring one per millisecond; never shorter than asked."""
        grain = 1000 if delay_ms >= 1000 else 100
        return -(-delay_ms // grain) * grain

    def wait_queue(self, delay_ms: int) -> str:
        """The wait queue that holds messages for ``delay_ms`` before RabbitMQ routes them."""
        return (
            f"mqmigrate.delay.{self.exchange or 'default'}.{self.routing_key}."
            f"{label(self.wait_delay(delay_ms))}"
        )

    def check_delay(self, delay_ms: int) -> None:
        """ConfigError when a delay of ``delay_ms`` cannot be honoured."""
        if self.delay_via == "wait-queue":
            if (
                self.wait_queue(delay_ms) not in self._wait_queues
                and len(self._wait_queues) >= self.MAX_WAIT_QUEUES
            ):
                raise ConfigError(
                    f"RabbitMQ producer for {self.routing_key} already uses "
                    f"{self.MAX_WAIT_QUEUES} distinct delays (one wait queue "
                    "each)",
                    hint="use a few fixed delays (tiers)",
                )
        elif not self.exchange:
            raise ConfigError(
                "delay_via='x-delay' needs an x-delayed-message exchange; the "
                "default exchange is a direct one",
                hint="pass exchange=..., or delay_via='wait-queue'",
            )

    def _open(self) -> Any:
        import pika

        if self._channel is None or not self._channel.is_open:
            self.close()
            params = (
                pika_parameters(parse_source_uri(self.url))
                if isinstance(self.url, str)
                else self.url
            )  # a URI gets the TLS, EXTERNAL and secret handling of --source
            self._connection = pika.BlockingConnection(params)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def send(
        self,
        body: bytes,
        message_id: str,
        headers: Mapping[str, Any],
        key: str | None,
        delay_ms: int | None = None,
        *,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm; ``key`` has no place in AMQP 0-9-1."""
        import pika
        from pika import exceptions as pe

        check_properties(self.kind, properties, frozenset(_PROPERTIES))
        exchange, routing_key, mandatory = self.exchange, self.routing_key, True
        table: dict[str, Any] = dict(headers)
        fields = {_PROPERTIES[name]: value for name, value in (properties or {}).items()}
        try:
            channel = self._open()
            if delay_ms and self.delay_via == "x-delay":
                table["x-delay"] = delay_ms
                mandatory = False  # the plugin routes when the delay ends, not now
            elif delay_ms:
                exchange, routing_key = "", self._declare_wait_queue(channel, delay_ms)
            channel.basic_publish(
                exchange,
                routing_key,
                body,
                pika.BasicProperties(
                    message_id=message_id,
                    headers=table or None,
                    delivery_mode=2 if self.persistent else 1,
                    **fields,
                ),
                mandatory=mandatory,
            )
        except (pe.AMQPError, OSError) as exc:
            self.close()
            where = mask_uri(self.url) if isinstance(self.url, str) else "RabbitMQ"
            # unroutable (no queue bound) will not change by retrying; a nack or a dropped
            # connection may
            error = SourceError if isinstance(exc, pe.UnroutableError) else SourceUnavailable
            raise error(f"RabbitMQ publish to {where} failed: {type(exc).__name__} {exc}") from exc

    def _declare_wait_queue(self, channel: Any, delay_ms: int) -> str:
        name = self.wait_queue(delay_ms)
        if name not in self._declared:
            channel.queue_declare(
                name,
                durable=True,
                arguments={
                    "x-message-ttl": self.wait_delay(delay_ms),
                    "x-dead-letter-exchange": self.exchange,
                    "x-dead-letter-routing-key": self.routing_key,
                },
            )
            self._declared.add(name)
            self._wait_queues.add(name)
        return name

    def close(self) -> None:
        """Close the connection; the next send opens a new one."""
        self._declared.clear()  # a new channel declares again (idempotent, same arguments)
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass


# -- windowed, asynchronously confirmed publishing (the benchmark's source side) -----------------


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

    @classmethod
    def for_queue(
        cls, uri: str, spec: QueueSpec, *, window: int = PUBLISH_WINDOW
    ) -> "RabbitMQConfirmPublisher":
        """A publisher to the queue ``spec`` declared: through its ``exchange`` (every queue of
        a fanout exchange), else the default exchange; connected now."""
        import pika
        import pika.exceptions as pex

        source = parse_source_uri(uri)
        params = pika_parameters(source, heartbeat=60, blocked_connection_timeout=60)
        try:
            connection = pika.BlockingConnection(params)
        except pex.AMQPError as exc:
            raise ConnectionFailed(
                f"cannot connect to {source.masked}: {type(exc).__name__}"
            ) from exc
        return cls(connection, spec.exchange or "", spec.name, window=window)

    @staticmethod
    def received(body: bytes) -> bytes:
        """The body as published, from what a consumer of the queue receives: the same."""
        return body

    def __init__(
        self,
        connection: Any,
        exchange: str,
        routing_key: str = "",
        *,
        window: int = PUBLISH_WINDOW,
        timeout: float = PUBLISH_TIMEOUT,
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
        self._raise_if_nacked()

    def _raise_if_nacked(self) -> None:
        if self.tracker.nacked:
            raise PublishRefused(f"RabbitMQ nacked {self.tracker.nacked} message(s)")

    def _serve_until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not done():
            if deadline_passed(deadline):
                raise PublishRefused(
                    f"RabbitMQ did not send {what} within {self.timeout:.0f} s "
                    f"({self.outstanding} message(s) unconfirmed)"
                )
            self._serve(0.05)

    def publish(self, body: bytes) -> None:
        """Publish ``body``; waits only while ``window`` messages are unconfirmed."""
        import pika.exceptions as pex

        # a nack pika read while an earlier publish flushed (below) stops the run here
        self._raise_if_nacked()
        if self.outstanding >= self.window:
            self._serve_until(lambda: self.outstanding < self.window, "confirms")
        # counted before the publish: pika may read the broker's confirm of this very message
        # while it flushes the publish, and a confirm for an unknown tag would be dropped
        self.tracker.published()
        try:
            self.channel.basic_publish(self.exchange, self.routing_key, body, self.properties)
        except pex.AMQPError as exc:
            raise PublishRefused(
                f"RabbitMQ refused a publish: {type(exc).__name__} {exc}"[:300]
            ) from exc
        if self.outstanding >= self.window // 2:
            self._serve(0)

    def flush(self) -> None:
        """Wait for the confirm of every message published so far; PublishRefused if the broker
        nacked any, also when every confirm was read while the publishes flushed."""
        self._serve_until(lambda: self.outstanding == 0, "confirms")
        self._raise_if_nacked()

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:  # closing a broken connection: nothing left to do
            pass
