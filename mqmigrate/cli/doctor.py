"""``mqmigrate doctor``."""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.table import Table

from mqmigrate.cli.output import Format, err_console, out_console, print_json
from mqmigrate.doctor import diagnose

_MARKS = {"ok": "[green]ok[/]", "fail": "[red]NOT READY[/]", "error": "[red]ERROR[/]",
          "skip": "[dim]skipped[/]"}


def doctor(
    kafka: str = typer.Option(..., "--kafka", "-k", help="Kafka bootstrap servers, host:port[,...]."),
    source: Optional[List[str]] = typer.Option(
        None, "--source", "-s",
        help="A source endpoint to probe (repeatable): amqp://, rabbitmq+http://, amqp1://, "
        "sqs://REGION or sqs+http://HOST:PORT.",
    ),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for each check."),
    round_trip: bool = typer.Option(
        True, "--round-trip/--no-round-trip",
        help="Produce and consume one record on a temporary topic through a share group.",
    ),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """Can this Kafka cluster serve queues? Checks the release, the share.version feature and a
    real share-group round trip, and probes each source for reachability, credentials, version.

    Exit 0 ready, 1 not ready (each failed check names its fix), 2 a connection or
    authentication error.
    """
    with err_console.status("checking"):
        report = diagnose(kafka, source or [], timeout=timeout, round_trip=round_trip)
    if fmt is Format.json:
        print_json(report.to_dict())
    else:
        table = Table(title=f"mqmigrate doctor — Kafka {kafka}")
        for column in ("check", "result", "detail", "fix"):
            table.add_column(column)
        for check in report.checks:
            table.add_row(check.name, _MARKS[check.result], check.detail, check.fix)
        out_console.print(table)
        verdict = "[green]ready to serve queues[/]" if report.ready else "[red]not ready[/]"
        err_console.print(f"verdict: {verdict}")
    raise typer.Exit(int(report.exit_code))
