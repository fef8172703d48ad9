"""Driver connections for a parsed source URI, made in one place.

``doctor``'s probes, ``assess``'s live readers, the bridge's adapters, the cutover gates, the
bench and dual-write all connect to the same kinds of endpoints; they differ only in
timeouts.  Everything a URI says about security is applied here: TLS (``?cafile=``,
``?certfile=``, ``?keyfile=``, ``?server_name=``, ``?verify=false``), the authentication
mechanism (AMQP 0-9-1 EXTERNAL, AMQP 1.0 ``?sasl_mechanisms=``), AWS profiles and assumed
roles.  The credentials come from the URI (:class:`~mqmigrate.redact.Secret`, revealed only
here, at the driver's door) or, when the URI has none, from the driver's own chain (boto3's
environment/profile, RabbitMQ's guest).

:func:`connect_error` turns what a driver raises when a connection cannot be made into one
line that names the endpoint and the likely cause (unknown CA, expired certificate, TLS to a
plaintext port...).
"""

from __future__ import annotations

import logging
import ssl
from typing import Any
from urllib.parse import urlencode

from mqmigrate.errors import AuthenticationFailed, ConnectionFailed, MqMigrateError, UsageError
from mqmigrate.sources.uri import PIKA_KEYS, SourceURI

log = logging.getLogger("mqmigrate.sources")

_warned_unverified: set[str] = set()


def _password(source: SourceURI, default: str = "") -> str:
    return source.password.reveal() if source.password else default


# -- TLS ----------------------------------------------------------------------------------------
def ssl_context(source: SourceURI) -> ssl.SSLContext:
    """The client TLS context a ``*s://`` URI asks for: the system CAs or ``?cafile=``, the
    client certificate, and (only with ``?verify=false``, loudly) no certificate check."""
    import os

    options = source.tls_options
    cafile = options.cafile
    if cafile is None and source.kind == "sqs":
        cafile = os.environ.get("AWS_CA_BUNDLE") or None  # what boto3 itself trusts
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (ssl.SSLError, OSError) as exc:
        raise UsageError(
            f"CA bundle {cafile} for {source.masked} is not a PEM CA bundle ({_reason(exc)})"
        ) from None
    if options.certfile:
        try:
            context.load_cert_chain(
                options.certfile,
                options.keyfile,
                password=options.key_password.reveal() if options.key_password else None,
            )
        except (ssl.SSLError, OSError) as exc:
            raise UsageError(
                f"cannot load the client certificate ?certfile={options.certfile}"
                f" for {source.masked} ({_reason(exc)})",
                hint="certfile and keyfile must be PEM and match; an encrypted "
                "key needs ?key_password=${env:NAME}",
            ) from None
    if not options.verify:
        _warn_unverified(source)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _warn_unverified(source: SourceURI) -> None:
    if source.masked not in _warned_unverified:
        _warned_unverified.add(source.masked)
        log.warning(
            "TLS CERTIFICATE CHECK DISABLED for %s (?verify=false): anyone on the path "
            "can read and change this connection; pass ?cafile= instead",
            source.masked,
        )


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)


def _server_name(source: SourceURI) -> str:
    return source.tls_options.server_name or source.host


# -- RabbitMQ (AMQP 0-9-1) ----------------------------------------------------------------------
def pika_parameters(
    source: SourceURI, *, timeout: float | None = None, heartbeat: int | None = None, **extra: Any
):
    """``pika.ConnectionParameters`` for an ``amqp(s)://`` source.

    pika's own URL parameters in the URI (``?heartbeat=``...) are honoured; credentials are
    the URI's (guest/guest when it has none), or EXTERNAL (the client certificate) with
    ``?auth_mechanism=external`` or a ``certfile`` and no password."""
    import pika
    from pika.credentials import ExternalCredentials

    pika_query = {k: v for k, v in source.query.items() if k in PIKA_KEYS}
    host = f"[{source.host}]" if ":" in source.host else source.host
    url = f"amqp://{host}:{source.port}{source.path or '/'}" + (
        "?" + urlencode(pika_query) if pika_query else ""
    )
    try:
        params = pika.URLParameters(url)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"bad RabbitMQ URI {source.masked}: {exc}", hint="e.g. amqp://user:pass@host:5672/%2f"
        ) from None
    if source.auth_mechanism == "external":
        if not source.tls_options.certfile:
            raise UsageError(
                f"{source.masked}: EXTERNAL authentication needs a client certificate",
                hint="add ?certfile=PATH&keyfile=PATH (amqps://)",
            )
        params.credentials = ExternalCredentials()
    else:
        params.credentials = pika.PlainCredentials(
            source.username or "guest", _password(source, "guest")
        )
    params.connection_attempts = 1
    if timeout is not None:
        params.socket_timeout = timeout
        params.blocked_connection_timeout = timeout
    if heartbeat is not None:
        params.heartbeat = heartbeat
    for name, value in extra.items():
        setattr(params, name, value)
    params.ssl_options = (
        pika.SSLOptions(ssl_context(source), _server_name(source)) if source.tls else None
    )
    return params


