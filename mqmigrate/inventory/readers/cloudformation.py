"""CloudFormation ``AWS::SQS::Queue`` (+ ``AWS::SQS::QueuePolicy``,
``AWS::SQS::QueueInlinePolicy``) in YAML (short-form tags ``!Ref``, ``!GetAtt``, ``!Sub`` …)
or JSON.  ``Ref``/``GetAtt`` of a queue resolve to that queue's name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mqmigrate.errors import ConfigError
from mqmigrate.inventory.model import Source
from mqmigrate.inventory.readers._files import expect
from mqmigrate.inventory.readers.sqs_common import display_name, queue_from_attributes


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short-form tags into their long form."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)


def load_yaml(path: Path, text: str) -> Any:
    """YAML with CloudFormation tags; errors become ``ConfigError`` with file:line:column."""
    try:
        return yaml.load(text, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc}") from exc
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"{path}: invalid YAML: {type(exc).__name__}") from exc


def looks_like(data: Any) -> bool:
    """A template with a ``Resources`` mapping."""
    return isinstance(data, dict) and isinstance(data.get("Resources"), dict)


_ATTRS = [
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "MaximumMessageSize",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "SqsManagedSseEnabled",
]


def read(path: Path, data: dict) -> Source:
    """Read a parsed template into a :class:`Source`."""
    resources = expect(data.get("Resources"), dict, "Resources", path)
    params = data.get("Parameters") if isinstance(data.get("Parameters"), dict) else {}
    names: dict[str, str] = {}
    for lid, res in resources.items():
        if isinstance(res, dict) and res.get("Type") == "AWS::SQS::Queue":
            props = res.get("Properties") or {}
            expect(props, dict, f"Resources.{lid}.Properties", path)
            qn = props.get("QueueName")
            names[lid] = _scalar(qn, names, params) if qn is not None else str(lid)
            if not isinstance(names[lid], str):
                names[lid] = str(lid)

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                ref = value["Ref"]
                if ref in names:
                    return names[ref]
                p = params.get(ref) if isinstance(ref, str) else None
                return p.get("Default") if isinstance(p, dict) else None
            if set(value) == {"Fn::GetAtt"}:
                target = value["Fn::GetAtt"]
                if isinstance(target, list) and target and target[0] in names:
                    return names[target[0]]
                return None
            if set(value) == {"Fn::Sub"}:
                return _sub(value["Fn::Sub"], names)
            if len(value) == 1 and next(iter(value)).startswith("Fn::"):
                return None  # If/Join/Select/ImportValue: not resolvable offline
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    attrs: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, str]] = {}
    for lid in names:
        props = resources[lid].get("Properties") or {}
        a: dict[str, Any] = {}
        for key in _ATTRS:
            if key in props:
                v = resolve(props[key])
                a[key] = json.dumps(v) if isinstance(v, (dict, list)) else v
        attrs[lid] = a
        t = props.get("Tags")
        tags[lid] = (
            {str(x.get("Key")): str(resolve(x.get("Value"))) for x in t if isinstance(x, dict)}
            if isinstance(t, list)
            else {}
        )

    notes: list[str] = []
    for lid, res in resources.items():
        if not isinstance(res, dict):
            continue
        props = res.get("Properties") or {}
        if not isinstance(props, dict):
            continue
        if res.get("Type") == "AWS::SQS::QueuePolicy":
            targets = props.get("Queues") or []
        elif res.get("Type") == "AWS::SQS::QueueInlinePolicy":
            targets = [props.get("Queue")]
        else:
            continue
        doc = json.dumps(resolve(props.get("PolicyDocument")))
        for t in targets if isinstance(targets, list) else []:
            ref = t.get("Ref") if isinstance(t, dict) else None
            if ref in attrs:
                attrs[ref]["Policy"] = doc
            else:
                notes.append(f"{lid}: policy target is not a queue of this template")

    queues = [
        queue_from_attributes(names[lid], attrs[lid], tags=tags[lid], extra={"logical_id": lid})
        for lid in names
    ]
    return Source(
        kind="sqs", name=path.name, endpoint=str(path), queues=queues, live=False, notes=notes
    )


def _scalar(value: Any, names: dict[str, str], params: dict) -> Any:
    if isinstance(value, dict) and "Fn::Sub" in value:
        return _sub(value["Fn::Sub"], names)
    if isinstance(value, dict) and "Ref" in value:
        p = params.get(value["Ref"])
        return p.get("Default") if isinstance(p, dict) and "Default" in p else None
    return value


def _sub(value: Any, names: dict[str, str]) -> str | None:
    template = value[0] if isinstance(value, list) and value else value
    if not isinstance(template, str):
        return None
    return display_name(template)


def wrong_format(path: Path) -> ConfigError:
    return ConfigError(
        f"{path}: YAML is neither a CloudFormation template (Resources) nor an "
        "AMQP 1.0 address description (addresses)"
    )
