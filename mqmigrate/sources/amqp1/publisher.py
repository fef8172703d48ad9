"""AMQP 1.0 publisher (python-qpid-proton's ``BlockingConnection``): the write side of an AMQP
1.0 source.

``send`` waits until the broker settled the delivery and fails unless the outcome is
*accepted*.  The id is the message's ``id`` (AMQP 1.0 ``message-id``); headers are
application properties with their types; durable; the key is the ``group-id``.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from typing import Any, Callable, Mapping, Sequence

from mqmigrate.errors import PublishRefused, SourceError, SourceUnavailable
from mqmigrate.redact import Secret, mask_uri
from mqmigrate.sources.base import (
    PUBLISH_TIMEOUT,
    PUBLISH_WINDOW,
    SourcePublisher,
    check_properties,
    deadline_passed,
)
from mqmigrate.sources.connect import proton_blocking_connection
from mqmigrate.sources.uri import SourceURI, parse_source_uri

#: neutral property names -> proton.Message attributes
_PROPERTIES = {
    "content_type": "content_type",
    "content_encoding": "content_encoding",
    "correlation_id": "correlation_id",
    "reply_to": "reply_to",
    "subject": "subject",
    "priority": "priority",
    "user_id": "user_id",
}


class AMQP1Publisher(SourcePublisher):
    """An AMQP 1.0 broker's address (the SDK's ``ProtonSource``).

    ``url`` is a source URI (``amqp(s)://`` is read as ``amqp1(s)://``) with the TLS, SASL
    and secret handling of ``--source``; ``user``/``password`` override the URI's.
    ``capabilities=("queue",)`` asks the broker for an anycast queue: needed on ActiveMQ
    Artemis, which otherwise auto-creates a *multicast* address and accepts-then-discards a
    message sent to an address with no queue.
    """

    kind = "amqp1"

    def __init__(
        self,
        url: str,
        address: str,
        *,
        user: str | None = None,
        password: str | None = None,
        capabilities: Sequence[str] = (),
        timeout: float = 10.0,
    ):
        self.url = url
        self.address = address
        self.user = user
        self._password = password
        self.capabilities = tuple(capabilities)
        self.timeout = timeout
        self._connection: Any = None
        self._sender: Any = None

    @classmethod
    def from_uri(cls, uri: str, *, queue: str, **options: Any) -> "AMQP1Publisher":
        """A publisher to the address ``queue``, asking for an anycast queue (the ``queue``
        capability every AMQP 1.0 client of the package sets) unless ``capabilities=``."""
        options.setdefault("capabilities", ("queue",))
        return cls(uri, queue, **options)

    def _open(self) -> Any:
        from proton import symbol
        from proton.reactor import LinkOption

        if self._sender is None:
            capabilities = self.capabilities

            class _Capabilities(LinkOption):
                def apply(self, link: Any) -> None:
                    for capability in capabilities:
                        link.target.capabilities.put_object(symbol(capability))

            self._connection = proton_blocking_connection(self._endpoint(), timeout=self.timeout)
            self._sender = self._connection.create_sender(
                self.address, options=[_Capabilities()] if capabilities else None
            )
        return self._sender

    def _endpoint(self) -> SourceURI:
        """The URL as a source URI (``amqp(s)://`` read as ``amqp1(s)://``), with the TLS,
        SASL and secret handling of ``--source``; ``user``/``password`` override the URI's."""
        scheme, sep, rest = self.url.partition("://")
        if scheme.lower() in ("amqp", "amqps"):
            scheme = scheme.lower().replace("amqp", "amqp1")
        endpoint = parse_source_uri(scheme + sep + rest)
        if self.user is not None:
            endpoint = dataclasses.replace(
                endpoint,
                username=self.user,
                password=Secret(self._password) if self._password is not None else None,
            )
        return endpoint

    def check_delay(self, delay_ms: int) -> None:
        """Delays are the broker's: ActiveMQ Artemis honours ``x-opt-delivery-delay``."""

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
        """Send and wait for the broker's outcome; only *accepted* succeeds."""
        from proton import Delivery, Message, ProtonException, symbol
        from proton.utils import SendException

        check_properties(self.kind, properties, frozenset(_PROPERTIES))
        try:
            message = Message(
                id=message_id,
                body=body,
                properties=dict(headers) or None,
                durable=True,
                group_id=key,
            )
            for name, value in (properties or {}).items():
                setattr(message, _PROPERTIES[name], value)
            if delay_ms:
                # relative, so the broker's clock decides (a client clock running behind
                # would make an absolute x-opt-delivery-time early); Artemis schedules it
                message.annotations = {symbol("x-opt-delivery-delay"): delay_ms}
            # bytes as a data section (not an amqp-value holding binary): what other
            # protocols' clients of the same broker read as the plain body
            message.inferred = True
            delivery = self._open().send(
                message, error_states=[Delivery.REJECTED, Delivery.RELEASED, Delivery.MODIFIED]
            )
            if delivery.remote_state != Delivery.ACCEPTED:
                raise SourceError(
                    f"AMQP 1.0 broker settled the message as {delivery.remote_state}, not accepted"
                )
        except (ProtonException, OSError) as exc:
            self.close()
            # rejected is the broker's final word; released/modified/timeouts may pass
            rejected = isinstance(exc, SendException) and exc.state == Delivery.REJECTED
            error = SourceError if rejected else SourceUnavailable
            raise error(
                f"AMQP 1.0 send to {mask_uri(self.url)} {self.address} "
                f"failed: {type(exc).__name__} {exc}"
            ) from exc

    def close(self) -> None:
        """Close the connection; the next send opens a new one."""
        connection, self._connection, self._sender = self._connection, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass


# -- windowed, asynchronously confirmed publishing (the benchmark's source side) -----------------


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
        window: int = PUBLISH_WINDOW,
        timeout: float = PUBLISH_TIMEOUT,
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
            if deadline_passed(deadline):
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
