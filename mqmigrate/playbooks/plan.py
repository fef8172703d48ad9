"""``plan``: an assessment → migration playbooks (the core; the CLI is ``mqmigrate.cli.plan``).

Input is either the engine's result objects (:func:`from_estate`, used for ``plan SOURCE...``)
or the ``mqmigrate.assessment/v1`` JSON document (:func:`load_assessment`, ``--from``).  Every
value comes from the assessment's target, whose one-line reasons become the comments above
the values in the YAML, so a reviewer sees why 12 partitions or a 45 s lock without the tool.

What is decided here (and documented in docs/playbooks.md, "plan"):

* one playbook workload per queue workload; request/reply queues (``mode: none``), source-wide
  entries and dead-letter queues (folded into the DLQ topic of the queue that dead-letters
  into them) are left out, each with a line saying why;
* fan-out: every queue bound to one fan-out exchange reads the same topic with its own share
  group; the topic's partitions and retention are the largest any of them needs, so the
  workloads never disagree about the one topic;
* the source is referenced without secrets: the endpoint without user information (only when
  it is a URI, not an export file) and credentials as ``{env: VAR}``;
* ACL grants (``target.acls``) come from the assessment's ``access`` (RabbitMQ permissions, SQS
  queue policies), plus ``dlq-write`` for the consumers when the worker forwards dead letters;
  the principals are placeholders, so a ``security.acls`` decision asks a human to confirm them;
* header drops (``mapping.headers``) come from the assessment's ``headers``: transport-only
  headers of the source broker, each with its reason as a comment;
* decisions are the blocker and warn findings (fired or unknown), one per rule;
* retry tiers (``target.retry``) for a share-group workload whose assessment fires
  ``delay.delivery``: the delays the evidence names (SQS ``DelaySeconds``, an Artemis
  redelivery delay, the TTL of a RabbitMQ TTL+DLX wait queue), else a default backoff of
  1 s, 30 s, 5 min; an Artemis redelivery multiplier becomes the geometric series of tiers up
  to its maximum delay; each tier with its reason as a comment.  The work queue of a RabbitMQ
  TTL+DLX retry loop (its wait queue is left out as a delay tier) gets a drain quiet period
  longer than the TTL, so no parked message comes back after the drain ended;
* the strategy is ``shadow-then-drain``, except SQS defaults to ``drain-only`` because a shadow
  copy of an SQS queue needs an SNS fan-out the source may not have.

Output is deterministic: no timestamps, sorted maps, stable workload order, so re-running
``plan`` on an unchanged estate rewrites nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from pydantic import ValidationError

from mqmigrate.assessment.model import (
    ASSESSMENT_SCHEMA,
    Finding,
    KafkaCapabilities,
    FindingSeverity,
    Status,
    Target,
    Workload,
)
from mqmigrate.errors import ConfigError, PlaybookInvalid, UsageError
from mqmigrate.playbooks.model import Playbook, ShareGroupConfigs
from mqmigrate.playbooks.render import (
    DecisionSpec,
    Derived,
    WorkloadSpec,
    build_playbook,
    write,
)
from mqmigrate.redact import public_endpoint

STRATEGIES: tuple[str, ...] = ("shadow-then-drain", "drain-only", "dual-write")

#: environment variable each source kind's credentials are read from (never the value)
CREDENTIAL_ENV = {"rabbitmq": "RABBITMQ_URI", "sqs": "AWS_PROFILE", "amqp1": "AMQP1_URI"}
_CREDENTIAL_WHY = {
    "rabbitmq": "credentials by reference: the bridge reads the AMQP URI from RABBITMQ_URI",
    "sqs": "credentials by reference: boto3's credential chain with the profile in AWS_PROFILE",
    "amqp1": "credentials by reference: the bridge reads the AMQP 1.0 URI from AMQP1_URI",
}

#: assessment key names → playbook mapping.key strategies
_KEY_STRATEGY = {"MessageGroupId": "message-group-id", "group-id": "amqp-group-id"}

#: the opening of each decision's question, by rule; {evidence} is the finding's evidence
_QUESTIONS = {
    "ordering.fifo": "Ordering is per message group ({evidence}): is a keyed consumer group "
    "right, and how many groups are active at once (the partition count)?",
    "exactly-once.dedup": "The source deduplicates ({evidence}): which id do consumers "
    "deduplicate on, and where is the processed-id store?",
    "visibility.timeout": "Processing may outlast the record lock ({evidence}): raise the "
    "broker bounds or shorten processing?",
    "retry.limit": "The source redelivers up to {evidence}; share groups allow 2-10: keep the "
    "planned limit or count attempts in the worker?",
    "dlq.redrive": "The source dead-letters ({evidence}): who reads the dead letters today, "
    "and do they move to the DLQ topic before the consumers phase?",
    "delay.delivery": "Messages are delayed ({evidence}): delay-tier topics or a scheduler?",
    "priority": "Messages are prioritised ({evidence}): a topic per priority band?",
    "ttl.expiry": "Messages expire in the source ({evidence}). Kafka has no per-record TTL: "
    "should consumers skip expired records (expires-at header) or process them "
    "late?",
    "backpressure.max-length": "The source bounds its depth ({evidence}): which lag alert and "
    "producer quota replace it?",
    "size.max-message": "Messages may be large ({evidence}): raise the limits or use a "
    "claim-check?",
    "routing.pattern": "Routing depends on patterns ({evidence}): do producers pick the topic, "
    "or is a router needed?",
    "security.mapping": "Access is scoped in the source ({evidence}): which principals get "
    "which prefixed ACLs?",
    "client.share-consumer": "Consumers use {evidence}: move them to a client with a share "
    "consumer, or keep them on a consumer group meanwhile?",
    "queue-type.last-value": "Only the latest message per key counts ({evidence}): can "
    "consumers skip superseded values a compacted topic still holds?",
    "queue-type.non-destructive": "Every consumer reads every message ({evidence}): which "
    "consumer groups, and what retention replaces the queue's "
    "bound?",
    "trigger.on-arrival": "A process is started when messages arrive ({evidence}): run it as "
    "a long-lived consumer or scale it on lag?",
    "lock.renewal": "Consumers may renew their message locks ({evidence}): how long do they "
    "really hold a message, and does the record lock cover it?",
    "routing.auto-forward": "Messages arrive by auto-forwarding ({evidence}): do the "
    "forwarding entities' producers publish to this topic, or is a "
    "router needed?",
    "naming.unresolved": "The source name is not known offline ({evidence}): what is the "
    "deployed name, and are the placeholder topic and group right?",
}


@dataclass(frozen=True)
class Assessment:
    """What ``plan`` reads: assessed workloads plus what the JSON document does not carry."""

    workloads: tuple[Workload, ...]
    #: the Kafka version the assessment assumed ("4.4")
    kafka_version: str
    #: where it came from, for the header comment (paths as given, URIs without credentials)
    origin: str = ""


@dataclass(frozen=True)
class PlannedFile:
    """One playbook file ``plan`` will write."""

    name: str
    playbook: Playbook
    header: str


@dataclass(frozen=True)
class Plan:
    """The playbooks to write and the workloads left out (assessment id, why)."""

    files: tuple[PlannedFile, ...]
    left_out: tuple[tuple[str, str], ...]


def origin_label(args: Iterable[str]) -> str:
    """SOURCE arguments for the header comment: URIs reduced to :func:`public_endpoint`."""
    return ", ".join(public_endpoint(a) or "(uri)" if "://" in a else a for a in args)


def from_estate(
    estate: Any, caps: KafkaCapabilities, *, prefix: str | None = None, origin: str = ""
) -> Assessment:
    """Assess ``estate`` (an inventory :class:`~mqmigrate.inventory.model.Estate`)."""
    from mqmigrate.assessment.engine import assess

    workloads = assess(estate, caps, prefix)
    return Assessment(tuple(workloads), ".".join(map(str, caps.version)), origin)


def load_assessment(path: Path) -> Assessment:
    """Read an ``mqmigrate.assessment/v1`` JSON document (``assess --format json``)."""
    from mqmigrate.inventory.readers._files import parse_json, read_text

    data = parse_json(path, read_text(path))
    if not isinstance(data, dict) or data.get("schema") != ASSESSMENT_SCHEMA:
        raise ConfigError(
            f"{path}: not an {ASSESSMENT_SCHEMA} document",
            hint="write one with 'mqmigrate assess SOURCE --format json --out FILE'",
        )
    raw = data.get("workloads")
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: workloads: expected an array")
    workloads = []
    for i, item in enumerate(raw):
        if isinstance(item, dict) and "queue" not in item:
            # the JSON omits null keys: a source-wide entry has no "queue"
            item = {**item, "queue": None}
        try:
            workloads.append(Workload.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in ("workloads", i, *err["loc"]))
            raise ConfigError(f"{path}: {where}: {err['msg']}") from exc
    version = str((data.get("kafka") or {}).get("version") or "4.4")
    return Assessment(tuple(workloads), version, str(path))


# ------------------------------------------------------------------------------ workloads


def _derived(d: Any) -> Any:
    """An assessment Derived → a render Derived (None stays None)."""
    return None if d is None else Derived(d.value, d.reason)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._") or "queue"
    return slug[:100]


def _evidence(f: Finding) -> str:
    if not f.evidence:
        return "see the assessment"
    parts = []
    for k, v in f.evidence.items():
        if isinstance(v, (list, dict)):
            v = json.dumps(v, ensure_ascii=False, sort_keys=True)
        parts.append(f"{k}={'unknown' if v is None else v}")
    return "; ".join(parts)


def _question(f: Finding) -> str:
    lead = _QUESTIONS.get(f.rule, "{evidence}: decide how to handle this before cutover.")
    text = lead.format(evidence=_evidence(f))
    if f.status is Status.unknown:
        text = "Not visible in the source, check it: " + text
    return f"{text} Suggested: {f.remediation}"


def _decisions(
    findings: Sequence[Finding], extra: Sequence[DecisionSpec] = ()
) -> list[DecisionSpec]:
    """Blocker and warn findings (fired or unknown), one per rule, blockers first."""
    out: list[DecisionSpec] = []
    seen: set[str] = set()
    for f in findings:
        if f.severity not in (FindingSeverity.blocker, FindingSeverity.warn) or f.rule in seen:
            continue
        seen.add(f.rule)
        out.append(DecisionSpec(f.rule, _question(f)))
    out.extend(d for d in extra if d.rule not in seen)
    return out


def _left_out_reason(w: Workload) -> str | None:
    """Why ``w`` gets no playbook workload, or None when it gets one."""
    if w.queue is None or w.target is None:
        return (
            "source-wide findings, not a queue (its blockers and warnings are decisions "
            "of each workload of the source)"
        )
    if w.target.mode.value == "none":
        return w.target.mode.reason
    if w.target.role == "dead-letter":
        return f"{w.target.topic.reason} ({w.target.topic.value})"
    return None


def _source_ref(w: Workload) -> tuple[dict[str, Any], dict]:
    kind = w.source["kind"]
    ref: dict[str, Any] = {"kind": kind}
    # the assessment carries the endpoint secret-free; stripped again in case a hand-edited
    # assessment document put credentials into it
    endpoint = public_endpoint(w.source.get("endpoint"))
    if endpoint:
        ref["endpoint"] = endpoint
    ref["credentials"] = {"env": CREDENTIAL_ENV[kind]}
    ref["queue"] = w.queue
    if kind == "rabbitmq" and w.source.get("vhost") is not None:
        ref["vhost"] = w.source["vhost"]
    if kind == "sqs" and w.source.get("region"):
        ref["region"] = w.source["region"]
    return ref, {("source", "credentials"): _CREDENTIAL_WHY[kind]}


def _key(w: Workload) -> Derived:
    """The mapping key of a consumer-group workload."""
    t = w.target
    if t.key is not None:
        kind = w.source["kind"]
        if kind == "rabbitmq":
            # single active consumer orders the whole queue; the routing key is the closest
            # per-entity order a producer already sets
            return Derived(
                "routing-key",
                "single active consumer orders the whole queue: keyed "
                "by routing key keeps order per routing key (see ordering.fifo)",
            )
        return Derived(_KEY_STRATEGY.get(t.key.value, "amqp-group-id"), t.key.reason)
    if t.role == "stream":
        return Derived(
            "routing-key",
            "stream: consumers read in offset order per partition; "
            "the routing key keeps one entity's records on one partition",
        )
    return Derived(
        "routing-key",
        "no message group in the source: keyed by routing key so one "
        "entity's records stay in order",
    )


def _broker_wide_delivery_limit(
    share_configs: dict[str, Any], caps: KafkaCapabilities
) -> list[DecisionSpec]:
    """Before Kafka 4.3 a share group cannot carry ``share.delivery.count.limit`` (the broker
    answers "Unknown group config name"): take it out of the group's configs and ask for the
    broker-wide ``group.share.delivery.count.limit`` instead, so the limit is never dropped
    unseen."""
    limit = share_configs.pop("share.delivery.count.limit", None)
    if limit is None:
        return []
    value = limit.value if isinstance(limit, Derived) else limit
    why = f" ({limit.reason})" if isinstance(limit, Derived) and limit.reason else ""
    version = f"{caps.version[0]}.{caps.version[1]}"
    return [
        DecisionSpec(
            "retry.limit.broker-wide",
            (
                f"Kafka {version} has no per-group share.delivery.count.limit (4.3+): this workload's "
                f"limit {value}{why} can only be the brokers' group.share.delivery.count.limit, which "
                "applies to every share group of the cluster (the worker reads it). Suggested: set "
                f"group.share.delivery.count.limit={value} on every broker, or upgrade to Kafka 4.3."
            ),
        )
    ]


def _spec(
    w: Workload,
    *,
    pb_id: str,
    caps: KafkaCapabilities,
    replication: int,
    shared: Mapping[str, tuple[Derived, Derived, int]],
    source_findings: Sequence[Finding],
    strategy: str | None,
    strategy_why: str | None,
) -> WorkloadSpec:
    t = w.target
    assert t is not None
    source, reasons = _source_ref(w)
    topic = t.topic.value
    partitions, retention, sharers = shared.get(topic, (_derived(t.partitions), None, 1))
    topic_configs = _topic_configs(t, retention, replication)
    share_group = t.mode.value == "share-group"
    known = set(ShareGroupConfigs.model_fields[n].alias for n in ShareGroupConfigs.model_fields)
    share_configs = {k: _derived(v) for k, v in t.group_configs.items() if k in known}
    extra: list[DecisionSpec] = []
    if share_group and not caps.per_group_delivery_limit:
        extra += _broker_wide_delivery_limit(share_configs, caps)
    key: Any = "none"
    if not share_group:
        key = _key(w)
    dlq_topic = _derived(t.dlq_topic)
    use_broker_dlq: Any = False
    if dlq_topic is not None:
        use_broker_dlq = _use_broker_dlq(caps, share_group)
        if sharers > 1 and share_group:
            reasons[("target", "dlq", "topic")] = (
                f"{dlq_topic.reason}; shared by the {sharers} share groups of the fan-out"
            )
    extra += _redrive_decisions(w, dlq_topic)
    if t.fanout is not None:
        extra.append(_fanout_decision(t.fanout, topic))
    retry, retry_reasons = _retry(w, share_group)
    reasons.update(retry_reasons)
    acls, acl_reasons, acl_decision = _acls(w, dlq_topic, use_broker_dlq)
    reasons.update(acl_reasons)
    if acl_decision is not None:
        extra.append(acl_decision)
    rename, drop, header_reasons = _headers(w)
    reasons.update(header_reasons)
    if t.fanout is not None and strategy == "shadow-then-drain":
        groups = t.fanout.value.get("groups", [])
        reasons[("phases", "shadow", "steps", 0)] = (
            f"fan-out: every queue has this step; the first of the {len(groups)} workloads to run "
            f"it copies exchange {t.fanout.value.get('exchange')} into {topic}, the others find "
            "that copy running and reuse it (one copy, not one per queue)"
        )
    if strategy_why:
        reasons[("strategy",)] = strategy_why
    return WorkloadSpec(
        id=pb_id,
        source=source,
        topic=_derived(t.topic),
        partitions=partitions,
        group=_derived(t.group),
        replication=Derived(replication, _replication_why(replication)),
        topic_configs=topic_configs,
        consumer_type="share-group" if share_group else "consumer-group",
        share_configs=share_configs if share_group else {},
        share_client=share_client(caps) if share_group else {},
        key=key,
        dlq_topic=dlq_topic,
        use_broker_dlq=use_broker_dlq,
        acls=acls,
        retry=retry,
        header_rename=rename,
        header_drop=drop,
        decisions=tuple(_decisions([*w.findings, *source_findings], extra)),
        strategy=strategy,
        reasons=reasons,
    )


def _topic_configs(t: Target, retention: Derived | None, replication: int) -> dict[str, Any]:
    """The target's topic configs, with the retention a fan-out's queues agree on and
    min.insync.replicas when there are replicas enough."""
    topic_configs: dict[str, Any] = {k: _derived(v) for k, v in t.topic_configs.items()}
    if retention is not None:
        topic_configs["retention.ms"] = retention
    if replication >= 3:
        topic_configs["min.insync.replicas"] = Derived(
            2, f"acks=all survives one of the {replication} replicas down"
        )
    return topic_configs


def _use_broker_dlq(caps: KafkaCapabilities, share_group: bool) -> Derived:
    """Whether the broker dead-letters (a share group on Kafka 4.4+) or the worker forwards."""
    if share_group and caps.share_dlq:
        return Derived(
            True,
            f"Kafka {caps.version[0]}.{caps.version[1]} with "
            "share.version=2: the broker dead-letters at the delivery "
            "limit (KIP-1191)",
        )
    if share_group:
        return Derived(
            False,
            f"Kafka {caps.version[0]}.{caps.version[1]} has no "
            "share-group DLQ (4.4+): the worker forwards, then REJECTs",
        )
    return Derived(
        False,
        "a consumer group has no broker DLQ: the worker forwards failed records, then commits",
    )


def _redrive_decisions(w: Workload, dlq_topic: Derived | None) -> list[DecisionSpec]:
    """The dlq.redrive checklist items: the source's dead letters' readers must move."""
    t = w.target
    extra: list[DecisionSpec] = []
    if (
        dlq_topic is not None
        and not any(f.rule == "dlq.redrive" for f in w.findings)
        and t.dlq_topic.reason.startswith("source dead-letters")
    ):
        extra.append(
            DecisionSpec(
                "dlq.redrive",
                _QUESTIONS["dlq.redrive"].format(evidence="dead-letter target set")
                + f" Suggested: point them at {dlq_topic.value}.",
            )
        )
    if any(f.rule == "dlq.redrive" for f in w.findings):
        # an info finding on 4.4+, still a decision: the dead letters' readers must move
        f = next(f for f in w.findings if f.rule == "dlq.redrive")
        extra.append(
            DecisionSpec(
                "dlq.redrive",
                _QUESTIONS["dlq.redrive"].format(evidence=_evidence(f))
                + (
                    f" Suggested: point them at {dlq_topic.value}." if dlq_topic is not None else ""
                ),
            )
        )
    return extra


def _fanout_decision(fanout: Any, topic: str) -> DecisionSpec:
    """Info in the assessment, but the cutover must not copy the exchange once per queue."""
    groups = fanout.value.get("groups", [])
    return DecisionSpec(
        "fanout.share-groups",
        (
            f"Fan-out exchange {fanout.value.get('exchange')} becomes one topic {topic} read by "
            f"{len(groups)} share groups ({', '.join(groups)}): one bridge copies the exchange "
            "into the topic for all of them (not one per queue), and each group's consumers "
            "switch on their own; agreed?"
        ),
    )


#: records one share fetch acquires for a migrated work queue (docs/benchmarks.md, work-queue
#: tail): every record acquired by a consumer whose handlers are busy waits for them.  Not the
#: worker SDK's default (50): with the client's soft limit and one share consumer per handler
#: one worker process's tail is about the same with both (p99 42-52 ms against 31-51 ms), with
#: 2 consumers for 8 handlers 1 falls behind 500 msg/s, and 1 drains a backlog of small
#: producer batches ~60x slower
WORK_QUEUE_MAX_POLL_RECORDS = 1
#: KIP-1206: the broker honours max.poll.records strictly from this version on
STRICT_RECORD_LIMIT_SINCE = (4, 2)


def share_client(
    caps: KafkaCapabilities, client_has_acquire_mode: bool | None = None
) -> dict[str, Derived]:
    """The share consumers' client settings for a work queue, each with its reason.

    ``client_has_acquire_mode``: whether the client the worker runs on can set
    ``share.acquire.mode`` (default: ask the installed confluent-kafka).
    """
    from mqmigrate.kafka.share import client_supports_acquire_mode

    if client_has_acquire_mode is None:
        client_has_acquire_mode = client_supports_acquire_mode()
    kafka = f"Kafka {caps.version[0]}.{caps.version[1]}"
    why = (
        "a work queue: a record a busy consumer acquired waits for it, so each fetch "
        "takes what an idle handler can start and no process holds records another could "
        "start; raise it (the worker SDK's default is 50) for handlers far faster than a "
        "fetch round trip: a backlog of small producer batches drains at about one fetch "
        "per record; keep one share consumer per handler thread with it (the worker's "
        "default): a consumer waits for its batch to be settled before it fetches again, "
        "so fewer of them fall behind a steady rate"
    )
    out: dict[str, Derived] = {}
    if caps.version < STRICT_RECORD_LIMIT_SINCE:
        why += f"; a soft limit: {kafka} has no strict one (KIP-1206, 4.2+)"
    elif client_has_acquire_mode:
        out["share.acquire.mode"] = Derived(
            "record_limit", (f"{kafka} and the client honour max.poll.records strictly (KIP-1206)")
        )
    else:
        import confluent_kafka

        why += (
            f"; a soft limit: {kafka} has the strict one (KIP-1206) but confluent-kafka "
            f"{confluent_kafka.version()} has no share.acquire.mode, so a fetch may take a "
            "whole producer batch (the worker's pool spreads it over idle handlers)"
        )
    out["max.poll.records"] = Derived(WORK_QUEUE_MAX_POLL_RECORDS, why)
    return out


#: the worker's backoff when the source shows delays but not their values
DEFAULT_TIERS_MS = (1_000, 30_000, 300_000)
_WEEK_MS = 7 * 24 * 3600 * 1000


def _evidence_ms(f: Finding) -> list[tuple[int, str]]:
    """Delays (ms) a ``delay.delivery`` finding's evidence names, each with what it is."""
    found: list[tuple[int, str]] = []
    found += _backoff_series(f)
    for key, value in (f.evidence or {}).items():
        scale = {"DelaySeconds": 1000, "redelivery_delay": 1000, "x-message-ttl": 1}.get(key)
        if scale is None:
            continue
        try:
            # "30 (default)" is how the assessment marks an unset AWS default
            number = float(str(value).split()[0])
        except (ValueError, IndexError):
            continue
        if number > 0:
            what = {
                "DelaySeconds": "the queue's DelaySeconds",
                "redelivery_delay": "the broker's redelivery delay",
                "x-message-ttl": f"the TTL of wait queue {f.evidence.get('wait_queue')} "
                f"({f.evidence.get('loop')})",
            }[key]
            found.append((int(round(number * scale)), what))
    return found


