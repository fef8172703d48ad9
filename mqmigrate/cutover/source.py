"""Where a workload's source is and how to reach it, resolved from the playbook at run time.

A playbook names credentials by reference only (``source.credentials.env``); the value is read
from the environment of the ``cutover`` process when a step or probe needs it and is never
written to the ledger, the run directory or a log line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mqmigrate.errors import ConfigError, CutoverError
from mqmigrate.playbooks.model import Workload
from mqmigrate.redact import mask_uri


@dataclass(frozen=True)
class SourceAccess:
    """A workload's source: the connection URI (secret, never printed) and its management API."""

    kind: str
    queue: str
    uri: str = field(repr=False)
    #: management API base without credentials: RabbitMQ's (``http://host:15672``) or
    #: Artemis' Jolokia console (``http://host:8161``) for an AMQP 1.0 source
    management_url: str | None = None

    @property
    def masked(self) -> str:
        """The URI as any output may show it."""
        return mask_uri(self.uri)


def resolve(workload: Workload, environ: dict[str, str] | None = None) -> SourceAccess:
    """The source of ``workload`` with its credentials read from the environment.

    The URI is what ``bridge --playbook`` would open (:func:`mqmigrate.bridge.playbook.
    source_spec`: the variable holds a URI or ``USER:PASSWORD``, the playbook's vhost becomes
    the path, SQS takes its endpoint and profile).  RabbitMQ's management API is the
    playbook's ``rabbitmq+http(s)`` endpoint when it has one, else port 15672 of the AMQP host;
    an AMQP 1.0 source's (Artemis Jolokia) is its ``artemis+http(s)`` endpoint, else port 8161.
    """
    from mqmigrate.bridge.playbook import source_spec

    try:
        spec = source_spec(workload, os.environ if environ is None else environ)
    except ConfigError as exc:
        raise CutoverError(exc.message, hint=exc.hint) from None
    if spec.kind == "amqp1":
        management = spec.options.get("management_url") or (
            f"http://{urlsplit(spec.uri).hostname or 'localhost'}:8161")
        return SourceAccess("amqp1", spec.queue, spec.uri, management)
    if spec.kind != "rabbitmq":
        return SourceAccess(spec.kind, spec.queue, spec.uri)
    management = spec.options.get("management_url") or (
        f"http://{urlsplit(spec.uri).hostname or 'localhost'}:15672")
    return SourceAccess("rabbitmq", spec.queue, spec.uri, management)


def amqp_credentials(uri: str) -> tuple[str, str]:
    """User and password of an AMQP URI (RabbitMQ's guest/guest when it has none)."""
    from urllib.parse import unquote

    parts = urlsplit(uri)
    return unquote(parts.username or "guest"), unquote(parts.password or "guest")


def access_for_uri(uri: str, queue: str, management_url: str | None = None) -> SourceAccess:
    """A source given on the command line (``--source URI --queue NAME``) as a SourceAccess;
    RabbitMQ's management API defaults to port 15672 of the AMQP host."""
    from mqmigrate.sources.uri import parse_source_uri

    parsed = parse_source_uri(uri)
    if parsed.kind == "amqp1":
        return SourceAccess("amqp1", queue, uri,
                            management_url or f"http://{parsed.host or 'localhost'}:8161")
    if parsed.kind != "rabbitmq":
        return SourceAccess(parsed.kind, queue, uri)
    return SourceAccess("rabbitmq", queue, uri,
                        management_url or f"http://{parsed.host or 'localhost'}:15672")
