#!/usr/bin/env bash
# The package as a user gets it: build the wheel, install it without extras into a clean
# virtual environment, hide Java, and run the offline commands from it (help, version, assess
# of an export, plan, playbook validate). With a sandbox running, doctor also checks its Kafka
# over the plaintext and every secured listener (the share-group feature probe and round trip
# need no JDK). Any missing dependency, packaged file or Java call fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$PYTHON" -m pip wheel --no-deps -q -w "$work/dist" .
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/dist/mqmigrate-*.whl

# a PATH with the virtual environment and the shell tools only: no java, no mvn
mkdir -p "$work/bin"
for tool in bash env cat mkdir; do ln -s "$(command -v "$tool")" "$work/bin/$tool"; done
run() { env -i HOME="$work/home" PATH="$work/venv/bin:$work/bin" "$@"; }
run bash -c '! command -v java >/dev/null' || { echo "check_wheel: java is still on PATH" >&2; exit 1; }

cd "$work"
run mqmigrate --version
run mqmigrate --help >/dev/null
for command in doctor assess plan provision verify bridge bench "playbook validate" "cutover run"; do
  # shellcheck disable=SC2086
  run mqmigrate $command --help >/dev/null
done
export_file="$OLDPWD/tests/data/estates/FusionX-Tech__eagle-infrastructure__rabbitmq__definitions.json"
run mqmigrate assess "$export_file" --format json --out assessment.json >/dev/null || [ $? -eq 1 ]
run mqmigrate plan --from assessment.json --out playbooks >/dev/null
run mqmigrate playbook validate playbooks/*.yaml >/dev/null
echo "check_wheel: offline commands ran from the wheel without Java"

state=${MQMIGRATE_SANDBOX_DIR:-$HOME/.local/state/mqmigrate/sandbox}/kafka
if [ "${CHECK_WHEEL_KAFKA:-auto}" != "no" ] && [ -f "$state/client-scram.properties" ]; then
  run mqmigrate doctor --kafka 127.0.0.1:9092 >/dev/null
  for client in "$state"/client-*.properties; do
    run mqmigrate doctor --kafka-config "$client" >/dev/null
  done
  echo "check_wheel: doctor ready on the sandbox's plaintext and secured listeners without Java"
fi
