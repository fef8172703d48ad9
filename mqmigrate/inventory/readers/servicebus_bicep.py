"""Bicep files with ``Microsoft.ServiceBus/namespaces`` resources, read by a pragmatic parser
(not the Bicep language):

* ``resource SYM 'Microsoft.ServiceBus/namespaces/queues@VERSION' = { … }`` (also ``topics``,
  ``topics/subscriptions``, ``topics/subscriptions/rules``, any letter case), with ``parent:
  SYM`` or a flat ``name: 'ns/queue'``, child resources nested in their parent's body with
  relative types, ``existing`` resources as parents, ``if (…)`` conditions (read as if true)
  and ``[for …: { … }]`` loops (read once, the name keeps its expression);
* values: strings (``'…'`` and ``'''…'''``) with ``${…}`` interpolation, numbers, booleans,
  objects, arrays; a ``param`` with a literal default and a single-line ``var`` of a literal
  resolve, any other expression (a function call, a ternary, a module output, a param without
  default) is unknown: a setting is left unset, a name keeps it as a ``{…}`` placeholder.

Not read: modules (``module x './sb.bicep'``: assess the module file itself), parameter files
(``.bicepparam``), user-defined functions and types, multi-line ``var`` expressions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mqmigrate.errors import ConfigError
from mqmigrate.inventory.model import Source
from mqmigrate.inventory.readers.servicebus_common import (
    SbEntity,
    SbNamespace,
    SbRule,
    attach_rules,
    build_sources,
    entity_at,
)

_RESOURCE = re.compile(r"^\s*resource\s+([A-Za-z_]\w*)\s+'([^'@]+)@[^']*'\s*(existing\s*)?=", re.M)
_SB = re.compile(r"^\s*resource\s+\w+\s+'Microsoft\.ServiceBus/namespaces[^']*'", re.M | re.I)
_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r]+) | (?P<comment>//[^\n]*|/\*.*?\*/) | (?P<nl>\n)
  | (?P<mstr>'''.*?''') | (?P<str>'(?:\\.|[^'\\])*')
  | (?P<num>-?\d+(?:\.\d+)?) | (?P<ident>[A-Za-z_$][\w$]*)
  | (?P<punct>[{}\[\]():,=?!<>&|.@+\-*/%])
""",
    re.S | re.X,
)

NS_TYPE = "microsoft.servicebus/namespaces"
_KINDS = {
    NS_TYPE + "/queues": "queue",
    NS_TYPE + "/topics": "topic",
    NS_TYPE + "/topics/subscriptions": "subscription",
    NS_TYPE + "/topics/subscriptions/rules": "rule",
}
_DEPTH = {"queue": 2, "topic": 2, "subscription": 3, "rule": 4}


def looks_like(text: str) -> bool:
    """Bicep text declaring at least one Service Bus resource."""
    return _SB.search(text) is not None


def any_resource(text: str) -> bool:
    """Bicep text declaring any resource (for the "found only …" error)."""
    return _RESOURCE.search(text) is not None


class Unresolved(str):
    """An expression the file cannot resolve offline, shown as ``{expr}``."""


@dataclass
class _Res:
    symbol: str
    type: str
    body: dict
    existing: bool
    parent_symbol: str | None = None  # nesting parent
    loop: bool = False
    children: list["_Res"] = field(default_factory=list)


