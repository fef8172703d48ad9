"""Each system against its own vendor perf tool, side by side, on the sandbox (127.0.0.1 only).

    python -m benchmarks.vendor_tools                       # all systems, 3 rounds
    python -m benchmarks.vendor_tools --only rabbitmq --repeat 5 --messages 50000

Per system and round, the vendor tool and ``mqmigrate bench``'s own loop
(:func:`mqmigrate.bench.run`, the code behind ``mqmigrate bench``) run the same preset, one
after the other: ``--messages`` persistent messages of ``--size`` bytes, ``--consumers``
competing consumers settling each message, published as fast as the broker confirms them with
at most ``--window`` unconfirmed.

* RabbitMQ: PerfTest (``com.rabbitmq:perf-test`` from Maven Central) ``-x 1 -y N -C M -s S
  -c W -q 200 -f persistent --exit-when empty``: one producer with confirms, N consumers with
  manual acks and prefetch 200, concurrently.  Compared: its "sending rate avg" and
  "receiving rate avg" with mqmigrate's publish rate and end-to-end rate.
* Artemis (AMQP 1.0): ``artemis perf client --protocol AMQP --persistent --max-pending W
  --consumers N --message-count M``, concurrently; rates from its JSON report (messages ÷ the
  seconds its samples cover).
* Kafka: ``ProducerPerformance`` (``acks=all``, idempotent, ``linger.ms=5``: the bench
  producer's settings) fills a topic, then ``ShareConsumerPerformance --threads N`` drains it
  through one share group; mqmigrate runs its ``burst`` shape (publish everything, then N
  share consumers drain it, timed from their start: group join included, as in the tool).
* SQS: AWS ships no perf tool; nothing to compare against (mqmigrate's own figure is
  printed for reference).

Prints each round, then the medians and the ratio mqmigrate ÷ vendor per figure.  Every run
is bounded (a subprocess timeout, the bench's message and time caps); queues and topics it
creates are named ``mqmigrate-bench-*`` and deleted afterwards.  The brokers are the
sandbox's, with its well-known local credentials (guest, artemis); the vendor tools take them
on their command line, so point this script at nothing else.  Needs ``mqmigrate sandbox up``
and Java 17; the tools' jars are fetched once by the sandbox's Maven helper (``mvn``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

PERFTEST_VERSION = "2.22.1"
RABBIT_USER = ("guest", "guest")
ARTEMIS_CREDENTIALS = ("artemis", "artemis")
#: SQS has no vendor tool to match; its reference run is capped at this many messages
SQS_MESSAGES = 5_000


@dataclass
class Rates:
    """msg/s measured by one tool in one round (None: the tool does not report it)."""

    publish: float | None = None
    consume: float | None = None
    #: CPU time of the client side per message (µs): the tool's processes, or this process
    #: (all its threads) for mqmigrate; filled in by :func:`_measured`
    cpu_us: float | None = None
    #: messages the run moved (None: the preset's count)
    messages: int | None = None
    notes: list[str] = field(default_factory=list)


# -- parsing the vendor tools' output (pure; tests/unit/test_bench_vendor_output.py) ----------
_PERFTEST_RATE = re.compile(r"(sending|receiving) rate avg: ([\d.]+) msg/s")


def parse_perftest(text: str) -> Rates:
    """PerfTest's summary: ``sending rate avg: N msg/s`` and ``receiving rate avg: N msg/s``."""
    found = {kind: float(value) for kind, value in _PERFTEST_RATE.findall(text)}
    if "sending" not in found or "receiving" not in found:
        raise ValueError("no 'sending/receiving rate avg' lines in PerfTest's output")
    return Rates(publish=found["sending"], consume=found["receiving"])


def parse_artemis_perf(samples: list[dict]) -> Rates:
    """``artemis perf client --json``: 1-second ``interval`` samples, then a ``summary``.

    The tool prints no overall rate; the samples cover from one second before the first
    sample's time to the summary's time, so the rates are the totals over that span.
    """
    intervals = [s for s in samples if s.get("sampleType") == "interval" and not s.get("warmup")]
    summary = next((s for s in samples if s.get("sampleType") == "summary"), None)
    if not intervals or summary is None:
        raise ValueError("artemis perf report has no interval samples or no summary")
    if summary.get("result") != "success":
        raise ValueError(f"artemis perf reported result {summary.get('result')!r}")
    seconds = (summary["time"] - intervals[0]["time"]) / 1000.0 + 1.0
    return Rates(
        publish=summary["totalCompleted"] / seconds,
        consume=summary["totalReceived"] / seconds,
    )


_PRODUCER_SUMMARY = re.compile(r"^(\d+) records sent, ([\d.]+) records/sec", re.MULTILINE)


