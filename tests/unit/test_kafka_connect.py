"""How librdkafka's connection errors become one-line mqmigrate errors (the texts are the
ones librdkafka 2.x reports; the live cases run in tests/integration/test_kafka_config_guard.py)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from mqmigrate.errors import AuthenticationFailed, ConfigError, ConnectionFailed
from mqmigrate.kafka.config import KafkaConfig
from mqmigrate.kafka.connect import classify

SASL_SSL = KafkaConfig(
    {
        "bootstrap.servers": "b:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "hunter2",
    }
)
PLAIN = KafkaConfig.for_bootstrap("b:9093")
PREFIX = "sasl_ssl://b:9093/bootstrap: "


@pytest.mark.parametrize(
    "config, code, text, kind, words",
    [
        (
            SASL_SSL,
            KafkaError._AUTHENTICATION,
            PREFIX + "SASL authentication error: Authentication "
            "failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
            AuthenticationFailed,
            ["rejected the credentials", "sasl.password"],
        ),
        (
            SASL_SSL,
            KafkaError._AUTHENTICATION,
            PREFIX + "SASL PLAIN mechanism handshake failed: "
            "Broker: Unsupported SASL mechanism: broker's supported mechanisms: SCRAM-SHA-512",
            AuthenticationFailed,
            ["does not offer SASL mechanism", "sasl.mechanism"],
        ),
        (
            SASL_SSL,
            KafkaError._SSL,
            PREFIX + "SSL handshake failed: error:0A000086:SSL routines::"
            "certificate verify failed: broker certificate could not be verified",
            ConnectionFailed,
            ["CA the client does not trust", "ssl.ca.location"],
        ),
        (
            SASL_SSL,
            KafkaError._SSL,
            PREFIX + "SSL handshake failed: error:0A00010B:SSL routines::wrong version number",
            ConnectionFailed,
            ["does not speak TLS"],
        ),
        (
            SASL_SSL,
            KafkaError._SSL,
            PREFIX + "SSL handshake failed: certificate verify failed: certificate has expired",
            ConnectionFailed,
            ["expired"],
        ),
        (
            PLAIN,
            KafkaError._TRANSPORT,
            "b:9093/bootstrap: Disconnected while requesting ApiVersion: "
            "might be caused by incorrect security.protocol configuration (connecting to a SSL "
            "listener?)",
            ConnectionFailed,
            ["speaks TLS", "security.protocol=SSL"],
        ),
        (
            PLAIN,
            KafkaError._TRANSPORT,
            "b:9093/bootstrap: Disconnected: connection closed by peer: "
            "receive 0 after POLLIN (after 0ms in state APIVERSION_QUERY)",
            ConnectionFailed,
            ["speaks TLS"],
        ),
        (PLAIN, KafkaError._INVALID_ARG, "Unknown configuration name", ConfigError, ["bad Kafka"]),
    ],
)
def test_classify_names_endpoint_and_cause(config, code, text, kind, words):
    error = classify(KafkaError(code, text), config)
    assert isinstance(error, kind)
    line = error.one_line()
    assert "b:9093" in line and "hunter2" not in line and "bootstrap:" not in line
    for word in words:
        assert word in line


def test_refused_connection_is_not_yet_a_verdict():
    refused = KafkaError(
        KafkaError._TRANSPORT,
        PREFIX + "Connect to ipv4#127.0.0.1:1 failed: "
        "Connection refused (after 0ms in state CONNECT)",
    )
    assert classify(refused, SASL_SSL) is None  # other bootstrap servers may still answer
