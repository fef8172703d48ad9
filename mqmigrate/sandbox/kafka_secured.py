"""The sandbox Kafka broker's secured listeners, next to its PLAINTEXT one.

One broker, four client listeners (no extra JVM):

============  ===============  ==========================================================
listener      default port     what a client needs
============  ===============  ==========================================================
PLAINTEXT     9092             nothing (the rest of the suite uses it)
SASL_SSL      9094             the sandbox CA; SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN as
                               user ``mqmigrate`` with the password in
                               ``<state>/kafka/sandbox-password``
OAUTH         9095             the sandbox CA; SASL OAUTHBEARER with an *unsigned* JWT
                               (Kafka's unsecured validator: sandbox only)
MTLS          9096             the sandbox CA and the client certificate (TLS client
                               authentication required)
============  ===============  ==========================================================

Keystores are PEM files (``ssl.keystore.type=PEM``), so no keytool or JKS is involved.  The
SCRAM credentials are created (upserted) through the admin API on the PLAINTEXT listener once
the broker answers, so they also appear on a data directory formatted before this existed.
Ready librdkafka client properties files, with the password given by reference
(``${file:PATH}``), are written to ``<state>/kafka/client-*.properties``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from mqmigrate.errors import SandboxError
from mqmigrate.sandbox.base import Endpoint
from mqmigrate.sandbox.tls import TlsFiles

if TYPE_CHECKING:
    from mqmigrate.kafka.config import KafkaConfig

#: port keys and defaults of the secured listeners (``--port kafka.sasl_ssl=N`` ...)
SECURED_PORTS = {"sasl_ssl": 9094, "oauth": 9095, "mtls": 9096}
#: the SASL user the sandbox creates (SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN)
SASL_USER = "mqmigrate"
#: the principal (JWT ``sub``) of the OAUTHBEARER client files
OAUTH_PRINCIPAL = "mqmigrate"
SCRAM_ITERATIONS = 8192
PASSWORD_FILE = "sandbox-password"
#: the client properties files written next to the broker's data, by stem
CLIENT_FILES = ("client-scram", "client-plain", "client-oauth", "client-mtls")

_LISTENERS = {
    "sasl_ssl": ("SASL_SSL", "SASL_SSL"),
    "oauth": ("OAUTH", "SASL_SSL"),
    "mtls": ("MTLS", "SSL"),
}


@dataclass(frozen=True)
class SecuredKafka:
    """Where the secured listeners are and what they trust."""

    ports: dict[str, int]
    tls: TlsFiles
    password_file: Path
    host: str = "127.0.0.1"

    def address(self, key: str) -> str:
        return f"{self.host}:{self.ports[key]}"


def listener_properties(secured: SecuredKafka, *, password: str) -> dict[str, str]:
    """Broker properties that add the three secured listeners.

    ``listeners``, ``advertised.listeners`` and ``listener.security.protocol.map`` are given
    only for the secured listeners; :func:`merge_listeners` joins them with the broker's own.
    ``password`` is the PLAIN user's (PLAIN users live in the JAAS line; SCRAM users in the
    cluster metadata).
    """
    listeners = ",".join(
        f"{name}://{secured.address(key)}" for key, (name, _) in _LISTENERS.items()
    )
    return {
        "listeners": listeners,
        "advertised.listeners": listeners,
        "listener.security.protocol.map": ",".join(
            f"{name}:{protocol}" for name, protocol in _LISTENERS.values()
        ),
        # one server identity and one trusted CA for every TLS listener, as PEM files
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(secured.tls.server_keystore_pem),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(secured.tls.ca_cert),
        "listener.name.mtls.ssl.client.auth": "required",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.sasl_ssl.plain.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'user_{SASL_USER}="{password}";',
        "listener.name.oauth.sasl.enabled.mechanisms": "OAUTHBEARER",
        # no server callback handler set: Kafka then validates with its unsecured validator,
        # which accepts an unsigned JWT (alg "none") whose "sub" becomes the principal
        "listener.name.oauth.oauthbearer.sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
    }


def without_plaintext(properties: dict[str, str]) -> dict[str, str]:
    """Broker properties with the PLAINTEXT client listener removed: brokers then talk to each
    other over the mTLS listener (the server certificate is also a client certificate), and
    every client must come through a secured listener."""

    def drop(value: str) -> str:
        return ",".join(item for item in value.split(",") if not item.startswith("PLAINTEXT"))

    stripped = dict(properties)
    for key in ("listeners", "advertised.listeners", "listener.security.protocol.map"):
        stripped[key] = drop(stripped.get(key, ""))
    stripped["inter.broker.listener.name"] = _LISTENERS["mtls"][0]
    return stripped


def merge_listeners(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """``base`` updated with ``extra``, where the comma-separated listener lists are joined."""
    merged = dict(base)
    for key, value in extra.items():
        if key in (
            "listeners",
            "advertised.listeners",
            "listener.security.protocol.map",
        ) and merged.get(key):
            merged[key] = f"{merged[key]},{value}"
        else:
            merged[key] = value
    return merged


def client_properties(secured: SecuredKafka) -> dict[str, dict[str, str]]:
    """librdkafka client settings for each secured way in, by file stem.

    The password is a ``${file:PATH}`` reference, expanded by ``--kafka-config``; nothing
    secret is written into these files.
    """
    ca = str(secured.tls.ca_cert)
    password = f"${{file:{secured.password_file}}}"
    sasl = {
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": ca,
        "sasl.username": SASL_USER,
        "sasl.password": password,
    }
    return {
        "client-scram": {
            "bootstrap.servers": secured.address("sasl_ssl"),
            "sasl.mechanism": "SCRAM-SHA-512",
            **sasl,
        },
        "client-plain": {
            "bootstrap.servers": secured.address("sasl_ssl"),
            "sasl.mechanism": "PLAIN",
            **sasl,
        },
        "client-oauth": {
            "bootstrap.servers": secured.address("oauth"),
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": ca,
            "sasl.mechanism": "OAUTHBEARER",
            # librdkafka's built-in unsecured JWT (sandbox only; a real cluster needs
            # sasl.oauthbearer.method=oidc with a token endpoint)
            "enable.sasl.oauthbearer.unsecure.jwt": "true",
            "sasl.oauthbearer.config": f"principal={OAUTH_PRINCIPAL}",
        },
        "client-mtls": {
            "bootstrap.servers": secured.address("mtls"),
            "security.protocol": "SSL",
            "ssl.ca.location": ca,
            "ssl.certificate.location": str(secured.tls.client_cert),
            "ssl.key.location": str(secured.tls.client_key),
        },
    }


def render_properties(settings: dict[str, str], *, header: str) -> str:
    """A properties file: a comment header and ``key=value`` lines in the given order."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def write_client_properties(secured: SecuredKafka, directory: Path) -> dict[str, Path]:
    """Write ``client-*.properties`` into ``directory``; return their paths by stem."""
    written = {}
    for stem, settings in client_properties(secured).items():
        path = directory / f"{stem}.properties"
        path.write_text(
            render_properties(
                settings,
                header=f"written by mqmigrate sandbox: {stem.removeprefix('client-')} on the "
                "sandbox Kafka\nuse with: mqmigrate ... --kafka-config " + str(path),
            )
        )
        written[stem] = path
    return written


