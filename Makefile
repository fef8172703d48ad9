# The two commands of the README's Quick start, and the helpers they use.
# `make demo` runs the demo (assess, plan, provision, bridge, verify, cut over) on the
# local sandbox, then checks every endpoint with doctor; `make test` runs the whole suite.
# Both install what is missing (Python deps into .venv, brokers into ~/.cache/mqmigrate).

VENV := .venv
MQ := $(VENV)/bin/mqmigrate
PYTEST_ARGS ?=

.PHONY: demo test unit check lock wheel-check install sandbox-up sandbox-down clean

install:
	./scripts/bootstrap.sh

sandbox-up: install
	$(MQ) sandbox up

sandbox-down:
	$(MQ) sandbox down

demo: sandbox-up
	$(MQ) demo
	$(MQ) doctor --sandbox

# two workers (pytest-xdist); tests/conftest.py groups what must share one (docs/testing.md)
test: sandbox-up
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

unit: install
	$(VENV)/bin/python -m pytest tests/unit $(PYTEST_ARGS)

# ruff, mypy and import-linter as configured in pyproject.toml (docs/testing.md)
check: install
	./scripts/check.sh

# re-pin requirements/ci.lock after a dependency change in pyproject.toml
lock:
	./scripts/lock.sh

# the wheel installed without extras into a clean environment with no Java on PATH: the
# offline commands, and doctor on every sandbox Kafka listener
wheel-check: sandbox-up
	PYTHON=$(VENV)/bin/python ./scripts/check_wheel.sh

clean: sandbox-down
	rm -rf $(VENV)
