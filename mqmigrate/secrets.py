"""Secrets by reference: ``${env:NAME}`` and ``${file:PATH}``, in one place for every setting.

A secret never needs to be typed on a command line (where ``ps`` shows it) or written into a
playbook: a source URI (``amqps://svc:${env:RABBIT_PW}@host/``) and a Kafka client properties
file (``sasl.password=${file:/run/secrets/kafka}``) hold a reference instead, replaced here by
the value of an environment variable or by a file's text (without its trailing newline, as
``echo secret > file`` writes it).  ``${file:PATH:KEY}`` (Kafka's FileConfigProvider form) is
the value of ``KEY`` in the properties file PATH.

A variable that is not set or a file that cannot be read is a :class:`ConfigError` naming the
setting and the reference, never a value.

>>> expand_references({"password": "${env:PW}"}, origin="doc", environ={"PW": "s3cret"})
{'password': 's3cret'}
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from mqmigrate.errors import ConfigError

#: ``${provider:argument}``; only ``env`` and ``file`` are known, any other is an error
REFERENCE = re.compile(r"\$\{(?P<provider>[A-Za-z][A-Za-z0-9_]*):(?P<arg>[^}]*)\}")


def has_reference(text: str) -> bool:
    """True when ``text`` holds at least one ``${provider:...}`` reference."""
    return REFERENCE.search(text) is not None


def resolve(
    provider: str,
    arg: str,
    *,
    key: str,
    origin: str,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The value of one reference found in setting ``key`` of ``origin`` (a file, a URI)."""
    env = os.environ if environ is None else environ
    if provider == "env":
        if arg not in env:
            raise ConfigError(
                f"{origin}: {key}: environment variable {arg} is not set",
                hint=f"export {arg}, or remove ${{env:{arg}}}",
            )
        return env[arg]
    if provider == "file":
        return _file_reference(arg, key=key, origin=origin, base_dir=base_dir)
    raise ConfigError(
        f"{origin}: {key}: unknown reference ${{{provider}:...}}",
        hint="use ${env:NAME} or ${file:PATH}",
    )


def expand(
    value: str,
    *,
    key: str,
    origin: str,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """``value`` with every reference replaced (see :func:`resolve`)."""
    return REFERENCE.sub(
        lambda m: resolve(
            m.group("provider"),
            m.group("arg"),
            key=key,
            origin=origin,
            base_dir=base_dir,
            environ=environ,
        ),
        value,
    )


def expand_references(
    properties: Mapping[str, str],
    *,
    origin: str,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Replace ``${env:NAME}`` and ``${file:PATH}`` in every value.

    Relative paths are relative to ``base_dir`` (e.g. the config file's directory).
    """
    return {
        key: expand(value, key=key, origin=origin, base_dir=base_dir, environ=environ)
        if isinstance(value, str)
        else value
        for key, value in properties.items()
    }


def _file_reference(arg: str, *, key: str, origin: str, base_dir: Path | None) -> str:
    def locate(text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() or base_dir is None else base_dir / path

    path = locate(arg)
    wanted: str | None = None
    if not path.is_file() and ":" in arg:
        head, _, tail = arg.rpartition(":")
        if locate(head).is_file():
            path, wanted = locate(head), tail
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"{origin}: {key}: cannot read ${{file:{arg}}}: {reason}") from None
    if wanted is None:
        return text.rstrip("\r\n")
    from mqmigrate.properties import parse_properties  # Java properties syntax

    values = parse_properties(text, origin=str(path))
    if wanted not in values:
        raise ConfigError(f"{origin}: {key}: {path} has no key {wanted!r}")
    return values[wanted]
