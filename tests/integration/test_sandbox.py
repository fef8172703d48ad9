"""``sandbox`` behaviour that users rely on: idempotent up, foreign processes left alone,
one-line errors for ports in use."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from mqmigrate.cli import main
from mqmigrate.sandbox.base import SandboxContext
from mqmigrate.sandbox.kafka import KafkaService

pytestmark = [pytest.mark.integration]


@pytest.mark.kafka
def test_up_on_a_running_service_is_a_no_op(kafka_service, capsys):
    pid_before = kafka_service.pid()
    assert main(["sandbox", "up", "--service", "kafka", "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)["services"][0]
    assert status["state"] == "running" and status["pid"] == pid_before
    assert status["version"].startswith("4.")


def test_port_in_use_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MQMIGRATE_SANDBOX_DIR", str(tmp_path / "state"))
    with socket.socket() as busy, socket.socket() as spare:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        spare.bind(("127.0.0.1", 0))
        port, other = busy.getsockname()[1], spare.getsockname()[1]
        spare.close()
        code = main(
            [
                "sandbox",
                "up",
                "-s",
                "kafka",
                "--port",
                f"kafka.broker={port}",
                "--port",
                f"kafka.controller={other}",
            ]
        )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert f"port {port} (kafka broker) is in use" in err and "--port kafka.broker=" in err


def test_status_and_down_ignore_a_process_the_sandbox_did_not_start(tmp_path):
    ctx = SandboxContext(state_dir=tmp_path, cache_dir=tmp_path / "cache")
    service = KafkaService(ctx)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # a stale pid file that now names somebody else's process
        service.pid_file.write_text(str(stranger.pid))
        assert service.pid() is None
        assert service.status().state == "stopped"
        assert service.stop() is False
        assert stranger.poll() is None  # still alive
    finally:
        stranger.kill()
        stranger.wait()


def test_unknown_port_key_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MQMIGRATE_SANDBOX_DIR", str(tmp_path))
    assert main(["sandbox", "up", "-s", "kafka", "--port", "kafka.brokr=1234"]) == 2
    assert "kafka has no port named brokr" in capsys.readouterr().err
