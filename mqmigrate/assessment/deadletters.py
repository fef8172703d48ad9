"""The dead-letter graph of a source: what dead-letters where, through which exchange and key,
and which of those routes are really dead-lettering rather than a delayed-retry loop.

A route ``X -> Y`` exists when a message X dead-letters (rejected, expired, over its delivery
limit) reaches Y: an SQS/AMQP 1.0 dead-letter target, or a RabbitMQ dead-letter exchange and
key (``x-dead-letter-*`` arguments win over policies: the reader already merged them) matched
against the bindings of that exchange (the default exchange ``""`` routes by queue name).

X is a **delay tier** (a TTL+DLX wait queue) of the queues it routes to when X has a queue TTL,
dead-letters through an exchange, and one of:

* a target dead-letters back into X (the loop ``work -> wait -> work``);
* X's dead-letter exchange is a *work exchange*: it also routes to a queue nothing dead-letters
  into, i.e. producers publish through it and expired messages go "back through the work
  exchange";
* X sets no dead-letter routing key and its messages return by their original key to two or
  more queues of a non-fanout exchange (a dead-letter sink is one queue, or a fanout);
* every target dead-letters onwards somewhere other than X (a work queue with its own DLQ,
  which a dead-letter sink is not).

Except for the loop, structure alone cannot tell a wait queue from a work queue whose expired
messages go to a DLQ, so the last three need X to have no live consumers (a wait queue has
none) and no target named like a dead-letter queue (``orders.dlq``, ``dead-orders``,
``orders-failed``, ``parking-lot``).

A queue is a **dead-letter queue** (role ``dead-letter``, topic ``dlq.<source>``) only when it
is a sink of dead letters: it receives them from a queue that is neither a delay tier nor an
expiry queue, and it is not a delay tier itself; or its own Artemis address-settings name its
address as the ``dead-letter-address`` (the broker's ``DLQ``), whether or not a queue read
dead-letters into it yet.  A queue a delay tier routes back into stays a work queue.

An Artemis (AMQP 1.0) dead-letter target is an address: every queue on that address is a sink,
whatever its name.  A queue on an address named as ``expiry-address`` (the broker's
``ExpiryQueue``; by another queue's settings or its own) is an **expiry queue** (role
``expiry``): it receives the messages whose time to live passed, which Kafka never moves
anywhere (retention deletes them), so nothing takes its place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mqmigrate.inventory.model import Queue, Source

Key = tuple[str | None, str]

#: a queue name that says "dead letters" (orders.dlq, dead-orders, orders-failed, parking-lot)
DEAD_LETTER_NAME = re.compile(
    r"(?i)(^|[._-])(dlq|dlx|dead|deadletter|dead-letter|parking|"
    r"poison|failed|failures?|errors?)([._-]|$)"
)


@dataclass(frozen=True)
class Route:
    """Dead letters of ``source`` reach ``target`` (through ``exchange`` with ``routing_key``)."""

    source: str
    target: str
    exchange: str | None = None
    routing_key: str | None = None


@dataclass
class DelayTier:
    """A wait queue whose expired messages return to ``returns_to``."""

    queue: str
    ttl_s: float
    returns_to: list[str]
    exchange: str | None
    routing_key: str | None
    why: str


@dataclass
class DeadLetterGraph:
    routes: dict[Key, list[Route]] = field(default_factory=dict)  # by source queue
    #: sink queue → the queues dead-lettering into it (delay tiers excluded)
    sinks: dict[Key, list[str]] = field(default_factory=dict)
    #: wait queue → its tier
    delay_tiers: dict[Key, DelayTier] = field(default_factory=dict)
    #: work queue → the delay tiers that return to it
    retried_by: dict[Key, list[DelayTier]] = field(default_factory=dict)
    #: expiry queue → the queues whose expired messages it receives
    expiry_sinks: dict[Key, list[str]] = field(default_factory=dict)

    def dead_letter_sources(self, q: Queue, kind: str) -> list[str]:
        return self.sinks.get(_key(q.vhost, q.name, kind), [])

    def is_dead_letter_queue(self, q: Queue, kind: str) -> bool:
        """Whether ``q`` is a sink of dead letters (it may have no source read yet)."""
        return _key(q.vhost, q.name, kind) in self.sinks

    def is_expiry_queue(self, q: Queue, kind: str) -> bool:
        """Whether ``q`` receives expired messages (an Artemis expiry-address)."""
        return _key(q.vhost, q.name, kind) in self.expiry_sinks

    def expiry_sources(self, q: Queue, kind: str) -> list[str]:
        """The queues whose expired messages ``q`` receives."""
        return self.expiry_sinks.get(_key(q.vhost, q.name, kind), [])

    def delay_tier(self, q: Queue, kind: str) -> DelayTier | None:
        return self.delay_tiers.get(_key(q.vhost, q.name, kind))

    def retries(self, q: Queue, kind: str) -> list[DelayTier]:
        return self.retried_by.get(_key(q.vhost, q.name, kind), [])

    def routes_from(self, q: Queue, kind: str) -> set[str]:
        """The queues ``q``'s dead letters reach."""
        return {r.target for r in self.routes.get(_key(q.vhost, q.name, kind), [])}


