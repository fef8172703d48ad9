"""Keeping secrets out of output: masked URIs and a string type that will not print."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_MASK = "***"


def mask_uri(uri: str) -> str:
    """Return ``uri`` with any password (and secret query values) replaced by ``***``.

    >>> mask_uri("amqp://guest:guest@localhost:5672/%2f")
    'amqp://guest:***@localhost:5672/%2f'
    """
    try:
        parts = urlsplit(uri)
    except ValueError:
        return _MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{_MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = re.sub(
        r"(?i)((?:password|secret|token|sig|signature|key|external_id)=)[^&]*",
        r"\1" + _MASK,
        parts.query,
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def public_endpoint(endpoint: str | None) -> str | None:
    """``endpoint`` without user information or query (secrets), or None when it is not a URI.

    >>> public_endpoint("amqp://svc:***@broker.internal:5672/?x=1")
    'amqp://broker.internal:5672/'
    """
    if not endpoint or "://" not in endpoint:
        return None  # an export file path: nothing a bridge could connect to
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Secret(str):
    """A string that shows as ``***`` in repr/str/format but keeps its value for drivers.

    Use ``secret.reveal()`` at the single place a driver needs the real value.
    """

    def __new__(cls, value: str) -> "Secret":
        obj = super().__new__(cls, _MASK)
        obj._value = value  # type: ignore[attr-defined]
        return obj

    def reveal(self) -> str:
        return self._value  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return "Secret('***')"
