"""Error families and exit codes.

Every failure the user can cause or meet (bad input, unreachable broker, missing
prerequisite) is raised as a subclass of :class:`MqMigrateError`.  The CLI has one error
boundary that prints ``Error: what happened — what to do`` on one line and exits with the
error's :class:`ExitCode`; no driver exception and no traceback reaches the user.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (DESIGN.md §1)."""

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


class PrerequisiteError(MqMigrateError):
    """Something the machine lacks: Java, root for apt, a free port."""


class ConnectionFailed(MqMigrateError):
    """A broker or endpoint could not be reached or refused our credentials."""

    transient = True


class AuthenticationFailed(ConnectionFailed):
    """The endpoint answered but rejected the credentials."""

    transient = False


class SandboxError(MqMigrateError):
    """A sandbox service failed to install, start or answer."""


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
