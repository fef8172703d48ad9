"""Reading input files safely: a size cap, strict UTF-8, parse errors with file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mqmigrate.errors import ConfigError

#: Real exports are kilobytes to a few megabytes; a bigger file is almost surely the wrong file
#: (a message dump, a log) and would only make the parsers slow.
MAX_INPUT_BYTES = 16 * 1024 * 1024


def read_text(path: Path) -> str:
    """The file's text, or :class:`ConfigError` naming the file (missing, too big, not UTF-8)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file", hint="check the SOURCE path or URI") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    if size > MAX_INPUT_BYTES:
        raise ConfigError(
            f"{path}: {size / 1_048_576:.1f} MiB is over the {MAX_INPUT_BYTES // 1_048_576} MiB "
            "input limit",
            hint="pass a definitions export, IaC file or inventory dump, not a data file",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})") from exc


def parse_json(path: Path, text: str) -> Any:
    """JSON from ``text``; a syntax error becomes ``ConfigError`` with file:line:column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: invalid JSON: nested too deeply") from exc


def expect(value: Any, kind: type | tuple[type, ...], where: str, path: Path) -> Any:
    """``value`` if it is of ``kind``, else a ``ConfigError`` naming the file and the path in it."""
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        ok = False
    else:
        ok = isinstance(value, kind)
    if not ok:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        json_names = {
            "dict": "object",
            "list": "array",
            "str": "string",
            "int": "integer",
            "float": "number",
            "bool": "boolean",
        }
        for py, js in json_names.items():
            names = names.replace(py, js)
        raise ConfigError(f"{path}: {where}: expected {names}, got {type(value).__name__}")
    return value
