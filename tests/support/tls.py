"""Certificates for TLS tests, from the sandbox's own generator (mqmigrate.sandbox.tls).

:func:`make_pki` writes two certificate sets: a current one (CA, server certificate for
``localhost``/``127.0.0.1``, client certificate, a CA that signed nothing the listeners use)
and one generated as if 900 days ago, whose server certificate has expired (its CA has not).
A listener on ``127.0.0.2`` with the current server certificate is "another name".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from mqmigrate.sandbox.tls import LEAF_DAYS, ensure_tls

#: a loopback address the sandbox's server certificate does not name
OTHER_NAME_HOST = "127.0.0.2"


@dataclass(frozen=True)
class PKI:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    #: a CA that signed nothing here: trusting only it makes every certificate unknown
    other_ca: Path
    #: a server certificate (and key) whose validity ended, and the CA that signed it
    expired_cert: Path
    expired_key: Path
    expired_ca: Path


def make_pki(directory: Path) -> PKI:
    """Both certificate sets under ``directory``."""
    current = ensure_tls(directory / "current")
    then = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=LEAF_DAYS + 75)
    old = ensure_tls(directory / "expired", now=then)
    return PKI(
        ca=current.ca_cert,
        server_cert=current.server_cert,
        server_key=current.server_key,
        client_cert=current.client_cert,
        client_key=current.client_key,
        other_ca=current.unknown_ca_cert,
        expired_cert=old.server_cert,
        expired_key=old.server_key,
        expired_ca=old.ca_cert,
    )
