"""The neutral inventory model: what an estate holds, whatever broker it came from.

Readers (``mqmigrate.inventory.readers``) turn a definitions export, IaC or a live broker into
an :class:`Estate`; the assessment engine and the ``plan`` command read only this model.  It is
also the tool's own dump format (``mqmigrate inventory --out estate.json``), so unknown keys are
rejected (``extra="forbid"``) and the schema id is versioned.

Conventions:

* ``None`` means *not known* (an offline export has no depth; IaC has no consumers).  Rules
  report such values as ``unknown``, never as a pass.
* A value the source did not set but the broker fills in (an AWS default) is stored with its
  default value and its field name listed in ``defaulted``.
* Durations are seconds (``float``) and sizes are bytes, whatever unit the broker uses.
* No secret is ever stored: endpoints are masked, users are only counted.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

INVENTORY_SCHEMA = "mqmigrate.inventory/v1"

SourceKind = Literal["rabbitmq", "sqs", "amqp1"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClientInfo(_Model):
    """What a consumer's connection says about its client library (RabbitMQ client_properties)."""

    product: str | None = None
    platform: str | None = None
    version: str | None = None
    connection_name: str | None = None


class Consumer(_Model):
    """One live consumer of a queue."""

    tag: str | None = None
    prefetch: int | None = None
    ack_required: bool | None = None
    exclusive: bool | None = None
    priority: int | None = None  # RabbitMQ consumer priority (x-priority)
    #: the consumer's channel is in tx mode (acks and publishes committed together)
    transactional: bool | None = None
    client: ClientInfo | None = None


class Rates(_Model):
    """Message rates in messages per second (live sources only)."""

    publish: float | None = None
    deliver: float | None = None
    ack: float | None = None
    redeliver: float | None = None


class DeadLetter(_Model):
    """Where rejected or expired messages go.

    RabbitMQ: ``exchange`` (and ``routing_key``) of the DLX; SQS: ``target`` queue name taken
    from ``deadLetterTargetArn``; Artemis: ``target`` dead-letter address.
    """

    exchange: str | None = None
    routing_key: str | None = None
    target: str | None = None
    strategy: str | None = None  # RabbitMQ x-dead-letter-strategy (at-most-once/at-least-once)


class Queue(_Model):
    """A queue (RabbitMQ queue, SQS queue, AMQP 1.0 address/queue), attributes normalized."""

    name: str
    vhost: str | None = None
    #: RabbitMQ classic/quorum/stream; SQS standard/fifo; AMQP 1.0 anycast/multicast
    type: str | None = None
    durable: bool | None = None
    exclusive: bool | None = None
    auto_delete: bool | None = None
    #: arguments exactly as declared (RabbitMQ x-args, SQS attribute names, Artemis settings)
    arguments: dict[str, Any] = Field(default_factory=dict)
    policy: str | None = None
    operator_policy: str | None = None
    #: the effective policy definition merged with the operator policy (RabbitMQ)
    policy_definition: dict[str, Any] = Field(default_factory=dict)

    fifo: bool | None = None
    single_active_consumer: bool | None = None
    message_groups: bool | None = None
    #: SQS VisibilityTimeout or RabbitMQ consumer timeout, seconds
    visibility_timeout: float | None = None
    delay: float | None = None
    #: SQS MessageRetentionPeriod / stream max age, seconds
    retention: float | None = None
    message_ttl: float | None = None  # seconds (x-message-ttl)
    expires: float | None = None  # seconds of idleness before the queue is deleted (x-expires)
    max_length: int | None = None
    max_length_bytes: int | None = None
    overflow: str | None = None
    max_message_size: int | None = None
    max_priority: int | None = None
    dead_letter: DeadLetter | None = None
    #: maxReceiveCount / x-delivery-limit / max-delivery-attempts; -1 = unlimited
    delivery_limit: int | None = None
    content_based_dedup: bool | None = None
    dedup_scope: str | None = None
    settle_mode: str | None = None  # AMQP 1.0 receiver settle mode (first/second)
    receive_wait: float | None = None
    kms_key: str | None = None
    #: SQS queue policy / redrive-allow policy documents (JSON), kept for security mapping
    access_policy: dict[str, Any] | None = None
    redrive_allow_policy: dict[str, Any] | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    depth: int | None = None
    in_flight: int | None = None
    consumer_count: int | None = None
    consumers: list[Consumer] | None = None
    rates: Rates | None = None
    avg_message_size: float | None = None

    #: names of fields above that hold a broker default because the source left them unset
    defaulted: set[str] = Field(default_factory=set)
    #: source-specific facts worth showing (e.g. stream x-max-age, Artemis routing type)
    extra: dict[str, Any] = Field(default_factory=dict)