def parse_producer_performance(text: str) -> tuple[int, float]:
    """Kafka's ``ProducerPerformance`` last line: ``N records sent, R records/sec (...)``."""
    found = _PRODUCER_SUMMARY.findall(text)
    if not found:
        raise ValueError("no 'records sent' summary in ProducerPerformance's output")
    sent, rate = found[-1]
    return int(sent), float(rate)


def parse_share_consumer_performance(text: str) -> tuple[int, float]:
    """Kafka's ``ShareConsumerPerformance``: a CSV header (``..., nMsg.sec,
    data.consumed.in.nMsg, ...``) and one line of totals; returns (records, records/s)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines[:-1]):
        header = [c.strip() for c in line.split(",")]
        if "nMsg.sec" in header and "data.consumed.in.nMsg" in header:
            values = [c.strip() for c in lines[i + 1].split(",")]
            return (
                int(float(values[header.index("data.consumed.in.nMsg")])),
                float(values[header.index("nMsg.sec")]),
            )
    raise ValueError("no nMsg.sec header in ShareConsumerPerformance's output")


# -- running --------------------------------------------------------------------------------
def _name(kind: str) -> str:
    return f"mqmigrate-bench-vendor-{kind}-{uuid.uuid4().hex[:8]}"


def _run(cmd: list[str], timeout: float) -> str:
    """Run a vendor tool to completion (bounded); its stdout and stderr together."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{Path(cmd[0]).name} did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise RuntimeError(f"{Path(cmd[0]).name} exited {proc.returncode}: {tail[:300]}")
    return proc.stdout + proc.stderr


@dataclass
class Preset:
    messages: int
    size: int
    consumers: int
    window: int
    timeout: float

    def workload(self, **overrides: object):
        from mqmigrate.bench import Workload

        settings: dict = dict(
            name="vendor-comparison",
            message_bytes=self.size,
            max_messages=self.messages,
            duration=self.timeout,
            consumers=self.consumers,
            drain_timeout=self.timeout,
        )
        settings.update(overrides)
        return Workload(**settings)


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measured(who: str, runner: Callable, sandbox: "Sandbox", preset: "Preset") -> Rates:
    """Run one side and note the client CPU it used per message (the vendor tools run as
    child processes, mqmigrate's loop in this one)."""
    clock = _children_cpu if who == "vendor" else time.process_time
    before = clock()
    rates: Rates = runner(sandbox, preset)
    rates.cpu_us = (clock() - before) / (rates.messages or preset.messages) * 1e6
    return rates


def _mqmigrate(target, workload) -> Rates:
    from mqmigrate.bench import run

    result = run(target, workload)
    if result.lost or result.confirmed != result.published:
        raise RuntimeError(
            f"mqmigrate bench on {result.system}: published {result.published}, confirmed "
            f"{result.confirmed}, delivered {result.unique}: {result.notes}"
        )
    return Rates(
        publish=result.published / result.publish_seconds if result.publish_seconds else None,
        consume=result.throughput,
        messages=result.published,
    )


class Sandbox:
    """The sandbox's endpoints and the vendor tools' installs."""

    def __init__(self) -> None:
        from mqmigrate.sandbox import manager
        from mqmigrate.sandbox.registry import service_class

        self.ctx = manager.context()
        self.kafka = service_class("kafka")(self.ctx)
        self.rabbit_port = service_class("rabbitmq")(self.ctx).port("amqp")
        artemis = service_class("artemis")(self.ctx)
        self.artemis = artemis
        self.artemis_port = artemis.port("acceptor")
        self.artemis_console = artemis.port("console")
        self.elastic_port = service_class("elasticmq")(self.ctx).port("http")

    def perftest_classpath(self) -> str:
        from mqmigrate.sandbox import maven

        libs = maven.classpath(
            self.ctx.cache_dir,
            f"perf-test-{PERFTEST_VERSION}",
            [f"com.rabbitmq:perf-test:{PERFTEST_VERSION}"],
        )
        return f"{libs}/*"

    @property
    def rabbit_uri(self) -> str:
        return f"amqp://{RABBIT_USER[0]}:{RABBIT_USER[1]}@127.0.0.1:{self.rabbit_port}/"

    @property
    def artemis_uri(self) -> str:
        user, password = ARTEMIS_CREDENTIALS
        return f"amqp1://{user}:{password}@127.0.0.1:{self.artemis_port}"


