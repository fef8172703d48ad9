"""The rule contract: a rule is a function registered under its stable id.

Queue rules get a :class:`QueueContext` and yield findings for that queue; source rules get a
:class:`SourceContext` for concerns that belong to the whole broker (permissions, policies that
match nothing, client libraries unknown offline).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from mqmigrate.assessment.model import Finding, KafkaCapabilities, FindingSeverity, Status
from mqmigrate.inventory.model import Edge, Exchange, Queue, Source

if TYPE_CHECKING:
    from mqmigrate.assessment.deadletters import DeadLetterGraph, DelayTier


@dataclass(frozen=True)
class QueueContext:
    source: Source
    queue: Queue
    caps: KafkaCapabilities
    #: flattened routes ending at this queue
    edges: list[Edge] = field(default_factory=list)
    #: names of queues that dead-letter into this one
    dead_letter_sources: list[str] = field(default_factory=list)
    #: the source's dead-letter graph (delay tiers, sinks); None when not computed
    dead_letters: "DeadLetterGraph | None" = None

    def is_dead_letter_queue(self) -> bool:
        """Whether this queue is a sink of dead letters (see ``deadletters``)."""
        if self.dead_letters is None:
            return bool(self.dead_letter_sources)
        return self.dead_letters.is_dead_letter_queue(self.queue, self.source.kind)

    def is_expiry_queue(self) -> bool:
        """Whether this queue receives expired messages (an Artemis expiry-address)."""
        if self.dead_letters is None:
            return False
        return self.dead_letters.is_expiry_queue(self.queue, self.source.kind)

    def delay_tier(self) -> "DelayTier | None":
        """The TTL+DLX delay tier this queue is, if it is one."""
        if self.dead_letters is None:
            return None
        return self.dead_letters.delay_tier(self.queue, self.source.kind)

    def exchange(self, name: str) -> Exchange | None:
        for e in self.source.exchanges:
            if e.name == name and (e.vhost == self.queue.vhost or e.vhost is None):
                return e
        return None


@dataclass(frozen=True)
class SourceContext:
    source: Source
    caps: KafkaCapabilities


@dataclass(frozen=True)
class Rule:
    id: str
    scope: Literal["queue", "source"]
    check: Callable[[Any], Iterable[Finding]]


REGISTRY: dict[str, Rule] = {}

_Check = TypeVar("_Check", bound=Callable[..., Iterable[Finding]])


def rule(rule_id: str, scope: Literal["queue", "source"] = "queue") -> Callable[[_Check], _Check]:
    """Register ``fn`` as (one of the checks of) rule ``rule_id``."""

    def deco(fn: _Check) -> _Check:
        key = f"{rule_id}#{fn.__name__}"
        REGISTRY[key] = Rule(rule_id, scope, fn)
        return fn

    return deco


def finding(
    rule_id: str,
    severity: FindingSeverity | str,
    evidence: dict[str, Any],
    mapping: str,
    remediation: str,
    *,
    unknown: bool = False,
) -> Finding:
    """Build a :class:`Finding` (``unknown=True`` when the source cannot show the value)."""
    return Finding(
        rule=rule_id,
        severity=FindingSeverity(severity),
        status=Status.unknown if unknown else Status.fired,
        evidence=evidence,
        mapping=mapping,
        remediation=remediation,
    )


def source_name(q: Queue, field_name: str, default: str) -> str:
    """The source broker's own name for a normalized field (``BOTHRESH`` for the delivery limit
    of an IBM MQ queue), from the reader's ``extra["attribute_names"]``, else ``default``."""
    return (q.extra.get("attribute_names") or {}).get(field_name, default)


def shown(q: Queue, field_name: str, value: Any) -> Any:
    """Evidence value, annotated when it is an AWS/broker default rather than set."""
    return f"{value} (default)" if field_name in q.defaulted else value
