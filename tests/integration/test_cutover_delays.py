"""Cutover gates and delayed messages: a drain must not end while the source still holds
messages that are only delayed (SQS ``DelaySeconds``), or they would be stranded when the
source is decommissioned."""

from __future__ import annotations

import threading
import time

import pytest

from mqmigrate.kafka import delays
from mqmigrate.cutover.probes import SourceDepthProbe
from mqmigrate.cutover.source import SourceAccess

pytestmark = [pytest.mark.integration, pytest.mark.sqs]


def _aws_profile(tmp_path, monkeypatch) -> None:
    """A boto3 profile in AWS_PROFILE: the credentials a live SQS ``plan`` refers to (by
    reference, never by value) and the drain bridge it starts reads."""
    profile = "mqmigrate-delays"
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text(f"[profile {profile}]\nregion = us-east-1\n")
    credentials.write_text(f"[{profile}]\naws_access_key_id = d\naws_secret_access_key = d\n")
    for key, value in {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_PROFILE": profile,
    }.items():
        monkeypatch.setenv(key, value)


def _drain_only(workload: dict, quiet_s: int) -> None:
    """Cut a planned SQS workload's phases to provision and the drain (no live service to
    switch here; the test moves its consumer itself), the drain gates' quiet period to
    ``quiet_s`` (longer than the delays) to keep the test short."""
    phases = workload["phases"]
    for name in ("shadow", "verify", "consumers", "producers", "decommission"):
        phases.pop(name, None)
    phases["drain"]["steps"] = [
        {
            "id": "drain-bridge",
            "action": "bridge.start",
            "mode": "drain",
            "requires": ["provision"],
        },
        {"id": "source-drained", "action": "source.drain", "requires": ["drain-bridge"]},
    ]
    for gate in phases["drain"]["gates"]:
        gate["for_seconds"] = quiet_s


def test_sqs_source_depth_counts_delayed_messages_until_they_are_drained(
    elasticmq_service, unique_name
):
    client = elasticmq_service.client("sqs", timeout=30)
    url = client.create_queue(QueueName=unique_name)["QueueUrl"]
    port = elasticmq_service.port("http")
    access = SourceAccess("sqs", unique_name, f"sqs+http://x:y@127.0.0.1:{port}?region=us-east-1")
    depth = SourceDepthProbe("depth", lambda w: access)
    try:
        sent_at = delays.now_ms()
        for i in range(3):
            client.send_message(QueueUrl=url, MessageBody=f"m{i}", DelaySeconds=3)
        measured = depth.measure_access(access)
        # none receivable yet, all still in the queue: the drain gate (depth == 0) must wait
        assert not client.receive_message(QueueUrl=url).get("Messages")
        assert measured.value == 3, measured.detail
        assert "ApproximateNumberOfMessagesDelayed" in measured.detail
        received = []
        while len(received) < 3 and delays.now_ms() - sent_at < 15_000:
            for m in client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", []):
                received.append(delays.now_ms())
                client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        assert len(received) == 3
        assert min(received) - sent_at >= 3000  # the drain bridge gets them when due, not before
        time.sleep(1)
        assert depth.measure_access(access).value == 0
    finally:
        client.delete_queue(QueueUrl=url)