def _tokens(text: str, path: Path) -> list[tuple[str, str, int]]:
    out = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ConfigError(f"{path}:{line}: cannot read Bicep near {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        value = m.group(0)
        if kind not in ("ws", "comment"):
            out.append((kind, value, line))
        line += value.count("\n")
        pos = m.end()
    out.append(("eof", "", line))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], path: Path):
        self.t = tokens
        self.i = 0
        self.path = path
        self.resources: list[_Res] = []
        self.params: dict[str, Any] = {}
        self.vars: dict[str, Any] = {}

    def peek(self, k: int = 0) -> tuple[str, str, int]:
        return self.t[min(self.i + k, len(self.t) - 1)]

    def take(self) -> tuple[str, str, int]:
        tok = self.t[self.i]
        self.i = min(self.i + 1, len(self.t) - 1)
        return tok

    def error(self, what: str) -> ConfigError:
        return ConfigError(f"{self.path}:{self.peek()[2]}: cannot read Bicep: {what}")

    def skip_nl(self) -> None:
        while self.peek()[0] == "nl":
            self.take()

    # -------------------------------------------------------------- statements
    def file(self) -> None:
        while True:
            self.skip_nl()
            kind, value, _ = self.peek()
            if kind == "eof":
                return
            if kind == "punct" and value == "@":
                self.take()
                self.rest_of_line()  # decorators: @description('…')
                continue
            if kind == "ident" and value == "param":
                self.param()
            elif kind == "ident" and value == "var":
                self.take()
                name = self.take()[1]
                self.expect("=")
                self.vars[name] = self.value()
            elif kind == "ident" and value == "resource":
                self.resource(None)
            else:
                self.rest_of_line()

    def rest_of_line(self) -> None:
        depth = 0
        while True:
            kind, value, _ = self.peek()
            if kind == "eof" or (kind == "nl" and depth <= 0):
                return
            if kind == "punct" and value in "{[(":
                depth += 1
            elif kind == "punct" and value in "}])":
                depth -= 1
            self.take()

    def expect(self, value: str) -> None:
        kind, got, _ = self.take()
        if got != value:
            self.i -= 1
            raise self.error(f"expected {value!r}, got {got!r}")

    def param(self) -> None:
        self.take()
        name = self.take()[1]
        while self.peek()[0] == "ident" or self.peek()[1] in ("[", "]", "?", "."):
            self.take()  # the type: string, int, string[], object?, resource '…'
        if self.peek()[1] == "=":
            self.take()
            value = self.value()
            self.params[name] = (
                value if not isinstance(value, Unresolved) else Unresolved("{" + name + "}")
            )
        elif self.peek()[1] == "{":  # pre-0.3 syntax: param x string { default: 'v' }
            body = self.value()
            default = body.get("default") if isinstance(body, dict) else None
            self.params[name] = (
                default
                if default is not None and not isinstance(default, Unresolved)
                else Unresolved("{" + name + "}")
            )
        else:
            self.params[name] = Unresolved("{" + name + "}")
        self.rest_of_line()

    def resource(self, parent: _Res | None) -> _Res | None:
        self.take()
        symbol = self.take()[1]
        kind, rtype, _ = self.take()
        if kind != "str":
            self.rest_of_line()
            return None
        rtype = rtype[1:-1].split("@", 1)[0]
        existing = False
        if self.peek()[1] == "existing":
            self.take()
            existing = True
        self.expect("=")
        loop = False
        if self.peek()[1] == "if":
            self.take()
            self.balanced("(", ")")
        if self.peek()[1] == "[":
            loop = True
            self.take()
            while self.peek()[1] != ":" and self.peek()[0] != "eof":
                self.take()  # for item in items
            self.take()
            self.skip_nl()
            if self.peek()[1] == "if":
                self.take()
                self.balanced("(", ")")
        if self.peek()[1] != "{":
            raise self.error(f"resource {symbol}: expected an object body")
        res = _Res(
            symbol=symbol,
            type=rtype,
            body={},
            existing=existing,
            parent_symbol=parent.symbol if parent else None,
            loop=loop,
        )
        self.resources.append(res)
        res.body = self.obj(owner=res)
        if loop:
            self.skip_nl()
            if self.peek()[1] == "]":
                self.take()
        return res

    def balanced(self, open_: str, close: str) -> None:
        depth = 0
        while True:
            kind, value, _ = self.take()
            if kind == "eof":
                raise self.error(f"unbalanced {open_}")
            if value == open_:
                depth += 1
            elif value == close:
                depth -= 1
                if depth == 0:
                    return

    # -------------------------------------------------------------- values
    def obj(self, owner: _Res | None = None) -> dict:
        self.expect("{")
        out: dict[str, Any] = {}
        while True:
            self.skip_nl()
            kind, value, _ = self.peek()
            if kind == "punct" and value == "}":
                self.take()
                return out
            if kind == "eof":
                raise self.error("unclosed '{'")
            if kind == "punct" and value == "@":
                self.take()
                self.rest_of_line()
                continue
            if kind == "ident" and value == "resource" and self.peek(1)[0] == "ident":
                child = self.resource(owner)
                if owner is not None and child is not None:
                    owner.children.append(child)
                continue
            self.take()
            key = value[1:-1] if kind == "str" else value
            self.expect(":")
            out[key] = self.value()
            if self.peek()[1] == ",":
                self.take()

    def array(self) -> list:
        self.expect("[")
        out: list[Any] = []
        while True:
            self.skip_nl()
            if self.peek()[1] == "]":
                self.take()
                return out
            if self.peek()[0] == "eof":
                raise self.error("unclosed '['")
            out.append(self.value())
            if self.peek()[1] == ",":
                self.take()

    def value(self) -> Any:
        kind, value, _ = self.peek()
        if kind == "punct" and value == "{":
            return self.obj()
        if kind == "punct" and value == "[" and self.peek(1)[1] != "for":
            return self.array()
        # a single literal followed by the end of the value
        end = self.peek(1)
        simple = end[0] in ("nl", "eof") or end[1] in ("}", "]", ",")
        if simple:
            self.take()
            if kind == "mstr":
                return value[3:-3]
            if kind == "str":
                return self.interpolate(value[1:-1])
            if kind == "num":
                return float(value) if "." in value else int(value)
            if kind == "ident":
                if value in ("true", "false"):
                    return value == "true"
                if value == "null":
                    return None
                return self.ident(value)
        # an expression: keep its text, unresolved
        start = self.i
        depth = 0
        while True:
            k, v, _ = self.peek()
            if k == "eof" or (depth == 0 and (k == "nl" or v in ("}", "]", ","))):
                break
            if v in ("{", "[", "("):
                depth += 1
            elif v in ("}", "]", ")"):
                depth -= 1
            self.take()
        text = " ".join(t[1] for t in self.t[start : self.i])
        text = re.sub(r"\s*([().\[\]])\s*", r"\1", text)
        return Unresolved("{" + text + "}")

    def ident(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        if name in self.vars:
            return self.vars[name]
        return Unresolved("{" + name + "}")

    def interpolate(self, raw: str) -> str:
        text = raw.replace("\\'", "'").replace("\\\\", "\\")
        unresolved = False

        def sub(m: re.Match) -> str:
            nonlocal unresolved
            expr = m.group(1).strip()
            v = (
                self.ident(expr)
                if re.fullmatch(r"[A-Za-z_]\w*", expr)
                else Unresolved("{" + expr + "}")
            )
            if isinstance(v, Unresolved):
                unresolved = True
            return str(v)

        out = re.sub(r"\$\{([^}]*)\}", sub, text)
        return Unresolved(out) if unresolved else out


def _full(
    res: _Res, by_symbol: dict[str, _Res], seen: set[str] | None = None
) -> tuple[str, list[str]]:
    """(lower-case full type, name segments) following ``parent:`` and nesting."""
    seen = seen or set()
    name = res.body.get("name")
    name = str(name) if name is not None else "{" + res.symbol + ".name}"
    parent_sym = res.parent_symbol
    parent_ref = res.body.get("parent")
    if isinstance(parent_ref, Unresolved):
        sym = str(parent_ref).strip("{}")
        if sym in by_symbol:
            parent_sym = sym
    rtype = res.type.lower()
    if parent_sym and parent_sym in by_symbol and parent_sym not in seen:
        ptype, pnames = _full(by_symbol[parent_sym], by_symbol, seen | {res.symbol})
        if not rtype.startswith("microsoft."):
            rtype = f"{ptype}/{rtype}"
        return rtype, pnames + [name.split("/")[-1]]
    return rtype, name.split("/")


def read(path: Path, text: str) -> list[Source]:
    """Read a Bicep file into one :class:`Source` per Service Bus namespace."""
    parser = _Parser(_tokens(text, path), path)
    try:
        parser.file()
    except RecursionError as exc:
        raise ConfigError(f"{path}: cannot read Bicep: nested too deeply") from exc
    by_symbol = {r.symbol: r for r in parser.resources}
    notes: list[str] = []
    namespaces: dict[str | None, SbNamespace] = {}
    entities: dict[tuple[str, ...], SbEntity] = {}
    rules: list[tuple[list[str], SbRule]] = []
    for res in parser.resources:
        full_type, names = _full(res, by_symbol)
        if full_type == NS_TYPE:
            sku = res.body.get("sku")
            sku_name = sku.get("name") if isinstance(sku, dict) else None
            namespaces[names[0]] = SbNamespace(
                names[0],
                sku_name
                if isinstance(sku_name, str) and not isinstance(sku_name, Unresolved)
                else None,
            )
            continue
        kind = _KINDS.get(full_type)
        if kind is None or res.existing:
            continue
        if res.loop:
            notes.append(f"{res.symbol}: a [for …] loop; read once with its name expression")
        if len(names) != _DEPTH[kind]:
            notes.append(
                f"{res.symbol}: name {'/'.join(names)} does not match its type {res.type}; ignored"
            )
            continue
        raw = res.body.get("properties")
        # an expression the file cannot resolve is unknown (None), not the default
        props = {
            k: None if isinstance(v, Unresolved) else v
            for k, v in (raw.items() if isinstance(raw, dict) else [])
        }
        if kind == "rule":
            sql = props.get("sqlFilter") if isinstance(props.get("sqlFilter"), dict) else {}
            corr = props.get("correlationFilter")
            action = props.get("action") if isinstance(props.get("action"), dict) else {}
            ftype = props.get("filterType") or ("CorrelationFilter" if corr else "SqlFilter")
            expr = sql.get("sqlExpression")
            rules.append(
                (
                    names,
                    SbRule(
                        name=names[3],
                        sql=str(expr)
                        if expr is not None and ftype != "CorrelationFilter"
                        else None,
                        correlation=(
                            {k: v for k, v in corr.items() if v not in (None, "", {})}
                            if isinstance(corr, dict) and ftype == "CorrelationFilter"
                            else None
                        ),
                        action=action.get("sqlExpression"),
                    ),
                )
            )
            continue
        origin = {"bicep_symbol": res.symbol, "file": path.name}
        entities[tuple(names)] = entity_at(kind, names, props, origin)
    attach_rules(entities, rules, notes, container="file")
    return build_sources(
        list(entities.values()), namespaces, file_name=path.name, file_path=str(path), notes=notes
    )
