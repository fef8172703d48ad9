#!/usr/bin/env bash
# CI: build the wheel, install it WITHOUT extras into a clean virtual environment (no dev
# dependencies that could hide an undeclared import), and run the offline commands from it:
# --help, assess on an export file, plan, playbook validate.  Fails on any exit code other
# than the documented one.  Uses pip's cache, so it takes seconds when the cache is warm.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

"$python" -m venv "$work/venv"
pip="$work/venv/bin/pip"
"$pip" wheel -q --no-deps -w "$work/dist" .
"$pip" install -q "$work"/dist/mqmigrate-*.whl
mq="$work/venv/bin/mqmigrate"

# from an empty directory: nothing of the checkout can be imported by accident
cd "$work"
repo=$OLDPWD
export=$repo/tests/data/estates/neicnordic__sensitive-data-archive__rabbitmq__definitions.json

"$mq" --help >/dev/null
"$mq" --version
for command in doctor assess plan provision verify bridge bench "playbook validate" \
               "cutover run"; do
    # shellcheck disable=SC2086
    "$mq" $command --help >/dev/null
done
set +e
"$mq" assess "$export" --format json >"$work/assessment.json"
code=$?
set -e
# 0 or 1 (findings at or above --fail-on) are answers; anything else is a failure
[ "$code" -le 1 ] || { echo "wheel-check: assess exited $code" >&2; exit 1; }
"$mq" plan --from "$work/assessment.json" --out "$work/playbooks" >/dev/null
"$mq" playbook validate "$work"/playbooks/*.yaml "$repo"/playbooks/*.yaml >/dev/null 2>"$work/validate.err" \
    || { cat "$work/validate.err" >&2; exit 1; }
echo "wheel-check: wheel installed without extras runs the offline commands" \
     "($(ls "$work"/playbooks/*.yaml | wc -l) playbooks planned) in $(( $(date +%s) - start ))s"
