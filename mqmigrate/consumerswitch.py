"""The consumer-side switch: which consumer of a service runs, the source's or the Kafka worker.

``cutover`` writes it (actions ``consumers.kafka`` / ``consumers.source``); a service that runs
both consumers in one deployment reads it and follows (:class:`ConsumerSwitch`).  The switch is
a small JSON file, written atomically::

    {"consumers": "kafka", "topic": "orders", "start_offsets": {"0": 1200, "1": 1187}}
    {"consumers": "source", "topic": "orders", "end_offsets": {"0": 5310, "1": 5288}}

Both offsets are **cuts**: the topic's end offsets, taken while no bridge writes to it.

* ``start_offsets`` (to Kafka) is taken after the shadow bridge stopped and before the drain
  bridge starts.  Every record below it is a shadow copy of a message the source consumer
  already processed or that is still in the source queue (the drain bridge moves those again,
  above the cut), so the worker ACCEPTs records below it without processing them.
* ``end_offsets`` (back to the source) is taken after the drain bridge stopped and before the
  shadow bridge restarts.  Records below it are what the drain bridge moved: only the worker
  can process those, so it finishes them; records above it are shadow copies of messages the
  source consumer handles, which the worker ACCEPTs without processing.

No message is thus handled both from the source queue and from its copy in Kafka; duplicates
stay within the in-flight windows of what a handover stops.  :func:`worker_handler` applies the
cuts.  How a service follows the switch without a gap (docs/worker.md, "Following the cutover"):

* ``source`` → ``kafka``: start the worker; stop the source consumer once the worker processed
  its first record above the cut (a share consumer takes seconds to join; until then the source
  consumer keeps working).  Messages the source consumer prefetched but did not process go back
  to the queue (nack/requeue), and the drain bridge moves them.
* ``kafka`` → ``source``: start the source consumer at once; keep the worker until it has
  processed nothing below the cut back for a few seconds, then stop it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from mqmigrate.errors import UsageError

SOURCE = "source"
KAFKA = "kafka"


@dataclass(frozen=True)
class Switch:
    """One state of the switch."""

    consumers: str = SOURCE
    topic: str | None = None
    #: to Kafka: partition -> first offset the worker processes (below: shadow copies)
    start_offsets: Mapping[int, int] = field(default_factory=dict)
    #: back to the source: partition -> first offset the worker no longer processes
    end_offsets: Mapping[int, int] = field(default_factory=dict)

    def to_json(self) -> str:
        doc: dict[str, Any] = {"consumers": self.consumers}
        if self.topic is not None:
            doc["topic"] = self.topic
        cut, name = ((self.start_offsets, "start_offsets") if self.consumers == KAFKA
                     else (self.end_offsets, "end_offsets"))
        if cut:
            doc[name] = {str(p): o for p, o in sorted(cut.items())}
        return json.dumps(doc) + "\n"

    @classmethod
    def parse(cls, text: str) -> "Switch":
        """The switch in ``text``; ValueError when it is not one."""
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("consumers") not in (SOURCE, KAFKA):
            raise ValueError("'consumers' must be 'source' or 'kafka'")
        cuts = {}
        for name in ("start_offsets", "end_offsets"):
            offsets = doc.get(name) or {}
            if not isinstance(offsets, dict):
                raise ValueError(f"'{name}' must map partitions to offsets")
            cuts[name] = {int(p): int(o) for p, o in offsets.items()}
        return cls(doc["consumers"], doc.get("topic"), **cuts)

    def worker_processes(self, partition: int, offset: int) -> bool:
        """Whether the worker processes this record (else it ACCEPTs it unprocessed)."""
        if self.consumers == KAFKA:
            return offset >= self.start_offsets.get(partition, 0)
        end = self.end_offsets.get(partition)
        return end is not None and offset < end


def write(path: str | os.PathLike, switch: Switch) -> None:
    """Write ``switch`` atomically: a reader sees the old or the new state, never half."""
    from mqmigrate.playbooks.state import atomic_write

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, switch.to_json())


def read(path: str | os.PathLike) -> Switch | None:
    """The switch in ``path``; None when the file does not exist (nothing switched yet)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return Switch.parse(text)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"consumer switch {path}: {exc}") from exc


class ConsumerSwitch:
    """A service's view of the switch file, re-read at most every ``interval`` seconds.

    A missing file means ``source`` (the service runs as before the migration); an unreadable
    or invalid one keeps the last valid state, so a half-edited file never flips a service.
    """

    def __init__(self, path: str | os.PathLike, interval: float = 0.2):
        self.path = Path(path)
        self.interval = interval
        self._state = Switch()
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> Switch:
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.interval:
                self._checked = now
                try:
                    self._state = read(self.path) or Switch()
                except (UsageError, OSError):
                    pass  # keep the last valid state
            return self._state


def worker_handler(current: Callable[[], Switch], handler: Callable[[Any], Any],
                   on_skip: Callable[[Any], None] | None = None) -> Callable[[Any], Any]:
    """A ``mqmigrate.worker`` handler that calls ``handler`` only for the records the switch's
    current cut gives the worker (:meth:`Switch.worker_processes`), and ACCEPTs the others
    (``on_skip`` is told)."""

    def handle(message: Any) -> Any:
        if current().worker_processes(message.partition, message.offset):
            return handler(message)
        if on_skip is not None:
            on_skip(message)
        return None

    return handle
