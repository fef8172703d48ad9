"""The bridge's Kafka producer: idempotent, ``acks=all``, delivery reports mapped back.

Each ``send`` carries a token (the bridge passes its envelope); :meth:`BridgeProducer.poll`
returns ``(token, failure)`` pairs once Kafka has answered, ``failure`` None on success.
Failures are classified so the engine can decide without knowing librdkafka's codes:

* ``PERMANENT`` — this record will never be accepted (too large, policy violation, invalid
  record or timestamp): quarantine it;
* ``TRANSIENT`` — anything that may succeed later (timeouts, leader moves, broker down):
  release it to the source and retry after a backoff;
* ``FATAL`` — the bridge is misconfigured (authorization, unknown topic) or the idempotent
  producer is unusable: stop, leaving the message in the source.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping, Sequence

from confluent_kafka import KafkaError as _KE
from confluent_kafka import KafkaException, Producer

from mqmigrate.errors import ConfigError, KafkaError, KafkaUnavailable
from mqmigrate.kafka.config import KafkaConfig, as_kafka_config

log = logging.getLogger("mqmigrate.kafka.producer")

#: producer settings the bridge's guarantees depend on; a user cannot override these
REQUIRED_CONFIG: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "max.in.flight.requests.per.connection": 5,
}

#: defaults a user may override with --producer-config
DEFAULT_CONFIG: dict[str, Any] = {
    "linger.ms": 5,
    "batch.num.messages": 10000,
    "compression.type": "none",
    # the topic's max.message.bytes decides what is too large, not a client default: a
    # record above it comes back as MSG_SIZE_TOO_LARGE from the broker and is quarantined
    "message.max.bytes": 64 * 1024 * 1024,
    "message.timeout.ms": 120_000,
    "queue.buffering.max.messages": 200_000,
}


#: librdkafka's ``batch.size`` when nobody sets it
LIBRDKAFKA_BATCH_SIZE = 1_000_000


def batch_size_within(topic_limits: Mapping[str, int], config: Mapping[str, Any]) -> int | None:
    """The ``batch.size`` that keeps every batch within the smallest of ``topic_limits``
    (topic -> ``max.message.bytes``), or None when nothing needs to change: ``config`` (the
    producer settings as given, connection configuration included) sets ``batch.size``
    itself (the user's value wins), or librdkafka's default already fits.

    The broker checks a whole batch against the topic's limit, so a batch filled up to a
    ``batch.size`` above it and holding one oversized record is refused whole, small records
    included.  librdkafka counts the produce request's framing in ``batch.size``, so a batch
    of at most the limit is accepted; a single record above it still goes alone and is the
    only one refused.
    """
    if "batch.size" in config or not topic_limits:
        return None
    smallest = min(topic_limits.values())
    return smallest if smallest < LIBRDKAFKA_BATCH_SIZE else None


def fit_batches_to_topics(
    kafka: KafkaConfig | str, config: Mapping[str, Any], topics: Sequence[str]
) -> dict[str, Any]:
    """``config`` (``--producer-config``) with ``batch.size`` lowered to the smallest
    ``max.message.bytes`` of ``topics`` where librdkafka's default is above it, so a record too
    large for a topic is refused alone instead of with the batch it shares
    (:func:`batch_size_within`; a ``batch.size`` the user set wins).  A topic whose limit
    Kafka does not tell (no DescribeConfigs permission on it) is left out, with a warning."""
    from mqmigrate.kafka.admin import topic_max_message_bytes

    given = {**as_kafka_config(kafka).properties, **config}
    if "batch.size" in given:
        return dict(config)
    limits, unread = topic_max_message_bytes(kafka, topics)
    if unread:
        log.warning(
            "cannot read max.message.bytes of %s: batches are sized to the other topics' limits "
            "only, so a record above such a topic's limit is quarantined with the batch it "
            "shares; grant DescribeConfigs on it or set --producer-config batch.size=N",
            ", ".join(f"{topic} ({why})" for topic, why in unread.items()),
        )
    size = batch_size_within(limits, given)
    if size is None:
        return dict(config)
    log.info(
        "producer batch.size %d: the smallest max.message.bytes of %s", size, ", ".join(topics)
    )
    return {**config, "batch.size": size}


class FailureKind(Enum):
    """Why Kafka did not take a record, as the bridge acts on it: permanent (this record never
    will: quarantined), transient (released to the source, tried again after a back-off) or
    fatal (the bridge stops)."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    FATAL = "fatal"


_PERMANENT = {
    _KE.MSG_SIZE_TOO_LARGE,
    _KE.POLICY_VIOLATION,
    _KE.INVALID_RECORD,
    _KE.INVALID_TIMESTAMP,
    _KE.RECORD_LIST_TOO_LARGE,
    2,
}  # 2 = CORRUPT_MESSAGE
_FATAL = {
    _KE.TOPIC_AUTHORIZATION_FAILED,
    _KE.CLUSTER_AUTHORIZATION_FAILED,
    _KE.SASL_AUTHENTICATION_FAILED,
    _KE._AUTHENTICATION,
    _KE._UNKNOWN_TOPIC,
    _KE._UNKNOWN_PARTITION,
    _KE._INVALID_ARG,
    _KE.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}


@dataclass(frozen=True)
class Failure:
    """Why Kafka did not take a record."""

    kind: FailureKind
    code: int
    name: str
    reason: str

    @classmethod
    def from_error(cls, err: _KE) -> "Failure":
        code = err.code()
        if err.fatal() or code in _FATAL:
            kind = FailureKind.FATAL
        elif code in _PERMANENT:
            kind = FailureKind.PERMANENT
        else:
            kind = FailureKind.TRANSIENT
        return cls(kind, code, err.name(), err.str())


def classify(err: _KE) -> FailureKind:
    """PERMANENT, TRANSIENT or FATAL for a librdkafka error."""
    return Failure.from_error(err).kind


class _Client:
    """One librdkafka producer and what replaces it after a fatal error; shared by the
    :class:`BridgeProducer` views a :class:`ProducerPool` hands out (librdkafka producers
    are thread-safe: ``produce`` and ``poll`` may be called from any thread)."""

    def __init__(self, kafka: KafkaConfig):
        self.kafka = kafka
        self.generation = 0
        self._lock = threading.Lock()
        self.producer = self._make()

    def _make(self) -> Producer:
        try:
            # librdkafka's own log lines go through logging (served by poll), so a failed
            # start is still one line and runtime warnings are JSON when asked
            return Producer(
                self.kafka.client({"logger": logging.getLogger("mqmigrate.kafka.client")})
            )
        except KafkaException as exc:
            raise ConfigError(f"bad Kafka producer configuration: {exc.args[0].str()}") from exc

    def restart(self, seen_generation: int) -> None:
        """Replace the producer once per fatal error, however many views ask."""
        with self._lock:
            if self.generation != seen_generation:
                return  # another view replaced it already
            try:
                self.producer.purge()
                self.producer.poll(0)
            except KafkaException:
                pass
            self.producer = self._make()
            self.generation += 1


def _effective_config(bootstrap: KafkaConfig | str, config: dict[str, Any] | None) -> KafkaConfig:
    """Precedence: DEFAULT_CONFIG < the connection configuration < ``config`` <
    REQUIRED_CONFIG."""
    shared = as_kafka_config(bootstrap)
    return KafkaConfig({**DEFAULT_CONFIG, **shared.properties}, shared.path).with_overrides(
        config or {}, **REQUIRED_CONFIG
    )


class BridgeProducer:
    """The producer one engine writes through, used from that engine's thread only.

    On its own it owns an idempotent librdkafka producer; from a :class:`ProducerPool` it is
    a view on a producer shared with the other workloads of the process.  Either way each
    record's delivery report comes back to the view that sent it (the callback is bound to
    the view, whichever thread's ``poll`` runs it), and :meth:`__len__` counts this view's
    records only.
    """

    def __init__(
        self,
        bootstrap: KafkaConfig | str,
        config: dict[str, Any] | None = None,
        *,
        client: _Client | None = None,
    ):
        """``bootstrap``: the shared connection configuration (or plaintext bootstrap servers);
        ``config``: producer settings (``--producer-config``) laid over it.  Precedence:
        DEFAULT_CONFIG < the connection configuration < ``config`` < REQUIRED_CONFIG.
        ``client``: a producer shared with other views (see :class:`ProducerPool`)."""
        self._kafka = client.kafka if client is not None else _effective_config(bootstrap, config)
        self.bootstrap = self._kafka.bootstrap
        #: appended by the delivery callback (in whichever thread polls), popped by this
        #: view's thread: deque's append and popleft are atomic
        self._done: deque[tuple[Any, Failure | None]] = deque()
        #: records handed to librdkafka and reports taken back: both counted by the owner
        self._sent = 0
        self._taken = 0
        #: monotonic time this view last served librdkafka's queue
        self._served = 0.0
        self._client = client or _Client(self._kafka)

    @property
    def _producer(self) -> Producer:
        return self._client.producer

    def check(self, topics: Sequence[str], timeout: float = 10.0) -> None:
        """Fail fast, with one clear line, when Kafka is unreachable or a topic is missing."""
        try:
            meta = self._producer.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise KafkaUnavailable(
                f"Kafka at {self._kafka.describe()} did not answer within {timeout:.0f}s",
                hint="check --kafka (host:port of a broker listener), --kafka-config and that "
                "the broker is up",
            ) from exc
        for topic in topics:
            info = meta.topics.get(topic)
            if info is None or info.error is not None:
                raise ConfigError(
                    f"Kafka topic {topic!r} does not exist on {self.bootstrap}",
                    hint="create it (mqmigrate provision, or bridge --create-topics)",
                )

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None,
        headers: list[tuple[str, bytes]],
        timestamp_ms: int | None,
        token: Any,
    ) -> Failure | None:
        """Queue one record.  Returns a Failure when librdkafka refuses it on the spot (e.g. a
        record above ``message.max.bytes``); otherwise the outcome comes from :meth:`poll`."""
        callback = functools.partial(self._on_delivery, token)
        while True:
            producer = self._client.producer
            try:
                producer.produce(
                    topic,
                    value,
                    key,
                    headers=headers,
                    timestamp=timestamp_ms or 0,
                    on_delivery=callback,
                )
                self._sent += 1
                return None
            except BufferError:
                # the local queue is full: serve delivery reports, which frees it
                producer.poll(0.05)
            except KafkaException as exc:
                return Failure.from_error(exc.args[0])

    def _on_delivery(self, token: Any, err: _KE | None, msg: Any) -> None:
        self._done.append((token, None if err is None else Failure.from_error(err)))

    def poll(self, timeout: float = 0.0) -> list[tuple[Any, Failure | None]]:
        """Serve delivery reports; the ``(token, failure)`` pairs completed since last time.

        A view with no record outstanding waits without touching librdkafka (but still
        serves it once a second, for its log lines): 200 idle workloads polling one shared
        producer would contend for its queue and slow the busy ones' reports down."""
        now = time.monotonic()
        if self._sent - self._taken - len(self._done) > 0 or now - self._served >= 1.0:
            self._served = now
            self._client.producer.poll(timeout)
        elif timeout > 0:
            time.sleep(timeout)
        return self.take()

    def take(self) -> list[tuple[Any, Failure | None]]:
        done = self._done
        out = []
        try:
            while True:
                out.append(done.popleft())
        except IndexError:
            pass
        self._taken += len(out)
        return out

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for every outstanding record of this view; the number
        still pending (their reports stay for :meth:`take`)."""
        deadline = time.monotonic() + timeout
        while self._sent - self._taken - len(self._done) > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._client.producer.poll(min(left, 0.05))
        return self._sent - self._taken - len(self._done)

    def __len__(self) -> int:
        """This view's records whose report has not been taken yet."""
        return self._sent - self._taken

    def restart(self) -> None:
        """Replace a producer that hit a fatal (idempotence) error; pending records fail
        as transient so their messages are released to the source (a shared producer:
        every view's pending records)."""
        self._client.restart(self._client.generation)

    def close(self, timeout: float = 10.0) -> int:
        return self.flush(timeout)


