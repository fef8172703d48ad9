"""Build playbooks from a minimal per-workload spec and write them as commented, stable YAML.

``plan`` calls :func:`build_playbook` with one :class:`WorkloadSpec` per workload (values it
derived wrapped in :class:`Derived` with a one-line reason) and :func:`render` to get the text.
The YAML is written here rather than by a YAML library so that key order, quoting and the
comments above derived values are fully under our control: the same input always gives the
same bytes, and no timestamp is written unless one is passed in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Mapping, Optional, Sequence, TypeVar

import yaml

from mqmigrate.errors import PlaybookInvalid
from mqmigrate.playbooks import graph
from mqmigrate.playbooks.loader import format_path
from mqmigrate.playbooks.model import API_VERSION, KIND, PHASES, Playbook, Strategy

T = TypeVar("T")


@dataclass(frozen=True)
class Derived(Generic[T]):
    """A value the tool computed, with the one-line reason a reviewer needs to trust it."""

    value: T
    reason: str


def _split(value: Any) -> tuple[Any, Optional[str]]:
    if isinstance(value, Derived):
        return value.value, value.reason
    return value, None


@dataclass(frozen=True)
class DecisionSpec:
    """A finding that needs a human decision."""

    rule: str
    question: str
    done: bool = False


@dataclass(frozen=True)
class GateDefaults:
    """Thresholds of the standard gates; each may be a :class:`Derived` to explain it."""

    bridge_lag: Any = Derived(1000, "shadow copy within 1,000 records of the source before verify")
    settle_seconds: Any = Derived(
        300, "5 minutes of steady state: long enough to see a consumer restart or a traffic burst"
    )
    backlog: Any = Derived(1000, "Kafka consumers keep up: share-group backlog stays under 1,000")
    dlq_rate: Any = Derived(
        1.0,
        "at most 1 dead-lettered record/s; more means the new "
        "consumers fail where the old ones did not",
    )
    quiet_seconds: Any = Derived(
        60, "source empty and nothing in flight for a minute before it is called drained"
    )


@dataclass(frozen=True)
class WorkloadSpec:
    """What ``plan`` knows about one workload; :func:`build_playbook` adds phases and gates.

    ``source`` is the playbook's source mapping (kind, endpoint without secrets, credentials
    reference, queue, vhost/region).  Values may be :class:`Derived` to get a comment.
    ``share_configs`` uses Kafka names (``share.delivery.count.limit``...).
    """

    id: str
    source: Mapping[str, Any]
    topic: Any
    partitions: Any
    group: Any
    replication: Any = 1
    topic_configs: Mapping[str, Any] = field(default_factory=dict)
    consumer_type: str = "share-group"
    share_configs: Mapping[str, Any] = field(default_factory=dict)
    #: the share consumers' client settings (target.consumer.client), Kafka names
    share_client: Mapping[str, Any] = field(default_factory=dict)
    key: Any = "none"
    header_rename: Mapping[str, str] = field(default_factory=dict)
    header_drop: Sequence[str] = ()
    dlq_topic: Any = None
    dlq_partitions: Any = 1
    use_broker_dlq: Any = False
    #: retry tiers: ``{"tiers": [...], "configs": {...}}`` (target.retry), or None
    retry: Any = None
    #: ACL grants: mappings of principal, role, pattern and (prefixed) prefix
    acls: Sequence[Mapping[str, Any]] = ()
    decisions: Sequence[DecisionSpec] = ()
    strategy: Optional[Strategy] = None
    gates: GateDefaults = field(default_factory=GateDefaults)
    #: extra reasons keyed by a path relative to the workload, e.g. ("target", "consumer")
    reasons: Mapping[tuple, str] = field(default_factory=dict)


def _step(
    id: str,
    action: str,
    requires: Sequence[str] = (),
    *,
    mode: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    step: dict[str, Any] = {"id": id, "action": action}
    if mode:
        step["mode"] = mode
    if description:
        step["description"] = description
    step["requires"] = list(requires)
    return step


def _gate(metric: str, op: str, value: Any, for_seconds: Any = 0) -> dict[str, Any]:
    return {"metric": metric, "op": op, "value": value, "for_seconds": for_seconds}


def standard_phases(
    strategy: Strategy, gates: GateDefaults, *, keyed: bool = False, shared_topic: bool = False
) -> dict[str, dict[str, Any]]:
    """The phases, steps, gates and rollbacks of ``strategy`` (values may still be Derived).

    * shadow-then-drain: a shadow copy runs next to the live consumers until verify is clean,
      then consumers and producers move and a drain bridge moves what is left.
    * drain-only: consumers and producers move to Kafka, then a drain bridge moves the backlog
      (no shadow; for sources that cannot shadow, e.g. SQS without SNS).
    * dual-write: producers write to both (the SDK) in place of a shadow bridge, verify, then
      consumers and producers move and the pre-dual-write backlog is drained.
    """
    phases: dict[str, dict[str, Any]] = {"provision": _provision_phase()}
    copy_step = "provision"
    shadow = _shadow_phase(strategy, gates)
    if shadow is not None:
        phases["shadow"] = shadow
        copy_step = shadow["steps"][0]["id"]
    if strategy != "drain-only":
        phases["verify"] = _verify_phase(copy_step)
    switch_after = "verify" if strategy != "drain-only" else "provision"
    backlog_gates = [
        _gate("share-group.backlog", "<=", gates.backlog, gates.settle_seconds),
        _gate("dlq.rate", "<=", gates.dlq_rate, gates.settle_seconds),
    ]
    # shadow-then-drain and drain-only to a share group hand over without a person: the service
    # follows the consumer switch (mqmigrate.sdk.consumerswitch) that consumers.kafka writes with the
    # cut, and the drain bridge moves the source queue into Kafka from then on.  drain-only has
    # no shadow copies below the cut (no bridge wrote before the switch; after a rollback, the
    # records below it are the ones the worker finished), so the same cut hands over exactly.
    # Not for a topic several workloads share (a fan-out): one queue's drain bridge would write
    # into the others' groups; not for dual-write, whose Kafka twins need their own rule
    handover = strategy in ("shadow-then-drain", "drain-only") and not keyed and not shared_topic
    if handover:
        phases["consumers"] = _handover_consumers_phase(
            strategy == "shadow-then-drain", switch_after, backlog_gates
        )
    else:
        phases["consumers"] = _switch_consumers_phase(keyed, switch_after, backlog_gates)
    phases["producers"] = _producers_phase()
    phases["drain"] = _drain_phase(strategy, handover, gates.quiet_seconds)
    phases["decommission"] = _decommission_phase(strategy)
    return {name: phases[name] for name in PHASES if name in phases}


def _provision_phase() -> dict[str, Any]:
    return {"steps": [_step("provision", "provision.apply")], "gates": [], "rollback": []}


def _shadow_phase(strategy: Strategy, gates: GateDefaults) -> dict[str, Any] | None:
    """What copies the source into Kafka before verify: a shadow bridge (shadow-then-drain) or
    the producers' dual-write; None for drain-only.  Its first step is what verify requires."""
    if strategy == "shadow-then-drain":
        return {
            "steps": [_step("shadow-bridge", "bridge.start", ["provision"], mode="shadow")],
            "gates": [_gate("bridge.lag", "<=", gates.bridge_lag, gates.settle_seconds)],
            "rollback": [
                _step("shadow-bridge-stop", "bridge.stop"),
                _step("shadow-remove", "source.delete-shadow", ["shadow-bridge-stop"]),
            ],
        }
    if strategy == "dual-write":
        return {
            "steps": [_step("dual-write", "producers.dual-write", ["provision"])],
            "gates": [],
            "rollback": [_step("dual-write-revert", "producers.revert")],
        }
    return None


