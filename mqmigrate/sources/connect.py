"""Driver connections for a parsed source URI, made in one place.

``doctor``'s probes, ``assess``'s live readers, the cutover gates and the bench all connect to
the same kinds of endpoints; they differ only in timeouts.  The credentials come from the URI
(:class:`~mqmigrate.redact.Secret`, revealed only here, at the driver's door) or, when the URI
has none, from the driver's own chain (boto3's environment/profile, RabbitMQ's guest).
"""

from __future__ import annotations

import ssl
from typing import Any

from mqmigrate.sources.uri import SourceURI

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _password(source: SourceURI, default: str = "") -> str:
    return source.password.reveal() if source.password else default


def pika_parameters(source: SourceURI, *, timeout: float | None = None,
                    heartbeat: int | None = None, **extra: Any):
    """``pika.ConnectionParameters`` for an ``amqp(s)://`` source (guest/guest when none)."""
    import pika

    credentials = pika.PlainCredentials(source.username or "guest", _password(source, "guest"))
    options: dict[str, Any] = {"connection_attempts": 1, **extra}
    if timeout is not None:
        options.update(socket_timeout=timeout, blocked_connection_timeout=timeout)
    if heartbeat is not None:
        options["heartbeat"] = heartbeat
    if source.tls:
        options["ssl_options"] = pika.SSLOptions(ssl.create_default_context())
    return pika.ConnectionParameters(host=source.host, port=source.port,
                                     virtual_host=source.vhost, credentials=credentials, **options)


def proton_blocking_connection(source: SourceURI, *, timeout: float = 30.0, **options: Any):
    """A ``proton.utils.BlockingConnection`` to an ``amqp1(s)://`` source (SASL PLAIN when the
    URI has a user, else the broker's anonymous mechanism); ``options`` go to proton
    (``heartbeat``, ``ssl_domain``, ``container_id`` ...)."""
    from proton.utils import BlockingConnection

    kwargs: dict[str, Any] = {}
    if source.username:
        kwargs = {"user": source.username, "password": _password(source),
                  "allowed_mechs": "PLAIN"}
    scheme = "amqps" if source.tls else "amqp"
    return BlockingConnection(f"{scheme}://{source.host}:{source.port}", timeout=timeout,
                              **kwargs, **options)


def sqs_client(source: SourceURI, *, service: str = "sqs", connect_timeout: float = 5.0,
               read_timeout: float = 30.0, max_attempts: int = 2, pool: int = 10):
    """A boto3 client (``sqs``, or ``sns`` for shadow mode) for an ``sqs://REGION`` or
    ``sqs+http(s)://HOST:PORT`` source.

    Credentials: the URI's user:password as key id and secret, else ``?profile=NAME``, else
    boto3's chain; a local endpoint with none at all gets dummy ones (moto, ElasticMQ accept
    any), so the sandbox works without AWS configuration.  An unknown profile is an
    :class:`~mqmigrate.errors.AuthenticationFailed`.
    """
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ProfileNotFound
    except ImportError as exc:
        from mqmigrate.errors import PrerequisiteError

        raise PrerequisiteError("SQS sources need the 'boto3' package",
                                hint="pip install boto3") from exc
    from mqmigrate.errors import AuthenticationFailed

    kwargs: dict[str, Any] = {}
    endpoint = None if source.scheme == "sqs" else source.http_base
    if source.username:
        kwargs.update(aws_access_key_id=source.username,
                      aws_secret_access_key=_password(source))
    profile = source.query.get("profile")
    try:
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    except ProfileNotFound as exc:
        raise AuthenticationFailed(f"AWS profile {profile!r} not found",
                                   hint="check ?profile= in the URI or AWS_PROFILE") from exc
    if endpoint and not kwargs and source.host in _LOOPBACK and session.get_credentials() is None:
        kwargs.update(aws_access_key_id="testing", aws_secret_access_key="testing")
    config = Config(retries={"max_attempts": max_attempts, "mode": "standard"},
                    connect_timeout=connect_timeout, read_timeout=read_timeout,
                    max_pool_connections=pool)
    return session.client(service, region_name=source.region, endpoint_url=endpoint,
                          config=config, **kwargs)