def _backoff_series(f: Finding) -> list[tuple[int, str]]:
    """An Artemis exponential redelivery back-off (delay × multiplier^n up to the maximum) as
    the delays after the first; the first is the plain ``redelivery_delay``."""
    evidence = f.evidence or {}
    try:
        first = float(str(evidence.get("redelivery_delay")).split()[0]) * 1000
        factor = float(evidence.get("redelivery-delay-multiplier") or 0)
        ceiling = float(evidence.get("max-redelivery-delay") or 0)
    except (ValueError, IndexError):
        return []
    if first <= 0 or factor <= 1:
        return []
    ceiling = ceiling if ceiling > 0 else first * factor**7
    out: list[tuple[int, str]] = []
    delay = first * factor
    while len(out) < 7:
        step = int(round(min(delay, ceiling)))
        out.append(
            (
                step,
                f"the broker's redelivery back-off ({evidence['redelivery_delay']} s "
                f"× {factor:g}^{len(out) + 1}, at most {int(ceiling)} ms)",
            )
        )
        if delay >= ceiling:
            break
        delay *= factor
    return out


def _retry(w: Workload, share_group: bool) -> tuple[dict[str, Any] | None, dict[tuple, str]]:
    """``target.retry`` (tiers, tier topic configs) when the source delays messages."""
    from mqmigrate.kafka.delays import DelayTiers, label

    findings = [
        f
        for f in w.findings
        if f.rule == "delay.delivery"
        and f.severity in (FindingSeverity.blocker, FindingSeverity.warn)
    ]
    if not findings or not share_group:
        return None, {}
    named: dict[int, str] = {}
    for f in findings:
        for ms, what in _evidence_ms(f):
            named.setdefault(max(ms, DelayTiers.MIN_MS), what)
    reasons: dict[tuple, str] = {}
    if named:
        values = sorted(named)[: DelayTiers.MAX_TIERS]
        why = {ms: f"{label(ms)}: {named[ms]}" for ms in values}
        reasons[("target", "retry")] = (
            "the source delays messages (delay.delivery); Kafka has no delay: the worker "
            "reads these tier topics and hands each record over at its due time "
            "(Worker(..., retry_tiers=tiers))"
        )
    else:
        values = list(DEFAULT_TIERS_MS)
        why = {
            ms: f"{label(ms)}: default backoff (the source's delays are per message; add "
            "a tier for each delay producers use)"
            for ms in values
        }
        reasons[("target", "retry")] = (
            "the source delays messages per message (delay.delivery) and the values are not "
            "in the inventory: a default backoff schedule; edit the tiers to the delays "
            "producers send (Worker(..., retry_tiers=tiers))"
        )
    tiers = [label(ms) for ms in values]
    for i, ms in enumerate(values):
        reasons[("target", "retry", "tiers", i)] = why[ms]
    retention = max(_WEEK_MS, 2 * values[-1])
    reasons[("target", "retry", "configs", "retention.ms")] = (
        "a record waits in a tier at most its delay; a week (or twice the longest tier) "
        "leaves room for a stopped worker"
    )
    return {"tiers": tiers, "configs": {"retention.ms": retention}}, reasons


