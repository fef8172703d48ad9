"""Secrets by reference: ``${env:NAME}`` and ``${file:PATH}`` placeholders.

A secret never needs to be typed on a command line (where ``ps`` shows it) or written into a
playbook: a source URI, a Kafka properties file or any other setting may hold a placeholder
that is replaced by the value of an environment variable or by a file's content (without its
trailing newline, as ``echo secret > file`` writes it).  :func:`expand` is the one place that
does this for every setting that can hold a secret.

>>> import os; os.environ["MQM_DOCTEST_PW"] = "s3cret"
>>> expand("${env:MQM_DOCTEST_PW}")
's3cret'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from mqmigrate.errors import ConfigError

#: ``${env:NAME}`` or ``${file:PATH}``; PATH may hold anything but ``}``
PLACEHOLDER = re.compile(r"\$\{(env|file):([^}]*)\}")


def has_reference(text: str) -> bool:
    """True when ``text`` holds at least one ``${env:...}`` / ``${file:...}`` placeholder."""
    return PLACEHOLDER.search(text) is not None


def resolve(source: str, name: str, *, what: str = "a secret",
            environ: Mapping[str, str] | None = None) -> str:
    """The value of one reference: environment variable ``name`` (``source="env"``) or the
    content of file ``name`` (``source="file"``).  A missing variable or an unreadable file is a
    :class:`ConfigError` naming the variable or the path, never a value."""
    if not name:
        raise ConfigError(f"empty ${{{source}:}} reference in {what}",
                          hint="write ${env:NAME} or ${file:PATH}")
    if source == "env":
        env = os.environ if environ is None else environ
        value = env.get(name)
        if value is None:
            raise ConfigError(f"environment variable {name} is not set (needed for {what})",
                              hint=f"export {name} before running the command")
        return value
    if source == "file":
        path = Path(name).expanduser()
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except FileNotFoundError:
            raise ConfigError(f"secret file {path} does not exist (needed for {what})") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (
                "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else type(exc).__name__)
            raise ConfigError(f"cannot read secret file {path} ({reason}; needed for {what})") \
                from None
    raise ConfigError(f"unknown secret reference ${{{source}:...}} in {what}",
                      hint="use ${env:NAME} or ${file:PATH}")


def expand(text: str, *, what: str = "a setting",
           environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every ``${env:NAME}`` / ``${file:PATH}`` replaced by its value."""
    return PLACEHOLDER.sub(
        lambda m: resolve(m.group(1), m.group(2), what=what, environ=environ), text)
