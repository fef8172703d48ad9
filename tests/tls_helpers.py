"""Certificates for TLS tests: a private CA, server certificates it signed (valid, expired,
for another name) and a client certificate, written as PEM files."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PKI:
    ca: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    expired_cert: Path
    wrong_name_cert: Path
    client_cert: Path
    client_key: Path
    #: a CA that signed nothing here: trusting only it makes every certificate unknown
    other_ca: Path


def make_pki(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> PKI:
    """A CA and the certificates above in ``directory`` (RSA 2048, SHA-256)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def name(cn: str):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write_key(path: Path, private) -> Path:
        path.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.TraditionalOpenSSL,
                                               serialization.NoEncryption()))
        return path

    def write_cert(path: Path, cert) -> Path:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def make_ca(cn: str):
        private = key()
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
                .public_key(private.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, True, True,
                                             False, False), critical=True)
                .sign(private, hashes.SHA256()))
        return private, cert

    ca_key, ca_cert = make_ca("mqmigrate test CA")
    _, other_ca = make_ca("some other CA")

    def leaf(cn: str, names: tuple[str, ...], private, *, client: bool = False,
             expired: bool = False):
        alt = [x509.IPAddress(ipaddress.ip_address(h)) if _is_ip(h) else x509.DNSName(h)
               for h in names]
        start, end = ((now - dt.timedelta(days=10), now - dt.timedelta(days=1)) if expired
                      else (now - dt.timedelta(days=1), now + dt.timedelta(days=30)))
        builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject)
                   .public_key(private.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.ExtendedKeyUsage(
                       [ExtendedKeyUsageOID.CLIENT_AUTH if client
                        else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
        if alt:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    server_key, client_key = key(), key()
    return PKI(
        ca=write_cert(directory / "ca.pem", ca_cert),
        ca_key=write_key(directory / "ca.key", ca_key),
        server_cert=write_cert(directory / "server.pem", leaf(hosts[0], hosts, server_key)),
        server_key=write_key(directory / "server.key", server_key),
        expired_cert=write_cert(directory / "expired.pem",
                                leaf(hosts[0], hosts, server_key, expired=True)),
        wrong_name_cert=write_cert(directory / "wrong-name.pem",
                                   leaf("elsewhere.invalid", ("elsewhere.invalid",), server_key)),
        client_cert=write_cert(directory / "client.pem",
                               leaf("mqmigrate", (), client_key, client=True)),
        client_key=write_key(directory / "client.key", client_key),
        other_ca=write_cert(directory / "other-ca.pem", other_ca),
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False
