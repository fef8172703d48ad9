"""mqmigrate.kafka.protocol over TLS: SASL_SSL with SCRAM-SHA-512, SASL_SSL with OAUTHBEARER
(Kafka's unsecured validator, as in a sandbox) and mTLS, on a private broker with a CA made
here; and each bad input (unknown CA, expired client certificate, wrong password, wrong
mechanism, plaintext to a TLS port) as one typed line within seconds."""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from pathlib import Path

import pytest

from mqmigrate.errors import AuthenticationFailed, ConnectionFailed, MqMigrateError
from mqmigrate.kafka import share
from mqmigrate.kafka.protocol import ShareOffset, WireAdmin, fetch_features

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]

SCRAM_USER, SCRAM_PASSWORD = "mqm-wire", "wire-test-pw"


def _pki(root: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1, a client certificate, an expired client
    certificate and a client certificate of another CA; PEM files under ``root``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    pem = serialization.Encoding.PEM

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(cn: str, key, issuer: str, signer, *, ca: bool = False, server: bool = False,
             days: tuple[int, int] = (-1, 30)):
        builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(issuer))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now + dt.timedelta(days=days[0]))
                   .not_valid_after(now + dt.timedelta(days=days[1]))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                False)
        return builder.sign(signer, hashes.SHA256())

    def key_pem(key) -> bytes:
        return key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    keys = {n: ec.generate_private_key(ec.SECP256R1())
            for n in ("ca", "other-ca", "server", "client", "expired", "stranger")}
    ca = cert("wire-test-ca", keys["ca"], "wire-test-ca", keys["ca"], ca=True)
    other = cert("other-ca", keys["other-ca"], "other-ca", keys["other-ca"], ca=True)
    server = cert("127.0.0.1", keys["server"], "wire-test-ca", keys["ca"], server=True)
    files = {"ca": ca, "server": server,
             "client": cert("client", keys["client"], "wire-test-ca", keys["ca"]),
             "expired": cert("expired", keys["expired"], "wire-test-ca", keys["ca"],
                             days=(-10, -1)),
             "stranger": cert("stranger", keys["stranger"], "other-ca", keys["other-ca"])}
    paths = {}
    for label, certificate in files.items():
        paths[label] = root / f"{label}.pem"
        paths[label].write_bytes(certificate.public_bytes(pem))
        if label != "ca":
            paths[f"{label}-key"] = root / f"{label}-key.pem"
            paths[f"{label}-key"].write_bytes(key_pem(keys[label]))
    paths["other-ca"] = root / "other-ca.pem"
    paths["other-ca"].write_bytes(other.public_bytes(pem))
    # Kafka's PEM key store: the private key, then the certificate chain
    paths["keystore"] = root / "server-keystore.pem"
    paths["keystore"].write_bytes(key_pem(keys["server"]) + server.public_bytes(pem)
                                  + ca.public_bytes(pem))
    return paths


@pytest.fixture(scope="module")
def tls_kafka(tmp_path_factory, kafka_service):
    """A private broker with SASL_SSL (SCRAM-SHA-512), OAUTH (SASL_SSL, OAUTHBEARER) and MTLS
    (SSL, client certificate required) listeners beside its PLAINTEXT one."""
    from confluent_kafka.admin import (
        AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion,
    )

    from tests.private_brokers import PrivateKafka, free_port

    root = tmp_path_factory.mktemp("kafka-tls")
    pki = _pki(root)
    broker = PrivateKafka(root / "state", kafka_service.ctx.cache_dir, name="kafka-wire-tls",
                          heap="384m")
    plain, controller = broker.service.port("broker"), broker.service.port("controller")
    ports = {"SASL_SSL": free_port(), "OAUTH": free_port(), "MTLS": free_port()}
    secured = ",".join(f"{n}://127.0.0.1:{p}" for n, p in ports.items())
    broker.service.properties.update({
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},CONTROLLER://127.0.0.1:{controller},"
                     + secured,
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{plain}," + secured,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
                                          "SASL_SSL:SASL_SSL,OAUTH:SASL_SSL,MTLS:SSL",
        "inter.broker.listener.name": "PLAINTEXT",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki["keystore"]),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki["ca"]),
        "listener.name.mtls.ssl.client.auth": "required",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.oauth.sasl.enabled.mechanisms": "OAUTHBEARER",
        # no server callback handler: Kafka validates with its unsecured validator
        "listener.name.oauth.oauthbearer.sasl.jaas.config":
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
    })
    broker.start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        upsert = UserScramCredentialUpsertion(
            SCRAM_USER, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096),
            SCRAM_PASSWORD.encode())
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=30)
        broker.pki = pki
        broker.addresses = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
        yield broker
    finally:
        broker.stop()


