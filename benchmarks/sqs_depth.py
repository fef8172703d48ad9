"""How SQS request latency grows with queue depth: moto vs ElasticMQ, side by side.

This is why the sandbox runs two SQS servers: moto for semantics (and SNS), ElasticMQ for
volume.  For each endpoint the script fills one fresh queue to each depth with 10-message
batches, then at that depth times, ``--samples`` times over,

* one ``SendMessageBatch`` of 10 messages, and
* one ``ReceiveMessage`` of up to 10 messages (no long poll),

deleting the received messages after each sample (untimed) so the depth stays put.  The
median is printed.  moto is capped (``--moto-cap``, default 3,000) because its cost is linear
in depth and filling it deeper takes minutes; every endpoint also has a time budget.

Run against a running sandbox (``mqmigrate sandbox up -s moto -s elasticmq``)::

    python -m benchmarks.sqs_depth

Only 127.0.0.1 / localhost endpoints are accepted, and the script deletes its queues.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from mqmigrate.sandbox.sqs import aws_client

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_BODY = "x" * 256


@dataclass
class DepthResult:
    """Median latencies (ms) at one depth; None when the depth was not measured."""

    depth: int
    send_ms: float | None = None
    receive_ms: float | None = None
    note: str = ""


@dataclass
class EndpointRun:
    name: str
    url: str
    cap: int
    results: dict[int, DepthResult] = field(default_factory=dict)


def _batch(start: int) -> list[dict[str, str]]:
    return [{"Id": str(i), "MessageBody": f"{start + i}:{_BODY}"} for i in range(10)]


def _send_batch(sqs: Any, url: str, start: int) -> None:
    reply = sqs.send_message_batch(QueueUrl=url, Entries=_batch(start))
    if reply.get("Failed"):
        raise RuntimeError(f"batch send failed: {reply['Failed'][0]}")


def _delete(sqs: Any, url: str, messages: list[dict]) -> None:
    if messages:
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def _drain_once(sqs: Any, url: str) -> int:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    )
    _delete(sqs, url, messages)
    return len(messages)


def measure(run: EndpointRun, depths: list[int], samples: int, budget_s: float) -> None:
    """Fill one queue on ``run.url`` step by step and time send/receive at each depth."""
    sqs = aws_client("sqs", run.url, timeout=60)
    queue = sqs.create_queue(
        QueueName=f"bench-depth-{uuid.uuid4().hex[:8]}",
        # long enough that a message received for timing never reappears mid-run
        Attributes={"VisibilityTimeout": "600"},
    )["QueueUrl"]
    deadline = time.monotonic() + budget_s
    depth = 0
    try:
        # untimed warm-up on the empty queue: a fresh JVM otherwise shows its JIT, not depth
        for _ in range(max(samples, 20)):
            _send_batch(sqs, queue, 0)
            _drain_once(sqs, queue)
        while _drain_once(sqs, queue):  # a receive may return fewer than 10: empty it
            pass
        for target in depths:
            result = run.results[target] = DepthResult(target)
            if target > run.cap:
                result.note = f"not run (cap {run.cap:,})"
                continue
            while depth < target and time.monotonic() < deadline:
                _send_batch(sqs, queue, depth)
                depth += 10
            if depth < target:
                result.note = f"time budget ran out at depth {depth:,}"
                continue
            send_times, receive_times = [], []
            for _ in range(samples):
                began = time.perf_counter()
                _send_batch(sqs, queue, depth)
                send_times.append(time.perf_counter() - began)
                began = time.perf_counter()
                received = sqs.receive_message(
                    QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages", [])
                receive_times.append(time.perf_counter() - began)
                # back to the measured depth: drop what the sample added and took
                _delete(sqs, queue, received)
                depth += 10 - len(received)
            result.send_ms = statistics.median(send_times) * 1000
            result.receive_ms = statistics.median(receive_times) * 1000
    finally:
        sqs.delete_queue(QueueUrl=queue)


def _fmt(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:,.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b == 0 else f"{a / b:,.1f}×"


def render(moto: EndpointRun, emq: EndpointRun, depths: list[int]) -> str:
    """The side-by-side table; ratios are moto ÷ ElasticMQ."""
    header = (
        f"{'depth':>7} | {'moto send':>10} {'emq send':>9} {'ratio':>7} | "
        f"{'moto recv':>10} {'emq recv':>9} {'ratio':>7} | notes"
    )
    lines = [
        "median ms per request (send = 10-message batch, receive = up to 10)",
        header,
        "-" * len(header),
    ]
    for depth in depths:
        m, e = moto.results.get(depth), emq.results.get(depth)
        m = m or DepthResult(depth)
        e = e or DepthResult(depth)
        notes = "; ".join(f"{r.name}: {x.note}" for r, x in ((moto, m), (emq, e)) if x.note)
        lines.append(
            f"{depth:>7,} | {_fmt(m.send_ms):>10} {_fmt(e.send_ms):>9} "
            f"{_ratio(m.send_ms, e.send_ms):>7} | {_fmt(m.receive_ms):>10} "
            f"{_fmt(e.receive_ms):>9} {_ratio(m.receive_ms, e.receive_ms):>7} | {notes}"
        )
    return "\n".join(lines)


def _loopback(url: str) -> str:
    host = urlparse(url).hostname
    if host not in _LOOPBACK:
        raise argparse.ArgumentTypeError(
            f"{url} is not a loopback endpoint; this benchmark only targets the local sandbox"
        )
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moto-url", default="http://127.0.0.1:5000", type=_loopback)
    parser.add_argument("--elasticmq-url", default="http://127.0.0.1:9324", type=_loopback)
    parser.add_argument(
        "--depths",
        default="100,1000,10000",
        help="comma-separated queue depths (default 100,1000,10000)",
    )
    parser.add_argument(
        "--moto-cap", type=int, default=3000, help="deepest depth measured on moto (default 3000)"
    )
    parser.add_argument("--samples", type=int, default=5, help="timed requests per depth")
    parser.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="seconds per endpoint before deeper depths are skipped",
    )
    args = parser.parse_args(argv)
    depths = sorted({int(d) for d in args.depths.split(",") if d.strip()})
    if args.moto_cap not in depths and args.moto_cap < max(depths):
        # moto's deepest measured point, so the table shows where its curve ends
        depths = sorted({*depths, args.moto_cap})
    if not 1 <= args.samples <= 50 or not all(10 <= d <= 100_000 for d in depths):
        parser.error("samples must be 1–50 and depths 10–100,000")

    moto = EndpointRun("moto", args.moto_url, args.moto_cap)
    emq = EndpointRun("elasticmq", args.elasticmq_url, max(depths))
    for run in (moto, emq):
        began = time.monotonic()
        print(f"measuring {run.name} at {run.url} …", file=sys.stderr, flush=True)
        try:
            measure(run, depths, args.samples, args.budget)
        except Exception as exc:  # a dead endpoint: report it on one line, like the CLI
            print(
                f"Error: {run.name} at {run.url} failed: {exc} — is the sandbox up? "
                "(mqmigrate sandbox up -s moto -s elasticmq)",
                file=sys.stderr,
            )
            return 2
        print(f"  {run.name} done in {time.monotonic() - began:.0f}s", file=sys.stderr)
    print(render(moto, emq, depths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