def _verify_phase(copy_step: str) -> dict[str, Any]:
    return {
        "steps": [_step("verify", "verify.run", [copy_step])],
        "gates": [_gate("verify.missing", "==", 0), _gate("verify.altered", "==", 0)],
        "rollback": [],
    }


def _handover_consumers_phase(
    shadowed: bool, switch_after: str, backlog_gates: list[dict[str, Any]]
) -> dict[str, Any]:
    """The consumers phase of a hand-over without a person: the consumer switch and the drain
    bridge (after stopping the shadow bridge, if ``shadowed``), and the way back."""
    steps = []
    if shadowed:
        steps.append(
            _step(
                "shadow-bridge-stop-for-switch",
                "bridge.stop",
                [switch_after],
                description="a still topic for the cut",
            )
        )
    steps += [
        _step(
            "switch-consumers",
            "consumers.kafka",
            [steps[-1]["id"] if shadowed else switch_after],
            description="the service's consumer switch: the worker takes the records "
            "above the cut (the topic's end offsets now)",
        ),
        _step(
            "drain-bridge",
            "bridge.start",
            ["switch-consumers"],
            mode="drain",
            description="moves the source queue into Kafka while producers still "
            "write to it; runs until the drain phase",
        ),
    ]
    rollback = [
        _step(
            "revert-drain-bridge-stop",
            "bridge.stop",
            description="a still topic for the cut back",
        ),
        _step(
            "revert-consumers",
            "consumers.source",
            ["revert-drain-bridge-stop"],
            description="the source consumer takes over; the worker finishes the "
            "records below the cut (the topic's end offsets now)",
        ),
    ]
    if shadowed:
        rollback.append(
            _step("revert-shadow-bridge", "bridge.start", ["revert-consumers"], mode="shadow")
        )
    return {"steps": steps, "gates": backlog_gates, "rollback": rollback}


