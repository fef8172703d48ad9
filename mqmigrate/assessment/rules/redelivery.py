"""``retry.limit`` and ``dlq.redrive``: how many times a message is retried and where it goes."""

from __future__ import annotations

from typing import Any

from mqmigrate.assessment.deadletters import sink_evidence
from mqmigrate.assessment.rules.base import QueueContext, finding, rule, shown, source_name


@rule("retry.limit")
def retry_limit(ctx: QueueContext):
    q, caps = ctx.queue, ctx.caps
    if (
        q.type == "stream"
        or ctx.is_dead_letter_queue()
        or ctx.is_expiry_queue()
        or ctx.delay_tier() is not None
    ):
        return  # streams never redeliver; dead-letter, expiry and wait queues are not consumed
    name = source_name(
        q,
        "delivery_limit",
        {"sqs": "maxReceiveCount", "rabbitmq": "x-delivery-limit"}.get(
            ctx.source.kind, "max-delivery-attempts"
        ),
    )
    limit = q.delivery_limit
    mapping = (
        f"share.delivery.count.limit ({caps.delivery_min}-{caps.delivery_max}, cap "
        f"raisable to {caps.delivery_raisable_max}"
        + (
            "; per group since 4.3)"
            if caps.per_group_delivery_limit
            else "; broker-wide before 4.3)"
        )
    )
    remediation = (
        "choose a limit in 2-10 (raise the broker cap up to 25), or count attempts "
        "in a header in the worker and dead-letter at the source's limit"
    )
    if limit is None:
        if q.type == "quorum":
            yield finding(
                "retry.limit",
                "warn",
                {
                    name: "unset: unlimited (RabbitMQ 3.x) or 20 (RabbitMQ 4.x); "
                    "broker version unknown"
                },
                mapping,
                remediation,
            )
        else:
            yield finding(
                "retry.limit",
                "info",
                {name: None},
                mapping,
                "find the source's redelivery limit; the plan uses 5",
                unknown=True,
            )
        return
    if limit == -1:
        evidence = {name: shown(q, "delivery_limit", "unlimited")}
    elif caps.delivery_min <= limit <= caps.delivery_max:
        return
    else:
        evidence = {name: shown(q, "delivery_limit", limit)}
        if q.type == "quorum" and limit == 20 and "delivery_limit" in q.defaulted:
            evidence["note"] = "RabbitMQ 4.x quorum-queue default"
            # observed on 4.0.5: every return counts (nack/reject requeue, a closed channel's
            # unacked messages, AMQP 1.0 released and modified), the bridge's returns too
            evidence["bridge"] = (
                "the bridge's returns count too (a release during a Kafka outage, its prefetch "
                "on every restart): after 20 the broker drops or dead-letters the message"
            )
            remediation += (
                "; for the migration, a policy with a higher delivery-limit keeps "
                "bridge restarts from using up the application's attempts"
            )
    yield finding("retry.limit", "warn", evidence, mapping, remediation)


@rule("dlq.redrive")
def dlq(ctx: QueueContext):
    q, caps = ctx.queue, ctx.caps
    severity = "info" if caps.share_dlq else "warn"
    mapping = (
        "share-group dead-letter topic dlq.<topic> (KIP-1191, errors.deadletterqueue."
        "topic.name, Kafka 4.4+)"
        if caps.share_dlq
        else "no broker DLQ before Kafka 4.4: the worker produces to dlq.<topic> then REJECTs"
    )
    remediation = (
        "create dlq.<topic>; the plan sets errors.deadletterqueue.topic.name"
        if caps.share_dlq
        else "use the mqmigrate worker (forwards to dlq.<topic> then REJECTs) or upgrade "
        "to Kafka 4.4"
    )
    if q.dead_letter is not None and ctx.delay_tier() is None and not ctx.is_expiry_queue():
        dl = q.dead_letter
        evidence: dict[str, Any] = {}
        if dl.exchange is not None:
            evidence["x-dead-letter-exchange"] = dl.exchange
            if dl.routing_key is not None:
                evidence["x-dead-letter-routing-key"] = dl.routing_key
            if dl.strategy:
                evidence["x-dead-letter-strategy"] = dl.strategy
        if dl.target is not None:
            evidence[
                "RedrivePolicy.deadLetterTargetArn"
                if ctx.source.kind == "sqs"
                else source_name(q, "dead_letter", "dead-letter-address")
            ] = dl.target
            if dl.strategy and dl.exchange is None:
                evidence["how"] = dl.strategy
        yield finding("dlq.redrive", severity, evidence, mapping, remediation)
    if ctx.is_dead_letter_queue():
        yield finding(
            "dlq.redrive",
            "info",
            sink_evidence(
                q, "dead-letter queue of", ctx.dead_letter_sources, "dead-letter-address"
            ),
            "becomes the dlq.<topic> of its source workloads",
            "do not migrate as a work queue; drain or replay it into the source's dlq.<topic>",
        )
