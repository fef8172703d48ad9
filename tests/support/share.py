"""Helpers for tests that drive a real share consumer."""

from __future__ import annotations

import time
from typing import Callable


def poll_until_quiet(
    consumer, decide: Callable, expected: int, *, quiet: float = 5.0, timeout: float = 30.0
) -> list[tuple[bytes, int]]:
    """Poll, acknowledging each record with ``decide(message)``, until ``expected`` records
    were seen and then ``quiet`` more seconds passed (a redelivery would show up by then).

    Returns ``(value, delivery_count)`` of every record seen, in order; bounded by ``timeout``.
    """
    deadline = time.monotonic() + timeout
    seen: list[tuple[bytes, int]] = []
    quiet_until = None
    while time.monotonic() < deadline:
        batch = [m for m in consumer.poll(0.5) if m.error() is None]
        for message in batch:
            seen.append((message.value(), message.delivery_count()))
            consumer.acknowledge(message, decide(message))
        if batch:
            consumer.commit_sync(10)
        if len(seen) >= expected and quiet_until is None:
            quiet_until = time.monotonic() + quiet
        if quiet_until and time.monotonic() > quiet_until:
            break
    return seen
