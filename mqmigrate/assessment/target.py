"""The recommended Kafka target per workload, by the sizing heuristics of docs/rules.md (targets and sizing heuristics).

Every value is a :class:`Derived` with a one-line reason (the plan prints it as a comment).
Heuristics (documented in docs/rules.md):

* partitions >= publish rate ÷ 1000 msg/s per partition, >= peak in-flight ÷ the record-lock
  cap (2000 per partition), >= consumers for a consumer group; 3 when nothing is known for a
  share group (share groups do not need a partition per consumer), 12 for a keyed consumer group
  whose number of concurrent message groups is unknown;
* retention.ms >= max(source retention or TTL, backlog drain time, rollback window of 7 days);
* share.record.lock.duration.ms from the visibility/consumer timeout (1.5 x p99 processing
  when known), clamped to the broker bounds, noting when the bounds must be raised;
* share.delivery.count.limit from maxReceiveCount / x-delivery-limit, clamped to 2-10;
* share.auto.offset.reset=earliest always: the new topic holds only what the migration moves,
  some of it written before the share group's first consumer joins.
"""

from __future__ import annotations

import math
import re

from collections.abc import Callable, Mapping

from mqmigrate.assessment.deadletters import DeadLetterGraph, DelayTier
from mqmigrate.assessment.model import Derived, Finding, KafkaCapabilities, FindingSeverity, Target
from mqmigrate.inventory.model import Queue, Source

PER_PARTITION_MSG_S = 1000
ROLLBACK_WINDOW_S = 7 * 86400
DEFAULT_SHARE_PARTITIONS = 3
DEFAULT_KEYED_PARTITIONS = 12


def topic_name(name: str, vhost: str | None = None, *, keep_placeholders: bool = False) -> str:
    """A legal Kafka topic name from a queue/exchange name.

    IaC placeholders (``{var.env}``) are dropped while a literal part remains (``{var.env}-orders``
    → ``orders``); a name that is nothing but placeholders (``{var.holding_queue}``) keeps their
    text (``var.holding_queue``), and ``keep_placeholders`` keeps it always (used when two queues
    would otherwise share a topic).  A Service Bus subscription path ``t/Subscriptions/s``
    becomes ``t.s``.
    """
    name = re.sub(r"(?i)/Subscriptions/", ".", name)
    name = re.sub(r"/\$DeadLetterQueue$", ".deadletter", name)
    base = re.sub(r"\{[^}]*\}", "", name)
    if keep_placeholders or not re.search(r"[A-Za-z0-9]", base):
        base = re.sub(r"\{\s*([^}]*?)\s*\}", r"\1", name)
    base = re.sub(r"\.fifo$", "", base)
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-._") or "queue"
    return (vhost_prefix(vhost) + base)[:249]


def topic_names(source: Source) -> dict[tuple[str | None, str], str]:
    """(vhost, queue) → topic name, unique within the source: two queues whose names differ
    only in unresolved placeholders keep the placeholders' text rather than share a topic."""
    by_topic: dict[str, list[Queue]] = {}
    for q in source.queues:
        by_topic.setdefault(topic_name(q.name, q.vhost), []).append(q)
    out: dict[tuple[str | None, str], str] = {}
    for topic, queues in by_topic.items():
        for q in queues:
            out[(q.vhost, q.name)] = (
                topic if len(queues) == 1 else topic_name(q.name, q.vhost, keep_placeholders=True)
            )
    return out


def unresolved_parts(name: str) -> list[str]:
    """The ``{…}`` placeholders of an IaC name whose value is unknown offline."""
    return [p.strip() for p in re.findall(r"\{([^}]*)\}", name)]


def vhost_prefix(vhost: str | None) -> str:
    """The prefix topic and group names of ``vhost`` carry (``shop.``); ``""`` for ``/``."""
    if not vhost or vhost == "/":
        return ""
    v = re.sub(r"[^A-Za-z0-9._-]+", "-", vhost).strip("-._")
    return f"{v}." if v else ""


def _fanouts(source: Source, queue: str, vhost: str | None) -> list[str]:
    """Fan-out exchanges feeding ``queue`` (a subscription filter makes a binding selective:
    not part of the fan-out)."""
    return sorted(
        {
            e.path[-1]
            for e in source.edges
            if e.queue == queue
            and e.vhost == vhost
            and e.exchange_types[-1] == "fanout"
            and not e.arguments.get("filter")
        }
    )


def _fmt_s(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)} d"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    return f"{seconds:g} s"


