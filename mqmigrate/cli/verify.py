"""``mqmigrate verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import Progress
from rich.table import Table

from mqmigrate.cli.kafkaopts import KafkaConfigFile, resolve_kafka
from mqmigrate.cli.output import Format, err_console, out_console, print_json
from mqmigrate.errors import UsageError
from mqmigrate.verify import SAMPLE, read_topic, reconcile
from mqmigrate.verify.ledger import read_ledger

#: below this many records the progress bar is noise
_PROGRESS_FROM = 50_000


def _targets(
    playbook_file: Optional[Path],
    workload: Optional[str],
    kafka: Optional[str],
    topic: Optional[str],
    kafka_config: Optional[Path] = None,
) -> tuple[Any, str, Optional[str], Any]:
    """(KafkaConfig, topic, share group, workload or None) from the playbook or the options."""
    if playbook_file is None:
        config = resolve_kafka(kafka, kafka_config, required=False)
        if not config.properties.get("bootstrap.servers") or not topic:
            raise UsageError("give --playbook, or --kafka and --topic")
        return config, topic, None, None
    from mqmigrate.playbooks import loader

    pb = loader.load(playbook_file)
    chosen = [w for w in pb.workloads if workload in (None, w.id)]
    if not chosen:
        raise UsageError(f"no workload '{workload}' in {playbook_file}")
    if len(chosen) > 1:
        raise UsageError(f"{playbook_file} has {len(chosen)} workloads; pick one with --workload")
    w = chosen[0]
    bootstrap = resolve_kafka(
        kafka, kafka_config, playbook=pb, playbook_file=playbook_file, required=False
    )
    if not bootstrap.properties.get("bootstrap.servers"):
        raise UsageError("the playbook names no kafka.bootstrap; pass --kafka")
    group = (
        w.target.consumer.group
        if (w.target.consumer is not None and w.target.consumer.type == "share-group")
        else None
    )
    return bootstrap, topic or w.target.topic, group, w


def _default_ledger(playbook_file: Optional[Path], workload: Any) -> Path:
    """Without --ledger: the ledger the bridges ``cutover`` started write for the workload."""
    if playbook_file is None or workload is None:
        raise UsageError(
            "give --ledger FILE (or --playbook, to read the ledger cutover's bridges write)"
        )
    from mqmigrate.cutover.bridgeproc import ledger_path
    from mqmigrate.cutover.runner import run_dir

    path = ledger_path(run_dir(playbook_file), workload.id)
    if not path.exists():
        raise UsageError(
            f"no verify ledger for workload '{workload.id}' at {path}",
            hint="run the bridge through 'mqmigrate cutover', or pass "
            "--ledger FILE written by 'mqmigrate bridge --verify-ledger FILE'",
        )
    return path


def _source_backlog(workload: Any, source: Optional[str], queue: Optional[str]) -> dict[str, Any]:
    """Messages still at the source (ready and in flight), measured now; None = unknown."""
    from mqmigrate.cutover.probes import SourceDepthProbe
    from mqmigrate.cutover.source import access_for_uri, resolve
    from mqmigrate.errors import MqMigrateError

    try:
        if source and (queue or workload is not None):
            access = access_for_uri(source, queue or workload.source.queue)
        elif workload is not None:
            access = resolve(workload)
        else:
            why = "--source needs --queue" if source else "no source given"
            return {"depth": None, "in_flight": None, "detail": why}
    except MqMigrateError as exc:
        return {"depth": None, "in_flight": None, "detail": exc.one_line()}
    depth = SourceDepthProbe("depth", resolve).measure_access(access)
    in_flight = SourceDepthProbe("in-flight", resolve).measure_access(access)
    as_int = lambda m: None if m.value is None else int(m.value)  # noqa: E731
    return {
        "depth": as_int(depth),
        "in_flight": as_int(in_flight),
        "detail": depth.detail if depth.value is None else in_flight.detail,
    }


def verify(
    ledger: Optional[Path] = typer.Option(
        None,
        "--ledger",
        "-l",
        help="Verify ledger (JSONL) the bridge wrote; see docs/verify.md. "
        "Default with --playbook: the ledger of the bridge 'cutover' started for the workload.",
    ),
    playbook_file: Optional[Path] = typer.Option(None, "--playbook", "-p", help="Playbook file."),
    workload: Optional[str] = typer.Option(None, "--workload", "-w", help="Workload id."),
    source: Optional[str] = typer.Option(
        None,
        "--source",
        envvar="MQMIGRATE_SOURCE",
        show_envvar=True,
        help="Source URI, to measure the source's depth and in-flight count (default with "
        "--playbook: the workload's source, credentials from its env var).",
    ),
    queue: Optional[str] = typer.Option(None, "--queue", help="Source queue (with --source)."),
    kafka: Optional[str] = typer.Option(None, "--kafka", "-k", help="Kafka bootstrap servers."),
    kafka_config: KafkaConfigFile = None,
    topic: Optional[str] = typer.Option(None, "--topic", "-t", help="Target topic."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to read the topic."),
    fail_on_duplicates: bool = typer.Option(
        False, "--fail-on-duplicates", help="Exit 1 on duplicated records too."
    ),
    share_group: Optional[str] = typer.Option(
        None, "--share-group", help="Share group to measure (default: the playbook's)."
    ),
    want_backlog: bool = typer.Option(
        False,
        "--share-backlog",
        help="Measure the share group's backlog (its lag, read "
        "from Kafka over the same connection).",
    ),
) -> None:
    """Reconcile the source (its verify ledger) with the Kafka topic.

    Counts missing (in the ledger, not in Kafka), duplicated (extra copies of one id),
    altered (same id, other body) and unexpected (in Kafka, not in the ledger) records.

    Exit 0 clean, 1 missing or altered records (duplicates with --fail-on-duplicates),
    2 usage or connection error.
    """
    bootstrap, topic_name, group, chosen = _targets(
        playbook_file, workload, kafka, topic, kafka_config
    )
    src = list(read_ledger(ledger or _default_ledger(playbook_file, chosen)))
    from mqmigrate.kafka.connect import check_connection

    check_connection(bootstrap)
    records = _read_records(bootstrap, topic_name, timeout)
    report = reconcile(src, records)
    group = share_group or group
    if want_backlog and group:
        report = _with_share_backlog(report, bootstrap, group, topic_name)
    from mqmigrate.redact import mask_uri

    backlog = _source_backlog(chosen, source, queue)
    extra = {
        "topic": topic_name,
        "share_group": group,
        "source": mask_uri(source) if source else None,
        "queue": queue or (chosen.source.queue if chosen is not None else None),
        "source_backlog": backlog,
    }
    data = report.to_dict(fail_on_duplicates) | extra
    if fmt is Format.json:
        print_json(data)
    else:
        _print_table(data, topic_name, backlog, group)
    raise typer.Exit(int(report.exit_code(fail_on_duplicates)))


def _read_records(bootstrap: Any, topic_name: str, timeout: float) -> Any:
    """Every record of the topic, with a progress bar on stderr once there are many."""
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task(f"reading {topic_name}", total=None, visible=False)

        def _progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=total >= _PROGRESS_FROM)

        return read_topic(bootstrap, topic_name, timeout=timeout, progress=_progress)


def _with_share_backlog(report: Any, bootstrap: Any, group: str, topic_name: str) -> Any:
    """``report`` with the share group's backlog; unchanged (a warning) when unknown."""
    from dataclasses import replace

    from mqmigrate.errors import MqMigrateError
    from mqmigrate.kafka.backlog import share_backlog

    with err_console.status(f"measuring the backlog of share group {group}"):
        try:
            report = replace(report, share_backlog=share_backlog(bootstrap, group, topic_name))
        except MqMigrateError as exc:  # the reconciliation stands; the backlog is unknown
            err_console.print(
                f"Warning: share backlog unknown: {exc.one_line()}",
                markup=False,
                highlight=False,
            )
    return report


