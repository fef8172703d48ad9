"""Benchmark targets: a temporary queue (or topic) on each system, cleaned up afterwards."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from queue import Queue
from typing import Any, Callable

from mqmigrate.bench.model import Workload
from mqmigrate.bench.publishers import DEFAULT_WINDOW, KafkaPublisher
from mqmigrate.bench.runner import Delivery
from mqmigrate.errors import UsageError
from mqmigrate.sources import (
    WINDOWED_PUBLISHERS,
    adapter_class,
    kind_for_uri,
    open_source,
    windowed_publisher_class,
)
from mqmigrate.sources.base import Envelope, Outcome, QueueSpec, SourceAdapter

#: messages each source consumer holds at most (its adapter's prefetch / link credit)
DEFAULT_PREFETCH = 200


def _name(prefix: str) -> str:
    return f"mqmigrate-bench-{prefix}-{uuid.uuid4().hex[:10]}"


# -- Kafka share groups ----------------------------------------------------------------------
class KafkaShareTarget:
    """A temporary topic consumed by ``fanout`` share groups (one per fan-out branch)."""

    system = "kafka-share-group"

    def __init__(
        self,
        bootstrap: Any,
        partitions: int = 1,
        *,
        max_poll_records: int | None = None,
        acquire_mode: str | None = None,
    ):
        """``bootstrap``: a KafkaConfig or plaintext bootstrap servers.

        ``max_poll_records`` and ``acquire_mode`` (KIP-1206 ``share.acquire.mode``) go to every
        share consumer; None leaves the client's default.
        """
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.max_poll_records = max_poll_records
        self.acquire_mode = acquire_mode
        self.topic = _name("topic")
        self.groups: list[str] = []
        self.workload: Workload | None = None

    def setup(self, workload: Workload) -> None:
        from mqmigrate.kafka import share

        self.workload = workload
        if self.acquire_mode is not None:
            # refused before anything is created: a run that silently measured the client's
            # default mode would be reported as the strict one
            share.require_acquire_mode(self.acquire_mode)
        self.admin = share.admin_client(self.bootstrap)
        size = max(workload.message_bytes * 2, 1048588)
        share.create_topic(
            self.admin, self.topic, self.partitions, {"max.message.bytes": str(size)}
        )
        self.groups = [f"{self.topic}-g{i}" for i in range(workload.fanout)]
        for group in self.groups:
            share.set_group_configs(self.admin, group, {"share.auto.offset.reset": "earliest"})

    def publisher(self) -> KafkaPublisher:
        from mqmigrate.kafka.config import as_kafka_config

        size = self.workload.message_bytes if self.workload else 1024
        settings = {
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.max.bytes": max(size * 2, 1048588),
        }
        return KafkaPublisher(as_kafka_config(self.bootstrap), self.topic, settings)

    def consumer(self, group: int):
        from confluent_kafka import AcknowledgeType

        from mqmigrate.kafka import share

        explicit = self.workload is None or self.workload.ack == "explicit"
        client = share.share_consumer(
            self.bootstrap, self.groups[group], explicit=explicit, **self.client_settings()
        )
        client.subscribe([self.topic])

        class _Consumer:
            def __init__(self) -> None:
                self.pending = 0

            def receive(self, timeout: float) -> list[Delivery]:
                if self.pending:
                    client.commit_async()
                    self.pending = 0
                out = []
                for message in client.poll(timeout):
                    if message.error():
                        continue
                    out.append(
                        Delivery(
                            message.value(),
                            (message.delivery_count() or 1) > 1,
                            self._settler(message),
                        )
                    )
                return out

            def _settler(self, message):
                if not explicit:
                    return lambda: None

                def settle() -> None:
                    client.acknowledge(message, AcknowledgeType.ACCEPT)
                    self.pending += 1

                return settle

            def close(self) -> None:
                try:
                    if explicit and self.pending:
                        client.commit_sync(10)
                finally:
                    client.close()

        return _Consumer()

    def client_settings(self) -> dict[str, str]:
        """The share consumers' settings this run sets (the client's defaults otherwise)."""
        out = {}
        if self.max_poll_records is not None:
            out["max.poll.records"] = str(self.max_poll_records)
        if self.acquire_mode is not None:
            out["share.acquire.mode"] = self.acquire_mode
        return out

    def teardown(self) -> None:
        from mqmigrate.kafka import share

        try:
            share.delete_topic(self.admin, self.topic)
        except Exception:
            pass  # named mqmigrate-bench-*: a leftover is recognisable and harmless


class KafkaWorkerTarget(KafkaShareTarget):
    """The same topic, consumed through the :mod:`mqmigrate.sdk.worker` SDK (what a migrated
    service runs): one ``Worker`` per fan-out group with ``consumers`` threads.

    The worker's handler hands each message to a benchmark consumer thread and returns only
    when that thread settled it, so the worker ACCEPTs after the simulated processing.
    """

    system = "kafka-worker-sdk"

    def __init__(
        self,
        bootstrap: str,
        partitions: int = 1,
        *,
        max_poll_records: int | None = None,
        acquire_mode: str | None = None,
        concurrency: int | None = None,
        handoff: str | None = None,
        share_consumers: int | None = None,
    ):
        """``concurrency``: the worker's handler threads (default: the workload's consumers);
        ``handoff``: ``pool`` or ``thread`` (:class:`~mqmigrate.sdk.worker.Worker`); None and
        ``share_consumers``: the pool's share consumers; ``max_poll_records`` None: the
        worker's defaults."""
        super().__init__(
            bootstrap, partitions, max_poll_records=max_poll_records, acquire_mode=acquire_mode
        )
        self.concurrency = concurrency
        self.handoff = handoff
        self.share_consumers = share_consumers
        self._workers: dict[int, object] = {}
        self._queues: dict[int, Queue] = {}
        self._open: dict[int, int] = {}
        # the run's consumer threads of one group ask for it at once: one of them starts its
        # worker, the others wait for it (else each started a worker of its own, and all but
        # the last were never stopped)
        self._workers_lock = threading.Lock()

    def worker_settings(self) -> dict:
        """The worker settings this run uses (the worker's defaults where none was given)."""
        import inspect

        from mqmigrate.sdk.worker import Worker, default_share_consumers

        defaults = inspect.signature(Worker).parameters
        workload = self.workload
        concurrency = self.concurrency or (workload.consumers if workload else 1)
        handoff = self.handoff or defaults["handoff"].default
        out = {
            "handoff": handoff,
            "worker_concurrency": concurrency,
            "max_poll_records": self.max_poll_records or defaults["max_poll_records"].default,
        }
        if handoff == "pool":
            out["share_consumers"] = self.share_consumers or default_share_consumers(concurrency)
        return out

    def consumer(self, group: int):
        with self._workers_lock:
            return self._open_consumer(group, self.workload)

    def _open_consumer(self, group: int, workload):
        """The group's worker (started on first use) and one more consumer of it; called
        under ``_workers_lock``."""
        import queue

        from mqmigrate.sdk.worker import Worker

        if group not in self._workers:
            handoff: queue.Queue = queue.Queue()
            self._queues[group] = handoff
            self._open[group] = 0

            def handler(message) -> None:
                done = threading.Event()
                handoff.put((message, done))
                # bounded: a benchmark that stopped consuming must not hold the worker forever
                if not done.wait(timeout=120):
                    raise TimeoutError("benchmark consumer did not settle in 120 s")

            options: dict = (
                {} if self.max_poll_records is None else {"max_poll_records": self.max_poll_records}
            )
            if self.handoff is not None:
                options["handoff"] = self.handoff
            if self.share_consumers is not None:
                options["share_consumers"] = self.share_consumers
            extra = {k: v for k, v in self.client_settings().items() if k != "max.poll.records"}
            worker = Worker(
                self.bootstrap,
                [self.topic],
                self.groups[group],
                handler,
                concurrency=self.concurrency or (workload.consumers if workload else 1),
                metrics=False,
                install_signal_handlers=False,
                dead_letter="none",
                consumer_config=extra,
                **options,
            )
            worker.start()
            self._workers[group] = worker
        handoff = self._queues[group]
        self._open[group] += 1
        target = self

        class _Consumer:
            def receive(self, timeout: float) -> list[Delivery]:
                try:
                    message, done = handoff.get(timeout=timeout)
                except queue.Empty:
                    return []
                return [Delivery(message.value or b"", message.delivery_count > 1, done.set)]

            def close(self) -> None:
                with target._workers_lock:
                    target._open[group] -= 1
                    if target._open[group] != 0:
                        return
                    worker = target._workers.pop(group)
                worker.stop()
                worker.join(timeout=30)

        return _Consumer()