# -- per system -------------------------------------------------------------------------------
def rabbitmq_vendor(sandbox: Sandbox, preset: Preset) -> Rates:
    """PerfTest: 1 producer with confirms, N consumers with manual acks, on a named queue
    deleted when its last consumer leaves (and once more afterwards, to be sure)."""
    queue = _name("perftest")
    cmd = [
        "java",
        "-Xmx512m",
        "-cp",
        sandbox.perftest_classpath(),
        "com.rabbitmq.perf.PerfTest",
        "--uri",
        sandbox.rabbit_uri + "%2f",
        "-x", "1",
        "-y", str(preset.consumers),
        "-s", str(preset.size),
        "-C", str(preset.messages),
        "-c", str(preset.window),
        "-q", "200",
        "-f", "persistent",
        "--queue", queue,
        "--auto-delete", "true",
        "--exit-when", "empty",
        "-z", str(int(preset.timeout)),
    ]  # fmt: skip
    try:
        return parse_perftest(_run(cmd, preset.timeout + 60))
    finally:
        _delete_rabbit_queue(sandbox, queue)


def _delete_rabbit_queue(sandbox: Sandbox, queue: str) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(sandbox.rabbit_uri + "%2f"))
    try:
        connection.channel().queue_delete(queue)
    except pika.exceptions.ChannelClosedByBroker:
        pass  # already gone (auto-delete)
    finally:
        connection.close()


def rabbitmq_mqmigrate(sandbox: Sandbox, preset: Preset) -> Rates:
    from mqmigrate.bench.targets import source_target

    return _mqmigrate(source_target(sandbox.rabbit_uri, preset.window), preset.workload())


def artemis_vendor(sandbox: Sandbox, preset: Preset) -> Rates:
    """``artemis perf client`` over AMQP 1.0 (Qpid JMS), producer and consumers at once."""
    queue = _name("artemis-perf")
    user, password = ARTEMIS_CREDENTIALS
    with tempfile.TemporaryDirectory(prefix="mqmigrate-vendor-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [
            str(sandbox.artemis.home() / "bin" / "artemis"),
            "perf", "client",
            "--silent",
            "--protocol", "AMQP",
            "--url", f"amqp://127.0.0.1:{sandbox.artemis_port}",
            "--user", user,
            "--password", password,
            "--persistent",
            "--message-count", str(preset.messages),
            "--message-size", str(preset.size),
            "--consumers", str(preset.consumers),
            "--max-pending", str(preset.window),
            "--json", str(report),
            f"queue://{queue}",
        ]  # fmt: skip
        try:
            _run(cmd, preset.timeout + 60)
            return parse_artemis_perf(json.loads(report.read_text()))
        finally:
            _delete_artemis_queue(sandbox, queue)


def _delete_artemis_queue(sandbox: Sandbox, queue: str) -> None:
    from mqmigrate.sources.amqp1.artemis import ArtemisManagement

    user, password = ARTEMIS_CREDENTIALS
    management = ArtemisManagement(
        f"artemis+http://{user}:{password}@127.0.0.1:{sandbox.artemis_console}"
    )
    try:
        if management.find_queue(queue) is not None:
            management.destroy_queue(queue)
        management.delete_address(queue)
    except Exception:
        pass  # auto-created: Artemis removes it itself once empty and unused
    finally:
        management.close()


def artemis_mqmigrate(sandbox: Sandbox, preset: Preset) -> Rates:
    from mqmigrate.bench.targets import source_target

    return _mqmigrate(source_target(sandbox.artemis_uri, preset.window), preset.workload())


def kafka_vendor(sandbox: Sandbox, preset: Preset) -> Rates:
    """ProducerPerformance fills a 1-partition topic; ShareConsumerPerformance drains it."""
    from mqmigrate.kafka import share

    topic = _name("kafka")
    group = f"{topic}-g"
    admin = share.admin_client(sandbox.kafka.bootstrap)
    share.create_topic(admin, topic, 1, {"max.message.bytes": str(max(preset.size * 2, 1048588))})
    try:
        share.set_group_configs(admin, group, {"share.auto.offset.reset": "earliest"})
        produced = sandbox.kafka.java(
            "org.apache.kafka.tools.ProducerPerformance",
            "--topic", topic,
            "--num-records", str(preset.messages),
            "--record-size", str(preset.size),
            "--throughput", "-1",
            "--bootstrap-server", sandbox.kafka.bootstrap,
            "--command-property", "acks=all", "enable.idempotence=true", "linger.ms=5",
            timeout=preset.timeout + 60,
        )  # fmt: skip
        if produced.returncode != 0:
            raise RuntimeError(f"ProducerPerformance failed: {produced.stderr[-300:]}")
        sent, publish = parse_producer_performance(produced.stdout)
        consumed = sandbox.kafka.java(
            "org.apache.kafka.tools.ShareConsumerPerformance",
            "--bootstrap-server", sandbox.kafka.bootstrap,
            "--topic", topic,
            "--group", group,
            "--num-records", str(sent),
            "--threads", str(preset.consumers),
            "--timeout", str(int(preset.timeout * 1000)),
            timeout=preset.timeout + 60,
        )  # fmt: skip
        if consumed.returncode != 0:
            raise RuntimeError(f"ShareConsumerPerformance failed: {consumed.stderr[-300:]}")
        received, drain = parse_share_consumer_performance(consumed.stdout)
        rates = Rates(publish=publish, consume=drain)
        if received < sent:
            rates.notes.append(f"share consumers got {received} of {sent}")
        return rates
    finally:
        share.delete_topic(admin, topic)


