"""Percentiles and per-second timelines."""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def summarize(latencies_ms: Iterable[float]) -> dict[str, float]:
    values = sorted(latencies_ms)
    out = {f"p{p:g}": percentile(values, p) for p in PERCENTILES}
    out["max"] = float(values[-1]) if values else 0.0
    out["mean"] = sum(values) / len(values) if values else 0.0
    return out


def timeline(receive_offsets: Iterable[float]) -> list[tuple[int, int]]:
    """Messages per whole second since the start, with empty seconds filled in."""
    counts = Counter(int(offset) for offset in receive_offsets)
    if not counts:
        return []
    return [(second, counts.get(second, 0)) for second in range(max(counts) + 1)]
