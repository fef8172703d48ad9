"""A source described by plain values (a playbook's ``source:`` block) as the URI and options
an adapter's ``from_uri`` takes.

The playbook model stays out of the adapters: its caller (``bridge --playbook``) passes the
values in a :class:`SourceLocation`, and :data:`URI_BUILDERS` (kind -> builder) holds what
each source kind makes of them; a new source kind adds its row there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from mqmigrate.errors import ConfigError
from mqmigrate.sources.uri import SCHEMES, scheme_for_adapter


@dataclass(frozen=True)
class SourceLocation:
    """Where a source is, as a playbook writes it.

    ``secret``: the value of the credential variable (a URI, or ``USER:PASSWORD``);
    ``credential_env``: that variable's name (named in errors, never its value);
    ``label``: what errors call the source (``workload 'orders'``).
    """

    kind: str
    label: str
    endpoint: str | None = None
    region: str | None = None
    vhost: str | None = None
    secret: str | None = field(default=None, repr=False)
    profile: str | None = None
    credential_env: str | None = None


def _spelled_for(uri: str, kind: str) -> str:
    """``uri`` with the scheme it has for a ``kind`` source: ``amqp(s)://`` written for an
    AMQP 1.0 source means ``amqp1(s)://`` (the plain scheme selects the AMQP 0-9-1 adapter)."""
    scheme, sep, rest = uri.partition("://")
    spelled = scheme_for_adapter(scheme, kind)
    return spelled + sep + rest if spelled and spelled != scheme.lower() else uri


def _with_vhost(uri: str, vhost: str | None) -> str:
    """The AMQP URI with ``vhost`` as its path (the variable may name none)."""
    if vhost is None:
        return uri
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, ""))


def _amqp_uri(where: SourceLocation) -> str:
    """RabbitMQ / AMQP 1.0: the variable holds the whole URI, or ``USER:PASSWORD`` that goes
    into the endpoint."""
    secret = where.secret
    if secret is None:
        raise ConfigError(
            f"{where.label}: a {where.kind} source needs "
            "'credentials: {env: NAME}' (a URI or USER:PASSWORD)",
            hint="profiles are for sqs sources (AWS profiles)",
        )
    if "://" in secret:
        return _spelled_for(secret, where.kind)
    user, sep, password = secret.partition(":")
    endpoint = where.endpoint or ""
    scheme = urlsplit(endpoint).scheme.lower() if endpoint else ""
    if not sep or scheme_for_adapter(scheme, where.kind) is None:
        var = where.credential_env or "?"
        raise ConfigError(
            f"{where.label}: {var} holds neither a source URI nor "
            "USER:PASSWORD for an amqp:// source.endpoint",
            hint=f"e.g. {var}=amqp://USER:PASSWORD@HOST:5672/",
        )
    parts = urlsplit(endpoint)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return _spelled_for(urlunsplit((scheme, netloc, parts.path, parts.query, "")), where.kind)


def _management_options(uri: str, endpoint: str | None) -> dict[str, Any]:
    """``management_url`` when ``endpoint`` is the management API of ``uri``'s broker (what
    the playbook was planned from: shadow bindings, Jolokia)."""
    scheme = SCHEMES.get(urlsplit(uri).scheme.lower())
    prefix = scheme.management if scheme is not None else None
    if prefix and endpoint and endpoint.startswith((prefix + "http://", prefix + "https://")):
        parts = urlsplit(endpoint)
        return {"management_url": f"{parts.scheme.split('+', 1)[1]}://{parts.netloc}"}
    return {}


def _rabbitmq(where: SourceLocation) -> tuple[str, dict[str, Any]]:
    uri = _with_vhost(_amqp_uri(where), where.vhost)
    return uri, _management_options(uri, where.endpoint)


def _amqp1(where: SourceLocation) -> tuple[str, dict[str, Any]]:
    uri = _amqp_uri(where)
    return uri, _management_options(uri, where.endpoint)


def _sqs(where: SourceLocation) -> tuple[str, dict[str, Any]]:
    secret, profile = where.secret, where.profile
    if secret is not None and "://" in secret:
        return secret, {}
    uri = where.endpoint or f"sqs://{where.region or 'us-east-1'}"
    query = {}
    if where.region and not uri.startswith("sqs://"):
        query["region"] = where.region
    if profile or secret:
        query["profile"] = profile or secret or ""
    if query:
        parts = urlsplit(uri)
        extra = urlencode(query)
        uri = urlunsplit(
            (
                parts.scheme,
                parts.netloc,
                parts.path,
                f"{parts.query}&{extra}" if parts.query else extra,
                "",
            )
        )
    return uri, {}


#: source kind -> (location -> (URI, the adapter's ``from_uri`` options)); a kind without a
#: row is built as an AMQP source (its credential variable holds the URI or USER:PASSWORD)
URI_BUILDERS: dict[str, Callable[[SourceLocation], tuple[str, dict[str, Any]]]] = {
    "rabbitmq": _rabbitmq,
    "amqp1": _amqp1,
    "sqs": _sqs,
}


def source_uri(where: SourceLocation) -> tuple[str, dict[str, Any]]:
    """The URI (secret) and adapter options of the source ``where`` describes.

    * rabbitmq: ``secret`` is the AMQP URI or ``USER:PASSWORD`` for the ``amqp://`` endpoint;
      ``vhost`` becomes the URI's path; a ``rabbitmq+http(s)://`` endpoint is the management
      API (``management_url``);
    * amqp1: ``secret`` is the ``amqp1://`` URI or ``USER:PASSWORD``; an
      ``artemis+http(s)://`` endpoint is the Jolokia API (``management_url``);
    * sqs: the endpoint (``sqs+http://host:port``) or ``sqs://REGION``; ``profile`` (or a
      secret that is a profile name) becomes ``?profile=NAME``; a secret holding a URI is the URI.
    """
    return URI_BUILDERS.get(where.kind, _amqp1)(where)
