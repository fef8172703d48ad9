"""Error families and exit codes.

Every failure the user can cause or meet (bad input, unreachable broker, missing
prerequisite) is raised as a subclass of :class:`MqMigrateError`.  The CLI has one error
boundary that prints ``Error: what happened — what to do`` on one line and exits with the
error's :class:`ExitCode`; no driver exception and no traceback reaches the user.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (docs/architecture.md, docs/cli.md)."""

    OK = 0
    #: the command worked and its answer is "no": findings at or above --fail-on, cluster not
    #: ready, verify mismatch, gate failed, provision drift.
    NEGATIVE = 1
    #: usage, configuration or connection error.
    USAGE = 2
    #: stopped by Ctrl-C / SIGINT after a graceful shutdown.
    INTERRUPTED = 130


class MqMigrateError(Exception):
    """Base of every error the tool reports to the user.

    ``transient`` marks errors worth retrying (a broker restarting, a timeout); terminal
    errors (bad credentials, malformed file) are not retried.
    """

    exit_code: ExitCode = ExitCode.USAGE
    transient: bool = False

    def __init__(self, message: str, *, hint: str | None = None, transient: bool | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if transient is not None:
            self.transient = transient

    def one_line(self) -> str:
        """``what happened — what to do`` on a single line."""
        text = " ".join(self.message.split())
        if self.hint:
            text += " — " + " ".join(self.hint.split())
        return text


class UsageError(MqMigrateError):
    """Bad arguments or options."""


class ConfigError(MqMigrateError):
    """A configuration, playbook or input file is unreadable or invalid."""


class WorkerError(MqMigrateError):
    """The share-group worker cannot run (bad group config, consumer could not be created)."""


class DualWriteError(MqMigrateError):
    """A dual-writer could not write a message where the mode and policy require it.

    ``written`` names the sides that did take the message (e.g. ``("source",)`` when the
    authoritative source write succeeded and the Kafka write failed in strict mode), so the
    caller knows exactly what state the message is in.
    """

    transient = True

    def __init__(self, message: str, *, written: tuple[str, ...] = (), hint: str | None = None):
        super().__init__(message, hint=hint)
        self.written = written


class PrerequisiteError(MqMigrateError):
    """Something the machine lacks: Java, root for apt, a free port."""


class ConnectionFailed(MqMigrateError):
    """A broker or endpoint could not be reached or refused our credentials."""

    transient = True


class AuthenticationFailed(ConnectionFailed):
    """The endpoint answered but rejected the credentials."""

    transient = False


class PublishRefused(MqMigrateError):
    """A broker refused a message a benchmark published (a nack, a rejected or released
    delivery, a failed delivery report) or did not confirm it in time; the run stops rather
    than count the message as sent."""


class SandboxError(MqMigrateError):
    """A sandbox service failed to install, start or answer."""


class PlaybookUnreadable(ConfigError):
    """A playbook file cannot be read or parsed as YAML (exit 2)."""


class PlaybookInvalid(ConfigError):
    """A playbook is valid YAML but not a valid playbook (exit 1).

    ``problems`` holds every problem found, each already formatted as
    ``file:line:column: path: message``; the one-line message names the first and the count.
    """

    exit_code = ExitCode.NEGATIVE

    def __init__(self, message: str, problems: list | None = None, *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = list(problems or [])


class LedgerError(ConfigError):
    """The verify ledger (what a bridge settled) is unreadable or malformed."""


class PlaybookStateError(ConfigError):
    """The playbook's state file (its applied steps) is unreadable, or a stamp would break
    the step graph."""


class ProvisionError(MqMigrateError):
    """Kafka refused a change provision asked for."""


class BridgeError(MqMigrateError):
    """The bridge cannot continue (source or Kafka side); nothing unsettled is lost."""


class SourceError(BridgeError):
    """A source broker failed: transient (connection dropped, broker restarting) or terminal
    (queue missing, access refused)."""


class SourceUnavailable(SourceError):
    """The source connection dropped or could not be made; worth a reconnect."""

    transient = True


class KafkaError(BridgeError):
    """Kafka refused or could not take a write, or is unreachable."""


class KafkaUnavailable(KafkaError):
    """Kafka cannot be reached (yet); worth retrying."""

    transient = True


class CutoverError(MqMigrateError):
    """``cutover`` cannot run a step (missing credentials, an action that is not available)."""


class GateFailed(CutoverError):
    """A phase's gates did not hold within the gate timeout (exit 1: the answer is "not yet")."""

    exit_code = ExitCode.NEGATIVE


class StepNotConfirmed(CutoverError):
    """A person declined a step, or a step needs a person and the run was non-interactive."""

    exit_code = ExitCode.NEGATIVE


class CutoverInterrupted(CutoverError):
    """SIGTERM / Ctrl-C: the run stopped cleanly after the current step (exit 130)."""

    exit_code = ExitCode.INTERRUPTED
