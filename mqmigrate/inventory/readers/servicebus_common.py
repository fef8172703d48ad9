"""Azure Service Bus semantics shared by the Terraform, ARM and Bicep readers.

Every reader turns its file into :class:`SbEntity` objects whose ``props`` use the ARM property
names (``lockDuration``, ``maxDeliveryCount`` …); :func:`build_sources` applies the Service Bus
defaults and maps them onto the neutral model, one :class:`Source` (kind ``amqp1``) per
namespace:

* a queue is a :class:`Queue` named by its path; a topic is a fan-out exchange; each subscription
  is a workload named ``<topic>/Subscriptions/<name>`` (its AMQP address) carrying the topic's
  settings (size, duplicate detection, message size) combined with its own (lock, delivery
  count, sessions, TTL: the shorter of the topic's and the subscription's);
* subscription rules become the binding's ``filter`` (``1=1`` / ``TrueFilter`` is no filter);
* every queue and subscription has a dead-letter sub-queue ``<path>/$DeadLetterQueue`` (Service
  Bus always dead-letters at ``maxDeliveryCount``), unless ``forwardDeadLetteredMessagesTo``
  names another entity;
* an entity with ``forwardTo`` holds no messages for consumers: it is a routing hop (an
  exchange of type ``forward``), not a workload.

Values the file does not resolve (a Terraform variable without default, an ARM parameter) stay
unknown; names that do not resolve keep the expression as ``{…}`` placeholders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mqmigrate.inventory.model import Binding, DeadLetter, Exchange, Queue, Source

#: a duration at least this long is .NET's TimeSpan.MaxValue ("P10675199DT2H48M5.4775807S"),
#: Service Bus's spelling of "never"
UNLIMITED_S = 10_000_000 * 86400.0

#: Service Bus defaults (Azure docs, "Service Bus quotas" and the ARM reference)
DEFAULT_LOCK_S = 60.0
DEFAULT_MAX_DELIVERY = 10
DEFAULT_MAX_SIZE_MB = 1024
#: maximum message size by namespace tier when ``maxMessageSizeInKilobytes`` is not set
SKU_MESSAGE_BYTES = {"basic": 262144, "standard": 262144, "premium": 1048576}

DEAD_LETTER_SUFFIX = "/$DeadLetterQueue"

_ISO = re.compile(
    r"^P(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<mo>\d+(?:\.\d+)?)M)?(?:(?P<w>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<mi>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_TIMESPAN = re.compile(r"^(?:(?P<d>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)$")


def parse_duration(value: Any) -> float | None:
    """Seconds from an ISO-8601 duration (``PT5M``, ``P14D``) or a .NET TimeSpan
    (``00:05:00``, ``14.00:00:00``); ``math.inf`` for TimeSpan.MaxValue; None when unreadable."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = _ISO.match(text.upper()) if text.upper().startswith("P") else None
    if m and text.upper() not in ("P", "PT"):
        parts = {k: float(v) for k, v in m.groupdict().items() if v is not None}
        secs = (
            parts.get("y", 0) * 365 * 86400
            + parts.get("mo", 0) * 30 * 86400
            + parts.get("w", 0) * 7 * 86400
            + parts.get("d", 0) * 86400
            + parts.get("h", 0) * 3600
            + parts.get("mi", 0) * 60
            + parts.get("s", 0)
        )
    else:
        t = _TIMESPAN.match(text)
        if not t:
            return None
        secs = (
            int(t.group("d") or 0) * 86400
            + int(t.group("h")) * 3600
            + int(t.group("m")) * 60
            + float(t.group("s"))
        )
    return float("inf") if secs >= UNLIMITED_S else secs


def as_bool(value: Any) -> bool | None:
    """``true``/``"false"`` (ARM templates quote them) → bool; anything else → None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def as_int(value: Any) -> int | None:
    """``10``/``"10"`` → 10; anything else (an unresolved expression) → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def is_unresolved(name: str) -> bool:
    """True when ``name`` still holds a ``{…}`` placeholder."""
    return "{" in name


