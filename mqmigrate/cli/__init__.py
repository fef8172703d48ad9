"""The ``mqmigrate`` command line: a thin layer over one core function per command.

Data goes to stdout (so ``--format json | jq`` works), progress and errors to stderr.  One
error boundary, :func:`main`, turns every :class:`~mqmigrate.errors.MqMigrateError` into a
one-line message and its exit code.
"""

from __future__ import annotations

import os
import sys

import click
import typer

from mqmigrate import __version__
from mqmigrate.cli import (
    assess,
    bench,
    bridge,
    cutover,
    demo,
    doctor,
    plan,
    playbook,
    provision,
    sandbox,
    verify,
)
from mqmigrate.cli.output import err_console
from mqmigrate.errors import ExitCode, MqMigrateError

app = typer.Typer(
    name="mqmigrate",
    help="Move RabbitMQ, SQS and AMQP 1.0 queue workloads onto Kafka share groups (KIP-932).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(sandbox.app, name="sandbox")
app.command("doctor")(doctor.doctor)
app.command("assess")(assess.assess)
app.command("inventory")(assess.inventory)
app.command("plan")(plan.plan)
app.add_typer(playbook.app, name="playbook")
app.command("provision")(provision.provision)
app.command("verify")(verify.verify)
app.add_typer(cutover.app, name="cutover")
app.command("bridge")(bridge.bridge)
app.command("bench")(bench.bench)
app.command("demo")(demo.demo)


def _version(value: bool) -> None:
    if value:
        print(f"mqmigrate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Move RabbitMQ, SQS and AMQP 1.0 queue workloads onto Kafka share groups (KIP-932).

    Exit codes: 0 success, 1 a negative answer (findings, not ready, mismatch), 2 usage,
    configuration or connection error, 130 interrupted.
    """


def _click_errors() -> tuple[type[Exception], ...]:
    # typer >= 0.29 vendors its own click (typer._click); older ones use the click package
    errors: list[type[Exception]] = [click.exceptions.ClickException]
    try:
        from typer._click.exceptions import ClickException as VendoredClickException
    except ImportError:
        pass
    else:
        errors.append(VendoredClickException)
    return tuple(errors)


_CLICK_ERRORS = _click_errors()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: the single error boundary."""
    try:
        result = app(args=argv, standalone_mode=False)
    except MqMigrateError as exc:
        err_console.print(
            f"[bold red]Error:[/] {exc.one_line()}", markup=True, highlight=False, soft_wrap=True
        )
        return int(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        return int(ExitCode.INTERRUPTED)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        err_console.print("Aborted.")
        return int(ExitCode.INTERRUPTED)
    except _CLICK_ERRORS as exc:
        ctx = getattr(exc, "ctx", None)
        where = f" — see '{ctx.command_path} --help'" if ctx is not None else ""
        err_console.print(
            f"[bold red]Error:[/] {exc.format_message()}{where}",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
        return int(ExitCode.USAGE)
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if os.environ.get("MQMIGRATE_DEBUG"):
            raise
        err_console.print(
            f"[bold red]Error:[/] unexpected {type(exc).__name__}: {exc} — this is a bug in "
            "mqmigrate; re-run with MQMIGRATE_DEBUG=1 for the traceback and report it",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
        return int(ExitCode.USAGE)
    return int(result or 0)


def run() -> None:
    sys.exit(main())
