"""Delay tiers: delayed delivery and retry with backoff on Kafka, which has neither.

A *tier* is a fixed delay with its own topic, ``<topic>.retry-<label>`` (``orders.retry-30s``).
A record written to a tier carries its due time (absolute epoch ms) in the ``mq.retry.due``
header; the :class:`~mqmigrate.sdk.worker.Worker` reads each tier with a consumer group of its own
and hands the record to the handler no earlier than that time (docs/delays.md).

Everything here is pure logic (parsing, rounding, header encoding), shared by the worker (retry
with backoff) and the dual-write producer (``send(..., delay=...)``), so both agree on topic
names and headers.

Rules the tiers follow:

* a requested delay is rounded **up** to the smallest tier that is at least as long, so a record
  is never due early; the due time written is *now + that tier's delay*, so within one tier
  partition due times grow with the offsets (one fixed delay per topic) and the consumer only
  ever waits for the head of a partition;
* a delay longer than the largest tier is refused (:class:`~mqmigrate.errors.ConfigError`) at
  the call: an unbounded delay would need a scheduler, and chaining hops silently would hide a
  mistyped delay;
* a negative, non-numeric, NaN or infinite delay is refused the same way.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, Mapping, Sequence, Union

from mqmigrate.errors import ConfigError

#: a delay as the SDKs accept it: seconds, a timedelta, or text such as ``"30s"``, ``"5m"``
DelayLike = Union[int, float, timedelta, str]

# -- headers on a record in a tier topic ------------------------------------------------------
DUE = "mq.retry.due"  #: epoch ms before which the record must not be handled
ATTEMPT = "mq.retry.attempt"  #: handler attempts already made (0 for a delayed send)
TIER = "mq.retry.tier"  #: the tier label (``30s``)
GROUP = "mq.retry.group"  #: the share group whose retry this is; absent: every group's
ORIGIN_TOPIC = "mq.retry.origin.topic"  #: where the record was first consumed (or meant for)
ORIGIN_PARTITION = "mq.retry.origin.partition"
ORIGIN_OFFSET = "mq.retry.origin.offset"
ERROR = "mq.retry.error"  #: ``Type: message`` of the last failure, at most 512 bytes

RETRY_HEADERS = (DUE, ATTEMPT, TIER, GROUP, ORIGIN_TOPIC, ORIGIN_PARTITION, ORIGIN_OFFSET, ERROR)
ERROR_MAX = 512

#: the label separator in tier topic and group names
SUFFIX = ".retry-"

_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def to_ms(delay: DelayLike, what: str = "delay") -> int:
    """``delay`` in whole milliseconds (rounded up); ConfigError when it is not a delay.

    Numbers are seconds; text is a number with an optional unit (``ms``, ``s``, ``m``, ``h``,
    ``d``; seconds when none).
    """
    if isinstance(delay, bool):  # bool is an int: True would be a 1 s delay
        raise ConfigError(f"{what} must be a duration, not {delay!r}")
    if isinstance(delay, timedelta):
        seconds = delay.total_seconds()
    elif isinstance(delay, (int, float)):
        seconds = float(delay)
    elif isinstance(delay, str):
        match = _TEXT.match(delay)
        if match is None:
            raise ConfigError(
                f"{what} {delay[:40]!r} is not a duration",
                hint="use seconds, or a number with ms, s, m, h or d: '30s'",
            )
        return math.ceil(float(match.group(1)) * _UNITS[match.group(2) or "s"])
    else:
        raise ConfigError(
            f"{what} must be seconds, a timedelta or text like '30s', not {type(delay).__name__}"
        )
    if math.isnan(seconds) or math.isinf(seconds):
        raise ConfigError(f"{what} must be a finite duration, not {seconds}")
    if seconds < 0:
        raise ConfigError(f"{what} must not be negative ({seconds:g} s)")
    return math.ceil(seconds * 1000)


def label(ms: int) -> str:
    """The shortest exact text for ``ms``: ``500ms``, ``30s``, ``5m``, ``1h``, ``90s``."""
    for unit in ("d", "h", "m", "s"):
        if ms >= _UNITS[unit] and ms % _UNITS[unit] == 0:
            return f"{ms // _UNITS[unit]}{unit}"
    return f"{ms}ms"


@dataclass(frozen=True)
class Tier:
    """One delay tier: its delay and its label (the topic and group suffix)."""

    delay_ms: int
    label: str

    def topic(self, topic: str) -> str:
        """The tier topic of ``topic``: ``orders.retry-30s``."""
        return f"{topic}{SUFFIX}{self.label}"

    def group(self, group: str) -> str:
        """The consumer group that reads this tier for share group ``group``."""
        return f"{group}{SUFFIX}{self.label}"


class DelayTiers:
    """A bounded, ordered set of delay tiers, e.g. ``DelayTiers(["1s", "30s", "5m"])``.

    The order given is the worker's backoff schedule: the first failure waits the first tier,
    the second the second, and so on (the last tier repeats when attempts outnumber tiers).
    Tiers are distinct and ascending; at most :attr:`MAX_TIERS`.
    """

    MAX_TIERS = 8
    #: the shortest tier: below ~100 ms a poll round trip is the delay
    MIN_MS = 100

    def __init__(self, tiers: Iterable[DelayLike]):
        values = [to_ms(t, "retry tier") for t in tiers]
        if not values:
            raise ConfigError("retry tiers: give at least one delay, e.g. ('1s', '30s', '5m')")
        if len(values) > self.MAX_TIERS:
            raise ConfigError(
                f"retry tiers: {len(values)} tiers, at most {self.MAX_TIERS}",
                hint="each tier is a topic and a consumer group; a few suffice",
            )
        if any(v < self.MIN_MS for v in values):
            raise ConfigError(
                f"retry tiers must be at least {self.MIN_MS} ms, got "
                + ", ".join(label(v) for v in values)
            )
        if values != sorted(set(values)):
            raise ConfigError(
                "retry tiers must be distinct and ascending, got "
                + ", ".join(label(v) for v in values)
            )
        self.tiers: tuple[Tier, ...] = tuple(Tier(v, label(v)) for v in values)

    @classmethod
    def of(cls, tiers: "DelayTiers | Iterable[DelayLike] | None") -> "DelayTiers | None":
        """``tiers`` as DelayTiers (None stays None; a DelayTiers is returned as is)."""
        if tiers is None or isinstance(tiers, DelayTiers):
            return tiers
        if isinstance(tiers, (str, bytes)):
            tiers = [t for t in str(tiers).split(",") if t.strip()]
        return cls(tiers)

    def __iter__(self):
        return iter(self.tiers)

    def __len__(self) -> int:
        return len(self.tiers)

    def __repr__(self) -> str:
        return f"DelayTiers({[t.label for t in self.tiers]!r})"

    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.tiers]

    @property
    def largest(self) -> Tier:
        return self.tiers[-1]

    def for_delay(self, delay: DelayLike) -> Tier:
        """The smallest tier at least as long as ``delay`` (never early).

        ConfigError when ``delay`` is not a duration or is longer than the largest tier.
        """
        ms = to_ms(delay)
        for tier in self.tiers:
            if tier.delay_ms >= ms:
                return tier
        raise ConfigError(
            f"delay {label(ms)} is longer than the largest retry tier ({self.largest.label})",
            hint="add a longer tier (retry_tiers) and its topic, or delay less",
        )

    def for_attempt(self, attempt: int) -> Tier:
        """The schedule's tier after failed attempt ``attempt`` (1-based; the last repeats)."""
        return self.tiers[min(max(attempt, 1), len(self.tiers)) - 1]

    def by_label(self, text: str) -> Tier | None:
        return next((t for t in self.tiers if t.label == text), None)

    def topics(self, topics: Sequence[str]) -> list[str]:
        """Every tier topic of ``topics``."""
        return [tier.topic(t) for tier in self.tiers for t in topics]


