"""``mqmigrate assess SOURCE...`` and ``mqmigrate inventory SOURCE... --out FILE``."""

from __future__ import annotations

import io
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from mqmigrate.assessment import report
from mqmigrate.assessment.engine import assess as run_assessment, document
from mqmigrate.assessment.model import KafkaCapabilities, FindingSeverity, Status
from mqmigrate.cli.output import err_console, out_console
from mqmigrate.errors import ConfigError, ExitCode
from mqmigrate.inventory.readers import filter_estate, read_estate


class AssessFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


class FailOn(str, Enum):
    blocker = "blocker"
    warn = "warn"
    never = "never"


_SOURCE_HELP = (
    "Export files (RabbitMQ definitions JSON, Terraform .tf or a directory of them "
    "for SQS and Azure Service Bus, CloudFormation YAML/JSON, Service Bus ARM "
    "templates and Bicep, AMQP 1.0 address YAML, an inventory dump) or live URIs "
    "(rabbitmq+http(s)://user:pass@host:15672, sqs://REGION, "
    "sqs+http(s)://host:port?region=R, artemis+http(s)://user:pass@host:8161; "
    "TLS: ?cafile=&certfile=&keyfile=; a password as ${env:NAME}, see "
    "docs/security.md)."
)


class _ProgressBar:
    """A progress bar on stderr, shown only for live sources with many queues."""

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, what: str, done: int, total: int) -> None:
        if total < 20:
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=err_console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(what, total=total)
        self.progress.update(self.task, description=what, completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _read(sources: list[str], prefix: str | None):
    bar = _ProgressBar()
    try:
        return read_estate(sources, prefix=prefix, progress=bar)
    finally:
        bar.close()


def _write(out: Optional[Path], text: str) -> None:
    if out is None:
        out_console.file.write(text)
        out_console.file.flush()
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write ({exc.strerror})") from exc
    err_console.print(f"wrote {out}")


def assess(
    sources: List[str] = typer.Argument(..., metavar="SOURCE...", help=_SOURCE_HELP),
    fmt: AssessFormat = typer.Option(AssessFormat.table, "--format", "-f", help="Output format."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the report to FILE."),
    fail_on: FailOn = typer.Option(
        FailOn.blocker,
        "--fail-on",
        help="Exit 1 when a finding at or above this severity fired (default: blocker).",
    ),
    prefix: Optional[str] = typer.Option(
        None, "--prefix", help="Only queues whose name starts with NAME."
    ),
    kafka_version: str = typer.Option(
        "4.4", "--kafka-version", help="Target Kafka version (4.4+ has share-group DLQs)."
    ),
) -> None:
    """Inventory the sources and run the share-group readiness checklist.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above --fail-on, 2 usage,
    unreadable input, unreachable endpoint or bad credentials.
    """
    caps = KafkaCapabilities.parse(kafka_version)
    estate = _read(sources, prefix)
    workloads = run_assessment(estate, caps, prefix)
    doc = document(workloads, caps)
    if fmt is AssessFormat.table:
        if out is None:
            report.render_table(doc, out_console)
        else:
            buf = io.StringIO()
            report.render_table(doc, Console(file=buf, width=140, color_system=None))
            _write(out, buf.getvalue())
    elif fmt is AssessFormat.json:
        _write(out, report.render_json(doc))
    elif fmt is AssessFormat.markdown:
        _write(out, report.render_markdown(doc))
    else:
        _write(out, report.render_html(doc))
    if fail_on is not FailOn.never:
        floor = FindingSeverity(fail_on.value).rank
        if any(
            f.status is Status.fired and f.severity.rank >= floor
            for w in workloads
            for f in w.findings
        ):
            raise typer.Exit(int(ExitCode.NEGATIVE))


def inventory(
    sources: List[str] = typer.Argument(..., metavar="SOURCE...", help=_SOURCE_HELP),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Write the inventory dump to FILE (default stdout)."
    ),
    prefix: Optional[str] = typer.Option(
        None, "--prefix", help="Only queues whose name starts with NAME."
    ),
) -> None:
    """Write the normalized inventory (no credentials) for offline re-assessment."""
    estate = filter_estate(_read(sources, prefix), prefix)
    _write(out, estate.dump_json() + "\n")
