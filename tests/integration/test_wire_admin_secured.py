"""No Java at run time, on the sandbox's secured Kafka listeners: the feature probe, the
share-group offsets (describe, and the start at the cut) and the cutover's backlog gate go over
SASL_SSL (SCRAM-SHA-512, PLAIN, OAUTHBEARER) and mTLS with the ``client-*.properties`` files
the sandbox writes, read as ``--kafka-config`` reads them; what they read equals what Kafka's
own ShareGroupCommand (the sandbox's jars, the oracle) reports.  Each bad input is one typed
line naming the endpoint and the cause, within seconds."""

from __future__ import annotations

import json
import time

import pytest

from mqmigrate.cli import main
from mqmigrate.errors import AuthenticationFailed, ConnectionFailed, MqMigrateError
from mqmigrate.kafka import share
from mqmigrate.kafka.config import KafkaConfig, read_config_file
from mqmigrate.kafka.protocol import ShareOffset, WireAdmin, fetch_features
from tests.integration.test_wire_admin import _as_pairs, _consume, _oracle, _produce

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

STEMS = ["client-scram", "client-plain", "client-oauth", "client-mtls"]


@pytest.fixture(scope="module")
def secured(kafka_service):
    """``(directory of the client files, the sandbox's TLS files)`` once the secured listeners
    answer a TLS handshake."""
    from mqmigrate.sandbox import kafka_secured, tls

    listeners = kafka_service.secured_listeners()
    try:
        for key in kafka_secured.SECURED_PORTS:
            tls.check_tls_listener(listeners.address(key), listeners.tls)
    except OSError as exc:
        pytest.fail(
            f"the sandbox Kafka has no secured listeners ({exc}): restart it with "
            "mqmigrate sandbox down -s kafka && mqmigrate sandbox up -s kafka"
        )
    return kafka_service.dir, listeners.tls


def _config(secured, stem: str, **overrides: str) -> KafkaConfig:
    config = read_config_file(secured[0] / f"{stem}.properties")
    return config.with_overrides(overrides) if overrides else config


@pytest.fixture
def consumed(kafka_bootstrap, unique_name):
    """A topic of 2 × 5 records whose share group accepted 2 records of each partition."""
    admin = share.admin_client(kafka_bootstrap)
    share.create_topic(admin, unique_name, partitions=2)
    share.set_group_configs(admin, unique_name, {"share.auto.offset.reset": "earliest"})
    _produce(kafka_bootstrap, unique_name, per_partition=5)
    assert len(_consume(kafka_bootstrap, unique_name, unique_name, per_partition=2)) == 4
    yield unique_name
    share.delete_topic(admin, unique_name)


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_share_group_offsets_over_each_secured_listener(
    secured, stem, kafka_service, kafka_bootstrap, consumed
):
    topic = group = consumed
    config = _config(secured, stem)
    features = fetch_features(config)
    assert features.release() and features.finalized_level("share.version") >= 1
    with WireAdmin(config) as wire:
        offsets = wire.share_group_offsets(group)[topic]
        assert sum(o.lag for o in offsets.values()) == 6
        assert _as_pairs(offsets) == _oracle(kafka_service, kafka_bootstrap, group)
        wire.alter_share_group_offsets(group, topic, {0: 4, 1: 3})
        assert wire.share_group_offsets(group, [topic])[topic] == {
            0: ShareOffset(4, 1),
            1: ShareOffset(3, 2),
        }
    assert _as_pairs({0: ShareOffset(4, 1), 1: ShareOffset(3, 2)}) == _oracle(
        kafka_service, kafka_bootstrap, group
    )


@pytest.mark.slow
def test_cutover_gate_and_start_at_the_cut_over_sasl_ssl(secured, consumed):
    """The cutover's own entry points, given the KafkaConfig the runner hands them."""
    from mqmigrate.cutover.actions import start_share_group_at
    from mqmigrate.cutover.probes import ShareGroupBacklogProbe
    from mqmigrate.playbooks.model import Workload

    topic = group = consumed
    config = _config(secured, "client-scram")
    wl = Workload.model_validate(
        {
            "id": "w",
            "source": {"kind": "rabbitmq", "queue": "q"},
            "strategy": "drain-only",
            "target": {
                "topic": topic,
                "partitions": 2,
                "consumer": {"type": "share-group", "group": group},
            },
            "phases": {},
        }
    )
    assert ShareGroupBacklogProbe(lambda: config).measure(wl).value == 6
    assert "starts at the cut" in start_share_group_at(config, group, topic, {0: 5, 1: 5})
    assert ShareGroupBacklogProbe(lambda: config).measure(wl).value == 0
    wrong = config.with_overrides({"sasl.password": "wrong-pw"})
    refused = ShareGroupBacklogProbe(lambda: wrong).measure(wl)
    assert refused.value is None and "SASL" in refused.detail and "wrong-pw" not in refused.detail


