"""RabbitMQ semantics shared by the definitions reader and the live management-API reader:
effective policies, queue argument normalization and exchange-to-exchange flattening."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mqmigrate.inventory.model import Binding, DeadLetter, Edge, Exchange, Policy, Queue

#: For these keys RabbitMQ uses the *lower* of the queue argument, the policy and the operator
#: policy (docs: "Parameters and Policies", "Operator policies").  For every other key the
#: queue argument wins over the policy.
_MIN_KEYS = {
    "max-length",
    "max-length-bytes",
    "message-ttl",
    "expires",
    "delivery-limit",
    "max-in-memory-length",
    "max-in-memory-bytes",
}

_QUEUE_APPLY = {"queues", "all", "classic_queues", "quorum_queues", "streams"}


def _applies(policy: Policy, kind: str, queue_type: str | None = None) -> bool:
    if kind == "exchange":
        return policy.apply_to in ("exchanges", "all")
    if policy.apply_to not in _QUEUE_APPLY:
        return False
    if policy.apply_to == "classic_queues":
        return queue_type in (None, "classic")
    if policy.apply_to == "quorum_queues":
        return queue_type == "quorum"
    if policy.apply_to == "streams":
        return queue_type == "stream"
    return True


def _matches(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None
    except re.error:
        # RabbitMQ rejects such a policy on import; treat it as matching nothing.
        return False


def effective_policy(
    policies: Iterable[Policy],
    name: str,
    vhost: str | None,
    kind: str,
    queue_type: str | None = None,
    *,
    operator: bool = False,
) -> Policy | None:
    """The one policy RabbitMQ applies to ``name``: pattern matches, apply-to fits, highest
    priority wins (ties broken by name, so the answer is deterministic)."""
    candidates = [
        p
        for p in policies
        if p.operator == operator
        and (vhost is None or p.vhost is None or p.vhost == vhost)
        and _applies(p, kind, queue_type)
        and _matches(p.pattern, name)
    ]
    if not candidates:
        return None
    return sorted(candidates, key=lambda p: (-p.priority, p.name))[0]


def matching_policies(
    policies: Iterable[Policy],
    name: str,
    vhost: str | None,
    kind: str,
    queue_type: str | None = None,
) -> list[Policy]:
    """Every (non-operator) policy whose pattern and apply-to fit; used for hygiene checks."""
    return [
        p
        for p in policies
        if not p.operator
        and (vhost is None or p.vhost is None or p.vhost == vhost)
        and _applies(p, kind, queue_type)
        and _matches(p.pattern, name)
    ]


def merge_effective(
    arguments: dict[str, Any], policy: dict[str, Any], operator: dict[str, Any]
) -> dict[str, Any]:
    """Effective settings keyed without the ``x-`` prefix: argument over policy, numeric limits
    take the minimum of argument, policy and operator policy."""
    out: dict[str, Any] = {}
    args = {k[2:] if k.startswith("x-") else k: v for k, v in arguments.items()}
    for key in set(args) | set(policy) | set(operator):
        values = [src[key] for src in (args, policy, operator) if key in src]
        if key in _MIN_KEYS:
            numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if numeric:
                out[key] = min(numeric)
                continue
        if key in args:
            out[key] = args[key]
        elif key in policy:
            out[key] = policy[key]
        else:
            out[key] = operator[key]
    return out


_AGE_UNITS = {"Y": 365 * 86400, "M": 30 * 86400, "D": 86400, "h": 3600, "m": 60, "s": 1}


def parse_max_age(value: Any) -> float | None:
    """Stream ``x-max-age`` (``7D``, ``1M``, ``12h``) in seconds; None when unparseable."""
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"(\d+)([YMDhms])", value.strip())
    if not m:
        return None
    return int(m.group(1)) * _AGE_UNITS[m.group(2)]


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _int(value: Any) -> int | None:
    n = _num(value)
    return None if n is None else int(n)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def major_version(version: str | None) -> int | None:
    """``"3.13.0"`` → 3; None when unknown."""
    if not version:
        return None
    m = re.match(r"(\d+)", version)
    return int(m.group(1)) if m else None


def normalize_queue(
    raw: dict[str, Any],
    *,
    policies: list[Policy],
    rabbit_version: str | None,
    live_effective: dict[str, Any] | None = None,
) -> Queue:
    """A :class:`Queue` from a definitions/management-API queue object.

    ``live_effective`` is the API's ``effective_policy_definition`` (preferred when present:
    the broker already resolved it); otherwise the effective policy is computed here.
    """
    name = str(raw["name"])
    vhost = raw.get("vhost")
    arguments = raw.get("arguments") or {}
    if not isinstance(arguments, dict):
        arguments = {}
    qtype = arguments.get("x-queue-type") or raw.get("type") or "classic"
    qtype = qtype if isinstance(qtype, str) else "classic"
    pol = effective_policy(policies, name, vhost, "queue", qtype)
    op = effective_policy(policies, name, vhost, "queue", qtype, operator=True)
    policy_def = (
        dict(live_effective)
        if live_effective is not None
        else (dict(pol.definition) if pol else {})
    )
    op_def = dict(op.definition) if op else {}
    eff = merge_effective(arguments, policy_def, op_def)
    defaulted: set[str] = set()
    delivery_limit = _delivery_limit(eff, qtype, rabbit_version, defaulted)
    retention, extra = _retention_and_extra(eff, qtype)

    ttl = _num(eff.get("message-ttl"))
    expires = _num(eff.get("expires"))
    timeout = _num(eff.get("consumer-timeout"))
    q = Queue(
        name=name,
        vhost=vhost,
        type=qtype,
        durable=raw.get("durable"),
        exclusive=raw.get("exclusive", False if raw.get("durable") is not None else None),
        auto_delete=raw.get("auto_delete"),
        arguments=arguments,
        policy=pol.name if pol else raw.get("policy"),
        operator_policy=op.name if op else raw.get("operator_policy"),
        policy_definition={**op_def, **policy_def},
        fifo=False,
        single_active_consumer=eff.get("single-active-consumer") is True,
        visibility_timeout=timeout / 1000 if timeout is not None else None,
        message_ttl=ttl / 1000 if ttl is not None else None,
        expires=expires / 1000 if expires is not None else None,
        max_length=_int(eff.get("max-length")),
        max_length_bytes=_int(eff.get("max-length-bytes")),
        overflow=_str(eff.get("overflow")),
        max_priority=_int(eff.get("max-priority")),
        dead_letter=_dead_letter(eff),
        delivery_limit=delivery_limit,
        retention=retention,
        defaulted=defaulted,
        extra=extra,
    )
    return q


def _dead_letter(eff: dict[str, Any]) -> DeadLetter | None:
    """The dead-letter exchange, routing key and strategy of the effective settings."""
    if eff.get("dead-letter-exchange") is None:
        return None
    return DeadLetter(
        exchange=str(eff["dead-letter-exchange"]),
        routing_key=(
            str(eff["dead-letter-routing-key"])
            if eff.get("dead-letter-routing-key") is not None
            else None
        ),
        strategy=_str(eff.get("dead-letter-strategy")),
    )


def _delivery_limit(
    eff: dict[str, Any], qtype: str, rabbit_version: str | None, defaulted: set[str]
) -> int | None:
    """The delivery limit (-1: unlimited, None: unknown), the queue type's default (recorded
    in ``defaulted``) when none is set."""
    delivery_limit = _int(eff.get("delivery-limit"))
    major = major_version(rabbit_version)
    if delivery_limit is None:
        if qtype == "quorum":
            # RabbitMQ 4.0 gave quorum queues a default delivery limit of 20; before that
            # redelivery was unlimited.  Without a version we cannot tell: unknown (None).
            if major is not None:
                delivery_limit = 20 if major >= 4 else -1
                defaulted.add("delivery_limit")
        elif qtype == "classic":
            delivery_limit = -1  # classic queues redeliver forever
            defaulted.add("delivery_limit")
    elif delivery_limit < 0:
        delivery_limit = -1
    return delivery_limit


def _retention_and_extra(eff: dict[str, Any], qtype: str) -> tuple[float | None, dict[str, Any]]:
    """A stream's retention (max-age), and the settings kept as they are in ``extra``."""
    retention = None
    extra: dict[str, Any] = {}
    if qtype == "stream":
        retention = parse_max_age(eff.get("max-age"))
        if eff.get("max-age") is not None:
            extra["x-max-age"] = eff["max-age"]
    for key in (
        "ha-mode",
        "ha-params",
        "ha-sync-mode",
        "queue-mode",
        "queue-master-locator",
        "queue-leader-locator",
        "federation-upstream",
        "federation-upstream-set",
        "queue-version",
        "initial-cluster-size",
    ):
        if key in eff:
            extra[key] = eff[key]
    return retention, extra


