"""Zero downtime, per source kind: a live service is migrated by ``mqmigrate cutover`` while it
sends and processes messages, and nothing is lost (issue #6's proof).

The service (:func:`follow_switch` and :class:`Producer`) is what a team runs during a migration: a producer on the
dual-write SDK (``mqmigrate.sdk.dualwrite``) whose mode the ``producers.*`` steps write, and a
consumer side that follows the consumer switch the ``consumers.kafka`` / ``consumers.source``
steps write (``mqmigrate.sdk.consumerswitch``): the old source consumer, or ``mqmigrate.sdk.worker`` on
the share group.  Nothing in the test flips a switch itself: every change of which consumer runs
and where producers write comes from a step of the playbook ``mqmigrate plan`` generated, run by
the ``cutover`` CLI as a separate process.

The run: shadow → verify → consumers (drain-only: consumers only), then ``cutover rollback``
to the phase before consumers, forward again, the ``cutover`` process SIGKILLed
mid-consumers-phase (its gates), and a resumed run through producers and drain.  Gates keep their metrics and thresholds (real
measurements: bridge /metrics, verify, Kafka's ShareGroupCommand, DLQ end offsets, management
API) with their ``for_seconds`` shortened to 2 s for test time.

Afterwards, from the service's own records (``mqmigrate.demo.traffic.summarize``):
* lost = 0: every id sent was processed;
* duplicates <= :func:`duplicate_bound`: each handover may repeat at most the in-flight window
  of the component it stops (see there);
* the longest time a sent message waited with nothing processed is printed and < 5 s.

Then, for kinds whose playbook removes a shadow copy, decommission runs up to its step for a
person (deleting the source queue): ``source.delete-shadow`` must have removed the copy from
the broker.

Source kinds plug in with a :class:`SourceKind` (producer side, old consumer, plan URI, queue
cleanup, the strategy ``plan`` chooses, shadow check): RabbitMQ (pika) and AMQP 1.0 on
ActiveMQ Artemis (planned through Jolokia, ``ProtonSource`` producer, a proton receiver as old
consumer, the bridge's divert as shadow) prove shadow-then-drain; SQS proves drain-only on
ElasticMQ (a queue no SNS topic feeds, ``plan``'s default; moto, the only SNS here, is too slow
for a few hundred msg/s, see docs/testing.md).

``rabbitmq-secured`` is the RabbitMQ kind with every connection secured: amqps and the
management API over https (the sandbox CA), Kafka a private broker with no PLAINTEXT client
listener, reached only through its SCRAM client file (the playbook's ``kafka.credentials``,
the SDKs' ``kafka_config=``); the drain bridge and the service are checked to hold Kafka
connections to the SASL_SSL listener only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import quote

import httpx
import pytest
import yaml

from mqmigrate.sdk import consumerswitch
from mqmigrate.cutover import bridgeproc
from mqmigrate.cutover.runner import run_dir
from mqmigrate.demo.traffic import LEGACY_PREFETCH, LegacyConsumer, TrafficRecord, summarize
from mqmigrate.kafka import share
from mqmigrate.kafka.config import KafkaConfig, as_kafka_config, read_config_file
from mqmigrate.playbooks.state import state_path
from mqmigrate.sdk.headers import SQS_SOURCE_ID_ATTRIBUTE

# heavy: a live service at 200 msg/s, a bridge and a worker through a whole cutover
pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow, pytest.mark.heavy]

ROOT = Path(__file__).resolve().parents[2]

#: messages per second the producer sends (paced), and the hard cap on messages in a run
RATE = 200.0
MAX_MESSAGES = 40_000
#: records the worker takes per poll: its in-flight window
WORKER_BATCH = 100
#: the drain bridge's in-flight window (``mqmigrate bridge`` default --max-in-flight)
BRIDGE_IN_FLIGHT = 2000
#: the worker leaves after a switch back to the source once idle this long
WORKER_IDLE_EXIT = 3.0
#: longest acceptable time a sent message waits while nothing is processed
MAX_GAP_S = 5.0
#: the SQS old consumer's receive batch (the SQS maximum): its in-flight window
SQS_RECEIVE_BATCH = 10
#: the SQS queue's visibility timeout: a message a stopped component held comes back after it
SQS_VISIBILITY_S = 10
SQS_REGION = "us-east-1"
#: the whole test must finish within this (the run takes ~2-3 minutes on the sandbox)
TEST_BUDGET_S = 420.0


# -- source kinds ---------------------------------------------------------------------------


class OldConsumer(Protocol):
    """The service's consumer before the migration; started once, stopped once."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class SourceKind:
    """What the harness needs of a source kind.

    ``plan_uri`` is what ``mqmigrate plan`` assesses (live endpoint, credentials inside: the
    plan writes none of them into the playbook); ``source_side()`` the dual-write SDK's source
    adapter; ``old_consumer(traffic)`` the consumer the service ran before (it records each id it
    processes with ``traffic.record(id, "legacy")``) and ``old_in_flight`` the most messages it
    holds unacknowledged; ``env`` the variables the playbook's credential reference needs (set
    before ``source_side`` or ``old_consumer`` is called); ``cleanup()`` removes the queues;
    ``shadow_exists()`` says whether the broker still holds the shadow copy (checked around
    ``source.delete-shadow``).
    """

    name: str
    plan_uri: str
    queue: str
    source_side: Callable[[], Any]
    old_consumer: Callable[[TrafficRecord], OldConsumer]
    #: the strategy ``plan`` chooses for this source
    strategy: str = "shadow-then-drain"
    old_in_flight: int = LEGACY_PREFETCH
    env: dict[str, str] = field(default_factory=dict)
    cleanup: Callable[[], None] = lambda: None
    #: whether the shadow copy still exists on the broker (kinds with a shadow strategy)
    shadow_exists: Callable[[], bool] | None = None
    #: a Kafka other than the sandbox's (another release) and the version plan targets
    kafka_bootstrap: str | None = None
    kafka_version: str | None = None
    #: a secured run: the Kafka client properties file every Kafka client uses (the
    #: playbook's ``kafka.credentials``, the SDKs' ``kafka_config=``); None: plaintext
    kafka_config: Path | None = None


