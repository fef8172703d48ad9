"""``bridge --playbook``: a playbook workload → BridgeOptions, its errors, and header mapping."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path

import pytest

from mqmigrate import headers as mqheaders
from mqmigrate.bridge.mapping import HeaderMapping, KeyStrategy, key_from_playbook
from mqmigrate.bridge.playbook import resolve, source_spec
from mqmigrate.bridge.run import BridgeOptions
from mqmigrate.cli import main
from mqmigrate.errors import ConfigError, UsageError
from mqmigrate.playbooks import loader
from mqmigrate.sources.base import Envelope

SECRET = "s3cr3t-pw"
URI = f"amqp://bridge:{SECRET}@rabbit.internal:5672/"

PLAYBOOK = """\
apiVersion: mqmigrate/v1
kind: MigrationPlaybook
metadata:
  name: two
kafka:
  bootstrap: kafka.internal:9092
workloads:
  - id: orders
    source:
      kind: rabbitmq
      credentials: {env: T_RABBIT_URI}
      queue: orders
      vhost: shop
    target:
      topic: shop.orders
      partitions: 3
      consumer: {type: share-group, group: shop.orders}
      dlq: {topic: dlq.shop.orders, use_broker_dlq: true}
    mapping:
      key: routing-key
      headers:
        rename: {tenant: x-tenant}
        drop: [x-trace]
    strategy: drain-only
    phases: {}
  - id: invoices
    source:
      kind: rabbitmq
      endpoint: rabbitmq+http://mq.internal:15672
      credentials: {env: T_RABBIT_URI}
      queue: invoices
    target:
      topic: invoices
      partitions: 1
      consumer: {type: share-group, group: invoices}
    mapping:
      key: header:customer
    strategy: drain-only
    phases: {}
"""

BASE = BridgeOptions(source="", queue="", kafka="127.0.0.1:9092", topic="", max_in_flight=2000)
ENV = {"T_RABBIT_URI": URI}


def _workload(
    extra_source: str = "", kind: str = "rabbitmq", creds: str = "{env: T_VAR}", queue: str = "q"
) -> str:
    return f"""\
apiVersion: mqmigrate/v1
kind: MigrationPlaybook
metadata: {{name: one}}
workloads:
  - id: only
    source:
      kind: {kind}
      credentials: {creds}
      queue: {queue}
{extra_source}    target:
      topic: t
      partitions: 1
      consumer: {{type: share-group, group: g}}
    strategy: drain-only
    phases: {{}}
