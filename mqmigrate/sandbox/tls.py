"""The sandbox's own certificate authority and the certificates its secured listeners use.

Every secured listener of the sandbox (Kafka SASL_SSL and mTLS, RabbitMQ ``amqps`` and
management over https, the Artemis TLS acceptor and its https console) presents a server
certificate signed by one CA the sandbox generates under ``<state>/tls/``.  Clients trust
``ca.pem``; mTLS clients present ``client.pem`` / ``client-key.pem``.  Two more client
identities exist only to be refused: ``expired-client.pem`` (signed by the sandbox CA, but
its validity ended yesterday) and ``unknown-ca-client.pem`` (valid, but signed by a second
CA, ``unknown-ca.pem``, that no sandbox listener trusts).

The files are written once and reused on every start; they are generated again (all of
them, so the set stays consistent) when one is missing, unreadable, or the CA, server or
client certificate expires within a week.  Private keys are written mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from mqmigrate.errors import PrerequisiteError, SandboxError

#: the common name of the good client certificate; RabbitMQ's x509 EXTERNAL login maps it
#: to a user of the same name
CLIENT_CN = "mqmigrate-client"
SERVER_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1",)
CA_DAYS = 3650
LEAF_DAYS = 825
#: regenerate when a certificate the listeners depend on ends within this many days
RENEW_BEFORE_DAYS = 7
#: the password of the PKCS#12 bundles (Java keystores want one); not a secret: it guards
#: sandbox-only keys that also sit next to it as PEM
PKCS12_PASSWORD = "mqmigrate-sandbox"


@dataclass(frozen=True)
class TlsFiles:
    """Paths of everything :func:`ensure_tls` writes, all under one directory."""

    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        """Server certificate followed by the CA certificate (the chain servers present)."""
        return self.dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.dir / "server-key.pem"

    @property
    def server_keystore_pem(self) -> Path:
        """Key, certificate and CA in one PEM file (Kafka's and Artemis's ``PEM`` keystore)."""
        return self.dir / "server-keystore.pem"

    @property
    def server_p12(self) -> Path:
        """The server key and chain as PKCS#12 (password :data:`PKCS12_PASSWORD`)."""
        return self.dir / "server.p12"

    @property
    def client_cert(self) -> Path:
        return self.dir / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.dir / "client-key.pem"

    @property
    def expired_client_cert(self) -> Path:
        return self.dir / "expired-client.pem"

    @property
    def expired_client_key(self) -> Path:
        return self.dir / "expired-client-key.pem"

    @property
    def unknown_ca_cert(self) -> Path:
        """A second CA nothing in the sandbox trusts."""
        return self.dir / "unknown-ca.pem"

    @property
    def unknown_ca_client_cert(self) -> Path:
        return self.dir / "unknown-ca-client.pem"

    @property
    def unknown_ca_client_key(self) -> Path:
        return self.dir / "unknown-ca-client-key.pem"

    def all_paths(self) -> list[Path]:
        return [
            self.ca_cert,
            self.ca_key,
            self.server_cert,
            self.server_key,
            self.server_keystore_pem,
            self.server_p12,
            self.client_cert,
            self.client_key,
            self.expired_client_cert,
            self.expired_client_key,
            self.unknown_ca_cert,
            self.unknown_ca_client_cert,
            self.unknown_ca_client_key,
        ]


def tls_dir(state_dir: Path) -> Path:
    """Where the sandbox keeps its CA: ``<state>/tls``."""
    return state_dir / "tls"


def ensure_tls(directory: Path, *, now: dt.datetime | None = None) -> TlsFiles:
    """Return the sandbox's TLS files in ``directory``, generating them when needed.

    Idempotent: a complete, valid set is reused untouched (so running brokers keep trusting
    it); a missing file, an unreadable one, or a CA/server/client certificate that ends
    within :data:`RENEW_BEFORE_DAYS` days regenerates the whole set.
    """
    files = TlsFiles(directory)
    now = now or dt.datetime.now(dt.timezone.utc)
    if not needs_regeneration(files, now=now):
        return files
    _generate(files, now)
    return files


def needs_regeneration(files: TlsFiles, *, now: dt.datetime) -> bool:
    """True when a file is missing or the CA, server or client certificate is (nearly) expired
    or no longer signed by the CA on disk."""
    _require_cryptography()
    from cryptography import x509

    if not all(path.is_file() for path in files.all_paths()):
        return True
    try:
        ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        leaves = [
            x509.load_pem_x509_certificate(p.read_bytes())
            for p in (files.server_cert, files.client_cert)
        ]
    except (OSError, ValueError):
        return True
    horizon = now + dt.timedelta(days=RENEW_BEFORE_DAYS)
    for cert in (ca, *leaves):
        if cert.not_valid_after_utc <= horizon:
            return True
    return any(leaf.issuer != ca.subject for leaf in leaves)


