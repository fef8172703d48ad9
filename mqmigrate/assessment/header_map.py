"""Source headers that should not reach Kafka as they are (the playbook's ``mapping.headers``).

The bridge copies every source header (docs/headers.md: headers round-trip, ``x-death`` included), so
the default is to keep them all.  Dropped are only *transport-only* headers: ones the source
broker itself writes to describe its own delivery of the message, which would mislead a Kafka
consumer once the broker that wrote them is gone:

* ``x-delivery-count`` on a quorum queue: RabbitMQ's redelivery counter.  The share group counts
  deliveries itself (the record's delivery count, ``share.delivery.count.limit``); a consumer or
  worker that counts attempts from the header would add the source's attempts to Kafka's.
* ``x-delay`` when the queue is fed through an ``x-delayed-message`` exchange: the exchange has
  already waited before routing the message to the queue, so a consumer honouring the header
  would delay it a second time.
* ``x-shovelled``, ``x-shovelled-timestamp`` and ``x-received-from`` when the source runs shovels
  or federation: hops between brokers that are decommissioned with the source; the bridge's
  ``mq.source.*`` headers say where the record came from.

Nothing is renamed by default: no source header has a Kafka-side meaning of its own that a
rename would serve (the ``mq.*`` names belong to the bridge and are not in the source's table).
``rename`` is kept in the value so a reviewer's edits and this derivation share one shape.
"""

from __future__ import annotations

from typing import Any

from mqmigrate.inventory.model import Edge, Queue, Source

_HOPS = ("x-shovelled", "x-shovelled-timestamp", "x-received-from")


def header_mapping(source: Source, q: Queue, edges: list[Edge]) -> dict[str, Any] | None:
    """``{"rename": {}, "drop": {name: why}}`` for queue ``q``; None when every header is kept."""
    if source.kind != "rabbitmq":
        return None
    drop: dict[str, str] = {}
    queue_type = q.type or q.arguments.get("x-queue-type")
    if queue_type == "quorum":
        drop["x-delivery-count"] = (
            "quorum queue redelivery counter: the share group counts deliveries itself, so a "
            "copied count would add the source's attempts to Kafka's"
        )
    if any("x-delayed-message" in e.exchange_types for e in edges):
        drop["x-delay"] = (
            "x-delayed-message exchange: the delay happened before the message "
            "reached the queue; a consumer honouring x-delay would wait twice"
        )
    hops = sorted(
        c
        for c in source.parameters
        if c in ("shovel", "federation-upstream", "federation-upstream-set")
    )
    if hops:
        for name in _HOPS:
            drop[name] = (
                f"{' and '.join(hops)} hop record: the links are decommissioned with "
                "the source; mq.source.* says where the record came from"
            )
    if not drop:
        return None
    return {"rename": {}, "drop": dict(sorted(drop.items()))}
