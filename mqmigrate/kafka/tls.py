"""A Python ``ssl.SSLContext`` from a KafkaConfig's librdkafka ``ssl.*`` settings.

For the tool's own Kafka sockets (the wire-protocol requests confluent-kafka does not offer),
so they trust, present and verify exactly what the librdkafka clients do.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from mqmigrate.errors import ConfigError
from mqmigrate.kafka.config import KafkaConfig


def uses_tls(config: KafkaConfig) -> bool:
    """True for ``SSL`` and ``SASL_SSL``."""
    return config.security_protocol in ("SSL", "SASL_SSL")


def ssl_context(config: KafkaConfig) -> ssl.SSLContext | None:
    """The TLS context ``config`` asks for, or None for a listener without TLS."""
    if not uses_tls(config):
        return None
    props = config.properties
    context = ssl.create_default_context()
    ca = props.get("ssl.ca.location")
    if ca:
        path = Path(str(ca))
        try:
            if path.is_dir():
                context.load_verify_locations(capath=str(path))
            else:
                context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"ssl.ca.location {path}: cannot load the CA certificate ({exc})",
                hint="give a PEM file of the CA that signed the brokers' certificates",
            ) from None
    if props.get("ssl.ca.pem"):
        context.load_verify_locations(cadata=str(props["ssl.ca.pem"]))
    if str(props.get("enable.ssl.certificate.verification", "true")).lower() == "false":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif str(props.get("ssl.endpoint.identification.algorithm", "https")).lower() == "none":
        context.check_hostname = False
    cert = props.get("ssl.certificate.location")
    if cert:
        try:
            context.load_cert_chain(
                str(cert),
                props.get("ssl.key.location") or None,
                password=props.get("ssl.key.password") or None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"ssl.certificate.location {cert}: cannot load the client "
                f"certificate and key ({type(exc).__name__})",
                hint="give PEM files with ssl.certificate.location and "
                "ssl.key.location (and ssl.key.password if encrypted)",
            ) from None
    elif props.get("ssl.keystore.location") or props.get("ssl.certificate.pem"):
        raise ConfigError(
            "the client certificate must be PEM files for this request",
            hint="give ssl.certificate.location and ssl.key.location",
        )
    return context