@dataclass
class SbRule:
    """A subscription rule: an SQL or correlation filter, an optional SQL action."""

    name: str
    sql: str | None = None
    correlation: dict[str, Any] | None = None
    action: str | None = None

    def is_true_filter(self) -> bool:
        """``$Default``'s ``1=1`` (or an empty correlation filter) lets everything through."""
        if self.correlation:
            return False
        return self.sql is None or re.sub(r"\s+", "", self.sql) in ("1=1", "TRUE", "true", "")

    def text(self) -> str:
        if self.correlation:
            body = " AND ".join(f"{k}='{v}'" for k, v in sorted(self.correlation.items()))
            out = f"correlation({body})"
        else:
            out = self.sql or "1=1"
        return out + (f" ACTION {self.action}" if self.action else "")


@dataclass
class SbEntity:
    """One queue, topic or subscription read from a file, properties under ARM names."""

    kind: str  # queue | topic | subscription
    name: str
    namespace: str | None = None
    topic: str | None = None  # subscriptions: the topic's name
    props: dict[str, Any] = field(default_factory=dict)
    rules: list[SbRule] = field(default_factory=list)
    origin: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The AMQP address: ``queue``, ``topic`` or ``topic/Subscriptions/sub``."""
        if self.kind == "subscription":
            return f"{self.topic}/Subscriptions/{self.name}"
        return self.name


def entity_at(
    kind: str, names: list[str], props: dict[str, Any], origin: dict[str, Any]
) -> SbEntity:
    """The entity a resource path names: ``[namespace, queue|topic]`` or, for a subscription,
    ``[namespace, topic, subscription]``."""
    if kind == "subscription":
        return SbEntity(
            kind=kind,
            name=names[2],
            namespace=names[0],
            topic=names[1],
            props=props,
            origin=origin,
        )
    return SbEntity(kind=kind, name=names[1], namespace=names[0], props=props, origin=origin)


def attach_rules(
    entities: dict[tuple[str, ...], SbEntity],
    rules: list[tuple[list[str], SbRule]],
    notes: list[str],
    *,
    container: str,
) -> None:
    """Give each subscription its rules; a rule whose subscription is not in the ``container``
    (``template``, ``file``) is noted and ignored."""
    for names, rule in rules:
        sub = entities.get(tuple(names[:3]))
        if sub is None:
            notes.append(
                f"rule {'/'.join(names)}: its subscription is not in this {container}; ignored"
            )
            continue
        sub.rules.append(rule)


@dataclass
class SbNamespace:
    name: str | None
    sku: str | None = None


def _effective_ttl(*values: Any) -> tuple[float | None, bool]:
    """The shortest finite TTL of ``values`` (None = never expires) and whether any was set."""
    finite = []
    seen = False
    for v in values:
        if v is None:
            continue
        seen = True
        secs = parse_duration(v)
        if secs is not None and secs != float("inf"):
            finite.append(secs)
    return (min(finite) if finite else None), seen


def _queue(entity: SbEntity, topic: SbEntity | None, sku: str | None, notes: list[str]) -> Queue:
    p = entity.props
    tp = topic.props if topic is not None else {}
    # size, duplicate detection and message size belong to the entity messages are sent to
    sized = tp if topic is not None else p
    defaulted: set[str] = set()
    extra: dict[str, Any] = {
        "broker": "servicebus",
        "entity": entity.kind,
        **entity.origin,
        "attribute_names": {
            "delivery_limit": "maxDeliveryCount",
            "dead_letter": "forwardDeadLetteredMessagesTo"
            if p.get("forwardDeadLetteredMessagesTo")
            else "dead-letter sub-queue",
        },
    }

    unknown = sorted(k for k, v in p.items() if v is None)
    if unknown:
        notes.append(f"{entity.path}: {', '.join(unknown)} not resolvable offline (unknown)")
    lock = parse_duration(p.get("lockDuration")) if "lockDuration" in p else DEFAULT_LOCK_S
    if "lockDuration" not in p:
        defaulted.add("visibility_timeout")
    if "maxDeliveryCount" in p:
        limit = as_int(p.get("maxDeliveryCount"))
    else:
        limit = DEFAULT_MAX_DELIVERY
        defaulted.add("delivery_limit")
    ttl, _ = _effective_ttl(p.get("defaultMessageTimeToLive"), tp.get("defaultMessageTimeToLive"))
    idle = parse_duration(p.get("autoDeleteOnIdle")) if p.get("autoDeleteOnIdle") else None

    max_size = None
    if sized.get("maxSizeInMegabytes") is not None:
        mb = as_int(sized.get("maxSizeInMegabytes"))
        max_size = mb * 1024 * 1024 if mb is not None else None
    msg_size = None
    if sized.get("maxMessageSizeInKilobytes") is not None:
        kb = as_int(sized.get("maxMessageSizeInKilobytes"))
        msg_size = kb * 1024 if kb is not None else None
    elif sku and sku.lower() in SKU_MESSAGE_BYTES:
        msg_size = SKU_MESSAGE_BYTES[sku.lower()]
        defaulted.add("max_message_size")

    session = as_bool(p.get("requiresSession"))
    if session:
        extra["requiresSession"] = True
    if as_bool(sized.get("requiresDuplicateDetection")):
        window = sized.get("duplicateDetectionHistoryTimeWindow")
        extra["dedup_window"] = window if isinstance(window, str) else "PT10M (default)"
    if as_bool(sized.get("enablePartitioning")) or as_bool(sized.get("partitioningEnabled")):
        extra["enablePartitioning"] = True
    expiry_dl = as_bool(p.get("deadLetteringOnMessageExpiration"))
    extra["expiry_dead_lettered"] = bool(expiry_dl)

    forward_dl = p.get("forwardDeadLetteredMessagesTo")
    if forward_dl is None and "forwardDeadLetteredMessagesTo" in p:
        notes.append(
            f"{entity.path}: forwardDeadLetteredMessagesTo is unknown offline; its "
            "dead letters are assumed to stay in its dead-letter sub-queue"
        )
    if isinstance(forward_dl, str) and forward_dl:
        dead = DeadLetter(target=forward_dl)
        extra["forwardDeadLetteredMessagesTo"] = forward_dl
    else:
        dead = DeadLetter(target=entity.path + DEAD_LETTER_SUFFIX)
    if entity.rules:
        extra["rules"] = [r.text() for r in entity.rules]
    arguments = {k: v for k, v in p.items()}
    if topic is not None:
        arguments = {**{f"topic.{k}": v for k, v in tp.items()}, **arguments}
    return Queue(
        name=entity.path,
        type="subscription" if entity.kind == "subscription" else "queue",
        durable=True,
        exclusive=False,
        auto_delete=False,
        arguments=arguments,
        fifo=False,
        message_groups=session,
        visibility_timeout=lock,
        message_ttl=ttl,
        expires=idle if idle not in (None, float("inf")) else None,
        max_length_bytes=max_size,
        overflow="reject-publish" if max_size is not None else None,
        max_message_size=msg_size,
        dead_letter=dead,
        delivery_limit=limit,
        defaulted=defaulted,
        extra=extra,
    )


def _dead_letter_queue(parent: Queue) -> Queue:
    return Queue(
        name=parent.name + DEAD_LETTER_SUFFIX,
        type="dead-letter",
        durable=True,
        exclusive=False,
        auto_delete=False,
        max_message_size=parent.max_message_size,
        delivery_limit=-1,
        defaulted={"delivery_limit"},
        extra={
            "broker": "servicebus",
            "entity": "dead-letter sub-queue",
            "sub_queue_of": parent.name,
        },
    )


def build_sources(
    entities: list[SbEntity],
    namespaces: dict[str | None, SbNamespace],
    *,
    file_name: str,
    file_path: str,
    notes: list[str],
) -> list[Source]:
    """One :class:`Source` per namespace from the entities a reader found."""
    by_ns: dict[str | None, list[SbEntity]] = {}
    for e in entities:
        by_ns.setdefault(e.namespace, []).append(e)
    sources = []
    for ns_name, group in by_ns.items():
        ns = namespaces.get(ns_name) or SbNamespace(ns_name)
        sources.append(
            _namespace_source(
                ns_name, ns, group, file_name=file_name, file_path=file_path, notes=notes
            )
        )
    return sources


class _Namespace:
    """One namespace's queues, exchanges, bindings and notes, built entity by entity."""

    def __init__(self, group: list[SbEntity], sku: str | None, notes: list[str]) -> None:
        self.sku = sku
        self.topics = {e.name: e for e in group if e.kind == "topic"}
        self.queues: list[Queue] = []
        self.exchanges: list[Exchange] = []
        self.bindings: list[Binding] = []
        self.notes = list(notes)
        self.known_paths = {e.path for e in group}
        for t in self.topics.values():
            self.exchanges.append(Exchange(name=t.name, type="fanout", arguments=dict(t.props)))

    def hop(self, entity: SbEntity, target: str, args: dict[str, Any] | None = None) -> None:
        """``entity`` auto-forwards every message to ``target``: a routing hop (a
        subscription's filter is kept on the forwarding binding, where edges read it)."""
        self.exchanges.append(
            Exchange(name=entity.path, type="forward", arguments={"forwardTo": target})
        )
        dest_type = "exchange" if target in self.topics else "queue"
        self.bindings.append(
            Binding(
                source=entity.path,
                destination=target,
                destination_type=dest_type,
                arguments=dict(args or {}),
            )
        )
        self.notes.append(f"{entity.path} auto-forwards to {target}: a routing hop, not a workload")
        if target not in self.known_paths:
            self.notes.append(
                f"{entity.path}: forward target {target} is not declared in this file"
            )

    def add(self, e: SbEntity) -> None:
        """A queue or subscription: a workload (with its dead-letter sub-queue) or a hop."""
        forward = e.props.get("forwardTo")
        if forward is None and "forwardTo" in e.props:
            self.notes.append(
                f"{e.path}: forwardTo is unknown offline; read as a workload "
                "(if it forwards, it is a routing hop instead)"
            )
        if e.kind == "subscription":
            q = self._subscription(e, forward)
            if q is None:
                return
        else:
            if isinstance(forward, str) and forward:
                self.hop(e, forward)
                return
            q = _queue(e, None, self.sku, self.notes)
        self.queues.append(q)
        if "forwardDeadLetteredMessagesTo" not in q.extra:
            self.queues.append(_dead_letter_queue(q))

    def _subscription(self, e: SbEntity, forward: Any) -> Queue | None:
        """A subscription bound to its topic with its filter: its queue, or None when it
        forwards (a hop)."""
        topic = self.topics.get(e.topic or "")
        if topic is None:
            self.notes.append(
                f"{e.path}: topic {e.topic} is not declared in this file; its settings are unknown"
            )
            if e.topic and not any(x.name == e.topic for x in self.exchanges):
                self.exchanges.append(Exchange(name=e.topic, type="fanout"))
        filters = [r for r in e.rules if not r.is_true_filter()]
        args: dict[str, Any] = {}
        if filters:
            args["filter"] = " OR ".join(f"({r.text()})" for r in filters)
        if isinstance(forward, str) and forward:
            self.bindings.append(
                Binding(
                    source=e.topic or "",
                    destination=e.path,
                    destination_type="exchange",
                    arguments=args,
                )
            )
            self.hop(e, forward, args)
            return None
        self.bindings.append(Binding(source=e.topic or "", destination=e.path, arguments=args))
        return _queue(e, topic, self.sku, self.notes)