def _loop_key(w: Workload, queue: str | None) -> tuple:
    return (w.source.get("kind"), w.source.get("name"), w.source.get("vhost"), queue)


def _retry_loops(workloads: Sequence[Workload]) -> dict[tuple, tuple[str, str, int]]:
    """TTL+DLX retry loops the assessment found: (source, vhost, queue) of both the work queue
    and its wait queue → (work queue, wait queue, TTL ms)."""
    out: dict[tuple, tuple[str, str, int]] = {}
    for w in workloads:
        for f in w.findings:
            evidence = f.evidence or {}
            if f.rule != "delay.delivery" or "wait_queue" not in evidence or w.queue is None:
                continue
            try:
                ttl = int(evidence.get("x-message-ttl") or 0)
            except (TypeError, ValueError):
                continue
            loop = (w.queue, str(evidence["wait_queue"]), ttl)
            out[_loop_key(w, w.queue)] = loop
            out[_loop_key(w, loop[1])] = loop
    return out


def _with_loop_quiet(spec: WorkloadSpec, wait_queue: str, ttl_ms: int) -> WorkloadSpec:
    """The drain's quiet period outlasts the wait queue's TTL (plus a minute)."""
    from dataclasses import replace

    quiet = max(60, -(-ttl_ms // 1000) + 60)
    if quiet == 60 and ttl_ms <= 0:
        return spec
    gates = replace(
        spec.gates,
        quiet_seconds=Derived(
            quiet,
            (
                f"source empty and nothing in flight for the wait queue {wait_queue}'s TTL "
                f"({ttl_ms} ms) plus a minute: a message parked there comes back before the drain "
                "is called done"
            ),
        ),
    )
    return replace(spec, gates=gates)


def _grant_label(grant: Mapping[str, Any]) -> str:
    where = f" on prefix {grant['prefix']}" if grant.get("pattern") == "prefixed" else ""
    return f"{grant['principal']} {grant['role']}{where}"


def _acls(
    w: Workload, dlq_topic: Derived | None, use_broker_dlq: Any
) -> tuple[list[dict[str, Any]], dict[tuple, str], DecisionSpec | None]:
    """ACL grants from the assessment's ``access`` (rule security.mapping), their comments and
    the checklist item asking a human to confirm the placeholder principals."""
    access = w.target.access if w.target is not None else None
    if access is None:
        return [], {}, None
    grants: list[dict[str, Any]] = []
    reasons: dict[tuple, str] = {("target", "acls"): access.reason}
    seen: set[tuple[str, str]] = set()

    def add(grant: Mapping[str, Any], why: str) -> None:
        if (grant["principal"], grant["role"]) in seen:
            return
        seen.add((grant["principal"], grant["role"]))
        reasons[("target", "acls", len(grants))] = why
        grants.append(
            {k: grant[k] for k in ("principal", "role", "pattern", "prefix") if k in grant}
        )

    for grant in access.value.get("grants", []):
        add(grant, grant.get("source") or "source permission")
    broker_dlq = use_broker_dlq.value if isinstance(use_broker_dlq, Derived) else use_broker_dlq
    if dlq_topic is not None and not broker_dlq:
        # the worker forwards a failed record to the DLQ topic before it REJECTs (or commits),
        # with the consumer's own credentials; a broker DLQ is written by the broker itself
        for grant in list(grants):
            if grant["role"] == "consume":
                add(
                    {"principal": grant["principal"], "role": "dlq-write", "pattern": "literal"},
                    f"the worker forwards failed records to {dlq_topic.value} with the "
                    "consumer's identity",
                )
    unmapped = list(access.value.get("unmapped", []))
    if not grants and not unmapped:
        return [], {}, None
    question = (
        "The ACL principals are placeholders named after the source's users ("
        + ("; ".join(_grant_label(g) for g in grants) or "none mapped")
        + "): confirm each is how that application authenticates to Kafka (SASL user "
        "or certificate name) before provision creates the ACLs. The bridge writes "
        "with its own principal (kafka.credentials): it needs WRITE and DESCRIBE on "
        "this topic and its quarantine topic, granted by hand."
    )
    if unmapped:
        question += " Not mapped, grant by hand: " + "; ".join(unmapped) + "."
    return grants, reasons, DecisionSpec("security.acls", question)


def _headers(w: Workload) -> tuple[dict[str, str], list[str], dict[tuple, str]]:
    """Header renames and drops from the assessment, each drop with its reason as a comment."""
    mapping = w.target.headers if w.target is not None else None
    if mapping is None:
        return {}, [], {}
    rename = dict(sorted((mapping.value.get("rename") or {}).items()))
    drops = mapping.value.get("drop") or {}
    names = sorted(drops)
    reasons: dict[tuple, str] = {("mapping", "headers"): mapping.reason}
    for i, name in enumerate(names):
        reasons[("mapping", "headers", "drop", i)] = drops[name]
    return rename, names, reasons


def _replication_why(n: int) -> str:
    if n >= 3:
        return f"{n} replicas: survives a broker failure with acks=all (--replication)"
    return (
        f"{n} replica{'s' if n != 1 else ''}: set by --replication (fine for a sandbox, "
        "not for production)"
    )


def _shared_topics(workloads: Sequence[Workload]) -> dict[str, tuple[Derived, Derived | None, int]]:
    """Topics read by several workloads (fan-out): the partitions and retention all agree on."""
    by_topic: dict[str, list[Workload]] = {}
    for w in workloads:
        by_topic.setdefault(w.target.topic.value, []).append(w)
    out: dict[str, tuple[Derived, Derived | None, int]] = {}
    for topic, group in by_topic.items():
        if len(group) < 2:
            continue
        n = len(group)
        best = max(group, key=lambda w: (w.target.partitions.value, w.queue))
        partitions = Derived(
            best.target.partitions.value,
            f"{best.target.partitions.reason}; the largest of the {n} queues reading this topic",
        )
        retentions = [w for w in group if "retention.ms" in w.target.topic_configs]
        retention = None
        if retentions:
            r = max(
                retentions, key=lambda w: (w.target.topic_configs["retention.ms"].value, w.queue)
            )
            d = r.target.topic_configs["retention.ms"]
            retention = Derived(
                d.value, f"{d.reason}; the longest of the {n} queues reading this topic"
            )
        out[topic] = (partitions, retention, n)
    return out


def _default_strategy(w: Workload) -> tuple[str, str]:
    if w.source["kind"] == "sqs":
        return "drain-only", (
            "drain-only: an SQS queue cannot be shadowed without an SNS "
            "fan-out in front of it (--strategy-for to choose another)"
        )
    if w.source.get("broker") == "servicebus":
        return "drain-only", (
            "drain-only: Service Bus receivers cannot browse (no AMQP copy "
            "distribution mode), so there is no shadow copy; a shadow "
            "subscription needs the management API (--strategy-for to "
            "choose another)"
        )
    return "shadow-then-drain", (
        "shadow-then-drain: a shadow copy is verified next to the live "
        "consumers before anything moves"
    )


def plan(
    assessment: Assessment,
    *,
    strategy: str | None = None,
    strategy_for: Mapping[str, str] | None = None,
    name: str = "migration",
    per_workload: bool = False,
    kafka_version: str | None = None,
    replication: int = 3,
    bootstrap: str | None = None,
) -> Plan:
    """The playbooks for ``assessment``.

    ``strategy`` applies to every workload (default: per source kind, see the module doc);
    ``strategy_for`` maps a workload (playbook id, assessment id or queue name) to a strategy.
    ``kafka_version`` overrides the version the assessment assumed (it decides
    ``use_broker_dlq``).  Raises :class:`UsageError` for an unknown strategy or workload and
    when nothing is left to plan.
    """
    _check_options(strategy, strategy_for, name, replication)
    caps = KafkaCapabilities.parse(kafka_version or assessment.kafka_version)
    loops = _retry_loops(assessment.workloads)
    queue_workloads, left_out, source_findings = _queue_workloads(assessment)
    ids = _playbook_ids(queue_workloads)
    chosen = _strategy_overrides(strategy_for or {}, queue_workloads, ids)
    shared = _shared_topics(queue_workloads)
    specs: list[tuple[Workload, WorkloadSpec]] = []
    for w in queue_workloads:
        pb_id = ids[w.id]
        if pb_id in chosen:
            wl_strategy, why = chosen[pb_id], f"{chosen[pb_id]}: chosen with --strategy-for"
        elif strategy is not None:
            wl_strategy, why = strategy, f"{strategy}: chosen with --strategy"
        else:
            wl_strategy, why = _default_strategy(w)
        src_key = f"{w.source['kind']}:{w.source.get('name')}"
        spec = _spec(
            w,
            pb_id=pb_id,
            caps=caps,
            replication=replication,
            shared=shared,
            source_findings=source_findings.get(src_key, []),
            strategy=wl_strategy,
            strategy_why=why,
        )
        loop = loops.get(_loop_key(w, w.queue))
        if loop is not None and loop[0] == w.queue:
            spec = _with_loop_quiet(spec, loop[1], loop[2])
        specs.append((w, spec))

    header = (
        "Generated by 'mqmigrate plan' from "
        + (assessment.origin or "an assessment")
        + f" (target Kafka {caps.version[0]}.{caps.version[1]}).\n"
        "Comments say why each value was chosen; re-run plan rather than editing values."
    )
    try:
        files = _files(
            specs,
            per_workload=per_workload,
            name=name,
            bootstrap=bootstrap,
            header=header,
            left_out=left_out,
        )
    except PlaybookInvalid as exc:
        # plan's contract is exit 0 or 2: what makes a generated playbook invalid is an option
        # (a --kafka with credentials) or input the assessment let through, never a finding
        raise UsageError(exc.message, hint="check --kafka and --name") from exc
    return Plan(tuple(files), tuple(left_out))


def _check_options(
    strategy: str | None, strategy_for: Mapping[str, str] | None, name: str, replication: int
) -> None:
    for label, value in [
        ("--strategy", strategy),
        *((f"--strategy-for {k}", v) for k, v in (strategy_for or {}).items()),
    ]:
        if value is not None and value not in STRATEGIES:
            raise UsageError(
                f"{label}: unknown strategy '{value}'",
                hint="choose one of " + ", ".join(STRATEGIES),
            )
    if not re.match(r"^[a-z0-9][a-z0-9._-]{0,99}$", name):
        raise UsageError(
            f"--name '{name}' is not a playbook name",
            hint="lower-case letters, digits, '.', '_' and '-'",
        )
    if replication < 1:
        raise UsageError("--replication must be at least 1")


def _queue_workloads(
    assessment: Assessment,
) -> tuple[list[Workload], list[tuple[str, str]], dict[str, list[Finding]]]:
    """The workloads to plan, the ones left out (id, why) and the source-wide findings by
    source (``kind:name``); UsageError when nothing is left to plan."""
    left_out: list[tuple[str, str]] = []
    queue_workloads: list[Workload] = []
    source_findings: dict[str, list[Finding]] = {}
    for w in assessment.workloads:
        why = _left_out_reason(w)
        if w.queue is None:
            key = f"{w.source['kind']}:{w.source.get('name')}"
            source_findings.setdefault(key, []).extend(w.findings)
        if why is not None:
            left_out.append((w.id, why))
        else:
            queue_workloads.append(w)
    if not queue_workloads:
        raise UsageError(
            "no queue workload to plan",
            hint="every workload was left out: " + "; ".join(f"{i}: {why}" for i, why in left_out)
            if left_out
            else None,
        )
    return queue_workloads, left_out, source_findings


def _playbook_ids(workloads: Sequence[Workload]) -> dict[str, str]:
    """Assessment id → playbook id, unique in the playbook."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for w in workloads:
        # the queue's own name reads best in a checklist; the group name (vhost-prefixed)
        # separates two vhosts' queues of one name, a counter anything else
        base = _slug(w.queue or w.id)
        pb_id = base
        if pb_id in used and w.target.group is not None:
            pb_id = base = _slug(w.target.group.value)
        n = 2
        while pb_id in used:
            pb_id, n = f"{base}-{n}", n + 1
        used.add(pb_id)
        ids[w.id] = pb_id
    return ids


def _files(
    specs: Sequence[tuple[Workload, WorkloadSpec]],
    *,
    per_workload: bool,
    name: str,
    bootstrap: str | None,
    header: str,
    left_out: Sequence[tuple[str, str]],
) -> list[PlannedFile]:
    files: list[PlannedFile] = []
    if per_workload:
        for w, spec in specs:
            desc = _description([w], [])
            files.append(
                PlannedFile(
                    f"{spec.id}.yaml",
                    build_playbook([spec], name=spec.id, bootstrap=bootstrap, description=desc),
                    header,
                )
            )
    else:
        desc = _description([w for w, _ in specs], left_out)
        files.append(
            PlannedFile(
                f"{name}.yaml",
                build_playbook(
                    [s for _, s in specs], name=name, bootstrap=bootstrap, description=desc
                ),
                header,
            )
        )
    return files


def _strategy_overrides(
    strategy_for: Mapping[str, str], workloads: Sequence[Workload], ids: Mapping[str, str]
) -> dict[str, str]:
    """``--strategy-for`` keys (playbook id, assessment id or queue name) → playbook ids."""
    out: dict[str, str] = {}
    for wanted, value in strategy_for.items():
        matches = [ids[w.id] for w in workloads if wanted in (ids[w.id], w.id, w.queue)]
        if not matches:
            raise UsageError(
                f"--strategy-for: no workload '{wanted}'",
                hint="known: " + ", ".join(sorted(ids.values())),
            )
        for m in matches:
            out[m] = value
    return out


def _description(workloads: Sequence[Workload], left_out: Sequence[tuple[str, str]]) -> str:
    verdicts = ", ".join(f"{w.queue} ({w.verdict})" for w in workloads)
    text = f"{len(workloads)} workload{'s' if len(workloads) != 1 else ''}: {verdicts}"
    if left_out:
        text += ". Left out: " + "; ".join(f"{i}: {why}" for i, why in left_out)
    return text


def write_plan(result: Plan, out_dir: Path) -> list[tuple[Path, bool]]:
    """Write every planned file under ``out_dir``; (path, written) with written False when the
    file already had exactly these bytes."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{out_dir}: cannot create the output directory ({exc.strerror})"
        ) from exc
    done = []
    for f in result.files:
        path = out_dir / f.name
        try:
            done.append((path, write(f.playbook, path, header=f.header)))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write ({exc.strerror})") from exc
    return done