class _ThreadedOldConsumer:
    """A consumer thread (``started``, ``stop_event``, ``error``) behind :class:`OldConsumer`:
    started and checked, stopped and checked the same way for every source kind."""

    def __init__(self, thread: threading.Thread):
        self.thread = thread

    def start(self) -> None:
        self.thread.start()
        assert self.thread.started.wait(15) and self.thread.error is None, self.thread.error

    def stop(self) -> None:
        self.thread.stop_event.set()
        self.thread.join(15)
        assert not self.thread.is_alive() and self.thread.error is None, self.thread.error


def rabbitmq_kind(rabbitmq_service, name: str, *, kafka_config: Path | None = None) -> SourceKind:
    """A durable queue bound to a direct exchange (a shadow queue copies its bindings).

    With ``kafka_config`` every connection is secured: amqps and management over https (the
    sandbox CA), Kafka through that client properties file."""
    from mqmigrate.sdk.dualwrite import PikaSource

    user, password = rabbitmq_service.credentials()
    if kafka_config is None:
        management = f"http://127.0.0.1:{rabbitmq_service.port('management')}"
        amqp = f"amqp://{quote(user)}:{quote(password)}@127.0.0.1:{rabbitmq_service.port('amqp')}/"
        plan_uri = management.replace("http://", f"rabbitmq+http://{user}:{password}@")
        verify: Any = True
    else:
        ca = rabbitmq_service.tls_files.ca_cert
        management = f"https://localhost:{rabbitmq_service.port('management_tls')}"
        amqp = (
            f"amqps://{quote(user)}:{quote(password)}@localhost:"
            f"{rabbitmq_service.port('amqps')}/?cafile={ca}"
        )
        plan_uri = (
            management.replace("https://", f"rabbitmq+https://{user}:{password}@") + f"?cafile={ca}"
        )
        verify = str(ca)
    api = httpx.Client(base_url=management, auth=(user, password), timeout=15, verify=verify)
    q, x = name, f"{name}.x"
    assert api.put(f"/api/exchanges/%2F/{x}", json={"type": "direct", "durable": True}).is_success
    assert api.put(f"/api/queues/%2F/{q}", json={"durable": True}).is_success
    assert api.post(f"/api/bindings/%2F/e/{x}/q/{q}", json={"routing_key": "k"}).is_success

    def cleanup() -> None:
        for queue in (q, q + ".mqmigrate-shadow"):
            api.delete(f"/api/queues/%2F/{quote(queue, safe='')}")
        api.delete(f"/api/exchanges/%2F/{x}")
        api.close()

    return SourceKind(
        name="rabbitmq" if kafka_config is None else "rabbitmq-secured",
        queue=q,
        plan_uri=plan_uri,
        kafka_config=kafka_config,
        source_side=lambda: PikaSource(amqp, routing_key="k", exchange=x),
        old_consumer=lambda traffic: _ThreadedOldConsumer(LegacyConsumer(traffic, amqp, q)),
        env={"RABBITMQ_URI": amqp},
        cleanup=cleanup,
        shadow_exists=lambda: (
            api.get(f"/api/queues/%2F/{quote(q + '.mqmigrate-shadow', safe='')}").status_code != 404
        ),
    )


