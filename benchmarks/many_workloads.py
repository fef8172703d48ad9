"""What one ``mqmigrate bridge --playbook`` process costs per workload, on 127.0.0.1 only.

    python -m benchmarks.many_workloads [--workloads 200] [--busy 4]
        [--messages 40000] [--idle-window 15] [--repeat 1]

Generates a playbook of N RabbitMQ workloads (queues and topics created here, deleted at the
end), of which ``--busy`` start with a backlog of ``--messages`` each and the rest stay
idle, and runs ``python -m mqmigrate bridge --playbook`` on it twice, side by side:

* **alone**: a playbook of the busy workloads only;
* **many**: all N workloads in one process.

The in-flight budget (``--max-in-flight``, shared evenly by the workloads of a process) is
N × ``--in-flight`` in both runs, so each busy workload gets the same window either way.

For each run it prints: the busy workloads' throughput (records/s into Kafka from 10 % of
their backlog, or ``--settle`` s after every workload started if later, to 90 %, read from the
topics' end offsets), the time to start every workload,
peak RSS (VmHWM), threads (/proc/PID/status), sockets and other fds (/proc/PID/fd), idle CPU
(the process's CPU seconds over ``--idle-window`` s of wall time once everything drained,
every workload connected and idle), a message's latency into an idle workload (one message
published to each of ``--probes`` idle queues, time until its record is in Kafka), and the
time a SIGTERM takes to stop the process.  Then the cost per idle workload, (many − alone)
÷ (N − busy), and the throughput ratio many ÷ alone (target ≥ 0.8); with ``--repeat R``, R
interleaved alone/many pairs and the median ratio, since the machine's load drifts.  Also
prints the load average, since the figures depend on what else runs on the machine.  Exit 1
unless every process exited 0 having acked every message.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import pika  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from mqmigrate.kafka.admin import delete_topics  # noqa: E402

URI_VAR = "MANYWL_AMQP_URI"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- broker setup ----------------------------------------------------------------------------
def declare_queues(uri: str, queues: list[str]) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    for q in queues:
        ch.queue_declare(q, durable=True)
    conn.close()


def delete_queues(uri: str, queues: list[str]) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    for q in queues:
        ch.queue_delete(q)
    conn.close()


def fill(uri: str, queues: list[str], n: int, size: int) -> None:
    """``n`` persistent 1 KiB messages in each queue; waits until the broker holds them."""
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    body = b"x" * size
    for q in queues:
        for i in range(n):
            ch.basic_publish(
                "",
                q,
                body,
                pika.BasicProperties(
                    message_id=f"{q}-{i}", delivery_mode=2, timestamp=int(time.time())
                ),
            )
    deadline = time.monotonic() + 180
    for q in queues:
        while ch.queue_declare(q, passive=True).method.message_count < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"queue {q} never reached {n} messages")
            time.sleep(0.05)
    conn.close()


def create_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, 1, 1) for t in topics], operation_timeout=60)
    for future in futures.values():
        future.result(timeout=120)


def playbook(path: Path, workloads: list[tuple[str, str, str]]) -> Path:
    """A playbook of (id, queue, topic) drain workloads (quarantine: TOPIC.quarantine)."""
    lines = [
        "apiVersion: mqmigrate/v1",
        "kind: MigrationPlaybook",
        "metadata: {name: many-workloads}",
        "workloads:",
    ]
    for wid, queue, topic in workloads:
        lines += [
            f"  - id: {wid}",
            "    source:",
            "      kind: rabbitmq",
            f"      credentials: {{env: {URI_VAR}}}",
            f"      queue: {queue}",
            "      vhost: /",
            "    target:",
            f"      topic: {topic}",
            "      partitions: 1",
            f"      consumer: {{type: share-group, group: {topic}}}",
            "    mapping: {key: none}",
            "    strategy: drain-only",
            "    phases: {}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the process under test -----------------------------------------------------------------
def proc_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])  # kB
            elif key == "Threads":
                out[key] = int(value)
    return out


def proc_fds(pid: int) -> dict[str, int]:
    sockets = other = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            sockets += 1
        else:
            other += 1
    return {"sockets": sockets, "other_fds": other}


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


class Bridge:
    """A ``mqmigrate bridge --playbook`` child; counts its "bridge started" log lines."""

    def __init__(self, book: Path, bootstrap: str, uri: str, in_flight: int, workloads: int):
        env = {**os.environ, "PYTHONPATH": str(ROOT), URI_VAR: uri}
        env.pop("MQMIGRATE_SOURCE", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mqmigrate",
                "bridge",
                "--playbook",
                str(book),
                "--kafka",
                bootstrap,
                "--idle-exit",
                "3600",
                "--log-format",
                "json",
                "--max-in-flight",
                str(in_flight * workloads),
                "--batch-size",
                str(min(500, in_flight)),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started = 0
        self.tail: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if "bridge started" in line:
                self.started += 1
            self.tail = (self.tail + [line.rstrip()])[-20:]

    def wait_started(self, n: int, timeout: float) -> float:
        begin = time.monotonic()
        while self.started < n:
            if self.proc.poll() is not None:
                raise SystemExit("the bridge exited early:\n" + "\n".join(self.tail))
            if time.monotonic() - begin > timeout:
                self.kill()
                raise SystemExit(f"only {self.started}/{n} workloads started in {timeout:.0f}s")
            time.sleep(0.05)
        return time.monotonic() - begin

    def stop(self, timeout: float = 60) -> tuple[float, int, dict]:
        """SIGTERM; (seconds to exit, exit code, JSON summary)."""
        begin = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise SystemExit("the bridge did not stop within 60 s of SIGTERM") from None
        took = time.monotonic() - begin
        try:
            summary = json.loads(out)
        except json.JSONDecodeError:
            summary = {}
        return took, self.proc.returncode, summary

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Offsets:
    """End offsets of single-partition topics."""

    def __init__(self, bootstrap: str):
        self._c = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"manywl-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )

    def end(self, topic: str) -> int:
        return self._c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)[1]

    def close(self) -> None:
        self._c.close()


def busy_rate(
    offsets: Offsets,
    topics: list[str],
    base: int,
    per_topic: int,
    timeout: float,
    bridge: Bridge,
    not_before: float,
) -> float:
    """Records/s into the busy topics (``base`` records at the start) from 10 % of their
    total backlog, or ``not_before`` (monotonic) if later, to 90 %: the window leaves out the
    process's first seconds, when every workload makes its first turns at once."""
    total = per_topic * len(topics)
    low, high = total * 0.1, total * 0.9
    t_low = t_high = None
    n_low = n_high = 0
    deadline = time.monotonic() + timeout
    while True:
        done = sum(offsets.end(t) for t in topics) - base
        now = time.monotonic()
        if t_low is None and done >= low and now >= not_before:
            t_low, n_low = now, done
        if t_high is None and done >= high:
            t_high, n_high = now, done
        if done >= total:
            break
        if bridge.proc.poll() is not None:
            raise SystemExit("the bridge exited while draining:\n" + "\n".join(bridge.tail))
        if now > deadline:
            raise SystemExit(f"the busy workloads moved {done}/{total} in {timeout:.0f}s")
        time.sleep(0.05)
    if t_low is None or t_high is None or t_high <= t_low or n_high - n_low < total * 0.3:
        raise SystemExit("the backlog drained before the measuring window: raise --messages")
    return (n_high - n_low) / (t_high - t_low)


