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
            confirmed = 0

            def publish(self, body):
                for q in queues:
                    q.put(body)
                self.confirmed += 1

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


@pytest.mark.parametrize(
    "bad",
    [
        dict(message_bytes=4),
        dict(rate=0),
        dict(consumers=0),
        dict(ack="maybe"),
        dict(processing_ms=-1),
        dict(source_prefetch=0),
    ],
)
def test_invalid_workloads_are_usage_errors(bad):
    with pytest.raises(UsageError):
        Workload(**bad)


def test_acquire_mode_refused_when_unknown_or_when_the_client_lacks_it(monkeypatch):
    from mqmigrate.kafka import share

    with pytest.raises(UsageError, match="bad share.acquire.mode"):
        share.require_acquire_mode("strict")
    monkeypatch.setattr(share, "_acquire_mode_support", False)
    with pytest.raises(UsageError, match="has no share.acquire.mode") as info:
        share.require_acquire_mode("record_limit")
    assert "max.poll.records" in info.value.hint


def test_acquire_mode_probe_matches_the_installed_client(monkeypatch):
    """The probe builds a real (never started) client: it must agree with librdkafka."""
    from confluent_kafka import KafkaException, ShareConsumer

    from mqmigrate.kafka import share

    monkeypatch.setattr(share, "_acquire_mode_support", None)
    try:
        ShareConsumer({"group.id": "g", "share.acquire.mode": "record_limit"}).close()
        known = True
    except KafkaException:
        known = False
    assert share.client_supports_acquire_mode() is known


def test_bench_share_targets_pass_the_knobs_to_the_clients():
    from mqmigrate.bench.targets import KafkaShareTarget, KafkaWorkerTarget

    assert KafkaShareTarget("127.0.0.1:1").client_settings() == {}
    raw = KafkaShareTarget("127.0.0.1:1", max_poll_records=1, acquire_mode="record_limit")
    assert raw.client_settings() == {"max.poll.records": "1", "share.acquire.mode": "record_limit"}
    worker = KafkaWorkerTarget("127.0.0.1:1", concurrency=3, handoff="thread")
    assert worker.worker_settings() == {
        "handoff": "thread",
        "worker_concurrency": 3,
        "max_poll_records": 50,
    }


def test_bench_cli_refuses_worker_knobs_without_the_worker(capsys):
    from mqmigrate.cli import main
    from mqmigrate.errors import ExitCode

    code = main(
        [
            "bench",
            "--source",
            "amqp://127.0.0.1:1/",
            "--kafka",
            "127.0.0.1:1",
            "--worker-concurrency",
            "2",
        ]
    )
    assert code == ExitCode.USAGE
    assert "--kafka-client worker" in capsys.readouterr().err


def test_the_work_queue_preset_dispatches_one_message_at_a_time_on_the_source(monkeypatch):
    """A latency-bound work queue's consumers take one message at a time (fair dispatch);
    with 200 prefetched, a message can wait behind another consumer's backlog."""
    import mqmigrate.bench as bench
    from mqmigrate.bench import targets
    from mqmigrate.bench.model import PRESETS

    prefetches: list[int] = []

    def fake_source_target(uri: str, window: int, prefetch: int) -> str:
        prefetches.append(prefetch)
        return "source"

    monkeypatch.setattr(targets, "source_target", fake_source_target)
    monkeypatch.setattr("mqmigrate.bench.report.comparison", lambda *args: {})
    monkeypatch.setattr(targets.KafkaShareTarget, "client_settings", lambda self: {})
    monkeypatch.setattr(bench, "run", lambda target, workload, progress: _Result())
    for preset in ("work-queue", "burst"):
        bench.compare("amqp://127.0.0.1:1/", "127.0.0.1:1", Workload(**PRESETS[preset]))
    assert prefetches == [1, 200]


class _Result:
    notes: list[str] = []
