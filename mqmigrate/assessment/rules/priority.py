"""``priority``: priority queues and consumer priorities (Kafka has neither)."""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, finding, rule, source_name
from mqmigrate.inventory.readers.rabbitmq_common import major_version

MAPPING = "no priority in Kafka: one topic per priority band, more consumers on the high band"
REMEDIATION = (
    "split into <topic>.high / <topic>.low (producers choose by priority); weight the "
    "share group sizes per band"
)


@rule("priority")
def priority(ctx: QueueContext):
    q = ctx.queue
    if q.max_priority:
        name = source_name(q, "max_priority", "x-max-priority")
        value = "PRIORITY (0-9)" if name == "MSGDLVSQ" else q.max_priority
        yield finding("priority", "warn", {name: value}, MAPPING, REMEDIATION)
    prio = sorted({c.priority for c in (q.consumers or []) if c.priority})
    if prio:
        yield finding(
            "priority",
            "warn",
            {"consumer x-priority": prio},
            "no consumer priority in share groups",
            "give the preferred consumers more instances, or a dedicated topic",
        )
    major = major_version(ctx.source.version)
    if q.type == "quorum" and not q.max_priority and major is not None and major >= 4:
        yield finding(
            "priority",
            "info",
            {"per-message priority": None},
            MAPPING,
            "RabbitMQ 4.x quorum queues honour message priority without "
            "x-max-priority: check whether producers set it",
            unknown=True,
        )