def _key(vhost: str | None, name: str, kind: str) -> Key:
    return (vhost if kind != "sqs" else None, name)


def topic_match(pattern: str, key: str) -> bool:
    """AMQP topic match (``*`` one word, ``#`` zero or more); direct keys compare equal."""
    import re

    if pattern == key:
        return True
    rx = (
        "^"
        + ".".join(
            "[^.]+" if w == "*" else ".*" if w == "#" else re.escape(w) for w in pattern.split(".")
        )
        + "$"
    )
    rx = rx.replace(r"\..*", r"(\..*)?").replace(r".*\.", r"(.*\.)?")
    return re.match(rx, key) is not None


def names_own_address(q: Queue, setting: str) -> bool:
    """Whether ``q``'s own Artemis address-settings give its address as ``setting``
    (``dead-letter-address`` or ``expiry-address``)."""
    return setting in q.extra.get("own_address_is", [])


def sink_evidence(q: Queue, label: str, sources: list[str], setting: str) -> dict[str, Any]:
    """The evidence of a dead-letter or expiry queue's finding: the queues that feed it
    (``label``: ``"dead-letter queue of"`` / ``"expiry queue of"``; none read yet for one that
    only its own settings name) and whether its own address-settings name it as ``setting``."""
    evidence: dict[str, Any] = {}
    if sources:
        evidence[label] = sorted(sources)
    if names_own_address(q, setting):
        evidence["named by"] = f"the {setting} of its own address-settings"
    return evidence


def _queues_at(source: Source, q: Queue, target: str) -> list[str]:
    """The queues a message ``q`` sends to ``target`` reaches: for an AMQP 1.0 / Artemis queue
    ``target`` is an address, and every queue on it receives (they need not share its name);
    otherwise, or when no queue read is on that address, ``target`` names the queue."""
    if "address" in q.extra:
        on_address = [o.name for o in source.queues if o.extra.get("address") == target]
        if on_address:
            return on_address
    return [target]


def _routes_of(source: Source, q: Queue) -> list[Route]:
    dl = q.dead_letter
    if dl is None:
        return []
    out: list[Route] = []
    if dl.target:
        out.extend(Route(q.name, t) for t in _queues_at(source, q, dl.target))
    if dl.exchange is not None:
        if dl.exchange == "":
            # the default exchange delivers to the queue named by the key (the original
            # routing key when none is set)
            target = dl.routing_key if dl.routing_key is not None else q.name
            if target != q.name and source.queue(target, q.vhost) is not None:
                out.append(Route(q.name, target, "", dl.routing_key))
            return out
        inbound = [e for e in source.edges if e.queue == q.name and e.vhost == q.vhost]
        keys = (
            {dl.routing_key}
            if dl.routing_key is not None
            else {e.routing_keys[-1] for e in inbound} or {q.name}
        )
        # without a dead-letter key the message keeps the key it was published with; through
        # a fanout/headers exchange or a wildcard binding that key can be anything
        any_key = dl.routing_key is None and any(
            e.exchange_types[-1] in ("fanout", "headers")
            or "#" in e.routing_keys[-1]
            or "*" in e.routing_keys[-1]
            for e in inbound
        )
        seen: set[str] = set()
        for e in source.edges:
            if e.exchange != dl.exchange or e.vhost != q.vhost or e.queue == q.name:
                continue
            if e.queue in seen:
                continue
            if (
                any_key
                or e.exchange_types[0] == "fanout"
                or any(topic_match(e.routing_keys[0], k) for k in keys)
            ):
                seen.add(e.queue)
                out.append(Route(q.name, e.queue, dl.exchange, dl.routing_key))
    return out


