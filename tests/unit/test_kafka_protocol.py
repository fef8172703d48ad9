"""mqmigrate.kafka.protocol without a broker: connection settings, recorded Kafka 4.4 answers,
the library's own encode/decode round trip, and how a failed connection is explained.

The broker round trips (plaintext and SASL) are integration tests
(tests/integration/test_wire_admin.py)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
from pathlib import Path

import pytest

from mqmigrate.errors import AuthenticationFailed, ConfigError, ConnectionFailed, MqMigrateError
from mqmigrate.kafka import protocol
from mqmigrate.kafka.protocol import (
    ShareGroupNotEmpty,
    ShareOffset,
    check_alter_response,
    client_settings,
    explain,
    kafka_config,
    features_from_response,
    parse_bootstrap,
    parse_share_group_offsets,
    response_class,
    share_group_messages,
)

DATA = Path(__file__).parent / "data"


def settings_of(props, **kwargs):
    """kafka-python settings for librdkafka properties, read as the package reads them."""
    return client_settings(kafka_config(props), **kwargs)


def _recorded(name: str) -> bytes:
    return bytes.fromhex((DATA / name).read_text().strip())


# ------------------------------------------------------------------ recorded answers (Kafka 4.4)


def test_recorded_api_versions_v4_gives_release_and_share_version():
    from kafka.protocol.metadata import ApiVersionsResponse

    response = ApiVersionsResponse.decode(
        _recorded("kafka44-api-versions-v4.hex"), version=4, header=True
    )
    features = features_from_response(response)
    assert features.release() == "4.4"
    assert features.finalized_level("share.version") == 2
    assert features.supported["share.version"] == (0, 2)
    assert features.finalized_level("no.such.feature") == 0
    assert features.api_versions[90] == (0, 1) and features.api_versions[91] == (0, 0)


def test_recorded_describe_share_group_offsets_v1():
    """Partition 1 was reset to 3 by the AlterShareGroupOffsets recorded beside it."""
    response = response_class("describe").decode(
        _recorded("kafka44-describe-share-group-offsets-v1.hex"), version=1, header=True
    )
    offsets = parse_share_group_offsets(response, "wa-probe-7786da")
    assert offsets == {"wa-probe-7786da": {0: ShareOffset(0, 1), 1: ShareOffset(3, 2)}}
    assert parse_share_group_offsets(response, "another-group") == {}


def test_recorded_alter_share_group_offsets_v0_is_success():
    response = response_class("alter").decode(
        _recorded("kafka44-alter-share-group-offsets-v0.hex"), version=0, header=True
    )
    check_alter_response(response, "wa-probe-7786da")  # raises on any error code
    assert [p.partition_index for t in response.responses for p in t.partitions] == [1]


# ------------------------------------------------------------------ library round trip


def _describe_response(
    version: int, *, lag: int = 5, start: int = 10, group_error: int = 0, partition_error: int = 0
):
    cls = response_class("describe")
    group_cls = cls.DescribeShareGroupOffsetsResponseGroup
    topic_cls = group_cls.DescribeShareGroupOffsetsResponseTopic
    part_cls = topic_cls.DescribeShareGroupOffsetsResponsePartition
    part = dict(
        partition_index=0,
        start_offset=start,
        leader_epoch=0,
        error_code=partition_error,
        error_message=None,
    )
    if version >= 1:
        part["lag"] = lag
    response = cls(
        throttle_time_ms=0,
        groups=[
            group_cls(
                group_id="g",
                error_code=group_error,
                error_message=None,
                topics=[topic_cls(topic_name="t", topic_id=None, partitions=[part_cls(**part)])],
            )
        ],
    )
    data = response.encode(version=version)
    return cls.decode(data, version=version)


def test_describe_round_trip_v1_reads_lag_and_v0_has_none():
    assert parse_share_group_offsets(_describe_response(1), "g") == {"t": {0: ShareOffset(10, 5)}}
    # a v0 broker reports no lag: unknown, never 0
    assert parse_share_group_offsets(_describe_response(0), "g") == {
        "t": {0: ShareOffset(10, None)}
    }
    # no share-partition state yet: start offset and lag -1
    assert parse_share_group_offsets(_describe_response(1, lag=-1, start=-1), "g") == {
        "t": {0: ShareOffset(None, None)}
    }


def test_describe_errors_are_typed():
    with pytest.raises(AuthenticationFailed, match="GroupAuthorizationFailed"):
        parse_share_group_offsets(_describe_response(1, group_error=30), "g")
    with pytest.raises(MqMigrateError, match="t-0 failed"):
        parse_share_group_offsets(_describe_response(1, partition_error=3), "g")


def _alter_response(top: int, partition: int):
    cls = response_class("alter")
    topic_cls = cls.AlterShareGroupOffsetsResponseTopic
    part_cls = topic_cls.AlterShareGroupOffsetsResponsePartition
    response = cls(
        throttle_time_ms=0,
        error_code=top,
        error_message=None,
        responses=[
            topic_cls(
                topic_name="t",
                topic_id=None,
                partitions=[part_cls(partition_index=0, error_code=partition, error_message=None)],
            )
        ],
    )
    return cls.decode(response.encode(version=0), version=0)


def test_alter_non_empty_group_is_its_own_error():
    with pytest.raises(ShareGroupNotEmpty, match="not empty"):
        check_alter_response(_alter_response(protocol.NON_EMPTY_GROUP, 0), "g")
    with pytest.raises(MqMigrateError, match="on t-0 failed") as info:
        check_alter_response(_alter_response(0, 3), "g")
    assert not isinstance(info.value, ShareGroupNotEmpty)
    check_alter_response(_alter_response(0, 0), "g")


def test_request_classes_encode_what_kafka_expects():
    """The request body's first bytes: a compact array of one group, its id as a compact
    string, a null topic list (all topics) — the layout of Kafka 4.4's message."""
    describe, alter = share_group_messages()
    assert describe.API_KEY == 90 and alter.API_KEY == 91
    body = describe(
        groups=[describe.DescribeShareGroupOffsetsRequestGroup(group_id="g", topics=None)]
    ).encode(version=1)
    assert body == bytes([2, 2]) + b"g" + bytes([0, 0, 0])
    topic = alter.AlterShareGroupOffsetsRequestTopic
    body = alter(
        group_id="g",
        topics=[
            topic(
                topic_name="t",
                partitions=[
                    topic.AlterShareGroupOffsetsRequestPartition(partition_index=1, start_offset=3)
                ],
            )
        ],
    ).encode(version=0)
    assert body == (
        bytes([2])
        + b"g"
        + bytes([2, 2])
        + b"t"
        + bytes([2])
        + (1).to_bytes(4, "big")
        + (3).to_bytes(8, "big")
        + bytes([0, 0, 0])
    )