@pytest.mark.kafka
@pytest.mark.rabbitmq
def test_rabbitmq_retry_loop_planned_live_and_drained_keeps_its_delays(
    rabbitmq_service, kafka_bootstrap, unique_name, tmp_path, capsys, monkeypatch
):
    """A RabbitMQ work queue with a TTL+DLX retry loop, planned from the live broker: the wait
    queue is left out, the loop becomes a retry tier, and the drain run by ``cutover`` moves the
    messages parked in the wait queue when their TTL ends — none before (early 0), none left
    behind, because the final drain bridge waits the drain gates' quiet period (longer than the
    TTL), not its usual 10 s."""
    from urllib.parse import quote

    import httpx
    import pika
    import yaml
    from confluent_kafka import Consumer

    from mqmigrate.cli import main
    from mqmigrate.cutover import bridgeproc
    from mqmigrate.cutover.runner import run_dir
    from mqmigrate.kafka.admin import delete_topics

    ttl_ms = 12_000
    user, password = rabbitmq_service.credentials()
    management = f"http://127.0.0.1:{rabbitmq_service.port('management')}"
    amqp = f"amqp://{quote(user)}:{quote(password)}@127.0.0.1:{rabbitmq_service.port('amqp')}/"
    api = httpx.Client(base_url=management, auth=(user, password), timeout=15)
    work, wait = unique_name, f"{unique_name}.wait"
    work_x, retry_x = f"{unique_name}.work", f"{unique_name}.retry"
    for x in (work_x, retry_x):
        assert api.put(
            f"/api/exchanges/%2F/{x}", json={"type": "direct", "durable": True}
        ).is_success
    assert api.put(
        f"/api/queues/%2F/{work}",
        json={
            "durable": True,
            "arguments": {"x-dead-letter-exchange": retry_x, "x-dead-letter-routing-key": "wait"},
        },
    ).is_success
    assert api.put(
        f"/api/queues/%2F/{wait}",
        json={
            "durable": True,
            "arguments": {
                "x-message-ttl": ttl_ms,
                "x-dead-letter-exchange": work_x,
                "x-dead-letter-routing-key": "work",
            },
        },
    ).is_success
    assert api.post(
        f"/api/bindings/%2F/e/{work_x}/q/{work}", json={"routing_key": "work"}
    ).is_success
    assert api.post(
        f"/api/bindings/%2F/e/{retry_x}/q/{wait}", json={"routing_key": "wait"}
    ).is_success
    monkeypatch.setenv("RABBITMQ_URI", amqp)
    out = tmp_path / "playbooks"
    path = out / "loop.yaml"
    topic = wid = None
    try:
        uri = management.replace("http://", f"rabbitmq+http://{user}:{password}@")
        assert (
            main(
                [
                    "plan",
                    uri,
                    "--prefix",
                    unique_name,
                    "--name",
                    "loop",
                    "--replication",
                    "1",
                    "--kafka",
                    kafka_bootstrap,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        err = capsys.readouterr().err
        assert "left out rabbitmq:" in err and f"/{wait}: " in err  # a delay tier, not a queue
        doc = yaml.safe_load(path.read_text())
        [wl] = doc["workloads"]
        topic, wid = wl["target"]["topic"], wl["id"]
        assert wl["target"]["retry"]["tiers"] == ["12s"]
        planned_quiet = {g["metric"]: g["for_seconds"] for g in wl["phases"]["drain"]["gates"]}
        assert planned_quiet["source.depth"] == 72  # the TTL plus a minute
        # the run: provision, then the drain (no service to switch here); the quiet period cut
        # from 72 s to the TTL + 2 s to keep the test short — still longer than the TTL
        phases = wl["phases"]
        for name in ("shadow", "verify", "consumers", "producers", "decommission"):
            phases.pop(name, None)
        phases["drain"]["steps"] = [
            {
                "id": "drain-bridge",
                "action": "bridge.start",
                "mode": "drain",
                "requires": ["provision"],
            },
            {"id": "source-drained", "action": "source.drain", "requires": ["drain-bridge"]},
        ]
        for gate in phases["drain"]["gates"]:
            gate["for_seconds"] = ttl_ms // 1000 + 2
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        # record timestamps = when the drain wrote them (the broker's append time)
        from mqmigrate.kafka import share

        share.create_topic(
            share.admin_client(kafka_bootstrap),
            topic,
            config={"message.timestamp.type": "LogAppendTime"},
        )

        connection = pika.BlockingConnection(pika.URLParameters(amqp))
        channel = connection.channel()
        channel.confirm_delivery()
        for i in range(5):  # due now
            channel.basic_publish(
                work_x,
                "work",
                f"due-{i}".encode(),
                pika.BasicProperties(message_id=f"due-{i}", delivery_mode=2),
            )
        parked_at = delays.now_ms()
        for i in range(5):  # parked in the wait queue: back in the work queue after the TTL
            channel.basic_publish(
                retry_x,
                "wait",
                f"parked-{i}".encode(),
                pika.BasicProperties(message_id=f"parked-{i}", delivery_mode=2),
            )
        connection.close()

        code = main(
            [
                "cutover",
                "run",
                str(path),
                "--until",
                "drain",
                "--yes",
                "--poll-interval",
                "1",
                "--gate-timeout",
                "90",
            ]
        )
        err = capsys.readouterr().err
        assert code == 0, err[-3000:]
        consumer = Consumer(
            {
                "bootstrap.servers": kafka_bootstrap,
                "group.id": f"r-{unique_name}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic])
        got: dict[str, int] = {}
        deadline = time.monotonic() + 20
        while len(got) < 10 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                headers = dict(msg.headers() or [])
                got[headers["mq.source.id"].decode()] = msg.timestamp()[1]
        consumer.close()
        depth = api.get(f"/api/queues/%2F/{work}").json().get("messages", 0)
        parked_depth = api.get(f"/api/queues/%2F/{quote(wait)}").json().get("messages", 0)
    finally:
        if wid is not None:
            bridgeproc.stop(run_dir(path), wid, timeout=30)
        for q in (work, wait):
            api.delete(f"/api/queues/%2F/{quote(q)}")
        for x in (work_x, retry_x):
            api.delete(f"/api/exchanges/%2F/{x}")
        api.close()
        if topic:
            delete_topics(
                kafka_bootstrap,
                [topic, f"{topic}.quarantine", f"dlq.{topic}", f"{topic}.retry-12s"],
            )
    assert sorted(got) == sorted(
        [f"due-{i}" for i in range(5)] + [f"parked-{i}" for i in range(5)]
    )  # none left behind
    early = [i for i, ts in got.items() if i.startswith("parked") and ts < parked_at + ttl_ms]
    print(
        f"\nretry loop drained: 10 of 10 in Kafka, parked ones after "
        f"{min(ts for i, ts in got.items() if i.startswith('parked')) - parked_at} ms "
        f"(TTL {ttl_ms} ms), early {len(early)}; source left {depth} + {parked_depth}"
    )
    assert early == []
    assert depth == 0 and parked_depth == 0


@pytest.mark.kafka
def test_sqs_delay_seconds_planned_live_and_drained_keeps_its_delays(
    elasticmq_service, kafka_bootstrap, unique_name, tmp_path, capsys, monkeypatch
):
    """An ElasticMQ queue with ``DelaySeconds``, planned from the live endpoint (a tier of its
    delay) and drained by ``cutover`` while its messages are still delayed: each reaches Kafka
    no earlier than its delay and none is left behind."""
    import yaml
    from confluent_kafka import Consumer

    from mqmigrate.cli import main
    from mqmigrate.cutover import bridgeproc
    from mqmigrate.cutover.runner import run_dir
    from mqmigrate.kafka.admin import delete_topics

    delay_s = 6
    admin = elasticmq_service.client("sqs", timeout=30)  # before AWS_PROFILE points elsewhere
    _aws_profile(tmp_path, monkeypatch)
    url = admin.create_queue(QueueName=unique_name, Attributes={"DelaySeconds": str(delay_s)})[
        "QueueUrl"
    ]
    endpoint = elasticmq_service.endpoint_url
    out = tmp_path / "playbooks"
    path = out / "delayed.yaml"
    topic = wid = None
    try:
        assert (
            main(
                [
                    "plan",
                    f"{endpoint.replace('http://', 'sqs+http://')}?region=us-east-1",
                    "--prefix",
                    unique_name,
                    "--name",
                    "delayed",
                    "--replication",
                    "1",
                    "--kafka",
                    kafka_bootstrap,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        capsys.readouterr()
        doc = yaml.safe_load(path.read_text())
        [wl] = doc["workloads"]
        topic, wid = wl["target"]["topic"], wl["id"]
        assert wl["target"]["retry"]["tiers"] == [f"{delay_s}s"]
        _drain_only(wl, quiet_s=delay_s + 2)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        # the bridge keeps SQS's SentTimestamp as the record's timestamp: made before provision
        # with the broker's append time instead, the timestamp says when the drain wrote it
        from mqmigrate.kafka import share

        share.create_topic(
            share.admin_client(kafka_bootstrap),
            topic,
            config={"message.timestamp.type": "LogAppendTime"},
        )

        sent_at = delays.now_ms()
        for i in range(5):
            admin.send_message(
                QueueUrl=url,
                MessageBody=f"d-{i}",
                MessageAttributes={"mq-source-id": {"DataType": "String", "StringValue": f"d-{i}"}},
            )
        code = main(
            [
                "cutover",
                "run",
                str(path),
                "--until",
                "drain",
                "--yes",
                "--poll-interval",
                "1",
                "--gate-timeout",
                "60",
            ]
        )
        err = capsys.readouterr().err
        assert code == 0, err[-3000:]
        consumer = Consumer(
            {
                "bootstrap.servers": kafka_bootstrap,
                "group.id": f"r-{unique_name}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic])
        got: list[tuple[bytes, int]] = []
        deadline = time.monotonic() + 20
        while len(got) < 5 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append((msg.value(), msg.timestamp()[1]))
        consumer.close()
        left = admin.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    finally:
        if wid is not None:
            bridgeproc.stop(run_dir(path), wid, timeout=30)
        admin.delete_queue(QueueUrl=url)
        if topic:
            delete_topics(
                kafka_bootstrap,
                [topic, f"{topic}.quarantine", f"dlq.{topic}", f"{topic}.retry-{delay_s}s"],
            )
    assert sorted(v for v, _ in got) == [f"d-{i}".encode() for i in range(5)]
    first = min(ts for _, ts in got) - sent_at
    print(
        f"\nSQS DelaySeconds={delay_s} drained: 5 of 5 in Kafka, the first written {first} ms "
        f"after sending"
    )
    assert first >= delay_s * 1000  # none early
    assert (
        sum(
            int(left[k])
            for k in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )
        == 0
    )


class TemporaryFailure(Exception):
    """The application's transient failure (a database that is down)."""


class HandlerLog:
    """Every call of the application's handler, on either side of the switch, checked against
    the earliest time the message may be handled: its send time + ``DelaySeconds``, then each
    failure's time + the backoff the consumer asked for."""

    def __init__(self):
        self.lock = threading.Lock()
        self.not_before: dict[str, int] = {}
        self.failed: set[tuple[str, str]] = set()  # (side, id): a flaky message failed once
        #: (side, id, handled ms, not-before ms, outcome)
        self.calls: list[tuple[str, str, int, int, str]] = []

    def sent(self, message_id: str, sent_ms: int, delay_s: int) -> None:
        with self.lock:
            self.not_before[message_id] = sent_ms + delay_s * 1000

    def backed_off(self, message_id: str, from_ms: int, backoff_s: int) -> None:
        """The consumer asked for ``backoff_s`` from ``from_ms`` (taken before it asked)."""
        with self.lock:
            self.not_before[message_id] = from_ms + backoff_s * 1000

    def handle(self, side: str, message_id: str) -> None:
        """The application's handler, the same before and after the switch: a ``flaky-``
        message fails its first attempt on each side."""
        with self.lock:
            first = message_id.startswith("flaky-") and (side, message_id) not in self.failed
            if first:
                self.failed.add((side, message_id))
            self.calls.append(
                (
                    side,
                    message_id,
                    delays.now_ms(),
                    self.not_before[message_id],
                    "fail" if first else "ok",
                )
            )
        if first:
            raise TemporaryFailure(f"{message_id}: database down")

    def handled(self, side: str | None = None) -> list[str]:
        with self.lock:
            return [i for s, i, _, _, out in self.calls if out == "ok" and side in (None, s)]

    def attempted(self, ids: list[str]) -> bool:
        with self.lock:
            return set(ids) <= {i for _, i, _, _, _ in self.calls}

    def early(self, side: str) -> int:
        return sum(1 for s, _, at, not_before, _ in self.calls if s == side and at < not_before)

    def lateness(self, side: str, first: bool | None = None) -> str:
        """``p50/max`` of handled − not-before, ms, of ``side``'s calls (``first``: only each
        message's first call on that side, or only the later ones: the retries)."""
        seen: set[str] = set()
        values = []
        for s, message_id, at, not_before, _ in self.calls:
            if s == side:
                if first is None or first == (message_id not in seen):
                    values.append(at - not_before)
                seen.add(message_id)
        values.sort()
        return f"{values[len(values) // 2]}/{values[-1]}" if values else "-"


@pytest.mark.kafka
def test_sqs_delay_seconds_and_visibility_backoff_cut_over_keep_their_delays(
    elasticmq_service, kafka_bootstrap, unique_name, tmp_path, capsys, monkeypatch
):
    """An ElasticMQ queue with ``DelaySeconds`` whose consumer backs off by
    ``ChangeMessageVisibility`` (docs/delays.md, "before"), planned live and cut over with
    ``cutover`` while messages are delayed and backed off in the source; after the switch a
    Worker with the planned ``retry_tiers`` runs the same handler (``from_sqs_handler``,
    ``RetryableError(delay=backoff)``, "after"). Every message handled once, none lost, none
    handled before its delay or its backoff (early 0) on either side of the switch."""
    import yaml

    from mqmigrate.cli import main
    from mqmigrate.cutover import bridgeproc
    from mqmigrate.cutover.runner import run_dir
    from mqmigrate.kafka.admin import delete_topics
    from mqmigrate.sdk.headers import SQS_SOURCE_ID_ATTRIBUTE
    from mqmigrate.sdk.worker import RetryableError, Worker, from_sqs_handler

    delay_s, backoff_s = 4, 3  # the backoff fits the planned tier (rounded up to 4 s)
    admin = elasticmq_service.client("sqs", timeout=30)  # before AWS_PROFILE points elsewhere
    sqs = elasticmq_service.client("sqs", timeout=30)  # the old consumer's
    _aws_profile(tmp_path, monkeypatch)
    url = admin.create_queue(QueueName=unique_name, Attributes={"DelaySeconds": str(delay_s)})[
        "QueueUrl"
    ]
    log = HandlerLog()

    def send(ids: list[str]) -> None:
        for message_id in ids:
            log.sent(message_id, delays.now_ms(), delay_s)
            admin.send_message(
                QueueUrl=url,
                MessageBody=message_id,
                MessageAttributes={
                    SQS_SOURCE_ID_ATTRIBUTE: {"DataType": "String", "StringValue": message_id}
                },
            )

    def old_consumer(stop: threading.Event) -> None:
        """docs/delays.md's "before": back off by extending the visibility timeout."""
        while not stop.is_set():
            for m in sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
            ).get("Messages", []):
                message_id = m["MessageAttributes"][SQS_SOURCE_ID_ATTRIBUTE]["StringValue"]
                try:
                    log.handle("sqs", message_id)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                except TemporaryFailure:
                    log.backed_off(message_id, delays.now_ms(), backoff_s)
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=backoff_s
                    )

    def handle_sqs(m: dict) -> None:
        """docs/delays.md's "after": the worker's tiers do the backoff."""
        try:
            log.handle("kafka", m["MessageId"])
        except TemporaryFailure as exc:
            log.backed_off(m["MessageId"], delays.now_ms(), backoff_s)
            raise RetryableError(str(exc), delay=backoff_s) from exc

    tier_calls: list[tuple[str, int, int]] = []  # (tier topic, handled ms, mq.retry.due)
    sqs_style = from_sqs_handler(handle_sqs)

    def worker_handler(message) -> None:
        if delays.DUE in message.mq:
            tier_calls.append((message.topic, delays.now_ms(), int(message.mq[delays.DUE])))
        sqs_style(message)

    def wait_for(predicate, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert predicate(), log.calls

    before = [f"flaky-a{i}" if i % 2 else f"ok-a{i}" for i in range(10)]
    at_switch = [f"flaky-b{i}" if i % 2 else f"ok-b{i}" for i in range(10)]  # backed off
    after = [f"flaky-c{i}" if i % 2 else f"ok-c{i}" for i in range(6)]  # delayed in the source
    out = tmp_path / "playbooks"
    path = out / "backoff.yaml"
    topic = wid = worker = None
    stop_old = threading.Event()
    old = threading.Thread(target=old_consumer, args=(stop_old,), daemon=True)
    started = time.monotonic()
    try:
        assert (
            main(
                [
                    "plan",
                    f"{elasticmq_service.endpoint_url.replace('http://', 'sqs+http://')}"
                    "?region=us-east-1",
                    "--prefix",
                    unique_name,
                    "--name",
                    "backoff",
                    "--replication",
                    "1",
                    "--kafka",
                    kafka_bootstrap,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        capsys.readouterr()
        doc = yaml.safe_load(path.read_text())
        [wl] = doc["workloads"]
        topic, wid = wl["target"]["topic"], wl["id"]
        tiers = wl["target"]["retry"]["tiers"]
        assert tiers == [f"{delay_s}s"]
        _drain_only(wl, quiet_s=delay_s + 2)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        assert main(["provision", str(path)]) == 0, capsys.readouterr().err[-3000:]
        capsys.readouterr()
        # the new consumers, ready on Kafka; the old one on SQS until the switch
        worker = Worker(
            kafka_bootstrap,
            topic,
            wl["target"]["consumer"]["group"],
            worker_handler,
            retry_tiers=tiers,
            install_signal_handlers=False,
            metrics=False,
        )
        worker.start()
        old.start()
        send(before)
        wait_for(lambda: sorted(log.handled("sqs")) == sorted(before), timeout=25)
        # the switch: the old consumer stops as soon as it has tried each message of the next
        # batch once, so the flaky half waits in the source with an extended visibility;
        # producers still write to the source meanwhile: those messages are still delayed
        send(at_switch)
        wait_for(lambda: log.attempted(at_switch), timeout=15)
        stop_old.set()
        old.join(timeout=15)
        assert not old.is_alive()
        send(after)
        waiting = admin.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        code = main(
            [
                "cutover",
                "run",
                str(path),
                "--until",
                "drain",
                "--yes",
                "--poll-interval",
                "1",
                "--gate-timeout",
                "60",
            ]
        )
        err = capsys.readouterr().err
        assert code == 0, err[-3000:]
        moved = [i for i in at_switch if i.startswith("flaky-")] + after
        wait_for(lambda: sorted(log.handled("kafka")) == sorted(moved), timeout=20)
        left = admin.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    finally:
        stop_old.set()
        if old.is_alive():
            old.join(timeout=15)
        if worker is not None:
            worker.stop()
            worker.join(timeout=30)
        if wid is not None:
            bridgeproc.stop(run_dir(path), wid, timeout=30)
        admin.delete_queue(QueueUrl=url)
        if topic:
            delete_topics(
                kafka_bootstrap,
                [topic, f"{topic}.quarantine", f"dlq.{topic}", f"{topic}.retry-{delay_s}s"],
            )
    took = time.monotonic() - started
    handled = log.handled()
    everything = before + at_switch + after
    retries = {
        side: sum(1 for s, *_, out in log.calls if s == side and out == "fail")
        for side in ("sqs", "kafka")
    }
    print(
        f"\nSQS DelaySeconds={delay_s} + visibility backoff {backoff_s} s cut over in {took:.0f} s:"
        f" {len(set(handled))} of {len(everything)} handled ({len(handled)} handler successes),"
        f" before the switch {len(log.handled('sqs'))} on SQS ({retries['sqs']} backed off),"
        f" after it {len(log.handled('kafka'))} by the Worker ({retries['kafka']} through the"
        f" {tiers[0]} tier); early: SQS {log.early('sqs')}, Kafka {log.early('kafka')};"
        f" lateness ms p50/max: SQS {log.lateness('sqs')}, Kafka drained"
        f" {log.lateness('kafka', first=True)}, Kafka tier retries"
        f" {log.lateness('kafka', first=False)}"
    )
    past_due = sorted(at - due for _, at, due in tier_calls)
    print(
        f"tier retries handled after their mq.retry.due, ms p50/max:"
        f" {past_due[len(past_due) // 2]}/{past_due[-1]}"
        if past_due
        else "no tier retries"
    )
    print(
        f"in the source when cutover started: {waiting['ApproximateNumberOfMessagesDelayed']}"
        f" delayed, {waiting['ApproximateNumberOfMessagesNotVisible']} backed off"
    )
    # the cutover really started with messages waiting out their delay and their backoff
    assert int(waiting["ApproximateNumberOfMessagesDelayed"]) == len(after)
    assert int(waiting["ApproximateNumberOfMessagesNotVisible"]) > 0
    assert sorted(handled) == sorted(everything)  # none lost, none handled twice
    assert log.early("sqs") == 0 and log.early("kafka") == 0
    # the Worker's retries went through the planned tier and waited for its due time
    assert len(tier_calls) == retries["kafka"] == len([i for i in moved if i.startswith("flaky-")])
    assert all(t == f"{topic}.retry-{delay_s}s" and at >= due for t, at, due in tier_calls)
    assert (
        sum(
            int(left[k])
            for k in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )
        == 0
    )
