"""The benchmark's measurement itself, on an in-process queue (no broker)."""

from __future__ import annotations

import queue

import pytest

from mqmigrate.bench.model import Workload, decode_body, encode_body
from mqmigrate.bench.runner import Delivery, run
from mqmigrate.bench.stats import percentile, summarize, timeline
from mqmigrate.errors import UsageError


class InProcessTarget:
    """A queue.Queue per fan-out group; settle is a no-op (nothing is redelivered)."""

    system = "in-process"

    def setup(self, workload):
        self.queues = [queue.Queue() for _ in range(workload.fanout)]

    def publisher(self):
        queues = self.queues

        class P:
            def publish(self, body):
                for q in queues:
                    q.put(body)

            def flush(self):
                pass

            def close(self):
                pass

        return P()

    def consumer(self, group):
        q = self.queues[group]

        class C:
            def receive(self, timeout):
                try:
                    return [Delivery(q.get(timeout=timeout), False, lambda: None)]
                except queue.Empty:
                    return []

            def close(self):
                pass

        return C()

    def teardown(self):
        pass


def test_body_round_trip_and_foreign_bodies():
    body = encode_body(42, 100)
    assert len(body) == 100
    sequence, sent = decode_body(body)
    assert sequence == 42 and sent > 0
    assert decode_body(b"x" * 40) is None and decode_body(b"short") is None


def test_percentiles_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile(values, 99.9) == 100 and percentile([], 50) == 0.0
    assert summarize([3.0, 1.0, 2.0])["max"] == 3.0


def test_timeline_fills_empty_seconds():
    assert timeline([0.1, 0.5, 2.2]) == [(0, 2), (1, 0), (2, 1)]


def test_injected_processing_delay_is_a_lower_bound_of_latency():
    workload = Workload(max_messages=40, consumers=2, processing_ms=25.0, rate=200.0)
    result = run(InProcessTarget(), workload)
    assert result.unique == 40 and result.lost == 0
    assert min(result.latencies_ms) >= 25.0


def test_fixed_rate_for_fixed_time_publishes_rate_times_time():
    workload = Workload(max_messages=100_000, duration=2.0, rate=150.0, consumers=2)
    result = run(InProcessTarget(), workload)
    assert abs(result.published - 300) <= 15  # within 5 %
    assert result.unique == result.published


def test_fan_out_delivers_to_every_group():
    workload = Workload(max_messages=50, fanout=3, consumers=1, rate=500.0)
    result = run(InProcessTarget(), workload)
    assert result.expected == 150 and result.unique == 150 and result.lost == 0


@pytest.mark.parametrize("bad", [dict(message_bytes=4), dict(rate=0), dict(consumers=0),
                                 dict(ack="maybe"), dict(processing_ms=-1)])
def test_invalid_workloads_are_usage_errors(bad):
    with pytest.raises(UsageError):
        Workload(**bad)