def _switch_consumers_phase(
    keyed: bool, switch_after: str, backlog_gates: list[dict[str, Any]]
) -> dict[str, Any]:
    """The consumers phase where a person (or the service's deploy) switches the consumers."""
    switch_description = None
    if keyed:
        switch_description = "consumers join the keyed consumer group (ordering by key)"
    return {
        "steps": [
            _step(
                "switch-consumers",
                "consumers.switch",
                [switch_after],
                description=switch_description,
            )
        ],
        "gates": backlog_gates,
        "rollback": [_step("revert-consumers", "consumers.revert")],
    }


def _producers_phase() -> dict[str, Any]:
    return {
        "steps": [_step("kafka-only", "producers.kafka-only", ["switch-consumers"])],
        "gates": [],
        "rollback": [_step("revert-producers", "producers.revert")],
    }


def _drain_phase(strategy: Strategy, handover: bool, quiet: Any) -> dict[str, Any]:
    """Empty the source: the hand-over's drain bridge ends, or a drain bridge starts now."""
    drain_steps = []
    drain_rollback = []
    if handover:
        drain_steps.append(
            _step(
                "source-drained",
                "source.drain",
                ["kafka-only"],
                description="the drain bridge ends when the source is empty and quiet",
            )
        )
    else:
        if strategy == "shadow-then-drain":
            drain_steps.append(_step("shadow-bridge-stop-for-drain", "bridge.stop", ["kafka-only"]))
            after = "shadow-bridge-stop-for-drain"
        else:
            after = "kafka-only"
        drain_steps.append(
            _step(
                "drain-bridge",
                "bridge.start",
                [after],
                mode="drain",
                description="moves what is left; skips ids already in Kafka",
            )
        )
        drain_steps.append(_step("source-drained", "source.drain", ["drain-bridge"]))
    drain_rollback.append(_step("drain-bridge-stop", "bridge.stop"))
    return {
        "steps": drain_steps,
        "gates": [
            _gate("source.depth", "==", 0, quiet),
            _gate("source.in-flight", "==", 0, quiet),
            _gate("bridge.lag", "==", 0, quiet),
        ],
        "rollback": drain_rollback,
    }


def _decommission_phase(strategy: Strategy) -> dict[str, Any]:
    decommission = [_step("drain-bridge-done", "bridge.stop", ["source-drained"])]
    if strategy == "shadow-then-drain":
        decommission.append(_step("remove-shadow", "source.delete-shadow", ["drain-bridge-done"]))
    decommission.append(
        _step(
            "delete-source-queue",
            "manual",
            [decommission[-1]["id"]],
            description="delete the source queue once the rollback window has passed; "
            "this is the point of no return",
        )
    )
    return {"steps": decommission, "gates": [], "rollback": []}