@pytest.mark.parametrize("stem", ["client-scram", "client-oauth", "client-mtls"])
def test_doctor_is_ready_over_each_secured_listener(secured, stem, capsys):
    code = main(
        ["doctor", "--kafka-config", str(secured[0] / f"{stem}.properties"), "--format", "json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert {c["name"]: c["result"] for c in report["checks"]} == {
        "kafka.version": "ok",
        "share.version": "ok",
        "share.round-trip": "ok",
    }


def _failure(connection) -> tuple[MqMigrateError, float]:
    began = time.monotonic()
    with pytest.raises(MqMigrateError) as info:
        fetch_features(connection, timeout=5)
    return info.value, time.monotonic() - began


def test_bad_inputs_are_one_typed_line_within_seconds(secured, kafka_bootstrap):
    files = secured[1]
    scram = _config(secured, "client-scram")
    mtls = _config(secured, "client-mtls")
    oauth = _config(secured, "client-oauth")
    password = scram.properties["sasl.password"]
    cases = [
        # the broker's certificate: the system store does not know the sandbox CA
        (
            KafkaConfig({k: v for k, v in scram.properties.items() if k != "ssl.ca.location"}),
            ConnectionFailed,
            "not trusted",
        ),
        (
            scram.with_overrides({"ssl.ca.location": str(files.unknown_ca_cert)}),
            ConnectionFailed,
            "not trusted",
        ),
        # over TLS the broker's refusal may come as a closed connection: both say SASL
        (scram.with_overrides({"sasl.password": "wrong-pw"}), AuthenticationFailed, "SASL"),
        (
            oauth.with_overrides(
                {
                    "sasl.mechanism": "SCRAM-SHA-512",
                    "sasl.username": "mqmigrate",
                    "sasl.password": password,
                }
            ),
            AuthenticationFailed,
            "SASL",
        ),
        (
            mtls.with_overrides(
                {
                    "ssl.certificate.location": str(files.expired_client_cert),
                    "ssl.key.location": str(files.expired_client_key),
                }
            ),
            ConnectionFailed,
            "refused the client certificate",
        ),
        (
            mtls.with_overrides(
                {
                    "ssl.certificate.location": str(files.unknown_ca_client_cert),
                    "ssl.key.location": str(files.unknown_ca_client_key),
                }
            ),
            ConnectionFailed,
            "refused the client certificate",
        ),
        # plaintext to a TLS listener, TLS to the plaintext one, SASL to the plaintext one
        (
            KafkaConfig({"bootstrap.servers": scram.bootstrap}),
            ConnectionFailed,
            "TLS listener spoken to in plaintext",
        ),
        (scram.with_bootstrap(kafka_bootstrap), ConnectionFailed, "TLS handshake"),
        (
            KafkaConfig(
                {
                    **scram.properties,
                    "bootstrap.servers": kafka_bootstrap,
                    "security.protocol": "SASL_PLAINTEXT",
                }
            ),
            ConnectionFailed,
            "does not take SASL",
        ),
    ]
    for config, kind, words in cases:
        error, took = _failure(config)
        line = error.one_line()
        assert isinstance(error, kind) and words in line, line
        assert config.bootstrap in line, line
        assert "wrong-pw" not in line and password not in line, line
        assert took < 12, (line, took)


def test_doctor_with_a_wrong_password_exits_2_with_one_line(secured, tmp_path, capsys):
    text = (secured[0] / "client-scram.properties").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("sasl.password")]
    path = tmp_path / "wrong.properties"
    path.write_text("\n".join(lines + ["sasl.password=wrong-pw"]) + "\n")
    began = time.monotonic()
    code = main(["doctor", "--kafka-config", str(path), "--timeout", "5"])
    captured = capsys.readouterr()
    assert code == 2 and time.monotonic() - began < 15
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "SASL" in err[0] and "127.0.0.1:9094" in err[0], err
    assert "wrong-pw" not in captured.err + captured.out and "Traceback" not in captured.err
