"""``visibility.timeout``, ``delay.delivery``, ``ttl.expiry``: time-based semantics."""

from __future__ import annotations

from mqmigrate.assessment.deadletters import sink_evidence
from mqmigrate.assessment.model import Finding
from mqmigrate.assessment.rules.base import QueueContext, finding, rule, shown


@rule("visibility.timeout")
def visibility(ctx: QueueContext):
    q, caps = ctx.queue, ctx.caps
    if q.type == "stream":
        return
    lo, hi = caps.lock_min_ms / 1000, caps.lock_max_ms / 1000
    name = {"sqs": "VisibilityTimeout", "rabbitmq": "x-consumer-timeout"}.get(
        ctx.source.kind, "lockDuration" if q.extra.get("broker") == "servicebus" else "lock_timeout"
    )
    v = q.visibility_timeout
    if v is None:
        note = (
            "RabbitMQ broker consumer_timeout applies (default 30 min); processing time unknown"
            if ctx.source.kind == "rabbitmq"
            else "processing time unknown"
        )
        yield finding(
            "visibility.timeout",
            "info",
            {name: None, "note": note},
            "share.record.lock.duration.ms (default 30 s, bounds 15-60 s)",
            "measure p99 processing time; set the lock to 1.5 x p99 (the plan uses 30 s until "
            "then)",
            unknown=True,
        )
        return
    if lo <= v <= hi:
        return
    evidence = {name: shown(q, "visibility_timeout", v)}
    mapping = (
        "share.record.lock.duration.ms: broker bounds 15-60 s by default, raisable to "
        "1 h (group.share.max.record.lock.duration.ms)"
    )
    if 1 <= v <= caps.lock_raisable_max_ms / 1000:
        yield finding(
            "visibility.timeout",
            "warn",
            evidence,
            mapping,
            "raise the broker's share lock bounds to cover the timeout, or shorten "
            "processing to fit 15-60 s",
        )
    else:
        severity = "warn" if caps.renew_usable else "blocker"
        yield finding(
            "visibility.timeout",
            severity,
            evidence,
            mapping,
            "a lock this long needs RENEW (not in the Python client): use a consumer "
            "group, or split the work so each record finishes within 1 h",
        )


@rule("delay.delivery")
def delay(ctx: QueueContext):
    q = ctx.queue
    mapping = "no delayed delivery in Kafka: delay-tier topics (e.g. retry-30s) or a scheduler"
    if q.delay:
        evidence = {
            "DelaySeconds" if ctx.source.kind == "sqs" else "redelivery_delay": shown(
                q, "delay", q.delay
            )
        }
        if q.extra.get("redelivery_multiplier"):  # Artemis exponential back-off
            evidence["redelivery-delay-multiplier"] = q.extra["redelivery_multiplier"]
            evidence["max-redelivery-delay"] = q.extra.get("max_redelivery_delay_ms")
        yield finding(
            "delay.delivery",
            "warn",
            evidence,
            mapping,
            "route through a delay-tier topic whose consumer waits until "
            "publish time + delay, or delay in the producer",
        )
    delayed = sorted(
        {x for e in ctx.edges for x, t in zip(e.path, e.exchange_types) if t == "x-delayed-message"}
    )
    if delayed or q.extra.get("scheduled") or q.arguments.get("scheduled"):
        yield finding(
            "delay.delivery",
            "blocker",
            {"x-delayed-message exchanges": delayed} if delayed else {"scheduled": True},
            mapping,
            "per-message delays need a scheduler service (or delay-tier topics if "
            "the delays take few distinct values); not a plain share group",
        )
    tier = ctx.delay_tier()
    if tier is not None:
        via = (
            f"{tier.exchange or '(default exchange)'}[{tier.routing_key}]"
            if tier.routing_key is not None
            else f"{tier.exchange} (original routing key)"
        )
        yield finding(
            "delay.delivery",
            "warn",
            {
                "wait queue TTL": _ms(tier.ttl_s),
                "returns to": tier.returns_to,
                "through": via,
                "recognised because": tier.why,
            },
            mapping,
            "replace this TTL+DLX wait queue with a retry-tier topic: the worker "
            "forwards a failed record there and a delaying consumer returns it after "
            "the TTL; do not migrate the wait queue itself",
        )
    for t in ctx.dead_letters.retries(q, ctx.source.kind) if ctx.dead_letters else []:
        loop = (
            f"{q.name} -> {t.queue} -> {q.name}"
            if t.queue in ctx.dead_letters.routes_from(q, ctx.source.kind)
            else f"{t.queue} -> {t.exchange or '(default exchange)'} -> {q.name}"
        )
        yield finding(
            "delay.delivery",
            "warn",
            {"wait_queue": t.queue, "x-message-ttl": _ms(t.ttl_s), "loop": loop},
            mapping,
            "replace the TTL+DLX wait queue with retry-tier topics; the "
            "worker RELEASEs or forwards to the next tier",
        )


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