# -- the source brokers, through their adapters ------------------------------------------------
class SourceTarget:
    """Temporary queues on a source broker, all through its adapter and publisher (the
    registry in :mod:`mqmigrate.sources`): ``declare_queue`` / ``delete_queue`` for set-up and
    clean-up, the kind's windowed publisher, and consumers that read as the bridge does
    (:class:`_SourceConsumer`).

    Fan-out (one queue per branch, bound to one fanout exchange) needs
    ``capabilities.fanout``; messages larger than ``capabilities.max_message_bytes`` are
    refused before anything is created.
    """

    def __init__(
        self, uri: str, *, publish_window: int = DEFAULT_WINDOW, prefetch: int = DEFAULT_PREFETCH
    ):
        """``publish_window``: messages the publisher leaves unconfirmed at most (SQS sends
        batches of 10); ``prefetch``: the messages each consumer holds at most and reads per
        ``receive`` (its adapter's prefetch / link credit)."""
        self.uri = uri
        self.kind = kind_for_uri(uri)
        self.system = self.kind
        self.publish_window = publish_window
        self.prefetch = prefetch
        self.publisher_class = windowed_publisher_class(self.kind)
        self.queues: list[QueueSpec] = []

    def _adapter(self, queue: str, **options: Any) -> SourceAdapter:
        return open_source(self.uri, queue=queue, **options)

    def setup(self, workload: Workload) -> None:
        capabilities = adapter_class(self.kind).capabilities
        if not capabilities.declare:
            raise UsageError(f"bench cannot create a queue on {self.kind} sources")
        if workload.fanout > 1 and not capabilities.fanout:
            raise UsageError(
                f"the fan-out preset needs one publish to reach several {self.kind} queues, "
                "which this source cannot set up here (SQS: SNS in front; AMQP 1.0: "
                "broker-specific multicast); run it against RabbitMQ, or with --fanout 1"
            )
        limit = capabilities.max_message_bytes
        if limit is not None and workload.message_bytes > limit:
            raise UsageError(
                f"{self.kind} messages are limited to {limit // 1024} KiB here; lower --size"
            )
        self.workload = workload
        name = _name("q")
        if workload.fanout > 1:
            # one fanout exchange (named like the queues) and one queue per branch
            self.queues = [
                QueueSpec(f"{name}-{i}", exchange=name, exchange_type="fanout")
                for i in range(workload.fanout)
            ]
        else:
            self.queues = [QueueSpec(name, visibility_timeout_s=30)]
        admin = self._adapter(name)
        try:
            for spec in self.queues:
                admin.declare_queue(spec)
        finally:
            admin.close()

    def publisher(self) -> Any:
        return self.publisher_class.for_queue(self.uri, self.queues[0], window=self.publish_window)

    def consumer(self, group: int) -> "_SourceConsumer":
        reader = self._adapter(self.queues[group].name, prefetch=self.prefetch)
        reader.open()
        return _SourceConsumer(reader, self.prefetch, self.publisher_class.received)

    def teardown(self) -> None:
        # best effort: a leftover is named mqmigrate-bench-*, recognisable and harmless
        if not self.queues:
            return
        admin = self._adapter(self.queues[0].name)
        *first, last = self.queues
        try:
            for spec in first:  # the shared exchange goes with the last queue
                admin.delete_queue(dataclasses.replace(spec, exchange=None))
            admin.delete_queue(last)
        finally:
            admin.close()


