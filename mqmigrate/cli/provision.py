"""``mqmigrate provision PLAYBOOK``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from mqmigrate.cli.kafkaopts import KafkaConfigFile, resolve_kafka
from mqmigrate.cli.output import Format, err_console, out_console, print_json
from mqmigrate.playbooks import loader
from mqmigrate.playbooks.provision import provision as run_provision

_STYLE = {
    "create": "[green]create[/]",
    "alter": "[yellow]alter[/]",
    "unchanged": "[dim]unchanged[/]",
    "drift": "[red]drift[/]",
    "skipped": "[dim]skipped[/]",
}


def provision(
    playbook_file: Path = typer.Argument(..., metavar="PLAYBOOK", help="Playbook file."),
    kafka: Optional[str] = typer.Option(
        None,
        "--kafka",
        "-k",
        help="Kafka bootstrap servers; default: the playbook's kafka.bootstrap.",
    ),
    kafka_config: KafkaConfigFile = None,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the diff, change nothing."),
    workload: Optional[List[str]] = typer.Option(
        None, "--workload", "-w", help="Only this workload id (repeatable)."
    ),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """Make Kafka match a playbook and print the diff.

    Topics (partitions, configs), DLQ topics, share-group configs (on share.version>=2 also the
    broker dead-letter config), ACLs when the cluster has an authorizer. Rows: create, alter
    (old → new), unchanged, drift (left alone), skipped. Never deletes, never lowers data
    safety; a second run changes nothing.

    Exit 0 converged (with --dry-run: no drift), 1 drift remains or the playbook is invalid,
    2 unreadable playbook, usage or connection error.
    """
    playbook = loader.load(playbook_file)
    config = resolve_kafka(
        kafka, kafka_config, playbook=playbook, playbook_file=playbook_file, required=False
    )
    with err_console.status("comparing the cluster with the playbook"):
        report = run_provision(playbook, config, dry_run=dry_run, workloads=workload or None)
    if fmt is Format.json:
        print_json(report.to_dict())
    else:
        title = f"mqmigrate provision {playbook_file} → {report.bootstrap}" + (
            " (dry run)" if dry_run else ""
        )
        table = Table(title=title)
        for column in ("workload", "resource", "name", "item", "action", "old → new", "note"):
            table.add_column(column, overflow="fold")
        for c in report.changes:
            if c.action == "alter":
                arrow = f"{c.old if c.old not in (None, '') else '(unset)'} → {c.new}"
            elif c.action == "drift" and c.old is not None:
                arrow = f"{c.old} → {c.new}"
            else:
                arrow = c.new or c.old or ""
            table.add_row(c.workload, c.resource, c.name, c.item, _STYLE[c.action], arrow, c.note)
        out_console.print(table, soft_wrap=False)
        counts = ", ".join(f"{n} {a}" for a, n in sorted(report.counts().items()))
        if dry_run:
            verdict = (
                f"dry run: {len(report.pending)} change(s) would be made"
                if report.pending
                else "dry run: nothing to change"
            )
        elif report.applied:
            verdict = f"applied {report.applied} change(s)"
        else:
            verdict = "nothing to change: the cluster already matches the playbook"
        if report.drift:
            verdict += f"; {len(report.drift)} drift item(s) left for a human"
        err_console.print(f"{verdict} ({counts})", markup=False)
    raise typer.Exit(report.exit_code)
