"""The CLI boundary: malformed inputs exit 2 with one line naming the file; secrets never
reach any output format; the inventory dump round-trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.assess_helpers import ESTATES, FIXTURES, run_cli
from mqmigrate.inventory import read_estate
from mqmigrate.inventory.model import ClientInfo, Consumer, Estate


def _one_error_line(err: str, needle: str) -> None:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ") and needle in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "name,content,where",
    [
        ("truncated.json", '{"queues": [{"name": "a", "vhost": "/"', "truncated.json:1:"),
        ("types.json", '{"queues": {"name": "a"}}', "queues: expected array"),
        ("qtype.json", '{"queues": [{"name": 5}]}', "queues[0].name: expected string"),
        ("bad.tf", 'resource "aws_sqs_queue" "a" {\n  name = \n}\n', "bad.tf:2:"),
        ("bad.yaml", "Resources:\n  Q: [unclosed\n", "bad.yaml:"),
        ("unknown.yaml", "foo: bar\n", "neither a CloudFormation template"),
        ("other.json", '{"hello": 1}', "is not a RabbitMQ definitions export"),
        (
            "amqp1.yaml",
            "amqp1:\n  addresses:\n    - name: a\n      routing: sideways\n",
            "amqp1.addresses.0.routing",
        ),
    ],
)
def test_malformed_inputs_exit_2_one_line(tmp_path: Path, capsys, name, content, where):
    path = tmp_path / name
    path.write_text(content)
    code, out, err = run_cli(["assess", str(path)], capsys)
    assert code == 2 and out == ""
    _one_error_line(err, where)


def test_non_utf8_file(tmp_path: Path, capsys):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"queues": [{"name": "caf\xe9"}]}')
    code, _, err = run_cli(["assess", str(path)], capsys)
    assert code == 2
    _one_error_line(err, "latin1.json:1: not UTF-8")


def test_oversized_file(tmp_path: Path, capsys):
    path = tmp_path / "huge.json"
    with path.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # a sparse 50 MB file
    code, _, err = run_cli(["assess", str(path)], capsys)
    assert code == 2
    _one_error_line(err, "50.0 MiB is over the 16 MiB input limit")


def test_missing_file_and_unknown_scheme(capsys):
    code, _, err = run_cli(["assess", "/nonexistent/defs.json"], capsys)
    assert code == 2
    _one_error_line(err, "no such file")
    code, _, err = run_cli(["assess", "rabitmq+http://u:TopSecret1@h:15672"], capsys)
    assert code == 2
    _one_error_line(err, "did you mean rabbitmq+http://?")
    assert "TopSecret1" not in err


def test_unreachable_endpoint_masks_credentials(capsys):
    code, _, err = run_cli(["assess", "rabbitmq+http://admin:TopSecret1@127.0.0.1:9"], capsys)
    assert code == 2
    _one_error_line(
        err, "cannot reach the RabbitMQ management API at rabbitmq+http://admin:***@127.0.0.1:9"
    )
    assert "TopSecret1" not in err


def test_dump_with_unknown_key_is_rejected(tmp_path: Path, capsys):
    estate = read_estate([str(FIXTURES / "rabbit_clean.json")])
    doc = json.loads(estate.dump_json())
    doc["sources"][0]["queues"][0]["surprise"] = 1
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(doc))
    code, _, err = run_cli(["assess", str(path)], capsys)
    assert code == 2
    _one_error_line(err, "sources.0.queues.0.surprise: Extra inputs are not permitted")


SECRETS = [
    "S3cr3tPlainPw!",
    "HASHxyzPZ9k2Lm0Q7w==",
    "ShovelPw99",
    "AmqpPw42",
    "RABBITMQ_DEFAULT_PASS",
    "C2JHvm22/YIZ9ltBHUD+nKLmwiei/J/OJYINApnZzV4xIUWs",
]


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "html"])
def test_secrets_never_in_any_output(tmp_path: Path, capsys, fmt):
    sources = [
        str(FIXTURES / "rabbit_all_rules.json"),
        str(FIXTURES / "amqp1.yaml"),
        str(ESTATES / "neicnordic__sensitive-data-archive__rabbitmq__definitions.json"),
        str(ESTATES / "FusionX-Tech__eagle-infrastructure__rabbitmq__definitions.json"),
    ]
    code, out, err = run_cli(["assess", *sources, "-f", fmt, "--fail-on", "never"], capsys)
    assert code == 0
    report = tmp_path / f"report.{fmt}"
    run_cli(["assess", *sources, "-f", fmt, "--fail-on", "never", "--out", str(report)], capsys)
    dump = tmp_path / "estate.json"
    run_cli(["inventory", *sources, "--out", str(dump)], capsys)
    for text in (out, err, report.read_text(), dump.read_text()):
        for secret in SECRETS:
            assert secret not in text
    assert "amqp://svc:***@broker.internal:5672" in dump.read_text()


def test_inventory_dump_round_trips_and_reassesses(tmp_path: Path, capsys):
    path = tmp_path / "estate.json"
    code, _, _ = run_cli(
        [
            "inventory",
            str(FIXTURES / "sqs_all_rules.tf"),
            str(FIXTURES / "rabbit_all_rules.json"),
            "--out",
            str(path),
        ],
        capsys,
    )
    assert code == 0
    _, direct, _ = run_cli(
        [
            "assess",
            str(FIXTURES / "sqs_all_rules.tf"),
            str(FIXTURES / "rabbit_all_rules.json"),
            "-f",
            "json",
            "--fail-on",
            "never",
        ],
        capsys,
    )
    _, replay, _ = run_cli(["assess", str(path), "-f", "json", "--fail-on", "never"], capsys)
    assert json.loads(direct)["workloads"] == json.loads(replay)["workloads"]


def test_live_consumers_fire_client_share_consumer(tmp_path: Path, capsys):
    estate = read_estate([str(FIXTURES / "rabbit_clean.json")])
    src = estate.sources[0]
    src.live = True
    q = src.queues[0]
    q.depth, q.in_flight, q.consumer_count = 12000, 4100, 3
    q.consumers = [
        Consumer(
            tag="a",
            prefetch=50,
            client=ClientInfo(product="RabbitMQ", platform="Java", version="5.20.0"),
        ),
        Consumer(
            tag="b",
            prefetch=10,
            client=ClientInfo(product="pika", platform="Python 3.11", version="1.3.2"),
        ),
        Consumer(
            tag="c",
            prefetch=10,
            client=ClientInfo(product="amqplib", platform="Node.JS", version="0.10.4"),
        ),
    ]
    path = tmp_path / "live.json"
    path.write_text(Estate(sources=[src]).dump_json())
    code, out, _ = run_cli(["assess", str(path), "-f", "json", "--fail-on", "warn"], capsys)
    assert code == 1
    doc = json.loads(out)
    jobs = [w for w in doc["workloads"] if w.get("queue") == "jobs"][0]
    client = [f for f in jobs["findings"] if f["rule"] == "client.share-consumer"][0]
    assert client["severity"] == "warn" and client["status"] == "fired"
    assert client["evidence"] == {
        "languages": ["Node.js", "Python"],
        "libraries": ["amqplib 0.10.4", "pika 1.3.2"],
    }
    cfg = jobs["target"]["group_configs"]
    assert cfg["share.auto.offset.reset"] == {
        "value": "earliest",
        "reason": "backlog of 12000 messages",
    }
    assert jobs["target"]["partitions"]["value"] == 3  # 4100 in flight / 2000 locks
    # a live source shows its consumers: no "unknown client libraries" finding
    assert [
        f["status"]
        for w in doc["workloads"]
        for f in w["findings"]
        if f["rule"] == "client.share-consumer"
    ] == ["fired"]


def test_json_schema_shape(capsys):
    code, out, _ = run_cli(["assess", str(FIXTURES / "amqp1.yaml"), "-f", "json"], capsys)
    assert code == 1  # payments is a blocker
    doc = json.loads(out)
    assert doc["schema"] == "mqmigrate.assessment/v1"
    assert set(doc["summary"]) == {"workloads", "verdicts", "findings", "unknown", "rules"}
    w = doc["workloads"][1]
    assert set(w) >= {"id", "source", "findings", "target", "verdict"}
    # the endpoint is carried for plan --from, without the credentials the fixture's URI has
    assert w["source"] == {
        "kind": "amqp1",
        "name": "artemis-prod",
        "endpoint": "amqp://broker.internal:5672",
    }
    assert set(w["findings"][0]) == {
        "rule",
        "severity",
        "status",
        "evidence",
        "mapping",
        "remediation",
    }


def test_prefix_keeps_context_for_the_rules(capsys):
    # work.main's retry loop runs through work.wait, which the prefix leaves out of the report
    code, out, _ = run_cli(
        [
            "assess",
            str(FIXTURES / "rabbit_all_rules.json"),
            "--prefix",
            "work.m",
            "-f",
            "json",
            "--fail-on",
            "never",
        ],
        capsys,
    )
    assert code == 0
    doc = json.loads(out)
    assert [w["id"] for w in doc["workloads"]] == [
        "rabbitmq:rabbit_all_rules.json:*",
        "rabbitmq:rabbit_all_rules.json:orders/work.main",
    ]
    main = doc["workloads"][1]
    assert "delay.delivery" in [f["rule"] for f in main["findings"]]
    hygiene = [
        f["evidence"] for f in doc["workloads"][0]["findings"] if f["rule"] == "source.hygiene"
    ]
    assert {"policies matching nothing": ["voided"]} in hygiene


def test_inventory_prefix_writes_only_matching_queues(tmp_path: Path, capsys):
    path = tmp_path / "estate.json"
    code, _, _ = run_cli(
        [
            "inventory",
            str(FIXTURES / "rabbit_all_rules.json"),
            "--prefix",
            "fan.",
            "--out",
            str(path),
        ],
        capsys,
    )
    assert code == 0
    dump = json.loads(path.read_text())
    assert [q["name"] for q in dump["sources"][0]["queues"]] == ["fan.a", "fan.b"]
    assert dump["sources"][0]["notes"] == ["queues filtered by prefix 'fan.'"]


@pytest.mark.parametrize(
    "uri,needle",
    [
        ("http://127.0.0.1:9/api", "cannot reach the RabbitMQ management API"),
        ("http://127.0.0.1:15999", "cannot tell which broker http://127.0.0.1:15999 is"),
        ("sqs+http://127.0.0.1:9?region=eu-west-1", "cannot reach SQS at sqs+http://127.0.0.1:9"),
        (
            "artemis+http://a:ArtemisPw5@127.0.0.1:9",
            "cannot reach the Artemis Jolokia API at artemis+http://a:***@127.0.0.1:9",
        ),
    ],
)
def test_uri_schemes(capsys, uri, needle):
    code, _, err = run_cli(["assess", uri], capsys)
    assert code == 2
    _one_error_line(err, needle)
    assert "ArtemisPw5" not in err


def test_transactional_consumer_is_a_dedup_blocker(tmp_path: Path, capsys):
    estate = read_estate([str(FIXTURES / "rabbit_clean.json")])
    src = estate.sources[0]
    src.live = True
    src.queues[0].consumers = [
        Consumer(
            tag="tx-1", transactional=True, client=ClientInfo(product="RabbitMQ", platform="Java")
        )
    ]
    path = tmp_path / "tx.json"
    path.write_text(Estate(sources=[src]).dump_json())
    code, out, _ = run_cli(["assess", str(path), "-f", "json"], capsys)
    assert code == 1
    jobs = [w for w in json.loads(out)["workloads"] if w.get("queue") == "jobs"][0]
    assert jobs["verdict"] == "consumer-group"
    assert [
        (f["rule"], f["severity"], f["evidence"])
        for f in jobs["findings"]
        if f["status"] == "fired" and f["rule"] != "ttl.expiry"
    ] == [("exactly-once.dedup", "blocker", {"transactional consumers": ["tx-1"]})]
