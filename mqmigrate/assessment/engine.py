"""The assessment engine: run every rule over every queue and source, derive targets."""

from __future__ import annotations

from collections import Counter
from typing import Any

from mqmigrate.assessment import deadletters
from mqmigrate.assessment.access import rabbitmq_access, sqs_access
from mqmigrate.assessment.header_map import header_mapping
from mqmigrate.assessment.model import (
    ASSESSMENT_SCHEMA,
    Derived,
    Finding,
    KafkaCapabilities,
    FindingSeverity,
    Status,
    Target,
    Workload,
)
from mqmigrate.assessment.rules import REGISTRY, QueueContext, SourceContext
from mqmigrate.assessment.target import recommend, topic_names
from mqmigrate.inventory.model import Estate, Queue, Source
from mqmigrate.redact import public_endpoint

_ORDER = {"blocker": 0, "warn": 1, "info": 2}


def _source_ref(s: Source, vhost: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"kind": s.kind, "name": s.name}
    # where the source is, secret-free, so a playbook planned from the JSON (plan --from) can
    # still say where to connect; an export file has none
    endpoint = public_endpoint(s.endpoint)
    if endpoint:
        ref["endpoint"] = endpoint
    if vhost is not None:
        ref["vhost"] = vhost
    if s.region:
        ref["region"] = s.region
    if (s.version or "").startswith("Azure Service Bus"):
        ref["broker"] = "servicebus"  # plan: no browse for a shadow copy (drain-only)
    return ref


def verdict_of(findings: list[Finding], mode: str | None) -> str:
    """share-group / share-group-with-changes / consumer-group / redesign."""
    fired = [f for f in findings if f.status is Status.fired]
    if mode == "none":
        return "redesign"
    if mode == "consumer-group":
        blockers = {f.rule for f in fired if f.severity is FindingSeverity.blocker}
        return "redesign" if blockers & {"delay.delivery"} else "consumer-group"
    if any(f.severity is FindingSeverity.warn for f in fired):
        return "share-group-with-changes"
    return "share-group"


def workload_id(s: Source, vhost: str | None, name: str | None) -> str:
    where = f"{vhost}/" if vhost is not None else ""
    return f"{s.kind}:{s.name}:{where}{name if name is not None else '*'}"


def assess(
    estate: Estate, caps: KafkaCapabilities | None = None, prefix: str | None = None
) -> list[Workload]:
    """Every workload of the estate with its findings and target (only queues whose name
    starts with ``prefix`` when given; the others still inform the rules)."""
    caps = caps or KafkaCapabilities()
    workloads: list[Workload] = []
    queue_rules = [r for r in REGISTRY.values() if r.scope == "queue"]
    source_rules = [r for r in REGISTRY.values() if r.scope == "source"]
    for s in estate.sources:
        sctx = SourceContext(source=s, caps=caps)
        src_findings = [f for r in source_rules for f in r.check(sctx)]
        if src_findings:
            workloads.append(
                Workload(
                    id=workload_id(s, None, None),
                    source=_source_ref(s),
                    queue=None,
                    verdict="not-a-workload",
                    findings=_sorted(src_findings),
                )
            )
        graph = deadletters.build(s)
        names = topic_names(s)
        for q in s.queues:
            if prefix and not q.name.startswith(prefix):
                continue
            edges = [e for e in s.edges if e.queue == q.name and e.vhost == q.vhost]
            dl_sources = graph.dead_letter_sources(q, s.kind)
            ctx = QueueContext(
                source=s,
                queue=q,
                caps=caps,
                edges=edges,
                dead_letter_sources=dl_sources,
                dead_letters=graph,
            )
            findings = _sorted([f for r in queue_rules for f in r.check(ctx)])
            target = recommend(s, q, findings, caps, graph, names=names)
            target.access = _access(s, q, edges, target)
            if target.mode.value != "none" and target.role not in ("dead-letter", "delay-tier"):
                mapping = header_mapping(s, q, edges)
                if mapping is not None:
                    target.headers = Derived(
                        value=mapping,
                        reason="transport-only headers of "
                        "the source broker are dropped (each says why)",
                    )
            workloads.append(
                Workload(
                    id=workload_id(s, q.vhost, q.name),
                    source=_source_ref(s, q.vhost),
                    queue=q.name,
                    verdict=verdict_of(findings, target.mode.value),
                    findings=findings,
                    target=target,
                )
            )
    return workloads


def _access(s: Source, q: Queue, edges: list, target: Target) -> Derived | None:
    """Who produces and consumes, from the source's permissions or queue policy (None: unknown
    or not a workload)."""
    if target.mode.value == "none" or target.role in ("dead-letter", "delay-tier"):
        return None
    group = target.group.value if target.group is not None else None
    if s.kind == "rabbitmq":
        value = rabbitmq_access(s, q, edges, target.topic.value, group)
        reason = f"RabbitMQ permissions on vhost {q.vhost}"
    elif s.kind == "sqs":
        value = sqs_access(q, target.topic.value, group)
        reason = "the SQS queue policy"
    else:
        return None
    if value is None:
        return None
    return Derived(
        value=value,
        reason=f"from {reason}: principals are placeholders named after "
        "the source's users; confirm how each is spelled on the Kafka cluster",
    )


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(
        findings, key=lambda f: (_ORDER[f.severity.value], f.status.value != "fired", f.rule)
    )


def summary(workloads: list[Workload]) -> dict[str, Any]:
    """Counts for the report's summary line and the JSON ``summary``."""
    queues = [w for w in workloads if w.queue is not None]
    sev = Counter(
        f.severity.value for w in workloads for f in w.findings if f.status is Status.fired
    )
    return {
        "workloads": len(queues),
        "verdicts": {
            v: sum(1 for w in queues if w.verdict == v)
            for v in ("share-group", "share-group-with-changes", "consumer-group", "redesign")
        },
        "findings": {k: sev.get(k, 0) for k in ("blocker", "warn", "info")},
        "unknown": sum(1 for w in workloads for f in w.findings if f.status is Status.unknown),
        "rules": dict(
            sorted(
                Counter(
                    f.rule for w in workloads for f in w.findings if f.status is Status.fired
                ).items()
            )
        ),
    }


def document(workloads: list[Workload], caps: KafkaCapabilities | None = None) -> dict[str, Any]:
    """The ``mqmigrate.assessment/v1`` JSON document."""
    caps = caps or KafkaCapabilities()
    return {
        "schema": ASSESSMENT_SCHEMA,
        "kafka": {"version": ".".join(map(str, caps.version))},
        "workloads": [w.model_dump(mode="json", exclude_none=True) for w in workloads],
        "summary": summary(workloads),
    }
