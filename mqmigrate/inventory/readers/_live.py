"""Helpers shared by the live readers: credentials from URI or environment, HTTP errors."""

from __future__ import annotations

import os
from dataclasses import replace

from mqmigrate.errors import AuthenticationFailed, ConnectionFailed, MqMigrateError
from mqmigrate.redact import Secret, mask_uri
from mqmigrate.sources.uri import SourceURI, parse_source_uri


def parse_live_uri(uri: str | SourceURI, env_prefix: str) -> SourceURI:
    """``scheme+http(s)://user:pass@host:port/path?q`` parsed (TLS settings and secret
    references included); ``{env_prefix}_USER`` / ``_PASSWORD`` fill missing credentials."""
    endpoint = parse_source_uri(uri) if isinstance(uri, str) else uri
    user = endpoint.username or os.environ.get(f"{env_prefix}_USER")
    password = endpoint.password
    if password is None and os.environ.get(f"{env_prefix}_PASSWORD") is not None:
        password = Secret(os.environ[f"{env_prefix}_PASSWORD"])
    if user is not None and password is None:
        return replace(endpoint, username=user)  # a user without password: no basic auth
    return replace(endpoint, username=user, password=password)


def http_error(exc: Exception, what: str, uri: str | SourceURI) -> MqMigrateError:
    """A one-line error for an httpx transport error: the endpoint masked, the likely cause
    (TLS trust, TLS to a plain port...) named."""
    from mqmigrate.sources.connect import connect_error

    if isinstance(uri, SourceURI):
        return connect_error(uri, exc, what=what)
    return ConnectionFailed(
        f"cannot reach {what} at {mask_uri(uri)} ({type(exc).__name__})",
        hint="check the host, port and that the service is running",
    )


def check_status(response, what: str, uri: str) -> None:
    """401/403 → AuthenticationFailed; other errors → ConnectionFailed."""
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
