"""Source endpoint URIs: one parser, one scheme table, for every command and both SDKs.

=============================================  ===============================================
URI                                            meaning
=============================================  ===============================================
``amqp://user:pass@host:5672/vhost``           RabbitMQ over AMQP 0-9-1 (``amqps://`` TLS)
``rabbitmq+http://user:pass@host:15672``       RabbitMQ management HTTP API (``+https``)
``amqp1://user:pass@host:5672``                an AMQP 1.0 broker (``amqp1s://`` TLS)
``artemis+http://user:pass@host:8161``         ActiveMQ Artemis' Jolokia API (``+https``)
``sqs://us-east-1``                            Amazon SQS, standard AWS credential chain
``sqs+http://key:secret@host:port?region=``    an SQS-compatible endpoint (``+https``)
=============================================  ===============================================

Query parameters (docs/security.md has examples):

* TLS, on every TLS scheme: ``cafile`` (PEM CA bundle that signed the broker's certificate),
  ``certfile`` + ``keyfile`` (client certificate), ``key_password``, ``server_name`` (the
  name the broker's certificate carries when it differs from the host), ``verify=false``
  (no certificate check at all: loud warning, never for production).
* Secrets: the password may be written ``${env:NAME}`` or ``${file:PATH}`` in the URI, or
  given as ``password_env=NAME`` / ``password_file=PATH``; the user name may be a
  placeholder too.  Nothing secret needs to be on a command line.
* RabbitMQ: ``auth_mechanism=plain|external`` (EXTERNAL = the client certificate is the
  identity; the default when there is a ``certfile`` and no password), and pika's own URL
  parameters (``heartbeat=``...).  AMQP 1.0: ``sasl_mechanisms=`` (space or comma separated,
  e.g. ``EXTERNAL``, ``PLAIN``, ``SCRAM-SHA-256``).  Management: ``vhost=`` (RabbitMQ),
  ``broker=`` (Artemis).
* SQS: ``region``, ``profile`` (an AWS profile), ``role_arn`` + ``external_id`` +
  ``session_name`` (an assumed role, refreshed before it expires), ``sts_endpoint``,
  ``prefix`` (inventory); ``cafile`` for a private CA (``AWS_CA_BUNDLE`` is honoured too).

Credentials are kept as :class:`~mqmigrate.redact.Secret`; :attr:`SourceURI.masked` is what any
output shows.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qs, quote, unquote, urlsplit

from mqmigrate.errors import ConfigError, UsageError
from mqmigrate.redact import Secret, mask_uri
from mqmigrate.secrets import REFERENCE, expand


@dataclass(frozen=True)
class Scheme:
    """What a URI scheme reaches and which parts of the tool read it."""

    kind: str
    tls: bool
    port: int | None
    #: the bridge's source adapter (``mqmigrate.sources.ADAPTERS``), None when not a queue
    adapter: str | None = None
    #: the live ``assess``/``inventory`` reader module, None when assess cannot read it
    reader: str | None = None
    #: adapter -> the scheme this one means for that adapter's sources (``amqp://`` written
    #: for an AMQP 1.0 source, in a playbook endpoint or credential, means ``amqp1://``)
    spelled_for: Mapping[str, str] = field(default_factory=dict)
    #: the scheme prefix of the source's management API (``rabbitmq+``, ``artemis+``)
    management: str | None = None


#: every source URI scheme the tool knows; the one table the CLI, bridge and readers consult
SCHEMES: dict[str, Scheme] = {
    "amqp": Scheme(
        "rabbitmq",
        False,
        5672,
        adapter="rabbitmq",
        spelled_for={"amqp1": "amqp1"},
        management="rabbitmq+",
    ),
    "amqps": Scheme(
        "rabbitmq",
        True,
        5671,
        adapter="rabbitmq",
        spelled_for={"amqp1": "amqp1s"},
        management="rabbitmq+",
    ),
    "rabbitmq+http": Scheme("rabbitmq-management", False, 15672, reader="rabbitmq_http"),
    "rabbitmq+https": Scheme("rabbitmq-management", True, 15671, reader="rabbitmq_http"),
    "amqp1": Scheme("amqp1", False, 5672, adapter="amqp1", management="artemis+"),
    "amqp1s": Scheme("amqp1", True, 5671, adapter="amqp1", management="artemis+"),
    "artemis+http": Scheme("artemis-management", False, 8161, reader="artemis_jolokia"),
    "artemis+https": Scheme("artemis-management", True, 8161, reader="artemis_jolokia"),
    "sqs": Scheme("sqs", True, None, adapter="sqs", reader="sqs_live"),
    "sqs+http": Scheme("sqs", False, None, adapter="sqs", reader="sqs_live"),
    "sqs+https": Scheme("sqs", True, None, adapter="sqs", reader="sqs_live"),
    # the in-memory source of the engine's tests: selectable by name, never opened from a URI
    "memory": Scheme("memory", False, None, adapter="memory"),
}
#: kind -> scheme, for "kind" names in messages
KINDS = {name: scheme.kind for name, scheme in SCHEMES.items()}
DEFAULT_PORTS = {name: scheme.port for name, scheme in SCHEMES.items() if scheme.port}

TLS_KEYS = ("cafile", "certfile", "keyfile", "key_password", "server_name", "verify")
SECRET_KEYS = ("password_env", "password_file")
#: pika's own URL parameters, still honoured on amqp(s):// URIs
PIKA_KEYS = (
    "backpressure_detection",
    "blocked_connection_timeout",
    "channel_max",
    "connection_attempts",
    "frame_max",
    "heartbeat",
    "locale",
    "retry_delay",
    "socket_timeout",
    "stack_timeout",
    "tcp_options",
)
QUERY_KEYS: dict[str, tuple[str, ...]] = {
    "rabbitmq": ("auth_mechanism",) + PIKA_KEYS,
    "rabbitmq-management": ("vhost",),
    "amqp1": ("sasl_mechanisms",),
    "artemis-management": ("broker",),
    "sqs": (
        "region",
        "profile",
        "role_arn",
        "external_id",
        "session_name",
        "sts_endpoint",
        "prefix",
    ),
}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class TLSOptions:
    """Client-side TLS settings from a URI's query (all optional)."""

    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    key_password: Secret | None = field(default=None, repr=False)
    server_name: str | None = None
    verify: bool = True

    def query(self) -> dict[str, str]:
        """These settings as URI query values (the key password stays out: it is secret)."""
        out = {
            k: getattr(self, k)
            for k in ("cafile", "certfile", "keyfile", "server_name")
            if getattr(self, k)
        }
        if not self.verify:
            out["verify"] = "false"
        return out


