"""The cutover engine: runs a playbook's phases, step by step, gate by gate, resumably.

* Steps run in :func:`~mqmigrate.playbooks.graph.ordered_steps` order; each is stamped in the
  state file (``<playbook>.state.json``) only after it succeeded, and a stamped step is never run
  again.  A step that was running when the process died is not stamped, so it runs again on
  resume — which is why every action is idempotent (:mod:`mqmigrate.cutover.actions`).
* After a phase's steps, its gates are measured by :class:`~mqmigrate.cutover.probes.GateProbe`s
  until every gate has held for its ``for_seconds`` (pass, recorded in the run directory) or
  the gate timeout passes (:class:`~mqmigrate.errors.GateFailed`).  Unknown fails.
* Rollback walks the started phases newest first: each phase's rollback steps, then its forward
  steps are unstamped.
* A stop request (SIGTERM/SIGINT) is honoured between steps and while gates are polled.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from mqmigrate.cutover import bridgeproc
from mqmigrate.cutover.actions import ACTIONS, ActionContext, ActionSpec, describe
from mqmigrate.cutover.probes import (
    BridgeLagProbe,
    DlqRateProbe,
    GateProbe,
    Measurement,
    ShareGroupBacklogProbe,
    SourceDepthProbe,
    Verifier,
    VerifyProbe,
)
from mqmigrate.cutover.source import SourceAccess, resolve
from mqmigrate.errors import (
    CutoverError,
    CutoverInterrupted,
    GateFailed,
    StepNotConfirmed,
    UsageError,
)
from mqmigrate.playbooks.graph import ordered_steps
from mqmigrate.playbooks.model import PHASES, Action, Gate, Phase, Playbook, Step, Workload
from mqmigrate.playbooks.state import PlaybookState, atomic_write


def run_dir(playbook_path: str | Path) -> Path:
    """``orders.yaml`` → ``orders.yaml.cutover/`` (pid files, logs, gate results, mode files)."""
    path = Path(playbook_path)
    return path.with_name(path.name + ".cutover")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class GateResult:
    """One gate's last observation."""

    metric: str
    op: str
    value: float
    for_seconds: int
    observed: Optional[float]
    detail: str
    held_seconds: float
    passed: bool

    def line(self) -> str:
        seen = "unknown" if self.observed is None else f"{self.observed:g}"
        state = "holds" if self.passed else "fails"
        detail = f"; {self.detail}" if self.detail else ""
        return (
            f"{self.metric} {self.op} {self.value:g} for {self.for_seconds}s: {state} "
            f"(observed {seen}, held {self.held_seconds:.0f}s{detail})"
        )


class GateRecords:
    """Last gate results and passes per workload and phase (``<run dir>/gates.json``).

    Kept out of the state file on purpose: it records steps only, in a format other
    commands read; gate results are evidence for ``status``.
    """

    def __init__(self, directory: Path):
        self.path = directory / "gates.json"
        try:
            self.data: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def phase(self, workload: str, phase: str) -> dict[str, Any]:
        return self.data.get(workload, {}).get(phase, {})

    def passed(self, workload: str, phase: str) -> bool:
        return bool(self.phase(workload, phase).get("passed"))

    def record(self, workload: str, phase: str, results: list[GateResult], passed: bool) -> None:
        self.data.setdefault(workload, {})[phase] = {
            "passed": passed,
            "at": _now(),
            "results": [asdict(r) for r in results],
        }
        self._save()

    def clear(self, workload: str, phase: str) -> None:
        if self.data.get(workload, {}).pop(phase, None) is not None:
            self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(self.data, indent=2) + "\n")


