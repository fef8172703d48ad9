#!/usr/bin/env python3
"""Publish the project's own queue benchmark: each source of the sandbox vs a Kafka share group.

Runs the same code as ``mqmigrate bench`` (``mqmigrate.bench.compare``) for each source and
workload, ``--repeat`` times, and writes ``docs/benchmarks.md`` with the machine, the versions,
the median of the runs and the spread (max − min as a share of the median).

    python -m benchmarks.queues                      # the sandbox must be up: mqmigrate sandbox up
    python -m benchmarks.queues --repeat 2 --out docs/benchmarks.md

Bounded: every run has a message cap and a time cap; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


from mqmigrate.bench import Workload, compare  # noqa: E402
from mqmigrate.sandbox import manager  # noqa: E402
from mqmigrate.sandbox.registry import service_class  # noqa: E402

WORKLOADS = {
    # as fast as possible, 1 KiB, 4 consumers, explicit settlement after processing
    "throughput": dict(name="throughput", max_messages=20_000, duration=30.0, consumers=4),
    # fixed moderate rate: latency without saturation
    "latency@500/s": dict(
        name="latency@500/s", rate=500.0, max_messages=5_000, duration=10.0, consumers=4
    ),
    # the classic work queue: 8 consumers, 10 ms of work each
    "work-queue": dict(
        name="work-queue",
        rate=500.0,
        consumers=8,
        processing_ms=10.0,
        max_messages=5_000,
        duration=10.0,
    ),
}


#: the heading after which the generated part ends: every section below it holds other
#: benchmark scripts' figures and is kept as it is
GENERATED_UNTIL = "\n## Reading these numbers"

#: how to read the table; kept with the generator so a regenerated file keeps it
READING = """## Reading these numbers

- **One machine, two cores.** Brokers, publishers and consumers share the CPUs, so these are
  comparisons on equal footing, not capacity figures.
