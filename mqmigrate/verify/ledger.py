"""The verify ledger: what the bridge settled at the source, one JSON object per line.

Format (JSONL, UTF-8, append-only)::

    {"id": "<mq.source.id>", "sha256": "<hex sha256 of the body as produced to Kafka>"}

The bridge appends one line per message *after* it settled the source (so the ledger never
claims a message the source still owns).  Unknown keys are ignored, so the bridge may add
fields (``ts``, ``topic``) later.  The bridge calls :class:`LedgerWriter`; verify reads with
:func:`read_ledger`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from mqmigrate.errors import LedgerError


def _sha256(body: bytes | None) -> str:
    import hashlib

    return hashlib.sha256(body or b"").hexdigest()


class LedgerWriter:
    """Append ``(source id, sha256 of body)`` lines; call :meth:`record` after each settle."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fh = self.path.open("a", encoding="utf-8")

    def record(self, source_id: str, body: bytes | None) -> None:
        """One settled message."""
        self._fh.write(json.dumps({"id": source_id, "sha256": _sha256(body)}) + "\n")

    def flush(self, sync: bool = True) -> None:
        """Hand buffered lines to the OS (readers see them); with ``sync`` also fsync to disk
        (a checkpoint: not per message)."""
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self.flush()
        self._fh.close()

    def __enter__(self) -> "LedgerWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_ledger(path: str | Path) -> Iterator[tuple[str, str]]:
    """Every ``(id, sha256)`` in a ledger; a torn last line (a crash mid-write) is skipped."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LedgerError(
            f"cannot read the verify ledger {p}: {exc.strerror}",
            hint="pass the file the bridge writes with --ledger",
        ) from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            yield str(obj["id"]), str(obj["sha256"])
        except (ValueError, KeyError, TypeError) as exc:
            if n == len(lines):
                return  # torn tail
            raise LedgerError(f"{p}:{n}: not a verify ledger line") from exc