def probe_latency(uri: str, offsets: Offsets, queues: list[str], topics: list[str]) -> list[float]:
    """Publish one message to each idle queue; seconds until each record is in Kafka."""
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    out = []
    for q, t in zip(queues, topics):
        before = offsets.end(t)
        sent = time.monotonic()
        ch.basic_publish(
            "", q, b"probe", pika.BasicProperties(message_id=f"probe-{q}", delivery_mode=2)
        )
        while offsets.end(t) <= before:
            if time.monotonic() - sent > 30:
                raise SystemExit(f"probe to {q} not in Kafka after 30 s")
            time.sleep(0.005)
        out.append(time.monotonic() - sent)
    conn.close()
    return out


def measure(
    label: str,
    book: Path,
    n: int,
    busy: list[tuple[str, str, str]],
    idle: list[tuple[str, str, str]],
    args: argparse.Namespace,
    offsets: Offsets,
) -> dict:
    fill(args.amqp, [q for _, q, _ in busy], args.messages, args.size)
    busy_topics = [t for _, _, t in busy]
    base = sum(offsets.end(t) for t in busy_topics)  # earlier runs wrote these topics too
    bridge = Bridge(book, args.kafka, args.amqp, args.in_flight, n)
    try:
        startup = bridge.wait_started(n, timeout=args.timeout)
        rate = busy_rate(
            offsets,
            busy_topics,
            base,
            args.messages,
            args.timeout,
            bridge,
            not_before=time.monotonic() + args.settle,
        )
        time.sleep(3)  # the last settlements, then only idle loops remain
        pid = bridge.proc.pid
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        time.sleep(args.idle_window)
        idle_cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)
        status, fds = proc_status(pid), proc_fds(pid)
        probes = idle[: args.probes] or busy[: args.probes]
        latency = probe_latency(
            args.amqp, offsets, [q for _, q, _ in probes], [t for _, _, t in probes]
        )
        stop_s, code, summary = bridge.stop()
    finally:
        bridge.kill()
    rows = summary.get("workloads", [])
    acked = sum(r.get("acked", 0) for r in rows)
    expected = args.messages * len(busy) + len(probes)
    result = {
        "run": label,
        "workloads": n,
        "busy": len(busy),
        "busy_msgs_per_s": round(rate),
        "startup_s": round(startup, 1),
        "peak_rss_mb": round(status["VmHWM"] / 1024, 1),
        "rss_mb": round(status["VmRSS"] / 1024, 1),
        "threads": status["Threads"],
        **fds,
        "idle_cpu_pct": round(100 * idle_cpu, 2),
        "idle_probe_latency_ms": {
            "p50": round(1000 * sorted(latency)[len(latency) // 2], 1),
            "max": round(1000 * max(latency), 1),
        },
        "sigterm_stop_s": round(stop_s, 2),
        "exit": code,
        "acked": acked,
        "acked_expected": expected,
        "loadavg": os.getloadavg(),
    }
    if code != 0 or acked != expected:
        result["problem"] = f"exit {code}, acked {acked} of {expected}\n" + "\n".join(
            bridge.tail[-5:]
        )
    print(json.dumps(result), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", type=int, default=200)
    parser.add_argument("--busy", type=int, default=4)
    parser.add_argument("--messages", type=int, default=40_000, help="backlog per busy workload")
    parser.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="seconds after every workload started before the rate window opens",
    )
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument(
        "--in-flight",
        type=int,
        default=500,
        help="each workload's share of the process's --max-in-flight",
    )
    parser.add_argument("--idle-window", type=float, default=15.0)
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="alone/many pairs, interleaved; the median ratio is the result",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="bound on starting and on draining, each run"
    )
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/%2f")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    args = parser.parse_args()
    if not 0 < args.busy < args.workloads:
        parser.error("need 0 < --busy < --workloads")

    prefix = f"manywl-{uuid.uuid4().hex[:8]}"
    workloads = [
        (f"w{i:03d}", f"{prefix}-q{i:03d}", f"{prefix}-t{i:03d}") for i in range(args.workloads)
    ]
    busy, idle = workloads[: args.busy], workloads[args.busy :]
    queues = [q for _, q, _ in workloads]
    topics = [t for _, _, t in workloads] + [f"{t}.quarantine" for _, _, t in workloads]
    offsets = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            declare_queues(args.amqp, queues)
            create_topics(args.kafka, topics)
            offsets = Offsets(args.kafka)
            alones, manys = [], []
            for _ in range(args.repeat):  # interleaved: the machine's load drifts
                alones.append(
                    measure(
                        "alone",
                        playbook(Path(tmp) / "alone.yaml", busy),
                        len(busy),
                        busy,
                        [],
                        args,
                        offsets,
                    )
                )
                manys.append(
                    measure(
                        "many",
                        playbook(Path(tmp) / "many.yaml", workloads),
                        len(workloads),
                        busy,
                        idle,
                        args,
                        offsets,
                    )
                )
        finally:
            if offsets is not None:
                offsets.close()
            delete_queues(args.amqp, queues)
            delete_topics(args.kafka, topics)
    extra = args.workloads - args.busy
    ratios = []
    for alone, many in zip(alones, manys):
        per_idle = {
            key: round((many[key] - alone[key]) / extra, 4)
            for key in ("rss_mb", "peak_rss_mb", "threads", "sockets", "idle_cpu_pct")
        }
        ratio = many["busy_msgs_per_s"] / max(alone["busy_msgs_per_s"], 1)
        ratios.append(ratio)
        print(
            json.dumps(
                {
                    "per_idle_workload": per_idle,
                    "busy_throughput_ratio_many_over_alone": round(ratio, 2),
                }
            ),
            flush=True,
        )
    median = sorted(ratios)[len(ratios) // 2]
    print(
        json.dumps(
            {
                "busy_throughput_ratio_median": round(median, 2),
                "ratios": [round(r, 2) for r in ratios],
                "target": ">= 0.8",
                "met": median >= 0.8,
                "cpus": os.cpu_count(),
                "loadavg_end": os.getloadavg(),
            }
        ),
        flush=True,
    )
    problems = [r["problem"] for r in alones + manys if "problem" in r]
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
