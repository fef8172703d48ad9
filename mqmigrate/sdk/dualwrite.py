"""Dual-writing producers: one message, one id, written to the source broker and to Kafka.

During a migration the producers of a queue move in three steps, switchable while the
service runs::

    source-only  ->  dual  ->  kafka-only

Each message gets one id (given, or a new UUID) that travels on both sides, so ``verify``
and the bridge's dedup recognise the pair: the ``mq.source.id`` header on Kafka, the
``message_id`` property on AMQP 0-9-1 (pika), ``message-id`` on AMQP 1.0 (proton), and an
``mq-source-id`` message attribute on SQS (plus ``MessageDeduplicationId`` on a FIFO queue).

Failure policy, per mode (also in ``docs/dualwrite.md``):

* ``source-only``: write the source (publisher confirm / SQS answer / AMQP 1.0 accepted
  outcome), retrying transient failures with capped exponential backoff up to ``retries``
  times (a terminal one, e.g. a missing queue, is not retried); then raise
  :class:`~mqmigrate.errors.DualWriteError` (``written=()``).  Kafka is not touched.
* ``kafka-only``: the same with Kafka (``acks=all``, idempotent producer, delivery report).
* ``dual``: the *authoritative* side (``authoritative="source"`` by default, the side the
  consumers still read during the migration) is written first and synchronously, with
  retries; if it fails the message is written nowhere and :class:`DualWriteError` is raised
  (``written=()``) — the other side never holds a message the authoritative side lacks.
  Then the other side, with retries.  If it still fails:

  - ``on_secondary_failure="strict"``: raise :class:`DualWriteError` with
    ``written=("source",)`` (or ``("kafka",)``): the caller knows the message is on one side;
  - ``on_secondary_failure="spool"`` (needs ``spool_dir``): append the message (id, body,
    key, headers) as one JSON line to ``<spool_dir>/<side>.jsonl``, fsync'd, and return;
    :meth:`DualWriter.replay` re-sends the spooled messages later with the same id.  If the
    spool itself cannot be written, :class:`DualWriteError` is raised.

  Nothing is ever dropped silently: every message is either confirmed by each side the mode
  requires, spooled (counted in ``mqmigrate_dualwrite_spooled_total``), or the call raises.

The mode comes from a :class:`ModeSource` asked on every send: :class:`StaticMode`,
:class:`EnvMode` (an environment variable), :class:`FileMode` (a file re-read when it
changes, at most every ``interval`` seconds) or :class:`ControlTopicMode` (a compacted Kafka
topic read continuously in the background; :func:`publish_mode` writes it).

Example::

    from mqmigrate.sdk.dualwrite import DualWriter, PikaSource, FileMode

    writer = DualWriter(
        PikaSource("amqp://app:secret@rabbit:5672/%2f", routing_key="orders"),
        {"bootstrap.servers": "kafka:9092"}, "orders",
        mode_source=FileMode("/etc/orders/migration-mode"),
        spool_dir="/var/lib/orders/spool",
    )
    writer.send(b'{"order": 1}', message_id="order-1")
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Protocol, Sequence

from mqmigrate.kafka import delays
from mqmigrate.sdk import headers as H
from mqmigrate.errors import ConfigError, DualWriteError, MqMigrateError
from mqmigrate.redact import mask_uri
from mqmigrate.sources.connect import pika_parameters, proton_blocking_connection, sqs_client
from mqmigrate.sources.uri import parse_source_uri

log = logging.getLogger("mqmigrate.sdk.dualwrite")

__all__ = [
    "WriteMode",
    "Mode",
    "ModeSource",
    "StaticMode",
    "EnvMode",
    "FileMode",
    "ControlTopicMode",
    "mode_source_from_spec",
    "publish_mode",
    "create_control_topic",
    "SourceSide",
    "PikaSource",
    "SqsSource",
    "ProtonSource",
    "KafkaSide",
    "DualWriter",
    "WriteResult",
    "ReplayResult",
    "DualWriteMetrics",
]


class WriteMode(str, Enum):
    """Where the dual-write producer sends a message: the source only, both, or Kafka only."""

    SOURCE_ONLY = "source-only"
    DUAL = "dual"
    KAFKA_ONLY = "kafka-only"

    @classmethod
    def parse(cls, text: str) -> "WriteMode":
        value = text.strip().lower().replace("_", "-")
        for mode in cls:
            if mode.value == value:
                return mode
        raise ConfigError(
            f"unknown dual-write mode {text.strip()[:40]!r}",
            hint="use source-only, dual or kafka-only",
        )


#: the name before WriteMode; kept so code that imports ``Mode`` keeps working
Mode = WriteMode


# -- where the mode comes from ------------------------------------------------------------------


class ModeSource(Protocol):
    """Anything that says which mode applies now; asked before every message."""

    def current(self) -> Mode: ...


class StaticMode:
    """A fixed mode (tests, or a service redeployed to change it)."""

    def __init__(self, mode: Mode | str):
        self.mode = Mode.parse(mode) if isinstance(mode, str) else mode

    def current(self) -> Mode:
        return self.mode

    def close(self) -> None:
        pass


class _LastGood:
    """Keeps the last valid mode: a typo in the switch must not stop or redirect producers."""

    def __init__(self, default: Mode | str, what: str):
        self.value = Mode.parse(default) if isinstance(default, str) else default
        self.what = what
        self._warned: str | None = None

    def update(self, text: str | None) -> Mode:
        if text is None or not text.strip():
            return self.value
        try:
            mode = Mode.parse(text)
        except ConfigError as exc:
            if self._warned != text:
                log.warning("%s: %s; keeping mode %s", self.what, exc.one_line(), self.value.value)
                self._warned = text
            return self.value
        if mode is not self.value:
            log.info("%s: dual-write mode %s -> %s", self.what, self.value.value, mode.value)
        self.value = mode
        return mode


class EnvMode:
    """The mode in an environment variable, read on every call (cheap).

    Unset or empty means ``default``; an invalid value keeps the last valid mode.
    """

    def __init__(
        self, var: str = "MQMIGRATE_DUALWRITE_MODE", default: Mode | str = Mode.SOURCE_ONLY
    ):
        self.var = var
        self._state = _LastGood(default, f"${var}")

    def current(self) -> Mode:
        return self._state.update(os.environ.get(self.var))

    def close(self) -> None:
        pass


class FileMode:
    """The mode in a file (its whole content, e.g. ``dual``), re-read when it changes.

    The file is checked at most every ``interval`` seconds (a ``stat``), and read only when
    its mtime, size or inode changed.  A missing file means ``default``; invalid content
    keeps the last valid mode.  Write it atomically (``echo dual > f.tmp && mv f.tmp f``).
    """

    def __init__(
        self, path: str | os.PathLike, default: Mode | str = Mode.SOURCE_ONLY, interval: float = 1.0
    ):
        self.path = Path(path)
        self.interval = interval
        self._state = _LastGood(default, str(self.path))
        self._default = self._state.value
        self._checked = float("-inf")
        self._signature: tuple | None = None
        self._lock = threading.Lock()

    def current(self) -> Mode:
        now = time.monotonic()
        with self._lock:
            if now - self._checked < self.interval:
                return self._state.value
            self._checked = now
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._signature = None
                self._state.value = self._default
                return self._default
            except OSError as exc:
                log.warning("%s: %s; keeping mode %s", self.path, exc, self._state.value.value)
                return self._state.value
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
            if signature != self._signature:
                self._signature = signature
                try:
                    text = self.path.read_text(encoding="utf-8")
                except OSError as exc:
                    log.warning("%s: %s; keeping mode %s", self.path, exc, self._state.value.value)
                    return self._state.value
                self._state.update(text)
            return self._state.value

    def close(self) -> None:
        pass


class ControlTopicMode:
    """The mode in a compacted Kafka topic: the latest value under ``key`` wins.

    A background thread reads every partition from the beginning (no consumer group, so no
    offsets are committed and every instance sees the full history), then keeps polling
    every ``interval`` seconds.  :meth:`start` (called by the constructor) waits up to
    ``ready_timeout`` for the topic to be read to its end so the first message already
    goes where the latest switch says; if Kafka cannot be read, ``default`` applies until it
    can.  Write the topic with :func:`publish_mode`.
    """

    def __init__(
        self,
        bootstrap: Any,
        topic: str,
        key: str,
        default: Mode | str = Mode.SOURCE_ONLY,
        interval: float = 1.0,
        ready_timeout: float = 15.0,
        consumer_config: Mapping[str, Any] | None = None,
    ):
        from mqmigrate.kafka.config import as_kafka_config

        #: the Kafka connection configuration (``bootstrap``: a KafkaConfig, a mapping of
        #: librdkafka settings, a properties file path or plaintext bootstrap servers)
        self.kafka_config = as_kafka_config(bootstrap)
        self.bootstrap = self.kafka_config.bootstrap
        self.topic = topic
        self.key = key
        self.interval = interval
        self._state = _LastGood(default, f"control topic {topic}[{key}]")
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._consumer_config = dict(consumer_config or {})
        self._thread = threading.Thread(
            target=self._run, name=f"mqmigrate-mode-{topic}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(ready_timeout):
            log.warning(
                "control topic %s not read within %.0fs; mode %s until it is",
                topic,
                ready_timeout,
                self._state.value.value,
            )

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def current(self) -> Mode:
        return self._state.value

    def _run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

        from mqmigrate.kafka.share import _quiet

        consumer = Consumer(
            self.kafka_config.client(
                {
                    # assign() without commits: the group id is only a required name
                    "group.id": f"mqmigrate-mode-{uuid.uuid4().hex}",
                    "enable.auto.commit": False,
                    "logger": _quiet,
                    **self._consumer_config,
                }
            )
        )
        try:
            partitions: list = []
            while not partitions and not self._stop.is_set():
                try:
                    metadata = consumer.list_topics(self.topic, timeout=5)
                    info = metadata.topics.get(self.topic)
                    if info is not None and info.error is None:
                        partitions = [
                            TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in info.partitions
                        ]
                except KafkaException as exc:
                    log.warning("control topic %s: %s", self.topic, exc)
                if not partitions:
                    self._stop.wait(self.interval)
            if not partitions:
                return
            consumer.assign(partitions)
            ends = {}
            for tp in partitions:
                _, high = consumer.get_watermark_offsets(tp, timeout=10)
                ends[tp.partition] = high
            positions = {tp.partition: 0 for tp in partitions}
            if all(high == 0 for high in ends.values()):
                self._ready.set()
            while not self._stop.is_set():
                message = consumer.poll(self.interval)
                if message is None:
                    continue
                if message.error() is not None:
                    continue
                positions[message.partition()] = message.offset() + 1
                if (
                    message.key() is not None
                    and message.key().decode("utf-8", "replace") == self.key
                ):
                    self._state.update((message.value() or b"").decode("utf-8", "replace"))
                if not self._ready.is_set() and all(positions[p] >= ends[p] for p in ends):
                    self._ready.set()
        except Exception as exc:  # noqa: BLE001 - the last mode stays; the producer keeps going
            log.error("control topic %s reader stopped: %s", self.topic, exc)
        finally:
            consumer.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def create_control_topic(bootstrap: Any, topic: str) -> None:
    """Create the compacted control topic (one partition, so the latest switch is one read)."""
    from mqmigrate.kafka import share

    share.create_topic(
        share.admin_client(bootstrap), topic, partitions=1, config={"cleanup.policy": "compact"}
    )


def publish_mode(
    bootstrap: Any, topic: str, key: str, mode: Mode | str, timeout: float = 30.0
) -> None:
    """Switch every :class:`ControlTopicMode` reading ``topic``/``key`` to ``mode``.

    ``bootstrap``: the Kafka connection configuration or plaintext bootstrap servers."""
    from confluent_kafka import Producer

    from mqmigrate.kafka.config import as_kafka_config
    from mqmigrate.kafka.share import _quiet

    value = (Mode.parse(mode) if isinstance(mode, str) else mode).value
    producer = Producer(
        as_kafka_config(bootstrap).client(
            {"acks": "all", "enable.idempotence": True, "logger": _quiet}
        )
    )
    errors: list = []
    producer.produce(
        topic,
        key=key.encode(),
        value=value.encode(),
        on_delivery=lambda err, _m: errors.append(err),
    )
    if producer.flush(timeout) != 0 or errors != [None]:
        raise DualWriteError(f"could not publish mode {value} to {topic}: {errors or 'timeout'}")


def mode_source_from_spec(
    spec: str, *, bootstrap: Any = None, default: Mode | str = Mode.SOURCE_ONLY
) -> ModeSource:
    """``dual`` | ``file:/path`` | ``env:VAR`` | ``kafka:TOPIC#KEY`` as a :class:`ModeSource`."""
    kind, sep, rest = spec.partition(":")
    if not sep:
        return StaticMode(spec)
    if kind == "file":
        return FileMode(rest, default)
    if kind == "env":
        return EnvMode(rest, default)
    if kind == "kafka":
        if not bootstrap:
            raise ConfigError("a kafka: mode source needs the Kafka bootstrap servers")
        topic, _, key = rest.partition("#")
        return ControlTopicMode(bootstrap, topic, key or "mode", default)
    raise ConfigError(
        f"unknown mode source {spec!r}", hint="use a mode, file:PATH, env:VAR or kafka:TOPIC#KEY"
    )