class _ProtonConsumer(threading.Thread):
    """The AMQP 1.0 service's consumer before the migration: a proton receiver with credit
    ``LEGACY_PREFETCH`` that accepts each message after recording it.  On stop it closes its
    connection: Artemis puts every delivery it has not seen accepted back in the queue."""

    def __init__(self, traffic: TrafficRecord, url: str, user: str, password: str, queue: str):
        super().__init__(name="zd-proton-consumer", daemon=True)
        self.traffic, self.url, self.user, self.password = traffic, url, user, password
        self.queue = queue
        self.stop_event = threading.Event()
        self.started = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from proton import Timeout
        from proton.utils import BlockingConnection

        from mqmigrate.sources.amqp1 import queue_capability

        try:
            conn = BlockingConnection(self.url, user=self.user, password=self.password, timeout=10)
            try:
                receiver = conn.create_receiver(
                    self.queue, credit=LEGACY_PREFETCH, options=[queue_capability()]
                )
                self.started.set()
                while not self.stop_event.is_set():
                    try:
                        message = receiver.receive(timeout=0.1)
                    except Timeout:
                        continue
                    self.traffic.record(str(message.id or ""), "legacy")
                    receiver.accept()
            finally:
                conn.close()
        except BaseException as exc:  # the test fails on it; never swallowed
            self.error = exc
            self.started.set()


def amqp1_kind(artemis_service, name: str) -> SourceKind:
    """A durable anycast queue on ActiveMQ Artemis, planned from its Jolokia API; the shadow
    copy is the bridge's non-exclusive divert (docs/bridge.md, "Shadow over AMQP 1.0")."""
    from mqmigrate.sdk.dualwrite import ProtonSource
    from mqmigrate.sources.amqp1.adapter import DIVERT_SUFFIX, SHADOW_SUFFIX
    from mqmigrate.sources.amqp1.artemis import ArtemisManagement

    user, password = artemis_service.credentials()
    url = f"amqp://127.0.0.1:{artemis_service.port('acceptor')}"
    console = f"127.0.0.1:{artemis_service.port('console')}"
    management = ArtemisManagement(
        f"artemis+http://{quote(user, safe='')}:{quote(password, safe='')}@{console}"
    )
    management.create_queue(name, name, "anycast")

    def cleanup() -> None:
        # the shadow copy first (the cutover ran no decommission), then the queue
        from mqmigrate.sources.amqp1.artemis import remove_shadow

        remove_shadow(management, name)
        if management.find_queue(name) is not None:
            management.destroy_queue(name)
        if management.address_routing(name):
            management.delete_address(name)
        management.close()

    return SourceKind(
        name="amqp1",
        queue=name,
        plan_uri=f"artemis+http://{quote(user)}:{quote(password)}@{console}",
        source_side=lambda: ProtonSource(
            url, name, user=user, password=password, capabilities=("queue",)
        ),
        old_consumer=lambda traffic: _ThreadedOldConsumer(
            _ProtonConsumer(traffic, url, user, password, name)
        ),
        env={"AMQP1_URI": url.replace("amqp://", f"amqp1://{quote(user)}:{quote(password)}@")},
        cleanup=cleanup,
        shadow_exists=lambda: (
            name + DIVERT_SUFFIX in management.divert_names()
            or management.find_queue(name + SHADOW_SUFFIX) is not None
        ),
    )