"""


@pytest.fixture
def book():
    return loader.loads(PLAYBOOK, "two.yaml")


def test_every_workload_by_default_with_the_playbooks_values(book):
    orders, invoices = resolve(book, [], BASE, {}, ENV)
    assert (orders.workload, orders.queue, orders.topic) == ("orders", "orders", "shop.orders")
    assert orders.source == "amqp://bridge:s3cr3t-pw@rabbit.internal:5672/shop"  # vhost applied
    assert orders.kafka == "kafka.internal:9092"
    assert orders.key_from == "routing-key"
    # not the DLQ (consumers' give-ups, 1 MB records): what Kafka refuses needs its own topic
    assert orders.resolved_quarantine() == "shop.orders.quarantine"
    assert orders.headers == HeaderMapping({"tenant": "x-tenant"}, frozenset({"x-trace"}))
    assert orders.topic_partitions == 3
    assert invoices.key_from == "header:customer"
    assert invoices.resolved_quarantine() == "invoices.quarantine"  # no DLQ: the default
    assert invoices.source_options == {"management_url": "http://mq.internal:15672"}
    # the process's in-flight budget is shared: memory stays bounded however many run
    assert orders.max_in_flight + invoices.max_in_flight <= 2000
    assert orders.batch_size <= orders.max_in_flight


def test_explicit_flags_override_the_playbook(book):
    (opts,) = resolve(
        book,
        ["orders"],
        BASE,
        {
            "kafka": "127.0.0.1:9092",
            "key_from": "none",
            "quarantine_topic": "",
            "topic": "other",
            "queue": "q2",
            "source": "amqp://guest:guest@localhost:5672/%2f",
        },
        ENV,
    )
    assert (opts.kafka, opts.key_from, opts.topic, opts.queue) == (
        "127.0.0.1:9092",
        "none",
        "other",
        "q2",
    )
    assert opts.resolved_quarantine() is None
    assert opts.source == "amqp://guest:guest@localhost:5672/%2f"
    assert opts.max_in_flight == 2000  # one workload keeps the whole budget


def test_an_explicit_source_needs_no_credential_variable(book):
    (opts,) = resolve(book, ["orders"], BASE, {"source": "amqp://localhost/%2f"}, environ={})
    assert opts.source == "amqp://localhost/%2f"


def test_unknown_workload_lists_the_ids(book):
    with pytest.raises(UsageError) as err:
        resolve(book, ["nope"], BASE, {}, ENV)
    line = err.value.one_line()
    assert "'nope'" in line and "orders, invoices" in line and "\n" not in line
    assert err.value.exit_code == 2


@pytest.mark.parametrize("flag", ["source", "queue", "topic"])
def test_single_workload_flags_with_several_workloads_are_a_usage_error(book, flag):
    with pytest.raises(UsageError, match=f"--{flag}") as err:
        resolve(book, [], BASE, {flag: "x"}, ENV)
    assert "orders, invoices" in err.value.message
    assert err.value.exit_code == 2


def test_missing_credential_variable_names_it_not_a_value(book):
    with pytest.raises(ConfigError) as err:
        resolve(book, ["orders"], BASE, {}, environ={"OTHER": URI})
    line = err.value.one_line()
    assert "T_RABBIT_URI" in line and "not set" in line
    assert SECRET not in line and err.value.exit_code == 2


def test_two_workloads_on_one_topic_refused(book):
    text = PLAYBOOK.replace("topic: invoices", "topic: shop.orders")
    fanout = loader.loads(text, "fanout.yaml")
    with pytest.raises(UsageError, match="both write topic 'shop.orders'"):
        resolve(fanout, [], BASE, {}, ENV)
    # one of them alone is fine
    assert len(resolve(fanout, ["invoices"], BASE, {}, ENV)) == 1


def test_user_password_credentials_go_into_the_endpoint():
    book = loader.loads(
        _workload("      endpoint: amqp://rabbit.internal:5672\n      vhost: a/b\n"), "one.yaml"
    )
    spec = source_spec(book.workloads[0], {"T_VAR": "bri:dge:p@ss w"})
    assert spec.uri == "amqp://bri:dge%3Ap%40ss%20w@rabbit.internal:5672/a%2Fb"
    assert "p@ss" not in repr(spec) and "p%40ss" not in repr(spec) and spec.masked.count("***")


def test_user_password_without_an_amqp_endpoint_is_an_error():
    book = loader.loads(_workload(), "one.yaml")
    with pytest.raises(ConfigError, match="T_VAR holds neither") as err:
        source_spec(book.workloads[0], {"T_VAR": "user:pw"})
    assert "pw" not in err.value.one_line().replace("PASSWORD", "")


def test_profile_for_an_amqp_source_is_an_error():
    book = loader.loads(_workload(creds="{profile: prod}"), "one.yaml")
    with pytest.raises(ConfigError, match="needs 'credentials: {env: NAME}'"):
        source_spec(book.workloads[0], {})


def test_a_uri_of_another_kind_is_an_error():
    book = loader.loads(_workload(), "one.yaml")
    with pytest.raises(ConfigError, match="rabbitmq in the playbook but its URI is a memory"):
        source_spec(book.workloads[0], {"T_VAR": "memory://x"})


def test_amqp1_uri_selects_the_amqp1_scheme():
    book = loader.loads(
        _workload("      endpoint: amqp://artemis.internal:5672\n", kind="amqp1"), "one.yaml"
    )
    assert (
        source_spec(book.workloads[0], {"T_VAR": "u:p"}).uri == "amqp1://u:p@artemis.internal:5672"
    )
    assert (
        source_spec(book.workloads[0], {"T_VAR": "amqps://u:p@h:5671"}).uri == "amqp1s://u:p@h:5671"
    )


def test_amqp1_artemis_endpoint_is_the_management_api():
    """What ``plan`` writes for an Artemis assessed through Jolokia: the endpoint is the
    console; the bridge and cutover's probes and shadow removal use it as management API."""
    from mqmigrate.cutover.source import resolve as resolve_access

    book = loader.loads(
        _workload("      endpoint: artemis+https://mgmt.internal:8443\n", kind="amqp1"), "one.yaml"
    )
    env = {"T_VAR": "amqp1://u:p@broker.internal:61616"}
    spec = source_spec(book.workloads[0], env)
    assert spec.options == {"management_url": "https://mgmt.internal:8443"}
    assert spec.uri == "amqp1://u:p@broker.internal:61616"
    access = resolve_access(book.workloads[0], env)
    assert (access.kind, access.management_url) == ("amqp1", "https://mgmt.internal:8443")
    plain = loader.loads(_workload(kind="amqp1"), "one.yaml")
    assert source_spec(plain.workloads[0], env).options == {}
    # without an artemis+ endpoint: port 8161 of the AMQP host, the adapter's own default
    assert resolve_access(plain.workloads[0], env).management_url == "http://broker.internal:8161"


