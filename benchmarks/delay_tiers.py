"""Delay precision and worker throughput with and without delay tiers.

Three runs against the sandbox Kafka, each on fresh topics and groups, ``--records`` records
each (one worker, ``--concurrency`` share-consumer threads):

* **plain**: the handler ACCEPTs every record: the worker's throughput without tiers;
* **release**: the handler fails the first attempt with a plain RELEASE (no tiers): how soon a
  "retry" comes back — the share group redelivers at once, so a wanted back-off is missed by
  nearly all of it;
* **tiers**: the handler raises ``RetryableError`` on the first attempt (schedule: the
  ``--tier`` tier) and ACCEPTs the second: the main topic's throughput when every record is
  also written to a tier, the tier consumer's throughput, and the precision of the delay
  (handled − due: early ones counted, lateness p50 / p99 / max);
* **backlog**: ``--records`` records already due wait in a tier topic when the worker starts:
  the tier consumer's own throughput (in the tiers run it only keeps pace with the arrivals).

Ratios are printed against the plain run.  Run against a running sandbox::

    python -m benchmarks.delay_tiers --records 2000

Only a loopback bootstrap is accepted; the script deletes its topics.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid

from confluent_kafka import Producer

from mqmigrate.kafka import delays
from mqmigrate.kafka import share
from mqmigrate.sdk.worker import RetryableError, Worker

_LOOPBACK = ("127.0.0.1:", "localhost:", "[::1]:")


class Calls:
    """(attempt, handled ms, due ms or None) per handler call, and when each was seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[tuple[int, int, int | None]] = []

    def add(self, attempt: int, due: str | None) -> None:
        with self.lock:
            self.rows.append((attempt, delays.now_ms(), int(due) if due else None))

    def count(self, attempt: int) -> int:
        with self.lock:
            return sum(1 for a, *_ in self.rows if a == attempt)


def _rate(times: list[int]) -> float:
    """Records per second between the first and the last handler call."""
    if len(times) < 2:
        return 0.0
    span = (max(times) - min(times)) / 1000
    return (len(times) - 1) / span if span > 0 else float("inf")


def _pct(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0


def _run(
    bootstrap: str, kind: str, records: int, tier: str, concurrency: int, budget: float
) -> Calls:
    name = f"bench-delay-{kind}-{uuid.uuid4().hex[:6]}"
    group = f"g-{name}"
    admin = share.admin_client(bootstrap)
    tiers = delays.DelayTiers([tier]) if kind in ("tiers", "backlog") else None
    topics = [name] + (tiers.topics([name]) if tiers else [])
    for topic in topics:
        share.create_topic(admin, topic, partitions=max(1, concurrency))
    share.set_group_configs(
        admin, group, {"share.auto.offset.reset": "earliest", "share.delivery.count.limit": "5"}
    )
    calls = Calls()

    def handler(message) -> None:
        calls.add(message.delivery_count, message.mq.get(delays.DUE))
        if kind in ("release", "tiers") and message.delivery_count == 1:
            raise RetryableError("first attempt fails")

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    target, headers = name, None
    if kind == "backlog":
        assert tiers is not None
        target = tiers.largest.topic(name)
        headers = delays.tier_headers(
            due_ms=delays.now_ms(), attempt=0, tier=tiers.largest, origin_topic=name
        )
    for i in range(records):
        producer.produce(target, b"x" * 200, key=str(i).encode(), headers=headers)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(60)
    worker = Worker(
        bootstrap,
        name,
        group,
        handler,
        concurrency=concurrency,
        retry_tiers=tiers,
        max_poll_records=200,
        install_signal_handlers=False,
        metrics=False,
    )
    worker.start()
    want_attempt = 1 if kind in ("plain", "backlog") else 2
    deadline = time.monotonic() + budget
    try:
        while calls.count(want_attempt) < records and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
        worker.join(timeout=60)
        share.delete_topics(admin, topics, missing_ok=True)
    if calls.count(want_attempt) < records:
        print(
            f"  {kind}: only {calls.count(want_attempt)} of {records} within {budget:.0f}s",
            file=sys.stderr,
        )
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--tier", default="2s", help="the one tier of the tiers run")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per run, at most")
    args = parser.parse_args(argv)
    if not args.bootstrap.startswith(_LOOPBACK):
        parser.error("--bootstrap must be a loopback address (this is a load test)")
    tier_ms = delays.to_ms(args.tier)

    plain = _run(args.bootstrap, "plain", args.records, args.tier, args.concurrency, args.budget)
    release = _run(
        args.bootstrap, "release", args.records, args.tier, args.concurrency, args.budget
    )
    tiered = _run(args.bootstrap, "tiers", args.records, args.tier, args.concurrency, args.budget)
    backlog = _run(
        args.bootstrap, "backlog", args.records, args.tier, args.concurrency, args.budget
    )

    plain_rate = _rate([t for a, t, _ in plain.rows if a == 1])
    # release: how long after the first attempt the second came, per record order
    first = sorted(t for a, t, _ in release.rows if a == 1)
    second = sorted(t for a, t, _ in release.rows if a == 2)
    gaps = [b - a for a, b in zip(first, second)]
    main_rate = _rate([t for a, t, _ in tiered.rows if a == 1])
    tier_rate = _rate([t for a, t, _ in backlog.rows if a == 1])
    due = [(t, d) for a, t, d in tiered.rows if a == 2 and d is not None]
    lateness = [t - d for t, d in due]
    early = sum(1 for x in lateness if x < 0)

    print(f"records {args.records}, concurrency {args.concurrency}, tier {args.tier}")
    print(f"plain worker (ACCEPT all)             {plain_rate:9.0f} records/s")
    print(
        f"main topic, every record to a tier    {main_rate:9.0f} records/s   ratio "
        f"{main_rate / plain_rate if plain_rate else 0:.2f}"
    )
    print(
        f"tier consumer, a due backlog          {tier_rate:9.0f} records/s   ratio "
        f"{tier_rate / plain_rate if plain_rate else 0:.2f}"
    )
    print(
        f"RELEASE without tiers: retry after p50 {_pct(gaps, 0.5)} ms (wanted {tier_ms} ms): "
        f"{sum(1 for g in gaps if g < tier_ms)} of {len(gaps)} early"
    )
    print(
        f"tiers: {len(due)} delayed, early {early}, lateness p50 {_pct(lateness, 0.5)} ms, "
        f"p99 {_pct(lateness, 0.99)} ms, max {max(lateness, default=0)} ms "
        f"(lateness / delay p50 {_pct(lateness, 0.5) / tier_ms:.3f})"
    )
    return 0 if early == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