def _namespace_source(
    ns_name: str | None,
    ns: SbNamespace,
    group: list[SbEntity],
    *,
    file_name: str,
    file_path: str,
    notes: list[str],
) -> Source:
    """The :class:`Source` of one namespace's entities."""
    built = _Namespace(group, ns.sku, notes)
    for e in group:
        if e.kind == "topic":
            continue
        built.add(e)
    src_notes = built.notes
    unresolved = sorted(
        q.name for q in built.queues if is_unresolved(q.name) and q.type != "dead-letter"
    )
    if unresolved:
        src_notes.append(
            "names not resolvable offline (kept as {…} placeholders): " + ", ".join(unresolved)
        )
    literal_ns = ns_name if ns_name and not is_unresolved(ns_name) else None
    endpoint = f"amqp1s://{literal_ns}.servicebus.windows.net" if literal_ns else file_path
    if not literal_ns:
        src_notes.append(
            "namespace name not resolvable offline: the plan has no endpoint; "
            "set source.endpoint to amqp1s://NAMESPACE.servicebus.windows.net"
        )
    from mqmigrate.inventory.readers.rabbitmq_common import flatten

    return Source(
        kind="amqp1",
        name="servicebus " + (literal_ns or (f"{file_name}:{ns_name}" if ns_name else file_name)),
        endpoint=endpoint,
        version="Azure Service Bus" + (f" {ns.sku}" if ns.sku else ""),
        queues=built.queues,
        exchanges=built.exchanges,
        bindings=built.bindings,
        edges=flatten(built.exchanges, built.bindings),
        live=False,
        notes=src_notes,
    )
