"""Benchmark targets: a temporary queue (or topic) on each system, cleaned up afterwards."""

from __future__ import annotations

import uuid
from queue import Queue
from typing import Any

from mqmigrate.bench.model import Workload
from mqmigrate.bench.publishers import (
    DEFAULT_WINDOW,
    AMQP1CreditPublisher,
    KafkaPublisher,
    RabbitMQConfirmPublisher,
    SQSBatchPublisher,
)
from mqmigrate.bench.runner import Delivery
from mqmigrate.errors import ConnectionFailed, MqMigrateError, UsageError
from mqmigrate.sources.amqp1 import queue_capability
from mqmigrate.sources.connect import pika_parameters, proton_blocking_connection, sqs_client
from mqmigrate.sources.uri import SourceURI, parse_source_uri


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

    def worker_settings(self) -> dict:
        """The worker settings this run uses (the worker's defaults where none was given)."""
        import inspect

        from mqmigrate.sdk.worker import Worker

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
            out["share_consumers"] = self.share_consumers or concurrency
        return out

    def consumer(self, group: int):
        import queue
        import threading

        from mqmigrate.sdk.worker import Worker

        workload = self.workload
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
                target._open[group] -= 1
                if target._open[group] == 0:
                    worker = target._workers.pop(group)
                    worker.stop()
                    worker.join(timeout=30)

        return _Consumer()


# -- RabbitMQ --------------------------------------------------------------------------------
class RabbitMQTarget:
    """A temporary durable classic queue (or a fanout exchange to one queue per branch)."""

    system = "rabbitmq"

    def __init__(
        self, source: SourceURI, prefetch: int = 200, publish_window: int = DEFAULT_WINDOW
    ):
        """``publish_window``: messages the publisher leaves unconfirmed at most."""
        self.source = source
        self.prefetch = prefetch
        self.publish_window = publish_window
        self.exchange = _name("x")
        self.queues: list[str] = []

    def _connect(self):
        import pika
        import pika.exceptions as pex

        params = pika_parameters(self.source, heartbeat=60, blocked_connection_timeout=60)
        try:
            return pika.BlockingConnection(params)
        except pex.AMQPError as exc:
            raise ConnectionFailed(
                f"cannot connect to {self.source.masked}: {type(exc).__name__}"
            ) from exc

    def setup(self, workload: Workload) -> None:
        self.workload = workload
        connection = self._connect()
        channel = connection.channel()
        channel.exchange_declare(self.exchange, "fanout", durable=False, auto_delete=False)
        for i in range(workload.fanout):
            queue = f"{self.exchange}-q{i}"
            channel.queue_declare(queue, durable=True)
            channel.queue_bind(queue, self.exchange)
            self.queues.append(queue)
        connection.close()

    def publisher(self) -> RabbitMQConfirmPublisher:
        # persistent messages with publisher confirms, at most publish_window unconfirmed
        return RabbitMQConfirmPublisher(self._connect(), self.exchange, window=self.publish_window)

    def consumer(self, group: int):
        connection = self._connect()
        channel = connection.channel()
        explicit = self.workload.ack == "explicit"
        channel.basic_qos(prefetch_count=self.prefetch)
        queue = self.queues[group]
        generator = channel.consume(queue, auto_ack=not explicit, inactivity_timeout=0.5)

        class _Consumer:
            def receive(self, timeout: float) -> list[Delivery]:
                method, properties, body = next(generator)
                if method is None:
                    return []
                tag = method.delivery_tag
                settle = (lambda: channel.basic_ack(tag)) if explicit else (lambda: None)
                return [Delivery(body, bool(method.redelivered), settle)]

            def close(self) -> None:
                try:
                    channel.cancel()
                finally:
                    connection.close()

        return _Consumer()

    def teardown(self) -> None:
        connection = self._connect()
        channel = connection.channel()
        for queue in self.queues:
            channel.queue_delete(queue)
        channel.exchange_delete(self.exchange)
        connection.close()


# -- SQS ---------------------------------------------------------------------------------------
class SQSTarget:
    """A temporary standard queue; fan-out needs SNS and is refused here."""

    system = "sqs"

    def __init__(self, source: SourceURI):
        self.source = source
        self.queue_url = ""

    def _client(self):
        return sqs_client(self.source)

    def setup(self, workload: Workload) -> None:
        if workload.fanout > 1:
            raise UsageError(
                "the fan-out preset needs SNS in front of SQS; run it against "
                "RabbitMQ or AMQP 1.0, or with --fanout 1"
            )
        if workload.message_bytes > 256 * 1024:
            raise UsageError("SQS messages are limited to 256 KiB here; lower --size")
        self.workload = workload
        self.queue_url = self._client().create_queue(
            QueueName=_name("q"), Attributes={"VisibilityTimeout": "30"}
        )["QueueUrl"]

    def publisher(self) -> SQSBatchPublisher:
        return SQSBatchPublisher(self._client(), self.queue_url)

    def consumer(self, group: int):
        import base64

        client, url = self._client(), self.queue_url

        class _Consumer:
            def receive(self, timeout: float) -> list[Delivery]:
                response = client.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=max(int(timeout), 1),
                    AttributeNames=["ApproximateReceiveCount"],
                )
                out = []
                for message in response.get("Messages", []):
                    handle = message["ReceiptHandle"]
                    count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
                    out.append(
                        Delivery(
                            base64.b64decode(message["Body"]),
                            count > 1,
                            lambda handle=handle: client.delete_message(
                                QueueUrl=url, ReceiptHandle=handle
                            ),
                        )
                    )
                return out

            def close(self) -> None:
                pass

        return _Consumer()

    def teardown(self) -> None:
        if self.queue_url:
            self._client().delete_queue(QueueUrl=self.queue_url)


