"""Delayed sends: the sides a delay must reach, checked before anything is written, and the due
time a retry or a replay counts down to (a message is never sent before it is due)."""

from __future__ import annotations

from typing import Any, Literal, Mapping, Protocol

from mqmigrate.kafka import delays
from mqmigrate.sdk.dualwrite.modes import Mode

Side = Literal["source", "kafka"]

#: the sides each mode writes
SIDES: dict[Mode, tuple[Side, ...]] = {
    Mode.SOURCE_ONLY: ("source",),
    Mode.KAFKA_ONLY: ("kafka",),
    Mode.DUAL: ("source", "kafka"),
}


class SideProducer(Protocol):
    """One side's producer as the writer uses it: a source publisher or the Kafka side."""

    def send(
        self,
        body: bytes,
        message_id: str,
        headers: Mapping[str, Any],
        key: str | None,
        delay_ms: int | None = None,
    ) -> None: ...

    def check_delay(self, delay_ms: int) -> None: ...

    def close(self) -> None: ...


def check_delay(mode: Mode, delay_ms: int, sides: Mapping[Side, SideProducer]) -> None:
    """ConfigError when a side ``mode`` writes cannot delay by ``delay_ms``: raised before
    either side is written, so a delayed message is written everywhere or nowhere."""
    for side in SIDES[mode]:
        sides[side].check_delay(delay_ms)


def due_at(delay_ms: int | None) -> int | None:
    """The time (ms since the epoch) a message delayed by ``delay_ms`` is due, None if not."""
    return delays.now_ms() + delay_ms if delay_ms else None


def remaining(due_ms: int | None) -> int | None:
    """What is left of a delay now (a retry or a replay comes later); None when the message
    is due already and goes out plain."""
    if due_ms is None:
        return None
    left = due_ms - delays.now_ms()
    return left if left > 0 else None
