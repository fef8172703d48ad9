"""Where a workload's source is and how to reach it, resolved from the playbook at run time.

A playbook names credentials by reference only (``source.credentials.env``); the value is read
from the environment of the ``cutover`` process when a step or probe needs it and is never
written to the ledger, the run directory or a log line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

from mqmigrate.errors import CutoverError
from mqmigrate.playbooks.model import Workload
from mqmigrate.redact import mask_uri


@dataclass(frozen=True)
class SourceAccess:
    """A workload's source: the connection URI (secret, never printed) and its management API."""

    kind: str
    queue: str
    uri: str = field(repr=False)
    #: RabbitMQ management API base (``http://host:15672``) without credentials
    management_url: str | None = None

    @property
    def masked(self) -> str:
        """The URI as any output may show it."""
        return mask_uri(self.uri)


def _with_vhost(uri: str, vhost: str | None) -> str:
    """The AMQP URI with the playbook's vhost as its path (the env var may name none)."""
    if vhost is None:
        return uri
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, ""))


def resolve(workload: Workload, environ: dict[str, str] | None = None) -> SourceAccess:
    """The source of ``workload`` with its credentials read from the environment.

    RabbitMQ: ``source.credentials.env`` holds the AMQP URI; the management API is the
    playbook's ``rabbitmq+http(s)`` endpoint when it has one, else port 15672 of the AMQP host.
    SQS: the endpoint (``sqs+http://host:port``) or ``sqs://REGION``; AWS credentials come from
    boto3's chain (``AWS_PROFILE`` names a profile).
    """
    env = os.environ if environ is None else environ
    src = workload.source
    if src.kind == "sqs":
        endpoint = src.endpoint or f"sqs://{src.region or 'us-east-1'}"
        return SourceAccess("sqs", src.queue, endpoint)
    ref = src.credentials.env if src.credentials and src.credentials.env else None
    if ref is None:
        raise CutoverError(f"workload '{workload.id}': no source credentials to connect with",
                           hint="add 'credentials: {env: NAME}' to the source in the playbook")
    uri = env.get(ref)
    if not uri:
        raise CutoverError(f"workload '{workload.id}': environment variable {ref} is not set",
                           hint=f"export {ref}=amqp://USER:PASSWORD@HOST:5672/ before cutover")
    if src.kind != "rabbitmq":
        return SourceAccess(src.kind, src.queue, uri)
    uri = _with_vhost(uri, src.vhost)
    management = None
    if src.endpoint and src.endpoint.startswith(("rabbitmq+http://", "rabbitmq+https://")):
        parts = urlsplit(src.endpoint)
        management = f"{parts.scheme.split('+', 1)[1]}://{parts.netloc}"
    else:
        host = urlsplit(uri).hostname or "localhost"
        management = f"http://{host}:15672"
    return SourceAccess("rabbitmq", src.queue, uri, management)


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
    if parsed.kind != "rabbitmq":
        return SourceAccess(parsed.kind, queue, uri)
    return SourceAccess("rabbitmq", queue, uri,
                        management_url or f"http://{parsed.host or 'localhost'}:15672")