# ------------------------------------------------------------------ connection settings


def test_plaintext_from_bootstrap_string():
    settings = client_settings(kafka_config("a:1, PLAINTEXT://b:2,[::1]:3"), timeout=3)
    assert settings["bootstrap_servers"] == ["a:1", "b:2", "[::1]:3"]
    assert settings["security_protocol"] == "PLAINTEXT"
    assert settings["bootstrap_timeout_ms"] == settings["request_timeout_ms"] == 3000
    assert "ssl_context" not in settings and "sasl_mechanism" not in settings


def test_sasl_ssl_scram_translation():
    props = {
        "bootstrap.servers": "b:9093",
        "security.protocol": "sasl_ssl",
        "sasl.mechanisms": "scram-sha-512",
        "sasl.username": "u",
        "sasl.password": "p",
        "client.id": "me",
        "linger.ms": "5",
    }
    settings = settings_of(props)
    assert settings["security_protocol"] == "SASL_SSL"
    assert settings["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (settings["sasl_plain_username"], settings["sasl_plain_password"]) == ("u", "p")
    assert settings["client_id"] == "me"
    context = settings["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


def test_plain_needs_username_and_password():
    with pytest.raises(ConfigError, match="needs sasl.username and sasl.password"):
        settings_of(
            {
                "bootstrap.servers": "b:1",
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN",
                "sasl.username": "u",
            }
        )


@pytest.mark.parametrize(
    "props, message",
    [
        ({}, "no Kafka bootstrap servers"),
        ({"bootstrap.servers": "no-port"}, "expected host:port"),
        ({"bootstrap.servers": "b:1", "security.protocol": "TLS"}, "security.protocol=TLS"),
        (
            {"bootstrap.servers": "b:1", "security.protocol": "SASL_SSL", "sasl.mechanism": "FOO"},
            "sasl.mechanism=FOO is not supported",
        ),
        (
            {
                "bootstrap.servers": "b:1",
                "security.protocol": "SSL",
                "ssl.ca.location": "/nonexistent/ca.pem",
            },
            "cannot load the CA certificate",
        ),
        (
            {
                "bootstrap.servers": "b:1",
                "security.protocol": "SSL",
                "ssl.certificate.location": "/nonexistent/c.pem",
            },
            "cannot load the client certificate",
        ),
    ],
)
def test_bad_settings_are_one_line_config_errors(props, message):
    with pytest.raises(ConfigError, match=message) as info:
        settings_of(props)
    assert "\n" not in info.value.one_line()


def test_hostname_check_and_verification_can_be_turned_off():
    base = {"bootstrap.servers": "b:1", "security.protocol": "SSL"}
    no_host = settings_of({**base, "ssl.endpoint.identification.algorithm": "none"})
    assert not no_host["ssl_context"].check_hostname
    assert no_host["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    off = settings_of({**base, "enable.ssl.certificate.verification": "false"})
    assert off["ssl_context"].verify_mode == ssl.CERT_NONE


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA and a client certificate with an encrypted key, made here."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    root = tmp_path_factory.mktemp("pki")

    def cert(subject, issuer, key, signer, ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
        )
        return builder.sign(signer, hashes.SHA256())

    ca_key, client_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = cert("test-ca", "test-ca", ca_key, ca_key, True)
    client = cert("client", "test-ca", client_key, ca_key, False)
    pem = serialization.Encoding.PEM
    (root / "ca.pem").write_bytes(ca.public_bytes(pem))
    (root / "client.pem").write_bytes(client.public_bytes(pem))
    (root / "client-key.pem").write_bytes(
        client_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"key-pw")
        )
    )
    return root


def test_mtls_from_files_and_a_ca_from_pem_text(pki):
    files = {
        "bootstrap.servers": "b:1",
        "security.protocol": "SSL",
        "ssl.ca.location": str(pki / "ca.pem"),
        "ssl.certificate.location": str(pki / "client.pem"),
        "ssl.key.location": str(pki / "client-key.pem"),
        "ssl.key.password": "key-pw",
    }
    context = settings_of(files)["ssl_context"]
    assert ((("commonName", "test-ca"),),) in [c["subject"] for c in context.get_ca_certs()]
    text = {
        "bootstrap.servers": "b:1",
        "security.protocol": "SSL",
        "ssl.ca.pem": (pki / "ca.pem").read_text(),
    }
    names = [c["subject"] for c in settings_of(text)["ssl_context"].get_ca_certs()]
    assert ((("commonName", "test-ca"),),) in names
    with pytest.raises(ConfigError, match="PEM files"):
        settings_of({**text, "ssl.certificate.pem": (pki / "client.pem").read_text()})
    with pytest.raises(ConfigError, match="client certificate") as info:
        settings_of({**files, "ssl.key.password": "wrong"})
    assert "key-pw" not in info.value.one_line() and "wrong" not in info.value.one_line()


def test_oauthbearer_unsecured_token_like_librdkafka():
    settings = settings_of(
        {
            "bootstrap.servers": "b:1",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "sasl.oauthbearer.config": "principal=admin scope=a,b extension_traceId=42",
        }
    )
    provider = settings["sasl_oauth_token_provider"]
    header, payload, signature = provider.token().split(".")
    assert signature == ""

    def decoded(part: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    assert decoded(header) == {"alg": "none"}
    claims = decoded(payload)
    assert claims["sub"] == "admin" and claims["scope"] == ["a", "b"]
    assert claims["exp"] > claims["iat"]
    assert provider.extensions() == {"traceId": "42"}
    with pytest.raises(ConfigError, match="principal"):
        settings_of(
            {
                "bootstrap.servers": "b:1",
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "OAUTHBEARER",
            }
        )["sasl_oauth_token_provider"].token()


def test_oauthbearer_callback_is_called_once_until_expiry():
    calls = []

    def callback(config):
        calls.append(config)
        return f"token-{len(calls)}", dt.datetime.now().timestamp() + 3600

    settings = settings_of(
        {
            "bootstrap.servers": "b:1",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": callback,
            "sasl.oauthbearer.config": "cfg",
        }
    )
    provider = settings["sasl_oauth_token_provider"]
    assert provider.token() == provider.token() == "token-1" and calls == ["cfg"]


def test_oidc_needs_its_settings():
    with pytest.raises(ConfigError, match="sasl.oauthbearer.client.id"):
        settings_of(
            {
                "bootstrap.servers": "b:1",
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "OAUTHBEARER",
                "sasl.oauthbearer.method": "oidc",
            }
        )


def test_connection_from_a_kafka_config_uses_its_client_settings():
    """A KafkaConfig's OAUTHBEARER callback (``mqmigrate.oauth.callback``) reaches the
    token provider, as it reaches librdkafka's ``oauth_cb``."""
    from mqmigrate.kafka.config import KafkaConfig

    config = KafkaConfig(
        {
            "bootstrap.servers": "b:9093",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "mqmigrate.oauth.callback": f"{__name__}:token_for_test",
        }
    )
    provider = client_settings(config)["sasl_oauth_token_provider"]
    assert provider.token() == "token-from-callback"
    assert kafka_config(config) is config
    assert kafka_config({"bootstrap.servers": "m:1"}).bootstrap == "m:1"


def token_for_test(_config: str) -> tuple[str, float]:
    return "token-from-callback", dt.datetime.now().timestamp() + 3600


# ------------------------------------------------------------------ failures explained


@pytest.mark.parametrize(
    "cause, kind, words",
    [
        (
            "[Error 58] SaslAuthenticationFailedError: Authentication failed: Invalid username or "
            "password",
            AuthenticationFailed,
            "refused the credentials",
        ),
        ("UnsupportedSaslMechanismError: PLAIN", AuthenticationFailed, "SASL mechanism"),
        (
            "KafkaConnectionError: Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
            "verify failed: unable to get local issuer certificate",
            ConnectionFailed,
            "not trusted",
        ),
        (
            "KafkaConnectionError: Handshake failed: [SSL: UNEXPECTED_EOF_WHILE_READING] EOF",
            ConnectionFailed,
            "TLS handshake",
        ),
        ("[Error 34] IllegalSaslStateError", ConnectionFailed, "does not take SASL"),
        (
            "KafkaConnectionError: [SSL: SSLV3_ALERT_CERTIFICATE_UNKNOWN] sslv3 alert certificate "
            "unknown",
            ConnectionFailed,
            "refused the client certificate",
        ),
        ("KafkaConnectionError: 111 ECONNREFUSED", ConnectionFailed, "connection refused"),
        (
            "InvalidReceiveError: Invalid frame length: 1095586128",
            ConnectionFailed,
            "not a Kafka listener",
        ),
        # a TLS listener's alert record (0x15 0x03 0x03 ...) read as a Kafka frame length
        (
            "InvalidReceiveError: Invalid frame length: 352518912",
            ConnectionFailed,
            "TLS listener spoken to in plaintext",
        ),
        (
            "[Error 7] RequestTimedOutError: Request timed out after 3997 ms",
            ConnectionFailed,
            "no Kafka answer within 4s",
        ),
        ("KafkaConnectionError: DNS Resolution failure", ConnectionFailed, "does not resolve"),
        (None, ConnectionFailed, "did not answer within 4s"),
    ],
)
def test_failures_name_endpoint_and_cause(cause, kind, words):
    error = explain("b:9093", cause, "SASL_SSL", 4.0)
    assert type(error) is kind
    line = error.one_line()
    assert "b:9093" in line and words in line and "\n" not in line


def _log(causes, level: int, message: str) -> None:
    import logging

    causes.emit(logging.LogRecord("kafka.net", level, __file__, 1, message, None, None))


def test_a_connection_dropped_during_sasl_is_taken_as_refused_credentials():
    """What the library logs when a SASL_SSL broker refuses SCRAM credentials and closes the
    connection without an error response, then retries until the timeout."""
    import logging

    causes = protocol._Causes(sasl=True)
    for _ in range(2):
        _log(causes, logging.INFO, "<conn>: Broker version identified as 4.3")
        _log(
            causes,
            logging.ERROR,
            "<conn>: Connection lost: KafkaConnectionError: socket disconnected",
        )
        _log(
            causes,
            logging.WARNING,
            "Bootstrap connection to bootstrap-0 failed: "
            "KafkaConnectionError: socket disconnected (backoff 0.19 "
            "secs)",
        )
    _log(causes, logging.ERROR, "Bootstrap failed: KafkaTimeoutError: Unable to bootstrap")
    refused = explain("b:1", causes.last, "SASL_SSL", 5)
    assert type(refused) is AuthenticationFailed and "during SASL" in refused.one_line()
    # a listener without SASL refuses the handshake first: not a credentials problem
    causes = protocol._Causes(sasl=True)
    _log(causes, logging.INFO, "<conn>: Broker version identified as 4.3")
    _log(causes, logging.ERROR, "<conn>: SaslHandshake failed: IllegalSaslStateError")
    _log(
        causes, logging.ERROR, "<conn>: Connection lost: KafkaConnectionError: socket disconnected"
    )
    assert "does not take SASL" in explain("b:1", causes.last, "SASL_SSL", 5).one_line()
    # without SASL a dropped connection stays what it is
    causes = protocol._Causes(sasl=False)
    _log(causes, logging.INFO, "<conn>: Broker version identified as 4.3")
    _log(
        causes, logging.ERROR, "<conn>: Connection lost: KafkaConnectionError: socket disconnected"
    )
    assert type(explain("b:1", causes.last, "SSL", 5)) is ConnectionFailed


def test_tls_handshake_on_plaintext_config_hints_at_security_protocol():
    line = explain("b:1", "Handshake failed: EOF", "SSL", 5).one_line()
    assert "security.protocol" in line


def test_parse_bootstrap():
    assert parse_bootstrap("a:1, PLAINTEXT://b:2,[::1]:3") == [("a", 1), ("b", 2), ("::1", 3)]
    with pytest.raises(ValueError):
        parse_bootstrap("no-port")


def test_a_token_that_cannot_be_had_fails_before_connecting():
    """No broker is contacted (the port is closed): the token comes first."""
    from mqmigrate.kafka.protocol import WireAdmin

    base = {
        "bootstrap.servers": "127.0.0.1:9",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "OAUTHBEARER",
    }
    with pytest.raises(ConfigError, match="principal"):
        WireAdmin(base, timeout=2)

    def broken(_config):
        raise RuntimeError("identity provider down")

    with pytest.raises(AuthenticationFailed, match="token callback failed.*provider down"):
        WireAdmin({**base, "oauth_cb": broken}, timeout=2)
