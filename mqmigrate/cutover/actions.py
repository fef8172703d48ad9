"""One function per playbook action.

Every action is **idempotent**, because a step that was started but not stamped (the process
died mid-step) is run again on resume:

* ``provision.apply`` — provision converges (creates what is missing, changes nothing twice).
* ``bridge.start`` — a bridge of the workload already running in the same mode is kept.
* ``bridge.stop`` — stopping a bridge that is not running does nothing.
* ``consumers.kafka`` — starts the (inactive) share group at the cut, then writes the consumer
  switch with the cut (topic end offsets); a switch that already says ``kafka`` is kept as it
  is, cut included, so a re-run moves nothing.
* ``consumers.source`` — writes ``source`` with the cut back; a switch that already says
  ``source`` (or none written yet) is kept.
* ``producers.*`` — writes the mode (file rewritten atomically, or the latest value of a
  compacted control topic); writing the same mode twice is the same state.
* ``source.drain`` — waits for the drain bridge, or runs one with idle-exit; on an empty
  source it ends after the idle time having moved nothing.
* ``source.delete-shadow`` — deleting a shadow copy that is gone is a no-op (the adapter
  removes each part of it only if it is still there).
* ``verify.run`` — read-only.
* ``consumers.switch``, ``consumers.revert``, ``manual`` — a person does them and says so; asking again is harmless.

An action returns a one-line account of what it did; failures are mqmigrate errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from mqmigrate.cutover import bridgeproc
from mqmigrate.cutover.probes import Verifier, VerifyCounts
from mqmigrate.bridge.mapping import key_from_playbook
from mqmigrate.cutover.source import SourceAccess, resolve
from mqmigrate.errors import CutoverError, CutoverInterrupted, MqMigrateError, ProvisionError
from mqmigrate.kafka.protocol import Connection
from mqmigrate.playbooks.model import Action, Playbook, Step, Workload
from mqmigrate.playbooks.state import atomic_write


@dataclass
class ActionContext:
    """What an action may use; built by the runner for each step."""

    playbook: Playbook
    run_dir: Path
    workload: Workload
    step: Step
    phase: str
    #: the Kafka connection configuration (a KafkaConfig) or plaintext bootstrap servers
    bootstrap: Any
    #: producer mode switch: ``file:PATH`` or ``kafka:TOPIC#KEY``; ``{workload}`` is replaced
    mode_spec: str
    verifier: Optional[Verifier] = None
    should_stop: Callable[[], bool] = lambda: False
    access: Callable[[Workload], SourceAccess] = field(default=resolve)
    #: consumer switch file (``consumers.kafka``/``consumers.source``); ``{workload}`` replaced
    consumer_switch: str = ""
    drain_timeout: float = 3600.0
    drain_idle: float = 10.0

    def kafka(self) -> Any:
        """The Kafka connection configuration (KafkaConfig or bootstrap servers)."""
        if not self.bootstrap:
            raise CutoverError(
                "no Kafka cluster for this playbook",
                hint="pass --kafka HOST:PORT or set kafka.bootstrap",
            )
        return self.bootstrap


@dataclass(frozen=True)
class ActionSpec:
    """How the runner treats an action: ``human`` ones a person does and confirms ("done?");
    ``mutating`` ones ask before running unless ``--yes``."""

    run: Callable[[ActionContext], str]
    mutating: bool
    human: bool = False
    #: what the person is asked to do (human actions; ``manual`` uses the step's description)
    instruction: str = ""


# ------------------------------------------------------------------------------- automated


def provision_apply(ctx: ActionContext) -> str:
    """``mqmigrate provision`` for this workload; drift left for a human fails the step."""
    from mqmigrate.playbooks.provision import provision

    report = provision(ctx.playbook, ctx.kafka(), workloads=[ctx.workload.id])
    if report.drift:
        first = report.drift[0]
        raise ProvisionError(
            f"provision left {len(report.drift)} drift item(s), e.g. "
            f"{first.resource} {first.name}: {first.note or first.item}",
            hint="run 'mqmigrate provision PLAYBOOK' to see the diff",
        )
    return f"provisioned: {report.applied} change(s) applied"


def bridge_start(ctx: ActionContext) -> str:
    """Start the workload's bridge in the step's mode as a managed background process."""
    mode = ctx.step.mode or "shadow"
    if mode == "shadow":
        sibling = shared_shadow(ctx.playbook, ctx.run_dir, ctx.workload)
        if sibling is not None:
            # a fan-out: every queue of the exchange gets every message, so one shadow copy
            # into the shared topic is complete; a second one would duplicate each message
            return (
                f"shadow copy into {ctx.workload.target.topic} already made by workload "
                f"'{sibling[0]}' (pid {sibling[1].pid})"
            )
    # A drain bridge of the drain phase moves what a running shadow already copied: it skips
    # ids Kafka has (docs/bridge.md) and ends when the source is empty and quiet.  One started
    # earlier (the consumers phase) moves the source queue while producers still write to it:
    # it runs until stopped, and skips nothing, because the shadow copies of what it moves lie
    # below the consumers' cut (mqmigrate.sdk.consumerswitch) and are never processed.
    final_drain = mode == "drain" and ctx.phase == "drain"
    info, started = _start_bridge(
        ctx, mode, effectively_once=final_drain, idle_exit=drain_idle(ctx) if final_drain else None
    )
    verb = "started" if started else "already running"
    return f"{mode} bridge {verb} (pid {info.pid}, metrics {info.metrics_url})"


def drain_idle(ctx: ActionContext) -> float:
    """How long the final drain bridge waits without a message before it ends.

    ``ctx.drain_idle``; for a workload with retry tiers (``target.retry``: the source delays
    messages), as long as its drain gates' quiet period, because delayed messages come back to
    the queue later (a RabbitMQ TTL+DLX wait queue's TTL, which ``plan`` put into that period)
    and the bridge must still be there to move them.
    """
    idle = ctx.drain_idle
    if ctx.workload.target.retry is not None and ctx.workload.phases.drain is not None:
        quiet = [
            g.for_seconds
            for g in ctx.workload.phases.drain.gates
            if g.metric in ("source.depth", "source.in-flight")
        ]
        idle = max([idle, *quiet])
    return float(idle)


def _start_bridge(
    ctx: ActionContext, mode: str, *, effectively_once: bool, idle_exit: Optional[float]
) -> tuple[bridgeproc.BridgeInfo, bool]:
    access = ctx.access(ctx.workload)
    return bridgeproc.start(
        ctx.run_dir,
        ctx.workload.id,
        uri=access.uri,
        queue=access.queue,
        kafka=ctx.kafka(),
        topic=ctx.workload.target.topic,
        mode=mode,
        key=key_from_playbook(ctx.workload.mapping.key),
        effectively_once=effectively_once,
        idle_exit=idle_exit,
        management_url=access.management_url,
    )


def shared_shadow(
    playbook: Playbook, run_dir: Path, workload: Workload
) -> tuple[str, bridgeproc.BridgeInfo] | None:
    """Another workload's shadow bridge writing into this workload's topic (a fan-out)."""
    for other in playbook.workloads:
        if other.id != workload.id and other.target.topic == workload.target.topic:
            info = bridgeproc.running(run_dir, other.id)
            if info is not None and info.mode == "shadow":
                return other.id, info
    return None


def bridge_stop(ctx: ActionContext) -> str:
    """Stop the workload's bridge gracefully (nothing running: nothing to do)."""
    info = bridgeproc.stop(ctx.run_dir, ctx.workload.id)
    return f"{info.mode} bridge stopped (pid {info.pid})" if info else "no bridge was running"


def _producer_mode(ctx: ActionContext, mode: str) -> str:
    from mqmigrate.sdk.dualwrite import publish_mode

    spec = ctx.mode_spec.replace("{workload}", ctx.workload.id)
    kind, _, rest = spec.partition(":")
    if kind == "file":
        path = Path(rest)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, mode + "\n")  # FileMode readers see the old or the new mode
        return f"producer mode {mode} written to {path}"
    if kind == "kafka":
        topic, _, key = rest.partition("#")
        publish_mode(ctx.kafka(), topic, key or "mode", mode)
        return f"producer mode {mode} published to {topic}#{key or 'mode'}"
    raise CutoverError(
        f"unknown producer mode switch {spec!r}", hint="use file:PATH or kafka:TOPIC#KEY"
    )