# -- AMQP 1.0 -----------------------------------------------------------------------------------
def proton_ssl_domain(source: SourceURI):
    """A ``proton.SSLDomain`` for an ``amqp1s://`` source (None for ``amqp1://``): the peer's
    certificate and name checked against ``?cafile=`` (else the system CAs), the client
    certificate when given."""
    if not source.tls:
        return None
    from proton import SSLDomain, SSLException

    options = source.tls_options
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    cafile = options.cafile or _system_cafile()
    try:
        if not options.verify:
            _warn_unverified(source)
            domain.set_peer_authentication(SSLDomain.ANONYMOUS_PEER)
        elif cafile:
            domain.set_trusted_ca_db(cafile)
            domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, cafile)
        if options.certfile:
            domain.set_credentials(
                options.certfile,
                options.keyfile or options.certfile,
                options.key_password.reveal() if options.key_password else None,
            )
    except SSLException as exc:
        raise UsageError(
            f"TLS settings for {source.masked} rejected by proton: {exc}",
            hint="cafile, certfile and keyfile must be PEM files",
        ) from None
    return domain


def _system_cafile() -> str | None:
    import os

    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def proton_sasl(source: SourceURI) -> dict[str, Any]:
    """SASL keyword arguments for proton: ``?sasl_mechanisms=`` when given; else PLAIN with
    the URI's user, EXTERNAL with a client certificate and no user, the broker's anonymous
    mechanism otherwise."""
    mechanisms = " ".join(source.query.get("sasl_mechanisms", "").replace(",", " ").split())
    kwargs: dict[str, Any] = {}
    if source.username:
        kwargs = {"user": source.username, "password": _password(source)}
    if mechanisms:
        kwargs["allowed_mechs"] = mechanisms.upper()
    elif source.username:
        kwargs["allowed_mechs"] = "PLAIN"
    elif source.tls_options.certfile:
        kwargs["allowed_mechs"] = "EXTERNAL"
    if "allowed_mechs" in kwargs and "PLAIN" in kwargs["allowed_mechs"].split() and source.tls:
        kwargs["allow_insecure_mechs"] = True  # PLAIN inside TLS is the usual, safe setup
    return kwargs


def proton_blocking_connection(source: SourceURI, *, timeout: float = 30.0, **options: Any):
    """A ``proton.utils.BlockingConnection`` to an ``amqp1(s)://`` source with the URI's TLS
    and SASL settings (:func:`proton_ssl_domain`, :func:`proton_sasl`); ``options`` go to
    proton (``heartbeat``, ``container_id`` ...)."""
    from proton.utils import BlockingConnection

    kwargs = proton_sasl(source)
    if source.tls:
        options.setdefault("ssl_domain", proton_ssl_domain(source))
        if source.tls_options.server_name:
            options.setdefault("sni", source.tls_options.server_name)
    scheme = "amqps" if source.tls else "amqp"
    host = f"[{source.host}]" if ":" in source.host else source.host
    return BlockingConnection(
        f"{scheme}://{host}:{source.port}", timeout=timeout, **kwargs, **options
    )


# -- HTTP management APIs ----------------------------------------------------------------------
def http_client(
    source: SourceURI,
    *,
    timeout: float = 15.0,
    path: str = "",
    headers: dict[str, str] | None = None,
    default_auth: tuple[str, str] | None = None,
):
    """An ``httpx.Client`` for a ``rabbitmq+http(s)://`` or ``artemis+http(s)://`` endpoint:
    base URL ``http(s)://host:port`` + the URI's path + ``path``, basic auth from the URI
    (``default_auth`` when it has none), the URI's CA and client certificate for https."""
    import httpx

    auth = None
    if source.username is not None and source.password is not None:
        auth = (source.username, _password(source))
    elif default_auth is not None:
        auth = default_auth
    verify: Any = ssl_context(source) if source.tls else True
    return httpx.Client(
        base_url=source.http_base + source.path.rstrip("/") + path,
        auth=auth,
        timeout=timeout,
        verify=verify,
        headers=headers,
    )