def recommend(
    source: Source,
    q: Queue,
    findings: list[Finding],
    caps: KafkaCapabilities,
    dead_letters: DeadLetterGraph,
    p99_processing_s: float | None = None,
    *,
    names: Mapping[tuple[str | None, str], str] | None = None,
) -> Target:
    """The target for queue ``q`` given its findings (``dead_letters``: the source's graph,
    which says whether ``q`` is a dead-letter, expiry or delay-tier queue; ``names``: the
    source's unique topic names from :func:`topic_names`)."""
    known_names = names if names is not None else topic_names(source)
    delay_tier = dead_letters.delay_tier(q, source.kind)
    dead_letter_sources = dead_letters.dead_letter_sources(q, source.kind)

    def tn(name: str) -> str:
        return known_names.get((q.vhost, name)) or topic_name(name, q.vhost)

    blockers = {
        f.rule
        for f in findings
        if f.severity is FindingSeverity.blocker and f.status.value == "fired"
    }
    role = _role(q, blockers, delay_tier)
    mode = _mode(role, blockers, delay_tier)
    if role != "delay-tier" and dead_letters.is_dead_letter_queue(q, source.kind):
        role = "dead-letter"
    elif role != "delay-tier" and dead_letters.is_expiry_queue(q, source.kind):
        role = "expiry"
        mode = _expiry_mode(dead_letters.expiry_sources(q, source.kind))
    topic, fanout = _topic(source, q, role, dead_letter_sources, delay_tier, tn)
    target = Target(
        mode=mode,
        role=role,
        topic=topic,
        partitions=_partitions(q, caps, keyed=mode.value == "consumer-group"),
        topic_configs=_topic_configs(q, caps, role),
        fanout=fanout,
    )
    if mode.value == "none":
        return target
    _add_group(target, q, caps, p99_processing_s, tn(q.name))
    return target


def _role(q: Queue, blockers: set[str], delay_tier: DelayTier | None) -> str:
    """The queue's role before dead-lettering is considered: work-queue, stream, reply or
    delay-tier."""
    role = "work-queue"
    if q.type == "stream":
        role = "stream"
    if "rpc.reply-to" in blockers:
        role = "reply"
    if delay_tier is not None:
        role = "delay-tier"
    return role


def _mode(role: str, blockers: set[str], delay_tier: DelayTier | None) -> Derived:
    """none, consumer-group or share-group, and why."""
    if role == "reply":
        return Derived(value="none", reason="request/reply queue: not a queue workload")
    if role == "delay-tier":
        assert delay_tier is not None  # the role says so
        back = ", ".join(delay_tier.returns_to)
        return Derived(
            value="none",
            reason=(
                f"delay tier of {back} (messages wait {_fmt_s(delay_tier.ttl_s)}, then return): "
                "replaced by a retry-tier topic of its work queue, not migrated as a queue"
            ),
        )
    if role == "stream":
        return Derived(
            value="consumer-group", reason="stream: log semantics, consumers track offsets"
        )
    if blockers:
        return Derived(
            value="consumer-group",
            reason="blocked as a share group by " + ", ".join(sorted(blockers)),
        )
    return Derived(
        value="share-group",
        reason="no blocker: competing consumers with per-record acknowledgement",
    )


#: how many queue names a one-line reason lists (the finding's evidence lists them all)
REASON_NAMES = 5


def _named(names: list[str]) -> str:
    """``a, b, c`` — the first :data:`REASON_NAMES` of ``names`` and how many more."""
    shown = ", ".join(names[:REASON_NAMES])
    more = len(names) - REASON_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def _expiry_mode(sources: list[str]) -> Derived:
    """Mode none for an expiry queue: Kafka has nothing that takes its place."""
    of = f" of {_named(sorted(sources))}" if sources else ""
    return Derived(
        value="none",
        reason=f"expiry queue{of} (messages whose time to live passed): Kafka moves no expired "
        "record anywhere, retention.ms deletes it; not migrated as a work queue: drain or "
        "archive it",
    )