- **Every publisher sends the way production publishers of its system do**, and every message
  is confirmed by the broker before it counts: Kafka's producer is asynchronous and batches
  (`acks=all`, idempotent, each delivery report checked); the RabbitMQ publisher uses publisher
  confirms asynchronously, at most `--publish-window` (1,000) unconfirmed; the AMQP 1.0
  publisher sends within the link's credit, at most 1,000 deliveries unsettled, each settled
  as the broker accepts it; SQS sends 10 messages per `SendMessageBatch`, each entry checked.
  A nack, a rejected or released delivery or a failed entry stops the run with exit 2.
  [Each system against its vendor tool](#each-system-against-its-vendor-tool) shows that the
  harness is not what limits a source.
- **Fixed-rate rows** (`latency@500/s`, `work-queue`) are the fair latency comparison: all
  systems keep up, and the latency columns show the cost of each path.
- **Kafka's work-queue tail**: with 8 consumers on one partition and 10 ms of work each, the
  share consumer acquires records in poll batches; records waiting in another consumer's batch
  wait for its earlier records' processing, which is the p99 seen here (raw `ShareConsumer`
  per thread). confluent-kafka 2.16 returns every acquired record from one poll whatever
  `max.poll.records` says; the worker SDK's pool hands such a batch to every idle handler
  instead ([The work-queue tail](#the-work-queue-tail)); `mqmigrate bench --kafka-client
  worker` with `--worker-handoff`, `--share-consumers`, `--max-poll-records` and
  `--partitions` shows each lever.
- **Raw client vs the worker SDK.** The table uses one raw `ShareConsumer` per consumer
  thread. `mqmigrate bench --kafka-client worker` measures the same workload through the
  `mqmigrate.sdk.worker` SDK (ACCEPT after the handler returns), which is what a migrated service
  runs; in the benchmark it adds a thread hand-off per message (the handler passes each record
  to a benchmark consumer thread and waits for it).
"""


def sources() -> dict[str, str]:
    ctx = manager.context()
    rabbit = service_class("rabbitmq")(ctx)
    elastic = service_class("elasticmq")(ctx)
    artemis = service_class("artemis")(ctx)
    return {
        "RabbitMQ (AMQP 0-9-1)": f"amqp://guest:guest@127.0.0.1:{rabbit.port('amqp')}/",
        "SQS (ElasticMQ)": f"sqs+http://x:y@127.0.0.1:{elastic.port('http')}?region=us-east-1",
        "Artemis (AMQP 1.0)": f"amqp1://artemis:artemis@127.0.0.1:{artemis.port('acceptor')}",
    }


def spread(values: list[float]) -> str:
    if len(values) < 2 or not statistics.median(values):
        return "–"
    return f"±{(max(values) - min(values)) / statistics.median(values) * 50:.0f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--only", action="append", help="workload names to run")
    args = parser.parse_args()
    ctx = manager.context()
    kafka = service_class("kafka")(ctx).bootstrap
    rows = []
    for source_name, uri in sources().items():
        for workload_name, settings in WORKLOADS.items():
            if args.only and workload_name not in args.only:
                continue
            runs = []
            for attempt in range(args.repeat):
                print(f"{source_name} / {workload_name} run {attempt + 1}", file=sys.stderr)
                doc, _ = compare(uri, kafka, Workload(**settings))
                runs.append(doc)
                time.sleep(1)
            rows.append((source_name, workload_name, runs))
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[
        0
    ]
    import confluent_kafka
    import pika

    lines = [
        "# Benchmarks",
        "",
        "Queue-style throughput and end-to-end latency, each sandbox source against a Kafka",
        "share group, with the same workload and the same code (`mqmigrate bench`).",
        f"Generated by `python -m benchmarks.queues --repeat {args.repeat}` on "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        f"- Machine: {platform.machine()}, {__import__('os').cpu_count()} cores, "
        f"{platform.platform()}; everything (brokers and clients) on this one machine.",
        f"- Python {platform.python_version()}, confluent-kafka {confluent_kafka.version()} "
        f"(librdkafka {confluent_kafka.libversion()[0]}), pika {pika.__version__}; {java}.",
        "- Kafka 4.4.0 single KRaft node, 1-partition topic, share group with explicit ACCEPT;"
        " RabbitMQ 3.10.8 durable classic queue, persistent messages, manual acks, prefetch 200;"
        " ElasticMQ 1.7.1 in memory, 10-message batches; Artemis 2.40.0 anycast queue, credit 100.",
        "- Latency = completion time (after the simulated processing) − send time, from the"
        " timestamp in each message body. Throughput = unique messages ÷ time from the first"
        " publish to the last completion.",
        f"- Each cell is the median of {args.repeat} runs; ± is half the range as a share of"
        " the median (the spread between runs).",
        "",
        "| source | workload | system | msg/s | ± | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | lost |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for source_name, workload_name, runs in rows:
        for index in (0, 1):
            system = runs[0]["runs"][index]["system"]
            tput = [r["runs"][index]["throughput_per_s"] for r in runs]
            lat = {
                k: statistics.median(r["runs"][index]["latency_ms"][k] for r in runs)
                for k in ("p50", "p90", "p99", "p99.9", "max")
            }
            lost = max(r["runs"][index]["lost"] for r in runs)
            lines.append(
                f"| {source_name if index == 0 else ''} | {workload_name if index == 0 else ''} "
                f"| {system} | {statistics.median(tput):,.0f} | {spread(tput)} | "
                + " | ".join(f"{lat[k]:,.1f}" for k in ("p50", "p90", "p99", "p99.9", "max"))
                + f" | {lost} |"
            )
        ratios = [r["ratio"]["throughput"] for r in runs if r["ratio"]["throughput"]]
        p99 = [r["ratio"]["latency_p99"] for r in runs if r["ratio"]["latency_p99"]]
        lines.append(
            f"| | | **Kafka ÷ source** | **{statistics.median(ratios):.2f}×** | | | | "
            f"**{statistics.median(p99):.2f}×** | | | |"
        )
    lines += ["", READING]
    # sections other benchmarks wrote below this one (the AMQP 1.0 bridge, delay tiers...)
    previous = args.out.read_text() if args.out.exists() else ""
    reading = previous.find(GENERATED_UNTIL)
    following = previous.find("\n## ", reading + 1) if reading >= 0 else -1
    kept = previous[following:] if following >= 0 else ""
    args.out.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
