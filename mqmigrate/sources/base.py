"""The adapter contract every source (RabbitMQ, SQS, AMQP 1.0, memory) implements.

An adapter implements a few primitives — open, receive, settle, depth, close — and the
bridge engine owns the loop.  Next to them, the *management operations* every other part of
the tool uses on a source (cutover's gates and actions, ``verify``, the demo): a queue's counts
(:meth:`SourceAdapter.queue_counts`), whether it exists (:meth:`SourceAdapter.queue_exists`),
removing the shadow copy (:meth:`SourceAdapter.remove_shadow`), and declaring or deleting a
queue (:meth:`SourceAdapter.declare_queue`, :meth:`SourceAdapter.delete_queue`); they need no
:meth:`SourceAdapter.open` and open whatever connection they use themselves.  What a source can do is data (:class:`Capabilities`), so the
engine and the CLI read it instead of checking types.  Driver exceptions never leave an
adapter raw: :meth:`SourceAdapter.translate` turns them into
:class:`~mqmigrate.errors.SourceUnavailable` (transient: reconnect and retry) or
:class:`~mqmigrate.errors.SourceError` (terminal: stop), ``raise ... from`` the driver error.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Iterator, Mapping, Sequence

from mqmigrate.errors import ConfigError, MqMigrateError, SourceError, SourceUnavailable


class Outcome(Enum):
    """How a received message is settled at the source.

    The words are KIP-932's and AMQP 1.0's; each adapter maps them onto its broker:
    RabbitMQ ack / nack(requeue) / reject(no requeue), SQS delete / visibility 0 / DLQ,
    AMQP 1.0 accepted / released / rejected.
    """

    ACCEPT = "accept"  #: done: remove from the source
    RELEASE = "release"  #: give back: the source redelivers it later
    REJECT = "reject"  #: refuse: the source dead-letters (or drops) it


class BridgeMode(str, Enum):
    """``drain`` moves messages; ``shadow`` copies without taking from existing consumers."""

    drain = "drain"
    shadow = "shadow"


@dataclass(frozen=True)
class Capabilities:
    """What an adapter supports, as data."""

    #: can copy without taking messages from existing consumers
    shadow: bool = False
    #: settles many messages in one call cheaply (RabbitMQ multiple-ack, SQS batch delete)
    batch_settle: bool = False
    #: the source gives a send timestamp (used as the Kafka record timestamp)
    send_timestamp: bool = False
    #: the source gives a natural ordering/partition key (MessageGroupId, AMQP group-id)
    group_key: bool = False
    #: RELEASE makes the message available again promptly
    release_redelivers: bool = True
    #: the source can report its backlog
    depth: bool = True
    #: :meth:`SourceAdapter.queue_counts` reports ready / in-flight (and consumers where the
    #: broker says) without consuming
    counts: bool = False
    #: :meth:`SourceAdapter.queue_exists` can tell a missing queue
    queue_check: bool = False
    #: :meth:`SourceAdapter.declare_queue` / :meth:`SourceAdapter.delete_queue` work
    declare: bool = False
    #: the broker has a management HTTP API the adapter uses (``management_url``: RabbitMQ's,
    #: Artemis' Jolokia)
    management_api: bool = False


@dataclass(frozen=True)
class Count:
    """One number a broker reported; ``value`` None means unknown and ``detail`` says why,
    otherwise ``detail`` says where the number comes from."""

    value: int | None
    detail: str

    @classmethod
    def unknown(cls, why: str) -> "Count":
        return cls(None, why)


@dataclass(frozen=True)
class QueueCounts:
    """A source queue's counts, read from the broker's management side, not by consuming.

    ``ready``: waiting to be delivered, delayed messages included (what a drain still has to
    move); ``in_flight``: delivered and not settled yet (unacknowledged, not visible,
    delivering); ``consumers``: attached consumers.
    """

    ready: Count
    in_flight: Count
    consumers: Count

    @classmethod
    def unknown(cls, why: str) -> "QueueCounts":
        return cls(Count.unknown(why), Count.unknown(why), Count.unknown(why))


@dataclass(frozen=True)
class QueueSpec:
    """A queue to declare (:meth:`SourceAdapter.declare_queue`), with what each kind honours:

    * RabbitMQ: ``exchange`` (a durable direct exchange routing to the queue with its name as
      the routing key, so the queue can be shadowed), ``dead_letter_exchange`` +
      ``dead_letter_queue`` (a direct exchange routing dead letters to that queue),
      ``message_ttl_ms``;
    * SQS: ``dead_letter_queue`` + ``max_receives`` (the redrive policy),
      ``visibility_timeout_s``;
    * memory: the name.
    """

    name: str
    exchange: str | None = None
    dead_letter_exchange: str | None = None
    dead_letter_queue: str | None = None
    max_receives: int | None = None
    message_ttl_ms: int | None = None
    visibility_timeout_s: int | None = None


@dataclass(frozen=True)
class Envelope:
    """One source message in a neutral form.

    ``properties`` are the common, flat message properties under neutral names
    (``content_type``, ``correlation_id``, ``reply_to``, ``message_id``, ``type``,
    ``app_id``, ``user_id``, ``expiration``, ``priority``, ``delivery_mode``, ``group_id``...).
    ``headers`` are the application headers with their source types (an AMQP 0-9-1 table,
    AMQP 1.0 application-properties, SQS message attributes).  ``sections`` carry every
    other typed part of the message verbatim (e.g. ``amqp1.annotations``,
    ``sqs.system``) so that nothing is lost on the way to Kafka.  ``coordinates`` say where
    the message came from (queue, exchange, routing key, receipt) for the quarantine topic.
    ``handle`` is the adapter's own settle token; the engine never looks inside it.
    """

    body: bytes
    source_id: str
    source_kind: str
    queue: str
    #: the natural partition key the source provides (MessageGroupId, AMQP group-id)
    key: str | None = None
    #: send time in milliseconds since the epoch, None when the source has none
    timestamp_ms: int | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    coordinates: Mapping[str, str] = field(default_factory=dict)
    redelivered: bool = False
    handle: Any = field(default=None, compare=False, repr=False)


class SourceAdapter(ABC):
    """A queue the bridge reads from.  One adapter instance is used by one thread."""

    #: registry name (``rabbitmq``, ``sqs``, ``amqp1``, ``memory``)
    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: driver exceptions that mean "the connection is gone, reconnect" (kombu's idea)
    connection_errors: ClassVar[tuple[type[BaseException], ...]] = ()
    #: driver exceptions that mean "this will not work by retrying" (auth, missing queue)
    terminal_errors: ClassVar[tuple[type[BaseException], ...]] = ()

    #: the queue messages are read from (the shadow queue in shadow mode)
    queue: str

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> "SourceAdapter":
        """An adapter for ``uri`` (credentials stay inside the adapter, never in logs)."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from a URI")

    @abstractmethod
    def open(self) -> None:
        """Connect and start consuming (idempotent after :meth:`close`: reconnects)."""

    @abstractmethod
    def receive(self, max_messages: int, timeout: float) -> list[Envelope]:
        """Up to ``max_messages`` messages, waiting at most ``timeout`` seconds for the first.

        Returns an empty list when nothing arrived.  Must also serve the connection
        (heartbeats), so the engine calls it with ``timeout=0`` while it waits for Kafka.
        """

    @abstractmethod
    def settle(self, envelope: Envelope, outcome: Outcome) -> None:
        """Settle one message.  Settling a message of a previous connection is a no-op: the
        broker has already made it available again."""

    def settle_many(self, envelopes: Sequence[Envelope], outcome: Outcome) -> int:
        """Settle several messages with one outcome; adapters override to batch.  Returns
        how many were settled on this connection (messages of a previous connection are
        skipped: the broker already took them back)."""
        for envelope in envelopes:
            self.settle(envelope, outcome)
        return len(envelopes)

    def flush(self) -> None:
        """Push out settlements the adapter batched (called before close and when idle)."""

    def depth(self) -> int | None:
        """Messages waiting in the source queue, or None when unknown."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Flush settlements and disconnect; unsettled messages go back to the source."""

    # -- management operations (no open() needed; see the module doc) --------------------------
    def queue_counts(self) -> QueueCounts:
        """The source queue's ready / in-flight / consumer counts (``capabilities.counts``);
        unknown counts say why.  Raises :class:`~mqmigrate.errors.MqMigrateError` when the
        broker or its management API cannot be asked."""
        return QueueCounts.unknown(f"no counts for {self.kind} sources")

    def queue_exists(self) -> bool | None:
        """Whether the source queue exists (``capabilities.queue_check``); None when this
        source cannot tell."""
        return None

    def remove_shadow(self) -> list[str]:
        """Delete the shadow copy a shadow bridge made for the source queue (``--remove-shadow``,
        cutover's ``source.delete-shadow``); what is gone already is skipped and the source
        queue is never touched.  What was removed, for the account (empty: nothing was there)."""
        raise SourceError(f"{self.kind} sources have no shadow copy to remove")

    def declare_queue(self, spec: QueueSpec) -> None:
        """Create ``spec``'s queue and what it names (``capabilities.declare``); existing ones
        are kept."""
        raise SourceError(f"{self.kind} sources cannot declare queues")

    def delete_queue(self, spec: QueueSpec) -> list[str]:
        """Delete ``spec``'s queue and what :meth:`declare_queue` made for it, each part
        attempted; the parts that could not be deleted, as one-line reasons."""
        raise SourceError(f"{self.kind} sources cannot delete queues")

    def describe(self) -> str:
        """A short, secret-free description for logs (``rabbitmq queue orders``)."""
        return f"{self.kind} queue {self.queue}"

    @contextlib.contextmanager
    def translate(self, action: str) -> Iterator[None]:
        """Re-raise driver exceptions as mqmigrate errors, classified transient or terminal."""
        try:
            yield
        except MqMigrateError:
            raise
        except self.terminal_errors as exc:
            raise SourceError(f"{self.describe()}: {action} failed: {_text(exc)}") from exc
        except self.connection_errors as exc:
            raise SourceUnavailable(f"{self.describe()}: {action} failed: {_text(exc)}") from exc


