"""AMQP 1.0 source throughput on ActiveMQ Artemis: a minimal proton consumer vs the bridge.

For each of ``--runs`` rounds the script fills a fresh anycast queue with ``--messages``
durable messages of ``--size`` bytes (confirmed), drains it with

* a minimal python-qpid-proton consumer (credit 2000, accept each delivery at once), and
* ``python -m mqmigrate bridge`` into a fresh Kafka topic (``--idle-exit 1``), timed from
  process start, so start-up and the one quiet second are included,

and prints both rates and their ratio.  Run against a running sandbox
(``mqmigrate sandbox up -s kafka -s artemis``)::

    PYTHONPATH=$PWD python bench/amqp1_bridge.py --messages 20000

Only 127.0.0.1 / localhost endpoints are used; queues and topics are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from proton import Handler, Message, symbol
from proton.reactor import Container, LinkOption

from mqmigrate.kafka.admin import QUARANTINE_TOPIC_CONFIG, delete_topics, ensure_topic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "bridge"))
from amqp1_helpers import numbered, publish  # noqa: E402  (the tests' confirmed publisher)

MBEAN = 'org.apache.activemq.artemis:broker="mqmigrate"'


class _Jolokia:
    def __init__(self, console: str, user: str, password: str):
        self.url, self.auth, self.origin = f"{console}/console/jolokia/", (user, password), console

    def exec(self, operation: str, *arguments) -> object:
        body = httpx.post(self.url, auth=self.auth, headers={"Origin": self.origin}, timeout=10,
                          json={"type": "exec", "mbean": MBEAN, "operation": operation,
                                "arguments": list(arguments)}).json()
        if body.get("status") != 200:
            raise SystemExit(f"Jolokia {operation} failed: {body.get('error')}")
        return body.get("value")


class _QueueCapability(LinkOption):
    def apply(self, link) -> None:
        link.source.capabilities.put_symbol(symbol("queue"))


class _RawDrain(Handler):
    """Accept every delivery as soon as it is decoded; stop after ``n``."""

    def __init__(self, url: str, queue: str, n: int, user: str, password: str):
        super().__init__()
        self.url, self.queue, self.n, self.user, self.password = url, queue, n, user, password
        self.received = 0

    def on_reactor_init(self, event) -> None:
        connection = event.reactor.connect(self.url, user=self.user, password=self.password,
                                           allowed_mechs="PLAIN")
        self.link = event.reactor.create_receiver(connection, self.queue, handler=self,
                                                  options=[_QueueCapability()])
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


def _round(args, jolokia: _Jolokia) -> tuple[float, float]:
    url = f"amqp://{args.host}:{args.port}"
    rates = []
    for kind in ("raw", "bridge"):
        queue = f"bench-amqp1-{kind}-{uuid.uuid4().hex[:8]}"
        jolokia.exec("createQueue(java.lang.String,boolean)",
                     json.dumps({"name": queue, "address": queue, "routing-type": "ANYCAST",
                                 "durable": True}), True)
        try:
            publish(url, queue, numbered(args.messages, size=args.size), user=args.user,
                    password=args.password)
            if kind == "raw":
                began = time.monotonic()
                Container(_RawDrain(url, queue, args.messages, args.user, args.password)).run()
                rates.append(args.messages / (time.monotonic() - began))
                continue
            ensure_topic(args.kafka, queue, partitions=3)
            ensure_topic(args.kafka, queue + ".quarantine", config=QUARANTINE_TOPIC_CONFIG)
            try:
                began = time.monotonic()
                proc = subprocess.run(
                    [sys.executable, "-m", "mqmigrate", "bridge", "--queue", queue,
                     "--kafka", args.kafka, "--topic", queue, "--idle-exit", "1",
                     "--log-format", "json"], cwd=ROOT, capture_output=True, text=True,
                    env={**os.environ, "PYTHONPATH": str(ROOT), "MQMIGRATE_SOURCE":
                         f"amqp1://{args.user}:{args.password}@{args.host}:{args.port}"})
                elapsed = time.monotonic() - began
                summary = json.loads(proc.stdout) if proc.stdout.strip() else {}
                if proc.returncode != 0 or summary.get("acked") != args.messages:
                    raise SystemExit(f"bridge failed: {proc.stderr[-500:]}")
                rates.append(args.messages / elapsed)
            finally:
                delete_topics(args.kafka, [queue, queue + ".quarantine"])
        finally:
            jolokia.exec("destroyQueue(java.lang.String,boolean)", queue, True)
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=61616)
    parser.add_argument("--console", default="http://127.0.0.1:8161")
    parser.add_argument("--user", default="artemis")
    parser.add_argument("--password", default="artemis")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    args = parser.parse_args()
    for endpoint in (args.host, args.console.split("//", 1)[-1].split(":")[0],
                     args.kafka.split(":")[0]):
        if endpoint not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"refusing non-loopback endpoint {endpoint!r}")
    jolokia = _Jolokia(args.console, args.user, args.password)
    for run in range(1, args.runs + 1):
        raw, bridge = _round(args, jolokia)
        print(f"run {run}: {args.messages} x {args.size} B  raw proton drain {raw:,.0f} msg/s  "
              f"bridge (incl. start-up and 1 s idle exit) {bridge:,.0f} msg/s  "
              f"ratio {bridge / raw:.2f}", flush=True)


if __name__ == "__main__":
    main()
