"""``mqmigrate cutover run|status|rollback PLAYBOOK``."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Callable, List, Optional

import typer
from rich.table import Table

from mqmigrate.cli.kafkaopts import KafkaConfigFile
from mqmigrate.cli.output import Format, err_console, out_console, print_json
from mqmigrate.errors import CutoverInterrupted

app = typer.Typer(
    help="Run a playbook's phases with gates; resumable; status; rollback.", no_args_is_help=True
)

_PLAYBOOK = typer.Argument(..., metavar="PLAYBOOK", help="Playbook file.")
_WORKLOAD = typer.Option(None, "--workload", "-w", help="Only this workload id (repeatable).")
_KAFKA = typer.Option(None, "--kafka", "-k", help="Kafka bootstrap; default: the playbook's.")
_CONSUMER_SWITCH = typer.Option(
    None,
    "--consumer-switch",
    help="Where consumers.kafka/consumers.source write the consumer "
    "switch (a JSON file; {workload} is replaced); default a file in the run directory.",
)


def ask(question: str) -> bool:
    """A y/N question on stderr, answered on stdin; end of input is "no".  Ctrl-C while asked
    stops the run (exit 130) instead of waiting for an answer."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.stderr.write(f"{question} [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        raise CutoverInterrupted(
            "stopped at a confirmation prompt", hint="re-run to resume at the first pending step"
        ) from None
    finally:
        signal.signal(signal.SIGINT, old)
    return answer.strip().lower() in ("y", "yes")


def _engine(
    playbook_file: Path,
    kafka: Optional[str],
    kafka_config: Optional[Path] = None,
    *,
    connect: bool = True,
    **options,
):
    """The runner; ``connect`` False (status) reads no Kafka configuration."""
    from mqmigrate.cli.kafkaopts import resolve_kafka
    from mqmigrate.cutover.verifier import CutoverVerifier
    from mqmigrate.cutover.runner import Cutover
    from mqmigrate.playbooks import loader

    playbook = loader.load(playbook_file)
    bootstrap = None
    if connect:
        config = resolve_kafka(
            kafka, kafka_config, playbook=playbook, playbook_file=playbook_file, required=False
        )
        bootstrap = config if config.properties.get("bootstrap.servers") else None
    return Cutover(
        playbook_file,
        playbook,
        bootstrap=bootstrap,
        confirm=ask,
        verifier=CutoverVerifier(),
        interactive=sys.stdin.isatty(),
        **options,
    )


def _with_signals(engine, work: Callable[[], object]) -> object:
    """SIGTERM and Ctrl-C ask the engine to stop after the current step."""
    old = {sig: signal.signal(sig, engine.request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return work()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@app.command("run")
def run(
    playbook_file: Path = _PLAYBOOK,
    workload: Optional[List[str]] = _WORKLOAD,
    yes: bool = typer.Option(
        False,
        "--yes",
        "-y",
        help="Run automated steps without asking (people still confirm their steps).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would run; change nothing."),
    until: Optional[str] = typer.Option(
        None, "--until", help="Stop after this phase (and its gates)."
    ),
    gate_timeout: float = typer.Option(
        600.0,
        "--gate-timeout",
        help="Seconds a gate may take to start holding (its for_seconds come on top).",
    ),
    poll_interval: float = typer.Option(
        5.0, "--poll-interval", help="Seconds between gate measurements."
    ),
    kafka: Optional[str] = _KAFKA,
    kafka_config: KafkaConfigFile = None,
    producer_mode: Optional[str] = typer.Option(
        None,
        "--producer-mode",
        help="Where producers.* write the dual-write mode: file:PATH or "
        "kafka:TOPIC#KEY ({workload} is replaced); default a file in the run directory.",
    ),
    consumer_switch: Optional[str] = _CONSUMER_SWITCH,
) -> None:
    """Run the pending steps and gates of a playbook, in order, each step once.

    Exit 0 done (up to --until), 1 a gate did not hold in time or a step was not confirmed,
    2 usage, configuration or connection error, 130 stopped by Ctrl-C/SIGTERM (re-run resumes).
    """
    engine = _engine(
        playbook_file,
        kafka,
        kafka_config,
        yes=yes,
        dry_run=dry_run,
        gate_timeout=gate_timeout,
        poll_interval=poll_interval,
        mode_spec=producer_mode,
        consumer_switch=consumer_switch,
    )
    report = _with_signals(engine, lambda: engine.run(workload or None, until))
    if dry_run:
        err_console.print(f"dry run: {len(report.done)} step(s) would run; nothing changed")
    elif not report.done and not report.gates:
        err_console.print(f"nothing to do: every step up to {until or 'the end'} is done")
    else:
        err_console.print(f"ran {len(report.done)} step(s), passed {len(report.gates)} gate set(s)")


@app.command("status")
def status(
    playbook_file: Path = _PLAYBOOK,
    workload: Optional[List[str]] = _WORKLOAD,
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """Where each workload stands: done and pending steps, last gate results, the bridge."""
    engine = _engine(playbook_file, None, connect=False)
    data = engine.status(workload or None)
    if fmt is Format.json:
        print_json(data)
        return
    table = Table(title=f"cutover status {playbook_file}")
    for column in ("workload", "phase", "step", "state", "gates"):
        table.add_column(column, overflow="fold")
    for wl, entry in data["workloads"].items():
        for phase in entry["phases"]:
            gates = ""
            if phase["gates"] is not None:
                results = phase["gates"]["results"]
                failing = [
                    f"{r['metric']}="
                    f"{'unknown' if r['observed'] is None else format(r['observed'], 'g')}"
                    for r in results
                    if not r["passed"]
                ]
                gates = (
                    "passed" if phase["gates"]["passed"] else ("; ".join(failing) or "not checked")
                )
            for k, step in enumerate(phase["steps"] or [{"id": "-", "state": "", "at": None}]):
                table.add_row(
                    wl,
                    phase["phase"] if k == 0 else "",
                    step["id"],
                    step["state"],
                    gates if k == 0 else "",
                )
        nxt = entry["next"]
        bridge = entry["bridge"]
        table.add_row(
            wl,
            "",
            "next: " + (f"{nxt['phase']}/{nxt['step']}" if nxt else "finished"),
            f"bridge {bridge['mode']} pid {bridge['pid']}" if bridge else "no bridge",
            "",
        )
    out_console.print(table, soft_wrap=False)


@app.command("rollback")
def rollback(
    playbook_file: Path = _PLAYBOOK,
    to: Optional[str] = typer.Option(
        None, "--to", help="Keep this phase and the ones before; default: roll back everything."
    ),
    workload: Optional[List[str]] = _WORKLOAD,
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Run automated rollback steps without asking."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would run; change nothing."),
    kafka: Optional[str] = _KAFKA,
    kafka_config: KafkaConfigFile = None,
    producer_mode: Optional[str] = typer.Option(
        None, "--producer-mode", help="As for 'cutover run'."
    ),
    consumer_switch: Optional[str] = _CONSUMER_SWITCH,
) -> None:
    """Walk back through the rollback steps of the started phases, newest first, unstamping.

    Exit 0 rolled back, 1 a step was not confirmed, 2 usage/connection error, 130 interrupted.
    """
    engine = _engine(
        playbook_file,
        kafka,
        kafka_config,
        yes=yes,
        dry_run=dry_run,
        mode_spec=producer_mode,
        consumer_switch=consumer_switch,
    )
    report = _with_signals(engine, lambda: engine.rollback(workload or None, to))
    verb = "would run" if dry_run else "ran"
    err_console.print(
        f"rollback: {verb} {len(report.done)} rollback step(s)"
        + (" (dry run: nothing changed)" if dry_run else "")
    )