class SqsConsumer(threading.Thread):
    """The service's SQS consumer before the migration, as such services are written: boto3
    ``receive_message`` (up to ``SQS_RECEIVE_BATCH``, long poll), process each, then
    ``delete_message_batch``.  On stop, messages received and not processed are made visible
    again at once (visibility 0), so the drain bridge takes them without waiting out the
    visibility timeout."""

    def __init__(self, traffic: TrafficRecord, client: Any, queue_url: str):
        super().__init__(name="zd-sqs-consumer", daemon=True)
        self.traffic, self.client, self.queue_url = traffic, client, queue_url
        self.stop_event = threading.Event()
        self.started = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.started.set()
            while not self.stop_event.is_set():
                got = self.client.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=SQS_RECEIVE_BATCH,
                    WaitTimeSeconds=1,
                    MessageAttributeNames=[SQS_SOURCE_ID_ATTRIBUTE],
                )
                done, handed_back = [], []
                for message in got.get("Messages", []):
                    entry = {
                        "Id": str(len(done) + len(handed_back)),
                        "ReceiptHandle": message["ReceiptHandle"],
                    }
                    if self.stop_event.is_set():
                        handed_back.append({**entry, "VisibilityTimeout": 0})
                        continue
                    attrs = message.get("MessageAttributes", {})
                    self.traffic.record(attrs[SQS_SOURCE_ID_ATTRIBUTE]["StringValue"], "legacy")
                    done.append(entry)
                if done:
                    failed = self.client.delete_message_batch(
                        QueueUrl=self.queue_url, Entries=done
                    ).get("Failed")
                    assert not failed, failed
                if handed_back:
                    self.client.change_message_visibility_batch(
                        QueueUrl=self.queue_url, Entries=handed_back
                    )
        except BaseException as exc:  # the test fails on it; never swallowed
            self.error = exc
            self.started.set()


def sqs_kind(elasticmq_service, name: str, tmp_path: Path) -> SourceKind:
    """A standard queue on ElasticMQ, fed by its producers directly (no SNS), so ``plan``
    chooses drain-only.  The credentials come through boto3's own chain: the profile the
    playbook's ``AWS_PROFILE`` names, in config files of the test's own."""
    import boto3

    from mqmigrate.sdk.dualwrite import SqsSource

    endpoint = elasticmq_service.endpoint_url
    profile = "mqmigrate-zd"
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text(f"[profile {profile}]\nregion = {SQS_REGION}\n")
    credentials.write_text(f"[{profile}]\naws_access_key_id = zd\naws_secret_access_key = zd\n")
    env = {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_PROFILE": profile,
    }

    def client() -> Any:
        session = boto3.Session(profile_name=profile)
        return session.client("sqs", endpoint_url=endpoint)

    admin = elasticmq_service.client()  # the service's own clients are made once env is set
    url = admin.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": str(SQS_VISIBILITY_S)}
    )["QueueUrl"]

    def cleanup() -> None:
        admin.delete_queue(QueueUrl=url)

    return SourceKind(
        name="sqs",
        queue=name,
        plan_uri=f"{endpoint.replace('http://', 'sqs+http://')}?region={SQS_REGION}",
        source_side=lambda: SqsSource(url, client=client()),
        old_consumer=lambda traffic: _ThreadedOldConsumer(SqsConsumer(traffic, client(), url)),
        strategy="drain-only",
        old_in_flight=SQS_RECEIVE_BATCH,
        env=env,
        cleanup=cleanup,
    )


#: each kind's fixture factory
KINDS = [
    pytest.param("rabbitmq", marks=pytest.mark.rabbitmq, id="rabbitmq"),
    # every connection secured: amqps, management over https, Kafka over SASL_SSL only
    pytest.param("rabbitmq-secured", marks=pytest.mark.rabbitmq, id="rabbitmq-secured"),
    pytest.param("sqs", marks=pytest.mark.sqs, id="sqs"),
    pytest.param("amqp1", marks=pytest.mark.amqp1, id="amqp1"),
    # RabbitMQ 4.x (a chroot node of this module, see conftest.rabbitmq4_service)
    pytest.param("rabbitmq4", marks=[pytest.mark.rabbitmq, pytest.mark.compat], id="rabbitmq4"),
    # the sandbox's RabbitMQ onto Kafka 4.2 (no per-group delivery limit, no broker DLQ: the
    # plan for 4.2, the worker dead-lettering itself)
    pytest.param(
        "rabbitmq-kafka-4.2",
        marks=[pytest.mark.rabbitmq, pytest.mark.compat],
        id="rabbitmq-kafka-4.2",
    ),
    # onto Kafka 4.3 (per-group delivery limit, no broker DLQ: the worker dead-letters itself)
    pytest.param(
        "rabbitmq-kafka-4.3",
        marks=[pytest.mark.rabbitmq, pytest.mark.compat],
        id="rabbitmq-kafka-4.3",
    ),
]


