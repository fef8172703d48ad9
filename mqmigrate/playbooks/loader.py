"""Load a playbook file, reporting every problem as ``file:line:column: path: message``.

YAML is composed into a node tree first (nodes carry their line and column), then constructed
into plain data; a map from document path to mark lets each pydantic or graph error point at
the exact key or value.  All problems are collected before anything is raised.

Exit codes (documented in docs/playbooks.md and in ``playbook validate --help``):

* :class:`~mqmigrate.errors.PlaybookUnreadable` (exit 2): missing file, not UTF-8, too large,
  empty, malformed YAML;
* :class:`~mqmigrate.errors.PlaybookInvalid` (exit 1): valid YAML that is not a valid playbook
  (not a mapping, wrong types, unknown keys, out-of-range values, step-graph errors).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mqmigrate.errors import PlaybookInvalid, PlaybookUnreadable
from mqmigrate.playbooks import graph
from mqmigrate.playbooks.model import PHASES, Playbook
from mqmigrate.playbooks.paths import format_path

#: playbooks are reviewed by people; anything this large is a mistake (or an attack on the parser)
MAX_BYTES = 2 * 1024 * 1024
#: nesting deeper than this is not a playbook and would exhaust the recursion limit
MAX_DEPTH = 64


@dataclass(frozen=True)
class Problem:
    """One problem in a playbook file; ``line``/``column`` are 1-based."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``validate --format json``)."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class _Marks:
    """Document path → (line, column) of the value, and of the key for mapping entries."""

    def __init__(self) -> None:
        self.value: dict[tuple, tuple[int, int]] = {}
        self.key: dict[tuple, tuple[int, int]] = {}
        self.children: dict[tuple, list[Any]] = {}
        self.duplicates: list[tuple[tuple, tuple[int, int]]] = []

    def walk(self, node: yaml.Node, path: tuple = (), depth: int = 0) -> None:
        """Record the marks of ``node`` and everything under it."""
        if depth > MAX_DEPTH:
            raise PlaybookUnreadable(f"nesting deeper than {MAX_DEPTH} levels")
        self.value[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            keys: list[Any] = []
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is None:
                    continue
                child = path + (key,)
                if key in keys:
                    self.duplicates.append(
                        (child, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
                    )
                keys.append(key)
                self.key[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                self.walk(value_node, child, depth + 1)
            self.children[path] = keys
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.walk(item, path + (i,), depth + 1)

    def locate(self, loc: tuple, *, at_key: bool = False) -> tuple[tuple, tuple[int, int]]:
        """The longest prefix of ``loc`` present in the document and its mark.

        Parts that are not in the document (a missing field, a pydantic union tag) are skipped;
        ``at_key`` points at the key instead of its value (unknown keys, duplicate keys).
        """
        found: tuple = ()
        for part in loc:
            candidate = found + (part,)
            if candidate in self.value:
                found = candidate
            elif isinstance(part, int) and found + (str(part),) in self.value:
                found = found + (str(part),)
        if at_key and found in self.key:
            return found, self.key[found]
        return found, self.value.get(found, (1, 1))


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise PlaybookUnreadable(
                f"{path}: {size} bytes is larger than the {MAX_BYTES}-byte limit for a playbook"
            )
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise PlaybookUnreadable(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise PlaybookUnreadable(f"{path}: is a directory, not a playbook file") from exc
    except OSError as exc:
        raise PlaybookUnreadable(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PlaybookUnreadable(
            f"{path}:{line}:{column}: not UTF-8 (byte 0x{data[exc.start]:02x})",
            hint="save the playbook as UTF-8",
        ) from exc


def _compose(text: str, name: str) -> tuple[Any, _Marks]:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise PlaybookUnreadable(f"{name}: larger than the {MAX_BYTES}-byte limit for a playbook")
    if not text.strip():
        raise PlaybookUnreadable(
            f"{name}: empty file", hint="a playbook starts with 'apiVersion: mqmigrate/v1'"
        )
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise PlaybookUnreadable(f"{name}: empty document")
            marks = _Marks()
            marks.walk(node)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = " ".join(str(exc.problem or exc.context or "malformed YAML").split())
        raise PlaybookUnreadable(f"{where}: malformed YAML: {problem}") from exc
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses
        raise PlaybookUnreadable(f"{name}: malformed YAML: {' '.join(str(exc).split())}") from exc
    except RecursionError as exc:
        raise PlaybookUnreadable(f"{name}: nesting too deep to be a playbook") from exc
    except (ValueError, TypeError, OverflowError) as exc:
        # constructors of some scalars (timestamps, huge numbers) raise plain Python errors
        raise PlaybookUnreadable(f"{name}: malformed YAML value: {exc}") from exc
    return data, marks


def _model_fields(loc: tuple) -> list[str]:
    """Allowed keys at ``loc`` (for "did you mean"), following pydantic models by alias."""
    model: Any = Playbook
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        field = fields.get(part)
        if field is None:
            return []
        model = _inner_model(field.annotation)
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _message(error: dict, parent: tuple) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = error["loc"][-1]
        allowed = _model_fields(parent)
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = (
            f"; did you mean '{close[0]}'?"
            if close
            else (f"; allowed: {', '.join(allowed)}" if allowed else "")
        )
        return f"unknown key '{key}'{hint}"
    if kind == "missing":
        return f"missing required key '{error['loc'][-1]}'"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind in ("literal_error", "enum") and "input" in error:
        message += f" (got {error['input']!r})"
    return message


def problems_of(data: Any, marks: _Marks, name: str) -> tuple[Playbook | None, list[Problem]]:
    """Validate constructed YAML ``data``; every problem located with ``marks``."""
    problems: list[Problem] = []
    for path, (line, column) in marks.duplicates:
        problems.append(
            Problem(
                name,
                line,
                column,
                format_path(path),
                f"duplicate key '{path[-1]}' (YAML keeps only the last)",
            )
        )
    if not isinstance(data, dict):
        line, column = marks.value.get((), (1, 1))
        problems.append(
            Problem(
                name,
                line,
                column,
                "",
                f"a playbook is a mapping (apiVersion, kind, metadata, "
                f"workloads), not a {type(data).__name__}",
            )
        )
        return None, problems
    playbook: Playbook | None = None
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            extra = error["type"] == "extra_forbidden"
            found, (line, column) = marks.locate(loc, at_key=extra)
            parent = loc[:-1] if error["type"] in ("extra_forbidden", "missing") else loc
            path = format_path(loc if extra or error["type"] == "missing" else found or loc)
            problems.append(Problem(name, line, column, path, _message(error, parent)))
    problems.extend(_phase_order(marks, name))
    if playbook is not None:
        for issue in graph.check(playbook):
            _, (line, column) = marks.locate(issue.path)
            problems.append(Problem(name, line, column, format_path(issue.path), issue.message))
    problems.sort(key=lambda p: (p.line, p.column, p.message))
    return (playbook if not problems else None), problems


def _phase_order(marks: _Marks, name: str) -> list[Problem]:
    """Phases written out of their fixed order: they would run in the fixed order anyway, so a
    file that reads differently misleads its reviewers."""
    found = []
    for path, keys in marks.children.items():
        if len(path) != 3 or path[0] != "workloads" or path[2] != "phases":
            continue
        known = [k for k in keys if k in PHASES]
        for before, after in zip(known, known[1:]):
            if PHASES.index(after) < PHASES.index(before):
                line, column = marks.key[path + (after,)]
                found.append(
                    Problem(
                        name,
                        line,
                        column,
                        format_path(path + (after,)),
                        f"phase '{after}' is written after '{before}'; phases run "
                        f"in the fixed order {' → '.join(PHASES)}",
                    )
                )
    return found


def loads(text: str, name: str = "<playbook>") -> Playbook:
    """Parse and validate playbook ``text``; ``name`` is used in messages."""
    data, marks = _compose(text, name)
    playbook, problems = problems_of(data, marks, name)
    if problems:
        raise PlaybookInvalid(
            f"{problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            [str(p) for p in problems],
            hint="run 'mqmigrate playbook validate' to list every problem",
        )
    assert playbook is not None
    return playbook


def load(path: str | Path) -> Playbook:
    """Read, parse and validate the playbook at ``path``.

    Raises :class:`PlaybookUnreadable` (exit 2) or :class:`PlaybookInvalid` (exit 1) listing
    every problem.
    """
    path = Path(path)
    return loads(_read(path), str(path))


def check_file(path: str | Path) -> list[Problem]:
    """Every problem in the playbook at ``path`` (empty when valid).

    Unreadable files raise :class:`PlaybookUnreadable` rather than returning a problem, so the
    caller can tell exit 2 from exit 1.
    """
    path = Path(path)
    data, marks = _compose(_read(path), str(path))
    return problems_of(data, marks, str(path))[1]