class Exchange(_Model):
    """A RabbitMQ exchange (AMQP 1.0 multicast addresses are modelled as fanout exchanges)."""

    name: str
    vhost: str | None = None
    type: str
    durable: bool | None = None
    auto_delete: bool | None = None
    internal: bool | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    policy: str | None = None
    #: alternate exchange from the arguments or the effective policy
    alternate_exchange: str | None = None


class Binding(_Model):
    """A binding as declared: exchange → queue or exchange → exchange."""

    source: str
    destination: str
    destination_type: Literal["queue", "exchange"] = "queue"
    routing_key: str = ""
    arguments: dict[str, Any] = Field(default_factory=dict)
    vhost: str | None = None


class Edge(_Model):
    """A flattened route from a publishing exchange to a queue.

    ``path`` lists the exchanges crossed (the first is where a producer publishes);
    ``routing_keys`` the binding key of each hop.
    """

    exchange: str
    queue: str
    vhost: str | None = None
    path: list[str]
    routing_keys: list[str]
    exchange_types: list[str]
    arguments: dict[str, Any] = Field(default_factory=dict)


class Policy(_Model):
    """A RabbitMQ (operator) policy."""

    name: str
    vhost: str | None = None
    pattern: str
    apply_to: Literal[
        "queues", "exchanges", "all", "classic_queues", "quorum_queues", "streams"
    ] = "all"
    priority: int = 0
    definition: dict[str, Any] = Field(default_factory=dict)
    operator: bool = False


class Permission(_Model):
    """A RabbitMQ user's permissions on a vhost (user name kept, never a password)."""

    user: str
    vhost: str
    configure: str = ""
    write: str = ""
    read: str = ""


class Source(_Model):
    """One broker, account/region or IaC file."""

    kind: SourceKind
    name: str
    #: where it was read from: a file path or a masked URI (never credentials)
    endpoint: str
    region: str | None = None
    version: str | None = None
    vhosts: list[str] = Field(default_factory=list)
    queues: list[Queue] = Field(default_factory=list)
    exchanges: list[Exchange] = Field(default_factory=list)
    bindings: list[Binding] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    policies: list[Policy] = Field(default_factory=list)
    permissions: list[Permission] = Field(default_factory=list)
    users_count: int | None = None
    #: counts of runtime parameters by component (e.g. {"shovel": 2})
    parameters: dict[str, int] = Field(default_factory=dict)
    #: objects read but not assessed as workloads, by kind (IBM MQ SYSTEM.*, transmission,
    #: initiation, remote and model queues): the report lists them, the plan leaves them out
    reported_apart: dict[str, list[str]] = Field(default_factory=dict)
    #: True when consumers/connections were read (a live source); False for exports and IaC
    live: bool = False
    notes: list[str] = Field(default_factory=list)

    def queue(self, name: str, vhost: str | None = None) -> Queue | None:
        """The queue called ``name`` (in ``vhost`` when given), or None."""
        for q in self.queues:
            if q.name == name and (vhost is None or q.vhost == vhost):
                return q
        return None


class Estate(_Model):
    """Everything read from every SOURCE argument; the inventory dump format."""

    schema_: Literal["mqmigrate.inventory/v1"] = Field(INVENTORY_SCHEMA, alias="schema")
    generated_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    sources: list[Source] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def dump_json(self) -> str:
        """The dump written by ``mqmigrate inventory --out``."""
        return self.model_dump_json(indent=2, by_alias=True)
