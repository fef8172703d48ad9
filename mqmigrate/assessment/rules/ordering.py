"""``ordering.fifo``: ordered or grouped consumption a share group cannot keep."""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, finding, rule, source_name

MAPPING = (
    "consumer group keyed by the message group (SQS MessageGroupId / AMQP group-id, "
    "which carries the Service Bus SessionId / JMSXGroupID): Kafka keeps order per "
    "partition; partitions >= concurrent groups"
)
REMEDIATION = (
    "migrate to a keyed consumer group, not a share group; the bridge sets the record "
    "key from the group id; size partitions for the number of concurrent groups"
)


@rule("ordering.fifo")
def fifo(ctx: QueueContext):
    q = ctx.queue
    evidence: dict = {}
    if q.fifo:
        evidence["FifoQueue"] = True
        if q.extra.get("FifoThroughputLimit"):
            evidence["FifoThroughputLimit"] = q.extra["FifoThroughputLimit"]
    if q.single_active_consumer:
        evidence[source_name(q, "single_active_consumer", "x-single-active-consumer")] = True
        if q.type == "stream":
            evidence["type"] = "stream"
    if q.extra.get("requiresSession"):
        evidence["requiresSession"] = True  # Service Bus sessions: SessionId is AMQP group-id
    elif q.message_groups:
        evidence["message_groups"] = True
        for key in ("group_rebalance", "group_buckets"):
            if q.extra.get(key):
                evidence[key.replace("_", "-")] = q.extra[key]
    exclusive = [c.tag for c in (q.consumers or []) if c.exclusive]
    if exclusive:
        evidence["exclusive_consumers"] = exclusive
    if evidence:
        yield finding("ordering.fifo", "blocker", evidence, MAPPING, REMEDIATION)
