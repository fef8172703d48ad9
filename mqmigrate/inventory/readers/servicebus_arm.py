"""ARM templates (JSON) with ``Microsoft.ServiceBus/namespaces`` and its ``queues``, ``topics``,
``topics/subscriptions`` and ``topics/subscriptions/rules``, nested (child ``resources`` with
relative types and names) or flat (``"name": "ns/topic/sub"``), in any letter case.

Template expressions are evaluated offline where they can be: string literals,
``parameters('x')`` with a ``defaultValue``, ``variables('x')``, ``concat(…)``, ``format(…)``,
``toLower``/``toUpper``.  Anything else (``resourceGroup()``, a parameter without default,
``copyIndex()``) stays unknown: a name keeps it as a ``{…}`` placeholder, a setting is left
unset.  Parameter files (``azuredeploy.parameters.json``) are not read.
"""

from __future__ import annotations

import re
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

NS_TYPE = "microsoft.servicebus/namespaces"
_KINDS = {
    NS_TYPE + "/queues": "queue",
    NS_TYPE + "/topics": "topic",
    NS_TYPE + "/topics/subscriptions": "subscription",
    NS_TYPE + "/topics/subscriptions/rules": "rule",
}


def looks_like(data: Any) -> bool:
    """A deployment template: ``$schema`` naming one, or a ``resources`` array of typed
    resources with ``apiVersion``."""
    if not isinstance(data, dict):
        return False
    schema = data.get("$schema")
    if isinstance(schema, str) and "deploymentTemplate" in schema:
        return True
    res = data.get("resources")
    return (
        isinstance(res, list)
        and bool(res)
        and all(isinstance(r, dict) and "type" in r and "apiVersion" in r for r in res)
    )


class _Unresolved(str):
    """A string that stands for an expression the template cannot resolve offline."""


class _Evaluator:
    def __init__(self, data: dict):
        self.params = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
        self.variables = data.get("variables") if isinstance(data.get("variables"), dict) else {}
        self._depth = 0

    def value(self, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, str) and v.startswith("[") and not v.startswith("[[") and v.endswith("]"):
            try:
                out, rest = self._expr(v[1:-1].strip())
            except (ValueError, IndexError, RecursionError):
                return _Unresolved("{" + v[1:-1].strip() + "}")
            return out if not rest.strip() else _Unresolved("{" + v[1:-1].strip() + "}")
        if isinstance(v, str) and v.startswith("[["):
            return v[1:]
        return v

    # a small recursive-descent reader of ARM template expressions
    def _expr(self, s: str) -> tuple[Any, str]:
        s = s.lstrip()
        if s.startswith("'"):
            out, i = [], 1
            while True:
                j = s.index("'", i)
                if s[j + 1 : j + 2] == "'":
                    out.append(s[i:j] + "'")
                    i = j + 2
                    continue
                out.append(s[i:j])
                return "".join(out), s[j + 1 :]
        m = re.match(r"-?\d+", s)
        if m:
            return int(m.group(0)), s[m.end() :]
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", s)
        if not m:
            raise ValueError(s)
        fn, rest = m.group(1).lower(), s[m.end() :]
        args: list[Any] = []
        rest = rest.lstrip()
        while not rest.startswith(")"):
            a, rest = self._expr(rest)
            args.append(a)
            rest = rest.lstrip()
            if rest.startswith(","):
                rest = rest[1:]
        rest = rest[1:]
        # property access after a call: resourceGroup().location, parameters('x').name
        acc = re.match(r"((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]]*\])+)", rest)
        suffix = ""
        if acc:
            suffix, rest = acc.group(1), rest[acc.end() :]
        return self._call(fn, args, suffix), rest

    def _call(self, fn: str, args: list[Any], suffix: str) -> Any:
        if fn == "parameters" and args and isinstance(args[0], str):
            p = self.params.get(args[0])
            if isinstance(p, dict) and "defaultValue" in p and not suffix:
                return self.value(p["defaultValue"])
            return _Unresolved("{" + args[0] + "}")
        if fn == "variables" and args and isinstance(args[0], str) and not suffix:
            self._depth += 1
            try:
                if self._depth > 20 or args[0] not in self.variables:
                    return _Unresolved("{" + args[0] + "}")
                return self.value(self.variables[args[0]])
            finally:
                self._depth -= 1
        if fn == "concat" and all(isinstance(a, str) for a in args):
            return self._join("".join(args), args)
        if fn == "format" and args and isinstance(args[0], str):
            text = re.sub(
                r"\{(\d+)\}",
                lambda m: (
                    str(args[int(m.group(1)) + 1])
                    if int(m.group(1)) + 1 < len(args)
                    else m.group(0)
                ),
                args[0],
            )
            return self._join(text, args)
        if fn in ("tolower", "toupper") and args and isinstance(args[0], str):
            if isinstance(args[0], _Unresolved):
                return args[0]
            return args[0].lower() if fn == "tolower" else args[0].upper()
        return _Unresolved("{" + fn + "()" + suffix + "}")

    @staticmethod
    def _join(text: str, parts: list[Any]) -> str:
        return _Unresolved(text) if any(isinstance(p, _Unresolved) for p in parts) else text