@pytest.mark.parametrize(
    "source,creds,env,uri",
    [
        ("      region: eu-west-1\n", "{profile: prod}", {}, "sqs://eu-west-1?profile=prod"),
        (
            "      endpoint: sqs+http://127.0.0.1:9324\n      region: us-east-1\n",
            "{env: AWS_PROFILE}",
            {"AWS_PROFILE": "dev"},
            "sqs+http://127.0.0.1:9324?region=us-east-1&profile=dev",
        ),
        (
            "",
            "{env: SQS_URI}",
            {"SQS_URI": "sqs+http://k:s@h:1?region=x"},
            "sqs+http://k:s@h:1?region=x",
        ),
    ],
)
def test_sqs_sources(source, creds, env, uri):
    book = loader.loads(_workload(source, kind="sqs", creds=creds), "one.yaml")
    spec = source_spec(book.workloads[0], env)
    assert (spec.kind, spec.queue, spec.uri) == ("sqs", "q", uri)


@pytest.mark.parametrize(
    "mapping_key,strategy",
    [
        ("none", "none"),
        ("message-group-id", "group"),
        ("amqp-group-id", "group"),
        ("routing-key", "routing-key"),
        ("header:tenant", "header:tenant"),
    ],
)
def test_playbook_keys_map_to_bridge_strategies(mapping_key, strategy):
    assert key_from_playbook(mapping_key) == strategy
    KeyStrategy.parse(strategy)  # and the bridge accepts it


def _env(headers) -> Envelope:
    return Envelope(body=b"x", source_id="id-1", source_kind="rabbitmq", queue="q", headers=headers)


def test_header_mapping_renames_to_plain_headers_and_drops():
    mapping = HeaderMapping(
        {"tenant": "x-tenant", "when": "x-when", "nested": "x-nested", "raw": "x-raw"},
        frozenset({"x-trace"}),
    )
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    env = _env(
        {
            "tenant": "acme",
            "when": when,
            "nested": {"a": [1, decimal.Decimal("1.5")]},
            "raw": b"\x00\x01",
            "x-trace": "abc",
            "kept": 7,
        }
    )
    out = mapping.encoder()(env)
    plain = {k: v for k, v in out if not k.startswith("mq.")}
    assert plain == {
        "x-tenant": b"acme",
        "x-when": when.isoformat().encode(),
        "x-raw": b"\x00\x01",
        "x-nested": json.dumps(
            mqheaders.encode_value({"a": [1, decimal.Decimal("1.5")]}), separators=(",", ":")
        ).encode(),
    }
    decoded = mqheaders.decode(out)
    assert decoded.headers == {"kept": 7}  # renamed and dropped ones left the typed section
    assert decoded.source_id == "id-1"
    assert b"abc" not in b"".join(v for _, v in out)