def _topic(
    source: Source,
    q: Queue,
    role: str,
    dead_letter_sources: list[str],
    delay_tier: DelayTier | None,
    tn: Callable[[str], str],
) -> tuple[Derived, Derived | None]:
    """The topic (fan-out: one topic per exchange; dead-letter queues: dlq.<topic of the
    source>) and, for a work queue behind a fan-out exchange, the fan-out."""
    fanouts = _fanouts(source, q.name, q.vhost)
    placeholder = (
        (
            f"; the name {q.name} is not resolvable offline: a placeholder, set the real "
            "name before provision"
        )
        if unresolved_parts(q.name)
        else ""
    )
    if role == "dead-letter":
        srcs = sorted(dead_letter_sources)
        if not srcs:
            return Derived(
                value="dlq." + tn(q.name),
                reason="dead-letter address of the broker's address-settings (no queue read "
                "dead-letters into it yet): one DLQ topic for the queues that will",
            ), None
        if len(srcs) == 1:
            src_fanouts = _fanouts(source, srcs[0], q.vhost)
            src_topic = topic_name(src_fanouts[0], q.vhost) if src_fanouts else tn(srcs[0])
            return Derived(
                value="dlq." + src_topic,
                reason=f"dead-letter queue of {srcs[0]}: becomes the DLQ topic of its source",
            ), None
        # shared by several sources: keep its own name; KIP-1191 wants the dlq. prefix
        return Derived(
            value="dlq." + tn(q.name),
            reason=f"dead-letter queue shared by {len(srcs)} queues "
            f"({_named(srcs)}): one DLQ topic for all of them",
        ), None
    if role == "expiry":
        return Derived(
            value=tn(q.name),
            reason="expiry queue: no topic takes its place (expired records are deleted by "
            "retention.ms); a topic of this name only if its messages are archived",
        ), None
    if role == "delay-tier":
        assert delay_tier is not None  # the role says so
        return Derived(
            value=tn(q.name),
            reason=f"wait queue of a TTL+DLX retry loop "
            f"({delay_tier.why}); the worker's retry-tier topic replaces it",
        ), None
    if fanouts and role == "work-queue":
        peers = sorted(
            {
                e.queue
                for e in source.edges
                if e.path[-1] == fanouts[0] and e.vhost == q.vhost and not e.arguments.get("filter")
            }
        )
        topic = Derived(
            value=topic_name(fanouts[0], q.vhost),
            reason=f"fan-out exchange {fanouts[0]}: one topic, one share group per "
            f"bound queue ({len(peers)})",
        )
        fanout = Derived(
            value={"exchange": fanouts[0], "groups": [tn(p) for p in peers]},
            reason="each bound queue becomes a share group on the one topic",
        )
        return topic, fanout
    return Derived(
        value=tn(q.name),
        reason="queue name, made a legal "
        "topic name"
        + (" with the vhost as prefix" if q.vhost not in (None, "/") else "")
        + placeholder,
    ), None


def _partitions(q: Queue, caps: KafkaCapabilities, *, keyed: bool) -> Derived:
    """The most partitions any of the publish rate, the in-flight count or (keyed) the
    consumer count asks for; a default when none is known."""
    candidates: list[tuple[int, str]] = []
    if q.rates and q.rates.publish:
        n = math.ceil(q.rates.publish / PER_PARTITION_MSG_S)
        candidates.append(
            (n, f"publish {q.rates.publish:g} msg/s at {PER_PARTITION_MSG_S} msg/s per partition")
        )
    if q.in_flight:
        n = math.ceil(q.in_flight / caps.record_locks_per_partition)
        candidates.append(
            (
                n,
                f"{q.in_flight} in flight / {caps.record_locks_per_partition} "
                "record locks per partition",
            )
        )
    if keyed and q.consumer_count:
        candidates.append(
            (
                q.consumer_count,
                f"{q.consumer_count} consumers (one partition each in a consumer group)",
            )
        )
    if candidates:
        n, why = max(candidates)
        return Derived(value=max(1, n), reason=why)
    if keyed:
        return Derived(
            value=DEFAULT_KEYED_PARTITIONS,
            reason="concurrent message groups unknown: 12 allows 12 ordered "
            "consumers; raise to the number of concurrent groups",
        )
    return Derived(
        value=DEFAULT_SHARE_PARTITIONS,
        reason="no rates known: 3 (share groups scale consumers beyond partitions)",
    )


def _topic_configs(q: Queue, caps: KafkaCapabilities, role: str) -> dict[str, Derived]:
    """retention.ms (the longest of what the source keeps and the rollback window), and
    max.message.bytes and cleanup.policy where the source needs them."""
    parts: list[tuple[float, str]] = [(ROLLBACK_WINDOW_S, "the 7-day cutover rollback window")]
    if q.retention:
        parts.append(
            (
                q.retention,
                "source retention" + (" (AWS default)" if "retention" in q.defaulted else ""),
            )
        )
    if q.message_ttl:
        parts.append((q.message_ttl, "message TTL"))
    if q.depth and q.rates and q.rates.deliver:
        parts.append((q.depth / q.rates.deliver, "backlog drain time"))
    secs, why = max(parts)
    topic_configs = {
        "retention.ms": Derived(
            value=int(secs * 1000),
            reason=f"{_fmt_s(secs)}: the longest of "
            + ", ".join(w for _, w in parts)
            + f" ({why})",
        )
    }
    if q.max_message_size and q.max_message_size + 4096 > caps.max_message_bytes:
        topic_configs["max.message.bytes"] = Derived(
            value=q.max_message_size + 4096,
            reason="source accepts messages up to {} bytes; 4 KiB kept for headers".format(
                q.max_message_size
            ),
        )

    if q.extra.get("last_value") and role == "work-queue":
        # an Artemis last-value queue keeps the latest message per key (queue-type.last-value)
        topic_configs["cleanup.policy"] = Derived(
            value="compact",
            reason=f"last-value queue: compaction keeps the latest record per "
            f"key ({q.extra.get('last_value_key')})",
        )
    return topic_configs


