"""``routing.pattern``, ``fanout.share-groups``, ``rpc.reply-to``: how messages reach a queue."""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, finding, rule


def _edge_text(e) -> str:
    hops = " -> ".join(f"{x}[{k}]" for x, k in zip(e.path, e.routing_keys))
    return f"{hops} -> {e.queue}"


@rule("routing.pattern")
def routing(ctx: QueueContext):
    edges = ctx.edges
    if not edges:
        return
    reasons = []
    kinds = {t for e in edges for t in e.exchange_types}
    for t in ("topic", "headers"):
        if t in kinds:
            reasons.append(f"{t} exchange")
    if any(len(e.path) > 1 and "(unroutable)" not in e.routing_keys for e in edges):
        reasons.append("exchange-to-exchange")
    if any("(unroutable)" in e.routing_keys for e in edges):
        reasons.append("alternate-exchange")
    filters = sorted({str(e.arguments["filter"]) for e in edges if e.arguments.get("filter")})
    if filters:
        reasons.append("subscription filter")
    direct_keys = {(e.path[-1], e.routing_keys[-1]) for e in edges}
    by_exchange: dict[str, set[str]] = {}
    for x, k in direct_keys:
        by_exchange.setdefault(x, set()).add(k)
    if any(len(keys) > 1 for keys in by_exchange.values()):
        reasons.append("multi-key bindings")
    if not reasons:
        return
    evidence = {"routing": reasons, "edges": sorted(_edge_text(e) for e in edges)}
    if filters:
        evidence["filters"] = filters
    yield finding(
        "routing.pattern",
        "warn",
        evidence,
        "no broker-side routing in Kafka: producer-side topic selection or a router "
        "(Kafka Streams / the bridge) writing to this queue's topic",
        "have producers publish to the topic directly, or run a router that applies the "
        "listed bindings; each edge becomes one routing rule",
    )


@rule("fanout.share-groups")
def fanout(ctx: QueueContext):
    for e in ctx.edges:
        # a filtered (Service Bus subscription) binding is selective: not a fan-out member
        if e.exchange_types[-1] != "fanout" or e.arguments.get("filter"):
            continue
        peers = sorted(
            {
                x.queue
                for x in ctx.source.edges
                if x.path[-1] == e.path[-1] and x.vhost == e.vhost and not x.arguments.get("filter")
            }
        )
        if len(peers) >= 2:
            yield finding(
                "fanout.share-groups",
                "info",
                {"fanout exchange": e.path[-1], "bound queues": peers},
                "one topic for the exchange, one share group per bound queue",
                "publish once to the exchange's topic; each consumer team gets its own share group",
            )
            return


@rule("rpc.reply-to")
def rpc(ctx: QueueContext):
    q = ctx.queue
    evidence: dict = {}
    if q.exclusive:
        evidence["exclusive"] = True
    if q.auto_delete:
        evidence["auto_delete"] = True
    if q.name.startswith(("amq.gen-", "amq.rabbitmq.reply-to")):
        evidence["name"] = q.name
    if evidence:
        yield finding(
            "rpc.reply-to",
            "blocker",
            evidence,
            "request/reply is not a queue workload: a reply topic per client "
            "instance (or a correlation-id keyed reply topic)",
            "keep RPC on the source or redesign as request/reply topics; do not "
            "create a share group for it",
        )