def origin_of(tier_topic: str) -> str:
    """``orders`` from ``orders.retry-30s`` (the topic itself when it is no tier topic)."""
    base, sep, _ = tier_topic.rpartition(SUFFIX)
    return base if sep else tier_topic


def now_ms() -> int:
    return int(time.time() * 1000)


def tier_headers(
    *,
    due_ms: int,
    attempt: int,
    tier: Tier,
    origin_topic: str,
    origin_partition: int | None = None,
    origin_offset: int | None = None,
    group: str | None = None,
    error: str | None = None,
) -> list[tuple[str, bytes]]:
    """The ``mq.retry.*`` headers of a record written to ``tier``."""
    out = [
        (DUE, str(due_ms).encode()),
        (ATTEMPT, str(attempt).encode()),
        (TIER, tier.label.encode()),
        (ORIGIN_TOPIC, origin_topic.encode()),
    ]
    if origin_partition is not None:
        out.append((ORIGIN_PARTITION, str(origin_partition).encode()))
    if origin_offset is not None:
        out.append((ORIGIN_OFFSET, str(origin_offset).encode()))
    if group:
        out.append((GROUP, group.encode()))
    if error:
        out.append((ERROR, error.encode("utf-8", "replace")[:ERROR_MAX]))
    return out


def header_int(headers: Mapping[str, str], name: str, default: int = 0) -> int:
    """An integer ``mq.retry.*`` header; ``default`` when absent or unreadable."""
    try:
        return int(headers.get(name, default))
    except (TypeError, ValueError):
        return default