def kafka_mqmigrate(sandbox: Sandbox, preset: Preset) -> Rates:
    from mqmigrate.bench.targets import KafkaShareTarget

    return _mqmigrate(
        KafkaShareTarget(sandbox.kafka.bootstrap), preset.workload(backlog_first=True)
    )


def sqs_mqmigrate(sandbox: Sandbox, preset: Preset) -> Rates:
    from mqmigrate.bench.targets import source_target

    uri = f"sqs+http://x:y@127.0.0.1:{sandbox.elastic_port}?region=us-east-1"
    # no vendor figure to match, and ElasticMQ moves a few hundred msg/s: a shorter run
    return _mqmigrate(
        source_target(uri), preset.workload(max_messages=min(preset.messages, SQS_MESSAGES))
    )


SYSTEMS: dict[str, tuple[str, Callable | None, Callable, str]] = {
    "rabbitmq": ("RabbitMQ", rabbitmq_vendor, rabbitmq_mqmigrate, "PerfTest " + PERFTEST_VERSION),
    "artemis": ("Artemis (AMQP 1.0)", artemis_vendor, artemis_mqmigrate, "artemis perf client"),
    "kafka": (
        "Kafka share group",
        kafka_vendor,
        kafka_mqmigrate,
        "ProducerPerformance + ShareConsumerPerformance",
    ),
    "sqs": ("SQS (ElasticMQ)", None, sqs_mqmigrate, "none: AWS ships no perf tool"),
}


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(SYSTEMS))
    parser.add_argument("--repeat", type=int, default=3, help="rounds per system [3]")
    parser.add_argument("--messages", type=int, default=50_000, help="per run [50000]")
    parser.add_argument("--size", type=int, default=1024, help="message bytes [1024]")
    parser.add_argument("--consumers", type=int, default=4, help="competing consumers [4]")
    parser.add_argument("--window", type=int, default=1000, help="unconfirmed at most [1000]")
    parser.add_argument("--timeout", type=float, default=180.0, help="per run, s [180]")
    args = parser.parse_args(argv)
    preset = Preset(args.messages, args.size, args.consumers, args.window, args.timeout)
    sandbox = Sandbox()
    print(
        f"preset: {preset.messages} messages of {preset.size} B, {preset.consumers} consumers, "
        f"window {preset.window}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    summary = []
    for key in args.only or list(SYSTEMS):
        label, vendor, ours, tool = SYSTEMS[key]
        vendor_runs: list[Rates] = []
        our_runs: list[Rates] = []
        for attempt in range(1, args.repeat + 1):
            # alternate which goes first, so a slow spell of the machine hits both alike
            order = [("vendor", vendor), ("mqmigrate", ours)]
            if attempt % 2 == 0:
                order.reverse()
            for who, runner in order:
                if runner is None:
                    continue
                load = os.getloadavg()[0]
                try:
                    rates = _measured(who, runner, sandbox, preset)
                except Exception as exc:  # one failed round is reported, the others go on
                    print(f"{label} round {attempt} {who}: FAILED: {exc}", flush=True)
                    continue
                (vendor_runs if who == "vendor" else our_runs).append(rates)
                print(
                    f"{label} round {attempt} {who:9}: publish {_fmt(rates.publish)} msg/s, "
                    f"consume {_fmt(rates.consume)} msg/s, client CPU {_fmt(rates.cpu_us)} µs/msg "
                    f"(load {load:.1f})" + (f" [{'; '.join(rates.notes)}]" if rates.notes else ""),
                    flush=True,
                )
                time.sleep(2)
        summary.append((label, tool, vendor_runs, our_runs))
    print("\nmedians (msg/s) and ratio mqmigrate ÷ vendor")
    print(f"{'system':22} {'figure':13} {'vendor':>9} {'mqmigrate':>10} {'ratio':>6}  vendor tool")
    for label, tool, vendor_runs, our_runs in summary:
        figures = (("publish", "publish"), ("consume", "consume"), ("CPU µs/msg", "cpu_us"))
        for figure, attribute in figures:
            theirs = _median([getattr(r, attribute) for r in vendor_runs])
            mine = _median([getattr(r, attribute) for r in our_runs])
            print(
                f"{label:22} {figure:13} {_fmt(theirs):>9} {_fmt(mine):>10} "
                f"{_ratio(mine, theirs):>6}  {tool} ({len(vendor_runs)}/{len(our_runs)} runs)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
