"""A private Kafka broker with a SASL_SSL (SCRAM-SHA-512) listener and a CA of its own.

Clients of the tests connect only to the SASL_SSL listener: a client built without the
shared configuration (plaintext, no credentials) cannot talk to it.  The PLAINTEXT listener
next to it serves the broker's own health probe, inter-broker traffic and the SCRAM user set-up;
the broker advertises to each client the listener it connected to, so a SASL_SSL client is
never sent to the PLAINTEXT one.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.brokers import PrivateKafka, free_port

USER = "mqmigrate-app"
#: test-only password; it reaches clients through ${env:...} in the properties file
PASSWORD = "scram-test-pw-7f3a"
PASSWORD_ENV = "MQMIGRATE_TEST_KAFKA_PASSWORD"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA: ``(certificate PEM, key PEM)``."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        cwd=directory,
    )
    return cert, key


def make_server_cert(directory: Path, ca: tuple[Path, Path], name: str) -> Path:
    """A certificate for 127.0.0.1/localhost signed by ``ca``: one PEM with key and chain."""
    key, csr, cert = (
        directory / f"{name}.key",
        directory / f"{name}.csr",
        directory / f"{name}.crt",
    )
    ext = directory / f"{name}.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        f"/CN={name}",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        cwd=directory,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca[0]),
        "-CAkey",
        str(ca[1]),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(ext),
        "-out",
        str(cert),
        cwd=directory,
    )
    # Kafka's PEM key store: an unencrypted PKCS#8 key followed by the certificate chain
    pkcs8 = directory / f"{name}.pk8"
    _openssl("pkcs8", "-topk8", "-nocrypt", "-in", str(key), "-out", str(pkcs8), cwd=directory)
    store = directory / f"{name}-keystore.pem"
    store.write_text(pkcs8.read_text() + cert.read_text() + ca[0].read_text())
    return store


@dataclass
class SecuredKafka:
    broker: PrivateKafka
    #: host:port of the SASL_SSL listener (the only one tests' clients use)
    bootstrap: str
    #: host:port of the PLAINTEXT listener (health checks, SCRAM set-up; "TLS to plaintext")
    plaintext: str
    ca: Path
    #: a CA that signed nothing the broker presents ("unknown CA")
    other_ca: Path

    def properties(self, **overrides: str) -> str:
        """A client properties file's text, the password as ``${env:...}``."""
        values = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": USER,
            "sasl.password": "${env:" + PASSWORD_ENV + "}",
            "ssl.ca.location": str(self.ca),
            **overrides,
        }
        return "# secured test broker\n" + "".join(f"{k}={v}\n" for k, v in values.items())

    def write_properties(self, path: Path, **overrides: str) -> Path:
        path.write_text(self.properties(**overrides))
        return path


def start_secured_kafka(state_dir: Path, cache_dir: Path) -> SecuredKafka:
    """Start the broker and create the SCRAM user; the caller stops ``.broker``."""
    certs = state_dir / "certs"
    ca = make_ca(certs, "test-ca")
    other_ca, _ = make_ca(certs, "other-ca")
    keystore = make_server_cert(certs, ca, "broker")
    broker = PrivateKafka(state_dir / "kafka", cache_dir, name="kafka-secured")
    plain, controller, secured = (
        broker.service.port("broker"),
        broker.service.port("controller"),
        free_port(),
    )
    broker.service.properties.update(
        {
            "listeners": f"PLAINTEXT://127.0.0.1:{plain},CONTROLLER://127.0.0.1:{controller},"
            f"SASL_SSL://127.0.0.1:{secured}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_SSL://127.0.0.1:{secured}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            "SASL_SSL:SASL_SSL",
            "inter.broker.listener.name": "PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512,OAUTHBEARER",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            # Kafka's unsecured JWT validator: enough to prove the client's token callback
            "listener.name.sasl_ssl.oauthbearer.sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
            "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
            "listener.name.sasl_ssl.ssl.keystore.location": str(keystore),
        }
    )
    broker.start()
    try:
        _create_scram_user(f"127.0.0.1:{plain}")
    except BaseException:
        broker.stop()
        raise
    return SecuredKafka(broker, f"127.0.0.1:{secured}", f"127.0.0.1:{plain}", ca[0], other_ca)


def unsecured_token(_oauthbearer_config: str) -> tuple[str, float]:
    """An OAUTHBEARER token callback (``mqmigrate.oauth.callback``): an unsigned JWT, which
    the test broker's unsecured validator accepts."""
    import base64
    import json
    import time

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = time.time()
    claims = {"sub": USER, "iat": int(now), "exp": int(now) + 3600, "scope": "kafka"}
    return f"{part({'alg': 'none'})}.{part(claims)}.", now + 3600


def _create_scram_user(plaintext: str) -> None:
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    from mqmigrate.kafka.config import KafkaConfig

    admin = AdminClient(KafkaConfig.for_bootstrap(plaintext).client())
    upsert = UserScramCredentialUpsertion(
        USER, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), PASSWORD.encode()
    )
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(timeout=30)