def producers_dual_write(ctx: ActionContext) -> str:
    return _producer_mode(ctx, "dual")


def producers_kafka_only(ctx: ActionContext) -> str:
    return _producer_mode(ctx, "kafka-only")


def producers_source_only(ctx: ActionContext) -> str:
    return _producer_mode(ctx, "source-only")


def _switch_path(ctx: ActionContext) -> Path:
    if not ctx.consumer_switch:
        raise CutoverError(
            "no consumer switch for this run",
            hint="pass --consumer-switch PATH (default: a file in the run directory)",
        )
    return Path(ctx.consumer_switch.replace("{workload}", ctx.workload.id))


def _still_topic_offsets(ctx: ActionContext) -> dict[int, int]:
    """The topic's end offsets, taken while no bridge of the workload writes to it."""
    from mqmigrate.cutover.probes import topic_end_offsets

    topic = ctx.workload.target.topic
    for other in ctx.playbook.workloads:  # a fan-out's siblings write into the same topic
        if other.target.topic != topic:
            continue
        writing = bridgeproc.running(ctx.run_dir, other.id)
        if writing is not None:
            raise CutoverError(
                f"workload '{other.id}': a {writing.mode} bridge is writing to "
                f"{topic}; the cut needs a still topic",
                hint="the playbook should stop it first (bridge.stop)",
            )
    ends = topic_end_offsets(ctx.kafka(), topic)
    if ends is None:
        raise CutoverError(
            f"cannot read the end offsets of topic {topic}",
            hint="is it provisioned and is Kafka reachable?",
        )
    return ends


