"""The spool: messages a side could not take, kept for :meth:`DualWriter.replay`.

One JSON line per message in ``<dir>/<side>.jsonl``, each written and fsync'd on its own, so
a spooled message survives a crash right after ``send``.  A replay first renames the file to
``<side>.jsonl.replay-<ns>`` (new spools during the replay go to a new file; a replay
interrupted by a crash is resumed by the next one); a line that cannot be parsed goes to
``<side>.corrupt.jsonl``, never deleted.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from mqmigrate.sdk.dualwrite.delay import Side

#: the sides a spool keeps messages for, in replay order
SIDES: tuple[Side, ...] = ("source", "kafka")


@dataclass(frozen=True)
class SpooledMessage:
    """One spooled message, parsed from its line; ``entry`` is the line's JSON as written."""

    message_id: str
    body: bytes
    key: str | None
    headers: dict[str, str]
    due_ms: int | None
    entry: Mapping[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, line: str) -> "SpooledMessage":
        """The message of one spool line; ValueError when the line is not one."""
        try:
            entry = json.loads(line)
            return cls(
                message_id=entry["id"],
                body=base64.b64decode(entry["body"]),
                key=entry.get("key"),
                headers=dict(entry.get("headers") or {}),
                due_ms=int(entry["due_ms"]) if "due_ms" in entry else None,
                entry=entry,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a spooled message: {exc}") from exc

    def failed_again(self, error: str) -> str:
        """The line to spool after another failed attempt (``attempts`` + 1, the error)."""
        entry = dict(self.entry)
        entry["attempts"] = int(entry.get("attempts", 1)) + 1
        entry["error"] = error[:500]
        return json.dumps(entry)


def entry_line(
    *,
    side: Side,
    topic: str,
    body: bytes,
    message_id: str,
    key: str | None,
    headers: Mapping[str, str],
    error: str,
    due_ms: int | None,
) -> str:
    """The spool line of a message ``side`` failed to take."""
    entry: dict[str, Any] = {
        "v": 1,
        "id": message_id,
        "side": side,
        "topic": topic,
        "body": base64.b64encode(body).decode("ascii"),
        "key": key,
        "headers": dict(headers),
        "spooled_at_ms": int(time.time() * 1000),
        "attempts": 1,
        "error": error[:500],
    }
    if due_ms is not None:
        entry["due_ms"] = due_ms  # a replay before it holds the message the rest
    return json.dumps(entry)


class Spool:
    """The spool files of one directory."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, side: Side) -> Path:
        """The file new messages for ``side`` are appended to."""
        return self.directory / f"{side}.jsonl"

    def append(self, side: Side, line: str) -> None:
        """Append one line for ``side``, fsync'd; OSError when it cannot be written."""
        self._append(self.path(side), line)

    def keep_corrupt(self, side: Side, line: str) -> None:
        """Move an unreadable line aside (kept, never dropped)."""
        self._append(self.directory / f"{side}.corrupt.jsonl", line)

    def take(self, side: Side) -> list[Path]:
        """The files to replay for ``side``, oldest first: those a crashed replay left, then
        the current spool, renamed so new spools during the replay go to a new file."""
        batches = sorted(self.directory.glob(f"{side}.jsonl.replay-*"))
        spool = self.path(side)
        if spool.exists():
            taken = self.directory / f"{side}.jsonl.replay-{time.time_ns()}"
            os.replace(spool, taken)
            batches.append(taken)
        return batches

    @staticmethod
    def lines(batch: Path) -> Iterator[str]:
        """The non-blank lines of a taken file."""
        for line in batch.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield line

    def count(self) -> dict[str, int]:
        """How many messages wait, per side."""
        out: dict[str, int] = {side: 0 for side in SIDES}
        for side in SIDES:
            for path in [self.path(side), *self.directory.glob(f"{side}.jsonl.replay-*")]:
                if path.exists():
                    out[side] += sum(1 for _ in self.lines(path))
        return out

    @staticmethod
    def _append(path: Path, line: str) -> None:
        # one write + fsync per line: a spooled message survives a crash right after send()
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line.rstrip("\n") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