# -- the two sides --------------------------------------------------------------------------------


class SourceSide(Protocol):
    """A source broker's producer: ``send`` returns once the broker confirmed, else raises
    :class:`~mqmigrate.errors.MqMigrateError` (from the driver's exception)."""

    kind: str

    def send(
        self, body: bytes, message_id: str, headers: Mapping[str, str], key: str | None
    ) -> None: ...

    def close(self) -> None: ...

    # a side that can delay a message also has (both optional):
    # def check_delay(self, delay_ms: int) -> None  -- ConfigError when it cannot
    # def send(..., delay_ms: int | None = None)    -- the broker holds it that long


class PikaSource:
    """RabbitMQ over AMQP 0-9-1 with publisher confirms.

    ``basic_publish`` returns only after the broker confirmed (``confirm_delivery``);
    ``mandatory=True`` so an unroutable message is an error, not a silent drop.  The message
    id is the ``message_id`` property; headers go to the header table; persistent delivery.
    The connection is opened lazily and reopened after a failure.

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
            f"{delays.label(self.wait_delay(delay_ms))}"
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
        headers: Mapping[str, str],
        key: str | None,
        delay_ms: int | None = None,
    ) -> None:
        import pika
        from pika import exceptions as pe

        exchange, routing_key, mandatory = self.exchange, self.routing_key, True
        table: dict[str, Any] = dict(headers)
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
                ),
                mandatory=mandatory,
            )
        except (pe.AMQPError, OSError) as exc:
            self.close()
            where = mask_uri(self.url) if isinstance(self.url, str) else "RabbitMQ"
            # unroutable (no queue bound) will not change by retrying; a nack or a dropped
            # connection may
            raise MqMigrateError(
                f"RabbitMQ publish to {where} failed: {type(exc).__name__} {exc}",
                transient=not isinstance(exc, pe.UnroutableError),
            ) from exc

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
        self._declared.clear()  # a new channel declares again (idempotent, same arguments)
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass


#: SQS error codes worth retrying
_SQS_TRANSIENT = {
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "KmsThrottled",
    "RequestTimeout",
}


class SqsSource:
    """Amazon SQS with boto3 ``send_message``.

    The id travels as the ``mq-source-id`` String message attribute; on a FIFO queue (URL
    ending in ``.fifo``) it is also the ``MessageDeduplicationId`` and the message key (or
    ``group_id``) is the ``MessageGroupId``.  Headers become String message attributes (SQS
    allows 10 per message, ``mq-source-id`` included).
    """

    kind = "sqs"

    def __init__(
        self,
        queue_url: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        group_id: str = "default",
        source: str | None = None,
        **client_kwargs: Any,
    ):
        """``source`` is an SQS source URI as ``--source`` takes it (``sqs://REGION?profile=``,
        ``?role_arn=``, ``sqs+https://...?cafile=``); without it, a boto3 client from the
        keyword arguments."""
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self.group_id = group_id
        if client is None and source is not None:
            client = sqs_client(parse_source_uri(source))
        if client is None:
            import boto3

            client = boto3.client(
                "sqs", endpoint_url=endpoint_url, region_name=region_name, **client_kwargs
            )
        self.client = client

    #: SQS's longest per-message delay
    MAX_DELAY_S = 900

    def check_delay(self, delay_ms: int) -> None:
        """ConfigError when SQS cannot delay a message by ``delay_ms``."""
        if self.fifo:
            raise ConfigError(
                f"{self.queue_url}: a FIFO queue has no per-message delay",
                hint="set the queue's DelaySeconds instead",
            )
        if math.ceil(delay_ms / 1000) > self.MAX_DELAY_S:
            raise ConfigError(
                f"SQS delays a message by at most {self.MAX_DELAY_S} s, not "
                f"{delays.label(delay_ms)}"
            )

    def send(
        self,
        body: bytes,
        message_id: str,
        headers: Mapping[str, str],
        key: str | None,
        delay_ms: int | None = None,
    ) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            # SQS bodies are text; binary payloads must be encoded by the application
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"message {message_id} is not UTF-8 text, which an SQS body must be",
                hint="base64-encode binary payloads",
            ) from exc
        attributes = {
            name: {"DataType": "String", "StringValue": str(value)}
            for name, value in headers.items()
        }
        attributes[H.SQS_SOURCE_ID_ATTRIBUTE] = {"DataType": "String", "StringValue": message_id}
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MessageBody": text,
            "MessageAttributes": attributes,
        }
        if self.fifo:
            request["MessageDeduplicationId"] = message_id
            request["MessageGroupId"] = key or self.group_id
        if delay_ms:
            self.check_delay(delay_ms)
            # whole seconds, rounded up: never earlier than asked
            request["DelaySeconds"] = math.ceil(delay_ms / 1000)
        try:
            self.client.send_message(**request)
        except (BotoCoreError, ClientError) as exc:
            code = (
                exc.response.get("Error", {}).get("Code", "")
                if isinstance(exc, ClientError)
                else ""
            )
            # connection errors and throttling pass; a missing queue or a bad request does not
            transient = not isinstance(exc, ClientError) or code in _SQS_TRANSIENT
            raise MqMigrateError(
                f"SQS send to {self.queue_url} failed: {exc}", transient=transient
            ) from exc

    def close(self) -> None:
        pass


class ProtonSource:
    """An AMQP 1.0 broker with python-qpid-proton's ``BlockingConnection``.

    ``send`` waits until the broker settled the delivery and fails unless the outcome is
    *accepted*.  The id is the message's ``id`` (AMQP 1.0 ``message-id``); headers are
    application properties; durable.  ``capabilities=("queue",)`` asks the broker for an
    anycast queue: needed on ActiveMQ Artemis, which otherwise auto-creates a *multicast*
    address and accepts-then-discards a message sent to an address with no queue.
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

    def _endpoint(self) -> Any:
        """The URL as a source URI (``amqp(s)://`` read as ``amqp1(s)://``), with the TLS,
        SASL and secret handling of ``--source``; ``user``/``password`` override the URI's."""
        import dataclasses

        from mqmigrate.redact import Secret

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
        headers: Mapping[str, str],
        key: str | None,
        delay_ms: int | None = None,
    ) -> None:
        from proton import Delivery, Message, ProtonException, symbol
        from proton.utils import SendException

        try:
            message = Message(
                id=message_id,
                body=body,
                properties=dict(headers) or None,
                durable=True,
                group_id=key,
            )
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
                raise MqMigrateError(
                    f"AMQP 1.0 broker settled the message as {delivery.remote_state}, not accepted"
                )
        except (ProtonException, OSError) as exc:
            self.close()
            # rejected is the broker's final word; released/modified/timeouts may pass
            rejected = isinstance(exc, SendException) and exc.state == Delivery.REJECTED
            raise MqMigrateError(
                f"AMQP 1.0 send to {mask_uri(self.url)} {self.address} "
                f"failed: {type(exc).__name__} {exc}",
                transient=not rejected,
            ) from exc

    def close(self) -> None:
        connection, self._connection, self._sender = self._connection, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass


