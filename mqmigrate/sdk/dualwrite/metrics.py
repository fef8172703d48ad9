"""The dual-writer's Prometheus metrics."""

from __future__ import annotations

import threading
from typing import Any


class DualWriteMetrics:
    """Prometheus counters by side (``source`` / ``kafka``) and the current mode."""

    _default: "DualWriteMetrics | None" = None
    _lock = threading.Lock()

    def __init__(self, registry: Any = None):
        from prometheus_client import CollectorRegistry, Counter, Gauge

        registry = registry if registry is not None else CollectorRegistry()
        self.written = Counter(
            "mqmigrate_dualwrite_written_total",
            "Messages confirmed by a side",
            ["side"],
            registry=registry,
        )
        self.failed = Counter(
            "mqmigrate_dualwrite_failed_total",
            "Write attempts a side did not confirm",
            ["side"],
            registry=registry,
        )
        self.spooled = Counter(
            "mqmigrate_dualwrite_spooled_total",
            "Messages spooled for a side that failed",
            ["side"],
            registry=registry,
        )
        self.replayed = Counter(
            "mqmigrate_dualwrite_replayed_total",
            "Spooled messages re-sent successfully",
            ["side"],
            registry=registry,
        )
        self.errors = Counter(
            "mqmigrate_dualwrite_errors_total",
            "send() calls that raised",
            ["mode"],
            registry=registry,
        )
        self.mode = Gauge(
            "mqmigrate_dualwrite_mode", "1 for the mode in use", ["mode"], registry=registry
        )

    @classmethod
    def default(cls) -> "DualWriteMetrics":
        from prometheus_client import REGISTRY

        with cls._lock:
            if cls._default is None:
                cls._default = cls(REGISTRY)
            return cls._default
