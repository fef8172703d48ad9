"""Live RabbitMQ through the management HTTP API (httpx).

URI: ``rabbitmq+http://user:pass@host:15672`` (``rabbitmq+https`` for TLS; ``?vhost=NAME``
limits to one vhost).  Credentials may instead come from ``RABBITMQ_USER`` /
``RABBITMQ_PASSWORD``.  Queues are read page by page; each queue's
``effective_policy_definition`` (the broker's own resolution) is preferred over recomputing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from mqmigrate.errors import ConnectionFailed
from mqmigrate.inventory.model import (
    Binding,
    ClientInfo,
    Consumer,
    Exchange,
    Permission,
    Policy,
    Queue,
    Rates,
    Source,
)
from mqmigrate.inventory.readers.rabbitmq_common import (
    exchange_from,
    flatten,
    normalize_queue,
    policy_from,
)
from mqmigrate.redact import mask_uri
from mqmigrate.sources.connect import (
    check_http_status,
    connect_error,
    http_client,
    management_credentials,
)
from mqmigrate.sources.uri import parse_source_uri

PAGE_SIZE = 500


class _Api:
    def __init__(self, uri: str):
        import httpx

        self.endpoint = management_credentials(parse_source_uri(uri), "RABBITMQ")
        self.uri = self.endpoint.masked
        self.query = self.endpoint.query
        self.client = http_client(self.endpoint)
        self._httpx = httpx

    def get(self, path: str, params: dict | None = None, *, optional: bool = False) -> Any:
        try:
            r = self.client.get(path, params=params)
        except self._httpx.HTTPError as exc:
            raise connect_error(self.endpoint, exc, what="the RabbitMQ management API") from exc
        if optional and r.status_code in (403, 404):
            return None
        check_http_status(r, "the RabbitMQ management API", self.uri)
        try:
            return r.json()
        except ValueError as exc:
            raise ConnectionFailed(
                f"{mask_uri(self.uri)}{path} did not answer JSON: is this "
                "the management port (15672)?"
            ) from exc

    def paged(self, path: str, progress=None, what: str = "") -> list[dict]:
        items: list[dict] = []
        page = 1
        while True:
            body = self.get(path, {"page": page, "page_size": PAGE_SIZE, "pagination": "true"})
            if isinstance(body, list):  # old brokers ignore pagination
                return body
            items.extend(body.get("items") or [])
            if progress:
                progress(what, len(items), int(body.get("filtered_count") or len(items)))
            if page >= int(body.get("page_count") or 1):
                return items
            page += 1


def _rate(stats: dict, key: str) -> float | None:
    d = stats.get(f"{key}_details")
    return float(d["rate"]) if isinstance(d, dict) and "rate" in d else None


@dataclass
class _Management:
    """What the management API answered, before it becomes a :class:`Source`."""

    overview: dict
    policies: list[Policy]
    raw_queues: list[dict]
    consumers: list[dict]
    connections: dict[Any, dict]
    tx_channels: set[Any]
    exchanges: list[Exchange]
    bindings: list[Binding]
    permissions: list[Permission]
    users: Any
    params: list[dict]
    vhosts: list[str]

    @property
    def version(self) -> Any:
        return self.overview.get("rabbitmq_version")


def read(uri: str, *, prefix: str | None = None, progress=None) -> Source:
    """Read the whole broker (or ``?vhost=``) into a :class:`Source`."""
    api = _Api(uri)
    uri = api.uri  # masked from here on
    vhost = api.query.get("vhost")
    try:
        m = _fetch(api, vhost, prefix, progress)
    finally:
        api.client.close()
    queues = _queues(m, _consumers_by_queue(m), progress)
    return Source(
        kind="rabbitmq",
        name=m.overview.get("cluster_name") or mask_uri(uri),
        endpoint=mask_uri(uri),
        version=m.version,
        vhosts=[vhost] if vhost else m.vhosts,
        queues=queues,
        exchanges=m.exchanges,
        bindings=m.bindings,
        edges=flatten(m.exchanges, m.bindings),
        policies=m.policies,
        permissions=m.permissions,
        users_count=len(m.users) if isinstance(m.users, list) else None,
        parameters=_parameter_counts(m.params),
        live=True,
        notes=[f"queues filtered by prefix {prefix!r}"] if prefix else [],
    )


def _fetch(api: _Api, vhost: str | None, prefix: str | None, progress: Any) -> _Management:
    """Every management API answer the source needs (one vhost's when ``vhost`` is set)."""
    overview = api.get("/api/overview")
    vq = f"/{quote(vhost, safe='')}" if vhost else ""
    raw_policies = api.get(f"/api/policies{vq}") or []
    raw_ops = api.get(f"/api/operator-policies{vq}", optional=True) or []
    policies = [policy_from(p) for p in raw_policies] + [
        policy_from(p, operator=True) for p in raw_ops
    ]
    raw_queues = api.paged(f"/api/queues{vq}", progress, "reading RabbitMQ queues")
    if prefix:
        raw_queues = [q for q in raw_queues if str(q.get("name", "")).startswith(prefix)]
    consumers = api.get(f"/api/consumers{vq}") or []
    connections = {c.get("name"): c for c in (api.get("/api/connections") or [])}
    tx_channels = {
        c.get("name")
        for c in (api.get(f"/api/channels{vq}", optional=True) or [])
        if c.get("transactional")
    }
    exchanges = [exchange_from(x, policies) for x in (api.get(f"/api/exchanges{vq}") or [])]
    bindings = [
        Binding(
            source=b["source"],
            destination=b["destination"],
            destination_type=b.get("destination_type", "queue"),
            routing_key=b.get("routing_key") or "",
            arguments=b.get("arguments") or {},
            vhost=b.get("vhost"),
        )
        for b in (api.get(f"/api/bindings{vq}") or [])
        if b.get("source")
    ]
    permissions = [
        Permission(
            user=p.get("user", ""),
            vhost=p.get("vhost", "/"),
            configure=p.get("configure", ""),
            write=p.get("write", ""),
            read=p.get("read", ""),
        )
        for p in (api.get("/api/permissions", optional=True) or [])
    ]
    users = api.get("/api/users", optional=True)
    params = api.get("/api/parameters", optional=True) or []
    vhosts = [v["name"] for v in (api.get("/api/vhosts") or []) if "name" in v]
    return _Management(
        overview=overview,
        policies=policies,
        raw_queues=raw_queues,
        consumers=consumers,
        connections=connections,
        tx_channels=tx_channels,
        exchanges=exchanges,
        bindings=bindings,
        permissions=permissions,
        users=users,
        params=params,
        vhosts=vhosts,
    )


def _consumers_by_queue(m: _Management) -> dict[tuple[str, str], list[Consumer]]:
    """Each queue's consumers, with their connection's client properties."""
    by_queue: dict[tuple[str, str], list[Consumer]] = {}
    for c in m.consumers:
        q = c.get("queue") or {}
        conn = m.connections.get((c.get("channel_details") or {}).get("connection_name"), {})
        props = conn.get("client_properties") or {}
        by_queue.setdefault((q.get("vhost"), q.get("name")), []).append(
            Consumer(
                tag=c.get("consumer_tag"),
                prefetch=c.get("prefetch_count"),
                ack_required=c.get("ack_required"),
                exclusive=c.get("exclusive"),
                priority=(c.get("arguments") or {}).get("x-priority"),
                transactional=(c.get("channel_details") or {}).get("name") in m.tx_channels,
                client=ClientInfo(
                    product=_s(props.get("product")),
                    platform=_s(props.get("platform")),
                    version=_s(props.get("version")),
                    connection_name=_s(props.get("connection_name")),
                )
                if props
                else None,
            )
        )
    return by_queue


def _queues(
    m: _Management, by_queue: dict[tuple[str, str], list[Consumer]], progress: Any
) -> list[Queue]:
    """Each queue normalized, with its live depth, consumers and rates."""
    queues = []
    total = len(m.raw_queues)
    for i, raw in enumerate(m.raw_queues, 1):
        q = normalize_queue(
            raw,
            policies=m.policies,
            rabbit_version=m.version,
            live_effective=raw.get("effective_policy_definition"),
        )
        stats = raw.get("message_stats") or {}
        q.depth = raw.get("messages_ready")
        q.in_flight = raw.get("messages_unacknowledged")
        q.consumer_count = raw.get("consumers")
        q.consumers = by_queue.get((raw.get("vhost"), raw.get("name")), [])
        q.rates = Rates(
            publish=_rate(stats, "publish"),
            deliver=_rate(stats, "deliver_get"),
            ack=_rate(stats, "ack"),
            redeliver=_rate(stats, "redeliver"),
        )
        messages, size = raw.get("messages"), raw.get("message_bytes")
        if messages and size:
            q.avg_message_size = size / messages
        queues.append(q)
        if progress:
            progress("assessing RabbitMQ queues", i, total)
    return queues


def _parameter_counts(params: list[dict]) -> dict[str, int]:
    """Runtime parameters (shovels, federation upstreams, ...) counted per component."""
    counts: dict[str, int] = {}
    for p in params:
        counts[p.get("component", "unknown")] = counts.get(p.get("component", "unknown"), 0) + 1
    return counts


def _s(value: Any) -> str | None:
    return None if value is None else str(value)