@dataclass(frozen=True)
class SourceURI:
    raw: str = field(repr=False)
    scheme: str
    kind: str
    host: str
    port: int | None
    username: str | None
    password: Secret | None
    path: str
    #: not in the repr: a value may be secret (``key_password``, ``external_id``)
    query: dict[str, str] = field(repr=False)
    tls_options: TLSOptions = field(default_factory=TLSOptions)

    @property
    def masked(self) -> str:
        return mask_uri(self.raw)

    @property
    def endpoint_label(self) -> str:
        """The masked URI without its query: where it is, short enough for a one-line error
        (TLS file paths left out)."""
        return self.masked.split("?", 1)[0]

    @property
    def tls(self) -> bool:
        return SCHEMES[self.scheme].tls

    @property
    def vhost(self) -> str:
        """AMQP 0-9-1 virtual host: the path without its leading slash, ``/`` when empty."""
        return unquote(self.path[1:]) if len(self.path) > 1 else "/"

    @property
    def http_base(self) -> str:
        """``http(s)://host:port`` for the HTTP-based schemes."""
        proto = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{proto}://{host}" + (f":{self.port}" if self.port else "")

    @property
    def where(self) -> str:
        """``host:port`` (``region R`` for AWS SQS), for error messages."""
        if self.scheme == "sqs":
            return f"SQS region {self.region}"
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def region(self) -> str:
        if self.scheme == "sqs":
            return self.host or self.query.get("region", "us-east-1")
        return self.query.get("region", "us-east-1")

    @property
    def loopback(self) -> bool:
        return self.host in _LOOPBACK

    @property
    def auth_mechanism(self) -> str:
        """``external`` (the client certificate is the identity) or ``plain``."""
        given = self.query.get("auth_mechanism", "").lower()
        if given:
            return given
        return "external" if self.tls_options.certfile and self.password is None else "plain"


@dataclass(frozen=True)
class URIParts:
    """A URI split into what every endpoint parser needs, credentials already unquoted."""

    scheme: str
    host: str
    port: int | None
    username: str | None
    password: str | None
    path: str
    query: dict[str, str]