def ensure_secret(path: Path, *, nbytes: int = 18) -> str:
    """A random sandbox password kept in ``path`` (mode 0600), made on first use.

    Clients read it by reference (``${file:PATH}``), so it never needs a command line.
    """
    try:
        value = path.read_text().strip()
    except OSError:
        value = ""
    if not value:
        import secrets

        value = secrets.token_urlsafe(nbytes)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, value.encode() + b"\n", secret=True)
    return value


def check_tls_listener(address: str, files: TlsFiles, *, timeout: float = 3.0) -> None:
    """A TLS handshake with ``host:port`` that verifies its certificate against the sandbox CA
    (offering the client certificate, which an mTLS listener requires); raises on failure."""
    host, _, port = address.rpartition(":")
    context = ssl.create_default_context(cafile=str(files.ca_cert))
    context.load_cert_chain(str(files.client_cert), str(files.client_key))
    with socket.create_connection((host, int(port)), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=host):
            pass


def probe_tls_listener(service: str, address: str, files: TlsFiles) -> None:
    """:func:`check_tls_listener` for a health check: a failure is a SandboxError that says a
    broker started without its TLS listeners needs a restart."""
    try:
        check_tls_listener(address, files)
    except OSError as exc:
        # the advice is in the message itself: ``sandbox status`` shows only the message
        raise SandboxError(
            f"{service}: no verified TLS handshake on {address} ({str(exc)[:40]}); started "
            f"before it had TLS? restart: mqmigrate sandbox down -s {service} && "
            f"mqmigrate sandbox up -s {service}",
        ) from exc


def _require_cryptography() -> None:
    try:
        import cryptography.x509  # noqa: F401
    except ImportError as exc:  # declared in pyproject; a broken install still gets one line
        raise PrerequisiteError(
            "the sandbox needs the 'cryptography' package to make its CA",
            hint="pip install 'cryptography>=42' (mqmigrate declares it)",
        ) from exc


def _generate(files: TlsFiles, now: dt.datetime) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    files.dir.mkdir(parents=True, exist_ok=True)
    ca_key, ca = _make_ca("mqmigrate sandbox CA", now)
    server_key, server = _make_leaf(
        "127.0.0.1", ca_key, ca, now, now + dt.timedelta(days=LEAF_DAYS), server=True
    )
    client_key, client = _make_leaf(
        CLIENT_CN, ca_key, ca, now, now + dt.timedelta(days=LEAF_DAYS), server=False
    )
    # valid for one day, ended a day ago: signed by the right CA, refused only for its dates
    expired_key, expired = _make_leaf(
        "mqmigrate-expired-client",
        ca_key,
        ca,
        now - dt.timedelta(days=2),
        now - dt.timedelta(days=1),
        server=False,
    )
    unknown_ca_key, unknown_ca = _make_ca("mqmigrate unknown CA", now)
    stranger_key, stranger = _make_leaf(
        CLIENT_CN,
        unknown_ca_key,
        unknown_ca,
        now,
        now + dt.timedelta(days=LEAF_DAYS),
        server=False,
    )

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    _write(files.ca_cert, pem(ca))
    _write(files.ca_key, _key_pem(ca_key), secret=True)
    _write(files.server_cert, pem(server) + pem(ca))
    _write(files.server_key, _key_pem(server_key), secret=True)
    _write(files.server_keystore_pem, _key_pem(server_key) + pem(server) + pem(ca), secret=True)
    _write(
        files.server_p12,
        pkcs12.serialize_key_and_certificates(
            b"server",
            server_key,
            server,
            [ca],
            serialization.BestAvailableEncryption(PKCS12_PASSWORD.encode()),
        ),
        secret=True,
    )
    _write(files.client_cert, pem(client))
    _write(files.client_key, _key_pem(client_key), secret=True)
    _write(files.expired_client_cert, pem(expired))
    _write(files.expired_client_key, _key_pem(expired_key), secret=True)
    _write(files.unknown_ca_cert, pem(unknown_ca))
    _write(files.unknown_ca_client_cert, pem(stranger))
    _write(files.unknown_ca_client_key, _key_pem(stranger_key), secret=True)


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    # RSA 2048: what every TLS stack involved (OpenSSL in librdkafka, Erlang, Java) accepts
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    # unencrypted PKCS#8 ("BEGIN PRIVATE KEY"): the form Kafka's PEM keystore reads without
    # ssl.key.password, and that OpenSSL and Erlang read too
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mqmigrate sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _make_ca(common_name: str, now: dt.datetime):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = _new_key()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(
    common_name: str, ca_key, ca, not_before: dt.datetime, not_after: dt.datetime, *, server: bool
):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = _new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # a little slack so a client whose clock is slightly behind accepts a fresh cert
        .not_valid_before(not_before - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                if server
                else [ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        # the server certificate also serves as the broker's own client identity (Kafka's
        # inter-broker listener could be SSL), hence CLIENT_AUTH above
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in SERVER_NAMES]
                + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
            ),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    # write next to the target, then rename: a reader never sees half a file
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
