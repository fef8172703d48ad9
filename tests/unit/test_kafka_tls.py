"""The Python TLS context built from librdkafka ssl.* settings (for the tool's own sockets)."""

from __future__ import annotations

import ssl

import pytest

from mqmigrate.errors import ConfigError
from mqmigrate.kafka.config import KafkaConfig
from mqmigrate.kafka.tls import ssl_context, uses_tls


def config(**props: str) -> KafkaConfig:
    return KafkaConfig({"bootstrap.servers": "b:9093", **props})


def test_no_tls_for_plaintext_protocols():
    for protocol in ("PLAINTEXT", "SASL_PLAINTEXT"):
        assert ssl_context(config(**{"security.protocol": protocol})) is None
        assert not uses_tls(config(**{"security.protocol": protocol}))


def test_verification_settings_follow_librdkafka():
    strict = ssl_context(config(**{"security.protocol": "SASL_SSL"}))
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    no_names = ssl_context(
        config(**{"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": "none"})
    )
    assert no_names.verify_mode == ssl.CERT_REQUIRED and not no_names.check_hostname
    off = ssl_context(
        config(**{"security.protocol": "SSL", "enable.ssl.certificate.verification": "false"})
    )
    assert off.verify_mode == ssl.CERT_NONE


def test_unreadable_ca_and_client_certificate_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="ssl.ca.location"):
        ssl_context(
            config(**{"security.protocol": "SSL", "ssl.ca.location": str(tmp_path / "missing.pem")})
        )
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="ssl.certificate.location"):
        ssl_context(
            config(
                **{
                    "security.protocol": "SSL",
                    "ssl.certificate.location": str(tmp_path / "junk.pem"),
                    "ssl.key.location": str(tmp_path / "junk.pem"),
                }
            )
        )
