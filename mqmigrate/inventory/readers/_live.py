"""Helpers shared by the live readers: credentials from URI or environment, HTTP errors."""

from __future__ import annotations

import os

from mqmigrate.errors import AuthenticationFailed, ConnectionFailed
from mqmigrate.redact import Secret, mask_uri
from mqmigrate.sources.uri import split_uri as uri_parts


def split_uri(uri: str, env_prefix: str) -> tuple[str, str | None, Secret | None, dict[str, str]]:
    """``scheme+http://user:pass@host:port/path?q`` → (http base URL without credentials,
    user, password, query).  ``{env_prefix}_USER`` / ``_PASSWORD`` fill missing credentials."""
    parts = uri_parts(uri)
    scheme = parts.scheme.split("+", 1)[1] if "+" in parts.scheme else "http"
    host = parts.host or "localhost"
    if ":" in host:
        host = f"[{host}]"
    base = f"{scheme}://{host}" + (f":{parts.port}" if parts.port else "") + parts.path.rstrip("/")
    user = parts.username or os.environ.get(f"{env_prefix}_USER")
    pw = parts.password if parts.password is not None else os.environ.get(f"{env_prefix}_PASSWORD")
    return base, user, Secret(pw) if pw is not None else None, parts.query


def http_error(exc: Exception, what: str, uri: str) -> ConnectionFailed:
    """A one-line ConnectionFailed for an httpx transport error (endpoint masked)."""
    return ConnectionFailed(f"cannot reach {what} at {mask_uri(uri)} ({type(exc).__name__})",
                            hint="check the host, port and that the service is running")


def check_status(response, what: str, uri: str) -> None:
    """401/403 → AuthenticationFailed; other errors → ConnectionFailed."""
    if response.status_code in (401, 403):
        raise AuthenticationFailed(
            f"{what} at {mask_uri(uri)} rejected the credentials (HTTP {response.status_code})",
            hint="pass user:password in the URI or set the environment variables in docs/assess.md")
    if response.status_code >= 400:
        raise ConnectionFailed(f"{what} at {mask_uri(uri)} answered HTTP {response.status_code} "
                               f"for {response.request.url.path}")
