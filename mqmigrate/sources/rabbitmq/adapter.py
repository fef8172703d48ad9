"""RabbitMQ (AMQP 0-9-1) source over pika's BlockingConnection.

* drain: consume the queue itself with manual acks and ``prefetch`` unacked messages at
  most (bounded memory); ACCEPTs become one ``basic.ack(multiple=True)`` for the longest
  prefix of delivered messages that are all accepted, so acks go out in delivery order and
  a message is never acked by a multiple-ack before its own record is in Kafka.  Acks are
  batched: one per ``ack_every`` accepted messages or ``ack_interval`` seconds, whichever
  comes first, and on :meth:`RabbitMQSource.flush` (the engine calls it when idle).
* deliveries are decoded by :mod:`.frames` (a fast reader in front of pika's parser) when
  this pika has the hooks it needs, else by pika's own consumer callback.
* shadow: declare ``<queue>.mqmigrate-shadow`` with the same bindings as the source queue
  (read from the management API, or given) and consume that: existing consumers of the
  source queue lose nothing.  The shadow queue sees messages routed after it was created.

Source id: the ``message_id`` property when the publisher set one; otherwise
``sha256:`` + a hash of (queue, body, header table, timestamp).  The hash is stable across
redeliveries, which is what duplicate detection needs; its limit is that two publishes that
are byte-identical in body, headers and timestamp get the same id (so effectively-once mode
would write the second one as a duplicate of the first and skip it).  Publishers that need
that case should set ``message_id``.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from typing import Any, Mapping, Sequence

import pika
import pika.exceptions as pe

from mqmigrate.errors import (
    AuthenticationFailed,
    MqMigrateError,
    SourceError,
    SourceUnavailable,
    UsageError,
)
from mqmigrate.sources.connect import connect_error, pika_parameters
from mqmigrate.sources.uri import management_endpoint, parse_source_uri
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
from mqmigrate.sources.rabbitmq import frames
from mqmigrate.sources.rabbitmq.management import ManagementAnswer, RabbitMQManagement
from mqmigrate.sources.rabbitmq.frames import Delivery

SHADOW_SUFFIX = ".mqmigrate-shadow"

#: Envelope's fields as receive() fills them.  A frozen dataclass's __init__ sets each field
#: through object.__setattr__ (~2.8 µs for 12 fields, a tenth of the bridge's CPU per
#: message); filling the instance dict directly takes ~1.1 µs.  Used only while these are
#: exactly Envelope's fields and Envelope keeps a __dict__; otherwise the normal constructor.
_ENVELOPE_FIELDS = (
    "body",
    "source_id",
    "source_kind",
    "queue",
    "key",
    "timestamp_ms",
    "properties",
    "headers",
    "sections",
    "coordinates",
    "redelivered",
    "handle",
)
_FAST_ENVELOPE = {f.name for f in dataclasses.fields(Envelope)} == set(
    _ENVELOPE_FIELDS
) and not hasattr(Envelope, "__slots__")

#: refusals of the credentials themselves (not a TLS or protocol problem to diagnose)
_CREDENTIAL_ERRORS = (
    pe.ProbableAuthenticationError,
    pe.ProbableAccessDeniedError,
    pe.AuthenticationError,
)

#: AMQP reply codes that retrying will not fix
_TERMINAL_CODES = {403, 404, 405, 530}


class RabbitMQSource(SourceAdapter):
    """One queue of one RabbitMQ broker; see the module doc."""

    kind = "rabbitmq"
    capabilities = Capabilities(
        shadow=True,
        batch_settle=True,
        send_timestamp=True,
        group_key=False,
        release_redelivers=True,
        depth=True,
        counts=True,
        queue_check=True,
        management_api=True,
        declare=True,
    )
    connection_errors = (
        pe.AMQPConnectionError,
        pe.AMQPChannelError,
        pe.StreamLostError,
        pe.ConnectionWrongStateError,
        pe.ChannelWrongStateError,
        OSError,
    )
    terminal_errors = (
        pe.ProbableAuthenticationError,
        pe.ProbableAccessDeniedError,
        pe.AuthenticationError,
        pe.IncompatibleProtocolError,
    )

    def __init__(
        self,
        uri: str,
        queue: str,
        *,
        mode: BridgeMode = BridgeMode.drain,
        prefetch: int = 2000,
        bindings: Sequence[Mapping[str, Any]] | None = None,
        management_url: str | None = None,
        heartbeat: int = 30,
        connect_timeout: float = 10.0,
        ack_every: int = 500,
        ack_interval: float = 0.02,
        fast_reader: bool = True,
    ):
        self.uri = uri
        self.source_queue = queue
        self.mode = BridgeMode(mode)
        self.queue = queue + SHADOW_SUFFIX if self.mode is BridgeMode.shadow else queue
        self.prefetch = prefetch
        self._bindings = list(bindings) if bindings is not None else None
        self.management_url = management_url
        self.endpoint = parse_source_uri(uri)
        if self.endpoint.kind != "rabbitmq":
            raise UsageError(
                f"{self.endpoint.masked} is not an AMQP 0-9-1 URI",
                hint="e.g. amqp://user:pass@host:5672/%2f (amqps:// for TLS)",
            )
        self._params = pika_parameters(self.endpoint)
        if self.mode is BridgeMode.shadow and self._bindings is None:
            # refused now (e.g. a TLS source's password over plain http), not at open()
            management_endpoint(self.endpoint, self.management_url)
        self._params.heartbeat = heartbeat
        self._params.blocked_connection_timeout = 60
        self._params.socket_timeout = connect_timeout
        self._params.connection_attempts = 1
        # visible in the management UI / API, so operators see which connection is the bridge
        self._params.client_properties = {"connection_name": f"mqmigrate-bridge {queue}"}
        self._conn: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._generation = 0
        self._buffer: deque[Delivery] = deque()
        #: delivery tag -> accepted?, in delivery order (tags handed to the engine, unsettled)
        self._unsettled: dict[int, bool] = {}
        #: accepted messages not acked yet; acked when this reaches ack_every (see module doc)
        self._accepted_pending = 0
        self._last_ack = 0.0
        self.ack_every = max(1, min(ack_every, prefetch // 4))
        self.ack_interval = ack_interval
        self.fast_reader = fast_reader
        #: True when the connection's deliveries come through frames.DeliveryReader
        self.reader_installed = False

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> "RabbitMQSource":
        queue = options.pop("queue")
        return cls(uri, queue, **options)

    def describe(self) -> str:
        return f"RabbitMQ {self.endpoint.masked} queue {self.queue!r}"

    # -- errors -------------------------------------------------------------------------------
    def _classify(self, exc: BaseException, action: str) -> MqMigrateError:
        text = f"{self.describe()}: {action} failed: {_reply_text(exc)}"
        unreachable_hint = "is the broker running and reachable?"
        if action == "connect" and not isinstance(exc, _CREDENTIAL_ERRORS):
            diagnosed = connect_error(self.endpoint, exc, what="RabbitMQ")
            if not diagnosed.transient:  # TLS trust or a protocol mismatch: retrying won't fix
                return SourceError(
                    f"{diagnosed.message} (queue {self.queue!r})", hint=diagnosed.hint
                )
            unreachable_hint = diagnosed.hint or unreachable_hint  # e.g. "the port may expect TLS"
        if isinstance(exc, (pe.ProbableAuthenticationError, pe.AuthenticationError)):
            return AuthenticationFailed(text, hint="check the user and password in --source")
        if isinstance(exc, pe.ProbableAccessDeniedError):
            return SourceError(text, hint="check the vhost and the user's permissions")
        code = getattr(exc, "reply_code", None)
        if code == 404:
            return SourceError(text, hint="check --queue and the vhost in --source")
        if code in _TERMINAL_CODES:
            return SourceError(text)
        if isinstance(exc, self.terminal_errors):
            return SourceError(text, hint=unreachable_hint if action == "connect" else None)
        return SourceUnavailable(text, hint=unreachable_hint)

    def _call(self, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MqMigrateError:
            raise
        except self.connection_errors + self.terminal_errors as exc:
            self._lost()
            raise self._classify(exc, action) from exc

    # -- lifecycle ------------------------------------------------------------------------------
    def open(self) -> None:
        self._lost()
        self._conn = self._call("connect", pika.BlockingConnection, self._params)
        self._channel = self._call("open channel", self._conn.channel)
        self._call("set prefetch", self._channel.basic_qos, prefetch_count=self.prefetch)
        if self.mode is BridgeMode.shadow:
            self._declare_shadow()
        else:
            self._call("find queue", self._channel.queue_declare, self.queue, passive=True)
        self._generation += 1
        # installed before basic_consume so that every delivery takes the same path (the
        # delivery order of the buffer is what the multiple-ack relies on)
        self.reader_installed = self.fast_reader and frames.install(
            self._conn, self._channel.channel_number, self._buffer.append
        )
        self._call(
            "consume", self._channel.basic_consume, self.queue, self._on_message, auto_ack=False
        )

    def _on_message(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self._buffer.append(frames.from_pika(method, properties, body))

    def close(self) -> None:
        conn = self._conn
        self._lost()
        if conn is not None and conn.is_open:
            try:
                conn.close()  # unsettled deliveries go back to the queue
            except Exception:  # closing a broken connection: nothing left to do
                pass

    def _lost(self) -> None:
        """Forget the connection's deliveries: the broker requeues them itself."""
        self._generation += 1
        self._buffer.clear()
        self._unsettled.clear()
        self._accepted_pending = 0
        if self._conn is not None and not self._conn.is_open:
            self._conn = None
            self._channel = None

    # -- receive -------------------------------------------------------------------------------
    def receive(self, max_messages: int, timeout: float) -> list[Envelope]:
        conn = self._conn
        if conn is None:
            raise SourceUnavailable(f"{self.describe()}: not connected")
        self._call("receive", conn.process_data_events, 0 if self._buffer else timeout)
        out: list[Envelope] = []
        buffer = self._buffer
        generation = self._generation
        unsettled = self._unsettled
        kind, source_queue, queue = self.kind, self.source_queue, self.queue
        hash_id = self._hash_id
        append = out.append
        fast, new = _FAST_ENVELOPE, object.__new__
        for _ in range(min(max_messages, len(buffer))):
            d = buffer.popleft()
            tag = d.delivery_tag
            unsettled[tag] = False
            timestamp = d.timestamp
            properties = d.properties
            message_id = properties.get("message_id")
            # AMQP 0-9-1 property types are fixed by the spec, so the flat mq.* headers carry
            # them losslessly (headers.Decoded.typed_properties); no typed section needed
            fields = {
                "body": d.body,
                "source_id": str(message_id)
                if message_id
                else hash_id(d.body, d.headers or {}, timestamp),
                "source_kind": kind,
                "queue": source_queue,
                # AMQP 0-9-1 has no group id; use --key-from routing-key or header:NAME
                "key": None,
                "timestamp_ms": timestamp * 1000 if timestamp else None,
                "properties": properties,
                "headers": d.headers or {},
                "sections": {},
                "coordinates": {
                    "queue": queue,
                    "exchange": d.exchange,
                    "routing_key": d.routing_key,
                    "delivery_tag": str(tag),
                },
                "redelivered": d.redelivered,
                "handle": (generation, tag),
            }
            if fast:
                envelope = new(Envelope)
                envelope.__dict__.update(fields)
            else:
                envelope = Envelope(**fields)
            append(envelope)
        return out

    def _hash_id(self, body: bytes, table: Mapping[str, Any], timestamp: int | None) -> str:
        return content_hash_id(self.source_queue, body, table, timestamp)

    # -- settle --------------------------------------------------------------------------------
    def settle(self, envelope: Envelope, outcome: Outcome) -> None:
        self.settle_many([envelope], outcome)

    def settle_many(self, envelopes: Sequence[Envelope], outcome: Outcome) -> int:
        channel = self._channel
        unsettled = self._unsettled
        current = self._generation
        tags = [
            env.handle[1]
            for env in envelopes
            if env.handle[0] == current and env.handle[1] in unsettled
        ]
        if not tags or channel is None:
            return 0  # all from an earlier connection: the broker has requeued them
        if outcome is Outcome.ACCEPT:
            for tag in tags:
                unsettled[tag] = True
            self._accepted_pending += len(tags)
            if (
                self._accepted_pending >= self.ack_every
                or time.monotonic() - self._last_ack >= self.ack_interval
            ):
                self._ack_prefix()
            if self._accepted_pending > self.prefetch // 2:
                # one slow record holds the prefix back (ack_every is at most a quarter of the
                # window, so the prefix would have gone already): ack the accepted ones behind
                # it one by one so the broker's prefetch window keeps moving
                self._ack_prefix()
                if self._accepted_pending:
                    self._ack_accepted_singly()
            return len(tags)
        for tag in tags:
            del unsettled[tag]
            if outcome is Outcome.RELEASE:
                self._call(
                    "release", channel.basic_nack, delivery_tag=tag, multiple=False, requeue=True
                )
            else:
                self._call("reject", channel.basic_reject, delivery_tag=tag, requeue=False)
        return len(tags)

    def _ack_prefix(self) -> None:
        """One multiple-ack for the longest accepted prefix of the unsettled deliveries."""
        unsettled = self._unsettled
        prefix = []
        for tag, accepted in unsettled.items():  # insertion order = delivery order
            if not accepted:
                break
            prefix.append(tag)
        if not prefix:
            return
        self._last_ack = time.monotonic()
        for tag in prefix:
            del unsettled[tag]
        self._accepted_pending -= len(prefix)
        self._call("ack", self._channel.basic_ack, delivery_tag=prefix[-1], multiple=True)

    def _ack_accepted_singly(self) -> None:
        channel = self._channel
        for tag in [t for t, accepted in self._unsettled.items() if accepted]:
            del self._unsettled[tag]
            self._accepted_pending -= 1
            self._call("ack", channel.basic_ack, delivery_tag=tag, multiple=False)

    def flush(self) -> None:
        """Ack every accepted message now: the batched prefix with one multiple-ack, then the
        ones waiting behind an unfinished message one by one (before close, so a stop with a
        record still unacknowledged by Kafka does not redeliver the others)."""
        if self._channel is not None and self._accepted_pending:
            self._ack_prefix()
            if self._accepted_pending:
                self._ack_accepted_singly()

    def depth(self) -> int | None:
        if self._channel is None:
            return None
        ok = self._call("read depth", self._channel.queue_declare, self.queue, passive=True)
        return ok.method.message_count

    # -- shadow --------------------------------------------------------------------------------
    def bindings(self) -> list[dict[str, Any]]:
        """The source queue's bindings (default-exchange binding excluded)."""
        if self._bindings is None:
            self._bindings = self._read_bindings()
        return [dict(b) for b in self._bindings if b.get("source", "")]

    def _management(self) -> RabbitMQManagement:
        """The management API: ``--management-url``, else port 15672 of the AMQP host."""
        return RabbitMQManagement(management_endpoint(self.endpoint, self.management_url))

    def _read_bindings(self) -> list[dict[str, Any]]:
        vhost = self._params.virtual_host
        try:
            bindings = self._management().bindings(vhost, self.source_queue)
        except AuthenticationFailed:
            raise
        except ManagementAnswer as exc:
            raise SourceUnavailable(
                f"management API answered {exc.status} for the bindings of {self.source_queue!r}"
            ) from exc
        except MqMigrateError as exc:
            raise SourceUnavailable(
                f"cannot read the bindings of {self.source_queue!r}: {exc.message}",
                hint=exc.hint
                if not exc.transient
                else "enable rabbitmq_management, pass --management-url, or give the bindings",
            ) from exc
        if bindings is None:
            raise SourceError(
                f"queue {self.source_queue!r} not found in vhost {vhost!r}",
                hint="check --queue and the vhost in --source",
            )
        return bindings

    def _declare_shadow(self) -> None:
        bindings = self.bindings()
        if not bindings:
            raise SourceError(
                f"queue {self.source_queue!r} is bound only to the default exchange, so a "
                "shadow queue cannot receive copies of its messages",
                hint="use --mode drain, dual-write the producers (mqmigrate.sdk.dualwrite), or "
                "publish through a named exchange",
            )
        ch = self._channel
        self._call("declare shadow queue", ch.queue_declare, self.queue, durable=True)
        for b in bindings:
            self._call(
                "bind shadow queue",
                ch.queue_bind,
                self.queue,
                b["source"],
                routing_key=b["routing_key"],
                arguments=b["arguments"] or None,
            )

    # -- management operations (no open() needed) ------------------------------------------------
    def _short_connection(self) -> Any:
        """A connection of its own for one management operation (the consuming one, if any,
        is left alone); errors classified as :meth:`open`'s are."""
        try:
            return pika.BlockingConnection(self._params)
        except self.connection_errors + self.terminal_errors as exc:
            raise self._classify(exc, "connect") from exc

    def _exists(self, conn: Any, queue: str) -> bool:
        """Whether ``queue`` exists (a passive declare on a channel of its own: a 404 closes it)."""
        try:
            conn.channel().queue_declare(queue, passive=True)
        except pe.ChannelClosedByBroker as exc:
            if exc.reply_code == 404:
                return False
            raise self._classify(exc, f"find queue {queue!r}") from exc
        except self.connection_errors + self.terminal_errors as exc:
            raise self._classify(exc, f"find queue {queue!r}") from exc
        return True

    def queue_counts(self) -> QueueCounts:
        """``messages_ready`` / ``messages_unacknowledged`` / ``consumers`` from the management
        API (the broker refreshes them every few seconds; a queue just declared has none yet)."""
        queue = self.source_queue
        try:
            record = self._management().queue(self.endpoint.vhost, queue)
        except ManagementAnswer as exc:
            raise SourceError(f"{exc.message} for queue {queue!r}") from exc
        if record is None:
            raise SourceError(f"management API answered 404 for queue {queue!r}")

        def count(key: str) -> Count:
            if record.get(key) is None:
                return Count.unknown(f"{key} not reported yet for {queue!r}")
            return Count(int(record[key]), f"management API {key}")

        return QueueCounts(
            count("messages_ready"), count("messages_unacknowledged"), count("consumers")
        )

    def queue_exists(self) -> bool:
        conn = self._short_connection()
        try:
            return self._exists(conn, self.source_queue)
        finally:
            _close_quietly(conn)

    def remove_shadow(self) -> list[str]:
        """Delete the shadow queue ``<queue>.mqmigrate-shadow``; the source queue is untouched."""
        shadow = self.source_queue + SHADOW_SUFFIX
        conn = self._short_connection()
        try:
            if not self._exists(conn, shadow):
                return []  # already gone
            try:
                conn.channel().queue_delete(shadow)
            except self.connection_errors + self.terminal_errors as exc:
                raise self._classify(exc, "delete shadow queue") from exc
        finally:
            _close_quietly(conn)
        return [f"queue {shadow}"]

    def declare_queue(self, spec: QueueSpec) -> None:
        """A durable queue; with ``exchange`` bound to that direct exchange under its name
        (so it can be shadowed); with ``dead_letter_exchange`` + ``dead_letter_queue`` its dead
        letters routed there; ``message_ttl_ms`` as ``x-message-ttl``."""
        arguments: dict[str, Any] = {}
        if spec.dead_letter_exchange:
            arguments["x-dead-letter-exchange"] = spec.dead_letter_exchange
        if spec.message_ttl_ms is not None:
            arguments["x-message-ttl"] = spec.message_ttl_ms
        conn = self._short_connection()
        try:
            ch = conn.channel()
            if spec.exchange:
                ch.exchange_declare(spec.exchange, "direct", durable=True)
            if spec.dead_letter_exchange:
                ch.exchange_declare(spec.dead_letter_exchange, "direct", durable=True)
                if spec.dead_letter_queue:
                    ch.queue_declare(spec.dead_letter_queue, durable=True)
                    ch.queue_bind(spec.dead_letter_queue, spec.dead_letter_exchange, spec.name)
            ch.queue_declare(spec.name, durable=True, arguments=arguments or None)
            if spec.exchange:
                ch.queue_bind(spec.name, spec.exchange, spec.name)
        except self.connection_errors + self.terminal_errors as exc:
            raise self._classify(exc, f"declare queue {spec.name!r}") from exc
        finally:
            _close_quietly(conn)

    def delete_queue(self, spec: QueueSpec) -> list[str]:
        problems = []
        try:
            conn = self._short_connection()
        except MqMigrateError as exc:
            return [f"RabbitMQ: {exc.one_line()}"]
        try:
            # a channel per deletion: a refused one closes its channel, not the others'
            for queue in (spec.name, spec.dead_letter_queue):
                if queue:
                    try:
                        conn.channel().queue_delete(queue)
                    except self.connection_errors + self.terminal_errors as exc:
                        problems.append(f"RabbitMQ queue {queue}: {_reply_text(exc)}")
            for exchange in (spec.exchange, spec.dead_letter_exchange):
                if exchange:
                    try:
                        conn.channel().exchange_delete(exchange)
                    except self.connection_errors + self.terminal_errors as exc:
                        problems.append(f"RabbitMQ exchange {exchange}: {_reply_text(exc)}")
        finally:
            _close_quietly(conn)
        return problems


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # closing a broken connection: nothing left to do
        pass


def _reply_text(exc: BaseException) -> str:
    code = getattr(exc, "reply_code", None)
    text = getattr(exc, "reply_text", None)
    if code is not None:
        return f"{code} {text}"
    return " ".join(str(exc).split()) or type(exc).__name__
