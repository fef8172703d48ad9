#!/usr/bin/env python3
"""The work-queue tail after migration: the source queue and the share-group worker side by side.

Runs ``mqmigrate bench --preset work-queue --kafka-client worker`` (``mqmigrate.bench.compare``:
the source first, then Kafka, in one run) for each worker setting, ``--repeat`` times with the
settings interleaved (a load change on a shared machine hits every setting alike), and prints
a Markdown table: the median of each figure over the runs, the p99 ratio (Kafka ÷ source) and
the worker's msg/s of each run, and the load average before each run.

    python -m benchmarks.work_queue_tail --source amqp://guest:guest@127.0.0.1:5672/
    # on a Kafka broker of its own with a low-pause garbage collector (and then with G1, the
    # sandbox's): the same broker settings, only the collector differs
    python -m benchmarks.work_queue_tail --broker-gc zgc --only "pool (default)"
    # the throughput case: the bench's defaults (4 consumers, 10,000 messages, no rate cap)
    python -m benchmarks.work_queue_tail --preset default --only "pool (default)" \
        --only "pool, max.poll.records 1 (plan)"

Bounded: the preset's 5,000 messages at 500 msg/s (``default``: 10,000 messages, a 30 s
publish cap), every run capped in time; only the given brokers are contacted (the sandbox's,
on 127.0.0.1). ``--broker-gc`` starts a private single-node Kafka (the sandbox's jars and
settings, 1 GiB heap, free ports, a temporary directory) for the series, runs one unmeasured
warm-up run on it first (a fresh broker's JIT shows in the first run's tail), and stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Iterator


from mqmigrate.bench import PRESETS, Workload, compare  # noqa: E402

#: label -> compare() options; "thread, 50" is the worker before the pool (the old default)
SETTINGS = {
    "thread, max.poll.records 50": dict(worker_handoff="thread", max_poll_records=50),
    "pool (default)": dict(),  # one share consumer per handler thread
    "pool, max.poll.records 1 (plan)": dict(max_poll_records=1),
    "pool, 2 share consumers": dict(share_consumers=2),
    "pool, 1 share consumer": dict(share_consumers=1),
}
#: ``--preset default``: no preset, the bench's own defaults (the throughput case)
NO_PRESET = "default"


@contextlib.contextmanager
def kafka_for_the_series(bootstrap: str, collector: str | None) -> Iterator[str]:
    """``bootstrap`` as given, or a private broker's with ``collector`` while the series runs."""
    if collector is None:
        yield bootstrap
        return
    from mqmigrate.sandbox import manager
    from tests.support.brokers import PrivateKafka

    with tempfile.TemporaryDirectory(prefix="mqmigrate-tail-") as state:
        broker = PrivateKafka(
            Path(state), manager.context().cache_dir, heap="1g", collector=collector
        )
        broker.start()
        try:
            yield broker.bootstrap
        finally:
            broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--preset",
        default="work-queue",
        choices=[*sorted(PRESETS), NO_PRESET],
        help="the workload (default: work-queue; 'default': the bench's defaults)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SETTINGS),
        help="run only this setting (repeatable)",
    )
    parser.add_argument("--rate", type=float, help="override the preset's 500 msg/s")
    parser.add_argument("--processing-ms", type=float, help="override the preset's 10 ms")
    parser.add_argument("--messages", type=int, help="override the preset's 5,000")
    parser.add_argument(
        "--broker-gc",
        choices=["g1", "zgc"],
        help="run on a private Kafka broker with this garbage collector (default: --kafka)",
    )
    args = parser.parse_args()
    chosen = {k: v for k, v in SETTINGS.items() if not args.only or k in args.only}
    overrides = {
        "rate": args.rate,
        "processing_ms": args.processing_ms,
        "max_messages": args.messages,
    }
    workload = Workload(
        **{
            **(PRESETS[args.preset] if args.preset != NO_PRESET else {}),
            **{k: v for k, v in overrides.items() if v is not None},
        }
    )
    with kafka_for_the_series(args.kafka, args.broker_gc) as kafka:
        if args.broker_gc:
            compare(args.source, kafka, workload, kafka_client="worker")  # warm-up
        runs = run_series(args.source, kafka, workload, chosen, args.repeat)
    print_table(runs)
    return 0


def run_series(
    source: str, kafka: str, workload: Workload, chosen: dict[str, dict], repeat: int
) -> dict[str, list[tuple[dict, float]]]:
    """Each setting ``repeat`` times, interleaved; each run's document and load average."""
    runs: dict[str, list[tuple[dict, float]]] = {label: [] for label in chosen}
    for round_ in range(repeat):
        for label, options in chosen.items():
            load = os.getloadavg()[0]
            doc, _ = compare(source, kafka, workload, kafka_client="worker", **options)
            runs[label].append((doc, load))
            source_run, kafka_run = doc["runs"]
            print(
                f"# run {round_ + 1} {label}: load {load:.1f}; p99 {source_run['system']} "
                f"{source_run['latency_ms']['p99']:.1f} ms, worker "
                f"{kafka_run['latency_ms']['p99']:.1f} ms; "
                f"{kafka_run['notes'][0] if kafka_run['notes'] else ''}",
                file=sys.stderr,
                flush=True,
            )
    return runs


def print_table(runs: dict[str, list[tuple[dict, float]]]) -> None:
    """The Markdown table: medians per setting and system, and each run's figures."""
    print(
        "| worker setting | system | msg/s | p50 ms | p90 ms | p99 ms | lost | msg/s per run "
        "| p99 ratio per run | load avg per run |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|---|---|")
    for label, done in runs.items():
        for index in (0, 1):
            rows = [doc["runs"][index] for doc, _ in done]

            def med(get, rows=rows) -> float:
                return statistics.median(get(r) for r in rows)

            system = rows[0]["system"]
            rates = ", ".join(f"{r['throughput_per_s']:,.0f}" for r in rows)
            ratios = loads = ""
            if index == 1:
                ratios = ", ".join(f"{d['ratio']['latency_p99']:.1f}×" for d, _ in done)
                loads = ", ".join(f"{load:.0f}" for _, load in done)
            print(
                f"| {label if index == 0 else ''} | {system} | {med(lambda r: r['throughput_per_s']):,.0f} "
                f"| {med(lambda r: r['latency_ms']['p50']):,.1f} "
                f"| {med(lambda r: r['latency_ms']['p90']):,.1f} "
                f"| {med(lambda r: r['latency_ms']['p99']):,.1f} "
                f"| {max(r['lost'] for r in rows)} | {rates} | {ratios} | {loads} |"
            )


if __name__ == "__main__":
    sys.exit(main())
