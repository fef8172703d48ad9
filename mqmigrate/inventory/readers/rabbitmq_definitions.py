"""RabbitMQ definitions export (``rabbitmqctl export_definitions``, ``GET /api/definitions``,
a vhost-only export, or a hand-written partial file).

Real files differ from the docs: ``arguments`` may be missing, extra keys (``description``)
appear, users carry plaintext ``password`` or ``password_hash``.  Users are only counted; no
user field other than the name in ``permissions`` is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mqmigrate.errors import ConfigError
from mqmigrate.inventory.model import Binding, Exchange, Permission, Policy, Queue, Source
from mqmigrate.inventory.readers._files import expect
from mqmigrate.inventory.readers.rabbitmq_common import (
    exchange_from,
    flatten,
    normalize_queue,
    policy_from,
)

#: top-level keys that identify a definitions file
MARKER_KEYS = {
    "rabbit_version",
    "rabbitmq_version",
    "queues",
    "exchanges",
    "bindings",
    "vhosts",
    "users",
    "policies",
    "permissions",
}


def looks_like(data: Any) -> bool:
    """True for a JSON object with at least one definitions key."""
    return isinstance(data, dict) and bool(MARKER_KEYS & set(data))


#: field types of each section, checked before anything is read (wrong types are a
#: ConfigError naming the file and the element, never a crash further in)
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "queues": {
        "name": (str,),
        "vhost": (str,),
        "durable": (bool,),
        "auto_delete": (bool,),
        "exclusive": (bool,),
        "arguments": (dict,),
        "type": (str,),
    },
    "exchanges": {
        "name": (str,),
        "vhost": (str,),
        "type": (str,),
        "durable": (bool,),
        "auto_delete": (bool,),
        "internal": (bool,),
        "arguments": (dict,),
    },
    "bindings": {
        "source": (str,),
        "destination": (str,),
        "destination_type": (str,),
        "routing_key": (str,),
        "vhost": (str,),
        "arguments": (dict,),
    },
    "policies": {
        "name": (str,),
        "pattern": (str,),
        "apply-to": (str,),
        "priority": (int,),
        "definition": (dict,),
        "vhost": (str,),
    },
    "operator_policies": {
        "name": (str,),
        "pattern": (str,),
        "apply-to": (str,),
        "priority": (int,),
        "definition": (dict,),
        "vhost": (str,),
    },
    "permissions": {
        "user": (str,),
        "vhost": (str,),
        "configure": (str,),
        "write": (str,),
        "read": (str,),
    },
    "vhosts": {"name": (str,)},
    "parameters": {"component": (str,), "name": (str,), "vhost": (str,)},
}


def _objects(data: dict, key: str, path: Path) -> list[dict]:
    items = data.get(key)
    if items is None:
        return []
    expect(items, list, key, path)
    fields = _FIELDS.get(key, {})
    for i, item in enumerate(items):
        expect(item, dict, f"{key}[{i}]", path)
        for field, kinds in fields.items():
            if item.get(field) is not None:
                expect(
                    item[field], kinds if len(kinds) > 1 else kinds[0], f"{key}[{i}].{field}", path
                )
    return items


def _need_str(obj: dict, key: str, where: str, path: Path) -> str:
    if key not in obj:
        raise ConfigError(f'{path}: {where}: missing "{key}"')
    return expect(obj[key], str, f"{where}.{key}", path)


def read(path: Path, data: dict) -> Source:
    """Read a parsed definitions document into a :class:`Source`."""
    version = (
        data.get("rabbitmq_version") or data.get("rabbit_version") or data.get("product_version")
    )
    version = str(version) if version is not None else None
    policies = _policies(data, path)
    queues = _queues(data, path, policies, version)
    exchanges = _exchanges(data, path, policies)
    bindings = _bindings(data, path)
    permissions = _permissions(data, path)

    vhosts = [
        str(v.get("name")) for v in _objects(data, "vhosts", path) if v.get("name") is not None
    ]
    for item in queues + exchanges:
        if item.vhost and item.vhost not in vhosts:
            vhosts.append(item.vhost)

    parameters: dict[str, int] = {}
    for raw in _objects(data, "parameters", path):
        component = str(raw.get("component", "unknown"))
        parameters[component] = parameters.get(component, 0) + 1

    users = data.get("users")
    users_count = len(users) if isinstance(users, list) else None

    notes = []
    if "queues" not in data:
        notes.append("partial definitions: no queues section")
    return Source(
        kind="rabbitmq",
        name=path.name,
        endpoint=str(path),
        version=version,
        vhosts=vhosts,
        queues=queues,
        exchanges=exchanges,
        bindings=bindings,
        edges=flatten(exchanges, bindings),
        policies=policies,
        permissions=permissions,
        users_count=users_count,
        parameters=parameters,
        live=False,
        notes=notes,
    )


def _policies(data: dict, path: Path) -> list[Policy]:
    """The policies, then the operator policies."""
    policies = []
    for key, operator in (("policies", False), ("operator_policies", True)):
        for i, raw in enumerate(_objects(data, key, path)):
            where = f"{key}[{i}]"
            _need_str(raw, "name", where, path)
            _need_str(raw, "pattern", where, path)
            if "definition" in raw:
                expect(raw["definition"], dict, f"{where}.definition", path)
            if "priority" in raw:
                expect(raw["priority"], int, f"{where}.priority", path)
            policies.append(policy_from(raw, operator=operator))
    return policies


def _queues(data: dict, path: Path, policies: list[Policy], version: str | None) -> list[Queue]:
    queues = []
    for i, raw in enumerate(_objects(data, "queues", path)):
        _need_str(raw, "name", f"queues[{i}]", path)
        if raw.get("arguments") is not None:
            expect(raw["arguments"], dict, f"queues[{i}].arguments", path)
        try:
            queues.append(normalize_queue(raw, policies=policies, rabbit_version=version))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(
                f"{path}: queues[{i}] ({raw['name']}): "
                f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
            ) from exc
    return queues


def _exchanges(data: dict, path: Path, policies: list[Policy]) -> list[Exchange]:
    exchanges = []
    for i, raw in enumerate(_objects(data, "exchanges", path)):
        _need_str(raw, "name", f"exchanges[{i}]", path)
        if raw.get("arguments") is not None:
            expect(raw["arguments"], dict, f"exchanges[{i}].arguments", path)
        exchanges.append(exchange_from(raw, policies))
    return exchanges


def _bindings(data: dict, path: Path) -> list[Binding]:
    bindings = []
    for i, raw in enumerate(_objects(data, "bindings", path)):
        where = f"bindings[{i}]"
        source = _need_str(raw, "source", where, path)
        dest = _need_str(raw, "destination", where, path)
        dtype = raw.get("destination_type", "queue")
        if dtype not in ("queue", "exchange"):
            raise ConfigError(
                f'{path}: {where}.destination_type: expected "queue" or "exchange", got {dtype!r}'
            )
        rk = raw.get("routing_key", "")
        args = raw.get("arguments") or {}
        expect(args, dict, f"{where}.arguments", path)
        bindings.append(
            Binding(
                source=source,
                destination=dest,
                destination_type=dtype,
                routing_key=str(rk) if rk is not None else "",
                arguments=args,
                vhost=raw.get("vhost"),
            )
        )
    return bindings


def _permissions(data: dict, path: Path) -> list[Permission]:
    permissions = []
    for raw in _objects(data, "permissions", path):
        permissions.append(
            Permission(
                user=str(raw.get("user", "")),
                vhost=str(raw.get("vhost", "/")),
                configure=str(raw.get("configure", "")),
                write=str(raw.get("write", "")),
                read=str(raw.get("read", "")),
            )
        )
    return permissions