def split_uri(uri: str) -> URIParts:
    """Split ``uri``; a bad port is a :class:`UsageError` that never shows the password.

    ``${env:NAME}`` / ``${file:PATH}`` placeholders (a path may hold ``/``, ``:`` or ``@``)
    are kept whole through the split and resolved in the user name, password and query values.
    """
    references: list[str] = []

    def hide(match: re.Match[str]) -> str:
        references.append(match.group(0))
        return f"mqmsecretref{len(references) - 1}x"

    hidden = REFERENCE.sub(hide, uri)
    try:
        parts = urlsplit(hidden)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad URI {mask_uri(uri)}: {exc}") from None

    def reveal(text: str | None, key: str) -> str | None:
        if text is None:
            return None
        for i, ref in enumerate(references):
            text = text.replace(f"mqmsecretref{i}x", ref)
        return expand(text, key=key, origin=mask_uri(uri)) if references else text

    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return URIParts(
        scheme=parts.scheme.lower(),
        host=parts.hostname or "",
        port=port,
        username=reveal(unquote(parts.username), "user") if parts.username else None,
        password=reveal(unquote(parts.password), "password") if parts.password else None,
        path=parts.path,
        query={k: reveal(v, f"?{k}=") or "" for k, v in query.items()},
    )


def parse_source_uri(uri: str) -> SourceURI:
    """Parse and validate a source URI; a bad one is a :class:`UsageError` naming the schemes.

    Secrets referenced by ``${env:}``/``${file:}``, ``password_env`` or ``password_file`` are
    read now; TLS files must exist."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme not in SCHEMES:
        close = difflib.get_close_matches(scheme, list(SCHEMES), n=1) if scheme else []
        raise UsageError(
            f"unsupported source URI scheme {scheme + '://' if scheme else mask_uri(uri)!r}",
            hint=f"did you mean {close[0]}://?"
            if close
            else "use amqp(s)://, rabbitmq+http(s)://, amqp1(s)://, artemis+http(s)://, "
            "sqs://REGION or sqs+http(s)://HOST:PORT",
        )
    parts = split_uri(uri)
    info = SCHEMES[scheme]
    if scheme != "sqs" and not parts.host:
        raise UsageError(f"source URI {mask_uri(uri)} has no host")
    _check_query(uri, info, parts.query)
    password = _password(uri, parts)
    return SourceURI(
        raw=uri,
        scheme=scheme,
        kind=info.kind,
        host=parts.host,
        port=parts.port or info.port,
        username=parts.username,
        password=Secret(password) if password is not None else None,
        path=parts.path,
        query=parts.query,
        tls_options=_tls_options(uri, info, parts.query),
    )


def _check_query(uri: str, info: Scheme, query: dict[str, str]) -> None:
    allowed = set(TLS_KEYS) | set(SECRET_KEYS) | set(QUERY_KEYS.get(info.kind, ()))
    for key in query:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            raise UsageError(
                f"unknown parameter ?{key}= in source URI {mask_uri(uri)}",
                hint=f"did you mean ?{close[0]}=?"
                if close
                else "parameters: " + ", ".join(sorted(allowed)),
            )
    mechanism = query.get("auth_mechanism")
    if mechanism is not None and mechanism.lower() not in ("plain", "external"):
        raise UsageError(
            f"?auth_mechanism={mechanism} in {mask_uri(uri)}: RabbitMQ takes plain or external"
        )


def _password(uri: str, parts: URIParts) -> str | None:
    given = [k for k in SECRET_KEYS if k in parts.query] + (
        ["a password in the URI"] if parts.password is not None else []
    )
    if len(given) > 1:
        raise UsageError(
            f"source URI {mask_uri(uri)} gives the password twice ({' and '.join(given)})",
            hint="keep one",
        )
    if "password_env" in parts.query:
        return expand(
            f"${{env:{parts.query['password_env']}}}", key="?password_env=", origin=mask_uri(uri)
        )
    if "password_file" in parts.query:
        return expand(
            f"${{file:{parts.query['password_file']}}}", key="?password_file=", origin=mask_uri(uri)
        )
    return parts.password


def _tls_options(uri: str, info: Scheme, query: dict[str, str]) -> TLSOptions:
    given = [k for k in TLS_KEYS if k in query]
    if not given:
        return TLSOptions()
    if not info.tls:
        raise UsageError(
            f"?{given[0]}= is a TLS setting but {mask_uri(uri)} is not a TLS URI",
            hint="use the TLS scheme (amqps://, amqp1s://, rabbitmq+https://, "
            "artemis+https://, sqs+https://)",
        )
    for key in ("cafile", "certfile", "keyfile"):
        if key in query and not Path(query[key]).expanduser().is_file():
            raise ConfigError(f"?{key}={query[key]} in {mask_uri(uri)}: no such file")
    if ("certfile" in query) != ("keyfile" in query) and "keyfile" in query:
        raise UsageError(
            f"?keyfile= without ?certfile= in {mask_uri(uri)}",
            hint="a client certificate needs both (certfile may hold both)",
        )
    verify = query.get("verify", "true").lower()
    if verify not in ("true", "false"):
        raise UsageError(f"?verify={query['verify']} in {mask_uri(uri)}: use true or false")
    key_password = query.get("key_password")
    return TLSOptions(
        cafile=str(Path(query["cafile"]).expanduser()) if "cafile" in query else None,
        certfile=str(Path(query["certfile"]).expanduser()) if "certfile" in query else None,
        keyfile=str(Path(query["keyfile"]).expanduser()) if "keyfile" in query else None,
        key_password=Secret(key_password) if key_password is not None else None,
        server_name=query.get("server_name") or None,
        verify=verify == "true",
    )


def scheme_for_adapter(scheme: str, adapter: str) -> str | None:
    """The scheme ``scheme://`` stands for in a URI of an ``adapter`` source: itself when it
    selects that adapter, its other spelling (``amqp`` → ``amqp1`` for an AMQP 1.0 source),
    None when it cannot be such a source's."""
    info = SCHEMES.get(scheme.lower())
    if info is None:
        return None
    if info.adapter == adapter:
        return scheme.lower()
    return info.spelled_for.get(adapter)