def _print_table(
    data: dict[str, Any], topic_name: str, backlog: dict[str, Any], group: Optional[str]
) -> None:
    """The report as a table on stdout, and clean or MISMATCH on stderr."""
    counts = data["counts"]
    table = Table(title=f"mqmigrate verify {topic_name}")
    table.add_column("check")
    table.add_column("count", justify="right")
    table.add_column(f"sample (first {SAMPLE})", overflow="fold")
    table.add_row("source (ledger)", str(counts["source"]), "")
    table.add_row("kafka records", str(counts["kafka"]), "")
    for name, key, sample in (
        ("missing", "missing", "missing"),
        ("altered", "altered", "altered"),
        ("duplicate copies", "duplicate_copies", "duplicated"),
        ("unexpected", "unexpected", "unexpected"),
    ):
        style = "red" if counts[key] and name in ("missing", "altered") else ""
        table.add_row(
            name,
            f"[{style}]{counts[key]}[/]" if style else str(counts[key]),
            ", ".join(data["samples"][sample]),
        )
    table.add_row("bridge lag", str(data["lag"]), "")
    for label, key in (("source depth (ready)", "depth"), ("source in flight", "in_flight")):
        value = backlog[key]
        table.add_row(
            label,
            "unknown" if value is None else str(value),
            backlog["detail"] if value is None else "",
        )
    table.add_row(
        "share-group backlog",
        "unknown" if data["share_backlog"] is None else str(data["share_backlog"]),
        group or "",
    )
    out_console.print(table, soft_wrap=False)
    err_console.print("clean" if data["clean"] else "MISMATCH", markup=False)
