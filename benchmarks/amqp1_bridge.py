"""AMQP 1.0 bridge throughput against its two ceilings, side by side in one run, on 127.0.0.1.

    python -m benchmarks.amqp1_bridge [--target artemis rabbitmq] [--messages 20000]

For each target (ActiveMQ Artemis; RabbitMQ's AMQP 1.0 plugin) and each of ``--runs`` rounds
(two queues filled first; odd rounds run (a), (b), (c), even rounds (c), (b), (a)):

(a) raw proton drain: a minimal python-qpid-proton consumer (credit 2000, accept each
    delivery at once) on a queue filled with ``--messages`` durable messages of ``--size``
    bytes;
(b) raw Kafka produce: confluent-kafka, idempotent, acks=all, the same messages;
(c) the bridge (``Engine`` + the ``amqp1://`` adapter + ``BridgeProducer``, in this process,
    ``--max-messages N`` so it stops at the last acknowledgement: no idle wait) draining an
    identically filled queue into a fresh topic, settling each message after Kafka
    acknowledged it;
(c') with ``--cli``: ``python -m mqmigrate bridge`` as a process, timed from its start (so
    interpreter start-up, connecting and the one quiet second of ``--idle-exit 1`` count).

Each phase prints its rate and the CPU microseconds per message of this process (all its
threads, librdkafka's included) and of the sandbox brokers; CPU per message is what to read on
a loaded machine, where rates swing with other work.  The ratio is (c) ÷ min(a, b) per round,
and the median over rounds; ``cpu_ratio`` is the same ratio from this process's CPU per
message (what each would move on one free core).  The queues are filled by an asynchronous publisher (credit-based
sends, at most 1,000 unconfirmed, every message confirmed ``accepted``).  Queues and topics
are deleted afterwards.  Needs ``mqmigrate sandbox up -s kafka -s artemis -s rabbitmq``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]

import httpx  # noqa: E402
import pika  # noqa: E402
from proton import Handler, Message, symbol  # noqa: E402
from proton.reactor import Container, LinkOption  # noqa: E402

from benchmarks import bridge as rabbit_bench  # noqa: E402  (raw Kafka produce, CPU meter)
from tests.support.amqp1 import numbered, publish  # noqa: E402  (the tests' confirmed publisher)
from mqmigrate.bridge.engine import BridgeConfig, Engine  # noqa: E402
from mqmigrate.kafka.admin import delete_topics, ensure_topic  # noqa: E402
from mqmigrate.kafka.producer import BridgeProducer  # noqa: E402
from mqmigrate.sources.amqp1.adapter import AMQP1Source  # noqa: E402

MBEAN = 'org.apache.activemq.artemis:broker="mqmigrate"'


class _Artemis:
    """Queues through Jolokia; links carry the ``queue`` capability."""

    name = "artemis"
    capabilities = ("queue",)

    def __init__(self, args):
        self.host, self.port, self.user, self.password = (
            args.host,
            args.artemis_port,
            args.artemis_user,
            args.artemis_password,
        )
        self.console = args.artemis_console

    def _exec(self, operation: str, *arguments) -> object:
        body = httpx.post(
            f"{self.console}/console/jolokia/",
            auth=(self.user, self.password),
            headers={"Origin": self.console},
            timeout=10,
            json={
                "type": "exec",
                "mbean": MBEAN,
                "operation": operation,
                "arguments": list(arguments),
            },
        ).json()
        if body.get("status") != 200:
            raise SystemExit(f"Jolokia {operation} failed: {body.get('error')}")
        return body.get("value")

    def create(self, queue: str) -> None:
        self._exec(
            "createQueue(java.lang.String,boolean)",
            json.dumps(
                {"name": queue, "address": queue, "routing-type": "ANYCAST", "durable": True}
            ),
            True,
        )

    def delete(self, queue: str) -> None:
        self._exec("destroyQueue(java.lang.String,boolean)", queue, True)

    def address(self, queue: str) -> str:
        return queue

    @property
    def url(self) -> str:
        return f"amqp://{self.host}:{self.port}"

    @property
    def uri(self) -> str:
        return f"amqp1://{self.user}:{self.password}@{self.host}:{self.port}"


class _RabbitMQ(_Artemis):
    """RabbitMQ's AMQP 1.0 plugin (same port as AMQP 0-9-1): queues through pika, addressed
    as ``/amq/queue/NAME``."""

    name = "rabbitmq"
    capabilities = ()

    def __init__(self, args):
        self.host, self.port, self.user, self.password = (
            args.host,
            args.rabbitmq_port,
            args.rabbitmq_user,
            args.rabbitmq_password,
        )

    def _channel_do(self, action) -> None:
        conn = pika.BlockingConnection(
            pika.URLParameters(f"amqp://{self.user}:{self.password}@{self.host}:{self.port}/%2f")
        )
        try:
            action(conn.channel())
        finally:
            conn.close()

    def create(self, queue: str) -> None:
        self._channel_do(lambda ch: ch.queue_declare(queue, durable=True))

    def delete(self, queue: str) -> None:
        self._channel_do(lambda ch: ch.queue_delete(queue))

    def address(self, queue: str) -> str:
        return f"/amq/queue/{queue}"


class _RabbitMQ4(_RabbitMQ):
    """RabbitMQ 4's native AMQP 1.0 (``--rabbitmq4-port``, e.g. a private node of
    ``mqmigrate.sandbox.rabbitmq4``): the v2 address ``/queues/NAME``, as the adapter uses
    there.  Its CPU is not metered (not a sandbox broker)."""

    name = "rabbitmq4"

    def __init__(self, args):
        if not args.rabbitmq4_port:
            raise SystemExit("--target rabbitmq4 needs --rabbitmq4-port")
        self.host, self.port, self.user, self.password = (
            args.host,
            args.rabbitmq4_port,
            args.rabbitmq4_user,
            os.environ.get("RABBITMQ4_PASSWORD", args.rabbitmq4_password),
        )

    def address(self, queue: str) -> str:
        return "/queues/" + quote(queue, safe="")


class _Capabilities(LinkOption):
    def __init__(self, capabilities: tuple[str, ...]):
        self.capabilities = capabilities

    def apply(self, link) -> None:
        for capability in self.capabilities:
            link.source.capabilities.put_symbol(symbol(capability))


class _RawDrain(Handler):
    """Accept every delivery as soon as it is decoded; stop after ``n``."""

    def __init__(self, broker, address: str, n: int):
        super().__init__()
        self.broker, self.address, self.n = broker, address, n
        self.received = 0

    def on_reactor_init(self, event) -> None:
        connection = event.reactor.connect(
            self.broker.url,
            user=self.broker.user,
            password=self.broker.password,
            allowed_mechs="PLAIN",
        )
        self.link = event.reactor.create_receiver(
            connection,
            self.address,
            handler=self,
            options=[_Capabilities(self.broker.capabilities)],
        )
        self.link.flow(2000)

    def on_delivery(self, event) -> None:
        delivery = event.delivery
        if not delivery.readable or delivery.partial:
            return
        Message().decode(delivery.link.recv(delivery.pending))
        delivery.link.advance()
        delivery.update(delivery.ACCEPTED)
        delivery.settle()
        self.received += 1
        if self.link.credit < 1000:
            self.link.flow(2000 - self.link.credit)
        if self.received == self.n:
            event.connection.close()


def _cpu(meter) -> dict:
    """CPU µs per message; a broker whose process set changed during the phase (one of its
    processes ended: the sum went down) is reported as None rather than negative."""
    return {name: (value if value >= 0 else None) for name, value in meter.us_per_message.items()}


def _fill(broker, queue: str, args) -> float:
    began = time.perf_counter()
    publish(
        broker.url,
        broker.address(queue),
        numbered(args.messages, size=args.size),
        user=broker.user,
        password=broker.password,
        capabilities=broker.capabilities,
    )
    return args.messages / (time.perf_counter() - began)


def _raw_drain(broker, queue: str, n: int) -> float:
    handler = _RawDrain(broker, broker.address(queue), n)
    began = time.perf_counter()
    Container(handler).run()
    if handler.received != n:
        raise SystemExit(f"raw drain got {handler.received} of {n}")
    return n / (time.perf_counter() - began)


def _bridge(broker, queue: str, kafka: str, topic: str, n: int) -> tuple[float, dict]:
    source = AMQP1Source(broker.uri, queue, prefetch=2000)
    engine = Engine(
        source,
        BridgeProducer(kafka),
        BridgeConfig(
            topic=topic, quarantine_topic=None, max_in_flight=2000, batch_size=500, max_messages=n
        ),
    )
    engine.open()
    began = time.perf_counter()
    engine.run()  # returns after the n-th message was settled (and the link closed)
    elapsed = time.perf_counter() - began
    if engine.stats.acked != n:
        raise SystemExit(f"bridge acked {engine.stats.acked} of {n}")
    return n / elapsed, engine.stats.as_dict()


def _bridge_cli(broker, queue: str, kafka: str, topic: str, n: int) -> float:
    began = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mqmigrate",
            "bridge",
            "--queue",
            queue,
            "--kafka",
            kafka,
            "--topic",
            topic,
            "--quarantine-topic",
            "",
            "--idle-exit",
            "1",
            "--log-format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "MQMIGRATE_SOURCE": broker.uri},
    )
    elapsed = time.monotonic() - began
    summary = json.loads(proc.stdout) if proc.stdout.strip() else {}
    if proc.returncode != 0 or summary.get("acked") != n:
        raise SystemExit(f"bridge process failed: {proc.stderr[-500:]}")
    return n / elapsed


def _round(broker, args, run_number: int = 1) -> dict:
    """One round; even rounds run the phases in reverse order (bridge first), so load that
    drifts during a round does not always favour the same side."""
    n, run = args.messages, uuid.uuid4().hex[:8]
    raw_q, bridge_q = f"bench-amqp1-raw-{run}", f"bench-amqp1-bridge-{run}"
    cli_q = f"bench-amqp1-cli-{run}"
    raw_t, bridge_t = f"bench-amqp1-raw-{run}", f"bench-amqp1-bridge-{run}"
    queues = [raw_q, bridge_q] + ([cli_q] if args.cli else [])
    for queue in queues:
        broker.create(queue)
    for topic in (raw_t, bridge_t):
        ensure_topic(args.kafka, topic, partitions=3)
    out: dict = {"target": broker.name, "messages": n, "size_bytes": args.size}
    phases = ["raw_drain", "raw_produce", "bridge"]
    if run_number % 2 == 0:
        phases.reverse()
    out["order"] = phases
    try:
        out["publish_msg_s"] = round(_fill(broker, raw_q, args))
        _fill(broker, bridge_q, args)
        rates: dict[str, float] = {}
        for phase in phases:
            with rabbit_bench.Cpu(n) as cpu:
                if phase == "raw_drain":
                    rates[phase] = _raw_drain(broker, raw_q, n)
                elif phase == "raw_produce":
                    rates[phase] = rabbit_bench.raw_produce(args.kafka, raw_t, n, args.size)
                else:
                    rates[phase], stats = _bridge(broker, bridge_q, args.kafka, bridge_t, n)
            out[phase] = {"msg_s": round(rates[phase]), "cpu_us_per_message": _cpu(cpu)}
        out["bridge"] |= {
            "added_latency_p50_ms_le": stats["latency_p50_s"] * 1000,
            "added_latency_p99_ms_le": stats["latency_p99_s"] * 1000,
        }
        rate, drain, produce = rates["bridge"], rates["raw_drain"], rates["raw_produce"]
        out["ratio"] = round(rate / min(drain, produce), 3)
        # the same ratio from CPU per message of this process (1e6 / µs = what one free core
        # would move): steady on a loaded machine, where the rates above swing
        own = {
            phase: out[phase]["cpu_us_per_message"]["this_process"]
            for phase in ("raw_drain", "raw_produce", "bridge")
        }
        out["cpu_ratio"] = round(max(own["raw_drain"], own["raw_produce"]) / own["bridge"], 3)
        if args.cli:
            _fill(broker, cli_q, args)
            out["bridge_process_msg_s_incl_startup"] = round(
                _bridge_cli(broker, cli_q, args.kafka, bridge_t, n)
            )
    finally:
        for queue in queues:
            broker.delete(queue)
        delete_topics(args.kafka, [raw_t, bridge_t])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target",
        nargs="+",
        choices=("artemis", "rabbitmq", "rabbitmq4"),
        default=["artemis", "rabbitmq"],
    )
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--cli",
        action="store_true",
        help="also time `mqmigrate bridge` as a process, start-up included",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--artemis-port", type=int, default=61616)
    parser.add_argument("--artemis-console", default="http://127.0.0.1:8161")
    parser.add_argument("--artemis-user", default="artemis")
    parser.add_argument("--artemis-password", default="artemis")
    parser.add_argument("--rabbitmq-port", type=int, default=5672)
    parser.add_argument("--rabbitmq-user", default="guest")
    parser.add_argument("--rabbitmq-password", default="guest")
    parser.add_argument("--rabbitmq4-port", type=int, default=None)
    parser.add_argument("--rabbitmq4-user", default="guest")
    parser.add_argument(
        "--rabbitmq4-password", default="guest", help="or the RABBITMQ4_PASSWORD environment"
    )
    args = parser.parse_args()
    for endpoint in (
        args.host,
        args.artemis_console.split("//", 1)[-1].split(":")[0],
        args.kafka.split(":")[0],
    ):
        if endpoint not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"refusing non-loopback endpoint {endpoint!r}")
    if rabbit_bench.BROKER_DIRS:  # the sandbox's: count Artemis' CPU too
        rabbit_bench.BROKER_DIRS["artemis"] = str(
            Path(rabbit_bench.BROKER_DIRS["kafka"]).parent / "artemis"
        )
    brokers = {"artemis": _Artemis, "rabbitmq": _RabbitMQ, "rabbitmq4": _RabbitMQ4}
    summary = {}
    for name in args.target:
        broker = brokers[name](args)
        ratios: list[float] = []
        cpu_ratios: list[float] = []
        for run in range(1, args.runs + 1):
            result = _round(broker, args, run)
            ratios.append(result["ratio"])
            cpu_ratios.append(result["cpu_ratio"])
            print(json.dumps({"run": run, "load_avg_1m": os.getloadavg()[0], **result}), flush=True)
        summary[name] = {
            "ratios": ratios,
            "median_ratio": statistics.median(ratios),
            "cpu_ratios": cpu_ratios,
            "median_cpu_ratio": statistics.median(cpu_ratios),
        }
    print(json.dumps({"summary": summary}, indent=2))


if __name__ == "__main__":
    main()
