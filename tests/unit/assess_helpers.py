"""Helpers for the assessment tests."""

from __future__ import annotations

from pathlib import Path

from mqmigrate.assessment.engine import assess
from mqmigrate.inventory import read_estate

DATA = Path(__file__).parents[1] / "data"
FIXTURES = DATA / "fixtures"
ESTATES = DATA / "estates"


def fired(path: Path | str) -> dict:
    """queue → (verdict, sorted [(rule, severity)] of fired findings); None = source-wide."""
    return {
        w.queue: (
            w.verdict,
            sorted((f.rule, f.severity.value) for f in w.findings if f.status.value == "fired"),
        )
        for w in assess(read_estate([str(path)]))
    }


def workloads(path: Path | str) -> dict:
    return {w.queue: w for w in assess(read_estate([str(path)]))}


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``mqmigrate ARGS`` in-process; (exit code, stdout, stderr)."""
    from mqmigrate.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err
