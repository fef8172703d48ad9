"""``mqmigrate verify`` against the sandbox Kafka: clean, deleted, duplicated, altered."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from mqmigrate.cli import main
from mqmigrate.headers import SOURCE_ID
from mqmigrate.verify.ledger import LedgerWriter

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

N = 50


@pytest.fixture
def topic(kafka_bootstrap, unique_name):
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(unique_name, 3, 1)])[unique_name].result(30)
    yield unique_name
    admin.delete_topics([unique_name])[unique_name].result(30)


def _run(bootstrap: str, topic: str, ledger, capsys, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(
        [
            "verify",
            "--ledger",
            str(ledger),
            "--kafka",
            bootstrap,
            "--topic",
            topic,
            "--format",
            "json",
            "--timeout",
            "60",
            *extra,
        ]
    )
    out = capsys.readouterr().out
    return rc, json.loads(out) if out.strip() else {}


def _plant(bootstrap: str, topic: str, ledger_path, kafka_records, ledger_records) -> None:
    """Produce ``kafka_records`` as the bridge would and write ``ledger_records`` as it would."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for sid, body in kafka_records:
        p.produce(topic, value=body, headers=[(SOURCE_ID, sid.encode())])
    assert p.flush(30) == 0
    with LedgerWriter(ledger_path) as w:
        for sid, body in ledger_records:
            w.record(sid, body)


def _messages() -> list[tuple[str, bytes]]:
    return [(f"id-{i}", f"body {i}".encode()) for i in range(N)]


def test_clean(kafka_bootstrap, topic, tmp_path, capsys):
    msgs = _messages()
    _plant(kafka_bootstrap, topic, tmp_path / "l", msgs, msgs)
    rc, data = _run(kafka_bootstrap, topic, tmp_path / "l", capsys)
    assert rc == 0 and data["clean"] is True
    assert data["counts"]["source"] == N and data["counts"]["kafka"] == N
    assert data["share_backlog"] is None


def test_deleted_record(kafka_bootstrap, topic, tmp_path, capsys):
    msgs = _messages()
    _plant(kafka_bootstrap, topic, tmp_path / "l", [m for m in msgs if m[0] != "id-7"], msgs)
    rc, data = _run(kafka_bootstrap, topic, tmp_path / "l", capsys)
    assert rc == 1
    assert data["samples"]["missing"] == ["id-7"] and data["counts"]["missing"] == 1
    assert data["counts"]["altered"] == 0 and data["counts"]["duplicate_copies"] == 0


def test_duplicated_record(kafka_bootstrap, topic, tmp_path, capsys):
    msgs = _messages()
    _plant(kafka_bootstrap, topic, tmp_path / "l", msgs + [msgs[3]], msgs)
    rc, data = _run(kafka_bootstrap, topic, tmp_path / "l", capsys)
    assert rc == 0 and data["samples"]["duplicated"] == ["id-3"]
    assert data["counts"]["duplicate_copies"] == 1 and data["counts"]["missing"] == 0
    rc, _ = _run(kafka_bootstrap, topic, tmp_path / "l", capsys, "--fail-on-duplicates")
    assert rc == 1


def test_altered_body(kafka_bootstrap, topic, tmp_path, capsys):
    msgs = _messages()
    tampered = [(sid, b"tampered" if sid == "id-11" else body) for sid, body in msgs]
    _plant(kafka_bootstrap, topic, tmp_path / "l", tampered, msgs)
    rc, data = _run(kafka_bootstrap, topic, tmp_path / "l", capsys)
    assert rc == 1 and data["samples"]["altered"] == ["id-11"]
    assert data["counts"]["altered"] == 1 and data["counts"]["missing"] == 0


def test_unknown_topic_is_exit_2(kafka_bootstrap, unique_name, tmp_path, capsys):
    (tmp_path / "l").write_text("")
    rc = main(
        [
            "verify",
            "--ledger",
            str(tmp_path / "l"),
            "--kafka",
            kafka_bootstrap,
            "--topic",
            unique_name,
        ]
    )
    assert rc == 2 and "not found" in capsys.readouterr().err


#: Kafka's share-group tool, run from the sandbox's jars: test setup only, never by verify
COMMAND = "org.apache.kafka.tools.consumer.group.ShareGroupCommand"