class ProducerPool:
    """One librdkafka producer per distinct configuration, shared by the workloads of a
    process: each producer costs several threads, sockets and its own buffers, so 200
    workloads on one producer cost a fraction of 200 producers.  Ordering and idempotence
    hold per partition whichever view writes, and every workload writes its own topic."""

    def __init__(self) -> None:
        self._clients: dict[str, _Client] = {}
        self._connections: set[str] = set()

    def producer(
        self, bootstrap: KafkaConfig | str, config: dict[str, Any] | None = None
    ) -> BridgeProducer:
        """A view on the pool's producer for this configuration (created on first use)."""
        kafka = _effective_config(bootstrap, config)
        key = _key(kafka)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = _Client(kafka)
            self._connections.add(_key(as_kafka_config(bootstrap)))
        return BridgeProducer(kafka, client=client)

    def connects_to(self, bootstrap: KafkaConfig | str) -> bool:
        """Whether a producer of the pool uses this connection configuration already."""
        return _key(as_kafka_config(bootstrap)) in self._connections

    def __len__(self) -> int:
        """How many librdkafka producers the pool holds."""
        return len(self._clients)


def _key(kafka: KafkaConfig) -> str:
    """A configuration as a dictionary key; it stays in memory only (it may hold a SASL
    password)."""
    return repr((sorted((k, repr(v)) for k, v in kafka.properties.items()), str(kafka.path)))


def kafka_error(exc: KafkaException, action: str) -> KafkaError:
    """A mqmigrate error for a KafkaException raised by a client call."""
    err = exc.args[0] if exc.args else None
    text = err.str() if isinstance(err, _KE) else str(exc)
    if isinstance(err, _KE) and (
        err.retriable() or err.code() in (_KE._TRANSPORT, _KE._ALL_BROKERS_DOWN, _KE._TIMED_OUT)
    ):
        return KafkaUnavailable(f"{action}: {text}")
    return KafkaError(f"{action}: {text}")
