"""What ActiveMQ Artemis and IBM MQ queues express beyond the common catalogue.

New rule ids: ``queue-type.last-value`` (Artemis last-value queues), ``queue-type.non-destructive``
(Artemis non-destructive queues), ``trigger.on-arrival`` (IBM MQ triggering).  Further checks
under existing ids: Artemis ring queues and full policies (``backpressure.max-length``), IBM MQ
client-side backout (``retry.limit``), IBM MQ default priority order (``priority``), and the
objects a source holds that are not workloads (``source.hygiene``).  The readers put the facts
in ``Queue.extra`` (docs/rules.md lists them).
"""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, SourceContext, finding, rule


@rule("queue-type.last-value")
def last_value(ctx: QueueContext):
    q = ctx.queue
    if q.extra.get("last_value"):
        yield finding(
            "queue-type.last-value",
            "warn",
            {"last-value-key": q.extra.get("last_value_key")},
            "a compacted topic (cleanup.policy=compact) keyed by the last-value key: "
            "compaction keeps the latest record per key, but only eventually",
            "key records by the last-value key and compact the topic; consumers "
            "may still read superseded values between compactions: make them skip a "
            "value older than the last one they applied for the key",
        )


@rule("queue-type.non-destructive")
def non_destructive(ctx: QueueContext):
    q = ctx.queue
    if q.extra.get("non_destructive"):
        evidence = {"non-destructive": True}
        if q.message_ttl:
            evidence["expiry-delay"] = int(q.message_ttl * 1000)
        yield finding(
            "queue-type.non-destructive",
            "blocker",
            evidence,
            "every consumer reads every message and nothing is removed on ack: a "
            "topic read by consumer groups (each tracks its offset), not a share "
            "group",
            "plan a consumer group per consumer; retention.ms replaces "
            "the expiry or ring size that bounds the queue today",
        )


@rule("trigger.on-arrival")
def trigger(ctx: QueueContext):
    t = ctx.queue.extra.get("trigger")
    if t:
        yield finding(
            "trigger.on-arrival",
            "warn",
            dict(t),
            "Kafka starts no process when records arrive: consumers run all the "
            "time, or an autoscaler (e.g. KEDA on share-group lag) starts them",
            "run the triggered application as a long-lived share-group consumer, or "
            "scale it from zero on the group's lag; retire the initiation queue and "
            "trigger monitor with the queue",
        )


@rule("backpressure.max-length")
def ring(ctx: QueueContext):
    size = ctx.queue.extra.get("ring_size")
    if size:
        yield finding(
            "backpressure.max-length",
            "warn",
            {"ring-size": size},
            "no per-queue count bound in Kafka: retention.bytes/retention.ms bound a "
            "topic by size and age, never by record count",
            "the ring drops the oldest message past its size today; size "
            "retention.bytes for about that many records, and make consumers "
            "tolerate reading older records than the ring would have kept",
        )


@rule("backpressure.max-length")
def full_policy_global(ctx: QueueContext):
    """DROP/FAIL/BLOCK without a per-address limit still apply at the broker-wide limit."""
    q = ctx.queue
    policy = q.extra.get("address_full_policy")
    if policy in ("DROP", "FAIL", "BLOCK") and q.max_length_bytes is None and q.max_length is None:
        yield finding(
            "backpressure.max-length",
            "warn",
            {
                "address-full-policy": policy,
                "max-size-bytes": "unset: the broker's global-max-size applies",
            },
            "no depth backpressure: retention.bytes bounds disk, producer quotas throttle",
            _FULL_REMEDIATION[policy],
        )


_FULL_REMEDIATION = {
    "DROP": "new messages are silently dropped when the broker is full today; Kafka keeps "
    "accepting them: alert on share-group lag, bound disk with retention.bytes",
    "FAIL": "producers get an error when the broker is full today; in Kafka they do not: alert "
    "on share-group lag and use producer quotas",
    "BLOCK": "producers are blocked (flow control) when the broker is full today; in Kafka "
    "they are not: alert on share-group lag and use producer quotas",
}


@rule("retry.limit")
def client_backout(ctx: QueueContext):
    q = ctx.queue
    if q.extra.get("backout") == "client-side" and not ctx.is_dead_letter_queue():
        yield finding(
            "retry.limit",
            "info",
            {
                "BOTHRESH": q.delivery_limit,
                "BOQNAME": q.dead_letter.target if q.dead_letter else None,
                "enforced by": "the JMS/XMS client, not the queue manager",
            },
            "share.delivery.count.limit and the share-group DLQ are enforced by the "
            "broker for every client",
            "applications using the plain MQI never honoured the threshold: with "
            "Kafka every consumer gets the limit; confirm none relies on unlimited "
            "redelivery",
        )


@rule("priority")
def default_priority_order(ctx: QueueContext):
    q = ctx.queue
    if q.extra.get("priority_order") == "PRIORITY (default)":
        yield finding(
            "priority",
            "info",
            {"MSGDLVSQ": "PRIORITY (default)", "per-message priority": None},
            "no priority in Kafka: one topic per priority band",
            "IBM MQ delivers by message priority unless MSGDLVSQ(FIFO): check "
            "whether producers set priorities",
            unknown=True,
        )


@rule("source.hygiene", scope="source")
def reported_apart(ctx: SourceContext):
    apart = ctx.source.reported_apart
    if apart:
        yield finding(
            "source.hygiene",
            "info",
            {k: v for k, v in sorted(apart.items())},
            "not migrated as queues",
            "system, transmission and initiation queues stay with the queue "
            "manager; remote and model queues point at workloads assessed where "
            "they live",
        )
