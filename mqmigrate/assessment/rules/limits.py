"""``backpressure.max-length`` and ``size.max-message``: length and size limits."""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, finding, rule, shown, source_name

#: room kept for record headers (mq.* source headers, ids) above the payload
HEADER_ALLOWANCE = 4096


@rule("backpressure.max-length")
def max_length(ctx: QueueContext):
    q = ctx.queue
    evidence: dict = {}
    if q.max_length is not None:
        evidence[source_name(q, "max_length", "x-max-length")] = shown(
            q, "max_length", q.max_length
        )
    if q.max_length_bytes is not None:
        evidence["x-max-length-bytes" if ctx.source.kind == "rabbitmq" else "max-size-bytes"] = (
            q.max_length_bytes
        )
    if not evidence or q.type == "stream" and q.max_length is None:
        if q.type == "stream" and q.max_length_bytes is not None:
            yield finding(
                "backpressure.max-length",
                "info",
                evidence,
                "retention.bytes",
                "set retention.bytes per partition from the stream's limit",
            )
        return
    overflow = q.overflow or ("drop-head" if ctx.source.kind == "rabbitmq" else None)
    if overflow:
        evidence["overflow"] = overflow if q.overflow else f"{overflow} (default)"
    mapping = (
        "no depth backpressure: retention.bytes bounds disk, not backlog; producer quotas throttle"
    )
    if overflow == "PAGE":
        # Artemis pages to disk past the limit: no message is lost or refused, as in Kafka
        yield finding(
            "backpressure.max-length",
            "info",
            evidence,
            "retention.bytes bounds disk",
            "paging keeps every message on disk, as a topic does: set "
            "retention.bytes above the paged volume; alert on lag",
        )
        return
    if overflow == "DROP":
        remediation = (
            "new messages are silently dropped when full today; Kafka keeps "
            "accepting them: alert on share-group lag, bound disk with "
            "retention.bytes"
        )
    elif overflow in ("reject-publish", "reject-publish-dlx", "BLOCK", "FAIL"):
        remediation = (
            "publishers are told 'full' today; in Kafka they are not: alert on "
            "share-group lag and use producer quotas"
        )
    else:
        remediation = (
            "old messages are dropped today; Kafka keeps them until retention: "
            "set retention.bytes/retention.ms, alert on lag"
        )
    yield finding("backpressure.max-length", "warn", evidence, mapping, remediation)


@rule("size.max-message")
def max_message(ctx: QueueContext):
    q, caps = ctx.queue, ctx.caps
    budget = caps.max_message_bytes - HEADER_ALLOWANCE
    mapping = (
        f"topic max.message.bytes (default {caps.max_message_bytes}) and the broker's "
        "message.max.bytes / producer max.request.size"
    )
    if q.max_message_size is not None:
        if q.max_message_size > budget:
            name = (
                "MaximumMessageSize"
                if ctx.source.kind == "sqs"
                else source_name(q, "max_message_size", "max_message_size")
            )
            yield finding(
                "size.max-message",
                "warn",
                {name: shown(q, "max_message_size", q.max_message_size), "kafka budget": budget},
                mapping,
                "raise max.message.bytes on the topic (and message.max.bytes, "
                "max.request.size) or move large payloads to object storage "
                "(claim check)",
            )
        return
    if q.avg_message_size is not None and q.avg_message_size > budget:
        yield finding(
            "size.max-message",
            "warn",
            {"avg_message_size": int(q.avg_message_size), "kafka budget": budget},
            mapping,
            "raise max.message.bytes or use a claim check",
        )
        return
    if ctx.source.kind in ("rabbitmq", "amqp1"):
        yield finding(
            "size.max-message",
            "info",
            {"max message size": None},
            mapping,
            "the broker accepts messages up to its global limit (RabbitMQ 16-128 "
            "MiB): measure the largest payload before cutover",
            unknown=True,
        )
