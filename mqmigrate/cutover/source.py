"""Where a workload's source is and how to reach it, resolved from the playbook at run time.

A playbook names credentials by reference only (``source.credentials.env``); the value is read
from the environment of the ``cutover`` process when a step or probe needs it and is never
written to the state file, the run directory or a log line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mqmigrate.errors import ConfigError, CutoverError
from mqmigrate.playbooks.model import Workload
from mqmigrate.redact import mask_uri
from mqmigrate.sources import adapter_class, open_source
from mqmigrate.sources.base import BridgeMode, SourceAdapter
from mqmigrate.sources.uri import SourceURI, management_endpoint, parse_source_uri


@dataclass(frozen=True)
class SourceAccess:
    """A workload's source: the connection URI (secret, never printed) and its management API."""

    kind: str
    queue: str
    uri: str = field(repr=False)
    #: management API base without credentials: RabbitMQ's (``http://host:15672``) or
    #: Artemis' Jolokia console (``http://host:8161``) for an AMQP 1.0 source; https when the
    #: source is TLS
    management_url: str | None = None
    #: the management URL as given (playbook endpoint, ``--management-url``), which may carry
    #: its own credentials; None when derived from the source
    management_given: str | None = field(default=None, repr=False, compare=False)

    @property
    def masked(self) -> str:
        """The URI as any output may show it."""
        return mask_uri(self.uri)

    def adapter(self, mode: BridgeMode = BridgeMode.drain) -> SourceAdapter:
        """The source's adapter (not opened), from the registry: what the gates count and the
        actions manage the source through."""
        return open_source(
            self.uri,
            queue=self.queue,
            mode=mode,
            management_url=self.management_given or self.management_url,
        )

    def management(self) -> SourceURI:
        """The management endpoint with its credentials and TLS settings (those of the source
        when it has none), for :func:`mqmigrate.sources.connect.http_client`."""
        return management_endpoint(
            parse_source_uri(self.uri), self.management_given or self.management_url
        )


def _access(kind: str, queue: str, uri: str, given: str | None) -> SourceAccess:
    """A SourceAccess whose management API is ``given`` or derived from the source (port 15672,
    15671 with TLS, for RabbitMQ; 8161 for Artemis); a TLS source's password over plain HTTP
    is refused here, before any step runs."""
    if not adapter_class(kind).capabilities.management_api:
        return SourceAccess(kind, queue, uri)
    management = management_endpoint(parse_source_uri(uri), given)
    return SourceAccess(kind, queue, uri, management.http_base + management.path.rstrip("/"), given)


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
    return _access(spec.kind, spec.queue, spec.uri, spec.options.get("management_url"))


def access_for_uri(uri: str, queue: str, management_url: str | None = None) -> SourceAccess:
    """A source given on the command line (``--source URI --queue NAME``) as a SourceAccess;
    the management API defaults to the AMQP host's (see :func:`_access`)."""
    return _access(parse_source_uri(uri).kind, queue, uri, management_url)
