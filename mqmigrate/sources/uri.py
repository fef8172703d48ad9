"""Source endpoint URIs: one parser for every command that takes ``--source``.

==========================================  ============================================
URI                                         meaning
==========================================  ============================================
``amqp://user:pass@host:5672/vhost``        RabbitMQ over AMQP 0-9-1 (``amqps://`` TLS)
``rabbitmq+http://user:pass@host:15672``    RabbitMQ management HTTP API (``+https``)
``amqp1://user:pass@host:5672``             an AMQP 1.0 broker (``amqp1s://`` TLS)
``sqs://us-east-1``                         Amazon SQS, standard AWS credential chain
``sqs+http://key:secret@host:port?region=``  an SQS-compatible endpoint (``+https``)
==========================================  ============================================

Credentials in a URI are kept as :class:`~mqmigrate.redact.Secret`; :attr:`SourceURI.masked`
is what any output shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from mqmigrate.errors import UsageError
from mqmigrate.redact import Secret, mask_uri

KINDS = {
    "amqp": "rabbitmq",
    "amqps": "rabbitmq",
    "rabbitmq+http": "rabbitmq-management",
    "rabbitmq+https": "rabbitmq-management",
    "amqp1": "amqp1",
    "amqp1s": "amqp1",
    "sqs": "sqs",
    "sqs+http": "sqs",
    "sqs+https": "sqs",
}
DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671, "rabbitmq+http": 15672, "rabbitmq+https": 15671,
                 "amqp1": 5672, "amqp1s": 5671}


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
    query: dict[str, str]

    @property
    def masked(self) -> str:
        return mask_uri(self.raw)

    @property
    def tls(self) -> bool:
        return self.scheme in ("amqps", "amqp1s", "rabbitmq+https", "sqs+https")

    @property
    def vhost(self) -> str:
        """AMQP 0-9-1 virtual host: the path without its leading slash, ``/`` when empty."""
        return unquote(self.path[1:]) if len(self.path) > 1 else "/"

    @property
    def http_base(self) -> str:
        """``http(s)://host:port`` for the HTTP-based schemes."""
        proto = "https" if self.tls else "http"
        return f"{proto}://{self.host}" + (f":{self.port}" if self.port else "")

    @property
    def region(self) -> str:
        if self.scheme == "sqs":
            return self.host or self.query.get("region", "us-east-1")
        return self.query.get("region", "us-east-1")


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
    """Split ``uri``; a bad port is a :class:`UsageError` that never shows the password."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad URI {mask_uri(uri)}: {exc}") from None
    return URIParts(
        scheme=parts.scheme.lower(),
        host=parts.hostname or "",
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        path=parts.path,
        query={k: v[-1] for k, v in parse_qs(parts.query).items()},
    )


def parse_source_uri(uri: str) -> SourceURI:
    """Parse and validate a source URI; a bad one is a :class:`UsageError` naming the schemes."""
    parts = split_uri(uri)
    scheme = parts.scheme
    if scheme not in KINDS:
        raise UsageError(
            f"unsupported source URI scheme {scheme + '://' if scheme else mask_uri(uri)!r}",
            hint="use amqp://, rabbitmq+http://, amqp1://, sqs://REGION or sqs+http://HOST:PORT",
        )
    if scheme != "sqs" and not parts.host:
        raise UsageError(f"source URI {mask_uri(uri)} has no host")
    return SourceURI(
        raw=uri,
        scheme=scheme,
        kind=KINDS[scheme],
        host=parts.host,
        port=parts.port or DEFAULT_PORTS.get(scheme),
        username=parts.username,
        password=Secret(parts.password) if parts.password is not None else None,
        path=parts.path,
        query=parts.query,
    )
