"""The CLI's error boundary and option parsing, in-process."""

from __future__ import annotations

import pytest

from mqmigrate.cli import main
from mqmigrate.errors import ConfigError, ExitCode, UsageError
from mqmigrate.sandbox.manager import parse_ports


def test_help_lists_only_real_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "sandbox" in out and "doctor" in out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("mqmigrate ")


def test_unknown_command_is_usage_exit_2(capsys):
    assert main(["frobnicate"]) == ExitCode.USAGE
    assert "No such command" in capsys.readouterr().err


def test_one_line_error_joins_message_and_hint():
    error = ConfigError("playbook.yaml:3:1: bad indentation\n  here", hint="fix the file")
    assert error.one_line() == "playbook.yaml:3:1: bad indentation here — fix the file"
    assert error.exit_code == ExitCode.USAGE


def test_bad_source_uri_in_doctor_is_reported_not_raised(capsys):
    # the Kafka address is closed, so doctor stops with one line before any source check
    assert main(["doctor", "--kafka", "127.0.0.1:1", "--timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Error:")


def test_parse_ports():
    assert parse_ports(["kafka.broker=19092", "rabbitmq.amqp=5673"]) == {
        "kafka.broker": 19092,
        "rabbitmq.amqp": 5673,
    }
    for bad in ["kafka=1", "kafka.broker=x", "kafka.broker=70000", "nope.x=1"]:
        with pytest.raises(UsageError):
            parse_ports([bad])


def test_unknown_sandbox_service_suggests_the_closest(capsys):
    assert main(["sandbox", "status", "--service", "kafak"]) == 2
    assert "did you mean 'kafka'" in capsys.readouterr().err


def test_missing_option_is_a_usage_error_not_a_bug(capsys):
    assert main(["bench", "--kafka", "127.0.0.1:1"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "Missing option" in err and "bug" not in err


def test_unknown_option_is_a_usage_error_not_a_bug(capsys):
    assert main(["sandbox", "status", "--bogus"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "No such option" in err and "bug" not in err
