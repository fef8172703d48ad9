"""``mqmigrate demo``: the whole migration story on the sandbox, narrated."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from mqmigrate.cli.output import Format, err_console, out_console, print_json
from mqmigrate.demo.run import DemoOptions, Summary, run_demo

_PHASE_ORDER = (
    "sandbox",
    "seed",
    "assess",
    "plan",
    "provision",
    "shadow",
    "verify",
    "consumers",
    "producers",
    "drain",
)


def demo(
    messages: int = typer.Option(3000, "--messages", "-n", help="Messages the producer sends."),
    rate: float = typer.Option(200.0, "--rate", help="Producer rate, messages per second."),
    duration: float = typer.Option(
        90.0, "--duration", help="Stop the producer after this many seconds at most."
    ),
    out: Optional[Path] = typer.Option(
        None,
        "--out",
        "-o",
        help="Run directory (playbook, bridge logs, summary.json); "
        "default ./mqmigrate-demo/RUN_ID.",
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the demo's queues and topics."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Summary format."),
) -> None:
    """Migrate a live RabbitMQ work queue to a Kafka share group on the sandbox.

    Seeds a RabbitMQ queue (DLX, TTL) and an SQS queue (redrive), keeps a
    producer and a consumer running, then runs assess, plan, provision,
    shadow, verify, consumers, producers and drain, and prints what was
    sent, processed, lost and duplicated. Narration goes to stderr, the
    summary to stdout. See docs/demo.md.

    Exit 0 nothing lost, 1 a message was lost, 2 setup or connection error,
    130 Ctrl-C.
    """
    summary = run_demo(
        DemoOptions(messages=messages, rate=rate, duration=duration, out=out, keep=keep),
        err_console,
    )
    if fmt is Format.json:
        print_json(summary.to_dict())
    else:
        out_console.print(_table(summary), soft_wrap=False)
    raise typer.Exit(0 if summary.lost == 0 else 1)


def _table(s: Summary) -> Table:
    table = Table(title="mqmigrate demo: RabbitMQ → Kafka share group")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("meaning", overflow="fold")
    rows = [
        ("sent", str(s.sent), "unique ids the producer had confirmed"),
        (
            "processed",
            str(s.processed),
            f"handler runs: legacy {s.processed_legacy} + worker {s.processed_worker}",
        ),
        ("lost", f"[{'green' if s.lost == 0 else 'red'}]{s.lost}[/]", "sent − processed unique"),
        ("duplicated", str(s.duplicated), "processed − unique (work done twice)"),
        (
            "skipped by id",
            str(s.duplicate_deliveries_skipped),
            "deliveries of an already processed id, recognised by mq.source.id",
        ),
        (
            "shadow copies",
            str(s.shadow_copies_skipped),
            "records below the consumers' cut: accepted by the worker, not processed",
        ),
        (
            "verify missing",
            str(s.verify.get("missing", "-")),
            f"of {s.verify.get('expected', '-')} ids the shadow bridge settled",
        ),
        (
            "time without a consumer",
            f"{s.longest_gap_s:.3f} s",
            "longest time a message waited while nothing was processed",
        ),
    ]
    for row in rows:
        table.add_row(*row)
    for name in _PHASE_ORDER:
        if name in s.phases:
            table.add_row(f"phase {name}", f"{s.phases[name]:.1f} s", "wall time")
    return table
