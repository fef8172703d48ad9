"""Helpers for the SQS bridge tests: queues on the sandbox endpoints, fast seeding, the CLI."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[2]


def source_uri(endpoint_url: str) -> str:
    """``sqs+http://127.0.0.1:PORT`` for a sandbox endpoint (no credentials: dummy ones)."""
    return "sqs+" + endpoint_url


def queue_factory(sqs: Any, base_name: str) -> Iterator[Callable[..., str]]:
    """Yield ``make(suffix="", **attributes) -> url``; every queue made is deleted afterwards."""
    made: list[str] = []

    def make(suffix: str = "", **attributes: Any) -> str:
        fifo = attributes.get("FifoQueue") in (True, "true")
        name = f"{base_name}{suffix}" + (".fifo" if fifo else "")
        url = sqs.create_queue(
            QueueName=name,
            Attributes={
                k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in attributes.items()
            },
        )["QueueUrl"]
        made.append(url)
        return url

    yield make
    for url in made:
        try:
            sqs.delete_queue(QueueUrl=url)
        except Exception:  # noqa: BLE001 - already gone; the sandbox is in memory anyway
            pass


def send_batches(sqs: Any, url: str, entries: Sequence[dict], *, threads: int = 8) -> None:
    """``SendMessageBatch`` in chunks of 10 on ``threads`` threads; every entry must succeed."""
    chunks = [entries[i : i + 10] for i in range(0, len(entries), 10)]

    def send(chunk: Sequence[dict]) -> None:
        reply = sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), **entry} for i, entry in enumerate(chunk)]
        )
        assert not reply.get("Failed"), reply.get("Failed")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, chunks))


def depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) of the queue."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def bridge_env(env: dict[str, str | None] | None) -> dict[str, str]:
    """This process's environment with ``env`` applied (a None value removes the variable)."""
    out = {**os.environ, "PYTHONPATH": str(ROOT)}
    for key, value in (env or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def start_bridge(cmd: list[str], env: dict[str, str | None] | None = None) -> subprocess.Popen:
    environ = bridge_env(env)
    return subprocess.Popen(
        cmd, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_bridge(
    cmd: list[str], timeout: float = 120, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess:
    environ = bridge_env(env)
    return subprocess.run(
        cmd, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout
    )