def _older_kafka(tmp_path, kafka_service, version: str):
    """A private Kafka broker of an older release, started (jars cached like the sandbox's)."""
    from tests.support.brokers import PrivateKafka

    broker = PrivateKafka(
        tmp_path / f"kafka-{version}",
        kafka_service.ctx.cache_dir,
        name=f"kafka-{version}",
        version=version,
        heap="768m",
    )
    broker.start()
    return broker


@pytest.fixture
def kafka_4_2(tmp_path, kafka_service):
    """A private Kafka 4.2.2 broker for one run."""
    broker = _older_kafka(tmp_path, kafka_service, "4.2.2")
    yield broker
    broker.stop()


@pytest.fixture
def kafka_4_3(tmp_path, kafka_service):
    """A private Kafka 4.3.2 broker for one run."""
    broker = _older_kafka(tmp_path, kafka_service, "4.3.2")
    yield broker
    broker.stop()


@pytest.fixture
def source_kind(request, unique_name, monkeypatch) -> SourceKind:
    if request.param == "rabbitmq":
        kind = rabbitmq_kind(request.getfixturevalue("rabbitmq_service"), unique_name)
    elif request.param == "rabbitmq4":
        kind = rabbitmq_kind(request.getfixturevalue("rabbitmq4_service"), unique_name)
    elif request.param in ("rabbitmq-kafka-4.2", "rabbitmq-kafka-4.3"):
        release = request.param.removeprefix("rabbitmq-kafka-")
        kind = rabbitmq_kind(request.getfixturevalue("rabbitmq_service"), unique_name)
        kafka = request.getfixturevalue("kafka_" + release.replace(".", "_"))
        kind.kafka_bootstrap, kind.kafka_version = kafka.bootstrap, release
    elif request.param == "rabbitmq-secured":
        # the session's broker with no PLAINTEXT client listener (tests/conftest.py):
        # nothing in the secured run can fall back to plaintext Kafka
        kafka = request.getfixturevalue("secured_only_kafka").service
        kind = rabbitmq_kind(
            request.getfixturevalue("rabbitmq_service"),
            unique_name,
            kafka_config=kafka.client_properties_file("scram"),
        )
    elif request.param == "sqs":
        kind = sqs_kind(
            request.getfixturevalue("elasticmq_service"),
            unique_name,
            request.getfixturevalue("tmp_path"),
        )
    elif request.param == "amqp1":
        kind = amqp1_kind(request.getfixturevalue("artemis_service"), unique_name)
    else:  # pragma: no cover
        raise NotImplementedError(request.param)
    for name, value in kind.env.items():
        monkeypatch.setenv(name, value)
    yield kind
    kind.cleanup()


# -- the service ----------------------------------------------------------------------------


class Producer(threading.Thread):
    """Sends unique ids at ``RATE`` through the dual-write SDK; the mode file is the one the
    ``producers.*`` steps write."""

    def __init__(
        self,
        kind: SourceKind,
        kafka: "KafkaConfig | str",
        topic: str,
        mode_file: Path,
        traffic: TrafficRecord,
        run_id: str,
    ):
        super().__init__(name="zd-producer", daemon=True)
        from mqmigrate.sdk.dualwrite import DualWriter, FileMode

        self.traffic, self.run_id = traffic, run_id
        self.writer = DualWriter(
            kind.source_side(),
            kafka,
            topic,
            mode_source=FileMode(mode_file, interval=0.1),
            metrics=False,
        )
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.by_mode: dict[str, int] = {}
        #: messages a side failed on and the SDK spooled for replay (none expected)
        self.spooled = 0

    def run(self) -> None:
        start, n = time.monotonic(), 0
        try:
            while n < MAX_MESSAGES and not self.stop_event.is_set():
                message_id = f"{self.run_id}-{n:06d}"
                t0 = time.monotonic()
                result = self.writer.send(json.dumps({"n": n}).encode(), message_id=message_id)
                self.traffic.sent(message_id, t0, time.monotonic())
                self.by_mode[result.mode.value] = self.by_mode.get(result.mode.value, 0) + 1
                self.spooled += len(result.spooled)
                n += 1
                pause = start + n / RATE - time.monotonic()
                if pause > 0:
                    self.stop_event.wait(pause)
        except BaseException as exc:  # the test fails on it; never swallowed
            self.error = exc
        finally:
            self.writer.close()