@pytest.mark.slow
def test_share_backlog_measured(kafka_bootstrap, topic, tmp_path, capsys):
    from mqmigrate.sandbox import manager
    from mqmigrate.sandbox.kafka import KafkaService

    msgs = _messages()
    _plant(kafka_bootstrap, topic, tmp_path / "l", msgs, msgs)
    group = f"{topic}-g"
    # put the group at the start of the topic without consuming, with Kafka's own tool (an
    # independent setter): the backlog verify reads over the wire is then the whole topic
    r = KafkaService(manager.context()).java(
        COMMAND,
        "--bootstrap-server",
        kafka_bootstrap,
        "--reset-offsets",
        "--to-earliest",
        "--execute",
        "--group",
        group,
        "--topic",
        topic,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr[-1000:]
    rc, data = _run(
        kafka_bootstrap, topic, tmp_path / "l", capsys, "--share-group", group, "--share-backlog"
    )
    assert rc == 0 and data["share_backlog"] == N and data["share_group"] == group
    rc, data = _run(kafka_bootstrap, topic, tmp_path / "l", capsys, "--share-group", group)
    assert data["share_backlog"] is None  # not asked: unknown, never 0
    KafkaService(manager.context()).java(
        COMMAND, "--bootstrap-server", kafka_bootstrap, "--delete", "--group", group, timeout=60
    )


def test_playbook_names_topic_and_share_group(kafka_bootstrap, topic, tmp_path, capsys):
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    text = (root / "playbooks" / "amqp1-queue.yaml").read_text()
    assert "\n      topic: invoices\n" in text
    pb = tmp_path / "pb.yaml"
    pb.write_text(text.replace("\n      topic: invoices\n", f"\n      topic: {topic}\n", 1))
    msgs = _messages()
    _plant(kafka_bootstrap, topic, tmp_path / "l", msgs, msgs[:-1])
    capsys.readouterr()
    rc = main(
        [
            "verify",
            "--ledger",
            str(tmp_path / "l"),
            "--playbook",
            str(pb),
            "--kafka",
            kafka_bootstrap,
            "--format",
            "json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["topic"] == topic and data["share_group"] == "invoices"
    assert data["samples"]["unexpected"] == [f"id-{N - 1}"] and data["share_backlog"] is None


@pytest.mark.rabbitmq
def test_source_depth_and_in_flight_are_measured(
    rabbitmq_service, kafka_bootstrap, topic, unique_name, tmp_path, capsys
):
    import time

    import pika

    amqp = f"amqp://guest:guest@127.0.0.1:{rabbitmq_service.port('amqp')}/%2f"
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(unique_name)
        for i in range(7):
            ch.basic_publish("", unique_name, f"m{i}".encode())
        ch.basic_qos(prefetch_count=2)
        ch.basic_consume(unique_name, lambda *_: None)  # holds 2 unacked: in flight
        conn.process_data_events(time_limit=0.5)
        msgs = _messages()
        _plant(kafka_bootstrap, topic, tmp_path / "l", msgs, msgs)
        deadline = time.monotonic() + 30  # the management API refreshes its stats every 5 s
        while True:
            rc, data = _run(
                kafka_bootstrap,
                topic,
                tmp_path / "l",
                capsys,
                "--source",
                amqp,
                "--queue",
                unique_name,
            )
            backlog = data["source_backlog"]
            if (
                backlog == {"depth": 5, "in_flight": 2, "detail": backlog["detail"]}
                or time.monotonic() > deadline
            ):
                break
            conn.process_data_events(time_limit=1.0)
        assert rc == 0
        assert (backlog["depth"], backlog["in_flight"]) == (5, 2), backlog
        assert "guest:guest" not in json.dumps(data) and data["queue"] == unique_name
        ch.queue_delete(unique_name)
    finally:
        conn.close()


def test_unknown_source_backlog_is_null_not_zero(kafka_bootstrap, topic, tmp_path, capsys):
    msgs = _messages()
    _plant(kafka_bootstrap, topic, tmp_path / "l", msgs, msgs)
    rc, data = _run(
        kafka_bootstrap,
        topic,
        tmp_path / "l",
        capsys,
        "--source",
        "amqp://u:p@127.0.0.1:1/%2f",
        "--queue",
        "q",
    )
    assert rc == 0
    assert data["source_backlog"]["depth"] is None and data["source_backlog"]["in_flight"] is None
    assert "management API" in data["source_backlog"]["detail"]
    assert "u:p@" not in json.dumps(data)


def test_playbook_reads_the_ledger_cutover_bridges_write(kafka_bootstrap, topic, tmp_path, capsys):
    from mqmigrate.cutover.bridgeproc import ledger_path
    from mqmigrate.cutover.runner import run_dir

    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    text = (root / "playbooks" / "amqp1-queue.yaml").read_text()
    pb = tmp_path / "pb.yaml"
    pb.write_text(text.replace("\n      topic: invoices\n", f"\n      topic: {topic}\n", 1))
    capsys.readouterr()
    rc = main(["verify", "--playbook", str(pb), "--kafka", kafka_bootstrap, "--format", "json"])
    assert rc == 2 and capsys.readouterr().out == ""  # no ledger yet: usage error, one line

    msgs = _messages()
    ledger = ledger_path(run_dir(pb), "invoices")
    ledger.parent.mkdir(parents=True, exist_ok=True)
    _plant(kafka_bootstrap, topic, ledger, msgs, msgs[:-3])
    rc = main(["verify", "--playbook", str(pb), "--kafka", kafka_bootstrap, "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["counts"]["source"] == N - 3 and len(data["samples"]["unexpected"]) == 3
