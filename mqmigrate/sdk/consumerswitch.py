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
cuts; :class:`Follower` runs a service's two consumers by the switch.  How a service follows
the switch without a gap (docs/worker.md, "Following the cutover"):

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
        cut, name = (
            (self.start_offsets, "start_offsets")
            if self.consumers == KAFKA
            else (self.end_offsets, "end_offsets")
        )
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


def worker_handler(
    current: Callable[[], Switch],
    handler: Callable[[Any], Any],
    on_skip: Callable[[Any], None] | None = None,
) -> Callable[[Any], Any]:
    """A ``mqmigrate.sdk.worker`` handler that calls ``handler`` only for the records the switch's
    current cut gives the worker (:meth:`Switch.worker_processes`), and ACCEPTs the others
    (``on_skip`` is told)."""

    def handle(message: Any) -> Any:
        if current().worker_processes(message.partition, message.offset):
            return handler(message)
        if on_skip is not None:
            on_skip(message)
        return None

    return handle


class Follower(threading.Thread):
    """Runs a service's two consumers the way the switch says, without a gap.

    ``start_source()`` starts the source consumer and returns it (anything with ``stop()``, which
    hands unprocessed prefetched messages back to the queue); ``start_worker(handle)`` starts a
    ``mqmigrate.sdk.worker.Worker`` (or anything with ``stop()``/``join()``) on ``handle`` and
    returns it; ``handler`` is the service's record handler.  The follower:

    * starts the source consumer (nothing switched yet means ``source``);
    * on ``kafka``: starts the worker; stops the source consumer once the worker has processed a
      record (the cut decides which records it processes);
    * on ``source``: starts the source consumer at once; stops the worker once it has processed
      nothing for ``idle_exit`` seconds (it finishes the records below the cut back).

    ``source_stops``/``worker_stops`` count the handovers (each may repeat at most the in-flight
    window of what it stopped); ``skipped`` the records ACCEPTed unprocessed; ``error`` the
    exception that ended the thread, if any.
    """

    def __init__(
        self,
        switch: ConsumerSwitch,
        handler: Callable[[Any], Any],
        *,
        start_source: Callable[[], Any],
        start_worker: Callable[[Callable], Any],
        idle_exit: float = 3.0,
        interval: float = 0.05,
    ):
        super().__init__(name="mqmigrate-consumer-switch", daemon=True)
        self.switch = switch
        self.handler = handler
        self._start_source = start_source
        self._start_worker = start_worker
        self.idle_exit = idle_exit
        self.interval = interval
        self.source: Any = None
        self.worker: Any = None
        self.worker_processed = threading.Event()  # since the last switch to Kafka
        self._worker_last = 0.0
        self.skipped = 0
        self.source_stops = 0
        self.worker_stops = 0
        self.error: BaseException | None = None
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def _handle(self, message: Any) -> Any:
        result = self.handler(message)
        self._worker_last = time.monotonic()
        self.worker_processed.set()
        return result

    def _skip(self, _message: Any) -> None:
        with self._lock:
            self.skipped += 1

    def _stop_source(self) -> None:
        source, self.source = self.source, None
        source.stop()
        self.source_stops += 1

    def _stop_worker(self) -> None:
        worker, self.worker = self.worker, None
        worker.stop()
        worker.join(30)
        self.worker_stops += 1

    def run(self) -> None:
        try:
            self.source = self._start_source()
            side = SOURCE
            while not self._stop_event.is_set():
                now = self.switch.current()
                if now.consumers != side:
                    side = now.consumers
                    if side == KAFKA:
                        self.worker_processed.clear()
                        if self.worker is None:
                            self._worker_last = time.monotonic()
                            self.worker = self._start_worker(
                                worker_handler(self.switch.current, self._handle, self._skip)
                            )
                    else:
                        self._worker_last = time.monotonic()  # idle counts from the switch
                        if self.source is None:
                            self.source = self._start_source()
                if side == KAFKA and self.source is not None and self.worker_processed.is_set():
                    self._stop_source()
                if (
                    side == SOURCE
                    and self.worker is not None
                    and time.monotonic() - self._worker_last > self.idle_exit
                ):
                    self._stop_worker()
                self._stop_event.wait(self.interval)
        except BaseException as exc:  # the owner reads it; a follower never dies silently
            self.error = exc

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop following, then stop whichever consumers run."""
        self._stop_event.set()
        self.join(timeout)
        if self.source is not None:
            self._stop_source()
        if self.worker is not None:
            self._stop_worker()