class _Reasons:
    """Unwraps Derived values while recording their reasons by document path."""

    def __init__(self) -> None:
        self.reasons: dict[tuple, str] = {}

    def take(self, path: tuple, value: Any) -> Any:
        """``value`` unwrapped; its reason (if Derived) recorded at ``path``."""
        value, reason = _split(value)
        if reason:
            self.reasons[path] = reason
        return value

    def deep(self, path: tuple, value: Any) -> Any:
        """Like :meth:`take`, through nested dicts and lists."""
        value = self.take(path, value)
        if isinstance(value, dict):
            return {k: self.deep(path + (k,), v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deep(path + (i,), v) for i, v in enumerate(value)]
        return value


def build_playbook(
    workloads: Sequence[WorkloadSpec],
    strategy: Strategy = "shadow-then-drain",
    *,
    name: str = "migration",
    generated_by: str | None = "mqmigrate plan",
    generated_at: datetime | None = None,
    bootstrap: str | None = None,
    description: str | None = None,
) -> Playbook:
    """A validated :class:`Playbook` with the standard phases of each workload's strategy.

    ``strategy`` applies to workloads whose spec has none.  ``generated_at`` is left out of the
    file unless given, so regenerating an unchanged estate gives byte-identical output.  Raises
    :class:`PlaybookInvalid` (with every problem) if the specs make an invalid playbook.
    """
    r = _Reasons()
    docs: list[dict[str, Any]] = []
    for i, spec in enumerate(workloads):
        base = ("workloads", i)
        wl_strategy = spec.strategy or strategy
        keyed = spec.consumer_type == "consumer-group"
        key = r.take(base + ("mapping", "key"), spec.key)
        consumer: dict[str, Any] = {
            "type": spec.consumer_type,
            "group": r.take(base + ("target", "consumer", "group"), spec.group),
        }
        if keyed:
            consumer["key"] = key
        elif spec.share_configs:
            consumer["configs"] = {
                k: r.take(base + ("target", "consumer", "configs", k), v)
                for k, v in sorted(spec.share_configs.items())
            }
        if not keyed and spec.share_client:
            consumer["client"] = {
                k: r.take(base + ("target", "consumer", "client", k), v)
                for k, v in sorted(spec.share_client.items())
            }
        target: dict[str, Any] = {
            "topic": r.take(base + ("target", "topic"), spec.topic),
            "partitions": r.take(base + ("target", "partitions"), spec.partitions),
            "replication": r.take(base + ("target", "replication"), spec.replication),
            "configs": {
                k: r.take(base + ("target", "configs", k), v)
                for k, v in sorted(spec.topic_configs.items())
            },
            "consumer": consumer,
        }
        dlq_topic = r.take(base + ("target", "dlq", "topic"), spec.dlq_topic)
        if dlq_topic is not None:
            target["dlq"] = {
                "topic": dlq_topic,
                "partitions": r.take(base + ("target", "dlq", "partitions"), spec.dlq_partitions),
                "use_broker_dlq": r.take(
                    base + ("target", "dlq", "use_broker_dlq"), spec.use_broker_dlq
                ),
            }
        if spec.retry is not None:
            target["retry"] = r.deep(base + ("target", "retry"), spec.retry)
        if spec.acls:
            target["acls"] = [dict(grant) for grant in spec.acls]
        shared = sum(_split(other.topic)[0] == _split(spec.topic)[0] for other in workloads) > 1
        phases = r.deep(
            base + ("phases",),
            standard_phases(wl_strategy, spec.gates, keyed=keyed, shared_topic=shared),
        )
        doc = {
            "id": spec.id,
            "source": dict(spec.source),
            "target": target,
            "mapping": {
                "key": key,
                "headers": {
                    "rename": dict(sorted(spec.header_rename.items())),
                    "drop": list(spec.header_drop),
                },
            },
            "decisions": [
                {"rule": d.rule, "question": d.question, "done": d.done} for d in spec.decisions
            ],
            "strategy": wl_strategy,
            "phases": phases,
        }
        for rel, reason in spec.reasons.items():
            r.reasons[base + tuple(rel)] = reason
        docs.append(doc)
    metadata: dict[str, Any] = {"name": name}
    if generated_by:
        metadata["generated-by"] = generated_by
    if generated_at is not None:
        metadata["generated-at"] = generated_at
    if description:
        metadata["description"] = description
    data: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata}
    if bootstrap:
        data["kafka"] = {"bootstrap": bootstrap}
    data["workloads"] = docs
    return _validated(data, r.reasons)


