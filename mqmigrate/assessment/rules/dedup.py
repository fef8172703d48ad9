"""``exactly-once.dedup``: broker-side deduplication the share group does not do."""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, finding, rule

MAPPING = (
    "no broker-side dedup for consumers: the idempotent producer removes producer "
    "retries only; consumers must be idempotent, keyed by the dedup id"
)
REMEDIATION = (
    "carry the dedup id (MessageDeduplicationId or the body hash) as a header and "
    "keep a processed-id store covering the dedup window (SQS: 5 minutes); if "
    "consume and produce must be atomic, use a consumer group with transactions"
)


@rule("exactly-once.dedup")
def dedup(ctx: QueueContext):
    q = ctx.queue
    evidence: dict = {}
    if q.content_based_dedup:
        evidence["ContentBasedDeduplication"] = True
    elif q.fifo:
        evidence["FifoQueue"] = "deduplication ids required on send"
    if q.fifo and q.dedup_scope:
        evidence["DeduplicationScope"] = q.dedup_scope
    if q.extra.get("dedup_window"):
        evidence["requiresDuplicateDetection"] = True
        evidence["duplicateDetectionHistoryTimeWindow"] = q.extra["dedup_window"]
    if q.settle_mode == "second":
        evidence["rcv-settle-mode"] = "second"
    tx = [c.tag for c in (q.consumers or []) if c.transactional]
    if tx:
        evidence["transactional consumers"] = tx
    if q.arguments.get("transactional") or q.extra.get("transactional"):
        evidence["transactional"] = True
    if evidence:
        # consuming inside a transaction means acks and publishes must commit together:
        # share groups have no transactional acknowledgements
        atomic = evidence.get("transactional") or evidence.get("transactional consumers")
        severity = "blocker" if atomic else "warn"
        yield finding("exactly-once.dedup", severity, evidence, MAPPING, REMEDIATION)
