"""``source.hygiene``: leftovers worth cleaning before a migration."""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, SourceContext, finding, rule
from mqmigrate.inventory.readers.rabbitmq_common import matching_policies

MAPPING = "not migrated as such"


@rule("source.hygiene")
def queue_hygiene(ctx: QueueContext):
    q = ctx.queue
    if q.extra.get("ha-mode"):
        yield finding(
            "source.hygiene",
            "info",
            {"policy": q.policy, "ha-mode": q.extra["ha-mode"]},
            "replication.factor / min.insync.replicas replace mirroring",
            "classic mirroring is removed in RabbitMQ 4: drop the policy",
        )
    if q.durable is False:
        yield finding(
            "source.hygiene",
            "info",
            {"durable": False},
            "Kafka topics are durable",
            "transient queue: confirm the messages are worth migrating",
        )
    if ctx.source.kind == "rabbitmq":
        shadowed = [
            p.name
            for p in matching_policies(ctx.source.policies, q.name, q.vhost, "queue", q.type)
            if p.name != q.policy
        ]
        if shadowed:
            yield finding(
                "source.hygiene",
                "info",
                {"effective policy": q.policy, "overridden policies": shadowed},
                MAPPING,
                "only one policy applies per queue: merge or delete the overridden ones",
            )


@rule("source.hygiene", scope="source")
def source_hygiene(ctx: SourceContext):
    s = ctx.source
    if s.kind != "rabbitmq":
        return
    import re

    voided = []
    # a prefix-filtered live read does not hold every queue: "matches nothing" would lie
    filtered = any(n.startswith("queues filtered by prefix") for n in s.notes)
    for p in [] if filtered else s.policies:
        try:
            rx = re.compile(p.pattern)
        except re.error:
            voided.append(f"{p.name} (invalid pattern)")
            continue
        targets = []
        if p.apply_to != "exchanges":
            targets += [q.name for q in s.queues if p.vhost in (None, q.vhost)]
        if p.apply_to in ("exchanges", "all"):
            targets += [e.name for e in s.exchanges if p.vhost in (None, e.vhost)]
        if not any(rx.search(t) for t in targets):
            voided.append(p.name)
    if voided:
        yield finding(
            "source.hygiene",
            "info",
            {"policies matching nothing": voided},
            MAPPING,
            "delete the voided policies",
        )
    if s.parameters:
        yield finding(
            "source.hygiene",
            "info",
            {"runtime parameters": s.parameters},
            "shovels/federation become the bridge or producer changes",
            "list what each shovel/federation link moves; migrate the queues at both ends together",
        )