def endpoints(secured: SecuredKafka, directory: Path) -> list[Endpoint]:
    """Status rows for the secured listeners: address, mechanism, and the client file to use
    (never the password: the files hold only a reference to it)."""
    return [
        Endpoint(
            "sasl_ssl",
            secured.address("sasl_ssl"),
            f"SASL_SSL SCRAM-SHA-512/256 or PLAIN, user {SASL_USER}, password "
            f"${{file:{secured.password_file}}}; {directory / 'client-scram.properties'}",
        ),
        Endpoint(
            "oauthbearer",
            secured.address("oauth"),
            "SASL_SSL OAUTHBEARER, unsigned JWT (unsecured validator); "
            f"{directory / 'client-oauth.properties'}",
        ),
        Endpoint(
            "mtls",
            secured.address("mtls"),
            f"SSL with client certificate required; {directory / 'client-mtls.properties'}",
        ),
        Endpoint("ca", str(secured.tls.ca_cert), "the sandbox CA every TLS listener uses"),
    ] + [
        # the ready client files: paths to hand to --kafka-config (no secret inside)
        Endpoint(stem, str(directory / f"{stem}.properties"), "librdkafka client properties")
        for stem in CLIENT_FILES
    ]


def read_password(path: Path) -> str:
    """The sandbox SASL password as clients read it through ``${file:PATH}``."""
    return path.read_text().rstrip("\n")


def create_scram_users(admin_config: "KafkaConfig", password: str, *, timeout: float = 15) -> None:
    """Upsert the sandbox user's SCRAM-SHA-512 and SCRAM-SHA-256 credentials, connecting with
    ``admin_config`` (the PLAINTEXT listener, or mTLS on a broker without one)."""
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    # errors only: librdkafka's info line about purged background events on close would
    # otherwise land in ``sandbox up``'s output
    admin = AdminClient(admin_config.client(**{"socket.timeout.ms": 5000, "log_level": 3}))
    upserts = [
        UserScramCredentialUpsertion(
            SASL_USER, ScramCredentialInfo(mechanism, SCRAM_ITERATIONS), password.encode()
        )
        for mechanism in (ScramMechanism.SCRAM_SHA_512, ScramMechanism.SCRAM_SHA_256)
    ]
    for mechanism_upsert in upserts:  # one per request: the API refuses two per user at once
        futures = admin.alter_user_scram_credentials([mechanism_upsert], request_timeout=timeout)
        for user, future in futures.items():
            try:
                future.result(timeout=timeout)
            except Exception as exc:
                raise SandboxError(f"could not create the SCRAM user {user!r}: {exc}") from exc


def protect(path: Path) -> None:
    """Make a file that holds a secret readable by its owner only."""
    os.chmod(path, 0o600)
