"""A share-group worker: queue semantics on a Kafka topic (KIP-932) for migrated consumers.

A handler that used to consume from RabbitMQ, SQS or an AMQP 1.0 queue is given to a
:class:`Worker`, which reads the topic through a Kafka share group and settles each record
the way a queue would:

============================================  =================================================
handler ...                                   record is ...
============================================  =================================================
returns (or returns ``Ack.ACCEPT``)           ACCEPTed: done, never redelivered
raises :class:`RetryableError` (or a type in  RELEASEd: redelivered, ``delivery_count`` + 1
``retry_on``, or any unexpected exception),
or returns ``Ack.RELEASE``
raises :class:`PermanentError` (or a type in  dead-lettered (see below), then REJECTed
``permanent_on``), or returns ``Ack.REJECT``
fails on the last delivery attempt            dead-lettered, then REJECTed
============================================  =================================================

With ``retry_tiers`` (:mod:`mqmigrate.kafka.delays`, docs/delays.md) a retryable failure is not
RELEASEd: the record is copied to a delay tier topic (``<topic>.retry-30s``) and ACCEPTed once
Kafka acknowledged the copy; a consumer group per tier hands it to the handler again no
earlier than its due time, and after ``max_attempts`` attempts across tiers it is
dead-lettered.

"Last delivery attempt" is ``delivery_count >= limit`` where the limit is the group's
``share.delivery.count.limit`` read from the broker when the worker starts (on Kafka 4.2,
which has no per-group limit, the brokers' ``group.share.delivery.count.limit``; or the smaller
``max_deliveries`` if given): releasing such a record would make the broker archive it
unprocessed, so the worker dead-letters it instead.

Dead-lettering (``dead_letter=``):

* ``"worker"`` — the worker produces the record (value, key, original headers, the stable
  ``mq.source.id`` kept) to ``dlq_topic`` with ``mq.error.*`` headers (type, message,
  delivery count, original topic/partition/offset, group, reason), waits for Kafka's delivery
  report, and only then REJECTs.  If the DLQ write fails the record is RELEASEd, never
  REJECTed, so it is not lost while a delivery attempt remains.
* ``"broker"`` — the group has ``errors.deadletterqueue.topic.name`` (KIP-1191, Kafka 4.4,
  ``share.version`` >= 2): the worker only REJECTs and the broker writes the record to the
  group's DLQ topic.  Observed on Kafka 4.4: the broker dead-letters only when the DLQ topic
  has ``errors.deadletterqueue.group.enable=true`` (otherwise the REJECTed record is just
  archived — the worker refuses to start in that state); it writes ``__dlq.errors.*`` headers
  (topic, partition, offset, group, delivery.count, message) and, only with the group config
  ``errors.deadletterqueue.copy.record.enable=true``, the value and key; the original headers
  (``mq.source.id`` included) are *not* copied.  Records that reach the delivery limit are
  dead-lettered by the broker too.
* ``"auto"`` (default) — ``"broker"`` when the cluster and group support it, else
  ``"worker"`` when ``dlq_topic`` is given, else no DLQ (REJECT archives; a warning is logged).

Concurrency is ``concurrency`` handler threads.  With ``handoff="pool"`` (the default)
``share_consumers`` threads each own a ``ShareConsumer`` (the preview client is not
thread-safe): each polls only while a handler thread is idle, puts the batch it got into one
pool that every handler takes from, acknowledges each outcome the handlers report, and commits
once its batch is settled.  A record never waits behind another record in a busy handler's
batch, so a latency-bound work queue keeps a tail close to its source's.
With ``handoff="thread"`` every thread owns a ``ShareConsumer``, polls a batch, runs the
handler on each record in turn, acknowledges each, and commits the batch before polling again:
a record acquired by a busy thread waits for the records before it in that batch.

Shutdown (:meth:`Worker.stop`, SIGTERM or SIGINT while :meth:`Worker.run` runs in the main
thread): the handler call in progress finishes and is acknowledged; the records of the batch
not started yet are RELEASEd so another member gets them at once (except those on their last
delivery attempt, which are handled, because releasing them would archive them); then the
acknowledgements are committed and the consumers closed.

Example::

    from mqmigrate.sdk.worker import Worker, RetryableError

    def handle(msg):
        if not db_available():
            raise RetryableError("db down")
        store(msg.message_id, msg.value)

    Worker("kafka:9092", "orders", "orders-workers", handle, concurrency=4,
           dlq_topic="dlq.orders").run()
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

from mqmigrate.kafka import delays
from mqmigrate.sdk import headers as H
from mqmigrate.errors import ConfigError, MqMigrateError, WorkerError
from mqmigrate.kafka import share
from mqmigrate.kafka.config import connection_config

log = logging.getLogger("mqmigrate.sdk.worker")

__all__ = [
    "Ack",
    "Message",
    "Worker",
    "WorkerMetrics",
    "RetryableError",
    "PermanentError",
    "from_pika_callback",
    "from_sqs_handler",
]


class RetryableError(Exception):
    """Raise from a handler to have the record delivered again later.

    Without ``retry_tiers`` the record is RELEASEd (redelivered at once).  With them it waits
    in a delay tier: ``delay`` (seconds, a ``timedelta`` or text like ``"30s"``) rounded up to
    the smallest tier at least as long, or the worker's schedule when ``delay`` is None.  A
    negative or non-numeric ``delay`` raises :class:`~mqmigrate.errors.ConfigError` here, at
    the raise.
    """

    def __init__(self, *args: Any, delay: "delays.DelayLike | None" = None):
        super().__init__(*args)
        #: the requested delay in ms, None for the worker's schedule
        self.delay_ms: int | None = None if delay is None else delays.to_ms(delay)


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help: the record is dead-lettered."""


class Ack(Enum):
    """What a handler may return to settle a record explicitly (``None`` means ACCEPT)."""

    ACCEPT = "accept"
    RELEASE = "release"
    REJECT = "reject"  #: dead-letter it (as a PermanentError would), then REJECT


