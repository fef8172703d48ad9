"""``mqmigrate playbook validate`` and ``mqmigrate playbook show``."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer
from rich.text import Text
from rich.tree import Tree

from mqmigrate.cli.output import Format, err_console, out_console, print_json
from mqmigrate.errors import ExitCode, MqMigrateError, PlaybookUnreadable
from mqmigrate.playbooks import loader
from mqmigrate.playbooks.loader import Problem, format_path
from mqmigrate.playbooks.model import Playbook, warnings

app = typer.Typer(help="Check and read migration playbooks.", no_args_is_help=True)

_EXIT_HELP = (
    "Exit 0 every file is a valid playbook, 1 at least one is valid YAML but not a "
    "valid playbook (types, unknown keys, ranges, step graph), 2 at least one cannot "
    "be read or parsed (missing, not UTF-8, too large, empty, malformed YAML)."
)


@app.command(
    "validate",
    help=(
        "Check playbooks against the schema and the step-graph rules; every problem is printed as "
        "FILE:LINE:COLUMN: PATH: MESSAGE.\n\n" + _EXIT_HELP
    ),
)
def validate(
    files: List[Path] = typer.Argument(..., help="Playbook files.", metavar="FILE..."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table (text) or json."),
) -> None:
    """Validate FILE... (the help text is given in the decorator so it can name exit codes)."""
    results = []
    worst = ExitCode.OK
    for path in files:
        entry: dict = {"file": str(path), "valid": False, "problems": [], "warnings": []}
        try:
            problems = loader.check_file(path)
        except PlaybookUnreadable as exc:
            entry["error"] = exc.one_line()
            worst = ExitCode.USAGE
            results.append(entry)
            continue
        entry["problems"] = [p.to_dict() for p in problems]
        if problems:
            worst = max(worst, ExitCode.NEGATIVE)
        else:
            entry["valid"] = True
            playbook = loader.load(path)
            marks = _warning_lines(path, playbook)
            entry["warnings"] = [p.to_dict() for p in marks]
        results.append(entry)
    if fmt is Format.json:
        print_json({"files": results, "exit_code": int(worst)})
    else:
        for entry in results:
            if "error" in entry:
                out_console.print(f"{entry['error']}", markup=False)
            for p in entry["problems"]:
                out_console.print(str(Problem(**p)), markup=False)
            for p in entry["warnings"]:
                out_console.print(f"{Problem(**p)} (warning)", markup=False)
            if entry["valid"]:
                err_console.print(f"{entry['file']}: valid", markup=False)
        bad = sum(1 for e in results if not e["valid"])
        err_console.print(f"{len(results) - bad} valid, {bad} invalid or unreadable", markup=False)
    raise typer.Exit(int(worst))


def _warning_lines(path: Path, playbook: Playbook) -> list[Problem]:
    """Warnings located in the file (re-composed for marks; the file is known to be valid)."""
    text = path.read_text(encoding="utf-8")
    _, marks = loader._compose(text, str(path))
    found = []
    for where, message in warnings(playbook):
        _, (line, column) = marks.locate(where)
        found.append(Problem(str(path), line, column, format_path(where), message))
    return found


@app.command("show")
def show(file: Path = typer.Argument(..., help="Playbook file.")) -> None:
    """Render a playbook as a tree: workloads → phases → steps, gates, rollback, open decisions.

    Exit 0, 1 invalid playbook, 2 unreadable file.
    """
    playbook = loader.load(file)
    out_console.print(tree(playbook), soft_wrap=False)


class _Tree(Tree):
    """A tree whose labels wrap instead of being cut at the terminal width."""

    def add(self, label, **kwargs):
        """Add a child whose string label folds long lines."""
        if isinstance(label, str):
            label = Text.from_markup(label, overflow="fold")
        node = _Tree(label, **kwargs)
        self.children.append(node)
        return node


def tree(playbook: Playbook) -> Tree:
    """The rich tree ``playbook show`` prints."""
    root = _Tree(
        f"[bold]{playbook.metadata.name}[/] ({len(playbook.workloads)} workload"
        f"{'s' if len(playbook.workloads) != 1 else ''})"
    )
    for workload in playbook.workloads:
        src, tgt = workload.source, workload.target
        consumer = tgt.consumer
        node = root.add(
            f"[bold cyan]{workload.id}[/]: {src.kind} queue [bold]{src.queue}[/]"
            f"{f' (vhost {src.vhost})' if src.vhost else ''} → topic [bold]{tgt.topic}[/] "
            f"({tgt.partitions} partitions, rf {tgt.replication or 'cluster default'}), {consumer.type} "
            f"[bold]{consumer.group}[/] — strategy {workload.strategy}"
        )
        details = node.add("target")
        if consumer.configs:
            for key, value in consumer.configs.as_kafka().items():
                details.add(f"{key} = {value}")
        if consumer.key:
            details.add(f"ordering key: {consumer.key}")
        for key, value in tgt.configs.items():
            details.add(f"topic {key} = {value}")
        if tgt.dlq:
            details.add(
                f"DLQ {tgt.dlq.topic} ({'broker dead-lettering' if tgt.dlq.use_broker_dlq else 'worker forwards'})"
            )
        for grant in tgt.acls:
            on = f"prefix {grant.prefix}" if grant.pattern == "prefixed" else "literal names"
            details.add(f"ACL {grant.principal} {grant.role} ({on})")
        details.add(f"key: {workload.mapping.key}")
        headers = workload.mapping.headers
        for old, new in headers.rename.items():
            details.add(f"header {old} → {new}")
        if headers.drop:
            details.add(f"headers dropped: {', '.join(headers.drop)}")
        open_items = [d for d in workload.decisions if not d.done]
        if workload.decisions:
            decisions = node.add(f"decisions ({len(open_items)} open)")
            for d in workload.decisions:
                mark = "[green]☑[/]" if d.done else "[yellow]☐[/]"
                decisions.add(f"{mark} [dim]{d.rule}[/] {d.question}")
        for name, phase in workload.phases.present():
            ph = node.add(f"[bold]{name}[/]")
            for step in phase.steps:
                extra = f" ({step.mode})" if step.mode else ""
                needs = f" [dim]after {', '.join(step.requires)}[/]" if step.requires else ""
                desc = f" — {step.description}" if step.description else ""
                ph.add(f"{step.id}: {step.action.value}{extra}{desc}{needs}")
            for gate in phase.gates:
                hold = f" for {gate.for_seconds}s" if gate.for_seconds else ""
                value = int(gate.value) if float(gate.value).is_integer() else gate.value
                ph.add(f"[magenta]gate[/] {gate.metric} {gate.op} {value}{hold}")
            if phase.rollback:
                rb = ph.add("[red]rollback[/]")
                for step in phase.rollback:
                    rb.add(
                        f"{step.id}: {step.action.value}"
                        + (f" — {step.description}" if step.description else "")
                    )
    return root


__all__ = ["app", "validate", "show", "tree", "MqMigrateError"]