class ManagedBridgeLag:
    """``bridge.lag`` of the workload's managed bridge: its ``/metrics`` while it runs; after a
    drain bridge ended cleanly, everything still in the source is unread backlog, so the lag is
    the source depth; otherwise unknown."""

    def __init__(self, directory: Path, depth: GateProbe, playbook: Optional[Playbook] = None):
        self.directory = directory
        self.depth = depth
        self.playbook = playbook
        self.scrape = BridgeLagProbe(self._url)

    def _bridge(self, workload: Workload) -> Optional[bridgeproc.BridgeInfo]:
        info = bridgeproc.running(self.directory, workload.id)
        if info is None and self.playbook is not None:  # a fan-out's shared shadow copy
            from mqmigrate.cutover.actions import shared_shadow

            shared = shared_shadow(self.playbook, self.directory, workload)
            info = shared[1] if shared else None
        return info

    def _url(self, workload: Workload) -> str | None:
        info = self._bridge(workload)
        return info.metrics_url if info else None

    def measure(self, workload: Workload) -> Measurement:
        if self._bridge(workload) is not None:
            return self.scrape.measure(workload)
        ended = bridgeproc.last_exit(self.directory, workload.id) or {}
        if ended.get("mode") == "drain" and ended.get("exit") == 0:
            depth = self.depth.measure(workload)
            if depth.value is None:
                return depth
            return Measurement(depth.value, "drain bridge finished; lag = source depth")
        return Measurement.unknown("no bridge is running for this workload")


def default_probes(
    directory: Path,
    bootstrap: Any,
    access: Callable[[Workload], SourceAccess] = resolve,
    verifier: Optional[Verifier] = None,
    playbook: Optional[Playbook] = None,
) -> dict[str, GateProbe]:
    """The real probe of every gate metric."""
    depth = SourceDepthProbe("depth", access)
    return {
        "source.depth": depth,
        "source.in-flight": SourceDepthProbe("in-flight", access),
        "bridge.lag": ManagedBridgeLag(directory, depth, playbook),
        "share-group.backlog": ShareGroupBacklogProbe(lambda: bootstrap),
        "dlq.rate": DlqRateProbe(lambda: bootstrap),
        "verify.missing": VerifyProbe("missing", verifier),
        "verify.altered": VerifyProbe("altered", verifier),
        "verify.duplicated": VerifyProbe("duplicated", verifier),
    }


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


@dataclass
class RunReport:
    """What one ``run`` or ``rollback`` did."""

    done: list[str] = field(default_factory=list)  # "workload/step" run (or, dry run, would run)
    skipped: list[str] = field(default_factory=list)  # already stamped
    gates: list[str] = field(default_factory=list)  # "workload/phase" passed


