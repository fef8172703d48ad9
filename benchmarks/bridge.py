"""Bridge throughput against its two ceilings, on 127.0.0.1 only.

    python -m benchmarks.bridge [--messages 50000] [--size 1024]

(a) RabbitMQ raw drain: pika BlockingConnection, prefetch 2000, one multiple-ack per 500;
(a') the same minimal consumer reading through the bridge's own delivery reader
    (mqmigrate.sources.rabbitmq.frames) instead of pika's consumer path: the bridge does not
    pay pika's per-frame cost, so (a) alone would flatter it; both ratios are printed;
(b) Kafka raw produce: confluent-kafka, idempotent, acks=all, the same 1 KiB messages;
(c) the bridge draining the same queue into a topic (settle after delivery, headers, metrics);
(d) the bridge's added latency p50/p99 while a publisher sends at a fixed moderate rate;
(e) with ``--kafka-config FILE`` (``--secured``: the sandbox's SASL_SSL SCRAM client file):
    the bridge run (c) again, into the secured listener the file names, right after the
    plaintext one (``--secured-runs`` pairs, which side goes first alternating); prints each
    pair's secured ÷ plaintext ratio, their median and the machine's load average.
    ``--secured-only`` runs (e) alone.
Prints each rate, latencies, CPU use (this process, and the RabbitMQ and Kafka broker
processes when they are the sandbox's), peak RSS, and bridge ÷ min(a, b).
Every queue and topic it creates is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path


import pika  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

from mqmigrate.bridge.engine import BridgeConfig, Engine  # noqa: E402
from mqmigrate.kafka import share  # noqa: E402
from mqmigrate.kafka.admin import delete_topics, ensure_topic  # noqa: E402
from mqmigrate.kafka.config import KafkaConfig, read_config_file  # noqa: E402
from mqmigrate.kafka.producer import BridgeProducer  # noqa: E402
from mqmigrate.sources.rabbitmq.adapter import RabbitMQSource  # noqa: E402


def fill(uri: str, queue: str, n: int, size: int) -> float:
    """Publish n persistent messages with ids; returns the publish rate."""
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    ch.queue_declare(queue, durable=True)
    body = b"x" * size
    start = time.perf_counter()
    for i in range(n):
        ch.basic_publish(
            "",
            queue,
            body,
            pika.BasicProperties(message_id=f"b-{i}", delivery_mode=2, timestamp=int(time.time())),
        )
    # wait until the broker has them all (no confirms: that is the fast path)
    deadline = time.monotonic() + 120
    while ch.queue_declare(queue, passive=True).method.message_count < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"queue {queue} never reached {n} messages")
        time.sleep(0.05)
    rate = n / (time.perf_counter() - start)
    conn.close()
    return rate


def raw_drain(uri: str, queue: str, n: int) -> float:
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=2000)
    got = 0
    start = time.perf_counter()
    deadline = time.monotonic() + 300
    for method, _props, _body in ch.consume(queue, inactivity_timeout=5):
        if method is None or time.monotonic() > deadline:
            break
        got += 1
        if got % 500 == 0 or got == n:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if got == n:
            break
    elapsed = time.perf_counter() - start
    ch.cancel()
    conn.close()
    if got != n:
        raise SystemExit(f"raw drain got {got} of {n}")
    return n / elapsed


def raw_drain_fast_reader(uri: str, queue: str, n: int) -> float:
    """(a') as raw_drain, but deliveries decoded by the bridge's reader (frames.install)."""
    from mqmigrate.sources.rabbitmq import frames

    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=2000)
    deliveries: list = []
    if not frames.install(conn, ch.channel_number, deliveries.append):
        raise SystemExit("this pika lacks the hooks of the fast delivery reader")
    ch.basic_consume(queue, lambda *args: None, auto_ack=False)
    got = 0
    start = time.perf_counter()
    deadline = time.monotonic() + 300
    while got < n and time.monotonic() < deadline:
        conn.process_data_events(0 if deliveries else 1)
        for delivery in deliveries:
            got += 1
            if got % 500 == 0 or got == n:
                ch.basic_ack(delivery.delivery_tag, multiple=True)
        deliveries.clear()
    elapsed = time.perf_counter() - start
    conn.close()
    if got != n:
        raise SystemExit(f"raw drain (fast reader) got {got} of {n}")
    return n / elapsed


def raw_produce(bootstrap: str, topic: str, n: int, size: int) -> float:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "batch.num.messages": 10000,
        }
    )
    body = b"x" * size
    done = [0]

    def report(err, _msg):
        if err is None:
            done[0] += 1

    start = time.perf_counter()
    for i in range(n):
        while True:
            try:
                producer.produce(
                    topic, body, headers=[("mq.source.id", f"k-{i}".encode())], on_delivery=report
                )
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - start
    if done[0] != n:
        raise SystemExit(f"raw produce delivered {done[0]} of {n}")
    return n / elapsed


def bridge(
    uri: str, queue: str, bootstrap: "KafkaConfig | str", topic: str, n: int
) -> tuple[float, dict]:
    source = RabbitMQSource(uri, queue, prefetch=2000)
    config = BridgeConfig(
        topic=topic, quarantine_topic=None, max_in_flight=2000, batch_size=500, idle_exit=0.5
    )
    engine = Engine(source, BridgeProducer(bootstrap), config)
    engine.open()
    start = time.perf_counter()
    engine.run()
    # idle_exit waited 0.5 s at the end; count time until the last ack instead
    elapsed = time.perf_counter() - start - config.idle_exit
    stats = engine.stats
    if stats.acked != n:
        raise SystemExit(f"bridge acked {stats.acked} of {n}")
    return n / elapsed, stats.as_dict()


def _broker_dirs() -> dict[str, str]:
    """State directories of the sandbox's RabbitMQ and Kafka (their processes name them)."""
    try:
        from mqmigrate.sandbox import manager

        ctx = manager.context()
        return {name: str(ctx.state_dir / name) for name in ("rabbitmq", "kafka")}
    except Exception:  # a sandbox this checkout does not know: no broker CPU figures
        return {}


BROKER_DIRS = _broker_dirs()
_TICK = os.sysconf("SC_CLK_TCK")


def broker_cpu() -> dict[str, float]:
    """CPU seconds used so far by each sandbox broker (every process naming its directory)."""
    out = dict.fromkeys(BROKER_DIRS, 0.0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (
                (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            )
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        for name, directory in BROKER_DIRS.items():
            if directory + "/" in cmdline + "/" or directory + " " in cmdline:
                out[name] += (int(fields[11]) + int(fields[12])) / _TICK
    return out


class Cpu:
    """CPU used by this process (all threads, librdkafka's included), by the sandbox brokers
    and by the whole machine during a phase: shows whether a rate is bound by this process,
    by a broker or by the box."""

    def __init__(self, messages: int):
        self.messages = messages

    def __enter__(self) -> "Cpu":
        self._self = self._proc()
        self._box = self._machine()
        self._brokers = broker_cpu()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._wall
        busy, total = (a - b for a, b in zip(self._machine(), self._box))
        used = self._proc() - self._self
        self.process = used / wall  # cores used by this process
        self.machine = busy / total if total else 0.0  # fraction of all cores busy
        # CPU microseconds per message: this process and each broker
        per = 1e6 / self.messages
        self.us_per_message = {"this_process": round(used * per, 1)} | {
            name: round((after - self._brokers[name]) * per, 1)
            for name, after in broker_cpu().items()
        }

    @staticmethod
    def _proc() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @staticmethod
    def _machine() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)


def fixed_rate(uri: str, queue: str, bootstrap: str, topic: str, rate: int, seconds: float) -> dict:
    """The bridge's added latency (received → Kafka ack) while a publisher sends ``rate``
    msg/s for ``seconds``: the latency a live shadow copy adds, not a backlog drain."""
    import threading

    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    ch.queue_declare(queue, durable=True)
    conn.close()
    total = int(rate * seconds)
    body = b"x" * 1024

    def publish() -> None:
        pub = pika.BlockingConnection(pika.URLParameters(uri))
        pch = pub.channel()
        start = time.perf_counter()
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pch.basic_publish(
                "", queue, body, pika.BasicProperties(message_id=f"r-{i}", delivery_mode=2)
            )
        pub.close()

    source = RabbitMQSource(uri, queue, prefetch=2000)
    engine = Engine(
        source,
        BridgeProducer(bootstrap),
        BridgeConfig(
            topic=topic, quarantine_topic=None, max_in_flight=2000, batch_size=500, idle_exit=1.0
        ),
    )
    engine.open()
    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    engine.run()
    thread.join(timeout=seconds + 60)
    lat = engine.stats.latency
    return {
        "rate_msg_s": rate,
        "messages": engine.stats.acked,
        "added_latency_p50_ms_le": lat.quantile(0.5) * 1000,
        "added_latency_p99_ms_le": lat.quantile(0.99) * 1000,
        "added_latency_mean_ms": round(lat.total / max(lat.n, 1) * 1000, 2),
    }


def bridge_rss(uri: str, queue: str, bootstrap: str, topic: str, backlog: int) -> dict:
    """Peak RSS of a ``mqmigrate bridge`` process draining a ``backlog``-deep queue: memory
    is bounded by --max-in-flight, so it must not grow with the backlog."""
    import subprocess

    fill(uri, queue, backlog, 1024)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mqmigrate",
            "bridge",
            "--source",
            uri,
            "--queue",
            queue,
            "--kafka",
            bootstrap,
            "--topic",
            topic,
            "--quarantine-topic",
            "",
            "--idle-exit",
            "1",
            "--log-format",
            "json",
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    start = time.perf_counter()
    # VmHWM (peak RSS since exec) read while it runs: wait4's ru_maxrss would include the
    # benchmark's own memory, which the child inherited at fork
    peak_kb = 0
    status_file = Path(f"/proc/{proc.pid}/status")
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            for line in status_file.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    out, _ = proc.communicate(timeout=60)
    elapsed = time.perf_counter() - start
    summary = json.loads(out)
    if proc.returncode != 0 or summary["acked"] != backlog:
        raise SystemExit(f"bridge process failed: {summary}")
    return {
        "backlog": backlog,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "msg_s_including_startup": round(backlog / elapsed),
    }


SANDBOX_SCRAM_FILE = (
    Path.home() / ".local/state/mqmigrate/sandbox/kafka" / "client-scram.properties"
)


def secured_vs_plaintext(
    uri: str, plaintext: str, secured: KafkaConfig, n: int, size: int, runs: int, run: str
) -> dict:
    """(e): the bridge into the plaintext listener, then into the secured one, ``runs``
    times; each pair back to back (which side first alternates) so a change of load hits
    both sides alike."""
    queue, topic = f"bench-sec-{run}", f"bench-sec-{run}"
    admin = share.admin_client(secured)
    share.create_topic(admin, topic, partitions=1)
    pairs = []
    try:
        for i in range(runs):
            rates, cpu = {}, {}
            # alternate which side goes first, so a load trend favours neither
            for side in ("plaintext", "secured") if i % 2 == 0 else ("secured", "plaintext"):
                fill(uri, queue, n, size)
                with Cpu(n) as used:
                    rates[side], _ = bridge(
                        uri, queue, plaintext if side == "plaintext" else secured, topic, n
                    )
                cpu[side] = used.us_per_message
            plain_rate, secured_rate = rates["plaintext"], rates["secured"]
            pairs.append(
                {
                    "plaintext_msg_s": round(plain_rate),
                    "secured_msg_s": round(secured_rate),
                    "secured_over_plaintext": round(secured_rate / plain_rate, 3),
                    # CPU µs per message (this process, each sandbox broker): where
                    # TLS and SASL cost
                    "cpu_us_per_message": cpu,
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                }
            )
    finally:
        conn = pika.BlockingConnection(pika.URLParameters(uri))
        conn.channel().queue_delete(queue)
        conn.close()
        share.delete_topics(admin, [topic], missing_ok=True)
    ratios = [p["secured_over_plaintext"] for p in pairs]
    return {
        "listener": f"{secured.properties.get('security.protocol', '?')} "
        f"{secured.properties.get('sasl.mechanism', '')}".strip()
        + f" on {secured.bootstrap}",
        "runs": pairs,
        "secured_over_plaintext_median": round(statistics.median(ratios), 3),
        "cores": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/%2f")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument(
        "--rate",
        type=int,
        default=2000,
        help="fixed publish rate for the added-latency phase (0 skips it)",
    )
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    parser.add_argument(
        "--rss-backlog",
        type=int,
        nargs="*",
        default=[],
        help="also measure a bridge process's peak RSS draining these backlogs",
    )
    parser.add_argument(
        "--kafka-config",
        type=Path,
        default=None,
        help="also run the bridge into the secured listener this client "
        "properties file names, side by side with plaintext (e)",
    )
    parser.add_argument(
        "--secured",
        action="store_true",
        help="--kafka-config with the sandbox's SASL_SSL SCRAM client file",
    )
    parser.add_argument("--secured-runs", type=int, default=3)
    parser.add_argument(
        "--secured-only", action="store_true", help="run (e) only, not the ceilings (a)-(d)"
    )
    args = parser.parse_args()
    if "127.0.0.1" not in args.amqp or not args.kafka.startswith("127.0.0.1"):
        raise SystemExit("the benchmark only runs against 127.0.0.1")
    secured = None
    if args.secured or args.kafka_config or args.secured_only:
        secured = read_config_file(args.kafka_config or SANDBOX_SCRAM_FILE)
        if not secured.bootstrap.startswith("127.0.0.1"):
            raise SystemExit("the benchmark only runs against 127.0.0.1")
    if args.secured_only:
        print(
            json.dumps(
                {
                    "messages": args.messages,
                    "size_bytes": args.size,
                    "secured": secured_vs_plaintext(
                        args.amqp,
                        args.kafka,
                        secured,
                        args.messages,
                        args.size,
                        args.secured_runs,
                        uuid.uuid4().hex[:8],
                    ),
                },
                indent=2,
            )
        )
        return
    n, size = args.messages, args.size
    run = uuid.uuid4().hex[:8]
    raw_q, bridge_q, rate_q = f"bench-raw-{run}", f"bench-bridge-{run}", f"bench-rate-{run}"
    raw_t, bridge_t = f"bench-raw-{run}", f"bench-bridge-{run}"
    ensure_topic(args.kafka, raw_t)
    ensure_topic(args.kafka, bridge_t)
    try:
        publish_rate = fill(args.amqp, raw_q, n, size)
        with Cpu(n) as drain_cpu:
            drain_rate = raw_drain(args.amqp, raw_q, n)
        fill(args.amqp, raw_q, n, size)
        with Cpu(n) as drain_fast_cpu:
            drain_fast_rate = raw_drain_fast_reader(args.amqp, raw_q, n)
        with Cpu(n) as produce_cpu:
            produce_rate = raw_produce(args.kafka, raw_t, n, size)
        fill(args.amqp, bridge_q, n, size)
        with Cpu(n) as bridge_cpu:
            bridge_rate, stats = bridge(args.amqp, bridge_q, args.kafka, bridge_t, n)
        rss = [
            bridge_rss(args.amqp, f"{rate_q}-rss{i}", args.kafka, bridge_t, depth)
            for i, depth in enumerate(args.rss_backlog)
        ]
        latency = (
            fixed_rate(args.amqp, rate_q, args.kafka, bridge_t, args.rate, args.rate_seconds)
            if args.rate
            else None
        )
        secured_result = (
            secured_vs_plaintext(args.amqp, args.kafka, secured, n, size, args.secured_runs, run)
            if secured
            else None
        )
    finally:
        conn = pika.BlockingConnection(pika.URLParameters(args.amqp))
        ch = conn.channel()
        for q in (raw_q, bridge_q, rate_q) + tuple(
            f"{rate_q}-rss{i}" for i in range(len(args.rss_backlog))
        ):
            ch.queue_delete(q)
        conn.close()
        delete_topics(args.kafka, [raw_t, bridge_t])
    ceiling = min(drain_rate, produce_rate)
    result = {
        "messages": n,
        "size_bytes": size,
        "rabbitmq_publish_msg_s": round(publish_rate),
        "rabbitmq_raw_drain_msg_s": round(drain_rate),
        "rabbitmq_raw_drain_fast_reader_msg_s": round(drain_fast_rate),
        "kafka_raw_produce_msg_s": round(produce_rate),
        "bridge_msg_s": round(bridge_rate),
        "bridge_over_min": round(bridge_rate / ceiling, 3),
        # the same ratio against the consumer that decodes like the bridge (see (a'))
        "bridge_over_min_fast_reader": round(bridge_rate / min(drain_fast_rate, produce_rate), 3),
        # under full load (a backlog drain); see fixed_rate for a live copy's latency
        "bridge_added_latency_p50_ms_le": stats["latency_p50_s"] * 1000,
        "bridge_added_latency_p99_ms_le": stats["latency_p99_s"] * 1000,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # cores used by the measuring process / fraction of the machine's cores busy
        "cpu_raw_drain": [round(drain_cpu.process, 2), round(drain_cpu.machine, 2)],
        "cpu_raw_produce": [round(produce_cpu.process, 2), round(produce_cpu.machine, 2)],
        "cpu_bridge": [round(bridge_cpu.process, 2), round(bridge_cpu.machine, 2)],
        "cpu_raw_drain_fast_reader": [
            round(drain_fast_cpu.process, 2),
            round(drain_fast_cpu.machine, 2),
        ],
        # CPU µs per message of this process and of each sandbox broker, per phase
        "cpu_us_per_message": {
            "raw_drain": drain_cpu.us_per_message,
            "raw_drain_fast_reader": drain_fast_cpu.us_per_message,
            "raw_produce": produce_cpu.us_per_message,
            "bridge": bridge_cpu.us_per_message,
        },
        "cores": os.cpu_count(),
        "fixed_rate": latency,
        "bridge_process_rss": rss,
        "secured": secured_result,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