def management_credentials(endpoint: SourceURI, env_prefix: str) -> SourceURI:
    """A management endpoint whose missing credentials come from ``{env_prefix}_USER`` /
    ``{env_prefix}_PASSWORD`` (``RABBITMQ_``, ``ARTEMIS_``: docs/assess.md)."""
    import os
    from dataclasses import replace

    from mqmigrate.redact import Secret

    user = endpoint.username or os.environ.get(f"{env_prefix}_USER")
    password = endpoint.password
    if password is None and os.environ.get(f"{env_prefix}_PASSWORD") is not None:
        password = Secret(os.environ[f"{env_prefix}_PASSWORD"])
    if user is not None and password is None:
        return replace(endpoint, username=user)  # a user without password: no basic auth
    return replace(endpoint, username=user, password=password)


def check_http_status(response: Any, what: str, uri: str) -> None:
    """401/403 → AuthenticationFailed; other errors → ConnectionFailed (``uri`` is masked)."""
    from mqmigrate.redact import mask_uri

    if response.status_code in (401, 403):
        raise AuthenticationFailed(
            f"{what} at {mask_uri(uri)} rejected the credentials (HTTP {response.status_code})",
            hint="pass user:password in the URI or set the environment variables in docs/assess.md",
        )
    if response.status_code >= 400:
        raise ConnectionFailed(
            f"{what} at {mask_uri(uri)} answered HTTP {response.status_code} "
            f"for {response.request.url.path}"
        )


# -- SQS ----------------------------------------------------------------------------------------
def sqs_client(
    source: SourceURI,
    *,
    service: str = "sqs",
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    max_attempts: int = 2,
    pool: int = 10,
):
    """A boto3 client (``sqs``, or ``sns`` for shadow mode) for an ``sqs://REGION`` or
    ``sqs+http(s)://HOST:PORT`` source.

    Credentials: the URI's user:password as key id and secret, else ``?profile=NAME``, else
    boto3's chain; ``?role_arn=`` (with ``external_id``, ``session_name``) assumes that role
    with those credentials through STS and refreshes it before it expires.  A local endpoint
    with no credentials at all gets dummy ones (moto, ElasticMQ accept any), so the sandbox
    works without AWS configuration.  ``?cafile=`` (else ``AWS_CA_BUNDLE``) verifies https.
    An unknown profile is an :class:`~mqmigrate.errors.AuthenticationFailed`.
    """
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ProfileNotFound
    except ImportError as exc:
        from mqmigrate.errors import PrerequisiteError

        raise PrerequisiteError(
            "SQS sources need the 'boto3' package", hint="pip install boto3"
        ) from exc

    endpoint = None if source.scheme == "sqs" else source.http_base
    profile = source.query.get("profile")
    try:
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    except ProfileNotFound as exc:
        raise AuthenticationFailed(
            f"AWS profile {profile!r} not found", hint="check ?profile= in the URI or AWS_PROFILE"
        ) from exc
    keys: dict[str, Any] = {}
    if source.username:
        keys = dict(aws_access_key_id=source.username, aws_secret_access_key=_password(source))
    elif endpoint and source.loopback and session.get_credentials() is None:
        keys = dict(aws_access_key_id="testing", aws_secret_access_key="testing")
    verify: Any = source.tls_options.cafile or None
    if not source.tls_options.verify:
        _warn_unverified(source)
        verify = False
    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=pool,
    )
    if source.query.get("role_arn"):
        session = _assumed_role_session(source, session, keys, endpoint, verify)
        keys = {}
    return session.client(
        service,
        region_name=source.region,
        endpoint_url=endpoint,
        config=config,
        verify=verify,
        **keys,
    )