@rule("ttl.expiry")
def ttl(ctx: QueueContext):
    q = ctx.queue
    mapping = (
        "retention.ms deletes by age per segment, never per record and never "
        "dead-letters; an expires-at header checked by the worker"
    )
    if ctx.delay_tier() is not None:
        return  # the TTL is the delay of a retry loop (delay.delivery), not an expiry
    if ctx.is_expiry_queue():
        yield _expiry_queue(ctx)
        return  # its messages already expired: the questions above are its sources'
    # Service Bus dead-letters expired messages only with deadLetteringOnMessageExpiration
    expiry_dl = q.dead_letter if q.extra.get("expiry_dead_lettered", True) else None
    expiry_queue = q.extra.get("expiry_address")  # Artemis moves them to an expiry address
    if q.message_ttl is not None:
        severity = "warn" if expiry_dl or expiry_queue else "info"
        evidence = {
            "x-message-ttl"
            if ctx.source.kind == "rabbitmq"
            else "defaultMessageTimeToLive"
            if q.extra.get("broker") == "servicebus"
            else "expiry": int(q.message_ttl * 1000)
        }
        if expiry_dl:
            evidence["expired messages dead-lettered to"] = expiry_dl.exchange or expiry_dl.target
        if expiry_queue:
            evidence["expired messages moved to (expiry-address)"] = expiry_queue
        yield finding(
            "ttl.expiry",
            severity,
            evidence,
            mapping,
            "producers set an expires-at header; the worker drops (or "
            + (
                "parks, as the expiry queue holds them today"
                if expiry_queue
                else "DLQs, when expired messages were dead-lettered"
            )
            + ") records past it; retention.ms >= TTL",
        )
    elif ctx.source.kind in ("rabbitmq", "amqp1") and q.type != "stream":
        yield finding(
            "ttl.expiry",
            "info",
            {"per-message expiration": None},
            mapping,
            "check whether producers set per-message expiration; if so the worker "
            "must check an expires-at header",
            unknown=True,
        )
    if q.expires is not None:
        yield finding(
            "ttl.expiry",
            "warn",
            {
                "autoDeleteOnIdle" if q.extra.get("broker") == "servicebus" else "x-expires": int(
                    q.expires * 1000
                )
            },
            "Kafka never deletes an idle topic",
            "drop the auto-expiry or delete unused topics with a housekeeping job",
        )
    if q.retention is not None and ctx.source.kind == "sqs":
        yield finding(
            "ttl.expiry",
            "info",
            {"MessageRetentionPeriod": shown(q, "retention", int(q.retention))},
            "retention.ms",
            "set retention.ms >= the source retention (the target does)",
        )
    if q.type == "stream" and q.extra.get("x-max-age"):
        yield finding(
            "ttl.expiry",
            "info",
            {"x-max-age": q.extra["x-max-age"]},
            "retention.ms",
            "set retention.ms to the stream's max age (the target does)",
        )


def _expiry_queue(ctx: QueueContext) -> Finding:
    """The finding of a queue that receives expired messages (an Artemis expiry-address)."""
    sources = (
        ctx.dead_letters.expiry_sources(ctx.queue, ctx.source.kind) if ctx.dead_letters else []
    )
    return finding(
        "ttl.expiry",
        "info",
        sink_evidence(ctx.queue, "expiry queue of", sources, "expiry-address"),
        "nothing: Kafka never moves an expired record anywhere, retention.ms deletes it "
        "(no expiry topic by default)",
        "do not migrate it as a work queue: drain or archive its messages (replay into the "
        "source's topic only what still matters); for expiry after the move, producers set an "
        "expires-at header the worker checks, and it drops or parks expired records",
    )
