"""``mqmigrate doctor``."""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.table import Table

from mqmigrate.cli.kafkaopts import KafkaConfigFile, resolve_kafka
from mqmigrate.cli.output import Format, err_console, out_console, print_json
from mqmigrate.doctor import diagnose

_MARKS = {
    "ok": "[green]ok[/]",
    "fail": "[red]NOT READY[/]",
    "error": "[red]ERROR[/]",
    "skip": "[dim]skipped[/]",
}


def doctor(
    kafka: Optional[str] = typer.Option(
        None,
        "--kafka",
        "-k",
        help="Kafka bootstrap servers, host:port[,...] (required unless --sandbox).",
    ),
    kafka_config: KafkaConfigFile = None,
    source: Optional[List[str]] = typer.Option(
        None,
        "--source",
        "-s",
        help="A source endpoint to probe (repeatable): amqp(s)://, rabbitmq+http(s)://, "
        "amqp1(s)://, artemis+http(s)://, sqs://REGION or sqs+http(s)://HOST:PORT; TLS "
        "settings and secrets as in docs/security.md.",
    ),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for each check."),
    round_trip: bool = typer.Option(
        True,
        "--round-trip/--no-round-trip",
        help="Produce and consume one record on a temporary topic through a share group.",
    ),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    sandbox: bool = typer.Option(
        False,
        "--sandbox",
        help="Check the local sandbox: its Kafka (unless --kafka) and every "
        "source endpoint it runs, with the sandbox's credentials.",
    ),
) -> None:
    """Can this Kafka cluster serve queues? Checks the release, the share.version feature and a
    real share-group round trip, and probes each source for reachability, credentials, version.

    Exit 0 ready, 1 not ready (each failed check names its fix), 2 a connection or
    authentication error.
    """
    sources = list(source or [])
    config = resolve_kafka(kafka, kafka_config, required=False)
    if sandbox:
        from mqmigrate.sandbox import manager

        sandbox_kafka, sandbox_sources = manager.endpoints_for_doctor(manager.context())
        if not config.properties.get("bootstrap.servers"):
            config = config.with_bootstrap(sandbox_kafka)
        sources += sandbox_sources
    if not config.properties.get("bootstrap.servers"):
        from mqmigrate.errors import UsageError

        raise UsageError(
            "give --kafka BOOTSTRAP (or bootstrap.servers in --kafka-config), or "
            "--sandbox to check the local sandbox"
        )
    kafka = config.describe()
    with err_console.status("checking"):
        report = diagnose(config, sources, timeout=timeout, round_trip=round_trip)
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
