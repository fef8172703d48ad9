"""AMQP 1.0 source (``amqp1://``, ``amqp1s://``) over python-qpid-proton.

Tested against ActiveMQ Artemis 2.40, RabbitMQ 3.10's AMQP 1.0 plugin and RabbitMQ 4.0's
native AMQP 1.0.

* Addressing: ``--queue NAME`` is an Artemis queue name (the link carries the ``queue``
  capability, else Artemis would auto-create a *multicast* address) or a RabbitMQ queue,
  read through ``/amq/queue/NAME`` on 3.x and the v2 address ``/queues/NAME``
  (percent-encoded) on 4.x, told apart by the connection's ``version`` property.  A name
  that already looks like an address (``/amq/...``, ``/queues/...``, Artemis'
  ``address::queue``) is used as is.
* Credit: the link never holds more than ``prefetch`` (= ``--max-in-flight``) messages that
  are buffered or unsettled; credit is topped up as the engine settles (once half the window
  is free, see :meth:`AMQP1Source._top_up`), so memory is bounded.
* Reading: the bridge reads finished transfers straight off the link (``pn_link_current``)
  after each pass of proton's event loop and decodes them into one reused message, instead of
  one Python event dispatch and one ``Message`` per delivery (see :class:`_SkipLinkDeliveries`;
  docs/bridge.md has the profile).
* Settlement, one delivery at a time: ACCEPT → ``accepted``, RELEASE → ``released`` (not
  proton's ``release()``, which sends ``modified``: RabbitMQ 3.10 does not offer a modified
  message to the same receiver again, whereas both brokers redeliver ``released`` at once and
  without counting it as a failed delivery), REJECT → ``rejected`` (dead-lettered).
* Source id: the ``message-id`` property (a string as is; ulong as its decimal text, uuid as
  its canonical text, binary as ``0x`` + hex).  Without one: ``sha256:`` + a hash of (queue,
  body, application-properties, creation-time), stable across redeliveries; two publishes
  identical in all of those share it (effectively-once would then skip the second).
* Record timestamp: ``creation-time``; key: ``group-id`` (``--key-from auto``).
* Headers: application-properties keep their AMQP types (ulong, symbol, timestamp, uuid,
  decimal32/64/128, char, binary...) in ``mq.amqp1.application-properties``; the properties
  section in ``mq.amqp1.properties``, the header section (durable, priority, ttl,
  first-acquirer, delivery-count) in ``mq.amqp1.header``, message annotations in
  ``mq.amqp1.annotations``, delivery annotations in ``mq.amqp1.delivery-annotations``.  A body
  that is not a data section is described in ``mq.amqp1.body`` (see docs/headers.md).
* depth: Artemis through Jolokia (``--management-url``, default ``http://HOST:8161``) when
  reachable, else unknown.  RabbitMQ's plugin offers no depth over AMQP 1.0.
* shadow (Artemis only, needs Jolokia): see :meth:`AMQP1Source._prepare_shadow`.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Mapping, Sequence
from urllib.parse import quote

# proton first: when python-qpid-proton is missing, the registry names it from this import
from proton import (
    ConnectionException,
    Data,
    Endpoint,
    Event,
    Handler,
    Message,
    ProtonException,
    Timeout,
    symbol,
    timestamp,
    ulong,
)
from cproton import (
    PN_ACCEPTED,
    PN_BINARY,
    PN_DELIVERY,  # noqa: I001 - after proton
    PN_MODIFIED,
    PN_REJECTED,
    PN_RELEASED,
    bytes2pybytes,
    ffi,
    lib as pn,
    msgid2py,
    utf82string,
)

from mqmigrate import headers as mqheaders
from mqmigrate.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    MqMigrateError,
    SourceError,
    SourceUnavailable,
    UsageError,
)
from mqmigrate.sources.amqp1 import DIVERT_SUFFIX, SHADOW_SUFFIX, artemis, queue_capability
from mqmigrate.sources.base import (
    Capabilities,
    Count,
    Envelope,
    BridgeMode,
    Outcome,
    QueueCounts,
    QueueSpec,
    SourceAdapter,
    content_hash_id,
)
from mqmigrate.sources.connect import connect_error, proton_blocking_connection
from mqmigrate.sources.uri import management_endpoint, parse_source_uri

log = logging.getLogger("mqmigrate.bridge")

ARTEMIS = "apache-activemq-artemis"
RABBITMQ = "RabbitMQ"
#: link/connection error conditions that retrying will not fix
_TERMINAL_CONDITIONS = {
    "amqp:not-found",
    "amqp:unauthorized-access",
    "amqp:not-allowed",
    "amqp:invalid-field",
    "amqp:not-implemented",
    "amqp:precondition-failed",
}


#: how long one receive keeps reading while messages keep arriving
_BURST_SECONDS = 0.005
#: how long flush() serves the connection at most to write the pending settlements out
_FLUSH_SECONDS = 2.0

#: released, not modified: see the module doc
_STATES = {Outcome.ACCEPT: PN_ACCEPTED, Outcome.RELEASE: PN_RELEASED, Outcome.REJECT: PN_REJECTED}
#: distinct amqp1.header sections kept encoded (most messages share a handful)
_HEADER_CACHE_SIZE = 256


class AMQP1Source(SourceAdapter):
    """One queue of one AMQP 1.0 broker; see the module doc."""

    kind = "amqp1"
    capabilities = Capabilities(
        shadow=True,
        batch_settle=False,
        send_timestamp=True,
        group_key=True,
        release_redelivers=True,
        depth=True,
        counts=True,
        queue_check=True,
        management_api=True,
        declare=True,
    )

    def __init__(
        self,
        uri: str,
        queue: str,
        *,
        mode: BridgeMode = BridgeMode.drain,
        prefetch: int = 2000,
        management_url: str | None = None,
        connect_timeout: float = 10.0,
        heartbeat: float | None = 30.0,
    ):
        self.uri = uri
        self.endpoint = parse_source_uri(uri)
        if self.endpoint.kind != "amqp1":
            raise UsageError(
                f"{self.endpoint.masked} is not an AMQP 1.0 URI",
                hint="use amqp1://user:pass@host:port (amqp1s:// for TLS)",
            )
        if not queue:
            raise UsageError("--queue is empty")
        self.source_queue = queue
        self.mode = BridgeMode(mode)
        self.queue = queue  # the queue read from; the shadow queue once open() made it
        self.prefetch = max(1, prefetch)
        self.connect_timeout = connect_timeout
        self.heartbeat = heartbeat
        #: Artemis' Jolokia API: --management-url, else port 8161 of the AMQP host (https when
        #: the source is amqp1s://); refused now when it would send a password in clear
        self.management = management_endpoint(self.endpoint, management_url)
        self.management_url = self.management.http_base + self.management.path.rstrip("/")
        self._management_given = management_url is not None
        self._management: Any = None
        self._management_down = False
        self._product: str | None = None
        self._version: str | None = None
        self._conn: Any = None
        self._link: Any = None
        self._handler: Any = None
        self._generation = 0
        #: our sequence number -> proton delivery (``pn_delivery_t *``), for messages handed
        #: to the engine and not settled yet; emptied when the connection is dropped, so a
        #: pointer of a freed connection is never used
        self._unsettled: dict[int, Any] = {}
        #: every transfer is decoded into this one message (its C half, read with proton's C
        #: getters), instead of a new Message with all its sections converted to Python
        self._decoder = Message()
        #: encoded amqp1.header sections by their field values
        self._header_sections: dict[tuple[Any, ...], mqheaders.EncodedSection] = {}
        self._sequence = 0
        self._shadow: dict[str, Any] | None = None

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> "AMQP1Source":
        queue = options.pop("queue")
        return cls(uri, queue, **options)

    def describe(self) -> str:
        return f"AMQP 1.0 {self.endpoint.masked} queue {self.queue!r}"

    # -- connection ----------------------------------------------------------------------------
    def open(self) -> None:
        self._abandon()
        try:
            self._conn = proton_blocking_connection(
                self.endpoint,
                timeout=self.connect_timeout,
                heartbeat=self.heartbeat,
                container_id=f"mqmigrate-bridge-{uuid.uuid4().hex[:8]}",
            )
        except (ConnectionException, Timeout, OSError) as exc:
            self._conn = None
            raise self._connect_error(exc) from exc
        try:
            props = self._conn.conn.remote_properties or {}
            self._product = str(props.get("product", "")) or None
            self._version = str(props.get("version", "")) or None
            if self.mode is BridgeMode.shadow:
                self._prepare_shadow()
            else:
                self._check_queue_exists()
            self._attach()
        except BaseException:
            self._abandon()  # a refused queue or shadow set-up: no connection left behind
            raise

    def _connect_error(self, exc: BaseException) -> MqMigrateError:
        diagnosed = connect_error(self.endpoint, exc, what="AMQP 1.0 broker")
        if isinstance(diagnosed, AuthenticationFailed):
            return diagnosed
        if not diagnosed.transient:  # TLS trust or a protocol mismatch: retrying won't fix it
            return SourceError(diagnosed.message, hint=diagnosed.hint)
        return SourceUnavailable(diagnosed.message, hint=diagnosed.hint)

    def _address(self, name: str | None = None) -> str:
        """The link address of queue ``name`` (the one read from by default) on this broker."""
        name = self.queue if name is None else name
        if name.startswith("/") or "::" in name or self._product != RABBITMQ:
            return name
        if self._rabbitmq_major is not None and self._rabbitmq_major >= 4:
            # RabbitMQ 4's native AMQP 1.0: address v2, the queue name percent-encoded
            # (the v1 form /amq/queue/NAME is deprecated there)
            return "/queues/" + quote(name, safe="")
        return f"/amq/queue/{name}"

    @property
    def _rabbitmq_major(self) -> int | None:
        """RabbitMQ's major version from the connection's ``version`` property."""
        try:
            return int(str(self._version or "").split(".")[0])
        except ValueError:
            return None

    def _attach(self) -> None:
        # point-to-point on Artemis; RabbitMQ's /amq/queue/NAME is a queue already
        options = [queue_capability()] if self._product == ARTEMIS else []
        self._handler = _Receiver(self)
        self._generation += 1
        container = self._conn.container
        self._link = container.create_receiver(
            self._conn.conn,
            self._address(),
            name=f"mqmigrate-{uuid.uuid4().hex[:12]}",
            handler=self._handler,
            options=options,
        )
        link = self._link
        collector = getattr(container, "_collector", None)
        if collector is not None and hasattr(collector, "_impl"):
            # a proton without this private attribute still works: the delivery events are
            # then dispatched (to a handler that ignores them) and only cost time
            container._collector = _SkipLinkDeliveries(collector, link._impl)
        deadline = time.monotonic() + self.connect_timeout
        while not (link.state & Endpoint.REMOTE_ACTIVE) and self._remote_error() is None:
            if time.monotonic() >= deadline:
                raise SourceUnavailable(f"{self.describe()}: the broker did not attach the link")
            self._pump(0.05)
        if link.remote_source is None or link.remote_source.address is None:
            # RabbitMQ and Artemis answer a refused attach with a null source, then detach
            for _ in range(20):
                if self._remote_error() is not None:
                    break
                self._pump(0.05)
        self._raise_link_error("attach")
        self._top_up()

    def close(self) -> None:
        conn = self._conn
        if conn is not None:
            try:
                self._pump(0)  # push out settlements made since the last receive
            except MqMigrateError:
                pass
        self._lost()
        if conn is not None:
            try:
                # RabbitMQ 3.10 never confirms a link detach: close the connection, which ends
                # the link; unsettled deliveries go back to the queue
                conn.close()
            except Exception:  # closing a broken connection: nothing left to do
                pass
        if self._management is not None:
            self._management.close()
            self._management = None

    def _abandon(self) -> None:
        """Drop a failed connection: forget its deliveries and release its socket."""
        conn = self._conn
        self._lost()
        if conn is not None:
            try:
                conn.close()
            except Exception:  # it failed already: closing is best effort
                pass

    def _lost(self) -> None:
        """Forget this connection's deliveries: the broker gives them back itself."""
        self._generation += 1
        self._unsettled.clear()
        self._conn = None
        self._link = None

    # -- event loop --------------------------------------------------------------------------
    def _pump(self, timeout: float) -> None:
        """Serve the connection once: I/O, heartbeats, deliveries (waits up to ``timeout``)."""
        conn = self._conn
        if conn is None:
            raise SourceUnavailable(f"{self.describe()}: not connected")
        container = conn.container
        saved = container.timeout
        container.timeout = timeout
        try:
            container.process()
        except (ProtonException, OSError) as exc:
            self._abandon()
            raise SourceUnavailable(
                f"{self.describe()}: connection failed: {' '.join(str(exc).split())[:200]}"
            ) from exc
        finally:
            container.timeout = saved
        if conn.disconnected:
            self._abandon()
            raise SourceUnavailable(
                f"{self.describe()}: connection lost ({conn.disconnected})",
                hint="is the broker running and reachable?",
            )

    def _remote_error(self) -> tuple[str, str] | None:
        """The error the broker closed the link, session or connection with, if any.

        RabbitMQ refuses an attach to a missing queue by ending the *session*, an event the
        link's handler never sees, so the session and connection are read here too."""
        if self._handler is not None and self._handler.error is not None:
            return self._handler.error
        return None if self._link is None else _refusal(self._link)

    def _raise_link_error(self, action: str) -> None:
        error = self._remote_error()
        if error is None:
            return
        condition, description = error
        text = f"{self.describe()}: {action} failed: {condition}" + (
            f" {description}" if description else ""
        )
        self._abandon()
        if condition == "amqp:not-found":
            raise SourceError(text, hint="check --queue (RabbitMQ: the queue must exist)")
        if condition == "amqp:unauthorized-access":
            raise SourceError(text, hint="check the user's permissions on the queue")
        if condition in _TERMINAL_CONDITIONS:
            raise SourceError(text)
        raise SourceUnavailable(text)

    def _top_up(self) -> None:
        """Give credit up to ``prefetch`` messages buffered, unsettled or on their way.

        Credit goes out once half the window is free, as a plain consumer tops up; once the
        link has less than an eighth of it left, as soon as an eighth is free (Kafka slow to
        confirm: the broker must not run dry).  Not more often: RabbitMQ 3.x's plugin turns
        every flow frame into a synchronous ``basic.credit`` round trip to the queue, during
        which its session process sends no transfers, and answers each with a flow frame."""
        link = self._link._impl
        credit = pn.pn_link_credit(link)
        # queued: arrived (or arriving) and not read yet
        held = pn.pn_link_queued(link) + len(self._unsettled) + credit
        room = self.prefetch - held
        eighth = max(1, self.prefetch // 8)
        if room > 0 and room >= (eighth if credit < eighth else max(1, self.prefetch // 2)):
            pn.pn_link_flow(link, room)

    # -- receive -------------------------------------------------------------------------------
    def receive(self, max_messages: int, timeout: float) -> list[Envelope]:
        if self._conn is None:
            raise SourceUnavailable(f"{self.describe()}: not connected")
        self._top_up()
        self._pump(0)
        out = self._read(max_messages)
        # one pump reads what one socket read holds (often a dozen messages); keep reading
        # while more keeps arriving so each engine turn (and its Kafka poll) moves a batch
        burst_until = time.monotonic() + _BURST_SECONDS
        while 0 < len(out) < max_messages and time.monotonic() < burst_until:
            self._pump(0)
            more = self._read(max_messages - len(out))
            if not more:
                break
            out += more
        deadline = time.monotonic() + timeout
        while not out and max_messages > 0:
            self._raise_link_error("receive")
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._pump(min(left, 0.05))
            out = self._read(max_messages)
        self._raise_link_error("receive")
        return out

    def _read(self, max_messages: int) -> list[Envelope]:
        """Up to ``max_messages`` finished transfers off the link, as envelopes (unsettled)."""
        out: list[Envelope] = []
        if max_messages <= 0 or self._link is None:
            return out
        link = self._link._impl
        message = self._decoder
        decode, clear = pn.pn_message_decode, pn.pn_message_clear
        current, advance, recv = pn.pn_link_current, pn.pn_link_advance, pn.pn_link_recv
        pending, from_buffer = pn.pn_delivery_pending, ffi.from_buffer
        unsettled = self._unsettled
        generation = self._generation
        null = ffi.NULL
        while len(out) < max_messages:
            delivery = current(link)
            if delivery == null:
                break
            if pn.pn_delivery_aborted(delivery):
                # the sender gave up on a partial transfer: nothing to keep (settling the
                # current delivery also advances past it)
                pn.pn_delivery_settle(delivery)
                continue
            if pn.pn_delivery_partial(delivery) or not pn.pn_delivery_readable(delivery):
                break  # the rest of a large message is still coming
            size = pending(delivery)
            data = bytearray(size)
            got = recv(link, from_buffer(data), size) if size else 0
            advance(link)
            clear(message._msg)
            if got <= 0 or decode(message._msg, from_buffer(data), got):
                self._give_back_undecodable(delivery)
                continue
            self._sequence += 1
            tag = self._sequence
            unsettled[tag] = delivery
            out.append(self._envelope(message, (generation, tag)))
        return out

    def _give_back_undecodable(self, delivery: Any) -> None:
        """A transfer that is not an AMQP message (no broker sends one) stays in the queue:
        ``modified`` with undeliverable-here, so the broker keeps it for other consumers and
        does not offer it to this link again; rejecting could drop it (a RabbitMQ queue
        without a dead-letter exchange)."""
        log.warning(
            "%s: a transfer that is not a valid AMQP 1.0 message was left in the "
            "queue (modified, undeliverable here)",
            self.describe(),
        )
        local = pn.pn_delivery_local(delivery)
        pn.pn_disposition_set_failed(local, True)
        pn.pn_disposition_set_undeliverable(local, True)
        pn.pn_delivery_update(delivery, PN_MODIFIED)
        pn.pn_delivery_settle(delivery)

    def _envelope(self, message: Message, handle: tuple[int, int]) -> Envelope:
        """The envelope of a decoded message, read through proton's C getters (on the
        per-message path: the Python properties of :class:`proton.Message` cost several
        times more)."""
        msg = message._msg
        body, body_section = _body(msg)
        app = _section(pn.pn_message_properties(msg)) or {}
        # each field read once, for the flat properties and the typed properties section
        raw_id = msgid2py(pn.pn_message_get_id(msg))
        raw_correlation = msgid2py(pn.pn_message_get_correlation_id(msg))
        content_type = pn.pn_message_get_content_type(msg)
        content_encoding = pn.pn_message_get_content_encoding(msg)
        address = utf82string(pn.pn_message_get_address(msg))
        subject = utf82string(pn.pn_message_get_subject(msg))
        reply_to = utf82string(pn.pn_message_get_reply_to(msg))
        group_id = utf82string(pn.pn_message_get_group_id(msg))
        user_id = bytes2pybytes(pn.pn_message_get_user_id(msg))
        creation_ms = pn.pn_message_get_creation_time(msg) or None
        priority = pn.pn_message_get_priority(msg)
        message_id = _id_text(raw_id)
        source_id = message_id or content_hash_id(self.source_queue, body, app, creation_ms)
        section: dict[str, Any] = {}  # the properties section, only the fields that are set
        properties: dict[str, Any] = {}  # the flat ones, only those with a non-empty value
        if raw_id is not None:
            section["message-id"] = _message_id(raw_id)
            if message_id is not None:
                properties["message_id"] = message_id
        if user_id:
            section["user-id"] = user_id
        if address is not None:
            section["to"] = address
        if subject is not None:
            section["subject"] = subject
        if reply_to is not None:
            section["reply-to"] = reply_to
        if raw_correlation is not None:
            section["correlation-id"] = _message_id(raw_correlation)
            correlation_id = _id_text(raw_correlation)
            if correlation_id:
                properties["correlation_id"] = correlation_id
        if content_type != ffi.NULL:
            content_type = utf82string(content_type)
            section["content-type"] = symbol(content_type)
            if content_type:
                properties["content_type"] = content_type
        if content_encoding != ffi.NULL:
            content_encoding = utf82string(content_encoding)
            section["content-encoding"] = symbol(content_encoding)
            if content_encoding:
                properties["content_encoding"] = content_encoding
        expiry_ms = pn.pn_message_get_expiry_time(msg)
        if expiry_ms:
            section["absolute-expiry-time"] = timestamp(expiry_ms)
        if creation_ms:
            section["creation-time"] = timestamp(creation_ms)
        if group_id is not None:
            section["group-id"] = group_id
        group_sequence = pn.pn_message_get_group_sequence(msg)
        if group_sequence:
            section["group-sequence"] = group_sequence
        reply_to_group_id = utf82string(pn.pn_message_get_reply_to_group_id(msg))
        if reply_to_group_id is not None:
            section["reply-to-group-id"] = reply_to_group_id
        if reply_to:
            properties["reply_to"] = reply_to
        if subject:
            properties["subject"] = subject
        if user_id:
            properties["user_id"] = user_id
        if group_id:
            properties["group_id"] = group_id
        properties["priority"] = priority
        delivery_count = pn.pn_message_get_delivery_count(msg)
        sections: dict[str, Mapping[str, Any]] = {
            "amqp1.properties": section,
            "amqp1.header": self._header_section(msg, priority, delivery_count),
        }
        annotations = _section(pn.pn_message_annotations(msg))
        if annotations:
            sections["amqp1.annotations"] = annotations
        instructions = _section(pn.pn_message_instructions(msg))
        if instructions:
            sections["amqp1.delivery-annotations"] = instructions
        if body_section:
            sections["amqp1.body"] = body_section
        return Envelope(
            body=body,
            source_id=source_id,
            source_kind=self.kind,
            queue=self.source_queue,
            key=group_id or None,
            timestamp_ms=creation_ms,
            properties=properties,
            headers=app,
            sections=sections,
            coordinates={
                "queue": self.queue,
                "address": self._address(),
                **({"to": address} if address else {}),
            },
            redelivered=delivery_count > 0,
            handle=handle,
        )

    def _header_section(
        self, msg: Any, priority: int, delivery_count: int
    ) -> mqheaders.EncodedSection:
        """The AMQP 1.0 header section (ttl in milliseconds as on the wire), encoded once
        per distinct value: messages of one queue share a handful of them."""
        ttl = pn.pn_message_get_ttl(msg)
        key = (
            bool(pn.pn_message_is_durable(msg)),
            priority,
            ttl or None,
            bool(pn.pn_message_is_first_acquirer(msg)),
            delivery_count,
        )
        cache = self._header_sections
        section = cache.get(key)
        if section is None:
            if len(cache) >= _HEADER_CACHE_SIZE:
                cache.clear()
            section = cache[key] = mqheaders.EncodedSection(
                {
                    "durable": key[0],
                    "priority": priority,
                    "ttl": key[2],
                    "first-acquirer": key[3],
                    "delivery-count": delivery_count,
                }
            )
        return section

    # -- settle --------------------------------------------------------------------------------
    def settle(self, envelope: Envelope, outcome: Outcome) -> None:
        self.settle_many([envelope], outcome)

    def settle_many(self, envelopes: Sequence[Envelope], outcome: Outcome) -> int:
        state = _STATES[outcome]
        current = self._generation
        unsettled = self._unsettled
        update, settle = pn.pn_delivery_update, pn.pn_delivery_settle
        settled = 0
        for envelope in envelopes:
            generation, tag = envelope.handle
            if generation != current:
                continue  # an earlier connection's: the broker has taken it back
            delivery = unsettled.pop(tag, None)
            if delivery is None:
                continue
            update(delivery, state)
            settle(delivery)
            settled += 1
        return settled

    def flush(self) -> None:
        """Put the settlements made so far on the wire.

        A settlement becomes bytes on the socket only on the third pass of proton's loop (the
        transport event marks the socket as having output, the next pass selects it writable,
        the one after writes), so a single pass left the last dispositions in proton's buffer
        until something else served the connection: a crash or a cut in between redelivered
        messages already settled.  Served until the transport has nothing left to write, for
        at most ``_FLUSH_SECONDS`` (a socket that takes nothing: the rest goes out later)."""
        conn = self._conn
        if conn is None:
            return
        self._pump(0)
        transport = getattr(conn.conn.transport, "_impl", None)
        deadline = time.monotonic() + _FLUSH_SECONDS
        while (
            self._conn is conn
            and transport is not None
            and pn.pn_transport_pending(transport) > 0
            and time.monotonic() < deadline
        ):
            self._pump(0.01)

    # -- depth and management -----------------------------------------------------------------
    def _artemis(self, required: bool) -> Any:
        """The Artemis Jolokia client, or None when unreachable and not ``required``."""
        if self._management is not None:
            return self._management
        if self._management_down and not required:
            return None
        management = artemis.ArtemisManagement(self.management)
        try:
            _ = management.broker
        except MqMigrateError as exc:
            management.close()
            if required:
                raise artemis.management_error(
                    exc, f"Artemis management at {management.describe()}"
                ) from exc
            if not self._management_down:
                log.warning(
                    "Artemis management API not usable (%s): queue depth unknown, a "
                    "missing queue not detected",
                    exc.one_line(),
                )
            self._management_down = True
            return None
        self._management = management
        return management

    def depth(self) -> int | None:
        if self._product != ARTEMIS:
            return None
        management = self._artemis(required=False)
        if management is None:
            return None
        try:
            return management.message_count(self.queue.split("::")[-1])
        except ConnectionFailed:
            return None

    def _check_queue_exists(self) -> None:
        """Artemis auto-creates a queue a link asks for, so a typo would drain an empty new
        queue and exit 0: when Jolokia answers, a missing queue is an error instead."""
        if self._product != ARTEMIS:
            return  # RabbitMQ refuses the attach itself (amqp:not-found)
        management = self._artemis(required=self._management_given)
        if management is None:
            return
        name = self.queue.split("::")[-1]
        if management.find_queue(name) is None:
            raise SourceError(
                f"{self.describe()}: no such queue on the broker",
                hint="check --queue (Artemis would auto-create it empty)",
            )

    # -- shadow --------------------------------------------------------------------------------
    def _prepare_shadow(self) -> None:
        """Make (or find) the shadow queue and read from it.

        Artemis, through Jolokia:

        * ``--queue`` is an anycast queue: a **non-exclusive divert**
          ``<queue>.mqmigrate-shadow-divert`` on its address copies every message routed there to
          the anycast queue ``<address>.mqmigrate-shadow``; the original reaches its queue and
          its consumers untouched.
        * ``--queue`` is a multicast address (a topic) or a subscription queue on one: a
          **durable subscription queue** ``<name>.mqmigrate-shadow`` on that address (with the
          subscription's filter), which gets its own copy of every message.

        Both are durable and survive a bridge restart: copies made while the bridge is down
        wait there, and what the bridge accepted is gone, so a restart neither loses nor
        re-copies.  Both see messages routed after they were created (the backlog is drain's).
        A browse (``distribution-mode copy``) link was rejected: it re-reads the whole queue on
        every restart, and misses what consumers take before the browser reaches it.

        RabbitMQ's AMQP 1.0 plugin cannot declare a queue with another queue's bindings, so
        shadow there is refused: the ``amqp://`` adapter's shadow does it over AMQP 0-9-1.
        """
        if self._product == RABBITMQ:
            raise SourceError(
                "RabbitMQ's AMQP 1.0 plugin cannot create a shadow queue with the source "
                "queue's bindings, so shadow over amqp1:// would take messages from consumers",
                hint="shadow the same queue with --source amqp://USER:PASS@HOST:5672/VHOST",
            )
        if self._product != ARTEMIS:
            raise SourceError(
                f"shadow over AMQP 1.0 is supported on ActiveMQ Artemis only (this broker is "
                f"{self._product or 'unknown'}); a plain link would take messages from consumers",
                hint="use --mode drain, or dual-write the producers (mqmigrate.sdk.dualwrite)",
            )
        management = self._artemis(required=True)
        name = self.source_queue.split("::")[-1]
        try:
            info = management.find_queue(name)
            if info is not None and info.routing == "anycast":
                plan = {
                    "kind": "divert",
                    "divert": name + DIVERT_SUFFIX,
                    "address": info.address,
                    "queue": info.address + SHADOW_SUFFIX,
                }
                if plan["queue"] == info.address or plan["address"] == plan["queue"]:
                    raise SourceError("the shadow address would be the source address")
                if management.find_queue(plan["queue"]) is None:
                    management.create_queue(plan["queue"], plan["queue"], "anycast")
                if plan["divert"] not in management.divert_names():
                    management.create_divert(plan["divert"], info.address, plan["queue"])
                    if plan["divert"] not in management.divert_names():
                        # Artemis answers 200 and only logs a warning when it will not deploy
                        raise SourceError(
                            f"Artemis did not create the divert {plan['divert']!r} "
                            "(see the broker log)"
                        )
            elif info is not None:  # a subscription queue of a multicast address
                plan = {
                    "kind": "subscription",
                    "address": info.address,
                    "queue": name + SHADOW_SUFFIX,
                }
                if management.find_queue(plan["queue"]) is None:
                    management.create_queue(plan["queue"], info.address, "multicast", info.filter)
            elif "multicast" in management.address_routing(name):
                plan = {"kind": "subscription", "address": name, "queue": name + SHADOW_SUFFIX}
                if management.find_queue(plan["queue"]) is None:
                    management.create_queue(plan["queue"], name, "multicast")
            else:
                raise SourceError(
                    f"{self.describe()}: no queue or multicast address {name!r} on the broker",
                    hint="check --queue",
                )
        except SourceError:
            raise
        except MqMigrateError as exc:
            raise artemis.management_error(exc, "cannot set up the shadow copy") from exc
        self._shadow = plan
        self.queue = (
            plan["queue"] if plan["kind"] == "divert" else f"{plan['address']}::{plan['queue']}"
        )
        log.info("shadow: %s %s → queue %s", plan["kind"], plan["address"], plan["queue"])

    # -- management operations (no open() needed) ------------------------------------------------
    def queue_counts(self) -> QueueCounts:
        """Artemis through Jolokia: ready = ``MessageCount`` - ``DeliveringCount`` (Artemis
        counts messages being delivered in ``MessageCount``), in flight = ``DeliveringCount``,
        ``ConsumerCount``.  Other AMQP 1.0 brokers (RabbitMQ's plugin) have no Jolokia: the
        call fails and the counts stay unknown."""
        name = self.source_queue.split("::")[-1]
        management = artemis.ArtemisManagement(self.management)
        try:
            counts = management.queue_counts(
                name, "MessageCount", "DeliveringCount", "ConsumerCount"
            )
        finally:
            management.close()
        if "MessageCount" not in counts or "DeliveringCount" not in counts:
            return QueueCounts.unknown(f"Artemis reported no counts for queue {name!r}")
        delivering = counts["DeliveringCount"]
        consumers = counts.get("ConsumerCount")
        return QueueCounts(
            # a message may leave between the two counts' snapshots: never below zero
            ready=Count(
                max(counts["MessageCount"] - delivering, 0),
                "Artemis MessageCount - DeliveringCount",
            ),
            in_flight=Count(delivering, "Artemis DeliveringCount"),
            consumers=Count(consumers, "Artemis ConsumerCount")
            if consumers is not None
            else Count.unknown(f"Artemis reported no ConsumerCount for {name!r}"),
        )

    def _short_connection(self, role: str) -> Any:
        """A blocking connection of its own for one management operation (the consuming one,
        if any, is left alone); the broker's product and version noted from its open frame."""
        try:
            conn = proton_blocking_connection(
                self.endpoint,
                timeout=self.connect_timeout,
                heartbeat=None,
                container_id=f"mqmigrate-{role}-{uuid.uuid4().hex[:8]}",
            )
        except (ConnectionException, Timeout, OSError) as exc:
            raise self._connect_error(exc) from exc
        props = conn.conn.remote_properties or {}
        self._product = str(props.get("product", "")) or None
        self._version = str(props.get("version", "")) or None
        return conn

    def queue_exists(self) -> bool:
        """Artemis: the queue in Jolokia (a link would auto-create it); other brokers (RabbitMQ's
        plugin refuses an attach to a missing queue): a receiving link without credit, so
        nothing is taken from the queue."""
        conn = self._short_connection("check")
        try:
            if self._product == ARTEMIS:
                management = artemis.ArtemisManagement(self.management)
                try:
                    return management.find_queue(self.source_queue.split("::")[-1]) is not None
                except MqMigrateError as exc:
                    raise artemis.management_error(exc, "cannot look the queue up") from exc
                finally:
                    management.close()
            return self._attachable(conn)
        finally:
            try:
                conn.close()
            except Exception:  # closing a broken connection: nothing left to do
                pass

    def _attachable(self, conn: Any) -> bool:
        """Whether the broker attaches a receiving link to the source queue; the link gets no
        credit, so no message moves."""
        container = conn.container
        link = container.create_receiver(
            conn.conn,
            self._address(self.source_queue),
            name=f"mqmigrate-check-{uuid.uuid4().hex[:12]}",
            handler=Handler(),
        )
        deadline = time.monotonic() + self.connect_timeout
        #: a refused attach is answered with a null source, then the session ends
        refused_by = None
        saved = container.timeout
        container.timeout = 0.05
        try:
            while _refusal(link) is None:
                if link.state & Endpoint.REMOTE_ACTIVE:
                    if link.remote_source is not None and link.remote_source.address:
                        return True
                    refused_by = refused_by or time.monotonic() + 1.0
                    if time.monotonic() >= refused_by:
                        return False
                if time.monotonic() >= deadline:
                    raise SourceUnavailable(
                        f"{self.describe()}: the broker did not attach the link"
                    )
                container.process()
        except (ProtonException, OSError) as exc:
            raise SourceUnavailable(
                f"{self.describe()}: connection failed: {' '.join(str(exc).split())[:200]}"
            ) from exc
        finally:
            container.timeout = saved
        return False

    def declare_queue(self, spec: QueueSpec) -> None:
        """Artemis: a sender's attach with the ``queue`` capability makes it create the anycast
        queue ``spec.name`` (kept until :meth:`delete_queue`); an existing one is kept."""
        conn = self._short_connection("declare")
        try:
            conn.create_sender(self._address(spec.name), options=queue_capability()).close()
        except (ProtonException, OSError) as exc:
            raise SourceUnavailable(
                f"{self.kind} queue {spec.name}: declare failed: {' '.join(str(exc).split())[:200]}"
            ) from exc
        finally:
            try:
                conn.close()
            except Exception:  # closing a broken connection: nothing left to do
                pass

    def delete_queue(self, spec: QueueSpec) -> list[str]:
        """Artemis, through Jolokia: the queue ``spec.name`` and its address."""
        try:
            management = artemis.ArtemisManagement(self.management)
        except MqMigrateError as exc:
            return [f"AMQP 1.0 queue {spec.name}: {exc.one_line()}"]
        try:
            if management.find_queue(spec.name) is not None:
                management.destroy_queue(spec.name)
            management.delete_address(spec.name)
        except MqMigrateError as exc:
            return [f"AMQP 1.0 queue {spec.name}: {exc.one_line()}"]
        finally:
            management.close()
        return []

    def remove_shadow(self) -> list[str]:
        """Artemis, through Jolokia: the divert and its anycast queue and address, or the
        durable subscription queue (:func:`mqmigrate.sources.amqp1.artemis.remove_shadow`)."""
        management = artemis.ArtemisManagement(self.management)
        try:
            return artemis.remove_shadow(management, self.source_queue)
        except MqMigrateError as exc:
            raise artemis.management_error(exc, "cannot remove the shadow copy") from exc
        finally:
            management.close()
            if self._management is not None:
                self._management.close()
                self._management = None


# -- proton glue -------------------------------------------------------------------------------
def _refusal(link: Any) -> tuple[str, str] | None:
    """The condition the broker closed ``link``, its session or its connection with, if any
    (RabbitMQ refuses an attach to a missing queue by ending the *session*)."""
    for endpoint in (link, link.session, link.connection):
        condition = endpoint.remote_condition
        if condition is not None:
            return (str(condition.name), " ".join(str(condition.description or "").split()))
        if endpoint.state & Endpoint.REMOTE_CLOSED:
            return ("closed by the broker", "")
    return None


class _SkipLinkDeliveries:
    """Stands in for the container's event collector and drops the delivery events of one
    receiving link before proton's Python loop sees them.

    proton's ``Container.process`` wraps every event in Python objects (the event, its
    delivery, link, session, connection and transport) and dispatches it to two handler
    chains: about 60 % of the bridge's CPU per message went there.  The link's transfers are
    read by :meth:`AMQP1Source._read` after each pass instead; every other event (I/O, link
    and connection state, errors) is dispatched as before.
    """

    def __init__(self, collector: Any, link: Any):
        self._collector = collector
        self._impl = collector._impl
        self._link = link

    def peek(self) -> Any:
        impl, link = self._impl, self._link
        peek, pop, kind, link_of = (
            pn.pn_collector_peek,
            pn.pn_collector_pop,
            pn.pn_event_type,
            pn.pn_event_link,
        )
        null = ffi.NULL
        while True:
            event = peek(impl)
            if event == null:
                return None
            if kind(event) == PN_DELIVERY and link_of(event) == link:
                pop(impl)
                continue
            return Event.wrap(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collector, name)


class _Receiver(Handler):
    """Records why the broker closed the link or connection; never raises inside proton's
    loop (an exception there would leave the reactor half-way).  Deliveries are read off the
    link by :meth:`AMQP1Source._read`, not here (see :class:`_SkipLinkDeliveries`)."""

    def __init__(self, source: AMQP1Source):
        super().__init__()
        self.source = source
        self.error: tuple[str, str] | None = None

    def _record(self, endpoint: Any, fallback: str) -> None:
        condition = endpoint.remote_condition if endpoint is not None else None
        if condition is not None:
            self.error = (str(condition.name), " ".join(str(condition.description or "").split()))
        elif self.error is None:
            self.error = (fallback, "")

    def on_link_remote_close(self, event: Any) -> None:
        self._record(event.link, "link closed by the broker")

    def on_link_remote_detach(self, event: Any) -> None:
        self._record(event.link, "link detached by the broker")

    def on_connection_remote_close(self, event: Any) -> None:
        self._record(event.connection, "connection closed by the broker")

    def on_transport_error(self, event: Any) -> None:
        self._record(event.transport, "transport error")


def _id_text(value: Any) -> str | None:
    """A message-id / correlation-id as text (see the module doc)."""
    if value is None or value == "":
        return None
    if isinstance(value, (bytes, memoryview)):
        return "0x" + bytes(value).hex()
    if isinstance(value, int):
        return str(int(value))  # str(ulong(5)) would be "ulong(5)"
    return str(value)


def _plain(values: Any) -> Any:
    """proton values with binary as bytes (proton 0.40 hands binary out as memoryview)."""
    if values is None:
        return None
    if isinstance(values, memoryview):
        return bytes(values)
    if isinstance(values, dict):
        return {_plain(key): _plain(value) for key, value in values.items()}
    if isinstance(values, list) and type(values) is list:
        return [_plain(v) for v in values]
    return values


def _message_id(value: Any) -> Any:
    """A message-id / correlation-id with its AMQP type: the only integer kind the spec
    allows there is ulong, which proton's getter hands out as a plain int."""
    if type(value) is int:
        return ulong(value)
    return _plain(value)


def _section(data: Any) -> Any:
    """A message section (application-properties, annotations...) as Python values, None
    when the message has none."""
    pn.pn_data_rewind(data)
    if not pn.pn_data_next(data):
        return None
    return _plain(Data(data).get_object())


def _body(msg: Any) -> tuple[bytes, dict[str, str] | None]:
    """The record value, and a ``mq.amqp1.body`` description when the body is not a single
    data section (so a consumer can rebuild the AMQP value)."""
    data = pn.pn_message_body(msg)
    pn.pn_data_rewind(data)
    if not pn.pn_data_next(data):
        return b"", {"section": "amqp-value", "encoding": "null"}
    inferred = pn.pn_message_is_inferred(msg)
    if pn.pn_data_type(data) == PN_BINARY:  # the common case, without proton's converters
        body = bytes2pybytes(pn.pn_data_get_binary(data))
        return body, None if inferred else {"section": "amqp-value", "encoding": "binary"}
    value = Data(data).get_object()
    if value is None:
        return b"", {"section": "amqp-value", "encoding": "null"}
    if type(value) is str:
        return value.encode("utf-8"), {"section": "amqp-value", "encoding": "utf-8"}
    section = "amqp-sequence" if isinstance(value, list) and inferred else "amqp-value"
    return mqheaders.encode_section({"value": _plain(value)}), {
        "section": section,
        "encoding": "mq-typed-json",
    }