def content_hash_id(
    queue: str, body: bytes, headers: Mapping[Any, Any], timestamp: int | None
) -> str:
    """A source id for a message that has none: ``sha256:`` + a hash of (queue, headers,
    timestamp, body).  Stable across redeliveries (what duplicate detection needs); two
    publishes identical in all four share it."""
    import hashlib

    from mqmigrate.headers import encode_section

    digest = hashlib.sha256()
    digest.update(queue.encode() + b"\0")
    digest.update(encode_section(headers) if headers else b"{}")
    digest.update(b"\0" + str(timestamp).encode() + b"\0")
    digest.update(body)
    return "sha256:" + digest.hexdigest()[:32]


def _text(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


# == Source publishers ==========================================================================
# The write side of a source broker (the dual-write SDK's source side): one implementation per
# kind in sources/<kind>/publisher.py, resolved from the URI by sources.open_publisher.  Kept
# in one block, apart from the adapter contract above.

#: message properties a publisher may be given, under the neutral names of
#: :attr:`Envelope.properties`; each publisher maps those its broker has
PUBLISH_PROPERTIES = frozenset(
    {
        "content_type",
        "content_encoding",
        "correlation_id",
        "reply_to",
        "type",
        "app_id",
        "user_id",
        "expiration",
        "priority",
        "subject",
    }
)


#: the unconfirmed messages a windowed publisher allows by default (RabbitMQ PerfTest's users
#: commonly run ``--confirm`` 100–1000; the bridge benchmark's AMQP 1.0 filler uses 1,000)
PUBLISH_WINDOW = 1000
#: how long a windowed publisher waits for a confirmation (credit, ack, settlement)
PUBLISH_TIMEOUT = 60.0


def deadline_passed(deadline: float) -> bool:
    """Whether the monotonic clock has reached ``deadline``."""
    import time

    return time.monotonic() >= deadline


class SourcePublisher(ABC):
    """Publishes messages to a source broker, one at a time, each confirmed by the broker.

    :meth:`send` returns only once the broker took responsibility for the message (RabbitMQ
    publisher confirm with ``mandatory``, the SQS ``SendMessage`` answer, the AMQP 1.0
    *accepted* outcome); otherwise it raises :class:`~mqmigrate.errors.SourceUnavailable`
    (transient: the same send may succeed later) or :class:`~mqmigrate.errors.SourceError`
    (terminal: unroutable, rejected, a missing queue), ``raise ... from`` the driver error.
    The connection is opened on first use and reopened after a failure.  Not thread-safe.
    """

    #: registry name (``rabbitmq``, ``sqs``, ``amqp1``)
    kind: ClassVar[str]

    @classmethod
    def from_uri(cls, uri: str, *, queue: str, **options: Any) -> "SourcePublisher":
        """A publisher of ``queue`` at the source URI ``uri`` (TLS, SASL and secrets as
        ``--source`` takes them); ``options`` are the kind's own constructor options."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from a URI")

    @abstractmethod
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
        """Publish one message and wait for the broker's confirmation.

        ``message_id`` travels as the broker's message id (SQS: the ``mq-source-id``
        attribute); ``headers`` keep their types where the broker has them (a header table,
        application properties, String/Number/Binary attributes); ``key`` is the ordering key
        where the broker has one (AMQP 1.0 group-id, SQS FIFO group); ``properties`` use the
        names of :data:`PUBLISH_PROPERTIES` (a name the broker has no place for is a
        :class:`~mqmigrate.errors.ConfigError`); ``delay_ms`` holds the message back that
        long (after :meth:`check_delay` accepted it).
        """

    def check_delay(self, delay_ms: int) -> None:
        """:class:`~mqmigrate.errors.ConfigError` unless a delay of ``delay_ms`` can be kept."""
        raise ConfigError(
            f"the {self.kind} publisher cannot delay a message", hint="send without delay="
        )

    @abstractmethod
    def close(self) -> None:
        """Disconnect (idempotent); the next send connects again."""


def check_properties(
    kind: str, properties: Mapping[str, Any] | None, known: frozenset[str]
) -> None:
    """ConfigError when ``properties`` names something a ``kind`` message cannot carry."""
    unknown = sorted(set(properties or ()) - known)
    if unknown:
        places = ", ".join(sorted(known)) or "none"
        raise ConfigError(
            f"a {kind} message has no property {', '.join(map(repr, unknown))}",
            hint=f"its properties: {places}; put anything else in the headers",
        )


class _DuckPublisher(SourcePublisher):
    """An object with only ``kind``, ``send(body, message_id, headers, key)`` and ``close()``
    (the dual-write SDK's documented minimum) seen as a :class:`SourcePublisher`: it delays
    a message only if it has its own ``check_delay``.  Other attributes pass through."""

    def __init__(self, target: Any):
        self.target = target
        self.kind = str(getattr(target, "kind", type(target).__name__))  # type: ignore[misc]

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
        check_properties(self.kind, properties, frozenset())
        if delay_ms:
            self.target.send(body, message_id, headers, key, delay_ms=delay_ms)
        else:
            self.target.send(body, message_id, headers, key)

    def check_delay(self, delay_ms: int) -> None:
        check = getattr(self.target, "check_delay", None)
        if check is None:
            super().check_delay(delay_ms)
        else:
            check(delay_ms)

    def close(self) -> None:
        self.target.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


def as_publisher(target: Any) -> SourcePublisher:
    """``target`` itself when it is a :class:`SourcePublisher`, else a view of a duck-typed
    producer (``kind``, ``send(body, message_id, headers, key)``, ``close()``) as one."""
    return target if isinstance(target, SourcePublisher) else _DuckPublisher(target)
