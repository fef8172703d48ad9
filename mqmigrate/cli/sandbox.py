"""``mqmigrate sandbox up | down | status``."""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.table import Table

from mqmigrate.cli.output import Format, err_console, out_console, print_json
from mqmigrate.errors import ExitCode
from mqmigrate.sandbox import manager
from mqmigrate.sandbox.registry import SERVICES

app = typer.Typer(
    help="A local estate for rehearsing a migration: Kafka with share groups, RabbitMQ, "
    "SQS (moto and ElasticMQ) and ActiveMQ Artemis, all on 127.0.0.1.",
    no_args_is_help=True,
)

_SERVICE_HELP = f"Only these services (repeatable): {', '.join(SERVICES)}. Default: all."
_PORT_HELP = (
    "Override a port, SERVICE.KEY=PORT (repeatable), e.g. kafka.broker=19092. "
    "Remembered for later status/down."
)


def _render(statuses, fmt: Format) -> None:
    if fmt is Format.json:
        print_json({"services": [s.to_dict() for s in statuses]})
        return
    table = Table(title="mqmigrate sandbox")
    for column in ("service", "state", "version", "endpoints"):
        table.add_column(column)
    colours = {"running": "green", "stopped": "dim", "unhealthy": "red"}
    for s in statuses:
        endpoints = "\n".join(f"{e.name}: {e.url}" for e in s.endpoints)
        state = f"[{colours.get(s.state, 'white')}]{s.state}[/]"
        if s.detail:
            state += f"\n{s.detail}"
        table.add_row(s.name, state, s.version or "", endpoints)
    out_console.print(table)


@app.command()
def up(
    service: Optional[List[str]] = typer.Option(None, "--service", "-s", help=_SERVICE_HELP),
    port: Optional[List[str]] = typer.Option(None, "--port", "-p", help=_PORT_HELP),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """Install what is missing, start every service and wait until each answers a real request.

    Re-running is a no-op for services already running. Downloads are cached (Maven in
    ~/.m2, jars in ~/.cache/mqmigrate); data and logs live in ~/.local/state/mqmigrate/sandbox
    (MQMIGRATE_SANDBOX_DIR overrides).
    """
    ctx = manager.context(manager.parse_ports(port or []))
    with err_console.status("starting sandbox") as spinner:
        ctx.log = lambda message: spinner.update(message)
        statuses = manager.up(ctx, service or None)
    _render(statuses, fmt)
    if any(s.state != "running" for s in statuses):
        raise typer.Exit(int(ExitCode.USAGE))


@app.command()
def status(
    service: Optional[List[str]] = typer.Option(None, "--service", "-s", help=_SERVICE_HELP),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """Report each service: running (answered a real request), unhealthy or stopped.

    Exit 0 when every chosen service is running, 1 otherwise.
    """
    statuses = manager.status(manager.context(), service or None)
    _render(statuses, fmt)
    if any(s.state != "running" for s in statuses):
        raise typer.Exit(int(ExitCode.NEGATIVE))


@app.command()
def down(
    service: Optional[List[str]] = typer.Option(None, "--service", "-s", help=_SERVICE_HELP),
) -> None:
    """Stop the services the sandbox started (never a broker it did not start). Data is kept."""
    ctx = manager.context(log=lambda message: err_console.print(message))
    stopped = manager.down(ctx, service or None)
    err_console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
