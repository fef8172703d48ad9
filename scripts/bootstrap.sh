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