def follow_switch(
    kind: SourceKind,
    kafka: "KafkaConfig | str",
    topic: str,
    group: str,
    switch_file: Path,
    traffic: TrafficRecord,
) -> consumerswitch.Follower:
    """The consumer side of the service: its old consumer and ``mqmigrate.sdk.worker`` run by
    ``mqmigrate.sdk.consumerswitch.Follower`` as the switch says; every id processed is recorded
    (duplicates included: nothing here deduplicates)."""
    from mqmigrate.sdk.worker import Worker

    def start_old() -> OldConsumer:
        old = kind.old_consumer(traffic)
        old.start()
        return old

    def start_worker(handle: Callable) -> Any:
        worker = Worker(
            None,
            topic,
            group,
            handle,
            kafka_config=kafka,
            concurrency=1,
            max_poll_records=WORKER_BATCH,
            metrics=False,
            install_signal_handlers=False,
        )
        worker.start()
        return worker

    return consumerswitch.Follower(
        consumerswitch.ConsumerSwitch(switch_file, interval=0.1),
        lambda message: traffic.record(message.message_id, "worker"),
        start_source=start_old,
        start_worker=start_worker,
        idle_exit=WORKER_IDLE_EXIT,
    )


def duplicate_bound(kind: SourceKind, service: consumerswitch.Follower, bridge_stops: int) -> int:
    """The most ids a correct handover may process twice.

    A message is processed twice only when a consumer or bridge stops with work in flight:
    * the old consumer (``kind.old_in_flight``: RabbitMQ prefetch, SQS receive batch): a message
      processed whose ack (delete) did not reach the broker before it stopped is redelivered;
    * the worker (``WORKER_BATCH`` per poll): a record processed whose ACCEPT was not committed
      is redelivered by the share group;
    * a drain bridge (``BRIDGE_IN_FLIGHT``): a message written to Kafka whose source ack was not
      settled at stop stays in the source and is taken again.
    Shadow copies are never a source of duplicates: the cut makes the worker skip them.  Each
    stop counts once, so the bound is the sum of the windows of the stops the run made.
    """
    return (
        kind.old_in_flight * service.source_stops
        + WORKER_BATCH * service.worker_stops
        + BRIDGE_IN_FLIGHT * bridge_stops
    )


# -- the cutover as its own process ---------------------------------------------------------


RUN = ["--yes", "--poll-interval", "1", "--gate-timeout", "90"]