def _add_group(
    target: Target, q: Queue, caps: KafkaCapabilities, p99: float | None, group_name: str
) -> None:
    """The consumer side of a migrated queue: its share or consumer group (with its configs
    or its key) and its DLQ topic."""
    if target.mode.value == "share-group":
        target.group = Derived(value=group_name, reason="one share group per source queue")
        target.group_configs = _share_configs(q, caps, p99)
    else:
        target.group = Derived(value=group_name, reason="one consumer group per source queue")
        if q.fifo or q.single_active_consumer or q.message_groups:
            target.key = Derived(
                value="MessageGroupId" if q.fifo else "group-id",
                reason="ordering is per message group: the key keeps each group on one partition",
            )
    if q.dead_letter is not None or target.mode.value == "share-group":
        target.dlq_topic = Derived(
            value="dlq." + target.topic.value,
            reason="source dead-letters"
            if q.dead_letter
            else "records over the delivery limit need somewhere to go",
        )
        if target.mode.value == "share-group" and caps.share_dlq:
            target.group_configs["errors.deadletterqueue.topic.name"] = Derived(
                value=target.dlq_topic.value, reason="KIP-1191 share-group DLQ (Kafka 4.4+)"
            )


def _share_configs(q: Queue, caps: KafkaCapabilities, p99: float | None) -> dict[str, Derived]:
    out: dict[str, Derived] = {}
    lo, hi = caps.lock_min_ms, caps.lock_max_ms
    if p99 is not None:
        want, src = p99 * 1.5 * 1000, f"1.5 x p99 processing {p99:g} s"
    elif q.visibility_timeout is not None:
        want = q.visibility_timeout * 1000
        src = (
            (
                "visibility timeout "
                if q.fifo is not None and q.type in ("standard", "fifo")
                else "lockDuration "
                if q.extra.get("broker") == "servicebus"
                else "consumer timeout "
            )
            + _fmt_s(q.visibility_timeout)
            + (" (AWS default)" if "visibility_timeout" in q.defaulted else "")
        )
    else:
        want, src = 30000, "processing time unknown: Kafka default 30 s"
    value = int(min(max(want, lo), hi))
    reason = src
    if want > hi:
        reason += (
            f"; clamped to the default bound {hi} ms: raise "
            f"group.share.max.record.lock.duration.ms to {int(min(want, caps.lock_raisable_max_ms))}"
            " to keep it"
        )
    elif want < lo:
        reason += f"; raised to the minimum bound {lo} ms"
    out["share.record.lock.duration.ms"] = Derived(value=value, reason=reason)

    limit = q.delivery_limit
    if limit is None or limit == -1:
        value, reason = (
            5,
            ("source limit unknown" if limit is None else "source retries without limit")
            + ": Kafka default 5",
        )
    else:
        value = min(max(limit, caps.delivery_min), caps.delivery_max)
        reason = f"source limit {limit}" + (" (default)" if "delivery_limit" in q.defaulted else "")
        if value != limit:
            reason += f", clamped to {caps.delivery_min}-{caps.delivery_max}"
    out["share.delivery.count.limit"] = Derived(value=value, reason=reason)

    if q.depth is None:
        out["share.auto.offset.reset"] = Derived(
            value="earliest",
            reason="depth unknown (offline source): serve records the bridge "
            "writes before consumers join",
        )
    elif q.depth > 0:
        out["share.auto.offset.reset"] = Derived(
            value="earliest", reason=f"backlog of {q.depth} messages"
        )
    else:
        # not Kafka's default "latest": the topic is new and only the migration writes to it,
        # and a live queue's messages reach it (drain bridge, dual-write) before the share
        # group's first consumer joins; "latest" would skip them
        out["share.auto.offset.reset"] = Derived(
            value="earliest",
            reason="no backlog at assessment time, but messages sent from now "
            "on reach the topic before consumers join",
        )
    return out