def _walk(
    resources: Any,
    parent_type: str,
    parent_names: list[str],
    ev: _Evaluator,
    out: list[tuple[str, list[str], dict]],
    path: Path,
) -> None:
    if not isinstance(resources, list):
        return
    for i, r in enumerate(resources):
        if not isinstance(r, dict):
            raise ConfigError(f"{path}: resources[{i}]: expected object, got {type(r).__name__}")
        rtype = str(r.get("type", ""))
        name = ev.value(r.get("name"))
        name = name if isinstance(name, str) else "{name}"
        if "/" in rtype and rtype.lower().startswith("microsoft."):
            full_type, names = rtype.lower(), name.split("/")
        else:
            full_type = f"{parent_type}/{rtype.lower()}" if parent_type else rtype.lower()
            names = parent_names + name.split("/")
        # a "name" of a nested child may repeat its parent's path ("ns/q"): keep the depth right
        depth = full_type.count("/")
        if len(names) > depth and parent_names:
            names = parent_names + names[len(names) - depth + len(parent_names) :]
        out.append((full_type, names, r))
        _walk(r.get("resources"), full_type, names, ev, out, path)
        props = r.get("properties")
        if (
            full_type == "microsoft.resources/deployments"
            and isinstance(props, dict)
            and isinstance(props.get("template"), dict)
        ):
            inner = props["template"]
            _walk(inner.get("resources"), "", [], _Evaluator(inner), out, path)


def _props(r: dict, ev: _Evaluator) -> dict[str, Any]:
    raw = r.get("properties") or {}
    props = ev.value(raw) if isinstance(raw, dict) else {}
    # an expression the template cannot resolve is unknown (None), not the default
    return {k: None if isinstance(v, _Unresolved) else v for k, v in props.items()}


def read(path: Path, data: dict) -> list[Source]:
    """Read a parsed ARM template into one :class:`Source` per Service Bus namespace."""
    ev = _Evaluator(data)
    found: list[tuple[str, list[str], dict]] = []
    _walk(data.get("resources"), "", [], ev, found, path)
    notes: list[str] = []
    namespaces: dict[str | None, SbNamespace] = {}
    entities: dict[tuple[str, ...], SbEntity] = {}
    rules: list[tuple[list[str], SbRule]] = []
    for full_type, names, r in found:
        if full_type == NS_TYPE:
            sku = (
                ev.value((r.get("sku") or {}).get("name"))
                if isinstance(r.get("sku"), dict)
                else None
            )
            namespaces[names[0]] = SbNamespace(
                names[0], sku if isinstance(sku, str) and not isinstance(sku, _Unresolved) else None
            )
            continue
        kind = _KINDS.get(full_type)
        if kind is None:
            continue
        if "copy" in r:
            notes.append(f"{'/'.join(names)}: a copy loop; read once with its name expression")
        expected = {"queue": 2, "topic": 2, "subscription": 3, "rule": 4}[kind]
        if len(names) != expected:
            notes.append(f"{'/'.join(names)}: name does not match its type {full_type}; ignored")
            continue
        props = _props(r, ev)
        if kind == "rule":
            filt = props.get("sqlFilter") or props.get("filter") or {}
            corr = props.get("correlationFilter")
            action = props.get("action") or {}
            ftype = str(props.get("filterType") or ("CorrelationFilter" if corr else "SqlFilter"))
            sql = filt.get("sqlExpression") if isinstance(filt, dict) else None
            rule = SbRule(
                name=names[3],
                sql=str(sql) if sql is not None and ftype != "CorrelationFilter" else None,
                correlation=(
                    {k: v for k, v in corr.items() if v not in (None, "", {})}
                    if isinstance(corr, dict) and ftype == "CorrelationFilter"
                    else None
                ),
                action=action.get("sqlExpression") if isinstance(action, dict) else None,
            )
            rules.append((names, rule))
            continue
        origin = {"arm_resource": "/".join(names), "file": path.name}
        entities[tuple(names)] = entity_at(kind, names, props, origin)
    attach_rules(entities, rules, notes, container="template")
    return build_sources(
        list(entities.values()), namespaces, file_name=path.name, file_path=str(path), notes=notes
    )


def resource_types(data: dict) -> list[str]:
    """Every resource type of the template (for the "found only …" error)."""
    found: list[tuple[str, list[str], dict]] = []
    try:
        _walk(data.get("resources"), "", [], _Evaluator(data), found, Path("template"))
    except ConfigError:
        return []
    return [str(r.get("type")) for _, _, r in found]