def consumers_kafka(ctx: ActionContext) -> str:
    """Switch the service's consumers to the Kafka worker, with the cut: the topic's end offsets
    now.  Taken with no bridge writing (after the shadow bridge stopped, before the drain
    bridge starts), so every record below it is a shadow copy and every record the drain bridge
    writes lies above it."""
    from mqmigrate.sdk import consumerswitch

    path = _switch_path(ctx)
    current = consumerswitch.read(path)
    if current is not None and current.consumers == consumerswitch.KAFKA:
        return f"consumers already on Kafka (cut {dict(current.start_offsets)}, {path})"
    ends = _still_topic_offsets(ctx)
    positioned = ""
    if ctx.workload.target.consumer.type == "share-group":
        # before the switch is written, so the worker joins a group that starts at the cut
        positioned = "; " + start_share_group_at(
            ctx.kafka(), ctx.workload.target.consumer.group, ctx.workload.target.topic, ends
        )
    consumerswitch.write(
        path, consumerswitch.Switch(consumerswitch.KAFKA, ctx.workload.target.topic, ends)
    )
    return f"consumers → Kafka, cut {ends} written to {path}{positioned}"


def start_share_group_at(
    bootstrap: Connection, group: str, topic: str, offsets: dict[int, int]
) -> str:
    """Start an inactive share group at ``offsets`` (the cut) on ``topic``.

    A share group that never had a member starts where ``share.auto.offset.reset`` says when
    its first member joins: with ``latest`` (what ``plan`` sets on a queue without backlog)
    the records the drain bridge writes between the cut and the worker's join (a share
    consumer takes seconds) would be skipped and never processed.  Starting at the cut is
    right for a group that consumed before too: what lies between its position and the cut
    are shadow copies the worker would skip anyway.  A group with active members cannot be
    reset (Kafka refuses); it already holds a position, which is kept.  Sent over the wire
    (AlterShareGroupOffsets, what ``kafka-share-groups.sh --reset-offsets`` does) with the
    cutover's Kafka connection.
    """
    from mqmigrate.kafka.protocol import ShareGroupNotEmpty, WireAdmin

    try:
        with WireAdmin(bootstrap, timeout=30.0) as admin:
            admin.alter_share_group_offsets(group, topic, offsets)
    except ShareGroupNotEmpty:
        return f"share group {group} has active members: their position is kept"
    except MqMigrateError as exc:
        raise CutoverError(
            f"cannot start share group {group} at the cut: {exc.one_line()}",
            transient=exc.transient,
        ) from exc
    return f"share group {group} starts at the cut"


