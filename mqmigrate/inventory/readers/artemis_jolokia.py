"""Live ActiveMQ Artemis through its Jolokia management API (AMQP 1.0 estates).

URI: ``artemis+http://user:pass@host:8161`` (``?broker=NAME`` when the broker is not the
only one; the Jolokia path defaults to ``/console/jolokia``).  Credentials may instead come
from ``ARTEMIS_USER`` / ``ARTEMIS_PASSWORD``.  Reads queues (``listQueues``), routing types and
the address settings that matter (max-delivery-attempts, DLA, expiry, redelivery delay,
max-size-bytes / address-full policy) and message groups.
"""

from __future__ import annotations

import json
from typing import Any

from mqmigrate.errors import ConnectionFailed
from mqmigrate.inventory.model import Binding, Exchange, Source
from mqmigrate.inventory.readers._live import check_status, http_error, parse_live_uri
from mqmigrate.sources.connect import http_client
from mqmigrate.sources.uri import SourceURI
from mqmigrate.inventory.readers.amqp1_yaml import address_queues
from mqmigrate.inventory.readers.rabbitmq_common import flatten
from mqmigrate.redact import mask_uri


class _Jolokia:
    def __init__(self, uri: "str | SourceURI"):
        self.endpoint = endpoint = parse_live_uri(uri, "ARTEMIS")
        self.uri = endpoint.masked
        self.query = endpoint.query
        path = "" if endpoint.path.rstrip("/").endswith("jolokia") else "/console/jolokia"
        # Artemis' Jolokia checks the Origin header against its CORS allow-list; the console's
        # own origin is what a browser on the console would send.
        self.client = http_client(endpoint, path=path, headers={"Origin": endpoint.http_base})
        import httpx

        self._httpx = httpx

    def call(self, request: dict) -> Any:
        try:
            r = self.client.post("/", json=request)
        except self._httpx.HTTPError as exc:
            raise http_error(exc, "the Artemis Jolokia API", self.endpoint) from exc
        check_status(r, "the Artemis Jolokia API", self.uri)
        try:
            body = r.json()
        except ValueError as exc:
            raise ConnectionFailed(f"{mask_uri(self.uri)}: Jolokia did not answer JSON") from exc
        if body.get("status") != 200:
            raise ConnectionFailed(f"Artemis at {mask_uri(self.uri)}: {body.get('error_type')}: "
                                   f"{body.get('error')}")
        return body.get("value")


def read(uri: str, *, prefix: str | None = None, progress=None) -> Source:
    """Read the broker's queues and address settings into a :class:`Source`."""
    api = _Jolokia(uri)
    uri = api.uri  # masked from here on
    try:
        broker = api.query.get("broker")
        if broker:
            mbean = f'org.apache.activemq.artemis:broker="{broker}"'
        else:
            found = api.call({"type": "search", "mbean": "org.apache.activemq.artemis:broker=*"})
            if not found:
                raise ConnectionFailed(f"no Artemis broker MBean at {mask_uri(uri)}")
            mbean = sorted(found)[0]
        version = api.call({"type": "read", "mbean": mbean, "attribute": "Version"})
        options = json.dumps({"field": "", "operation": "", "value": ""})
        listed = api.call({"type": "exec", "mbean": mbean,
                           "operation": "listQueues(java.lang.String,int,int)",
                           "arguments": [options, 1, 100000]})
        rows = json.loads(listed).get("data", []) if isinstance(listed, str) else []
        rows = [r for r in rows if not str(r.get("name", "")).startswith(("$", "activemq."))
                and (not prefix or str(r.get("name", "")).startswith(prefix))]
        settings: dict[str, dict] = {}
        queues, exchanges, bindings = [], [], []
        for i, row in enumerate(rows, 1):
            address = str(row.get("address"))
            if address not in settings:
                raw = api.call({"type": "exec", "mbean": mbean,
                                "operation": "getAddressSettingsAsJSON(java.lang.String)",
                                "arguments": [address]})
                settings[address] = json.loads(raw) if isinstance(raw, str) else {}
            s = settings[address]
            routing = str(row.get("routingType", "ANYCAST")).lower()
            spec = {
                "name": address, "routing": "multicast" if routing == "multicast" else "anycast",
                "queues": [str(row.get("name"))], "durable": _bool(row.get("durable")),
                "max_delivery_attempts": _int(s.get("maxDeliveryAttempts")),
                "dead_letter_address": s.get("DLA") or s.get("deadLetterAddress") or None,
                "expiry_delay_ms": _pos(s.get("expiryDelay")),
                "redelivery_delay_ms": _pos(s.get("redeliveryDelay")),
                "message_groups": _bool(row.get("groupRebalance")) or bool(
                    _int(row.get("groupBuckets")) not in (None, -1, 0)) or None,
                "max_size_bytes": _pos(s.get("maxSizeBytes")),
                "address_full_policy": s.get("addressFullMessagePolicy") if s.get(
                    "addressFullMessagePolicy") in ("PAGE", "BLOCK", "FAIL", "DROP") else None,
                "depth": _int(row.get("messageCount")),
                "consumers": _int(row.get("consumerCount")),
            }
            if spec["dead_letter_address"] == address:
                spec["dead_letter_address"] = None  # the DLQ itself: no loop to report
            q = address_queues(spec, extra={"filter": row.get("filter") or None})[0]
            if s.get("maxDeliveryAttempts") is None and s:
                # Artemis omits settings left at their default; max-delivery-attempts is 10.
                q.delivery_limit = 10
                q.defaulted.add("delivery_limit")
            if s.get("expiryAddress"):
                q.extra["expiry_address"] = s["expiryAddress"]
            q.in_flight = _int(row.get("deliveringCount"))
            q.exclusive = _bool(row.get("exclusive"))
            q.auto_delete = _bool(row.get("autoDelete"))
            if _bool(row.get("temporary")):
                q.durable = False
            if _int(row.get("scheduledCount")):
                q.extra["scheduled"] = True
            queues.append(q)
            if spec["routing"] == "multicast":
                if not any(e.name == address for e in exchanges):
                    exchanges.append(Exchange(name=address, type="fanout"))
                bindings.append(Binding(source=address, destination=q.name))
            if progress:
                progress("reading Artemis queues", i, len(rows))
    finally:
        api.client.close()
    return Source(kind="amqp1", name=f"artemis {mask_uri(uri)}", endpoint=mask_uri(uri),
                  version=str(version) if version else None, queues=queues,
                  exchanges=exchanges, bindings=bindings, edges=flatten(exchanges, bindings),
                  live=True, notes=[f"queues filtered by prefix {prefix!r}"] if prefix else [])


def _int(v: Any) -> int | None:
    try:
        return None if v is None or isinstance(v, bool) else int(v)
    except (TypeError, ValueError):
        return None


def _pos(v: Any) -> int | None:
    n = _int(v)
    return n if n is not None and n > 0 else None


def _bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return None