def _scram(broker, **extra: str) -> dict[str, str]:
    return {"bootstrap.servers": broker.addresses["SASL_SSL"], "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": SCRAM_USER,
            "sasl.password": SCRAM_PASSWORD, "ssl.ca.location": str(broker.pki["ca"]), **extra}


def _oauth(broker, **extra: str) -> dict[str, str]:
    return {"bootstrap.servers": broker.addresses["OAUTH"], "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER", "sasl.oauthbearer.config": "principal=mqm-wire",
            "ssl.ca.location": str(broker.pki["ca"]), **extra}


def _mtls(broker, identity: str = "client", **extra: str) -> dict[str, str]:
    return {"bootstrap.servers": broker.addresses["MTLS"], "security.protocol": "SSL",
            "ssl.ca.location": str(broker.pki["ca"]),
            "ssl.certificate.location": str(broker.pki[identity]),
            "ssl.key.location": str(broker.pki[f"{identity}-key"]), **extra}


@pytest.mark.parametrize("way", ["scram", "oauth", "mtls"])
def test_features_and_share_group_offsets_over_tls(tls_kafka, unique_name, way):
    from tests.integration.test_wire_admin import _consume, _produce

    connection = {"scram": _scram, "oauth": _oauth, "mtls": _mtls}[way](tls_kafka)
    features = fetch_features(connection)
    assert features.release() and features.finalized_level("share.version") >= 1
    plain = tls_kafka.bootstrap
    topic = group = f"{unique_name}-{way}"
    admin = share.admin_client(plain)
    share.create_topic(admin, topic, partitions=2)
    share.set_group_configs(admin, group, {"share.auto.offset.reset": "earliest"})
    _produce(plain, topic, per_partition=4)
    assert len(_consume(plain, group, topic, per_partition=1)) == 2
    with WireAdmin(connection) as wire:
        # one record of four accepted on each partition (the start offset moves past it
        # once every record below it is acknowledged)
        assert {p: o.lag for p, o in wire.share_group_offsets(group)[topic].items()} == {
            0: 3, 1: 3}
        wire.alter_share_group_offsets(group, topic, {0: 4, 1: 2})
        assert wire.share_group_offsets(group, [topic])[topic] == {0: ShareOffset(4, 0),
                                                                   1: ShareOffset(2, 2)}


def _failure(connection: dict[str, str]) -> tuple[MqMigrateError, float]:
    began = time.monotonic()
    with pytest.raises(MqMigrateError) as info:
        fetch_features(connection, timeout=5)
    return info.value, time.monotonic() - began


def test_bad_inputs_are_one_typed_line_within_seconds(tls_kafka):
    pki = tls_kafka.pki
    cases = [
        # the broker's CA is not trusted (the system store does not know it)
        ({k: v for k, v in _scram(tls_kafka).items() if k != "ssl.ca.location"},
         ConnectionFailed, "not trusted"),
        (_scram(tls_kafka, **{"ssl.ca.location": str(pki["other-ca"])}), ConnectionFailed,
         "not trusted"),
        # over TLS the broker's refusal may come as a closed connection: both are said to be
        # a refused SASL authentication, the error response named when the client read it
        (_scram(tls_kafka, **{"sasl.password": "wrong-pw"}), AuthenticationFailed, "SASL"),
        (_scram(tls_kafka, **{"sasl.mechanism": "PLAIN"}), AuthenticationFailed, "SASL"),
        (_mtls(tls_kafka, "expired"), ConnectionFailed, "refused the client certificate"),
        (_mtls(tls_kafka, "stranger"), ConnectionFailed, "refused the client certificate"),
        # plaintext spoken to a TLS listener
        ({"bootstrap.servers": tls_kafka.addresses["SASL_SSL"]}, ConnectionFailed,
         "TLS listener spoken to in plaintext"),
        # TLS spoken to the plaintext listener
        (_scram(tls_kafka, **{"bootstrap.servers": tls_kafka.bootstrap}), ConnectionFailed,
         "TLS handshake"),
    ]
    seen = []
    for connection, kind, words in cases:
        error, took = _failure(connection)
        line = error.one_line()
        seen.append(f"{took:4.1f}s {line}")
        assert isinstance(error, kind) and words in line, line
        assert connection["bootstrap.servers"] in line, line
        assert "wrong-pw" not in line and SCRAM_PASSWORD not in line
        assert took < 12, (line, took)
    print("\n".join(seen))


