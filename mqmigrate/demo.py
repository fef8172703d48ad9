"""``mqmigrate demo``: the whole migration story on the local sandbox, narrated.

One run seeds a small estate (a RabbitMQ work queue with a DLX and a TTL, an SQS queue with a
redrive policy), keeps a live producer (the dual-write SDK) and a legacy pika consumer busy,
and walks through assess → plan → provision → shadow → verify → consumers → producers
→ drain. Every id the producer sent and every id a consumer processed is recorded, so the
summary (lost, duplicated, longest time without a consumer) is measured, not asserted.

The pure part (:func:`summarize`) is unit-tested; the rest drives real brokers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from mqmigrate.errors import ConnectionFailed, MqMigrateError, SandboxError, UsageError
from mqmigrate.redact import mask_uri

#: messages the legacy consumer takes unacked at once (RabbitMQ prefetch)
LEGACY_PREFETCH = 50


# -- the pure summary ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Processed:
    """One handler execution: which id, when (monotonic seconds), by whom."""

    id: str
    at: float
    by: str  # "legacy" or "worker"


@dataclass(frozen=True)
class Summary:
    """What the demo measured; ``lost == 0`` is the promise."""

    sent: int
    processed: int
    processed_legacy: int
    processed_worker: int
    unique: int
    lost: int
    duplicated: int
    duplicate_deliveries_skipped: int
    shadow_copies_skipped: int
    longest_gap_s: float
    phases: dict[str, float]
    verify: dict[str, Any]
    lost_ids: list[str] = field(default_factory=list)
    run_id: str = ""
    topic: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def longest_gap(sent_at: Mapping[str, float], events: Sequence[Processed]) -> float:
    """The longest time during which a sent message waited and nothing was processed.

    A pause of the producer is not a missing consumer, so a gap only counts from the moment
    some message was waiting: for consecutive processing times ``p_i < p_{i+1}``, the gap is
    ``p_{i+1} - max(p_i, earliest send among the ids first processed after p_i)``. The time
    before the first processing counts from the first send. Ids never processed are the
    ``lost`` figure, not a gap.
    """
    first: dict[str, float] = {}
    for e in events:
        if e.id in sent_at and (e.id not in first or e.at < first[e.id]):
            first[e.id] = e.at
    if not first:
        return 0.0
    order = sorted(first.items(), key=lambda kv: kv[1])
    # suffix minimum of send times: the earliest-sent id still waiting after each processing
    suffix = [0.0] * (len(order) + 1)
    suffix[len(order)] = float("inf")
    for i in range(len(order) - 1, -1, -1):
        suffix[i] = min(suffix[i + 1], sent_at[order[i][0]])
    gap = max(0.0, order[0][1] - suffix[0])
    for i in range(len(order) - 1):
        waiting_since = max(order[i][1], suffix[i + 1])
        gap = max(gap, order[i + 1][1] - waiting_since)
    return gap


def summarize(sent_at: Mapping[str, float], events: Sequence[Processed], *,
              skipped: int = 0, shadow_skipped: int = 0, phases: Mapping[str, float] | None = None,
              verify: Mapping[str, Any] | None = None, run_id: str = "", topic: str = ""
              ) -> Summary:
    """Reduce the demo's records to the summary figures.

    ``processed`` counts handler executions (an id processed twice counts twice), ``unique``
    the distinct sent ids processed, ``duplicated = processed - unique`` (work done twice),
    ``lost = sent - unique``. ``skipped`` are deliveries a consumer recognised by
    ``mq.source.id`` and did not process again.
    """
    relevant = [e for e in events if e.id in sent_at]
    unique_ids = {e.id for e in relevant}
    lost_ids = sorted(set(sent_at) - unique_ids)
    return Summary(
        sent=len(sent_at),
        processed=len(relevant),
        processed_legacy=sum(1 for e in relevant if e.by == "legacy"),
        processed_worker=sum(1 for e in relevant if e.by == "worker"),
        unique=len(unique_ids),
        lost=len(lost_ids),
        duplicated=len(relevant) - len(unique_ids),
        duplicate_deliveries_skipped=skipped,
        shadow_copies_skipped=shadow_skipped,
        longest_gap_s=round(longest_gap(sent_at, relevant), 3),
        phases={k: round(v, 2) for k, v in (phases or {}).items()},
        verify=dict(verify or {}),
        lost_ids=lost_ids[:20],
        run_id=run_id,
        topic=topic,
    )


# -- the records shared by producer, consumers and summary ------------------------------------

class Ledger:
    """Thread-safe record of what was sent and processed (the demo's ground truth)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent_at: dict[str, float] = {}        # id -> monotonic time the send started
        self.confirmed_at: dict[str, float] = {}   # id -> the source/Kafka confirmed it
        self.events: list[Processed] = []
        self._done: set[str] = set()
        self.skipped = 0
        self.shadow_skipped = 0
        #: set when the worker got its first record: its share-group session is live
        self.worker_live = threading.Event()

    def sent(self, message_id: str, started: float, confirmed: float) -> None:
        with self._lock:
            self.sent_at[message_id] = started
            self.confirmed_at[message_id] = confirmed

    def record(self, message_id: str, by: str) -> None:
        """The legacy consumer: it processes whatever RabbitMQ hands it, as it always did."""
        with self._lock:
            self.events.append(Processed(message_id, time.monotonic(), by))
            self._done.add(message_id)

    def claim(self, message_id: str, by: str) -> bool:
        """The migrated consumer: process an id only once (idempotency by ``mq.source.id``)."""
        with self._lock:
            if message_id in self._done:
                self.skipped += 1
                return False
            self.events.append(Processed(message_id, time.monotonic(), by))
            self._done.add(message_id)
            return True

    def sent_between(self, start: float, end: float) -> set[str]:
        """Ids whose send started at or after ``start`` and was confirmed by ``end``."""
        with self._lock:
            return {i for i, t in self.sent_at.items()
                    if t >= start and self.confirmed_at[i] <= end}

    def skip_shadow_copy(self) -> None:
        with self._lock:
            self.shadow_skipped += 1

    def processed_by(self, by: str) -> int:
        with self._lock:
            return sum(1 for e in self.events if e.by == by)

    def counts(self) -> tuple[int, int, int]:
        with self._lock:
            return len(self.sent_at), len(self.events), len(self._done & set(self.sent_at))

    def unprocessed(self) -> set[str]:
        with self._lock:
            return set(self.sent_at) - self._done


# -- options ----------------------------------------------------------------------------------

@dataclass
class DemoOptions:
    messages: int = 3000
    rate: float = 200.0
    duration: float = 90.0
    out: Path | None = None
    keep: bool = False
    run_id: str | None = None
    #: seconds of shadow copying before verify
    shadow_seconds: float = 3.0


# -- narration --------------------------------------------------------------------------------

class Narrator:
    """One line per step on stderr; a live status line while waiting when on a terminal."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.live = console.is_terminal

    def step(self, phase: str, text: str) -> None:
        self.console.print(f"[bold cyan]{phase:>10}[/] {text}", highlight=False)

    def wait(self, what: str, until: Callable[[], bool], timeout: float,
             status: Callable[[], str] | None = None, interval: float = 0.2) -> bool:
        """Poll ``until`` for at most ``timeout`` seconds; a live status line on a terminal."""
        deadline = time.monotonic() + timeout
        if self.live and status is not None:
            with self.console.status(what) as st:
                while time.monotonic() < deadline:
                    if until():
                        return True
                    st.update(f"{what}: {status()}")
                    time.sleep(interval)
                return until()
        while time.monotonic() < deadline:
            if until():
                return True
            time.sleep(interval)
        return until()


# -- the verify seam ----------------------------------------------------------------------------

class ShadowCheck(Protocol):
    """Compare ids sent at the source with ids in the topic. ``mqmigrate verify`` fits here."""

    def __call__(self, bootstrap: str, topic: str, expected: set[str],
                 timeout: float) -> dict[str, Any]: ...


def check_ids_in_topic(bootstrap: str, topic: str, expected: set[str],
                       timeout: float = 20.0) -> dict[str, Any]:
    """Read the topic's ``mq.source.id`` headers (plain consumer, to the end offsets) until
    every expected id is there or ``timeout`` passes; report missing and duplicated ids.

    The small reconciliation the demo needs until ``mqmigrate verify`` lands; the demo calls
    it through :class:`ShadowCheck` so that command can replace it.
    """
    from confluent_kafka import Consumer, TopicPartition

    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    consumer = Consumer({"bootstrap.servers": bootstrap,
                         "group.id": f"mqmigrate-demo-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "enable.auto.offset.store": False,
                         "auto.offset.reset": "earliest"})
    try:
        meta = consumer.list_topics(topic, timeout=10)
        parts = sorted(meta.topics[topic].partitions)
        position = {p: 0 for p in parts}
        while True:
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    for p in parts}
            todo = [p for p in parts if position[p] < ends[p]]
            if todo:
                consumer.assign([TopicPartition(topic, p, position[p]) for p in todo])
                while any(position[p] < ends[p] for p in todo) and time.monotonic() < deadline:
                    for msg in consumer.consume(500, timeout=0.5):
                        if msg.error():
                            continue
                        position[msg.partition()] = msg.offset() + 1
                        for name, value in msg.headers() or []:
                            if name == "mq.source.id" and value is not None:
                                key = value.decode("utf-8", "replace")
                                counts[key] = counts.get(key, 0) + 1
            if expected <= counts.keys() or time.monotonic() >= deadline:
                break
            time.sleep(0.3)
    finally:
        consumer.close()
    missing = expected - counts.keys()
    return {"expected": len(expected), "in_topic": sum(counts.values()),
            "missing": len(missing), "duplicated": sum(1 for i in expected if counts.get(i, 0) > 1),
            "missing_ids": sorted(missing)[:20]}


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's end offset now (what the shadow bridge left in the topic)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap,
                         "group.id": f"mqmigrate-demo-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(topic, timeout=10)
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in meta.topics[topic].partitions}
    finally:
        consumer.close()


# -- live actors --------------------------------------------------------------------------------

class Producer(threading.Thread):
    """The service's producer: the dual-write SDK, its mode read from a file at run time.

    Paced at ``rate``; once 60 % of the budget is sent while still ``source-only`` it slows
    to a trickle, so that messages keep flowing through the producer cutover on a slow
    machine instead of the budget running out before the switch.
    """

    def __init__(self, ledger: Ledger, amqp_url: str, exchange: str, routing_key: str,
                 bootstrap: str, topic: str, mode_file: Path, run_id: str,
                 messages: int, rate: float, duration: float) -> None:
        super().__init__(name="demo-producer", daemon=True)
        from mqmigrate.dualwrite import DualWriter, FileMode, PikaSource

        self.ledger = ledger
        self.run_id = run_id
        self.messages, self.rate, self.duration = messages, rate, duration
        self.mode = FileMode(mode_file, interval=0.1)
        self.writer = DualWriter(PikaSource(amqp_url, routing_key=routing_key, exchange=exchange),
                                 {"bootstrap.servers": bootstrap}, topic, mode_source=self.mode,
                                 metrics=False)
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.by_mode: dict[str, int] = {}

    def run(self) -> None:
        start = time.monotonic()
        n = 0
        try:
            while n < self.messages and not self.stop_event.is_set():
                if time.monotonic() - start > self.duration:
                    break
                mode = self.mode.current().value
                slow = mode == "source-only" and n >= int(self.messages * 0.6)
                interval = 1.0 / (20.0 if slow else self.rate)
                message_id = f"{self.run_id}-{n:06d}"
                t0 = time.monotonic()
                body = json.dumps({"order": n, "run": self.run_id}).encode()
                self.writer.send(body, message_id=message_id)
                self.ledger.sent(message_id, t0, time.monotonic())
                self.by_mode[mode] = self.by_mode.get(mode, 0) + 1
                n += 1
                pause = interval - (time.monotonic() - t0)
                if pause > 0:
                    self.stop_event.wait(pause)
        except BaseException as exc:  # reported by the orchestrator, never swallowed
            self.error = exc
        finally:
            try:
                self.writer.close()
            except Exception:
                pass

    @property
    def done(self) -> bool:
        return not self.is_alive()


class LegacyConsumer(threading.Thread):
    """The service's consumer before the migration: pika, manual acks, one id at a time."""

    def __init__(self, ledger: Ledger, amqp_url: str, queue: str) -> None:
        super().__init__(name="demo-legacy-consumer", daemon=True)
        self.ledger, self.amqp_url, self.queue = ledger, amqp_url, queue
        self.stop_event = threading.Event()
        self.started = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        import pika

        try:
            conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
            ch = conn.channel()
            ch.basic_qos(prefetch_count=LEGACY_PREFETCH)

            def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> None:
                if self.stop_event.is_set():
                    # stopping: hand it back unprocessed; the drain bridge takes it to Kafka
                    channel.basic_nack(method.delivery_tag, requeue=True)
                    return
                self.ledger.record(properties.message_id or "", "legacy")
                channel.basic_ack(method.delivery_tag)

            tag = ch.basic_consume(self.queue, on_message)
            self.started.set()
            while not self.stop_event.is_set():
                conn.process_data_events(time_limit=0.1)
            ch.basic_cancel(tag)
            conn.close()  # unacked prefetched messages return to the queue
        except BaseException as exc:
            self.error = exc
            self.started.set()


class BridgeProcess:
    """``python -m mqmigrate bridge ...`` as a child process, its /metrics read for progress.

    A subprocess rather than a thread: the bridge owns its signal handling (graceful SIGTERM,
    settle in flight) and its single-threaded pika loop.
    """

    def __init__(self, args: list[str], log_path: Path, source_uri: str) -> None:
        self.metrics_port = _free_port()
        self.log_path = log_path
        cmd = [sys.executable, "-m", "mqmigrate", "bridge", *args,
               "--metrics-port", str(self.metrics_port), "--log-format", "json"]
        env = dict(os.environ)
        # the URI carries the password: the environment keeps it out of the process list
        env["MQMIGRATE_SOURCE"] = source_uri
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._log = open(log_path, "ab")
        # own session: a terminal's Ctrl-C reaches the demo, which stops the bridge itself
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, env=env,
                                     start_new_session=True)

    def metrics(self) -> dict[str, float]:
        """Counters from /metrics (``in``, ``out``, ``acked``, ...); empty when not up yet."""
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                        timeout=1) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("mqmigrate_bridge_") and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                short = name.split("{", 1)[0][len("mqmigrate_bridge_"):]
                for suffix in ("_total",):
                    short = short.removesuffix(suffix)
                try:
                    out[short] = out.get(short, 0.0) + float(value)
                except ValueError:
                    pass
        return out

    def progress(self) -> str:
        m = self.metrics()
        return (f"in {int(m.get('messages_in', 0))}, out {int(m.get('messages_out', 0))}, "
                f"acked {int(m.get('messages_acked', 0))}")

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 40.0) -> dict[str, Any]:
        """SIGTERM (graceful: settle what is in flight), wait, return its JSON summary."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float) -> dict[str, Any]:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate(timeout=10)
        self._log.close()
        if self.proc.returncode not in (0, 130):
            raise SandboxError(f"the bridge exited with {self.proc.returncode}",
                               hint=f"its log: {self.log_path}")
        try:
            return json.loads(out.decode() or "{}")
        except ValueError:
            return {}

    def kill(self) -> None:
        """Stop it whatever state it is in: SIGTERM first (it settles what is in flight), then
        SIGKILL after 10 s; losing nothing either way, as the bridge acks only after Kafka."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        if not self._log.closed:
            self._log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the estate ---------------------------------------------------------------------------------