def _kafka_terminal_codes() -> set[int]:
    from confluent_kafka import KafkaError as KE

    return {
        KE.MSG_SIZE_TOO_LARGE,
        KE.RECORD_LIST_TOO_LARGE,
        KE.INVALID_RECORD,
        KE.POLICY_VIOLATION,
        KE._UNKNOWN_TOPIC,
        KE.TOPIC_AUTHORIZATION_FAILED,
        KE.CLUSTER_AUTHORIZATION_FAILED,
    }


#: Kafka errors that retrying the same record cannot fix
_KAFKA_TERMINAL = _kafka_terminal_codes()

#: producer settings the guarantees depend on; a user cannot override these
KAFKA_REQUIRED: dict[str, Any] = {"enable.idempotence": True, "acks": "all"}


class KafkaSide:
    """The Kafka producer: idempotent, ``acks=all``, one synchronous send per message.

    ``message.timeout.ms`` is set to ``timeout`` so that when :meth:`send` gives up,
    librdkafka has given up on that record too: a spooled message is never also delivered
    late by the producer's own retries (which would make the replay a duplicate).

    A delayed message goes to the delay tier ``<topic>.retry-<label>`` of ``tiers`` that is
    at least as long as the delay, with ``mq.retry.*`` headers (due time = now + the tier's
    delay, attempt 0, no group: every share group's worker handles it once due).  The tier
    topic must exist: it is checked once per topic before the first delayed write.
    """

    kind = "kafka"

    def __init__(
        self,
        config: Any,
        topic: str,
        timeout: float = 10.0,
        tiers: "delays.DelayTiers | None" = None,
    ):
        """``config``: a KafkaConfig, a mapping of librdkafka settings, a properties file path
        or plaintext bootstrap servers."""
        from confluent_kafka import Producer

        from mqmigrate.kafka.config import KafkaConfig, as_kafka_config
        from mqmigrate.kafka.share import _quiet

        self.topic = topic
        self.timeout = timeout
        self.tiers = tiers
        self._known_topics: set[str] = set()
        shared = as_kafka_config(config)
        #: the connection, for the admin client that checks tier topics
        self._kafka = shared
        kafka = KafkaConfig({"linger.ms": 0, **shared.properties}, shared.path).with_overrides(
            KAFKA_REQUIRED, **{"message.timeout.ms": int(timeout * 1000)}
        )
        self.bootstrap = str(kafka.properties.get("bootstrap.servers", ""))
        self._producer = Producer(kafka.client({"logger": _quiet}))

    def check_delay(self, delay_ms: int) -> None:
        """ConfigError unless a tier covers ``delay_ms`` and its topic exists."""
        if self.tiers is None:
            raise ConfigError(
                f"a delayed message for Kafka topic {self.topic} needs delay tiers",
                hint="pass delay_tiers=('1s', '30s', ...) to the "
                "DualWriter, the same as the worker's retry_tiers",
            )
        topic = self.tiers.for_delay(delay_ms / 1000).topic(self.topic)
        if topic in self._known_topics:
            return
        from mqmigrate.kafka import share

        try:
            state = share.describe_topic(
                share.admin_client(self._kafka), topic, timeout=self.timeout
            )
        except MqMigrateError as exc:
            # Kafka unreachable: the write itself fails the same way and is retried or
            # spooled like any other; the check runs again on the next delayed send
            log.warning("cannot check delay tier topic %s: %s", topic, exc.one_line())
            return
        if state is None:
            # producing would auto-create a topic no worker reads: the delay would be lost
            raise ConfigError(
                f"delay tier topic {topic} does not exist",
                hint="create it with 'mqmigrate provision' (target.retry)",
            )
        self._known_topics.add(topic)

    def send(
        self,
        body: bytes,
        message_id: str,
        headers: Mapping[str, str],
        key: str | None,
        delay_ms: int | None = None,
    ) -> None:
        from confluent_kafka import KafkaException

        topic = self.topic
        extra: list[tuple[str, bytes]] = []
        if delay_ms:
            self.check_delay(delay_ms)
            assert self.tiers is not None
            tier = self.tiers.for_delay(delay_ms / 1000)
            topic = tier.topic(self.topic)
            extra = delays.tier_headers(
                due_ms=delays.now_ms() + tier.delay_ms,
                attempt=0,
                tier=tier,
                origin_topic=self.topic,
            )
        done = threading.Event()
        result: dict[str, Any] = {}

        def delivered(err: Any, _msg: Any) -> None:
            result["error"] = err
            done.set()

        kafka_headers = (
            [(H.SOURCE_ID, message_id.encode())]
            + [(name, str(value).encode()) for name, value in headers.items()]
            + extra
        )
        try:
            self._producer.produce(
                topic,
                value=body,
                key=key.encode() if key is not None else None,
                headers=kafka_headers,
                on_delivery=delivered,
            )
        except (KafkaException, BufferError) as exc:
            raise MqMigrateError(f"Kafka produce to {topic} failed: {exc}", transient=True) from exc
        # a little past message.timeout.ms: the report is then definitive (delivered or not)
        deadline = time.monotonic() + self.timeout + 5
        while not done.is_set() and time.monotonic() < deadline:
            self._producer.poll(0.05)
        if not done.is_set():
            raise MqMigrateError(
                f"Kafka gave no delivery report for {message_id} in time", transient=True
            )
        error = result["error"]
        if error is not None:
            raise MqMigrateError(
                f"Kafka write to {topic} at {self.bootstrap} failed: {error.str()}",
                transient=error.code() not in _KAFKA_TERMINAL,
            )

    def close(self) -> None:
        self._producer.flush(self.timeout)


