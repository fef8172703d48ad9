"""``queue-type.stream``: RabbitMQ streams already have log semantics."""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, finding, rule


@rule("queue-type.stream")
def stream(ctx: QueueContext):
    q = ctx.queue
    if q.type == "stream":
        evidence = {"x-queue-type": "stream"}
        if q.extra.get("x-max-age"):
            evidence["x-max-age"] = q.extra["x-max-age"]
        yield finding(
            "queue-type.stream",
            "info",
            evidence,
            "a topic read by consumer groups (offsets, replay), not a share group",
            "map each stream consumer to a consumer group; offsets replace x-stream-offset",
        )