def exchange_from(raw: dict[str, Any], policies: list[Policy]) -> Exchange:
    """An :class:`Exchange` with its alternate exchange resolved (argument, then policy)."""
    name = str(raw["name"])
    vhost = raw.get("vhost")
    arguments = raw.get("arguments") or {}
    if not isinstance(arguments, dict):
        arguments = {}
    pol = effective_policy(policies, name, vhost, "exchange")
    ae = arguments.get("alternate-exchange")
    if ae is None and pol is not None:
        ae = pol.definition.get("alternate-exchange")
    return Exchange(
        name=name,
        vhost=vhost,
        type=str(raw.get("type") or "direct"),
        durable=raw.get("durable"),
        auto_delete=raw.get("auto_delete"),
        internal=raw.get("internal"),
        arguments=arguments,
        policy=pol.name if pol else raw.get("policy"),
        alternate_exchange=str(ae) if ae else None,
    )


def flatten(exchanges: list[Exchange], bindings: list[Binding]) -> list[Edge]:
    """Every route exchange → … → queue, following exchange-to-exchange bindings and alternate
    exchanges (hop key ``(unroutable)``), without looping on cycles."""
    types = {(e.vhost, e.name): e.type for e in exchanges}
    ae_of = {(e.vhost, e.name): e.alternate_exchange for e in exchanges if e.alternate_exchange}
    out_of: dict[tuple[str | None, str], list[Binding]] = {}
    for b in bindings:
        out_of.setdefault((b.vhost, b.source), []).append(b)

    edges: list[Edge] = []
    starts = sorted(
        {(e.vhost, e.name) for e in exchanges} | set(out_of), key=lambda k: (k[0] or "", k[1])
    )

    def walk(
        vhost: str | None, start: str, node: str, path: list[str], keys: list[str], seen: set[str]
    ) -> None:
        hops = [(b, b.routing_key) for b in out_of.get((vhost, node), [])]
        ae = ae_of.get((vhost, node))
        for b, key in hops:
            if b.destination_type == "queue":
                edges.append(
                    Edge(
                        exchange=start,
                        queue=b.destination,
                        vhost=vhost,
                        path=path + [node],
                        routing_keys=keys + [key],
                        exchange_types=[types.get((vhost, x), "unknown") for x in path + [node]],
                        arguments=b.arguments,
                    )
                )
            elif b.destination not in seen:
                walk(
                    vhost, start, b.destination, path + [node], keys + [key], seen | {b.destination}
                )
        if ae and ae not in seen:
            walk(vhost, start, ae, path + [node], keys + ["(unroutable)"], seen | {ae})

    for vhost, name in starts:
        if name == "":
            continue
        walk(vhost, name, name, [], [], {name})
    return edges


def policy_from(raw: dict[str, Any], *, operator: bool = False) -> Policy:
    """A :class:`Policy` from a definitions/API policy object."""
    apply_to = raw.get("apply-to") or raw.get("apply_to") or "all"
    if apply_to not in ("queues", "exchanges", "all", "classic_queues", "quorum_queues", "streams"):
        apply_to = "all"
    return Policy(
        name=str(raw["name"]),
        vhost=raw.get("vhost"),
        pattern=str(raw.get("pattern", "")),
        apply_to=apply_to,
        priority=int(raw.get("priority") or 0),
        definition=dict(raw.get("definition") or {}),
        operator=operator,
    )
