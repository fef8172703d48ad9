"""The playbook run state: which steps of a playbook have run, alembic ``stamp``/``current`` style.

The state file is a JSON file next to the playbook (``<playbook>.state.json``), rewritten
atomically (temporary file, fsync, rename) after every change so a crash leaves either the old
or the new state, never half a file.  ``cutover`` stamps a step only after it succeeded, and
skips stamped steps when it resumes.  A stamp whose ``requires`` are not all stamped is refused,
so the state file never describes a state the graph forbids.

Format (version 1)::

    {"version": 1, "playbook": "orders",
     "workloads": {"orders": {"applied": [{"step": "provision", "phase": "provision",
                                           "at": "2026-11-25T22:00:00+00:00"}]}}}
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mqmigrate.errors import PlaybookStateError
from mqmigrate.playbooks.graph import ordered_steps
from mqmigrate.playbooks.model import Playbook, Step

VERSION = 1


def state_path(playbook_path: str | Path) -> Path:
    """``orders.yaml`` → ``orders.yaml.state.json`` (next to the playbook)."""
    playbook_path = Path(playbook_path)
    return playbook_path.with_name(playbook_path.name + ".state.json")


def atomic_write(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old or the new content, never a mix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


@dataclass(frozen=True)
class Applied:
    """One stamped step."""

    step: str
    phase: str
    at: str


@dataclass
class PlaybookState:
    """What has been applied, per workload, for one playbook."""

    path: Path
    playbook: Playbook
    applied: dict[str, list[Applied]] = field(default_factory=dict)

    @classmethod
    def open(cls, playbook_path: str | Path, playbook: Playbook) -> "PlaybookState":
        """The run state of ``playbook`` (loaded from ``playbook_path``); empty if none exists yet."""
        path = state_path(playbook_path)
        state = cls(path, playbook)
        if not path.exists():
            return state
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PlaybookStateError(
                f"{path}: unreadable state file: {exc}",
                hint="restore it from backup or remove it to start over",
            ) from exc
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            raise PlaybookStateError(f"{path}: not a version-{VERSION} mqmigrate state file")
        if raw.get("playbook") != playbook.metadata.name:
            raise PlaybookStateError(
                f"{path}: state file belongs to playbook '{raw.get('playbook')}', not "
                f"'{playbook.metadata.name}'"
            )
        try:
            for workload, entry in (raw.get("workloads") or {}).items():
                state.applied[workload] = [
                    Applied(str(a["step"]), str(a["phase"]), str(a["at"])) for a in entry["applied"]
                ]
        except (KeyError, TypeError, AttributeError) as exc:
            raise PlaybookStateError(f"{path}: malformed state file entry: {exc}") from exc
        # a state file naming steps the playbook no longer has would make "what is done" a guess
        known = {
            w.id: {s.id for _, p in w.phases.present() for s in p.steps + p.rollback}
            for w in playbook.workloads
        }
        stale = [
            f"{wl}/{a.step}"
            for wl, entries in state.applied.items()
            for a in entries
            if a.step not in known.get(wl, set())
        ]
        if stale:
            raise PlaybookStateError(
                f"{path}: records steps the playbook does not have: {', '.join(stale)}",
                hint="the playbook changed after steps ran; restore it or edit "
                "the state file deliberately",
            )
        return state

    # ---- queries (alembic "current", "heads", "check")

    def current(self, workload: str) -> list[str]:
        """Ids of the steps applied to ``workload``, in the order they were stamped."""
        return [a.step for a in self.applied.get(workload, [])]

    def is_done(self, workload: str, step: str) -> bool:
        """Whether ``step`` of ``workload`` is stamped."""
        return step in self.current(workload)

    def pending(self, workload: str) -> list[tuple[str, Step]]:
        """Forward steps not yet applied, in run order."""
        done = set(self.current(workload))
        return [
            (phase, s)
            for phase, s in ordered_steps(self.playbook.workload(workload))
            if s.id not in done
        ]

    def next_step(self, workload: str) -> tuple[str, Step] | None:
        """The first pending step whose requirements are all applied (None when finished)."""
        done = set(self.current(workload))
        for phase, step in self.pending(workload):
            if all(r in done for r in step.requires):
                return phase, step
        return None

    # ---- changes (alembic "stamp")

    def _step(self, workload: str, step_id: str) -> tuple[str, Step]:
        try:
            wl = self.playbook.workload(workload)
        except KeyError:
            raise PlaybookStateError(
                f"no workload '{workload}' in playbook '{self.playbook.metadata.name}'"
            ) from None
        for name, phase in wl.phases.present():
            for step in phase.steps + phase.rollback:
                if step.id == step_id:
                    return name, step
        raise PlaybookStateError(f"workload '{workload}' has no step '{step_id}'")

    def stamp(self, workload: str, step_id: str, *, at: datetime | None = None) -> Applied:
        """Record that ``step_id`` of ``workload`` ran; refuses unmet requirements, no-op if done."""
        phase, step = self._step(workload, step_id)
        done = self.current(workload)
        if step_id in done:
            return next(a for a in self.applied[workload] if a.step == step_id)
        missing = [r for r in step.requires if r not in done]
        if missing:
            raise PlaybookStateError(
                f"cannot stamp '{step_id}' of '{workload}': it requires "
                f"{', '.join(missing)}, not applied yet"
            )
        entry = Applied(step_id, phase, (at or datetime.now(timezone.utc)).isoformat())
        self.applied.setdefault(workload, []).append(entry)
        self.save()
        return entry

    def unstamp(self, workload: str, step_id: str) -> None:
        """Forget ``step_id`` (after its rollback ran); refuses while a later stamp needs it."""
        self._step(workload, step_id)
        wl = self.playbook.workload(workload)
        dependants = [
            s.id for _, s in wl.steps() if step_id in s.requires and self.is_done(workload, s.id)
        ]
        if dependants:
            raise PlaybookStateError(
                f"cannot unstamp '{step_id}' of '{workload}': applied steps "
                f"{', '.join(dependants)} require it"
            )
        self.applied[workload] = [a for a in self.applied.get(workload, []) if a.step != step_id]
        self.save()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document written to the state file."""
        return {
            "version": VERSION,
            "playbook": self.playbook.metadata.name,
            "workloads": {
                wl: {"applied": [{"step": a.step, "phase": a.phase, "at": a.at} for a in entries]}
                for wl, entries in sorted(self.applied.items())
            },
        }

    def save(self) -> None:
        """Write the state file atomically."""
        try:
            atomic_write(self.path, json.dumps(self.to_dict(), indent=2) + "\n")
        except OSError as exc:
            raise PlaybookStateError(
                f"{self.path}: cannot write the state file: {exc.strerror or exc}"
            ) from exc