def build(source: Source) -> DeadLetterGraph:
    """The dead-letter graph of ``source`` with its delay tiers and sinks."""
    kind = source.kind
    g = DeadLetterGraph()
    for q in source.queues:
        routes = _routes_of(source, q)
        if routes:
            g.routes[_key(q.vhost, q.name, kind)] = routes
    targets_of = {k: {r.target for r in v} for k, v in g.routes.items()}
    dl_targets = {(k[0], t) for k, ts in targets_of.items() for t in ts}

    for q in source.queues:
        k = _key(q.vhost, q.name, kind)
        routes = g.routes.get(k, [])
        if (
            not routes
            or q.message_ttl is None
            or q.dead_letter is None
            or q.dead_letter.exchange is None
        ):
            continue
        targets = sorted({r.target for r in routes})
        why = None
        # structure alone cannot tell "expired messages go back to work" from "expired messages
        # go to a DLQ": a queue with live consumers is not a wait queue, and a target named
        # like a dead-letter queue is taken for one unless it dead-letters back (a loop)
        sinks_by_name = any(DEAD_LETTER_NAME.search(t) for t in targets)
        if any(q.name in targets_of.get(_key(q.vhost, t, kind), set()) for t in targets):
            why = "a target dead-letters back into it"
        elif q.consumer_count or sinks_by_name:
            pass
        elif q.dead_letter.exchange != "" and any(
            e.exchange == q.dead_letter.exchange
            and e.vhost == q.vhost
            and (k[0], e.queue) not in dl_targets
            and e.queue != q.name
            for e in source.edges
        ):
            why = (
                f"its dead-letter exchange {q.dead_letter.exchange} also routes to queues "
                "producers publish to: expired messages go back through the work exchange"
            )
        elif (
            q.dead_letter.routing_key is None
            and len(targets) >= 2
            and not any(
                e.exchange == q.dead_letter.exchange and e.exchange_types[0] == "fanout"
                for e in source.edges
            )
        ):
            why = (
                f"without a dead-letter routing key its messages return through "
                f"{q.dead_letter.exchange or 'the default exchange'} by their original key "
                f"to {len(targets)} queues"
            )
        elif all(targets_of.get(_key(q.vhost, t, kind), set()) - {q.name} for t in targets):
            why = "every target dead-letters onwards: they are work queues, not sinks"
        if why is None:
            continue
        tier = DelayTier(
            queue=q.name,
            ttl_s=q.message_ttl,
            returns_to=targets,
            exchange=q.dead_letter.exchange,
            routing_key=q.dead_letter.routing_key,
            why=why,
        )
        g.delay_tiers[k] = tier
        for t in targets:
            g.retried_by.setdefault(_key(q.vhost, t, kind), []).append(tier)

    _add_expiry_sinks(source, g)
    for k, routes in g.routes.items():
        if k in g.delay_tiers or k in g.expiry_sinks:
            continue  # not a work queue: what it dead-letters are not a workload's failures
        for r in routes:
            tk = (k[0], r.target)
            if tk in g.delay_tiers:
                continue  # the work queue's failures wait in its delay tier: not a sink
            g.sinks.setdefault(tk, []).append(r.source)
    for q in source.queues:
        if names_own_address(q, "dead-letter-address"):
            g.sinks.setdefault(_key(q.vhost, q.name, kind), [])
    return g


def _add_expiry_sinks(source: Source, g: DeadLetterGraph) -> None:
    """Each queue on an address named as ``expiry-address`` (by another queue's Artemis
    address-settings, or by its own) with the queues whose expired messages it receives."""
    kind = source.kind
    for q in source.queues:
        if names_own_address(q, "expiry-address"):
            g.expiry_sinks.setdefault(_key(q.vhost, q.name, kind), [])
        expiry = q.extra.get("expiry_address")
        if expiry:
            for target in _queues_at(source, q, expiry):
                g.expiry_sinks.setdefault(_key(q.vhost, target, kind), []).append(q.name)
