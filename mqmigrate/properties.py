"""Java ``.properties`` syntax, the format of Kafka client files and of ``${file:PATH:KEY}``.

Kept apart from the Kafka configuration so that :mod:`mqmigrate.secrets` (which reads a key of
such a file) and :mod:`mqmigrate.kafka.config` both build on it without importing each other.
"""

from __future__ import annotations

import re

from mqmigrate.errors import ConfigError

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def parse_properties(text: str, *, origin: str = "properties") -> dict[str, str]:
    """Java ``.properties`` / librdkafka config text → dict.

    ``key=value``, ``key: value`` or ``key value``; ``#`` and ``!`` start comment lines; a
    line ending in an odd number of backslashes continues on the next; ``\\t \\n \\r \\f
    \\uXXXX`` and ``\\<char>`` are escapes as in Java, except that a backslash before a
    character with no escape meaning is kept (so ``C:\\certs\\ca.pem`` survives).  Trailing
    whitespace of a value is dropped.  A line that is only a key (no separator and no value)
    is an error naming the line, never its content.
    """
    result: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index].lstrip()
        index += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line) and index < len(lines):
            line = line[:-1] + lines[index].lstrip()
            index += 1
        if _continues(line):
            line = line[:-1]
        key, value, separated = _split_key_value(line)
        if not key:
            raise ConfigError(f"{origin}:{number}: a property needs a key before '='")
        if not separated and not value:
            raise ConfigError(
                f"{origin}:{number}: '{_unescape(key)[:60]}' has no value", hint="write key=value"
            )
        result[_unescape(key)] = _unescape(value).rstrip()
    return result


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split_key_value(line: str) -> tuple[str, str, bool]:
    """(raw key, raw value, whether an explicit = or : separated them)."""
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\":
            i += 2
            continue
        if char in "=:" or char.isspace():
            break
        i += 1
    key = line[:i]
    rest = line[i:].lstrip(" \t\f")
    separated = False
    if rest[:1] in ("=", ":"):
        separated = True
        rest = rest[1:].lstrip(" \t\f")
    elif i < len(line):
        separated = True  # whitespace separates key and value in Java properties
    return key, rest, separated


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\" or i + 1 >= len(text):
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6] or ""):
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
        elif nxt in "\\=: #!":
            out.append(nxt)
            i += 2
        else:
            out.append(char)  # a Windows path's backslash, kept
            i += 1
    return "".join(out)
