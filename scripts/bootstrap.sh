#!/usr/bin/env bash
# Create .venv and install mqmigrate with its test dependencies (idempotent: skipped when
# pyproject.toml has not changed since the last successful install). pip's cache (~/.cache/pip)
# keeps a second install on the same machine offline-fast.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Error: Python 3.11+ is needed (found: $("$PYTHON" --version 2>&1)) — set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
# Headless Chromium renders the HTML report in a test (Debian package `chromium`).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing chromium (Debian package) for the HTML report test" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } ||
      { echo "Error: apt-get install chromium failed — install it by hand" >&2; exit 2; }
  else
    echo "Error: chromium is needed for the browser test — run: sudo apt-get install -y chromium" >&2
    exit 2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.mqmigrate-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing Python dependencies into .venv (log: .venv/install.log)" >&2
  if ! { .venv/bin/python -m pip install --upgrade pip &&
         .venv/bin/python -m pip install -e '.[dev]'; } > .venv/install.log 2>&1; then
    tail -n 20 .venv/install.log >&2
    echo "Error: pip install failed — see .venv/install.log" >&2
    exit 2
  fi
  echo "$want" > "$stamp"
fi
