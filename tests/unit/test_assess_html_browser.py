"""The HTML report renders in headless Chromium with no console errors.

Needs the ``chromium`` system package (CI installs it); a missing browser fails the test
rather than skipping it, like a broker that is down.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.assess_helpers import ESTATES, FIXTURES, run_cli

pytestmark = pytest.mark.browser


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is not installed (apt-get install -y chromium)")


def _render(page: Path, tmp_path: Path) -> tuple[str, list[str], Path]:
    """(DOM after load, console lines, screenshot path)."""
    shot = tmp_path / f"{page.stem}.png"
    base = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    dom = subprocess.run(
        base + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    subprocess.run(
        base + [f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    return dom.stdout, console, shot


def test_console_detection_works(tmp_path: Path):
    # guard against a vacuous pass: a page with an error must be seen as such
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    _, console, _ = _render(bad, tmp_path)
    assert any("undefinedFunction" in line for line in console)


def test_html_report_renders_without_console_errors(tmp_path: Path, capsys):
    page = tmp_path / "report.html"
    code, _, err = run_cli(
        [
            "assess",
            str(FIXTURES / "rabbit_all_rules.json"),
            str(ESTATES / "storacha__piri__deploy__app__sqs.tf"),
            "-f",
            "html",
            "--out",
            str(page),
            "--fail-on",
            "never",
        ],
        capsys,
    )
    assert code == 0, err
    html = page.read_text()
    # self-contained: no scripts, stylesheets, images or fonts from anywhere
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", html)
    assert not re.search(r"""(src|href)\s*=""", html)

    dom, console, shot = _render(page, tmp_path)
    assert console == []
    assert '<p id="summary">20 workloads:' in dom
    assert dom.count('<tr class="finding">') == html.count('<tr class="finding">') > 40
    assert "<svg" in dom and dom.count("<rect") == 4  # one bar per verdict
    assert "ordering.fifo" in dom and "rpc.reply-to" in dom
    assert shot.stat().st_size > 10_000  # something was painted