# -- AMQP 1.0 ------------------------------------------------------------------------------
class AMQP1Target:
    """A queue address on an AMQP 1.0 broker (Artemis auto-creates anycast queues)."""

    system = "amqp1"

    def __init__(
        self,
        source: SourceURI,
        address_prefix: str = "",
        publish_window: int = DEFAULT_WINDOW,
        prefetch: int = 100,
    ):
        """``publish_window``: deliveries the publisher leaves unsettled at most; each
        consumer holds at most ``prefetch`` deliveries (its link credit)."""
        self.source = source
        self.publish_window = publish_window
        self.prefetch = prefetch
        self.address_prefix = address_prefix
        self.addresses: list[str] = []

    def _connect(self):
        try:
            return proton_blocking_connection(self.source, timeout=30)
        except Exception as exc:
            raise ConnectionFailed(f"cannot connect to {self.source.masked}: {exc}") from exc

    def setup(self, workload: Workload) -> None:
        if workload.fanout > 1:
            raise UsageError(
                "fan-out over AMQP 1.0 needs broker-specific multicast set-up; use --fanout 1"
            )
        self.workload = workload
        self.addresses = [f"{self.address_prefix}{_name('q')}"]
        # a sender's attach makes Artemis create the anycast queue, so the consumers (which
        # refuse a queue that does not exist) can start before anything is published
        connection = self._connect()
        try:
            connection.create_sender(self.addresses[0], options=queue_capability()).close()
        finally:
            connection.close()

    def publisher(self) -> AMQP1CreditPublisher:
        # asynchronous within the link's credit, at most publish_window unsettled
        return AMQP1CreditPublisher(
            self._connect(),
            self.addresses[0],
            options=queue_capability(),
            window=self.publish_window,
        )

    def consumer(self, group: int):
        # the bridge's own AMQP 1.0 reader: deliveries read straight off the link, credit
        # topped up in batches (proton's BlockingReceiver sends a flow frame and dispatches
        # several Python events per message, which capped the consumers, not the broker)
        from mqmigrate.sources.amqp1.adapter import AMQP1Source
        from mqmigrate.sources.base import Outcome

        batch = self.prefetch
        reader = AMQP1Source(self.source.raw, self.addresses[0], prefetch=batch)
        reader.open()

        class _Consumer:
            def receive(self, timeout: float) -> list[Delivery]:
                return [
                    Delivery(
                        envelope.body,
                        envelope.redelivered,
                        lambda envelope=envelope: reader.settle(envelope, Outcome.ACCEPT),
                    )
                    for envelope in reader.receive(batch, timeout)
                ]

            def close(self) -> None:
                reader.close()

        return _Consumer()

    def teardown(self) -> None:
        # Artemis keeps the queue the set-up's sender created: remove it through its management
        # API (best effort: without one it stays, named mqmigrate-bench-*, empty)
        from mqmigrate.sources.amqp1.artemis import ArtemisManagement
        from mqmigrate.sources.uri import management_endpoint

        try:
            management = ArtemisManagement(management_endpoint(self.source))
        except MqMigrateError:
            return
        try:
            for address in self.addresses:
                if management.find_queue(address) is not None:
                    management.destroy_queue(address)
                management.delete_address(address)
        except MqMigrateError:
            pass
        finally:
            management.close()


def source_target(uri: str, publish_window: int = DEFAULT_WINDOW):
    """The benchmark target for a source URI; ``publish_window``: the unconfirmed messages
    the RabbitMQ and AMQP 1.0 publishers allow (SQS sends batches of 10)."""
    source = parse_source_uri(uri)
    if source.kind == "rabbitmq":
        return RabbitMQTarget(source, publish_window=publish_window)
    if source.kind == "sqs":
        return SQSTarget(source)
    if source.kind == "amqp1":
        return AMQP1Target(source, publish_window=publish_window)
    raise UsageError(
        f"bench cannot publish through {source.scheme}://",
        hint="use amqp://, amqp1://, sqs:// or sqs+http://",
    )
