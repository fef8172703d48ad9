"""What each client says when TLS goes wrong, against a real TLS listener on loopback.

The handshake fails before any broker protocol is spoken, so a TLS socket (Python's ``ssl``
server) with the chosen certificate is the real thing here; the brokers' own TLS listeners are
exercised by tests/integration/test_source_tls.py.  Every case must be one line naming the
endpoint and the likely cause, and must come back within seconds.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from mqmigrate.sources.probe import probe_source
from tests.support.tls import OTHER_NAME_HOST

PASSWORD = "Tls-Pw-9f3c"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from tests.support.tls import make_pki

    return make_pki(tmp_path_factory.mktemp("pki"))


class TLSListener:
    """Accepts TLS connections with ``cert`` and drops each after the handshake."""

    def __init__(self, cert, key, *, client_ca=None, host: str = "127.0.0.1"):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        if client_ca is not None:
            self.context.load_verify_locations(client_ca)
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                conn.settimeout(3)
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener(request, pki):
    made = []

    def make(cert=None, key=None, *, client_ca=None, host="127.0.0.1"):
        made.append(
            TLSListener(
                cert or pki.server_cert, key or pki.server_key, client_ca=client_ca, host=host
            )
        )
        return made[-1]

    yield make
    for item in made:
        item.close()


def _probe(uri: str):
    started = time.monotonic()
    probe = probe_source(uri, timeout=5)
    elapsed = time.monotonic() - started
    assert not probe.ok
    text = f"{probe.detail} — {probe.fix}"
    assert "\n" not in text and PASSWORD not in text
    assert elapsed < 10, f"took {elapsed:.1f}s"
    return text


SCHEMES = [("amqps", "/"), ("amqp1s", ""), ("rabbitmq+https", ""), ("artemis+https", "")]


@pytest.mark.parametrize("scheme, path", SCHEMES)
def test_unknown_ca(listener, pki, scheme, path):
    server = listener()
    text = _probe(f"{scheme}://u:{PASSWORD}@127.0.0.1:{server.port}{path}?cafile={pki.other_ca}")
    assert "unknown CA" in text and f"127.0.0.1:{server.port}" in text and "?cafile=" in text


@pytest.mark.parametrize("scheme, path", SCHEMES)
def test_expired_certificate(listener, pki, scheme, path):
    server = listener(pki.expired_cert, pki.expired_key)
    text = _probe(f"{scheme}://u:{PASSWORD}@127.0.0.1:{server.port}{path}?cafile={pki.expired_ca}")
    assert "expired" in text and f"127.0.0.1:{server.port}" in text


@pytest.mark.parametrize("scheme, path", SCHEMES)
def test_certificate_for_another_name(listener, pki, scheme, path):
    server = listener(host=OTHER_NAME_HOST)
    text = _probe(f"{scheme}://u:{PASSWORD}@{OTHER_NAME_HOST}:{server.port}{path}?cafile={pki.ca}")
    assert "does not name this host" in text and "server_name" in text


def test_server_name_accepts_the_certificate_name(listener, pki):
    """With ?server_name= the handshake gets past the name check (the listener then drops the
    connection, which is not a certificate problem)."""
    server = listener(host=OTHER_NAME_HOST)
    text = _probe(
        f"amqps://u:{PASSWORD}@{OTHER_NAME_HOST}:{server.port}/?cafile={pki.ca}"
        "&server_name=localhost"
    )
    assert "unknown CA" not in text and "does not name" not in text


def test_client_certificate_required(listener, pki):
    server = listener(client_ca=pki.ca)
    text = _probe(f"amqps://u:{PASSWORD}@127.0.0.1:{server.port}/?cafile={pki.ca}")
    assert "client certificate" in text


def test_sqs_https_unknown_ca(listener, pki):
    server = listener()
    text = _probe(
        f"sqs+https://AKIA:{PASSWORD}@127.0.0.1:{server.port}?region=us-east-1"
        f"&cafile={pki.other_ca}"
    )
    assert "unknown CA" in text


def test_aws_ca_bundle_is_honoured(listener, pki, monkeypatch):
    """Without ?cafile=, an sqs+https:// source trusts what AWS_CA_BUNDLE names, as boto3
    does: the unknown CA is reported with the other bundle, not with the right one."""
    server = listener()
    uri = f"sqs+https://AKIA:{PASSWORD}@127.0.0.1:{server.port}?region=us-east-1"
    monkeypatch.setenv("AWS_CA_BUNDLE", str(pki.other_ca))
    assert "unknown CA" in _probe(uri)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(pki.ca))
    text = _probe(uri)  # the handshake passes; the listener then drops the request
    assert "unknown CA" not in text and "expired" not in text


def test_plaintext_client_to_tls_port(listener, pki):
    server = listener()
    text = _probe(f"amqp://u:{PASSWORD}@127.0.0.1:{server.port}/")
    assert "may expect TLS" in text and f"127.0.0.1:{server.port}" in text
