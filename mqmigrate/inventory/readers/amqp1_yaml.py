"""A small YAML description of an AMQP 1.0 broker's addresses, for brokers without a
management API we can read (documented in docs/assess.md):

.. code-block:: yaml

    amqp1:
      broker: orders-broker          # a name for the report
      endpoint: amqp://broker:5672   # informational; credentials are masked
      addresses:
        - name: orders
          routing: anycast           # anycast (queue) | multicast (topic with subscriptions)
          queues: [orders]           # multicast: one subscription queue per consumer group
          durable: true
          max_delivery_attempts: 5   # -1 = unlimited
          dead_letter_address: DLQ
          expiry_delay_ms: 600000
          redelivery_delay_ms: 0
          message_groups: false      # JMSXGroupID / group-id used for ordering
          settle_mode: first         # receiver settle mode: first | second
          lock_timeout_s: 30         # how long a delivery stays unsettled before release
          max_size_bytes: 10485760
          address_full_policy: PAGE  # PAGE | BLOCK | FAIL | DROP
          max_message_size: 1048576
          depth: 120
          consumers: 2
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mqmigrate.errors import ConfigError
from mqmigrate.inventory.model import DeadLetter, Exchange, Queue, Source
from mqmigrate.redact import mask_uri


class AddressSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    routing: Literal["anycast", "multicast"] = "anycast"
    queues: list[str] | None = None
    durable: bool | None = None
    max_delivery_attempts: int | None = None
    dead_letter_address: str | None = None
    expiry_delay_ms: int | None = None
    redelivery_delay_ms: int | None = None
    message_groups: bool | None = None
    settle_mode: Literal["first", "second"] | None = None
    lock_timeout_s: float | None = None
    max_size_bytes: int | None = None
    address_full_policy: Literal["PAGE", "BLOCK", "FAIL", "DROP"] | None = None
    max_message_size: int | None = None
    depth: int | None = None
    consumers: int | None = None
    scheduled: bool | None = None


class BrokerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker: str = "amqp1"
    endpoint: str | None = None
    addresses: list[AddressSpec] = Field(default_factory=list)


def looks_like(data: Any) -> bool:
    """A mapping with an ``amqp1`` section."""
    return isinstance(data, dict) and "amqp1" in data


def address_queues(a: AddressSpec | dict, *, extra: dict | None = None) -> list[Queue]:
    """Queues for one address (multicast: one per subscription queue)."""
    if isinstance(a, dict):
        a = AddressSpec(**a)
    names = a.queues or [a.name]
    out = []
    for qname in names:
        dead = DeadLetter(target=a.dead_letter_address) if a.dead_letter_address else None
        out.append(
            Queue(
                name=qname,
                type=a.routing,
                durable=a.durable,
                exclusive=False,
                auto_delete=False,
                arguments={
                    k: v
                    for k, v in a.model_dump(exclude_none=True).items()
                    if k not in ("name", "queues", "depth", "consumers")
                },
                message_groups=a.message_groups,
                settle_mode=a.settle_mode,
                visibility_timeout=a.lock_timeout_s,
                delay=(a.redelivery_delay_ms / 1000 if a.redelivery_delay_ms else None),
                message_ttl=a.expiry_delay_ms / 1000 if a.expiry_delay_ms else None,
                max_length_bytes=a.max_size_bytes,
                overflow=a.address_full_policy,
                max_message_size=a.max_message_size,
                dead_letter=dead,
                delivery_limit=a.max_delivery_attempts,
                depth=a.depth,
                consumer_count=a.consumers,
                extra={"address": a.name, "routing": a.routing, **(extra or {})},
            )
        )
    return out


def read(path: Path, data: dict) -> Source:
    """Read the ``amqp1`` section into a :class:`Source`."""
    try:
        spec = BrokerSpec.model_validate(data["amqp1"])
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in ("amqp1", *err["loc"]))
        raise ConfigError(f"{path}: {loc}: {err['msg']}") from exc
    queues: list[Queue] = []
    exchanges: list[Exchange] = []
    for a in spec.addresses:
        queues.extend(address_queues(a))
        if a.routing == "multicast":
            exchanges.append(Exchange(name=a.name, type="fanout"))
    from mqmigrate.inventory.model import Binding
    from mqmigrate.inventory.readers.rabbitmq_common import flatten

    bindings = [
        Binding(source=a.name, destination=q, routing_key="")
        for a in spec.addresses
        if a.routing == "multicast"
        for q in (a.queues or [a.name])
    ]
    return Source(
        kind="amqp1",
        name=spec.broker,
        endpoint=mask_uri(spec.endpoint) if spec.endpoint else str(path),
        queues=queues,
        exchanges=exchanges,
        bindings=bindings,
        edges=flatten(exchanges, bindings),
        live=False,
    )