# -- metrics --------------------------------------------------------------------------------------


class DualWriteMetrics:
    """Prometheus counters by side (``source`` / ``kafka``) and the current mode."""

    _default: "DualWriteMetrics | None" = None
    _lock = threading.Lock()

    def __init__(self, registry: Any = None):
        from prometheus_client import CollectorRegistry, Counter, Gauge

        registry = registry if registry is not None else CollectorRegistry()
        self.written = Counter(
            "mqmigrate_dualwrite_written_total",
            "Messages confirmed by a side",
            ["side"],
            registry=registry,
        )
        self.failed = Counter(
            "mqmigrate_dualwrite_failed_total",
            "Write attempts a side did not confirm",
            ["side"],
            registry=registry,
        )
        self.spooled = Counter(
            "mqmigrate_dualwrite_spooled_total",
            "Messages spooled for a side that failed",
            ["side"],
            registry=registry,
        )
        self.replayed = Counter(
            "mqmigrate_dualwrite_replayed_total",
            "Spooled messages re-sent successfully",
            ["side"],
            registry=registry,
        )
        self.errors = Counter(
            "mqmigrate_dualwrite_errors_total",
            "send() calls that raised",
            ["mode"],
            registry=registry,
        )
        self.mode = Gauge(
            "mqmigrate_dualwrite_mode", "1 for the mode in use", ["mode"], registry=registry
        )

    @classmethod
    def default(cls) -> "DualWriteMetrics":
        from prometheus_client import REGISTRY

        with cls._lock:
            if cls._default is None:
                cls._default = cls(REGISTRY)
            return cls._default


