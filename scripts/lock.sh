#!/usr/bin/env bash
# Regenerate requirements/ci.lock: every package of mqmigrate and of its `dev` extra, pinned
# with their hashes, resolved for CPython 3.11 on x86-64 Linux (the CI machine).  pyproject.toml
# keeps version ranges for people who install the library; CI and the README's install use the
# lock (scripts/bootstrap.sh).  Run it after changing [project].dependencies or the extras;
# `./scripts/lock.sh --upgrade` moves every pin to the newest version the ranges allow.
set -euo pipefail
cd "$(dirname "$0")/.."

UV=$(command -v uv || true)
if [ -z "$UV" ]; then
  [ -x .venv/bin/python ] || { echo "Error: no .venv — run ./scripts/bootstrap.sh first" >&2; exit 2; }
  [ -x .venv/bin/uv ] || .venv/bin/python -m pip install -q uv
  UV=.venv/bin/uv
fi
mkdir -p requirements
# without --upgrade, pins already in the lock are kept where the ranges still allow them
"$UV" pip compile pyproject.toml --extra dev --generate-hashes --quiet \
  --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
  --custom-compile-command ./scripts/lock.sh \
  -o requirements/ci.lock "$@"
echo "lock: $(grep -c '^[A-Za-z0-9]' requirements/ci.lock) packages pinned with hashes in requirements/ci.lock"
