"""Rules for what Azure Service Bus expresses and the other sources do not:
``lock.renewal`` (peek-lock renewal), ``routing.auto-forward`` (``forwardTo`` chains) and the
scheduled/deferred messages of ``delay.delivery`` that no IaC file shows."""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, finding, rule

#: Service Bus's longest lock duration (PT5M)
MAX_LOCK_S = 300.0


def _servicebus(ctx: QueueContext) -> bool:
    return ctx.queue.extra.get("broker") == "servicebus" and ctx.queue.type != "dead-letter"


@rule("lock.renewal")
def lock_renewal(ctx: QueueContext):
    """Service Bus clients renew message locks (the processor's MaxAutoLockRenewalDuration,
    5 min by default): processing can outlast ``lockDuration`` without a redelivery."""
    if not _servicebus(ctx) or ctx.is_dead_letter_queue():
        return
    q, caps = ctx.queue, ctx.caps
    # at the 5-minute maximum, processing that needs more can only rely on renewal
    at_max = q.visibility_timeout is not None and q.visibility_timeout >= MAX_LOCK_S
    evidence = {
        "lockDuration": q.visibility_timeout,
        "lock renewal by clients": "likely: lockDuration is at the 5 min maximum"
        if at_max
        else None,
        "note": "ServiceBusProcessor renews locks for up to 5 min by default",
    }
    yield finding(
        "lock.renewal",
        "warn",
        evidence,
        "share.record.lock.duration.ms, broker bounds 15-60 s raisable to 1 h; the share "
        "consumer's RENEW acknowledgement (KIP-1222) extends a lock"
        + ("" if caps.renew_usable else ", not in the Python client"),
        "measure how long consumers hold a message (with renewals); size the record lock to "
        "1.5 x that, raise group.share.max.record.lock.duration.ms up to 1 h, or use a consumer "
        "group beyond",
        unknown=not at_max,
    )


@rule("routing.auto-forward")
def auto_forward(ctx: QueueContext):
    """Messages reach this queue through ``forwardTo`` of other entities."""
    hops = sorted(
        {" -> ".join(e.path) + f" -> {e.queue}" for e in ctx.edges if "forward" in e.exchange_types}
    )
    if not hops:
        return
    yield finding(
        "routing.auto-forward",
        "warn",
        {"auto-forwarded through": hops},
        "no auto-forwarding in Kafka: producers of the forwarding entities publish to this "
        "queue's topic, or a router (Kafka Streams / the bridge) copies them",
        "point the producers of each forwarding queue or subscription at this topic (apply "
        "the subscription's filter in the producer or a router); the forwarding entities are "
        "not migrated as workloads",
    )


@rule("delay.delivery")
def scheduled(ctx: QueueContext):
    """Every Service Bus entity accepts scheduled messages and lets receivers defer: not
    visible in IaC."""
    if not _servicebus(ctx) or ctx.is_dead_letter_queue():
        return
    yield finding(
        "delay.delivery",
        "warn",
        {"scheduled messages (ScheduledEnqueueTimeUtc)": None, "deferred messages": None},
        "no delayed delivery or deferral in Kafka: delay-tier topics or a scheduler; a "
        "deferred message becomes a record parked in a topic keyed by its id",
        "search producers for ScheduleMessageAsync / ScheduledEnqueueTime and consumers for "
        "DeferMessage / ReceiveDeferredMessages; schedules need a scheduler service, deferral "
        "a parking topic",
        unknown=True,
    )