def _assumed_role_session(
    source: SourceURI, base, keys: dict[str, Any], endpoint: str | None, verify: Any
):
    """A boto3 session whose credentials are ``?role_arn=``'s, assumed with ``base``'s (or
    the URI's keys) and refreshed by botocore before they expire."""
    import boto3
    import botocore.session
    from botocore.credentials import DeferredRefreshableCredentials

    query = source.query
    sts = base.client(
        "sts",
        region_name=source.region,
        endpoint_url=query.get("sts_endpoint") or endpoint,
        verify=verify,
        **keys,
    )
    request: dict[str, Any] = {
        "RoleArn": query["role_arn"],
        "RoleSessionName": query.get("session_name") or "mqmigrate",
    }
    if query.get("external_id"):
        request["ExternalId"] = query["external_id"]

    def refresh() -> dict[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = sts.assume_role(**request)["Credentials"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise AuthenticationFailed(
                f"cannot assume role {query['role_arn']} for {source.masked} ({code})",
                hint="check ?role_arn=, ?external_id= and the trust policy of the role",
            ) from None
        except BotoCoreError as exc:
            raise ConnectionFailed(
                f"cannot reach STS to assume {query['role_arn']} for "
                f"{source.masked} ({type(exc).__name__})",
                hint="check the endpoint, or ?sts_endpoint=",
            ) from None
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": answer["Expiration"].isoformat(),
        }

    credentials = DeferredRefreshableCredentials(refresh_using=refresh, method="assume-role")
    core = botocore.session.Session()
    core._credentials = credentials  # type: ignore[attr-defined]  # botocore has no public setter
    return boto3.Session(botocore_session=core, region_name=source.region)


# -- errors -------------------------------------------------------------------------------------
#: (text found in a driver's error, likely cause, what to do); first match wins
_CAUSES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        (
            "alert unknown ca",
            "alert bad certificate",
            "certificate required",
            "alert certificate required",
            "peer did not return a certificate",
            "alert_unknown_ca",
            "certificate_required",
            "alert certificate expired",
            "alert_certificate_expired",
            "alert certificate revoked",
            "alert unsupported certificate",
            "alert certificate unknown",
        ),
        "the broker refused our client certificate (or wants one)",
        "pass ?certfile=&keyfile= signed by a CA the broker trusts",
    ),
    (
        ("certificate has expired", "certificate expired"),
        "the broker's TLS certificate has expired",
        "renew the broker's certificate",
    ),
    (
        ("hostname mismatch", "ip address mismatch", "doesn't match", "not match"),
        "the broker's certificate does not name this host",
        "connect by the name in the certificate, or pass ?server_name=NAME",
    ),
    (
        (
            "self-signed certificate",
            "self signed certificate",
            "unable to get local issuer",
            "unable to get issuer",
            "certificate verify failed",
            "unknown ca",
            "certificate_verify_failed",
        ),
        "the broker's TLS certificate is signed by an unknown CA",
        "pass ?cafile=PATH with the CA that signed it",
    ),
    (
        (
            "wrong version number",
            "record layer failure",
            "packet length too long",
            "unknown protocol",
            "http request",
            "wrong_version_number",
            "record_layer_failure",
        ),
        "this port does not speak TLS",
        "use the plain scheme or the broker's TLS port",
    ),
    (
        ("tls handshake timed out",),
        "no answer to the TLS handshake: this port may not speak TLS",
        "use the plain scheme or the broker's TLS port",
    ),
    (
        ("closed the connection right after the handshake",),
        "the broker ended the TLS session at once: it may want a client certificate, or this "
        "port does not speak TLS",
        "pass ?certfile=&keyfile=, or check the port",
    ),
)