@dataclass
class Estate:
    """Names of what the demo creates, so cleanup removes exactly that."""

    run_id: str
    queue: str
    exchange: str
    dlx: str
    dlq: str
    sqs_queue: str
    sqs_dlq: str
    sqs_urls: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)

    @classmethod
    def named(cls, run_id: str) -> "Estate":
        return cls(run_id=run_id, queue=f"demo.orders-{run_id}", exchange=f"demo.orders-{run_id}.x",
                   dlx=f"demo.orders-{run_id}.dlx", dlq=f"demo.orders-{run_id}.dlq",
                   sqs_queue=f"demo-payments-{run_id}", sqs_dlq=f"demo-payments-{run_id}-dlq")


def seed_rabbitmq(amqp_url: str, e: Estate) -> None:
    """A work queue behind a direct exchange (so it can be shadowed), with a DLX and a TTL."""
    import pika

    try:
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    except Exception as exc:
        raise ConnectionFailed(f"RabbitMQ at {mask_uri(amqp_url)}: {type(exc).__name__}",
                               hint="run 'mqmigrate sandbox status'") from exc
    try:
        ch = conn.channel()
        ch.exchange_declare(e.exchange, "direct", durable=True)
        ch.exchange_declare(e.dlx, "direct", durable=True)
        ch.queue_declare(e.dlq, durable=True)
        ch.queue_bind(e.dlq, e.dlx, e.queue)
        # 10 min TTL: long enough that nothing expires during the demo, visible to assess
        ch.queue_declare(e.queue, durable=True, arguments={
            "x-dead-letter-exchange": e.dlx, "x-message-ttl": 600_000})
        ch.queue_bind(e.queue, e.exchange, e.queue)
    finally:
        conn.close()


