#!/usr/bin/env python3
"""The worker SDK's drain rate of a backlog, for several ``max_poll_records``, side by side.

A share fetch with ``max.poll.records`` 1 still takes a whole producer batch (a soft limit in
confluent-kafka 2.16), so a backlog written in large batches drains alike whatever the
setting; a backlog of small producer batches is the case where one record per fetch costs
round trips.  Each run writes ``--records`` records of ``--size`` bytes in producer batches
of ``--batch`` records (each batch flushed alone) to a fresh 1-partition topic, then starts a
worker (``--concurrency`` handler threads, a handler that does nothing) and times the drain
from its first handler call to its last.  Settings are interleaved run by run; prints a
Markdown table with the drain rate of each run, its median and the load average.

    python -m benchmarks.worker_drain --repeat 3 --batch 1
    python -m benchmarks.worker_drain --repeat 3 --batch 500

Bounded: ``--records`` records per run (5,000 by default), each drain capped at 120 s; only
the given broker (the sandbox's, on 127.0.0.1) is contacted; every topic is deleted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid

from confluent_kafka import Producer

from mqmigrate.kafka import share
from mqmigrate.sdk.worker import Worker

#: label -> Worker options
SETTINGS: dict[str, dict[str, int]] = {
    "default": {},
    "1 (what plan writes for a work queue)": {"max_poll_records": 1},
}


def drain(bootstrap: str, records: int, size: int, batch: int, concurrency: int, options: dict):
    """Records/s of one worker draining a fresh backlog; the max_poll_records it used."""
    admin = share.admin_client(bootstrap)
    topic = f"drain-{uuid.uuid4().hex[:10]}"
    group = f"g-{topic}"
    share.create_topic(admin, topic, partitions=1)
    try:
        share.set_group_configs(admin, group, {"share.auto.offset.reset": "earliest"})
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        value = b"x" * size
        for start in range(0, records, batch):
            for _ in range(min(batch, records - start)):
                producer.produce(topic, value)
            producer.flush(30)
        times: list[float] = []
        lock = threading.Lock()

        def handler(_message) -> None:
            with lock:
                times.append(time.perf_counter())

        worker = Worker(
            bootstrap,
            topic,
            group,
            handler,
            concurrency=concurrency,
            metrics=False,
            install_signal_handlers=False,
            dead_letter="none",
            **options,
        )
        worker.start()
        deadline = time.monotonic() + 120
        while len(times) < records and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.stop()
        worker.join(timeout=60)
        if len(times) < records:
            raise SystemExit(f"drained {len(times)} of {records} records in 120 s")
        return (records - 1) / (times[-1] - times[0]), worker.max_poll_records
    finally:
        share.delete_topic(admin, topic)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1, help="records per producer batch")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--also", type=int, action="append", default=[], help="a max_poll_records to add"
    )
    parser.add_argument(
        "--share-consumers",
        type=int,
        action="append",
        default=[],
        help="a number of share consumers feeding the handlers to add",
    )
    args = parser.parse_args()
    settings = {
        **SETTINGS,
        **{f"max_poll_records {n}": {"max_poll_records": n} for n in args.also},
        **{f"share_consumers {n}": {"share_consumers": n} for n in args.share_consumers},
    }
    runs: dict[str, list[tuple[float, float, int]]] = {label: [] for label in settings}
    for round_ in range(args.repeat):
        for label, options in settings.items():
            load = os.getloadavg()[0]
            rate, used = drain(
                args.kafka, args.records, args.size, args.batch, args.concurrency, options
            )
            runs[label].append((rate, load, used))
            print(
                f"# run {round_ + 1} {label}: load {load:.1f}, max_poll_records {used}, "
                f"{rate:,.0f} records/s",
                file=sys.stderr,
                flush=True,
            )
    print(
        f"backlog of {args.records:,} records of {args.size} B in producer batches of "
        f"{args.batch}, worker concurrency {args.concurrency}:\n"
    )
    print("| setting | max_poll_records | records/s per run | median | load avg per run |")
    print("|---|---:|---|---:|---|")
    for label, done in runs.items():
        rates = ", ".join(f"{rate:,.0f}" for rate, _, _ in done)
        loads = ", ".join(f"{load:.0f}" for _, load, _ in done)
        median = statistics.median(rate for rate, _, _ in done)
        print(f"| {label} | {done[0][2]} | {rates} | {median:,.0f} | {loads} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