def connect_error(source: SourceURI, exc: BaseException, *, what: str = "") -> MqMigrateError:
    """What a failed connection to ``source`` means, on one line naming the endpoint and the
    likely cause: TLS trust (unknown CA, expired, wrong name, client certificate refused), TLS
    to a plaintext port and plaintext to a TLS port, refused credentials or mechanism, and
    otherwise unreachable.  Never a secret: only the masked URI and the driver's reason."""
    chain = _chain_text(exc)
    low = " ".join(chain).lower()
    text = chain[-1] if chain else type(exc).__name__  # the innermost reason is the telling one
    if source.tls and source.scheme != "sqs" and any(n in low for n in _VAGUE_TLS):
        # drivers often say only "certificate verify failed" or "EOF": one handshake of our
        # own, with the same settings, names the reason (bounded by a short timeout)
        found = tls_diagnosis(source)
        if found:
            text, low = found, found.lower() + " " + low
    subject = f"{what or source.kind} at {source.endpoint_label}"
    for needles, cause, fix in _CAUSES:
        if any(n in low for n in needles):
            if cause.startswith("this port does not speak TLS") and not source.tls:
                break
            return ConnectionFailed(
                f"{subject}: {cause} ({_short(text)})", hint=fix, transient=False
            )
    if source.tls is False and any(
        n in low
        for n in (
            "connection reset",
            "eof",
            "streamlost",
            "stream connection lost",
            "incompatibleprotocol",
            "connection closed",
            "remote end closed",
            "server disconnected",
            "framing-error",
            "no protocol header",
            "timed out",
            "timeout",
        )
    ):
        return ConnectionFailed(
            f"{subject}: the connection was dropped during the handshake ({_short(text)})",
            hint="the port may expect TLS: use the TLS scheme (amqps://, "
            "amqp1s://, https) or the broker's plain port",
        )
    mechanism = (
        "mechanism" in low
        and (
            "not supported" in low
            or "no mechanism" in low
            or "unsupported" in low
            or "no worthy" in low
            or "not offered" in low
        )
    ) or any(
        n in low
        for n in (
            "insufficient",
            "mech=none",
            "no worthy mechs",
            "no mechanism",
            "unsupported mechanism",
        )
    )
    if mechanism:
        return AuthenticationFailed(
            f"{subject}: the broker does not accept this authentication mechanism ({_short(text)})",
            hint="check ?auth_mechanism= / ?sasl_mechanisms= and the broker's enabled "
            "mechanisms (EXTERNAL needs a client certificate)",
        )
    if any(
        n in low
        for n in (
            "authentication",
            "access_refused",
            "auth failed",
            "sasl",
            "unauthorized",
            "login was refused",
            "probableauthentication",
        )
    ):
        return AuthenticationFailed(
            f"{subject}: the broker refused the credentials ({_short(text)})",
            hint="check the user and password (or client certificate)",
        )
    verb = "cannot reach" if source.kind.endswith("-management") else "cannot connect to"
    return ConnectionFailed(
        f"{verb} {subject} ({_short(text)})",
        hint="check host, port and firewall; is the broker running?",
    )


#: driver messages that hide which TLS problem it was
_VAGUE_TLS = (
    "certificate verify failed",
    "ssl failure",
    "eof",
    "handshake",
    "stream connection lost",
    "connection reset",
    "ssl",
    "tls",
    "framing-error",
    "timed out",
    "timeout",
)


def tls_diagnosis(source: SourceURI, timeout: float = 2.0) -> str | None:
    """What a TLS handshake with ``source``'s settings meets, as ``"SSLError: reason"``; None
    when it succeeds and the broker keeps the connection (the problem is not TLS) or the port
    cannot be reached.  A broker that wants a client certificate says so only after the
    TLS 1.3 handshake, so one read follows it."""
    import socket

    try:
        context = ssl_context(source)
    except MqMigrateError:
        return None
    try:
        raw = socket.create_connection((source.host, source.port or 443), timeout=timeout)
    except OSError:
        return None
    try:
        with context.wrap_socket(raw, server_hostname=_server_name(source)) as tls:
            tls.settimeout(min(timeout, 1.0))
            try:
                if tls.recv(1) == b"":
                    return "EOF: the broker closed the connection right after the handshake"
            except socket.timeout:
                return None
    except ssl.SSLCertVerificationError as exc:
        return f"SSLCertVerificationError: {exc.verify_message or exc.reason}"
    except ssl.SSLError as exc:
        return f"SSLError: {exc.reason or exc}"
    except socket.timeout:
        return f"TLS handshake timed out after {timeout:g}s"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    finally:
        raw.close()
    return None


def _chain_text(exc: BaseException) -> list[str]:
    """The messages of ``exc``, its causes and (for pika's workflow errors) its attempts."""
    seen: list[str] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 12:
        item = todo.pop(0)
        if item is None:
            continue
        if isinstance(item, BaseException):
            text = " ".join(str(item).split())
            seen.append(f"{type(item).__name__}: {text}" if text else type(item).__name__)
            todo.extend(
                [
                    item.__cause__,
                    item.__context__,
                    *(getattr(item, "exceptions", None) or ()),
                    *[a for a in item.args if isinstance(a, (BaseException, list, tuple))],
                ]
            )
        elif isinstance(item, (list, tuple)):
            todo.extend(item)
    return list(dict.fromkeys(seen))


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
