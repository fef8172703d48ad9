"""The step graph of a workload, checked the way alembic checks its revision graph.

Each kind of problem is its own exception type (as ``alembic.script.revision`` has
``CycleDetected``, ``RangeNotAncestorError`` ...), carrying the path of the offending value so
the loader can point at a line and column.  :func:`check` returns all of them at once;
:func:`ordered_steps` gives the order ``cutover`` runs steps in.
"""

from __future__ import annotations

from mqmigrate.playbooks.model import PHASES, Playbook, Step, Workload
from mqmigrate.playbooks.paths import format_path


class StepGraphError(Exception):
    """A problem with the step graph of one workload, at ``path`` in the document."""

    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


class DuplicateStepError(StepGraphError):
    """Two steps of one workload share an id."""


class DanglingRequirementError(StepGraphError):
    """``requires`` names a step the workload does not have."""


class PhaseOrderError(StepGraphError):
    """A step requires a step of a later phase (which cannot have run yet)."""


class CycleError(StepGraphError):
    """Steps require each other in a loop."""


class DuplicateWorkloadError(StepGraphError):
    """Two workloads share an id (the state file keys on it)."""


def _step_paths(workload_path: tuple, workload: Workload):
    """``(path, phase_name, kind, step)`` for every step, forward and rollback."""
    for name, phase in workload.phases.present():
        for kind in ("steps", "rollback"):
            for k, step in enumerate(getattr(phase, kind)):
                yield workload_path + ("phases", name, kind, k), name, kind, step


def check_workload(workload: Workload, workload_path: tuple = ()) -> list[StepGraphError]:
    """Every graph problem in one workload.

    Forward steps may require forward steps of the same or an earlier phase; rollback steps may
    require rollback steps of any phase (rollback runs phases in reverse).  Ids are unique across
    forward and rollback steps because the state file records them by id.
    """
    problems: list[StepGraphError] = []
    seen: dict[str, tuple] = {}
    forward: dict[str, tuple[int, Step]] = {}
    rollback: dict[str, Step] = {}
    entries = list(_step_paths(workload_path, workload))
    for path, name, kind, step in entries:
        if step.id in seen:
            problems.append(
                DuplicateStepError(
                    path + ("id",),
                    f"duplicate step id '{step.id}' (first defined at {_dotted(seen[step.id])})",
                )
            )
            continue
        seen[step.id] = path
        if kind == "steps":
            forward[step.id] = (PHASES.index(name), step)
        else:
            rollback[step.id] = step
    for path, name, kind, step in entries:
        pool = forward if kind == "steps" else rollback
        for r, required in enumerate(step.requires):
            where = path + ("requires", r)
            if required not in pool:
                other = (
                    "a rollback step"
                    if required in rollback
                    else ("a forward step" if required in forward else None)
                )
                detail = f" ('{required}' is {other})" if other else ""
                problems.append(
                    DanglingRequirementError(
                        where,
                        f"requires unknown {'rollback ' if kind == 'rollback' else ''}step "
                        f"'{required}'{detail}",
                    )
                )
            elif kind == "steps" and forward[required][0] > PHASES.index(name):
                later = PHASES[forward[required][0]]
                problems.append(
                    PhaseOrderError(
                        where,
                        f"step '{step.id}' in phase {name} requires '{required}' of the later "
                        f"phase {later}",
                    )
                )
    for pool, kind in ((forward, "steps"), (rollback, "rollback")):
        graph = {
            sid: [r for r in (s[1] if kind == "steps" else s).requires if r in pool]
            for sid, s in pool.items()
        }
        for cycle in _cycles(graph):
            first = next(p for p, _, k, st in entries if st.id == cycle[0] and k == kind)
            problems.append(
                CycleError(
                    first + ("requires",),
                    "steps require each other in a cycle: " + " -> ".join(cycle + [cycle[0]]),
                )
            )
    return problems


def check(playbook: Playbook) -> list[StepGraphError]:
    """Every graph problem in the playbook (all workloads), plus duplicate workload ids."""
    problems: list[StepGraphError] = []
    ids: dict[str, int] = {}
    for i, workload in enumerate(playbook.workloads):
        if workload.id in ids:
            problems.append(
                DuplicateWorkloadError(
                    ("workloads", i, "id"),
                    f"duplicate workload id '{workload.id}' (first is workloads[{ids[workload.id]}])",
                )
            )
        ids.setdefault(workload.id, i)
        problems.extend(check_workload(workload, ("workloads", i)))
    return problems


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One representative cycle per strongly connected loop (iterative DFS, stable order)."""
    colour: dict[str, int] = {}  # 0/absent white, 1 on stack, 2 done
    cycles: list[list[str]] = []
    for root in graph:
        if colour.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        colour[root] = 1
        while stack:
            node, i = stack[-1]
            edges = graph[node]
            if i < len(edges):
                stack[-1] = (node, i + 1)
                nxt = edges[i]
                if colour.get(nxt) == 1:
                    cycles.append(path[path.index(nxt) :])
                elif not colour.get(nxt):
                    colour[nxt] = 1
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                colour[node] = 2
                stack.pop()
                path.pop()
    return cycles


def ordered_steps(workload: Workload) -> list[tuple[str, Step]]:
    """Forward steps in run order: phases in their fixed order, within a phase a topological
    order of ``requires`` that keeps document order where the graph allows.

    Assumes :func:`check_workload` found nothing.
    """
    result: list[tuple[str, Step]] = []
    done: set[str] = set()
    for name, phase in workload.phases.present():
        pending = list(phase.steps)
        while pending:
            ready = next(s for s in pending if all(r in done for r in s.requires))
            pending.remove(ready)
            done.add(ready.id)
            result.append((name, ready))
    return result


def _dotted(path: tuple) -> str:
    return format_path(path)
