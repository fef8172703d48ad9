"""Live ActiveMQ Artemis through its Jolokia management API (AMQP 1.0 estates).

URI: ``artemis+http://user:pass@host:8161`` (``?broker=NAME`` when the broker is not the
only one; the Jolokia path defaults to ``/console/jolokia``).  Credentials may instead come
from ``ARTEMIS_USER`` / ``ARTEMIS_PASSWORD``.  Reads queues (``listQueues``: routing type, exclusive,
last-value, group rebalance/buckets, ring size, filter) and each address's merged settings (``getAddressSettingsAsJSON``), mapped by the code the
``broker.xml`` reader uses (:mod:`artemis_common`), so both give the same findings.
"""

from __future__ import annotations

import json
from typing import Any

from mqmigrate.errors import ConnectionFailed
from mqmigrate.inventory.model import Binding, Exchange, Source
from mqmigrate.inventory.readers.artemis_common import queue_for, typed_setting
from mqmigrate.inventory.readers.rabbitmq_common import flatten
from mqmigrate.redact import mask_uri
from mqmigrate.sources.amqp1.artemis import JolokiaClient


def read(uri: str, *, prefix: str | None = None, progress=None) -> Source:
    """Read the broker's queues and address settings into a :class:`Source`."""
    api = JolokiaClient(uri)
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
        listed = api.call(
            {
                "type": "exec",
                "mbean": mbean,
                "operation": "listQueues(java.lang.String,int,int)",
                "arguments": [options, 1, 100000],
            }
        )
        rows = json.loads(listed).get("data", []) if isinstance(listed, str) else []
        rows = [
            r
            for r in rows
            if not str(r.get("name", "")).startswith(("$", "activemq."))
            and (not prefix or str(r.get("name", "")).startswith(prefix))
        ]
        settings: dict[str, dict] = {}
        queues, exchanges, bindings = [], [], []
        for i, row in enumerate(rows, 1):
            address = str(row.get("address"))
            if address not in settings:
                raw = api.call(
                    {
                        "type": "exec",
                        "mbean": mbean,
                        "operation": "getAddressSettingsAsJSON(java.lang.String)",
                        "arguments": [address],
                    }
                )
                settings[address] = _typed(json.loads(raw) if isinstance(raw, str) else {})
            name = str(row.get("name"))
            routing = str(row.get("routingType", "ANYCAST")).lower()
            q = queue_for(
                address=address,
                name=name,
                routing=routing,
                settings=settings[address],
                attrs={
                    "exclusive": _bool(row.get("exclusive")),
                    "last_value": _bool(row.get("lastValue")),
                    "last_value_key": row.get("lastValueKey") or None,
                    # Jolokia shows no queue's non-destructive flag: the
                    # address's default-non-destructive stands for it
                    "non_destructive": None,
                    "group_rebalance": _bool(row.get("groupRebalance")),
                    "group_buckets": _int(row.get("groupBuckets")),
                    "ring_size": _int(row.get("ringSize")),
                    "filter": row.get("filter") or None,
                    "durable": _bool(row.get("durable")),
                    "auto_delete": _bool(row.get("autoDelete")),
                    "temporary": _bool(row.get("temporary")),
                    "depth": _int(row.get("messageCount")),
                    "consumers": _int(row.get("consumerCount")),
                    "in_flight": _int(row.get("deliveringCount")),
                    "scheduled": bool(_int(row.get("scheduledCount"))),
                },
            )
            queues.append(q)
            if routing == "multicast":
                if not any(e.name == address for e in exchanges):
                    exchanges.append(Exchange(name=address, type="fanout"))
                bindings.append(Binding(source=address, destination=q.name))
            if progress:
                progress("reading Artemis queues", i, len(rows))
    finally:
        api.close()
    return Source(
        kind="amqp1",
        name=f"artemis {mask_uri(uri)}",
        endpoint=mask_uri(uri),
        version=str(version) if version else None,
        queues=queues,
        exchanges=exchanges,
        bindings=bindings,
        edges=flatten(exchanges, bindings),
        live=True,
        notes=[f"queues filtered by prefix {prefix!r}"] if prefix else [],
    )


def _typed(raw: dict) -> dict[str, Any]:
    """getAddressSettingsAsJSON's answer with the types the broker.xml reader gives (values the
    shared mapping cannot read are dropped, as a broker.xml reader ignores unknown elements)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        key = "deadLetterAddress" if key == "DLA" else key  # the name before Artemis 2.x
        try:
            out[key] = typed_setting(key, value)
        except (TypeError, ValueError):
            continue
    return out


def _int(v: Any) -> int | None:
    try:
        return None if v is None or isinstance(v, bool) else int(v)
    except (TypeError, ValueError):
        return None


def _bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return None