def _validated(data: dict[str, Any], reasons: dict[tuple, str]) -> Playbook:
    # Round-trip through our own loader so a generated playbook is held to exactly the rules a
    # hand-written one is (and problems come out with paths).
    from pydantic import ValidationError

    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        problems = [f"{format_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise PlaybookInvalid(f"generated playbook is invalid: {problems[0]}", problems) from exc
    issues = graph.check(playbook)
    if issues:
        problems = [f"{format_path(i.path)}: {i.message}" for i in issues]
        raise PlaybookInvalid(f"generated playbook is invalid: {problems[0]}", problems)
    playbook._reasons.update(reasons)
    return playbook


# ------------------------------------------------------------------------------------ YAML

_PLAIN = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_ ./:@+<>=-]*$")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # plain only when YAML reads it back as the same string (not a number, bool, date, null)
    if (
        _PLAIN.match(text)
        and not text.endswith(" ")
        and ": " not in text
        and " #" not in text
        and yaml.safe_load(text) == text
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


def _key(key: Any) -> str:
    return _scalar(key)


def _comment(reason: str, indent: str) -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in reason.splitlines()]


def _emit(
    value: Any, path: tuple, indent: int, reasons: Mapping[tuple, str], out: list[str]
) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for k, v in value.items():
            child = path + (k,)
            if child in reasons:
                out.extend(_comment(reasons[child], pad))
            if isinstance(v, dict) and v:
                out.append(f"{pad}{_key(k)}:")
                _emit(v, child, indent + 2, reasons, out)
            elif isinstance(v, list) and v:
                out.append(f"{pad}{_key(k)}:")
                _emit(v, child, indent + 2, reasons, out)
            else:
                out.append(f"{pad}{_key(k)}: {_inline(v)}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            child = path + (i,)
            if child in reasons:
                out.extend(_comment(reasons[child], pad))
            if isinstance(item, dict) and item:
                # "- " then the first key on the same line, the rest indented under it
                sub: list[str] = []
                _emit(item, child, indent + 2, reasons, sub)
                first = next(j for j, line in enumerate(sub) if not line.lstrip().startswith("#"))
                out.extend(sub[:first])
                out.append(f"{pad}- {sub[first][indent + 2 :]}")
                out.extend(sub[first + 1 :])
            elif isinstance(item, list) and item:
                out.append(f"{pad}-")
                _emit(item, child, indent + 2, reasons, out)
            else:
                out.append(f"{pad}- {_inline(item)}")


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def _document(playbook: Playbook) -> dict[str, Any]:
    data = playbook.model_dump(by_alias=True, exclude_none=True, mode="python")
    for workload in data["workloads"]:
        # enums as their values; config maps sorted so input order never changes the bytes
        for phase in workload["phases"].values():
            for kind in ("steps", "rollback"):
                for step in phase[kind]:
                    step["action"] = getattr(step["action"], "value", step["action"])
        target = workload["target"]
        target["configs"] = dict(sorted(target["configs"].items()))
        if "dlq" in target:
            target["dlq"]["configs"] = dict(sorted(target["dlq"]["configs"].items()))
            if not target["dlq"]["configs"]:
                del target["dlq"]["configs"]
        if "retry" in target:
            target["retry"]["configs"] = dict(sorted(target["retry"]["configs"].items()))
            if not target["retry"]["configs"]:
                del target["retry"]["configs"]
        if not target.get("acls"):
            target.pop("acls", None)  # no principals known: nothing to say
        if "configs" in target.get("consumer", {}):
            target["consumer"]["configs"] = dict(sorted(target["consumer"]["configs"].items()))
    return data


def render(playbook: Playbook, *, header: str | None = None) -> str:
    """The playbook as YAML text: fixed key order, a comment above every derived value.

    ``header`` (e.g. "generated by mqmigrate plan from estate.json") is written as the first
    comment lines.  The output re-loads to an equal playbook (tested).
    """
    lines: list[str] = []
    if header:
        lines.extend(_comment(header, ""))
    lines.append(
        "# Playbook reference: docs/playbooks.md; validate with 'mqmigrate playbook validate FILE'."
    )
    _emit(_document(playbook), (), 0, playbook.reasons, lines)
    return "\n".join(lines) + "\n"


def write(playbook: Playbook, path: Any, *, header: str | None = None) -> bool:
    """Write the rendered playbook to ``path`` atomically; return False if it was unchanged."""
    from pathlib import Path

    from mqmigrate.playbooks.state import atomic_write

    path = Path(path)
    text = render(playbook, header=header)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    atomic_write(path, text)
    return True