def cutover(
    command: str, path: Path, *args: str, timeout: float = 240
) -> subprocess.CompletedProcess:
    """``mqmigrate cutover COMMAND PLAYBOOK ARGS`` as its own process; its stderr is echoed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "mqmigrate", "cutover", command, str(path), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    sys.stderr.write(done.stderr)
    return done


def stamped(path: Path, workload: str) -> list[str]:
    try:
        data = json.loads(state_path(path).read_text())
    except (OSError, ValueError):
        return []
    return [a["step"] for a in data["workloads"].get(workload, {}).get("applied", [])]


def wait_for(
    what: str, check: Callable[[], Any], timeout: float, detail: Callable[[], str] = lambda: ""
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} {detail()}".rstrip())


def tcp_connections(pid: int) -> dict[str, int]:
    """Process ``pid``'s established TCP connections: socket inode -> remote port (from /proc:
    its socket inodes matched against the IPv4/IPv6 TCP tables)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    connections = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes and fields[3] == "01":  # ESTABLISHED
                connections[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    return connections


def remote_ports(pid: int) -> set[int]:
    """The remote TCP ports process ``pid`` has connections to."""
    return set(tcp_connections(pid).values())


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def plaintext_sockets(pid: int, plaintext: str) -> set[str]:
    """The sockets of process ``pid`` connected to the PLAINTEXT listener ``plaintext``."""
    port = port_of(plaintext)
    return {inode for inode, remote in tcp_connections(pid).items() if remote == port}


def assert_secured_kafka_only(
    pid: int, secured: str, plaintext: str, *, earlier: set[str] = frozenset()
) -> None:
    """Process ``pid`` talks to Kafka on the secured listener and opened no connection to the
    PLAINTEXT one (``earlier``: plaintext sockets it held before the run, e.g. this pytest
    process's from other tests of the session, which are not this run's clients)."""
    wait_for(
        f"process {pid} connected to {secured}",
        lambda: port_of(secured) in remote_ports(pid),
        30,
    )
    opened = plaintext_sockets(pid, plaintext) - set(earlier)
    assert not opened, (pid, sorted(remote_ports(pid)))


def shorten_gates(doc: dict) -> None:
    """Every gate keeps its metric and threshold; ``for_seconds`` becomes at most 2."""
    for phase in doc["workloads"][0]["phases"].values():
        for gate in phase.get("gates", []):
            gate["for_seconds"] = min(gate["for_seconds"], 2)


# -- the test -------------------------------------------------------------------------------


@pytest.mark.parametrize("source_kind", KINDS, indirect=True)
def test_zero_downtime_cutover_with_rollback_and_kill(
    source_kind, kafka_bootstrap, tmp_path, capsys
):
    from mqmigrate.cli import main

    t_start = time.monotonic()
    kind = source_kind
    # the secured kind: every Kafka client through the client file, none on PLAINTEXT; the
    # version kinds: another release's broker, and the version plan targets
    kafka = (
        read_config_file(kind.kafka_config)
        if kind.kafka_config
        else kind.kafka_bootstrap or kafka_bootstrap
    )
    bootstrap = as_kafka_config(kafka).bootstrap
    assert kind.kafka_config is None or bootstrap != kafka_bootstrap
    # this process's PLAINTEXT Kafka connections before the run (other tests' clients)
    plaintext_before = plaintext_sockets(os.getpid(), kafka_bootstrap)
    out = tmp_path / "playbooks"
    version = ["--kafka-version", kind.kafka_version] if kind.kafka_version else []
    assert (
        main(
            [
                "plan",
                kind.plan_uri,
                "--prefix",
                kind.queue,
                "--name",
                "zd",
                *version,
                "--replication",
                "1",
                "--kafka",
                bootstrap,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    path = out / "zd.yaml"
    doc = yaml.safe_load(path.read_text())
    if kind.kafka_config is not None:  # the connection by reference, never its secret
        doc["kafka"]["credentials"] = {"file": str(kind.kafka_config)}
    wl = doc["workloads"][0]
    wid, topic = wl["id"], wl["target"]["topic"]
    group = wl["target"]["consumer"]["group"]
    assert wl["strategy"] == kind.strategy
    steps = {p: [s["action"] for s in wl["phases"][p]["steps"]] for p in wl["phases"]}
    # the phase a rollback from the consumers phase returns to, and the steps stamped by then
    phases = list(wl["phases"])
    before_consumers = phases[phases.index("consumers") - 1]
    stamped_before = [
        s["id"] for p in phases[: phases.index("consumers")] for s in wl["phases"][p]["steps"]
    ]
    consumers_steps = [s["id"] for s in wl["phases"]["consumers"]["steps"]]
    # the switches the service follows are the plan's own steps
    assert "consumers.kafka" in steps["consumers"] and "producers.kafka-only" in steps["producers"]
    assert "consumers.source" in [s["action"] for s in wl["phases"]["consumers"]["rollback"]]
    shorten_gates(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    rd = run_dir(path)

    traffic = TrafficRecord()
    service = follow_switch(kind, kafka, topic, group, rd / f"{wid}.consumers.json", traffic)
    producer: Producer | None = None
    bridge_stops = 0
    try:
        # provision first: the producer's Kafka side and the worker need the topic
        assert cutover("run", path, "--until", "provision", *RUN).returncode == 0
        service.start()
        producer = Producer(kind, kafka, topic, rd / f"{wid}.mode", traffic, run_id=kind.queue[-8:])
        producer.start()
        wait_for("the old consumer processing", lambda: traffic.processed_by("legacy") > 50, 30)

        # (shadow, verify,) consumers: the service moves to the worker when switch-consumers runs
        done = cutover("run", path, "--until", "consumers", *RUN)
        assert done.returncode == 0, done.stderr[-2000:]
        assert stamped(path, wid) == stamped_before + consumers_steps, stamped(path, wid)
        assert consumers_steps[-2:] == ["switch-consumers", "drain-bridge"]
        wait_for("the worker taking over", lambda: service.source is None and service.worker, 30)
        time.sleep(3)
        if kind.kafka_config is not None:
            # the drain bridge the cutover started, and this process (dual-write producer,
            # worker): Kafka on the SASL_SSL listener only
            assert_secured_kafka_only(bridgeproc.running(rd, wid).pid, bootstrap, kafka_bootstrap)
            assert_secured_kafka_only(
                os.getpid(), bootstrap, kafka_bootstrap, earlier=plaintext_before
            )

        # rollback from the consumers phase: the old consumer is back (and a shadow copies
        # again; drain-only has none)
        done = cutover("rollback", path, "--to", before_consumers, "--yes")
        assert done.returncode == 0, done.stderr[-2000:]
        bridge_stops += 1  # the consumers-phase drain bridge
        assert stamped(path, wid) == stamped_before, stamped(path, wid)
        after_rollback = bridgeproc.running(rd, wid)
        if kind.strategy == "shadow-then-drain":
            assert after_rollback is not None and after_rollback.mode == "shadow"
        else:
            assert after_rollback is None
        wait_for(
            "the old consumer back, the worker finished",
            lambda: service.source is not None and service.worker is None,
            60,
        )
        time.sleep(3)

        # forward again; SIGKILL the cutover process while it waits on the consumers gates
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [
            sys.executable,
            "-m",
            "mqmigrate",
            "cutover",
            "run",
            str(path),
            "--until",
            "drain",
            *RUN,
        ]
        first = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for("drain-bridge stamped", lambda: "drain-bridge" in stamped(path, wid), 120)
            time.sleep(1.0)  # inside the consumers gates
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(timeout=10)
        killed_at = stamped(path, wid)
        assert killed_at[-1] == "drain-bridge" and "kafka-only" not in killed_at
        assert bridgeproc.running(rd, wid).mode == "drain"  # bridges outlive the cutover

        done = cutover("run", path, "--until", "drain", *RUN)
        assert done.returncode == 0, done.stderr[-2000:]
        bridge_stops += 1  # source.drain replaces the consumers-phase drain bridge
        ran = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("run ")]
        assert ran == [f"{wid}/kafka-only", f"{wid}/source-drained"]  # no step repeated
        status = json.loads(cutover("status", path, "--format", "json").stdout)
        assert status["workloads"][wid]["next"]["phase"] == "decommission"
        assert producer.by_mode.get("kafka-only", 0) > 0

        # decommission up to its step for a person: the drain bridge is done, the shadow
        # copy removed from the broker; deleting the source queue waits for a person
        if "source.delete-shadow" in steps["decommission"]:
            assert kind.shadow_exists is not None and kind.shadow_exists()
            done = cutover("run", path, *RUN)
            assert done.returncode == 1 and "needs a person" in done.stderr, done.stderr[-2000:]
            assert "remove-shadow" in stamped(path, wid)
            assert not kind.shadow_exists()

        # the producer keeps going a moment on Kafka only, then stops; the worker finishes
        time.sleep(2)
        producer.stop_event.set()
        producer.join(30)
        assert producer.error is None, producer.error
        assert producer.spooled == 0
        wait_for(
            "every sent id processed",
            lambda: not traffic.unprocessed(),
            60,
            lambda: f"({len(traffic.unprocessed())} not, e.g. {sorted(traffic.unprocessed())[:5]})",
        )
    finally:
        if producer is not None:
            producer.stop_event.set()
            producer.join(30)
        service.shutdown()
        bridgeproc.stop(rd, wid, timeout=30)
        share.delete_topics(
            share.admin_client(kafka),
            [topic, wl["target"]["dlq"]["topic"], topic + ".quarantine"],
            missing_ok=True,
        )
    assert service.error is None, service.error

    summary = summarize(traffic.sent_at, traffic.events)
    bound = duplicate_bound(kind, service, bridge_stops)
    elapsed = time.monotonic() - t_start
    print(
        f"\nzero-downtime {kind.name}: sent {summary.sent}, processed {summary.processed} "
        f"(old consumer {summary.processed_legacy}, worker {summary.processed_worker}), "
        f"lost {summary.lost}, duplicated {summary.duplicated} (bound {bound}), "
        f"shadow copies skipped {service.skipped}, longest gap {summary.longest_gap_s:.3f} s, "
        f"producer modes {producer.by_mode}, {elapsed:.0f} s"
    )
    assert summary.lost == 0, summary.lost_ids
    assert summary.processed_legacy > 0 and summary.processed_worker > 0
    assert summary.duplicated <= bound
    assert summary.longest_gap_s < MAX_GAP_S
    assert elapsed < TEST_BUDGET_S