def seed_sqs(client: Any, e: Estate) -> None:
    """An SQS queue with a redrive policy to its DLQ (assessed and planned only)."""
    dlq_url = client.create_queue(QueueName=e.sqs_dlq)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = client.create_queue(QueueName=e.sqs_queue, Attributes={
        "VisibilityTimeout": "45",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "4"}),
    })["QueueUrl"]
    e.sqs_urls = [url, dlq_url]


def queue_depth(amqp_url: str, queue: str) -> int:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        conn.close()


def queue_consumers(amqp_url: str, queue: str) -> int:
    """Consumers on ``queue``, 0 when it does not exist (yet)."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        try:
            return int(conn.channel().queue_declare(queue, passive=True).method.consumer_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0
    finally:
        if conn.is_open:
            conn.close()


def cleanup(amqp_url: str, sqs_client: Any, bootstrap: str, e: Estate) -> list[str]:
    """Delete what the demo created; returns what could not be deleted (never raises)."""
    problems: list[str] = []
    try:
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        for q in (e.queue, e.dlq, e.queue + ".mqmigrate-shadow"):
            ch = conn.channel()
            ch.queue_delete(q)
        ch = conn.channel()
        for x in (e.exchange, e.dlx):
            ch.exchange_delete(x)
        conn.close()
    except Exception as exc:
        problems.append(f"RabbitMQ: {type(exc).__name__}")
    for url in e.sqs_urls:
        try:
            sqs_client.delete_queue(QueueUrl=url)
        except Exception as exc:
            problems.append(f"SQS {url}: {type(exc).__name__}")
    if e.topics:
        try:
            from mqmigrate.kafka.admin import delete_topics
            delete_topics(bootstrap, e.topics)
        except Exception as exc:
            problems.append(f"Kafka topics: {type(exc).__name__}")
    return problems


# -- the orchestration --------------------------------------------------------------------------

class _Phases:
    """Wall time per phase."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._name: str | None = None
        self._t = 0.0

    def start(self, name: str) -> None:
        self.end()
        self._name, self._t = name, time.monotonic()

    def end(self) -> None:
        if self._name is not None:
            self.times[self._name] = self.times.get(self._name, 0.0) + time.monotonic() - self._t
            self._name = None