class Cutover:
    """Runs, rolls back and reports one playbook.

    ``confirm(question) -> bool`` asks a person; ``clock``/``sleep`` are injectable so tests
    run gate waits without waiting.
    """

    def __init__(
        self,
        playbook_path: str | Path,
        playbook: Playbook,
        *,
        bootstrap: Any = None,
        probes: Optional[dict[str, GateProbe]] = None,
        actions: Optional[dict[Action, ActionSpec]] = None,
        confirm: Callable[[str], bool] = lambda question: False,
        yes: bool = False,
        dry_run: bool = False,
        interactive: bool = True,
        poll_interval: float = 5.0,
        gate_timeout: float = 600.0,
        mode_spec: Optional[str] = None,
        consumer_switch: Optional[str] = None,
        verifier: Optional[Verifier] = None,
        access: Callable[[Workload], SourceAccess] = resolve,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        out: Callable[[str], None] = _stderr,
    ):
        self.playbook_path = Path(playbook_path)
        self.playbook = playbook
        self.bootstrap = bootstrap or (playbook.kafka.bootstrap if playbook.kafka else None)
        self.dir = run_dir(playbook_path)
        bind = getattr(verifier, "bind", None)
        if callable(bind):  # where the bridges of this run keep their verify ledgers
            bind(run_dir=self.dir, bootstrap=self.bootstrap)
        self.state = PlaybookState.open(playbook_path, playbook)
        self.gates = GateRecords(self.dir)
        self.probes = (
            probes
            if probes is not None
            else default_probes(self.dir, self.bootstrap, access, verifier, playbook)
        )
        self.actions = actions if actions is not None else ACTIONS
        self.confirm = confirm
        self.yes = yes
        self.dry_run = dry_run
        #: a person can answer prompts (the CLI: stdin is a terminal)
        self.interactive = interactive
        self.poll_interval = poll_interval
        self.gate_timeout = gate_timeout
        self.mode_spec = mode_spec or f"file:{self.dir / '{workload}.mode'}"
        self.consumer_switch = consumer_switch or str(self.dir / "{workload}.consumers.json")
        self.verifier = verifier
        self.access = access
        self.clock = clock
        self.sleep = sleep
        self.out = out
        self.stop_requested = False

    # ------------------------------------------------------------------------------ helpers

    def request_stop(self, *_: Any) -> None:
        """Signal handler: finish the current step, then stop."""
        self.stop_requested = True

    def _check_stop(self, where: str) -> None:
        if self.stop_requested:
            raise CutoverInterrupted(
                f"stopped {where}",
                hint="re-run 'mqmigrate cutover run' to resume at the first pending step",
            )

    def _workloads(self, only: Optional[list[str]]) -> list[Workload]:
        known = [w.id for w in self.playbook.workloads]
        for wanted in only or []:
            if wanted not in known:
                raise UsageError(
                    f"no workload '{wanted}' in playbook {self.playbook.metadata.name}",
                    hint=f"known: {', '.join(known)}",
                )
        return [w for w in self.playbook.workloads if not only or w.id in only]

    @staticmethod
    def _phase_index(name: Optional[str]) -> Optional[int]:
        if name is None:
            return None
        if name not in PHASES:
            raise UsageError(f"unknown phase '{name}'", hint=f"one of {', '.join(PHASES)}")
        return PHASES.index(name)

    def _ask(self, wl: Workload, step: Step, spec: ActionSpec, rollback: bool = False) -> None:
        """Confirmation before a step: a person's "done?" for human steps (``--yes`` never
        answers for a person: without a terminal to ask on, the run stops there), "run?" for
        mutating ones unless ``--yes``."""
        what = f"{wl.id}/{step.id}: {describe(step, spec)}"
        if spec.human:
            if self.yes and not self.interactive:
                raise StepNotConfirmed(
                    f"{what} needs a person; --yes does not answer for people",
                    hint="do it, then re-run in a terminal and answer 'done?' with y",
                )
            if not self.confirm(f"{'[rollback] ' if rollback else ''}{what} — done?"):
                raise StepNotConfirmed(
                    f"{wl.id}/{step.id} not confirmed as done", hint="re-run when it is done"
                )
        elif spec.mutating and not self.yes:
            if not self.confirm(f"{'[rollback] ' if rollback else ''}run {what}?"):
                raise StepNotConfirmed(
                    f"{wl.id}/{step.id} declined",
                    hint="nothing was changed by this step; re-run to be asked again",
                )

    def _context(self, wl: Workload, step: Step, phase: str) -> ActionContext:
        return ActionContext(
            self.playbook,
            self.dir,
            wl,
            step,
            phase,
            self.bootstrap,
            self.mode_spec,
            consumer_switch=self.consumer_switch,
            verifier=self.verifier,
            should_stop=lambda: self.stop_requested,
            access=self.access,
        )

    def _execute(
        self, wl: Workload, phase: str, step: Step, report: RunReport, rollback: bool = False
    ) -> None:
        spec = self.actions[step.action]
        label = f"{wl.id}/{step.id}"
        if self.dry_run:
            human = " [asks a person]" if spec.human else ""
            self.out(
                f"would {'roll back with' if rollback else 'run'} {label} "
                f"({phase}): {describe(step, spec)}{human}"
            )
            report.done.append(label)
            return
        self._ask(wl, step, spec, rollback)
        self.out(f"{'rollback' if rollback else 'run'} {label} ({phase}): {step.action.value} ...")
        result = spec.run(self._context(wl, step, phase))
        if rollback:
            self._stamp_rollback(wl, step)
        else:
            self.state.stamp(wl.id, step.id)  # only after the action succeeded
        report.done.append(label)
        self.out(f"  done {label}: {result}")

    def _stamp_rollback(self, wl: Workload, step: Step) -> None:
        """Stamp a rollback step so an interrupted rollback does not repeat it.  A rollback
        step requiring one of another phase (already unstamped with its phase) cannot be
        stamped; it then simply runs again if the rollback is interrupted (idempotent)."""
        from mqmigrate.errors import PlaybookStateError

        try:
            self.state.stamp(wl.id, step.id)
        except PlaybookStateError:
            pass

    # ---------------------------------------------------------------------------------- run

    def run(self, workloads: Optional[list[str]] = None, until: Optional[str] = None) -> RunReport:
        """Run every pending step and gate up to and including phase ``until``."""
        last = self._phase_index(until)
        report = RunReport()
        for wl in self._workloads(workloads):
            self._run_workload(wl, last, report)
        return report

    def _run_workload(self, wl: Workload, last: Optional[int], report: RunReport) -> None:
        order = ordered_steps(wl)
        simulated: set[str] = set(self.state.current(wl.id))  # dry run: pretend steps ran
        for name, phase in wl.phases.present():
            if last is not None and PHASES.index(name) > last:
                break
            for _, step in ((p, s) for p, s in order if p == name):
                if step.id in simulated:
                    report.skipped.append(f"{wl.id}/{step.id}")
                    continue
                missing = [r for r in step.requires if r not in simulated]
                if missing:  # only possible with a hand-edited state file
                    raise CutoverError(
                        f"{wl.id}/{step.id} requires {', '.join(missing)}, which is not applied"
                    )
                self._execute(wl, name, step, report)
                simulated.add(step.id)
                self._check_stop(f"after {wl.id}/{step.id}")
            self._phase_gates(wl, name, phase, simulated, report)

    def _later_started(self, wl: Workload, phase: str, done: set[str]) -> bool:
        later = PHASES[PHASES.index(phase) + 1 :]
        return any(s.id in done for p, s in wl.steps() if p in later)

    def _phase_gates(
        self, wl: Workload, name: str, phase: Phase, done: set[str], report: RunReport
    ) -> None:
        if not phase.gates or self.gates.passed(wl.id, name) or self._later_started(wl, name, done):
            return  # a later phase started: these gates passed in an earlier run
        if self.dry_run:
            for gate in phase.gates:
                self.out(
                    f"would wait for {wl.id} {name} gate {gate.metric} {gate.op} "
                    f"{gate.value:g} for {gate.for_seconds}s"
                )
            return
        self.wait_gates(wl, name, phase.gates)
        report.gates.append(f"{wl.id}/{name}")

    def wait_gates(self, wl: Workload, phase: str, gates: list[Gate]) -> list[GateResult]:
        """Poll until every gate held for its ``for_seconds`` at once; GateFailed after the gate
        timeout (plus the longest ``for_seconds``).  An unknown value is a failing value."""
        start = self.clock()
        deadline = start + self.gate_timeout + max(g.for_seconds for g in gates)
        since: list[Optional[float]] = [None] * len(gates)
        self.out(
            f"gates of {wl.id}/{phase}: "
            + "; ".join(f"{g.metric} {g.op} {g.value:g} for {g.for_seconds}s" for g in gates)
        )
        while True:
            now = self.clock()
            results: list[GateResult] = []
            for i, gate in enumerate(gates):
                probe = self.probes.get(gate.metric)
                m = (
                    probe.measure(wl)
                    if probe
                    else Measurement.unknown(f"no probe measures {gate.metric}")
                )
                ok = m.value is not None and gate.holds(m.value)
                since[i] = (since[i] if since[i] is not None else now) if ok else None
                held = now - since[i] if since[i] is not None else 0.0
                results.append(
                    GateResult(
                        gate.metric,
                        gate.op,
                        gate.value,
                        gate.for_seconds,
                        m.value,
                        m.detail,
                        held,
                        ok and held >= gate.for_seconds,
                    )
                )
            passed = all(r.passed for r in results)
            self.gates.record(wl.id, phase, results, passed)
            if passed:
                for r in results:
                    self.out(f"  gate {r.line()}")
                return results
            if now >= deadline:
                failing = next(r for r in results if not r.passed)
                raise GateFailed(
                    f"{wl.id}/{phase} gate {failing.line()} — not held within "
                    f"{self.gate_timeout:.0f}s",
                    hint="fix the cause, then re-run (done steps are not repeated)",
                )
            self._check_stop(f"while waiting for the gates of {wl.id}/{phase}")
            pause = min(self.poll_interval, max(deadline - now, 0.0))
            end = self.clock() + pause
            while self.clock() < end and not self.stop_requested:
                self.sleep(min(0.5, end - self.clock()))
            self._check_stop(f"while waiting for the gates of {wl.id}/{phase}")

    # ----------------------------------------------------------------------------- rollback

    def rollback(
        self, workloads: Optional[list[str]] = None, to: Optional[str] = None
    ) -> RunReport:
        """Undo every started phase after ``to`` (all of them without it), newest first."""
        keep = self._phase_index(to)
        report = RunReport()
        for wl in self._workloads(workloads):
            done = set(self.state.current(wl.id))
            started = [
                (n, p)
                for n, p in wl.phases.present()
                if any(s.id in done for s in p.steps) and (keep is None or PHASES.index(n) > keep)
            ]
            for name, phase in reversed(started):
                self._rollback_phase(wl, name, phase, report)
                self._check_stop(f"after rolling back {wl.id}/{name}")
        return report

    def _rollback_phase(self, wl: Workload, name: str, phase: Phase, report: RunReport) -> None:
        pending = list(phase.rollback)
        ran: set[str] = set(self.state.current(wl.id))
        while pending:  # requires order, file order where free (as graph.ordered_steps)
            step = next(
                (
                    s
                    for s in pending
                    if all(r in ran or r not in {x.id for x in phase.rollback} for r in s.requires)
                ),
                pending[0],
            )
            pending.remove(step)
            if step.id in ran:
                report.skipped.append(f"{wl.id}/{step.id}")  # ran before an interruption
                continue
            self._execute(wl, name, step, report, rollback=True)
            ran.add(step.id)
        if self.dry_run:
            return
        forward = {s.id for s in phase.steps}
        for step_id in reversed(self.state.current(wl.id)):
            if step_id in forward:
                self.state.unstamp(wl.id, step_id)
        for step in phase.rollback:
            if self.state.is_done(wl.id, step.id):
                self.state.unstamp(wl.id, step.id)
        self.gates.clear(wl.id, name)
        self.out(f"rolled back {wl.id}/{name}")

    # ------------------------------------------------------------------------------- status

    def status(self, workloads: Optional[list[str]] = None) -> dict[str, Any]:
        """Where each workload stands: steps done/pending per phase, last gate results, the
        managed bridge, the next step."""
        result: dict[str, Any] = {
            "playbook": self.playbook.metadata.name,
            "state_file": str(self.state.path),
            "workloads": {},
        }
        for wl in self._workloads(workloads):
            stamps = {a.step: a.at for a in self.state.applied.get(wl.id, [])}
            phases = []
            for name, phase in wl.phases.present():
                steps = [
                    {
                        "id": s.id,
                        "action": s.action.value,
                        "state": "done" if s.id in stamps else "pending",
                        "at": stamps.get(s.id),
                    }
                    for s in phase.steps
                ]
                record = self.gates.phase(wl.id, name)
                phases.append(
                    {
                        "phase": name,
                        "steps": steps,
                        "gates": {
                            "passed": record.get("passed"),
                            "at": record.get("at"),
                            "results": record.get("results", []),
                        }
                        if phase.gates
                        else None,
                    }
                )
            nxt = self.state.next_step(wl.id)
            bridge = bridgeproc.running(self.dir, wl.id)
            result["workloads"][wl.id] = {
                "done": [s for s in self.state.current(wl.id)],
                "pending": [s.id for _, s in self.state.pending(wl.id)],
                "next": {"phase": nxt[0], "step": nxt[1].id} if nxt else None,
                "bridge": {"pid": bridge.pid, "mode": bridge.mode, "metrics": bridge.metrics_url}
                if bridge
                else None,
                "phases": phases,
            }
        return result