@dataclass(frozen=True)
class Message:
    """One record as the handler sees it."""

    value: bytes | None
    key: bytes | None
    #: the record's headers as Kafka gives them: ``(name, bytes)`` pairs, in order
    headers: tuple[tuple[str, bytes | None], ...]
    topic: str
    partition: int
    offset: int
    #: 1 on the first delivery, +1 on every redelivery
    delivery_count: int
    #: Kafka record timestamp in ms (0 when the record has none)
    timestamp_ms: int
    #: the ``mq.*`` headers decoded as text (``{"mq.source.id": "..."}``)
    mq: Mapping[str, str] = field(default_factory=dict)

    @property
    def message_id(self) -> str:
        """The stable id (``mq.source.id``); ``topic-partition-offset`` when absent."""
        return self.mq.get(H.SOURCE_ID) or f"{self.topic}-{self.partition}-{self.offset}"

    def header(self, name: str) -> bytes | None:
        """The first value of header ``name``, None when absent."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @classmethod
    def from_kafka(cls, record: Any, delivery_count: int | None = None) -> "Message":
        """The handler's view of a Kafka record; ``delivery_count`` overrides the broker's
        (a tier record's attempt count across tiers; a plain consumer has no count)."""
        headers = tuple(record.headers() or ())
        mq = {}
        for name, raw in headers:
            # flat mq.* headers are short UTF-8 text; typed JSON sections are left to
            # mqmigrate.headers.decode so the hot path stays cheap
            if name.startswith(H.PREFIX) and raw is not None and len(raw) <= 1024:
                mq.setdefault(name, raw.decode("utf-8", "replace"))
        _, ts = record.timestamp()
        return cls(
            value=record.value(),
            key=record.key(),
            headers=headers,
            topic=record.topic(),
            partition=record.partition(),
            offset=record.offset(),
            delivery_count=delivery_count or record.delivery_count() or 1,
            timestamp_ms=max(ts, 0),
            mq=mq,
        )


Handler = Callable[[Message], "Ack | None"]


class WorkerMetrics:
    """Prometheus counters and a latency histogram, labelled by share group.

    One instance per registry: pass your own ``CollectorRegistry`` (tests do), or use
    :meth:`default` for the process-wide registry served by ``prometheus_client``.
    """

    _default: "WorkerMetrics | None" = None
    _lock = threading.Lock()

    def __init__(self, registry: Any = None):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        registry = registry if registry is not None else CollectorRegistry()
        labels = ["group"]
        self.processed = Counter(
            "mqmigrate_worker_processed_total",
            "Records ACCEPTed after the handler succeeded",
            labels,
            registry=registry,
        )
        self.released = Counter(
            "mqmigrate_worker_released_total",
            "Records RELEASEd for redelivery",
            labels,
            registry=registry,
        )
        self.rejected = Counter(
            "mqmigrate_worker_rejected_total",
            "Records REJECTed (after dead-lettering when a DLQ exists)",
            labels,
            registry=registry,
        )
        self.dead_lettered = Counter(
            "mqmigrate_worker_dead_lettered_total",
            "Records written to the DLQ topic by the worker, or REJECTed to the broker's group DLQ",
            labels,
            registry=registry,
        )
        self.dlq_failures = Counter(
            "mqmigrate_worker_dlq_failures_total",
            "DLQ writes that failed (the record was RELEASEd)",
            labels,
            registry=registry,
        )
        self.ack_failures = Counter(
            "mqmigrate_worker_ack_failures_total",
            "Acknowledgements the broker did not take (lock expired)",
            labels,
            registry=registry,
        )
        self.latency = Histogram(
            "mqmigrate_worker_handler_seconds", "Handler latency", labels, registry=registry
        )
        self.retried = Counter(
            "mqmigrate_worker_retried_total",
            "Records written to a delay tier for a later attempt",
            labels,
            registry=registry,
        )
        self.tier_failures = Counter(
            "mqmigrate_worker_tier_failures_total",
            "Delay-tier writes that failed (the record was kept and retried, never dropped)",
            labels,
            registry=registry,
        )
        self.lateness = Histogram(
            "mqmigrate_worker_delay_lateness_seconds",
            "How long after its due time a delayed record reached the handler",
            labels,
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
        )

    @classmethod
    def default(cls) -> "WorkerMetrics":
        """Metrics in ``prometheus_client.REGISTRY`` (created once per process)."""
        from prometheus_client import REGISTRY

        with cls._lock:
            if cls._default is None:
                cls._default = cls(REGISTRY)
            return cls._default


DeadLetter = Literal["auto", "worker", "broker", "none"]
Handoff = Literal["pool", "thread"]

#: the broker-wide delivery limit, the only one before Kafka 4.3 (and every group's default)
BROKER_DELIVERY_LIMIT = "group.share.delivery.count.limit"


def effective_delivery_limit(group_limit: int, max_deliveries: int | None) -> int:
    """The attempt the worker treats as the last: the group's limit, or a lower max_deliveries.

    A higher ``max_deliveries`` cannot help: the broker archives the record at its own limit.
    """
    if max_deliveries is None or max_deliveries <= 0:
        return group_limit
    return min(group_limit, max_deliveries)


#: records a delay tier's consumer takes per poll, whatever the share consumers'
#: ``max_poll_records`` (its records wait for their due time, not for a handler: the batch
#: size bounds only the commits per record)
TIER_BATCH_RECORDS = 50
#: fetched records a paused tier partition keeps in memory until due; later ones are fetched
#: again when the partition resumes
TIER_HELD_RECORDS = 500


class _Held:
    """A paused tier partition: the records fetched from it and not handled yet (in offset
    order, the head first) and the epoch ms before which the head must not be handled."""

    __slots__ = ("records", "due_ms", "full")

    def __init__(self, record: Any, due_ms: int) -> None:
        self.records: "deque[Any]" = deque([record])
        self.due_ms = due_ms
        #: records beyond TIER_HELD_RECORDS were dropped: they are fetched again on resume
        self.full = False

    def add(self, record: Any) -> None:
        if self.full or len(self.records) >= TIER_HELD_RECORDS:
            self.full = True
            return
        self.records.append(record)


#: producer settings the DLQ write depends on (a record is REJECTed only after this acked)
_DLQ_PRODUCER = {"enable.idempotence": True, "acks": "all", "linger.ms": 0}


def default_share_consumers(concurrency: int) -> int:
    """The share consumers feeding a pool of ``concurrency`` handlers when none are given:
    one per handler.  A consumer cannot poll again until every record of its batch is
    settled, so with fewer of them a record that arrives while each holds a batch in the
    handlers waits for one to finish although a handler is idle: on the work-queue preset
    (docs/benchmarks.md, "The work-queue tail") 8 consumers for 8 handlers gave a p50 of
    15 ms and a p99 1.3x the source's on a ZGC broker, 2 consumers 18 ms and 1.9x."""
    return concurrency


class Worker:
    """Runs ``handler`` on every record of ``topics`` consumed through share group ``group``.

    :param bootstrap: Kafka bootstrap servers (None: those of ``kafka_config``).
    :param topics: a topic name or a list of them (share groups have no topic patterns).
    :param group: share group id.  Its configs (``share.auto.offset.reset``,
        ``share.delivery.count.limit``, lock duration, DLQ) are the broker's, set with
        ``mqmigrate provision`` or :func:`mqmigrate.kafka.share.set_group_configs`.
    :param handler: ``handler(Message) -> None | Ack``; see the module docstring.
    :param concurrency: handler threads: records handled at the same time.
    :param handoff: ``"pool"`` (default): ``share_consumers`` ``ShareConsumer`` threads feed
        one pool of handler threads and acquire only while a handler is idle; ``"thread"``:
        each handler thread owns a ``ShareConsumer`` and handles its own batches in turn.
    :param share_consumers: with the pool, the share consumers feeding it (default one per
        handler thread, :func:`default_share_consumers`: a consumer waits for its batch to be
        settled before it polls again, so one per handler keeps one free to acquire whenever
        a handler is idle); fewer use fewer clients and connections.
    :param dlq_topic: topic the worker writes dead letters to (``dead_letter="worker"``).
    :param dead_letter: ``"auto"``, ``"worker"``, ``"broker"`` or ``"none"``.
    :param max_deliveries: treat this attempt as the last one when it is lower than the
        group's ``share.delivery.count.limit``.
    :param retry_on: exception types that RELEASE (besides :class:`RetryableError`).
    :param permanent_on: exception types that dead-letter (besides :class:`PermanentError`).
    :param unexpected: what any other exception does: ``Ack.RELEASE`` (default, like an SQS
        visibility timeout) or ``Ack.REJECT``.
    :param max_poll_records: records a poll asks for (a soft limit: confluent-kafka 2.16
        returns every record the broker acquired, whole producer batches); with the pool a
        poll happens only when a handler is idle, and records beyond the idle handlers wait
        for the first free one, not for a given one.  1 (what ``plan`` writes for a work
        queue) keeps one process from holding records another could start; a backlog of
        small producer batches then drains at a fraction of the rate (docs/benchmarks.md,
        "The work-queue tail").  Keep it × handler time far below the lock duration.
    :param metrics: a :class:`WorkerMetrics`, ``None`` for the process-wide one, ``False``
        for none.
    :param kafka_config: the Kafka connection (TLS, SASL): a
        :class:`~mqmigrate.kafka.config.KafkaConfig`, a mapping of librdkafka settings or
        the path of a properties file (see docs/security.md); ``bootstrap`` overrides its
        ``bootstrap.servers``.
    :param retry_tiers: delay tiers (``("1s", "30s", "5m")``, seconds, timedeltas or a
        :class:`~mqmigrate.kafka.delays.DelayTiers`): a retryable failure waits in the tier topic
        ``<topic>.retry-<label>`` instead of being RELEASEd at once; the order is the backoff
        schedule.  The tier topics must exist (``mqmigrate provision`` creates them).
    :param max_attempts: handler attempts across the main topic and the tiers before a
        record is dead-lettered (default: one per tier plus the first).
    :param consumer_config / producer_config: extra librdkafka settings.
    :param install_signal_handlers: let :meth:`run` turn SIGTERM/SIGINT into :meth:`stop`
        (only possible in the main thread).
    """

    def __init__(
        self,
        bootstrap: str | None,
        topics: str | Sequence[str],
        group: str,
        handler: Handler,
        *,
        concurrency: int = 1,
        dlq_topic: str | None = None,
        dead_letter: DeadLetter = "auto",
        max_deliveries: int | None = None,
        retry_on: Iterable[type[BaseException]] = (),
        permanent_on: Iterable[type[BaseException]] = (),
        unexpected: Ack = Ack.RELEASE,
        handoff: Handoff = "pool",
        share_consumers: int | None = None,
        max_poll_records: int = 50,
        poll_timeout: float = 0.5,
        commit_timeout: float = 30.0,
        dlq_timeout: float = 15.0,
        metrics: "WorkerMetrics | None | Literal[False]" = None,
        consumer_config: Mapping[str, Any] | None = None,
        producer_config: Mapping[str, Any] | None = None,
        install_signal_handlers: bool = True,
        kafka_config: Any = None,
        retry_tiers: "delays.DelayTiers | Iterable[delays.DelayLike] | None" = None,
        max_attempts: int | None = None,
    ):
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {concurrency}")
        if handoff not in ("pool", "thread"):
            raise ConfigError(f"handoff must be pool or thread, not {handoff!r}")
        if share_consumers is not None and (share_consumers < 1 or handoff != "pool"):
            raise ConfigError("share_consumers must be at least 1, with handoff='pool'")
        if max_poll_records < 1:
            raise ConfigError(f"max_poll_records must be at least 1, not {max_poll_records}")
        if dead_letter not in ("auto", "worker", "broker", "none"):
            raise ConfigError(
                f"dead_letter must be auto, worker, broker or none, not {dead_letter!r}"
            )
        if dead_letter == "worker" and not dlq_topic:
            raise ConfigError("dead_letter='worker' needs dlq_topic")
        if unexpected not in (Ack.RELEASE, Ack.REJECT):
            raise ConfigError("unexpected must be Ack.RELEASE or Ack.REJECT")
        self.kafka = connection_config(bootstrap, kafka_config)
        self.bootstrap = self.kafka.bootstrap
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        if not self.topics:
            raise ConfigError("a worker needs at least one topic")
        self.group = group
        self.handler = handler
        self.concurrency = concurrency
        self.handoff: Handoff = handoff
        self.share_consumers = share_consumers or default_share_consumers(concurrency)
        self.dlq_topic = dlq_topic
        self.dead_letter_setting: DeadLetter = dead_letter
        self.max_deliveries = max_deliveries
        self.retry_on = (RetryableError, *tuple(retry_on))
        self.permanent_on = (PermanentError, *tuple(permanent_on))
        self.unexpected = unexpected
        self.max_poll_records = max_poll_records
        self.poll_timeout = poll_timeout
        self.commit_timeout = commit_timeout
        self.dlq_timeout = dlq_timeout
        if metrics is False:
            self.metrics: WorkerMetrics | None = None
        else:
            self.metrics = metrics if metrics is not None else WorkerMetrics.default()
        self.consumer_config = dict(consumer_config or {})
        self.producer_config = dict(producer_config or {})
        self.install_signal_handlers = install_signal_handlers
        self.tiers = delays.DelayTiers.of(retry_tiers)
        if max_attempts is not None and max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, not {max_attempts}")
        if max_attempts is not None and self.tiers is None:
            raise ConfigError(
                "max_attempts counts attempts across retry tiers: give "
                "retry_tiers, or max_deliveries for the share group's limit"
            )
        self.max_attempts = max_attempts or (len(self.tiers) + 1 if self.tiers else None)
        #: resolved at start: where a tier consumer writes dead letters (it cannot REJECT)
        self._tier_dlq: str | None = None
        self._broker_dlq_topic: str | None = None

        #: resolved at start: the delivery attempt treated as the last one
        self.delivery_limit: int | None = None
        #: resolved at start: "worker", "broker" or "none"
        self.dead_letter: str | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._failure: BaseException | None = None
        self._producer: Any = None
        self._started = False
        #: the signal that stopped :meth:`run`, if one did (a CLI exits 130 after SIGINT)
        self.stopped_by_signal: int | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Read the group's configs, then start the consumer threads and return."""
        if self._started:
            raise WorkerError("this worker was already started; create a new one")
        self._started = True
        from mqmigrate.kafka.connect import check_connection

        check_connection(self.kafka)  # a wrong password or CA: one error now, not a retry loop
        self._resolve_group_settings()
        if self.tiers is not None:
            self._check_tier_topics()
        if self.dead_letter == "worker" or self.tiers is not None:
            from confluent_kafka import Producer

            self._producer = Producer(self.kafka.client(self._client_settings("producer")))
        if self.handoff == "pool":
            pool = _Pool()
            targets = [
                (self._pool_consumer_main, (pool, i), f"consumer-{i}")
                for i in range(self.share_consumers)
            ] + [(self._pool_handler_main, (pool,), str(i)) for i in range(self.concurrency)]
        else:
            targets = [(self._thread_main, (i,), str(i)) for i in range(self.concurrency)]
        for target, args, suffix in targets:
            thread = threading.Thread(
                target=target,
                args=args,
                name=f"mqmigrate-worker-{self.group}-{suffix}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()
        for tier in self.tiers or ():
            # one consumer per tier: a tier whose head waits never holds up another tier or
            # the main topic, each of which has its own threads
            thread = threading.Thread(
                target=self._tier_main,
                args=(tier,),
                name=f"mqmigrate-worker-{tier.group(self.group)}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()
        log.info(
            "worker started: group=%s topics=%s threads=%d delivery_limit=%s dlq=%s tiers=%s",
            self.group,
            self.topics,
            self.concurrency,
            self.delivery_limit,
            self.dead_letter if self.dead_letter != "worker" else self.dlq_topic,
            self.tiers.labels if self.tiers else "none",
        )

    def _client_settings(
        self, role: Literal["share", "tier", "producer"], **overrides: Any
    ) -> dict[str, Any]:
        """The one place the worker's librdkafka settings are built, per client role; every
        client gets them through ``self.kafka.client(...)``, which adds the connection (TLS,
        SASL) of the shared :class:`~mqmigrate.kafka.config.KafkaConfig`.

        ``share``: the main topic's share consumers; ``tier``: a delay tier's plain consumer
        (no ``share.*`` keys, offsets committed by hand after each batch); ``producer``: DLQ
        and tier writes, idempotent with ``acks=all`` (a record is settled only after Kafka
        acknowledged its copy).
        """
        base: dict[str, Any] = {"logger": share._quiet}
        if role == "share":
            config = {
                **base,
                "group.id": self.group,
                "share.acknowledgement.mode": "explicit",
                "max.poll.records": str(self.max_poll_records),
                **self.consumer_config,
            }
        elif role == "tier":
            extra = {
                k: v
                for k, v in self.consumer_config.items()
                if not k.startswith("share.") and k != "max.poll.records"
            }
            config = {
                **base,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # a resumed partition's records arrive within ~100 ms of the due time
                "fetch.wait.max.ms": 100,
                # a crashed member's tier partitions move on after 10 s, not 45 s
                # (only later, never earlier: the due time is checked again)
                "session.timeout.ms": 10000,
                **extra,
            }
        else:
            config = {**base, **self.producer_config, **_DLQ_PRODUCER}
        return {**config, **overrides}

    def _check_tier_topics(self) -> None:
        """Every tier topic must exist: producing to a missing one would auto-create a topic
        nobody reads, or fail each retry; either way the delay would be lost."""
        assert self.tiers is not None
        admin = share.admin_client(self.kafka)
        missing = [
            t for t in self.tiers.topics(self.topics) if share.describe_topic(admin, t) is None
        ]
        if missing:
            raise ConfigError(
                f"retry tier topic{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} do{'es' if len(missing) == 1 else ''} "
                "not exist",
                hint="create them with 'mqmigrate provision' (target.retry in "
                "the playbook) or drop the tier from retry_tiers",
            )
        if self.dead_letter == "worker":
            self._tier_dlq = self.dlq_topic
        elif self.dead_letter == "broker":
            # a tier record is read by a plain consumer, which cannot REJECT: the worker writes
            # its dead letter to the group's DLQ topic itself
            self._tier_dlq = self._broker_dlq_topic

    def stop(self) -> None:
        """Ask every thread to finish its current handler, acknowledge, commit and close.

        Returns at once; :meth:`run` or :meth:`join` return when the threads have ended.
        Safe to call from a signal handler or another thread, more than once.
        """
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads to end; True when they all have.  Re-raises a thread's failure."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        done = not any(t.is_alive() for t in self._threads)
        if done and self._producer is not None:
            self._producer.flush(5)
        if done and self._failure is not None:
            failure = self._failure
            if isinstance(failure, MqMigrateError):
                raise failure
            raise WorkerError(f"worker thread failed: {failure}") from failure
        return done

    def run(self) -> None:
        """Start, then block until :meth:`stop` (or SIGTERM/SIGINT) and a clean shutdown."""
        previous: dict[int, Any] = {}
        if self.install_signal_handlers and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self._on_signal)
        try:
            self.start()
            # join in slices so the main thread gets back to Python and runs signal handlers
            while not self.join(timeout=0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        log.info("signal %d: stopping after in-flight handlers", signum)
        self.stopped_by_signal = signum
        self.stop()

    # -- start-up: what the broker says about this group -----------------------------------------
    def _resolve_group_settings(self) -> None:
        admin = share.admin_client(self.kafka)
        configs = share.group_configs(
            admin, self.group, ["share.delivery.count.limit", "errors.deadletterqueue.topic.name"]
        )
        group_limit = configs.get("share.delivery.count.limit")
        if not group_limit:
            group_limit = self._broker_delivery_limit(admin)
        limit = int(group_limit or share.SHARE_GROUP_DEFAULTS["share.delivery.count.limit"])
        self.delivery_limit = effective_delivery_limit(limit, self.max_deliveries)
        broker_dlq = configs.get("errors.deadletterqueue.topic.name") or ""
        self._broker_dlq_topic = broker_dlq or None
        mode = self.dead_letter_setting
        if mode in ("auto", "broker"):
            supported = bool(broker_dlq) and self._share_version() >= 2
            if mode == "broker" and not supported:
                raise ConfigError(
                    f"group {self.group} has no broker dead-letter queue",
                    hint="set group config errors.deadletterqueue.topic.name (Kafka 4.4+, "
                    "share.version 2) or use dead_letter='worker' with dlq_topic",
                )
            if supported:
                enabled = share.topic_configs(
                    admin, broker_dlq, ["errors.deadletterqueue.group.enable"]
                ).get("errors.deadletterqueue.group.enable")
                if enabled != "true":
                    # observed on 4.4: without it the broker archives REJECTed records
                    # instead of dead-lettering them; refusing beats losing them silently
                    raise ConfigError(
                        f"DLQ topic {broker_dlq} of group {self.group} does not accept "
                        "share-group dead letters",
                        hint="set topic config errors.deadletterqueue.group.enable=true",
                    )
                if self.max_deliveries and self.max_deliveries < limit:
                    log.warning(
                        "max_deliveries=%d < group limit %d: records dead-lettered early by REJECT",
                        self.max_deliveries,
                        limit,
                    )
                if self.dlq_topic:
                    log.info(
                        "group %s dead-letters to %s on the broker; dlq_topic %s unused "
                        "(pass dead_letter='worker' to keep mq.* headers in dead letters)",
                        self.group,
                        broker_dlq,
                        self.dlq_topic,
                    )
                self.dead_letter = "broker"
                return
        if mode == "none":
            self.dead_letter = "none"
        elif self.dlq_topic:
            self.dead_letter = "worker"
        else:
            self.dead_letter = "none"
            log.warning(
                "group %s has no dead-letter queue: failed records are REJECTed and "
                "archived by the broker",
                self.group,
            )

    def _broker_delivery_limit(self, admin: Any) -> str | None:
        """Kafka 4.2 has no per-group limit (the group config is unknown there): the broker
        archives at its own ``group.share.delivery.count.limit``, which may not be 5.  Reading
        it takes DESCRIBE_CONFIGS on the cluster; without that, ``max_deliveries`` is trusted
        (a guess of 5 could release a record the broker then archives unprocessed)."""
        try:
            return share.broker_configs(admin, [BROKER_DELIVERY_LIMIT]).get(BROKER_DELIVERY_LIMIT)
        except MqMigrateError as exc:
            if self.max_deliveries:
                log.warning(
                    "cannot read the brokers' %s (%s): treating max_deliveries=%d as "
                    "the last attempt",
                    BROKER_DELIVERY_LIMIT,
                    exc,
                    self.max_deliveries,
                )
                return str(self.max_deliveries)
            raise ConfigError(
                f"cannot read the brokers' {BROKER_DELIVERY_LIMIT}, the delivery limit of "
                f"group {self.group} on this Kafka (no per-group limit before 4.3): {exc}",
                hint="grant DESCRIBE_CONFIGS on the cluster, or pass max_deliveries= the "
                "brokers' limit",
            ) from exc

    def _share_version(self) -> int:
        from mqmigrate.kafka import protocol

        try:
            return protocol.fetch_features(self.kafka).finalized_level("share.version")
        except MqMigrateError:
            return 0

    # -- one consumer thread --------------------------------------------------------------------
    def _thread_main(self, index: int) -> None:
        from confluent_kafka import KafkaException

        from confluent_kafka import ShareConsumer

        try:
            consumer = ShareConsumer(self.kafka.client(self._client_settings("share")))
        except (KafkaException, ValueError, TypeError) as exc:  # bad settings raise ValueError
            self._fail(
                WorkerError(f"cannot create a share consumer for group {self.group}: {exc}"), exc
            )
            return
        try:
            consumer.subscribe(self.topics)
            while not self._stopping.is_set():
                self._poll_once(consumer)
        except Exception as exc:  # noqa: BLE001 - any thread failure stops the whole worker
            self._fail(WorkerError(f"worker thread {index} failed: {exc}"), exc)
        finally:
            try:
                consumer.close()  # commits what is still pending and leaves the group
            except Exception as exc:  # noqa: BLE001
                log.warning("closing the share consumer failed: %s", exc)

    def _fail(self, error: WorkerError, cause: BaseException) -> None:
        error.__cause__ = cause
        log.error("%s", error.one_line())
        if self._failure is None:
            self._failure = error
        self._stopping.set()

    def _poll_once(self, consumer: Any) -> None:
        from confluent_kafka import AcknowledgeType

        batch = consumer.poll(self.poll_timeout)
        acked = 0
        deferred: list[tuple[Any, _Pending]] = []
        for record in batch:
            if record.error() is not None:
                log.warning("share consumer: %s", record.error())
                continue
            delivery = record.delivery_count() or 1
            if self._stopping.is_set() and delivery < (self.delivery_limit or 0):
                # not started yet: give it back now rather than after the lock expires
                consumer.acknowledge(record, AcknowledgeType.RELEASE)
                self._count("released")
                acked += 1
                continue
            pending: list[_Pending] = []
            outcome = self._process(record, pending)
            if outcome is None:
                deferred.append((record, pending[0]))  # its tier write is on its way
                continue
            consumer.acknowledge(record, _ACK_TYPES[outcome])
            acked += 1
        if deferred:
            # the batch's tier writes travel together; each original is ACCEPTed only once
            # Kafka acknowledged its copy, and RELEASEd (kept) when it did not
            self._await([p for _, p in deferred])
            for record, write in deferred:
                if write.ok:
                    self._count("retried")
                    consumer.acknowledge(record, AcknowledgeType.ACCEPT)
                else:
                    log.error(
                        "tier write to %s failed for %s: %s",
                        write.topic,
                        write.message_id,
                        write.error or "no delivery report in time",
                    )
                    self._count("tier_failures")
                    self._count("released")
                    consumer.acknowledge(record, AcknowledgeType.RELEASE)
                acked += 1
        if acked:
            self._commit(consumer)

    def _commit(self, consumer: Any) -> None:
        results = consumer.commit_sync(self.commit_timeout) or {}
        for partition, error in results.items():
            if error is not None:
                # typically a lock that expired while the handler ran: the record is
                # (or will be) redelivered, so it is processed twice, never lost.  The
                # preview client does not report every such refusal (docs/worker.md)
                log.warning(
                    "acknowledgement for %s[%d] not taken: %s",
                    partition.topic,
                    partition.partition,
                    error,
                )
                if self.metrics:
                    self.metrics.ack_failures.labels(self.group).inc()

    # -- the pool: share consumers feeding ``concurrency`` handler threads ------------------------
    def _pool_consumer_main(self, pool: "_Pool", index: int) -> None:
        """Own one share consumer: acquire while a handler is idle, settle what they report.

        The client returns a whole acquired batch from one poll (``max.poll.records`` is a
        soft limit; librdkafka 2.16 returns every record the broker acquired) and refuses the
        next poll until each of them is acknowledged.  So the batch goes to the shared pool,
        where every idle handler takes a record of it (none waits behind a busy one), and
        this thread acknowledges each outcome as it comes, commits once the batch is settled,
        and polls again only then, and only with a handler idle: records not acquired stay
        at the broker for the other consumers of the pool, or of other processes.
        """
        from confluent_kafka import KafkaException, ShareConsumer

        try:
            consumer = ShareConsumer(self.kafka.client(self._client_settings("share")))
        except (KafkaException, ValueError, TypeError) as exc:  # bad settings raise ValueError
            self._fail(
                WorkerError(f"cannot create a share consumer for group {self.group}: {exc}"), exc
            )
            return
        try:
            consumer.subscribe(self.topics)
            while not self._stopping.is_set():
                if not pool.wait_idle(self.concurrency, self.poll_timeout):
                    continue
                records = [r for r in consumer.poll(self.poll_timeout) if self._usable(r)]
                if records:
                    self._pool_batch(consumer, pool, records)
        except Exception as exc:  # noqa: BLE001 - any thread failure stops the whole worker
            self._fail(WorkerError(f"worker consumer thread {index} failed: {exc}"), exc)
        finally:
            try:
                consumer.close()  # commits what is still pending and leaves the group
            except Exception as exc:  # noqa: BLE001
                log.warning("closing the share consumer failed: %s", exc)

    @staticmethod
    def _usable(record: Any) -> bool:
        if record.error() is not None:
            log.warning("share consumer: %s", record.error())
            return False
        return True

    def _pool_batch(self, consumer: Any, pool: "_Pool", records: list) -> None:
        """Hand ``records`` to the handlers; acknowledge each outcome, then commit them."""
        batch = _Batch(len(records))
        for record in records:
            pool.submit(record, batch)
        # handlers always report (a failing one RELEASEs its record first); the deadline only
        # guards a stop whose handler threads are all gone
        deadline = None
        while batch.pending:
            for record, outcome in batch.finished(self.poll_timeout):
                consumer.acknowledge(record, _ACK_TYPES[outcome])
            if self._stopping.is_set():
                deadline = deadline or time.monotonic() + self.commit_timeout + self.dlq_timeout
                if time.monotonic() > deadline:
                    log.error(
                        "stopping: %d records of a batch were not settled in time; the "
                        "broker redelivers them when their locks expire",
                        batch.pending,
                    )
                    break
        self._commit(consumer)

    def _pool_handler_main(self, pool: "_Pool") -> None:
        """Handle records from the pool until the worker stops and nothing waits."""
        try:
            while True:
                taken = pool.take(self.poll_timeout)
                if taken is None:
                    if self._stopping.is_set():
                        return
                    continue
                record, batch = taken
                delivery = record.delivery_count() or 1
                if self._stopping.is_set() and delivery < (self.delivery_limit or 0):
                    # not started yet: give it back now rather than after the lock expires
                    self._count("released")
                    pool.done(record, batch, Ack.RELEASE)
                    continue
                try:
                    outcome = self._process(record)
                except BaseException:
                    # the record is kept (RELEASE) while the failure stops the worker
                    pool.done(record, batch, Ack.RELEASE)
                    raise
                pool.done(record, batch, outcome or Ack.RELEASE)
        except Exception as exc:  # noqa: BLE001 - any thread failure stops the whole worker
            self._fail(WorkerError(f"worker handler thread failed: {exc}"), exc)

    # -- one record -------------------------------------------------------------------------------
    def _call_handler(self, message: Message) -> tuple[Ack, BaseException | None]:
        """Run the handler; what it asks for and the exception behind a failure."""
        started = time.perf_counter()
        try:
            result = self.handler(message)
            return (Ack.ACCEPT if result is None else Ack(result)), None
        except self.permanent_on as exc:
            return Ack.REJECT, exc
        except self.retry_on as exc:
            return Ack.RELEASE, exc
        except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the worker
            log.warning(
                "handler raised %s on %s[%d]@%d (delivery %d): %s",
                type(exc).__name__,
                message.topic,
                message.partition,
                message.offset,
                message.delivery_count,
                exc,
            )
            return self.unexpected, exc
        finally:
            if self.metrics:
                self.metrics.latency.labels(self.group).observe(time.perf_counter() - started)

    def _process(self, record: Any, deferred: "list[_Pending] | None" = None) -> Ack | None:
        """Handle one share-group record; the acknowledgement to send for it, or None when
        its tier write was started and appended to ``deferred`` (acknowledged once it lands)."""
        message = Message.from_kafka(record)
        outcome, error = self._call_handler(message)
        if outcome is Ack.ACCEPT:
            self._count("processed")
            return Ack.ACCEPT
        last = message.delivery_count >= (self.delivery_limit or 0)
        if self.tiers is not None and outcome is Ack.RELEASE and error is not None:
            # a failure backs off through the tiers; an explicit Ack.RELEASE still means "now"
            return self._settle_failure(
                message, outcome, error, message.delivery_count, last, False, deferred
            )
        if outcome is Ack.RELEASE and not last:
            self._count("released")
            return Ack.RELEASE
        reason = (
            "last-delivery"
            if outcome is Ack.RELEASE
            else ("permanent" if error is not None else "rejected")
        )
        return self._dead_letter(message, error, reason)

    def _settle_failure(
        self,
        message: Message,
        outcome: Ack,
        error: BaseException | None,
        attempt: int,
        last: bool,
        in_tier: bool,
        deferred: "list[_Pending] | None" = None,
    ) -> Ack | None:
        """A failed attempt when tiers exist: to the next tier, or dead-lettered.

        Returns ACCEPT once the tier copy is acknowledged by Kafka (the original may go),
        REJECT once dead-lettered, RELEASE when neither write succeeded (the original is
        kept: never lost, at worst written twice).  With ``deferred`` the tier write is only
        started and None returned: the caller waits for it (:meth:`_await`).
        """
        assert self.tiers is not None and self.max_attempts is not None
        if outcome is Ack.RELEASE and not last and attempt < self.max_attempts:
            requested = getattr(error, "delay_ms", None)
            try:
                tier = (
                    self.tiers.for_attempt(attempt)
                    if requested is None
                    else self.tiers.for_delay(requested / 1000)
                )
            except ConfigError as exc:
                # a delay no tier covers: neither early nor at once, and not silently
                log.error("%s on %s: %s", type(error).__name__, message.message_id, exc.one_line())
                return self._dead_letter(message, exc, "bad-delay", in_tier)
            topic, headers = self._tier_copy(message, tier, attempt, error)
            if deferred is not None:
                write = self._produce_async(topic, message, headers, "tier write")
                if write is not None:
                    deferred.append(write)
                    return None
            elif self._produce_and_wait(topic, message, headers, "tier write"):
                self._count("retried")
                return Ack.ACCEPT
            self._count("tier_failures")
            self._count("released")
            return Ack.RELEASE
        reason = (
            "last-delivery"
            if outcome is Ack.RELEASE
            else "permanent"
            if error is not None
            else "rejected"
        )
        return self._dead_letter(message, error, reason, in_tier)

    def _tier_copy(
        self, message: Message, tier: "delays.Tier", attempt: int, error: BaseException | None
    ) -> tuple[str, list[tuple[str, bytes | None]]]:
        """The tier topic and headers of ``message``'s copy for attempt ``attempt + 1``."""
        origin = message.mq.get(delays.ORIGIN_TOPIC) or delays.origin_of(message.topic)
        first_seen = delays.ORIGIN_TOPIC not in message.mq
        headers = [(k, v) for k, v in message.headers if k not in delays.RETRY_HEADERS]
        if message.mq.get(H.SOURCE_ID) is None:
            headers.append((H.SOURCE_ID, message.message_id.encode()))
        headers += delays.tier_headers(
            due_ms=delays.now_ms() + tier.delay_ms,
            attempt=attempt,
            tier=tier,
            origin_topic=origin,
            origin_partition=(
                message.partition
                if first_seen
                else delays.header_int(message.mq, delays.ORIGIN_PARTITION, -1)
            ),
            origin_offset=(
                message.offset
                if first_seen
                else delays.header_int(message.mq, delays.ORIGIN_OFFSET, -1)
            ),
            group=self.group,
            error=f"{type(error).__name__}: {error}" if error is not None else None,
        )
        return tier.topic(origin), headers

    def _dead_letter(
        self, message: Message, error: BaseException | None, reason: str, in_tier: bool = False
    ) -> Ack:
        """Dead-letter ``message``; the settlement that follows (REJECT, or RELEASE/retry
        when the DLQ write failed).  A tier record is read by a plain consumer, which cannot
        REJECT: the worker writes its dead letter itself (to ``dlq_topic`` or the group's
        broker DLQ topic) even when the broker dead-letters the main topic's records."""
        if in_tier and self._tier_dlq is None:
            log.error(
                "%s on its last attempt in a retry tier and group %s has no DLQ: dropped (%s)",
                message.message_id,
                self.group,
                reason,
            )
            self._count("rejected")
            return Ack.REJECT
        if self.dead_letter == "worker" or in_tier:
            topic = self._tier_dlq if in_tier else self.dlq_topic
            if not self._produce_dlq(message, error, reason, topic):
                self._count("dlq_failures")
                self._count("released")
                return Ack.RELEASE
            self._count("dead_lettered")
        elif self.dead_letter == "broker":
            self._count("dead_lettered")  # the broker writes it when it sees the REJECT
        self._count("rejected")
        return Ack.REJECT

    def _produce_dlq(
        self, message: Message, error: BaseException | None, reason: str, topic: str | None = None
    ) -> bool:
        """Write the record to the DLQ topic and wait for Kafka's answer; True once it is there."""
        error_type = (
            f"{type(error).__module__}.{type(error).__qualname__}"
            if error is not None
            else "mqmigrate.sdk.worker.Rejected"
        )
        text = str(error) if error is not None else "rejected by the handler"
        text_bytes = text.encode("utf-8", "replace")[: H.ERROR_MESSAGE_MAX]
        headers = [(k, v) for k, v in message.headers if k not in H.ERROR_HEADERS]
        if message.mq.get(H.SOURCE_ID) is None:
            # give the dead letter a stable id even when the producer set none
            headers.append((H.SOURCE_ID, message.message_id.encode()))
        headers += [
            (H.ERROR_TYPE, error_type.encode()),
            (H.ERROR_MESSAGE, text_bytes),
            (H.ERROR_DELIVERY_COUNT, str(message.delivery_count).encode()),
            (H.ERROR_TOPIC, message.topic.encode()),
            (H.ERROR_PARTITION, str(message.partition).encode()),
            (H.ERROR_OFFSET, str(message.offset).encode()),
            (H.ERROR_GROUP, self.group.encode()),
            (H.ERROR_REASON, reason.encode()),
            (H.ERROR_TIMESTAMP, str(int(time.time() * 1000)).encode()),
        ]
        return self._produce_and_wait(topic or self.dlq_topic or "", message, headers, "DLQ write")

    def _produce_async(
        self, topic: str, message: Message, headers: list[tuple[str, bytes | None]], what: str
    ) -> "_Pending | None":
        """Start producing a copy of ``message``; None when the producer refused it at once."""
        from confluent_kafka import KafkaException

        write = _Pending(topic, message.message_id)
        try:
            self._producer.produce(
                topic, value=message.value, key=message.key, headers=headers, on_delivery=write
            )
        except (BufferError, KafkaException) as exc:  # queue full, unknown topic, closed
            log.error("%s to %s failed for %s: %s", what, topic, message.message_id, exc)
            return None
        return write

    def _await(self, writes: "list[_Pending]") -> None:
        """Wait (``dlq_timeout`` at most) for Kafka's delivery report of every write."""
        deadline = time.monotonic() + self.dlq_timeout
        # the producer is shared by all threads; whichever polls runs the callbacks
        while not all(w.done.is_set() for w in writes) and time.monotonic() < deadline:
            self._producer.poll(0.05)

    def _produce_and_wait(
        self, topic: str, message: Message, headers: list[tuple[str, bytes | None]], what: str
    ) -> bool:
        """Produce a copy of ``message`` and wait for Kafka's delivery report (``dlq_timeout``)."""
        write = self._produce_async(topic, message, headers, what)
        if write is None:
            return False
        self._await([write])
        if not write.ok:
            log.error(
                "%s to %s failed for %s: %s",
                what,
                topic,
                message.message_id,
                write.error or "no delivery report in time",
            )
            return False
        return True

    # -- one delay tier ------------------------------------------------------------------------
    def _tier_main(self, tier: "delays.Tier") -> None:
        """Read ``tier`` with a consumer group of its own and handle each record once due.

        A tier topic holds one fixed delay, so within a partition due times grow with the
        offsets: the consumer handles records while they are due, and when the head of a
        partition is not, it seeks back to it and pauses that partition until its due time
        (other partitions, tiers and the main topic go on).  Offsets are committed after the
        records before them were handled, so a crash or a rebalance re-reads from the first
        unhandled record, and its due time (a header) is checked again: never early.
        """
        from confluent_kafka import Consumer, KafkaException

        try:
            consumer = Consumer(
                self.kafka.client(
                    self._client_settings("tier", **{"group.id": tier.group(self.group)})
                )
            )
        except (KafkaException, ValueError, TypeError) as exc:
            self._fail(WorkerError(f"cannot create the consumer of tier {tier.label}: {exc}"), exc)
            return
        # (topic, partition) -> its records waiting for their due time, paused until then
        held: dict[tuple[str, int], _Held] = {}

        def forget(_consumer: Any, partitions: list) -> None:
            # a new assignment starts unpaused at the committed offset; its head is re-checked
            for tp in partitions:
                held.pop((tp.topic, tp.partition), None)

        try:
            consumer.subscribe(
                [tier.topic(t) for t in self.topics],
                on_assign=forget,
                on_revoke=forget,
                on_lost=forget,
            )
            while not self._stopping.is_set():
                self._tier_poll_once(consumer, tier, held)
        except Exception as exc:  # noqa: BLE001 - any thread failure stops the whole worker
            self._fail(WorkerError(f"tier {tier.label} consumer failed: {exc}"), exc)
        finally:
            try:
                consumer.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing the tier consumer failed: %s", exc)

    def _tier_poll_once(
        self, consumer: Any, tier: "delays.Tier", held: "dict[tuple[str, int], _Held]"
    ) -> None:
        """Handle the held records that fell due, then poll: a record not due pauses its
        partition and is kept in memory with the records fetched after it.

        Kept, not read again: librdkafka fetches a resumed partition only on its next wake-up
        (up to 1 s) when every partition it fetches from was paused, which made records come
        up to 1 s late (docs/delays.md).  Nothing is committed before it is handled, so a
        crash or a rebalance reads the held records again, their due times checked again.
        """
        from confluent_kafka import TopicPartition

        handled: dict[tuple[str, int], int] = {}
        for tp, waiting in list(held.items()):
            if waiting.due_ms > delays.now_ms() or self._stopping.is_set():
                continue
            while waiting.records and not self._stopping.is_set():
                hold_until = self._tier_record(waiting.records[0], tier)
                if hold_until is not None:
                    waiting.due_ms = hold_until
                    break
                handled[tp] = waiting.records.popleft().offset() + 1
            if not waiting.records:
                # all handled: fetch on from the record after the last one held
                del held[tp]
                after = TopicPartition(tp[0], tp[1], handled[tp])
                consumer.resume([after])
                consumer.seek(after)
        timeout = self.poll_timeout
        if held:
            next_due = min(w.due_ms for w in held.values())
            timeout = max(0.0, min(timeout, (next_due - delays.now_ms()) / 1000))
        # poll() returns as soon as one record is there (consume() would wait out its whole
        # timeout for a full batch: that wait would be lateness), then take what is queued
        first = consumer.poll(timeout)
        batch = [] if first is None else [first]
        if first is not None:
            batch += consumer.consume(TIER_BATCH_RECORDS - 1, 0)
        for record in batch:
            if self._stopping.is_set():
                break  # the rest is read again by the next member, from the committed offset
            if record.error() is not None:
                log.warning("tier %s consumer: %s", tier.label, record.error())
                continue
            tp = (record.topic(), record.partition())
            if tp in held:
                held[tp].add(record)  # behind a held head: handled after it, in order
                continue
            hold_until = self._tier_record(record, tier)
            if hold_until is None:
                handled[tp] = record.offset() + 1
                continue
            # not due (or its retry write failed): nothing behind it is handled before it,
            # the partition fetches no more until then
            consumer.pause([TopicPartition(record.topic(), record.partition())])
            held[tp] = _Held(record, hold_until)
        if handled:
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in handled.items()],
                asynchronous=False,
            )

    def _tier_record(self, record: Any, tier: "delays.Tier") -> int | None:
        """Handle one tier record if it is due and ours; None when done with it, else the
        epoch ms until which its partition waits."""
        headers = record.headers() or []
        mq = {
            k: v.decode("utf-8", "replace")
            for k, v in headers
            if k.startswith(H.PREFIX) and v is not None and len(v) <= 1024
        }
        owner = mq.get(delays.GROUP)
        if owner and owner != self.group:
            return None  # another share group's retry of a shared (fan-out) topic
        _, timestamp = record.timestamp()
        # the due time travels with the record; without a readable one, the record's own
        # timestamp plus the tier's delay (never earlier than the tier promises)
        due = delays.header_int(mq, delays.DUE, max(timestamp, 0) + tier.delay_ms)
        now = delays.now_ms()
        if due > now:
            return due
        attempt = delays.header_int(mq, delays.ATTEMPT) + 1
        message = Message.from_kafka(record, delivery_count=attempt)
        if self.metrics:
            self.metrics.lateness.labels(self.group).observe((now - due) / 1000)
        outcome, error = self._call_handler(message)
        if outcome is Ack.ACCEPT:
            self._count("processed")
            return None
        if outcome is Ack.RELEASE and error is None:
            error = RetryableError("released by the handler")
        settled = self._settle_failure(message, outcome, error, attempt, False, True)
        if settled is Ack.RELEASE:
            return delays.now_ms() + 1000  # the write failed: try this record again in 1 s
        return None

    def _count(self, name: str) -> None:
        if self.metrics:
            getattr(self.metrics, name).labels(self.group).inc()


class _Batch:
    """One poll's records: the outcomes the handlers report back to the consumer thread that
    polled them (only that thread may touch its consumer)."""

    def __init__(self, size: int) -> None:
        self._cond = threading.Condition()
        self._done: list[tuple[Any, Ack]] = []
        #: records not reported yet
        self.pending = size

    def report(self, record: Any, outcome: Ack) -> None:
        with self._cond:
            self._done.append((record, outcome))
            self._cond.notify_all()

    def finished(self, timeout: float) -> list[tuple[Any, Ack]]:
        """The outcomes reported since the last call (waiting up to ``timeout`` s for one)."""
        with self._cond:
            if not self._done and timeout > 0:
                self._cond.wait(timeout)
            done, self._done = self._done, []
            self.pending -= len(done)
            return done


class _Pool:
    """Acquired records waiting for a handler thread, oldest first, and how many records are
    acquired and not yet handled (waiting or in a handler)."""

    def __init__(self) -> None:
        lock = threading.Lock()
        # one waiter woken per event: a record wakes one handler, a finished record one
        # consumer (waking every thread on each record costs CPU the handlers need)
        self._records = threading.Condition(lock)
        self._idle = threading.Condition(lock)
        self._waiting: "deque[tuple[Any, _Batch]]" = deque()
        self.busy = 0

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(self, record: Any, batch: _Batch) -> None:
        with self._records:
            self._waiting.append((record, batch))
            self.busy += 1
            self._records.notify()

    def take(self, timeout: float) -> "tuple[Any, _Batch] | None":
        """The oldest waiting record and its batch, or None after ``timeout`` s."""
        with self._records:
            if not self._waiting:
                self._records.wait(timeout)
            return self._waiting.popleft() if self._waiting else None

    def done(self, record: Any, batch: _Batch, outcome: Ack) -> None:
        """A handler finished ``record``: report it to its batch; a handler is free again."""
        batch.report(record, outcome)
        with self._idle:
            self.busy -= 1
            self._idle.notify()

    def wait_idle(self, handlers: int, timeout: float) -> bool:
        """Whether one of ``handlers`` is idle (waiting up to ``timeout`` s for one)."""
        with self._idle:
            if self.busy >= handlers:
                self._idle.wait(timeout)
            return self.busy < handlers


class _Pending:
    """One copy on its way to Kafka; the producer's delivery callback settles it."""

    __slots__ = ("topic", "message_id", "done", "error")

    def __init__(self, topic: str, message_id: str):
        self.topic = topic
        self.message_id = message_id
        self.done = threading.Event()
        self.error: Any = None

    def __call__(self, err: Any, _msg: Any) -> None:
        self.error = err
        self.done.set()

    @property
    def ok(self) -> bool:
        """Kafka acknowledged the copy."""
        return self.done.is_set() and self.error is None


def _ack_types() -> dict[Ack, Any]:
    from confluent_kafka import AcknowledgeType

    return {
        Ack.ACCEPT: AcknowledgeType.ACCEPT,
        Ack.RELEASE: AcknowledgeType.RELEASE,
        Ack.REJECT: AcknowledgeType.REJECT,
    }


_ACK_TYPES = _ack_types()


# -- adapters: handlers written for the source, run by the worker ----------------------------------


class _PikaChannel:
    """Enough of ``pika.channel.Channel`` for a consumer callback to settle its message."""

    def __init__(self) -> None:
        self.decision: Ack | None = None

    def _settle(self, outcome: Ack) -> None:
        if self.decision is None:  # like faststream: the first settle wins, later ones are no-ops
            self.decision = outcome

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        self._settle(Ack.ACCEPT)

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        self._settle(Ack.RELEASE if requeue else Ack.REJECT)

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        self._settle(Ack.RELEASE if requeue else Ack.REJECT)

    @property
    def is_open(self) -> bool:
        return True


@dataclass(frozen=True)
class _PikaMethod:
    """Enough of ``pika.spec.Basic.Deliver``."""

    delivery_tag: int
    redelivered: bool
    exchange: str
    routing_key: str
    consumer_tag: str = "mqmigrate-worker"


def _text_headers(message: Message) -> dict[str, Any]:
    """Application headers: the bridge's typed section when present, else non-``mq.*`` headers."""
    for name in ("mq.amqp.headers", "mq.amqp1.application-properties"):
        raw = message.header(name)
        if raw is not None:
            try:
                from mqmigrate.headers import decode_section  # the bridge's typed decoding

                return dict(decode_section(raw))
            except Exception:  # noqa: BLE001 - module absent or foreign header: fall through
                break
    return {
        k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
        for k, v in message.headers
        if not k.startswith(H.PREFIX)
    }


def from_pika_callback(callback: Callable[..., Any], *, auto_ack: bool = False) -> Handler:
    """A worker handler that runs a pika consumer callback unchanged.

    ``callback(channel, method, properties, body)`` gets a channel whose ``basic_ack`` ACCEPTs,
    ``basic_nack(requeue=True)`` / ``basic_reject(requeue=True)`` RELEASE and
    ``basic_nack/basic_reject(requeue=False)`` REJECT (dead-letter, as RabbitMQ's DLX would);
    ``properties`` is a ``pika.BasicProperties`` with ``message_id`` (``mq.source.id``),
    ``headers`` and the ``mq.*`` content type / correlation id / reply-to.  A callback that
    returns without settling is ACCEPTed with ``auto_ack=True`` (it was consuming with
    ``auto_ack``) and RELEASEd otherwise (RabbitMQ would redeliver an unacked message).
    An exception RELEASEs (the channel would have closed and requeued it).
    """
    import pika

    def handle(message: Message) -> Ack:
        channel = _PikaChannel()
        method = _PikaMethod(
            delivery_tag=message.offset + 1,
            redelivered=message.delivery_count > 1,
            exchange=message.mq.get("mq.source.exchange", ""),
            routing_key=message.mq.get("mq.source.routing-key", message.topic),
        )
        properties = pika.BasicProperties(
            message_id=message.message_id,
            headers=_text_headers(message) or None,
            content_type=message.mq.get("mq.content-type"),
            correlation_id=message.mq.get("mq.correlation-id"),
            reply_to=message.mq.get("mq.reply-to"),
            timestamp=message.timestamp_ms // 1000 if message.timestamp_ms else None,
        )
        try:
            callback(channel, method, properties, message.value or b"")
        except Exception as exc:
            if channel.decision is not None:
                return channel.decision
            raise RetryableError(f"pika callback raised {type(exc).__name__}: {exc}") from exc
        if channel.decision is None:
            return Ack.ACCEPT if auto_ack else Ack.RELEASE
        return channel.decision

    return handle


def from_sqs_handler(fn: Callable[[dict[str, Any]], Any]) -> Handler:
    """A worker handler that runs an SQS message handler unchanged.

    ``fn`` gets the dict boto3's ``receive_message`` returns for one message: ``Body`` (text),
    ``MessageId`` (``mq.source.id``), ``ReceiptHandle``, ``MD5OfBody``, ``MessageAttributes``
    and ``Attributes`` with ``ApproximateReceiveCount`` (the delivery count) and
    ``SentTimestamp``.  Returning is the ``delete_message``: ACCEPT.  Raising is the visibility
    timeout running out: RELEASE, and on the last attempt the redrive to the DLQ.
    """

    def handle(message: Message) -> None:
        body = (message.value or b"").decode("utf-8", "replace")
        attributes = _sqs_attributes(message)
        fn(
            {
                "MessageId": message.message_id,
                "ReceiptHandle": f"{message.topic}:{message.partition}:{message.offset}",
                "MD5OfBody": hashlib.md5(message.value or b"").hexdigest(),  # noqa: S324 - SQS's
                "Body": body,
                "Attributes": {
                    "ApproximateReceiveCount": str(message.delivery_count),
                    "SentTimestamp": str(message.timestamp_ms),
                },
                "MessageAttributes": attributes,
            }
        )

    return handle


def _sqs_attributes(message: Message) -> dict[str, dict[str, Any]]:
    raw = message.header("mq.sqs.attributes")
    if raw is not None:
        try:
            from mqmigrate.headers import decode_sqs_attributes  # the bridge's verbatim copy

            return dict(decode_sqs_attributes(raw))
        except Exception:  # noqa: BLE001 - module absent or foreign header: fall through
            pass
    out: dict[str, dict[str, Any]] = {}
    for name, value in message.headers:
        if name.startswith(H.PREFIX) or value is None:
            continue
        try:
            out[name] = {"DataType": "String", "StringValue": value.decode("utf-8")}
        except UnicodeDecodeError:
            out[name] = {"DataType": "Binary", "BinaryValue": value}
    return out