class _SourceConsumer:
    """One benchmark consumer reading through a source adapter as the bridge does: a batch per
    ``receive``, each message settled ACCEPT; where the adapter settles many cheaply
    (``capabilities.batch_settle``: RabbitMQ's multiple-ack, SQS's batch delete) the settled
    ones go back in one ``settle_many`` before the next batch."""

    def __init__(self, reader: SourceAdapter, batch: int, received: Callable[[bytes], bytes]):
        self.reader, self.batch, self.received = reader, batch, received
        self.batched = reader.capabilities.batch_settle
        self.accepted: list[Envelope] = []

    def _settler(self, envelope: Envelope) -> Callable[[], None]:
        if self.batched:
            return lambda: self.accepted.append(envelope)
        return lambda: self.reader.settle(envelope, Outcome.ACCEPT)

    def _settle_accepted(self) -> None:
        if self.accepted:
            accepted, self.accepted = self.accepted, []
            self.reader.settle_many(accepted, Outcome.ACCEPT)

    def receive(self, timeout: float) -> list[Delivery]:
        self._settle_accepted()
        envelopes = self.reader.receive(self.batch, timeout)
        if not envelopes:
            # idle: push out the settlements the adapter batched, as the bridge's engine does
            # (RabbitMQ confirms a persistent message delivered at once only when it is acked)
            self.reader.flush()
        return [
            Delivery(self.received(envelope.body), envelope.redelivered, self._settler(envelope))
            for envelope in envelopes
        ]

    def close(self) -> None:
        try:
            self._settle_accepted()
            self.reader.flush()  # settled messages acknowledged before the connection goes
        finally:
            self.reader.close()


def source_target(
    uri: str, publish_window: int = DEFAULT_WINDOW, prefetch: int = DEFAULT_PREFETCH
) -> SourceTarget:
    """The benchmark target for a source URI; ``publish_window``: the unconfirmed messages
    the RabbitMQ and AMQP 1.0 publishers allow (SQS sends batches of 10); ``prefetch``: what
    each consumer holds at most."""
    if kind_for_uri(uri) not in WINDOWED_PUBLISHERS:
        raise UsageError(
            f"bench cannot publish through {uri.partition('://')[0]}://",
            hint="use amqp://, amqp1://, sqs:// or sqs+http://",
        )
    return SourceTarget(uri, publish_window=publish_window, prefetch=prefetch)