def run_demo(opts: DemoOptions, console: Any, *, shadow_check: ShadowCheck = check_ids_in_topic
             ) -> Summary:
    """Run the whole story; returns the summary. Raises MqMigrateError on setup failures and
    KeyboardInterrupt on Ctrl-C, after stopping every actor and cleaning up either way."""
    if opts.messages < 10:
        raise UsageError("--messages must be at least 10")
    if opts.rate <= 0 or opts.duration <= 0:
        raise UsageError("--rate and --duration must be positive")
    say = Narrator(console)
    phases = _Phases()
    run_id = opts.run_id or time.strftime("%H%M%S") + "-" + uuid.uuid4().hex[:4]
    out_dir = opts.out or Path("mqmigrate-demo") / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    e = Estate.named(run_id)
    ledger = Ledger()

    # 1. sandbox
    phases.start("sandbox")
    from mqmigrate.sandbox import manager
    from mqmigrate.sandbox.registry import services

    ctx = manager.context(log=lambda m: say.step("sandbox", m))
    names = ["kafka", "rabbitmq", "moto"]
    manager.up(ctx, names)
    kafka_svc, rabbit_svc, moto_svc = services(ctx, names)
    bootstrap = kafka_svc.bootstrap
    user, password = rabbit_svc.credentials()
    amqp_url = f"amqp://{user}:{password}@127.0.0.1:{rabbit_svc.port('amqp')}/%2f"
    mgmt_uri = f"rabbitmq+http://{user}:{password}@127.0.0.1:{rabbit_svc.port('management')}"
    sqs_uri = f"sqs+http://demo:demo@127.0.0.1:{moto_svc.port('http')}?region=us-east-1"
    sqs_client = moto_svc.client()
    say.step("sandbox", f"up: Kafka {bootstrap}, RabbitMQ {mask_uri(amqp_url)}, "
                        f"SQS (moto) {moto_svc.endpoint_url}; run {run_id}, files in {out_dir}")

    producer: Producer | None = None
    legacy: LegacyConsumer | None = None
    bridges: list[BridgeProcess] = []
    worker: Any = None
    group: str | None = None
    verify: dict[str, Any] = {}
    try:
        # 2. seed
        phases.start("seed")
        seed_rabbitmq(amqp_url, e)
        seed_sqs(sqs_client, e)
        say.step("seed", f"RabbitMQ queue {e.queue} (exchange {e.exchange}, DLX → {e.dlq}, "
                         f"TTL 10 min); SQS queue {e.sqs_queue} (redrive to {e.sqs_dlq} after 4)")
        topic = e.queue  # what plan derives from the queue name; checked against the playbook
        mode_file = out_dir / "dualwrite.mode"
        _write_mode(mode_file, "source-only")

        # 3. live traffic
        legacy = LegacyConsumer(ledger, amqp_url, e.queue)
        legacy.start()
        if not legacy.started.wait(15) or legacy.error:
            raise ConnectionFailed("the legacy consumer could not start",
                                   hint=str(legacy.error or "timeout"))
        producer = Producer(ledger, amqp_url, e.exchange, e.queue, bootstrap, topic, mode_file,
                            run_id, opts.messages, opts.rate, opts.duration)
        producer.start()
        say.step("traffic", f"producer (dual-write SDK, mode source-only, {opts.rate:g} msg/s, "
                            f"{opts.messages} messages) and legacy consumer (pika, manual acks) "
                            "running")

        # 4. assess, plan, provision
        phases.start("assess")
        assessment = _assess(mgmt_uri, sqs_uri, e)
        counts: dict[str, int] = {}
        for w in assessment.workloads:
            v = str(getattr(w.verdict, "value", w.verdict))
            counts[v] = counts.get(v, 0) + 1
        rules = sorted({f.rule for w in assessment.workloads for f in w.findings})
        say.step("assess", f"{len(assessment.workloads)} workloads ("
                           + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
                           + f"); rules fired: {', '.join(rules)}")
        phases.start("plan")
        from mqmigrate.plan import plan as make_plan, write_plan

        result = make_plan(assessment, name="demo", replication=1, bootstrap=bootstrap)
        written = write_plan(result, out_dir / "playbooks")
        playbook_path = written[0][0]
        from mqmigrate.playbooks import loader

        playbook = loader.load(playbook_path)
        wl = next((w for w in playbook.workloads if w.source.queue == e.queue), None)
        if wl is None:
            raise SandboxError(f"the plan has no workload for {e.queue}",
                               hint=f"see {playbook_path}")
        if wl.target.topic != topic:
            raise SandboxError(f"the plan maps {e.queue} to topic {wl.target.topic}, "
                               f"the producer writes {topic}")
        group = wl.target.consumer.group
        e.topics = [topic, f"{topic}.quarantine"] + ([wl.target.dlq.topic] if wl.target.dlq else [])
        sqs_wl = [w.id for w in playbook.workloads if w.source.kind == "sqs"]
        say.step("plan", f"wrote {playbook_path} ({len(playbook.workloads)} workloads: "
                         f"{', '.join(w.id for w in playbook.workloads)}); the SQS workload "
                         f"{'is' if sqs_wl else 'would be'} planned only: the bridge has no SQS "
                         "adapter yet")
        phases.start("provision")
        from mqmigrate.provision import provision as run_provision

        report = run_provision(playbook, bootstrap, workloads=[wl.id])
        from mqmigrate.kafka.admin import QUARANTINE_TOPIC_CONFIG, ensure_topic

        ensure_topic(bootstrap, f"{topic}.quarantine", config=QUARANTINE_TOPIC_CONFIG)
        say.step("provision", f"topic {topic} ({wl.target.partitions} partitions, replication 1), "
                              f"share group {group}, "
                              f"DLQ {wl.target.dlq.topic if wl.target.dlq else '-'}: "
                              f"{report.applied} change(s) applied")

        # 5. shadow
        phases.start("shadow")
        shadow = BridgeProcess(["--queue", e.queue, "--kafka", bootstrap,
                                "--topic", topic, "--mode", "shadow", "--remove-shadow",
                                # the bridge authenticates with the --source credentials
                                "--management-url",
                                f"http://127.0.0.1:{rabbit_svc.port('management')}",
                                "--max-in-flight", "500"], out_dir / "bridge-shadow.log",
                               amqp_url)
        bridges.append(shadow)
        shadow_q = e.queue + ".mqmigrate-shadow"
        if not say.wait("starting the shadow bridge", lambda: not shadow.running()
                        or queue_consumers(amqp_url, shadow_q) > 0, 60,
                        status=lambda: "waiting for the shadow queue") or not shadow.running():
            shadow.stop(10)
            raise SandboxError("the shadow bridge did not start",
                               hint=f"see {out_dir / 'bridge-shadow.log'}")
        shadow_ready = time.monotonic()
        say.wait("shadow copying", lambda: False, opts.shadow_seconds, status=shadow.progress)
        say.step("shadow", f"{shadow_q} has the bindings of {e.queue}; bridge copying while the "
                           f"legacy consumer works: {shadow.progress()}")

        # 6. verify: ids sent since the shadow queue existed must all be in the topic
        phases.start("verify")
        cut = time.monotonic()
        expected = ledger.sent_between(shadow_ready, cut)
        verify = shadow_check(bootstrap, topic, expected, timeout=30.0)
        say.step("verify", f"{verify['expected']} ids sent since the shadow started: "
                           f"{verify['expected'] - verify['missing']} in {topic}, "
                           f"missing {verify['missing']}, duplicated {verify['duplicated']}")
        if verify["missing"]:
            say.step("verify", "[red]gate failed: the cutover goes on to show the figures, "
                               "but a real migration would stop here[/]")

        # 7. consumers: shadow off, worker on what the shadow did not copy, legacy off
        phases.start("consumers")
        shadow_stats = shadow.stop()
        start_at = end_offsets(bootstrap, topic)
        say.step("consumers", f"shadow bridge stopped ({shadow_stats.get('acked', '?')} copies) "
                              f"and its queue removed; worker starts after offsets {start_at}")
        worker = _start_worker(bootstrap, topic, group, ledger, start_at)
        drain = BridgeProcess(["--queue", e.queue, "--kafka", bootstrap,
                               "--topic", topic, "--mode", "drain", "--idle-exit", "3",
                               "--max-in-flight", "500"], out_dir / "bridge-drain.log",
                              amqp_url)
        bridges.append(drain)
        if not say.wait("starting the drain bridge", lambda: not drain.running()
                        or drain.metrics() != {}, 60, status=lambda: "starting"):
            raise SandboxError("the drain bridge did not start",
                               hint=f"see {out_dir / 'bridge-drain.log'}")
        # the legacy consumer leaves only once the worker receives records: joining a share
        # group takes seconds, and that would otherwise be time without a consumer
        live = say.wait("worker joining the share group", ledger.worker_live.is_set, 30,
                        status=lambda: "waiting for its first record")
        if not live:
            say.step("consumers", "[yellow]the worker got no record within 30 s; stopping the "
                                  "legacy consumer anyway[/]")
        legacy.stop_event.set()
        legacy.join(15)
        say.step("consumers", f"worker (share group {group}) and drain bridge running; legacy "
                              f"consumer stopped after {ledger.processed_by('legacy')} messages")

        # 8. producers: source-only → dual → kafka-only while sending
        phases.start("producers")
        for mode in ("dual", "kafka-only"):
            _write_mode(mode_file, mode)
            sent_before = ledger.counts()[0]
            say.wait(f"producers {mode}", lambda: producer.done or ledger.counts()[0] - sent_before
                     >= max(20, opts.rate), 10, status=lambda: f"sent {ledger.counts()[0]}")
            say.step("producers", f"mode file → {mode}; sent so far {ledger.counts()[0]}")
        producer_ok = say.wait("producer finishing", lambda: producer.done,
                               max(5.0, opts.duration), status=lambda: f"sent {ledger.counts()[0]}")
        producer.stop_event.set()
        producer.join(15)
        if producer.error is not None:
            raise _as_error(producer.error, "producer")
        say.step("producers", f"producer {'finished' if producer_ok else 'stopped at --duration'}: "
                              + ", ".join(f"{n} {m}" for m, n in producer.by_mode.items()))

        # 9. drain: the bridge exits when the source is empty and quiet
        phases.start("drain")
        drained = say.wait("draining", lambda: not drain.running(), 60, status=drain.progress)
        drain_stats = drain.stop(10) if drained else drain.stop()
        depth = queue_depth(amqp_url, e.queue)
        say.step("drain", f"bridge moved {drain_stats.get('acked', '?')} messages, stopped "
                          f"({drain_stats.get('stopped', 'timeout')}); source depth {depth}")
        done = say.wait("worker catching up", lambda: not ledger.unprocessed(), 30,
                        status=lambda: f"{len(ledger.unprocessed())} to go")
        worker.stop()
        worker.join(30)
        say.step("drain", "worker processed everything" if done else
                 f"[red]{len(ledger.unprocessed())} ids never processed[/]")
        phases.end()
    except KeyboardInterrupt:
        say.step("interrupted", "Ctrl-C: stopping the producer, consumers and bridges")
        raise
    finally:
        for actor in (producer, legacy):
            if actor is not None:
                actor.stop_event.set()
        if worker is not None:
            try:
                worker.stop()
                worker.join(15)
            except Exception:
                pass
        for b in bridges:
            b.kill()
        for actor in (producer, legacy):
            if actor is not None:
                actor.join(10)
        if opts.keep:
            say.step("cleanup", f"kept queues and topics of run {run_id} (--keep)")
        else:
            problems = cleanup(amqp_url, sqs_client, bootstrap, e)
            say.step("cleanup", "removed the demo's queues and topics" + (
                "; could not remove: " + "; ".join(problems) if problems else ""))
    summary = summarize(ledger.sent_at, ledger.events, skipped=ledger.skipped,
                        shadow_skipped=ledger.shadow_skipped, phases=phases.times, verify=verify,
                        run_id=run_id, topic=e.queue)
    (out_dir / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


def _write_mode(path: Path, mode: str) -> None:
    # write then rename: a producer never reads a half-written file
    tmp = path.with_suffix(".tmp")
    tmp.write_text(mode + "\n")
    tmp.replace(path)


def _assess(mgmt_uri: str, sqs_uri: str, e: Estate) -> Any:
    """The live assessment of the demo's queues only (each source filtered by its prefix)."""
    from mqmigrate.assessment.model import KafkaCapabilities
    from mqmigrate.inventory.model import Estate as InventoryEstate
    from mqmigrate.inventory.readers import read_source
    from mqmigrate.plan import from_estate, origin_label

    sources = (read_source(mgmt_uri, prefix=f"demo.orders-{e.run_id}")
               + read_source(sqs_uri, prefix=f"demo-payments-{e.run_id}"))
    return from_estate(InventoryEstate(sources=sources), KafkaCapabilities.parse("4.4"),
                       origin=origin_label([mgmt_uri, sqs_uri]))


def _start_worker(bootstrap: str, topic: str, group: str, ledger: Ledger,
                  start_at: Mapping[int, int]) -> Any:
    """The migrated consumer: ``mqmigrate.worker`` on the share group.

    The group reads from ``earliest`` (set by provision), and the handler accepts the shadow
    copies (offsets below ``start_at``) without processing them: every message they copy is
    either processed by the legacy consumer already or still in the source queue, where the
    drain bridge will take it. Ids processed before (a legacy ack lost at stop, a dual-write
    pair) are recognised by ``mq.source.id`` and skipped, and counted.
    """
    from mqmigrate.worker import Worker

    def handle(msg: Any) -> None:
        ledger.worker_live.set()
        if msg.offset < start_at.get(msg.partition, 0):
            ledger.skip_shadow_copy()
            return
        ledger.claim(msg.message_id, "worker")

    worker = Worker(bootstrap, topic, group, handle, concurrency=1, max_poll_records=200,
                    metrics=False, install_signal_handlers=False)
    worker.start()
    return worker


def _as_error(exc: BaseException, what: str) -> MqMigrateError:
    if isinstance(exc, MqMigrateError):
        return exc
    return ConnectionFailed(f"the {what} failed: {type(exc).__name__}: {exc}")