def consumers_source(ctx: ActionContext) -> str:
    """Switch the service's consumers back to the source queue, with the cut back: the topic's
    end offsets now (the drain bridge stopped, the shadow not restarted).  The worker finishes
    the records below it, which nothing else would process; records above it are shadow copies
    of what the source consumer handles."""
    from mqmigrate.sdk import consumerswitch

    path = _switch_path(ctx)
    current = consumerswitch.read(path)
    if current is None or current.consumers == consumerswitch.SOURCE:
        return f"consumers already on the source ({path})"
    ends = _still_topic_offsets(ctx)
    consumerswitch.write(
        path,
        consumerswitch.Switch(consumerswitch.SOURCE, ctx.workload.target.topic, end_offsets=ends),
    )
    return f"consumers → source, cut back {ends} written to {path}"


def source_drain(ctx: ActionContext) -> str:
    """Wait until the drain bridge has moved everything and stopped on idle; start one (with
    idle-exit) when none runs.  A drain bridge that failed fails the step."""
    wl = ctx.workload.id
    current = bridgeproc.running(ctx.run_dir, wl)
    if current is not None and current.mode != "drain":
        raise CutoverError(
            f"workload '{wl}': a {current.mode} bridge is running, not a drain",
            hint="the playbook should stop it and start a drain bridge first",
        )
    if current is not None and bridgeproc.spec_of(ctx.run_dir, wl).get("idle_exit") is None:
        # the drain bridge of the consumers phase never ends by itself: replace it by one that
        # ends when the source is empty and quiet; it skips nothing, as its predecessor did
        bridgeproc.stop(ctx.run_dir, wl)
        _start_bridge(ctx, "drain", effectively_once=False, idle_exit=drain_idle(ctx))
    elif current is None:
        ended = bridgeproc.last_exit(ctx.run_dir, wl)
        if not (ended and ended.get("mode") == "drain" and ended.get("exit") == 0):
            bridge_ctx = ActionContext(
                **{
                    **ctx.__dict__,
                    "step": Step(id=ctx.step.id, action=Action.bridge_start, mode="drain"),
                }
            )
            bridge_start(bridge_ctx)
    if not bridgeproc.wait_exit(ctx.run_dir, wl, ctx.drain_timeout, ctx.should_stop):
        if ctx.should_stop():
            raise CutoverInterrupted(
                f"stopped while waiting for the drain bridge of '{wl}' (it keeps running)",
                hint="re-run cutover to keep waiting",
            )
        raise CutoverError(
            f"the drain bridge of '{wl}' still runs after {ctx.drain_timeout:.0f} s",
            hint="re-run cutover to keep waiting",
        )
    ended = bridgeproc.last_exit(ctx.run_dir, wl) or {}
    if ended.get("exit") != 0:
        raise CutoverError(
            f"the drain bridge of '{wl}' failed (exit {ended.get('exit')}): "
            f"{ended.get('summary', {}).get('error', 'see its log')}"
        )
    summary = ended.get("summary") or {}
    return f"source drained (bridge stopped: {summary.get('stopped', '?')})"


