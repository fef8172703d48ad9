"""The sandbox Artemis broker's TLS acceptor and its web console (Jolokia) over https.

- acceptor ``artemis-tls`` (default 61617): every protocol the plain acceptor speaks (AMQP 1.0,
  CORE, OpenWire, STOMP, MQTT) over TLS with the sandbox CA's server certificate.  A client
  certificate is asked for (``wantClientAuth``) and checked against the sandbox CA when one is
  offered, so password (SASL PLAIN) clients work and an expired or foreign certificate is
  refused in the handshake.
- web binding ``artemis-tls`` (default 8443): the console and Jolokia over https, next to the
  plain http binding.

The broker's guest login (``--allow-anonymous``) is narrowed to clients that send no
credentials at all (``credentialsInvalidate=true``): without it a *wrong* password logs in as
the guest, and no test could show that a bad password is refused.

Both use the PKCS#12 bundle of the sandbox CA's server key (Java reads it natively); the
trust store is the CA's PEM file, read through the ``pem-keystore`` provider Artemis ships.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from mqmigrate.sandbox.tls import PKCS12_PASSWORD, TlsFiles

#: port keys and defaults (``--port artemis.tls=N``)
SECURED_PORTS = {"tls": 61617, "console_tls": 8443}
TLS_ACCEPTOR = "artemis-tls"
TLS_BINDING = "artemis-tls"

_OWN_ACCEPTOR = re.compile(r'\s*<acceptor name="artemis-tls">[^<]*</acceptor>')
_PLAIN_ACCEPTOR = re.compile(r'(?P<indent>[ \t]*)<acceptor name="artemis">[^<]*</acceptor>')
_OWN_BINDING = re.compile(r'\s*<binding name="artemis-tls"[^>]*>.*?</binding>', re.S)
_PLAIN_BINDING = re.compile(
    r'(?P<indent>[ \t]*)<binding name="artemis" [^>]*>(?P<body>.*?)</binding>', re.S
)


def tls_acceptor_url(port: int, files: TlsFiles, host: str = "127.0.0.1") -> str:
    """The acceptor URL of the TLS acceptor (``;``-separated parameters, XML-escaped later)."""
    params = {
        "sslEnabled": "true",
        "keyStoreType": "PKCS12",
        "keyStorePath": str(files.server_p12),
        "keyStorePassword": PKCS12_PASSWORD,
        "trustStoreType": "PEM",
        "trustStorePath": str(files.ca_cert),
        "wantClientAuth": "true",
        "protocols": "CORE,AMQP,STOMP,HORNETQ,MQTT,OPENWIRE",
        "amqpCredits": "1000",
        "amqpLowCredits": "300",
        "amqpDuplicateDetection": "true",
        "supportAdvisory": "false",
        "suppressInternalManagementObjects": "false",
    }
    return f"tcp://{host}:{port}?" + ";".join(f"{k}={v}" for k, v in params.items())


def add_tls_acceptor(broker_xml: str, port: int, files: TlsFiles) -> str:
    """``broker.xml`` with the TLS acceptor right after the ``artemis`` acceptor (an earlier
    one of ours is replaced, so rendering twice changes nothing)."""
    text = _OWN_ACCEPTOR.sub("", broker_xml)
    match = _PLAIN_ACCEPTOR.search(text)
    if not match:
        raise ValueError("broker.xml has no acceptor named 'artemis'")
    url = tls_acceptor_url(port, files).replace("&", "&amp;")
    line = f'\n{match.group("indent")}<acceptor name="{TLS_ACCEPTOR}">{url}</acceptor>'
    return text[: match.end()] + line + text[match.end() :]


def add_tls_binding(bootstrap_xml: str, port: int, files: TlsFiles, host: str = "127.0.0.1") -> str:
    """``bootstrap.xml`` with a second web binding over https serving the same apps as the
    plain ``artemis`` binding (an earlier one of ours is replaced)."""
    text = _OWN_BINDING.sub("", bootstrap_xml)
    match = _PLAIN_BINDING.search(text)
    if not match:
        raise ValueError("bootstrap.xml has no web binding named 'artemis'")
    attributes = {
        "name": TLS_BINDING,
        "uri": f"https://{host}:{port}",
        "keyStoreType": "PKCS12",
        "keyStorePath": str(files.server_p12),
        "keyStorePassword": PKCS12_PASSWORD,
    }
    opening = " ".join(f"{k}={quoteattr(v)}" for k, v in attributes.items())
    indent = match.group("indent")
    binding = f"\n{indent}<binding {opening}>{match.group('body')}</binding>"
    return text[: match.end()] + binding + text[match.end() :]


_GUEST_MODULE = re.compile(r"(GuestLoginModule\s+sufficient\b)(?P<options>[^;]*);")


def refuse_wrong_passwords(login_config: str) -> str:
    """``login.config`` whose guest login only takes clients that sent no credentials."""

    def narrow(match: re.Match) -> str:
        options = match.group("options")
        if "credentialsInvalidate" in options:
            return match.group(0)
        return f"{match.group(1)}{options}\n       credentialsInvalidate=true;"

    return _GUEST_MODULE.sub(narrow, login_config)
