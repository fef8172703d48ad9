"""``mqmigrate plan SOURCE... | --from assessment.json``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mqmigrate.assessment.model import KafkaCapabilities
from mqmigrate.cli.output import Format, err_console, out_console, print_json
from mqmigrate.errors import UsageError
from mqmigrate.playbooks.plan import (
    STRATEGIES,
    from_estate,
    load_assessment,
    origin_label,
    plan as make_plan,
    write_plan,
)

_SOURCE_HELP = (
    "What 'assess' reads: export files (RabbitMQ definitions JSON, Terraform, "
    "CloudFormation, Service Bus ARM templates and Bicep, AMQP 1.0 YAML, an "
    "inventory dump) or live URIs."
)


def _parse_strategy_for(items: List[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        workload, sep, strategy = item.partition("=")
        if not sep or not workload or not strategy:
            raise UsageError(
                f"--strategy-for '{item}' is not WORKLOAD=STRATEGY",
                hint="e.g. --strategy-for orders=drain-only",
            )
        out[workload] = strategy
    return out


def plan(
    sources: Optional[List[str]] = typer.Argument(None, metavar="SOURCE...", help=_SOURCE_HELP),
    from_file: Optional[Path] = typer.Option(
        None, "--from", help="An assessment JSON (assess --format json) instead of SOURCE."
    ),
    out: Path = typer.Option(Path("playbooks"), "--out", "-o", help="Directory to write to."),
    per_workload: bool = typer.Option(
        False, "--per-workload", help="One playbook per workload (WORKLOAD.yaml)."
    ),
    strategy: Optional[str] = typer.Option(
        None,
        "--strategy",
        help="Cutover strategy for every workload: "
        + ", ".join(STRATEGIES)
        + " (default: shadow-then-drain; drain-only for SQS).",
    ),
    strategy_for: Optional[List[str]] = typer.Option(
        None,
        "--strategy-for",
        metavar="WORKLOAD=STRATEGY",
        help="Strategy of one workload (playbook id, assessment id or queue name); repeatable.",
    ),
    name: str = typer.Option("migration", "--name", help="Playbook name (and NAME.yaml)."),
    kafka_version: Optional[str] = typer.Option(
        None,
        "--kafka-version",
        help="Target Kafka version (4.4+ dead-letters in the broker; "
        "4.2 has no per-group delivery limit, see docs/compatibility.md); "
        "default: 4.4, or the assessment's.",
    ),
    replication: int = typer.Option(3, "--replication", help="Replication factor of the topics."),
    kafka: Optional[str] = typer.Option(
        None, "--kafka", "-k", help="kafka.bootstrap to write (host:port)."
    ),
    prefix: Optional[str] = typer.Option(
        None, "--prefix", help="Only queues whose name starts with NAME."
    ),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """Write migration playbooks from an assessment.

    Every derived value carries a comment with its reason; re-running on an unchanged estate
    leaves the files byte-identical. Exit 0 written (or unchanged), 2 usage, unreadable input
    or unreachable source.
    """
    if bool(sources) == bool(from_file):
        raise UsageError(
            "give SOURCE... or --from FILE (one of them)", hint="see 'mqmigrate plan --help'"
        )
    if from_file is not None:
        if prefix:
            raise UsageError("--prefix applies to SOURCE..., not --from")
        assessment = load_assessment(from_file)
    else:
        from mqmigrate.inventory.readers import read_estate

        caps = KafkaCapabilities.parse(kafka_version or "4.4")
        assessment = from_estate(
            read_estate(list(sources or []), prefix=prefix),
            caps,
            prefix=prefix,
            origin=origin_label(sources or []),
        )
    result = make_plan(
        assessment,
        strategy=strategy,
        strategy_for=_parse_strategy_for(strategy_for or []),
        name=name,
        per_workload=per_workload,
        kafka_version=kafka_version,
        replication=replication,
        bootstrap=kafka,
    )
    written = write_plan(result, out)
    if fmt is Format.json:
        print_json(
            {
                "files": [
                    {
                        "path": str(p),
                        "written": w,
                        "workloads": [x.id for x in f.playbook.workloads],
                    }
                    for (p, w), f in zip(written, result.files)
                ],
                "left_out": [{"workload": i, "why": why} for i, why in result.left_out],
            }
        )
        return
    for (path, was_written), f in zip(written, result.files):
        state = "wrote" if was_written else "unchanged"
        ids = ", ".join(x.id for x in f.playbook.workloads)
        out_console.print(f"{state:9} {path}  ({ids})", markup=False)
    for wid, why in result.left_out:
        err_console.print(f"left out {wid}: {why}", markup=False)