def management_endpoint(source: SourceURI, given: str | None = None) -> SourceURI:
    """The management API of an AMQP source: RabbitMQ's (``rabbitmq+http(s)``) for an
    ``amqp(s)://`` source, Artemis' Jolokia (``artemis+http(s)``) for an ``amqp1(s)://`` one.

    ``given`` (``--management-url``, a playbook endpoint) may be ``http(s)://HOST:PORT`` or a
    ``rabbitmq+``/``artemis+`` URI; without it the API is on the AMQP host: port 15672 (http)
    or 15671 (https) for RabbitMQ, 8161 for Artemis, **https when the AMQP source is TLS**.
    Credentials the management URI lacks come from the source, and so do its TLS settings.

    A TLS source's password is never sent over plain HTTP to another machine: a derived or
    given ``http://`` management URI for a TLS source with a password is refused (a loopback
    host, e.g. an SSH tunnel, is allowed).
    """
    prefix = SCHEMES[source.scheme].management or "rabbitmq+"
    if given:
        scheme = given.split("://", 1)[0].lower() if "://" in given else ""
        if scheme in ("http", "https"):
            given = prefix + given
        elif scheme not in (prefix + "http", prefix + "https"):
            raise UsageError(
                f"management URL {mask_uri(given)} is not an http(s):// URL",
                hint=f"e.g. https://{source.host}:{15671 if prefix == 'rabbitmq+' else 8161}",
            )
        management = parse_source_uri(given)
    else:
        scheme = prefix + ("https" if source.tls else "http")
        host = f"[{source.host}]" if ":" in source.host else source.host
        management = parse_source_uri(f"{scheme}://{host}")
        management = replace(management, raw=f"{scheme}://{host}:{management.port}")
    if management.username is None and source.username is not None:
        netloc = quote(source.username, safe="") + (":***" if source.password else "") + "@"
        scheme_, rest = management.raw.split("://", 1)
        management = replace(
            management,
            raw=f"{scheme_}://{netloc}{rest}",
            username=source.username,
            password=source.password,
        )
    if (
        management.tls
        and management.tls_options == TLSOptions()
        and source.tls_options != TLSOptions()
    ):
        # the same CA (and client certificate, for a broker that asks for one on https too)
        management = replace(management, tls_options=source.tls_options)
    if (
        source.tls
        and not management.tls
        and management.password is not None
        and not management.loopback
    ):
        raise UsageError(
            f"refusing to send the password of a TLS source over plain HTTP to {management.masked}",
            hint=f"use https for the management API (e.g. "
            f"{prefix}https://{management.host}:{15671 if prefix == 'rabbitmq+' else 8161})",
        )
    return management