# -- the writer -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteResult:
    """What :meth:`DualWriter.send` did with one message."""

    message_id: str
    mode: Mode
    #: sides that confirmed the message ("source", "kafka"), in write order
    written: tuple[str, ...]
    #: sides the message was spooled for (to be re-sent by replay())
    spooled: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReplayResult:
    sent: int
    failed: int
    corrupt: int = 0


Side = Literal["source", "kafka"]


def _kafka_of(kafka_config: Any) -> Any:
    """The KafkaConfig for a ``kafka:`` mode source, or None when no servers are configured."""
    from mqmigrate.kafka.config import as_kafka_config

    config = as_kafka_config(kafka_config)
    return config if config.properties.get("bootstrap.servers") else None


class DualWriter:
    """Writes each message where the current mode says, with one id on every side.

    :param source: the source producer (:class:`PikaSource`, :class:`SqsSource`,
        :class:`ProtonSource`, or anything with the :class:`SourceSide` shape).
    :param kafka_config: the Kafka connection: a :class:`~mqmigrate.kafka.config.KafkaConfig`,
        a mapping of librdkafka settings (``bootstrap.servers`` at least), the path of a
        properties file, or plaintext bootstrap servers; ``acks=all`` and idempotence are
        forced.
    :param topic: the Kafka topic.
    :param mode_source: a :class:`ModeSource`, a :class:`Mode`, or a spec string accepted by
        :func:`mode_source_from_spec` (``"dual"``, ``"file:/etc/mode"``, ``"env:VAR"``).
    :param authoritative: ``"source"`` (default, during migration) or ``"kafka"``: written
        first in ``dual`` mode; its failure fails the call.
    :param on_secondary_failure: ``"spool"`` (default when ``spool_dir`` is given) or
        ``"strict"`` (default otherwise).
    :param spool_dir: directory for ``source.jsonl`` / ``kafka.jsonl`` spool files.
    :param retries: extra attempts per side after the first; backoff doubles from
        ``backoff`` up to ``max_backoff`` seconds, with jitter.
    :param kafka_timeout: seconds one Kafka attempt may take (also librdkafka's
        ``message.timeout.ms``).
    :param delay_tiers: the delay tiers (the worker's ``retry_tiers``) that
        ``send(..., delay=...)`` uses on Kafka; without them a delayed send to Kafka is refused.

    ``send`` is thread-safe (calls are serialised: the drivers are not thread-safe).
    """

    def __init__(
        self,
        source: SourceSide,
        kafka_config: Any,
        topic: str,
        mode_source: ModeSource | Mode | str = Mode.SOURCE_ONLY,
        *,
        authoritative: Side = "source",
        on_secondary_failure: Literal["spool", "strict"] | None = None,
        spool_dir: str | os.PathLike | None = None,
        retries: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        kafka_timeout: float = 10.0,
        metrics: "DualWriteMetrics | None | Literal[False]" = None,
        sleep: Callable[[float], None] = time.sleep,
        kafka_side: Any = None,
        delay_tiers: "delays.DelayTiers | Sequence[delays.DelayLike] | None" = None,
    ):
        if authoritative not in ("source", "kafka"):
            raise ConfigError(f"authoritative must be 'source' or 'kafka', not {authoritative!r}")
        policy = on_secondary_failure or ("spool" if spool_dir else "strict")
        if policy not in ("spool", "strict"):
            raise ConfigError(f"on_secondary_failure must be 'spool' or 'strict', not {policy!r}")
        if policy == "spool" and not spool_dir:
            raise ConfigError("on_secondary_failure='spool' needs spool_dir")
        self.source = source
        self.topic = topic
        self.delay_tiers = delays.DelayTiers.of(delay_tiers)
        self.kafka = (
            kafka_side
            if kafka_side is not None
            else KafkaSide(kafka_config, topic, timeout=kafka_timeout, tiers=self.delay_tiers)
        )
        if isinstance(mode_source, Mode):
            mode_source = StaticMode(mode_source)
        elif isinstance(mode_source, str):
            mode_source = mode_source_from_spec(mode_source, bootstrap=_kafka_of(kafka_config))
        self.mode_source: ModeSource = mode_source
        self.authoritative: Side = authoritative
        self.policy = policy
        self.spool_dir = Path(spool_dir) if spool_dir else None
        if self.spool_dir is not None:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        if metrics is False:
            self.metrics: DualWriteMetrics | None = None
        else:
            self.metrics = metrics if metrics is not None else DualWriteMetrics.default()
        self._lock = threading.RLock()
        self._last_mode: Mode | None = None

    # -- public ------------------------------------------------------------------------------
    def send(
        self,
        body: bytes,
        *,
        message_id: str | None = None,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: "delays.DelayLike | None" = None,
    ) -> WriteResult:
        """Write one message where the current mode says; see the module docstring for failures.

        ``delay`` (seconds, a ``timedelta`` or text like ``"30s"``) holds the message back
        that long on every side the mode writes: the source broker's own delay there, a delay
        tier on Kafka (rounded up to the tier).  A delay a side cannot honour (negative, not a
        duration, longer than SQS's 900 s or the largest tier, a missing tier topic) raises
        :class:`~mqmigrate.errors.ConfigError` before anything is written.
        """
        message_id = message_id or str(uuid.uuid4())
        headers = dict(headers or {})
        delay_ms = delays.to_ms(delay) if delay is not None else None
        with self._lock:
            mode = self.mode_source.current()
            self._note_mode(mode)
            if delay_ms:
                self._check_delay(mode, delay_ms)
            due_ms = delays.now_ms() + delay_ms if delay_ms else None
            try:
                return self._send(mode, body, message_id, key, headers, due_ms)
            except DualWriteError:
                if self.metrics:
                    self.metrics.errors.labels(mode.value).inc()
                raise

    def replay(self) -> ReplayResult:
        """Re-send every spooled message to the side it is waiting for, with its id.

        A message that fails again goes back to the spool, and so do the rest of that side's
        messages without being tried (one failure per side per replay, not one timeout per
        message); a message spooled for another topic is left alone; one that cannot be parsed
        is moved
        to ``<side>.corrupt.jsonl`` (kept, never dropped).  A replay interrupted by a crash is
        resumed by the next one (at-least-once: the same id makes a repeat recognisable).
        """
        if self.spool_dir is None:
            return ReplayResult(0, 0)
        sent = failed = corrupt = 0
        with self._lock:
            for side in ("source", "kafka"):
                spool = self.spool_dir / f"{side}.jsonl"
                batches = sorted(self.spool_dir.glob(f"{side}.jsonl.replay-*"))
                if spool.exists():
                    taken = self.spool_dir / f"{side}.jsonl.replay-{time.time_ns()}"
                    os.replace(spool, taken)  # new spools during the replay go to a new file
                    batches.append(taken)
                side_down = False
                for batch in batches:
                    for line in batch.read_text(encoding="utf-8").splitlines():
                        if not line.strip():
                            continue
                        try:
                            entry = json.loads(line)
                            body = base64.b64decode(entry["body"])
                            message_id = entry["id"]
                            key = entry.get("key")
                            headers = dict(entry.get("headers") or {})
                            due_ms = int(entry["due_ms"]) if "due_ms" in entry else None
                        except (ValueError, KeyError, TypeError):
                            self._append(self.spool_dir / f"{side}.corrupt.jsonl", line)
                            corrupt += 1
                            continue
                        if side_down or entry.get("topic", self.topic) != self.topic:
                            # the side just failed (don't wait out a timeout per message), or
                            # the entry belongs to another writer's topic: keep it spooled
                            self._append(spool, line)
                            failed += 1
                            continue
                        try:
                            self._write_side(
                                side, body, message_id, key, headers, retries=0, due_ms=due_ms
                            )
                        except DualWriteError as exc:
                            entry["attempts"] = int(entry.get("attempts", 1)) + 1
                            entry["error"] = exc.one_line()[:500]
                            self._append(spool, json.dumps(entry))
                            failed += 1
                            side_down = True
                            continue
                        sent += 1
                        if self.metrics:
                            self.metrics.replayed.labels(side).inc()
                    batch.unlink()
        if sent or failed or corrupt:
            log.info("replay: %d sent, %d still failing, %d unreadable", sent, failed, corrupt)
        return ReplayResult(sent, failed, corrupt)

    def spooled(self) -> dict[str, int]:
        """How many messages wait in the spool, per side."""
        out = {"source": 0, "kafka": 0}
        if self.spool_dir is None:
            return out
        for side in out:
            for path in [
                self.spool_dir / f"{side}.jsonl",
                *self.spool_dir.glob(f"{side}.jsonl.replay-*"),
            ]:
                if path.exists():
                    out[side] += sum(
                        1 for line in path.read_text("utf-8").splitlines() if line.strip()
                    )
        return out

    def close(self) -> None:
        """Flush Kafka, close the source connection and the mode reader."""
        with self._lock:
            self.kafka.close()
            self.source.close()
            closer = getattr(self.mode_source, "close", None)
            if closer is not None:
                closer()

    def __enter__(self) -> "DualWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _check_delay(self, mode: Mode, delay_ms: int) -> None:
        """Refuse a delay any side of ``mode`` cannot honour, before either side is written."""
        sides: list[Side] = {
            Mode.SOURCE_ONLY: ["source"],
            Mode.KAFKA_ONLY: ["kafka"],
            Mode.DUAL: ["source", "kafka"],
        }[mode]
        for side in sides:
            target = self.source if side == "source" else self.kafka
            check = getattr(target, "check_delay", None)
            if check is None:
                raise ConfigError(
                    f"the {side} side ({getattr(target, 'kind', side)}) cannot delay a message",
                    hint="send without delay=",
                )
            check(delay_ms)

    def _note_mode(self, mode: Mode) -> None:
        if mode is self._last_mode:
            return
        if self._last_mode is not None:
            log.info(
                "dual-write mode for %s: %s -> %s", self.topic, self._last_mode.value, mode.value
            )
        self._last_mode = mode
        if self.metrics:
            for each in Mode:
                self.metrics.mode.labels(each.value).set(1 if each is mode else 0)

    def _send(
        self,
        mode: Mode,
        body: bytes,
        message_id: str,
        key: str | None,
        headers: dict[str, str],
        due_ms: int | None = None,
    ) -> WriteResult:
        if mode is Mode.SOURCE_ONLY:
            self._write_side("source", body, message_id, key, headers, due_ms=due_ms)
            return WriteResult(message_id, mode, ("source",))
        if mode is Mode.KAFKA_ONLY:
            self._write_side("kafka", body, message_id, key, headers, due_ms=due_ms)
            return WriteResult(message_id, mode, ("kafka",))
        first: Side = self.authoritative
        second: Side = "kafka" if first == "source" else "source"
        # authoritative first: if it fails, nothing is written anywhere and the caller knows
        self._write_side(first, body, message_id, key, headers, due_ms=due_ms)
        try:
            self._write_side(second, body, message_id, key, headers, due_ms=due_ms)
        except DualWriteError as exc:
            if self.policy == "strict":
                raise DualWriteError(
                    f"message {message_id} is on the {first} side only: {exc.message}",
                    written=(first,),
                    hint="re-send it to the other side, or use on_secondary_failure='spool'",
                ) from exc
            self._spool(second, body, message_id, key, headers, exc, due_ms)
            return WriteResult(message_id, mode, (first,), spooled=(second,))
        return WriteResult(message_id, mode, (first, second))

    def _write_side(
        self,
        side: Side,
        body: bytes,
        message_id: str,
        key: str | None,
        headers: dict[str, str],
        retries: int | None = None,
        due_ms: int | None = None,
    ) -> None:
        target = self.source if side == "source" else self.kafka
        attempts = 1 + (self.retries if retries is None else retries)
        delay = self.backoff
        for attempt in range(1, attempts + 1):
            try:
                # what is left of the delay now (a retry or a replay comes later); a message
                # already due goes out plain, never before its due time
                remaining = due_ms - delays.now_ms() if due_ms is not None else 0
                if remaining > 0:
                    target.send(body, message_id, headers, key, delay_ms=remaining)
                else:
                    target.send(body, message_id, headers, key)
            except MqMigrateError as exc:
                if self.metrics:
                    self.metrics.failed.labels(side).inc()
                # a terminal error (queue missing, message refused) fails the same way again
                if attempt == attempts or not exc.transient:
                    raise DualWriteError(
                        f"{side} write of {message_id} failed after "
                        f"{attempt} attempt(s): {exc.one_line()}"
                    ) from exc
                log.warning(
                    "%s write of %s failed (attempt %d/%d): %s",
                    side,
                    message_id,
                    attempt,
                    attempts,
                    exc.one_line(),
                )
                self._sleep(min(delay, self.max_backoff) * (0.5 + random.random() / 2))
                delay *= 2
                continue
            if self.metrics:
                self.metrics.written.labels(side).inc()
            return

    def _spool(
        self,
        side: Side,
        body: bytes,
        message_id: str,
        key: str | None,
        headers: dict[str, str],
        error: MqMigrateError,
        due_ms: int | None = None,
    ) -> None:
        assert self.spool_dir is not None
        entry = {
            "v": 1,
            "id": message_id,
            "side": side,
            "topic": self.topic,
            "body": base64.b64encode(body).decode("ascii"),
            "key": key,
            "headers": headers,
            "spooled_at_ms": int(time.time() * 1000),
            "attempts": 1,
            "error": error.one_line()[:500],
        }
        if due_ms is not None:
            entry["due_ms"] = due_ms  # a replay before it holds the message the rest
        try:
            self._append(self.spool_dir / f"{side}.jsonl", json.dumps(entry))
        except OSError as exc:
            raise DualWriteError(
                f"message {message_id} is on the {self.authoritative} side only and could "
                f"not be spooled for {side}: {exc}",
                written=(self.authoritative,),
            ) from exc
        if self.metrics:
            self.metrics.spooled.labels(side).inc()
        log.warning(
            "%s write of %s failed; spooled for replay: %s", side, message_id, error.one_line()
        )

    @staticmethod
    def _append(path: Path, line: str) -> None:
        # one write + fsync per line: a spooled message survives a crash right after send()
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line.rstrip("\n") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
