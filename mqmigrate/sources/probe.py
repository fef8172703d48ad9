"""Reachability, authentication and version of a source endpoint (used by ``doctor``)."""

from __future__ import annotations

from dataclasses import dataclass

from mqmigrate.errors import MqMigrateError
from mqmigrate.sources.connect import (
    connect_error,
    http_client,
    pika_parameters,
    proton_blocking_connection,
    sqs_client,
)
from mqmigrate.sources.uri import SourceURI, parse_source_uri


@dataclass
class SourceProbe:
    endpoint: str  # masked
    kind: str
    ok: bool
    version: str = ""
    detail: str = ""
    fix: str = ""


def probe_source(uri: str, timeout: float = 10.0) -> SourceProbe:
    try:
        source = parse_source_uri(uri)
    except MqMigrateError as exc:  # a bad URI, an unset ${env:} secret, a missing cafile
        from mqmigrate.redact import mask_uri

        return SourceProbe(mask_uri(uri), "unknown", False, detail=exc.one_line())
    probe = {
        "rabbitmq": _probe_amqp091,
        "rabbitmq-management": _probe_management,
        "amqp1": _probe_amqp1,
        "artemis-management": _probe_jolokia,
        "sqs": _probe_sqs,
    }[source.kind]
    try:
        return probe(source, timeout)
    except MqMigrateError as exc:  # bad TLS files, an unset ${env:} secret...
        return SourceProbe(
            source.masked, source.kind, False, detail=exc.message, fix=exc.hint or ""
        )
    except Exception as exc:  # every driver failure becomes a finding, never a traceback
        return SourceProbe(
            source.masked,
            source.kind,
            False,
            detail=f"unexpected {type(exc).__name__}: {exc}"[:300],
        )


def _failed(source: SourceURI, exc: BaseException, what: str) -> SourceProbe:
    """A failed connection as a finding: the likely cause (TLS trust, TLS/plaintext mismatch,
    credentials, mechanism) from :func:`~mqmigrate.sources.connect.connect_error`."""
    diagnosed = connect_error(source, exc, what=what)
    return SourceProbe(
        source.masked, source.kind, False, detail=diagnosed.message[:400], fix=diagnosed.hint or ""
    )


def _unreachable(source: SourceURI, exc: BaseException | str) -> SourceProbe:
    text = (
        exc
        if isinstance(exc, str)
        else (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    )
    return SourceProbe(
        source.masked,
        source.kind,
        False,
        detail=f"unreachable ({text})"[:300],
        fix="check host, port and firewall; is the broker running?",
    )


def _tcp_refusal(source: SourceURI, timeout: float) -> str | None:
    """A plain TCP connect first: drivers often hide "connection refused" behind a bare type."""
    import socket

    try:
        with socket.create_connection((source.host, source.port or 0), timeout=timeout):
            return None
    except OSError as exc:
        return f"{source.host}:{source.port}: {exc.strerror or exc}"


def _bad_credentials(source: SourceURI, detail: str) -> SourceProbe:
    return SourceProbe(
        source.masked,
        source.kind,
        False,
        detail=f"authentication failed: {detail}",
        fix="check the user name and password in the URI",
    )


def _probe_amqp091(source: SourceURI, timeout: float) -> SourceProbe:
    import pika
    import pika.exceptions as pex

    if refusal := _tcp_refusal(source, timeout):
        return _unreachable(source, refusal)
    try:
        connection = pika.BlockingConnection(pika_parameters(source, timeout=timeout))
    except (pex.ProbableAuthenticationError, pex.AuthenticationError) as exc:
        if "EXTERNAL" in str(exc) or source.auth_mechanism == "external":
            return _failed(source, exc, "RabbitMQ")
        return _bad_credentials(source, str(exc) or "rejected")
    except pex.ProbableAccessDeniedError:
        return SourceProbe(
            source.masked,
            source.kind,
            False,
            detail=f"access to vhost {source.vhost!r} refused",
            fix="grant the user permissions on that vhost",
        )
    except (pex.AMQPConnectionError, OSError) as exc:
        return _failed(source, exc, "RabbitMQ")
    try:
        props = connection._impl.server_properties  # pika keeps them only on the impl
        product = props.get("product", b"AMQP 0-9-1 broker")
        version = props.get("version", b"?")
        as_text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
        return SourceProbe(
            source.masked, source.kind, True, version=f"{as_text(product)} {as_text(version)}"
        )
    finally:
        connection.close()


def _probe_management(source: SourceURI, timeout: float) -> SourceProbe:
    import httpx

    try:
        with http_client(source, timeout=timeout, default_auth=("guest", "guest")) as client:
            response = client.get("/api/overview")
    except httpx.HTTPError as exc:
        return _failed(source, exc, "RabbitMQ management API")
    if response.status_code == 401:
        return _bad_credentials(source, "HTTP 401")
    if response.status_code != 200:
        return SourceProbe(
            source.masked,
            source.kind,
            False,
            detail=f"management API answered HTTP {response.status_code}",
            fix="is this the RabbitMQ management port (15672)?",
        )
    data = response.json()
    return SourceProbe(
        source.masked,
        source.kind,
        True,
        version=f"RabbitMQ {data.get('rabbitmq_version', '?')} "
        f"(Erlang {data.get('erlang_version', '?')})",
    )


def _probe_amqp1(source: SourceURI, timeout: float) -> SourceProbe:
    from proton import ConnectionException, Timeout

    if refusal := _tcp_refusal(source, timeout):
        return _unreachable(source, refusal)
    try:
        connection = proton_blocking_connection(source, timeout=timeout)
    except (ConnectionException, Timeout, OSError) as exc:
        return _failed(source, exc, "AMQP 1.0 broker")
    try:
        props = connection.conn.remote_properties or {}
        product = str(props.get("product", "AMQP 1.0 broker"))
        version = str(props.get("version", "?"))
        return SourceProbe(source.masked, source.kind, True, version=f"{product} {version}")
    finally:
        connection.close()


def _probe_jolokia(source: SourceURI, timeout: float) -> SourceProbe:
    from mqmigrate.sources.amqp1.artemis import ArtemisManagement

    management = ArtemisManagement(source)
    try:
        version = management.call(
            {"type": "read", "mbean": management.broker, "attribute": "Version"}
        )
    except MqMigrateError as exc:
        return SourceProbe(
            source.masked, source.kind, False, detail=exc.message[:300], fix=exc.hint or ""
        )
    finally:
        management.close()
    return SourceProbe(
        source.masked, source.kind, True, version=f"ActiveMQ Artemis {version} (Jolokia)"
    )


def _probe_sqs(source: SourceURI, timeout: float) -> SourceProbe:
    import botocore.exceptions as bex

    try:
        client = sqs_client(source, connect_timeout=timeout, read_timeout=timeout, max_attempts=1)
        client.list_queues(MaxResults=1)
    except bex.NoCredentialsError:
        return _bad_credentials(source, "no AWS credentials found")
    except bex.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in (
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "UnrecognizedClientException",
            "AccessDeniedException",
        ):
            return _bad_credentials(source, code)
        return SourceProbe(source.masked, source.kind, False, detail=f"SQS error {code}")
    except (
        bex.EndpointConnectionError,
        bex.ConnectTimeoutError,
        bex.ReadTimeoutError,
        bex.SSLError,
    ) as exc:
        return _failed(source, exc, "SQS")
    where = source.http_base if source.scheme != "sqs" else f"region {source.region}"
    return SourceProbe(source.masked, source.kind, True, version=f"SQS API at {where}")