def test_header_mapping_untouched_envelopes_encode_as_before():
    mapping = HeaderMapping({"tenant": "x-tenant"}, frozenset({"x-trace"}))
    env = _env({"other": 1})
    assert mapping.encoder()(env) == mqheaders.encode(env)
    assert HeaderMapping().encoder() is mqheaders.encode  # nothing to map: no cost


def test_sqs_attribute_renamed_to_its_value():
    mapping = HeaderMapping({"n": "x-n"})
    env = Envelope(
        body=b"x",
        source_id="i",
        source_kind="sqs",
        queue="q",
        headers={"n": {"DataType": "Number", "StringValue": "1.50"}},
    )
    assert ("x-n", b"1.50") in mapping.encoder()(env)


@pytest.mark.parametrize(
    "rename,drop,match",
    [
        ({"a": "mq.a"}, (), "bridge's own"),
        ({"a": "x"}, ("a",), "both renamed and dropped"),
        ({"a": "x", "b": "x"}, (), "several headers renamed to 'x'"),
    ],
)
def test_bad_header_mappings_refused(rename, drop, match):
    with pytest.raises(ConfigError, match=match):
        HeaderMapping(rename, frozenset(drop))


# -- the command line --------------------------------------------------------------------


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["bridge", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_unknown_workload_is_one_line_exit_2(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("T_RABBIT_URI", URI)
    path = tmp_path / "two.yaml"
    path.write_text(PLAYBOOK)
    code, out, err = _run(capsys, "--playbook", str(path), "--workload", "nope")
    assert code == 2 and out == ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "orders, invoices" in lines[0]


def test_cli_missing_variable_is_one_line_exit_2(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("T_RABBIT_URI", raising=False)
    path = tmp_path / "two.yaml"
    path.write_text(PLAYBOOK)
    code, _, err = _run(capsys, "--playbook", str(path), "--workload", "orders")
    assert code == 2 and "T_RABBIT_URI is not set" in err and len(err.strip().splitlines()) == 1


def test_cli_source_with_several_workloads_is_a_usage_error(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("T_RABBIT_URI", URI)
    monkeypatch.setenv("MQMIGRATE_SOURCE", URI)
    path = tmp_path / "two.yaml"
    path.write_text(PLAYBOOK)
    code, _, err = _run(capsys, "--playbook", str(path))
    assert code == 2 and "--source (or MQMIGRATE_SOURCE)" in err and SECRET not in err


def test_cli_invalid_playbook_is_exit_2(tmp_path: Path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(PLAYBOOK.replace("partitions: 3", "partitions: 0"))
    code, _, err = _run(capsys, "--playbook", str(path))
    assert code == 2 and "bad.yaml:" in err


def test_cli_flags_mode_still_needs_source_queue_topic(capsys, monkeypatch):
    monkeypatch.delenv("MQMIGRATE_SOURCE", raising=False)
    code, _, err = _run(capsys, "--queue", "q")
    assert code == 2 and "--source" in err and "--topic" in err
    code, _, err = _run(
        capsys, "--source", "amqp://h/", "--queue", "q", "--topic", "t", "--workload", "x"
    )
    assert code == 2 and "--workload needs --playbook" in err


def test_help_documents_the_playbook_mode(capsys):
    code, out, _ = _run(capsys, "--help")
    text = " ".join(out.replace("│", " ").split())  # rich wraps help in a box
    assert code == 0
    for words in (
        "--playbook",
        "--workload",
        "TOPIC.quarantine",
        "labelled by workload",
        "shared evenly",
        "MQMIGRATE_SOURCE",
    ):
        assert words in text, words