def source_delete_shadow(ctx: ActionContext) -> str:
    """Delete the shadow copy the shadow bridge read, through the source's adapter
    (:meth:`~mqmigrate.sources.base.SourceAdapter.remove_shadow`); gone already is fine.
    RabbitMQ: ``<queue>.mqmigrate-shadow``; SQS: ``<queue>-mqmigrate-shadow`` unsubscribed from
    every SNS topic feeding it, then deleted; Artemis (AMQP 1.0): the divert and its shadow
    queue and address, or the durable subscription queue.  The application's queue is never
    touched."""
    from mqmigrate.sources.base import BridgeMode

    access = ctx.access(ctx.workload)
    source = access.adapter(BridgeMode.shadow)
    if not source.capabilities.shadow:
        raise CutoverError(
            f"source.delete-shadow: {source.kind} sources have no shadow copy",
            hint="remove the shadow copy by hand",
        )
    current = bridgeproc.running(ctx.run_dir, ctx.workload.id)
    if current is not None and current.mode == "shadow":
        raise CutoverError(
            "the shadow bridge still reads the shadow queue", hint="stop it first (bridge.stop)"
        )
    try:
        removed = source.remove_shadow()
    except MqMigrateError as exc:
        raise CutoverError(
            f"cannot remove the shadow copy of {access.queue}: {exc.message}",
            hint=exc.hint,
            transient=exc.transient,
        ) from exc
    if not removed:
        return f"shadow copy of {access.queue} already gone"
    return f"shadow copy of {access.queue} removed: {', '.join(removed)}"


def verify_run(ctx: ActionContext) -> str:
    """Reconcile source and Kafka through the verify interface; the result is kept in the run
    directory for ``cutover status`` (the gates measure again themselves)."""
    import json

    if ctx.verifier is None:
        raise CutoverError(
            "verify.run: mqmigrate verify is not available in this build",
            hint="run 'mqmigrate verify' once it is merged, then re-run cutover",
        )
    counts: VerifyCounts = ctx.verifier.verify(ctx.workload)
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(
        ctx.run_dir / f"{ctx.workload.id}.verify.json", json.dumps(counts.__dict__, indent=2) + "\n"
    )
    return (
        f"verify: {counts.missing} missing, {counts.altered} altered, "
        f"{counts.duplicated} duplicated"
    )


def _human(ctx: ActionContext) -> str:
    return "confirmed done by a person"


ACTIONS: dict[Action, ActionSpec] = {
    Action.provision_apply: ActionSpec(provision_apply, mutating=True),
    Action.bridge_start: ActionSpec(bridge_start, mutating=True),
    Action.bridge_stop: ActionSpec(bridge_stop, mutating=True),
    Action.verify_run: ActionSpec(verify_run, mutating=False),
    Action.consumers_switch: ActionSpec(
        _human,
        mutating=True,
        human=True,
        instruction="move the consumers to the Kafka group (deploy the worker, stop the old "
        "consumers)",
    ),
    Action.consumers_revert: ActionSpec(
        _human, mutating=True, human=True, instruction="move the consumers back to the source queue"
    ),
    Action.consumers_kafka: ActionSpec(consumers_kafka, mutating=True),
    Action.consumers_source: ActionSpec(consumers_source, mutating=True),
    Action.producers_dual_write: ActionSpec(producers_dual_write, mutating=True),
    Action.producers_kafka_only: ActionSpec(producers_kafka_only, mutating=True),
    Action.producers_revert: ActionSpec(producers_source_only, mutating=True),
    Action.source_drain: ActionSpec(source_drain, mutating=True),
    Action.source_delete_shadow: ActionSpec(source_delete_shadow, mutating=True),
    Action.manual: ActionSpec(_human, mutating=True, human=True),
}


def describe(step: Step, spec: ActionSpec) -> str:
    """What a step does, for prompts and dry-run lines."""
    text = step.action.value + (f" (mode {step.mode})" if step.mode else "")
    what = step.description or spec.instruction
    return f"{text}: {what}" if what else text
