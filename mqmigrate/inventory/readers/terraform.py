"""Terraform ``aws_sqs_queue`` (+ ``aws_sqs_queue_redrive_policy``,
``aws_sqs_queue_redrive_allow_policy``, ``aws_sqs_queue_policy``) parsed with python-hcl2.

Resolved offline: references ``aws_sqs_queue.NAME.arn|id|url|name`` (to the named queue),
``jsonencode({...})`` bodies and heredoc/JSON strings, ``var.X`` with a default in the same
files.  Anything else (a ``local``, a data source) is left unknown (``None``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mqmigrate.errors import ConfigError
from mqmigrate.inventory.model import Source
from mqmigrate.inventory.readers.sqs_common import display_name, queue_from_attributes

_ATTRS = {
    "visibility_timeout_seconds": "VisibilityTimeout",
    "message_retention_seconds": "MessageRetentionPeriod",
    "max_message_size": "MaximumMessageSize",
    "delay_seconds": "DelaySeconds",
    "receive_wait_time_seconds": "ReceiveMessageWaitTimeSeconds",
    "fifo_queue": "FifoQueue",
    "content_based_deduplication": "ContentBasedDeduplication",
    "deduplication_scope": "DeduplicationScope",
    "fifo_throughput_limit": "FifoThroughputLimit",
    "redrive_policy": "RedrivePolicy",
    "redrive_allow_policy": "RedriveAllowPolicy",
    "policy": "Policy",
    "kms_master_key_id": "KmsMasterKeyId",
    "sqs_managed_sse_enabled": "SqsManagedSseEnabled",
}
_REF = re.compile(r"\$\{\s*aws_sqs_queue\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\.(arn|id|url|name)\s*\}")
_WHOLE_REF = re.compile(
    r"^\$\{\s*aws_sqs_queue\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\.(arn|id|url|name)\s*\}$"
)
_VAR = re.compile(r"^\$\{\s*var\.([A-Za-z0-9_-]+)\s*\}$")
_JSONENCODE = re.compile(r"^\$\{\s*jsonencode\((.*)\)\s*\}$", re.S)


def parse_hcl(path: Path, text: str) -> dict:
    """HCL text → dict (strings unquoted, heredocs as plain strings); syntax errors become
    ``ConfigError`` with file:line:column."""
    try:
        import hcl2
        from hcl2.utils import SerializationOptions
    except ImportError as exc:
        from mqmigrate.errors import PrerequisiteError

        raise PrerequisiteError(
            "reading Terraform needs python-hcl2 >= 8", hint="pip install 'python-hcl2>=8'"
        ) from exc

    options = SerializationOptions(
        strip_string_quotes=True,
        preserve_heredocs=False,
        with_comments=False,
        explicit_blocks=False,
    )
    try:
        return hcl2.loads(text, serialization_options=options)
    except Exception as exc:  # lark raises many types; all mean "not valid HCL"
        line = getattr(exc, "line", None)
        col = getattr(exc, "column", None)
        where = f"{path}:{line}:{col}" if isinstance(line, int) and line > 0 else str(path)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{where}: invalid HCL: {first}") from exc


class _Resolver:
    def __init__(self, path: Path, names: dict[str, str], variables: dict[str, Any]):
        self.path = path
        self.names = names
        self.variables = variables

    def value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {str(k).strip('"'): self.value(v) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        m = _JSONENCODE.match(value)
        if m:
            body = parse_hcl(self.path, "x = " + m.group(1) + "\n").get("x")
            return self.value(body)
        m = _WHOLE_REF.match(value)
        if m:
            return self.names.get(m.group(1), display_name(value))
        m = _VAR.match(value)
        if m:
            return self.variables.get(m.group(1))
        if "${" in value:
            return _REF.sub(lambda r: self.names.get(r.group(1), r.group(0)), value)
        return value

    def ref_target(self, value: Any) -> str | None:
        """Resource name referenced by ``queue_url = aws_sqs_queue.X.id``."""
        if isinstance(value, str):
            m = _WHOLE_REF.match(value)
            if m:
                return m.group(1)
        return None


def _blocks(doc: dict, kind: str) -> list[tuple[str, str, dict]]:
    out = []
    for item in doc.get("resource", []) or []:
        if not isinstance(item, dict):
            continue
        for rtype, named in item.items():
            if rtype != kind or not isinstance(named, dict):
                continue
            for rname, body in named.items():
                if isinstance(body, dict):
                    out.append((rtype, rname, body))
    return out


def read(paths: list[Path], texts: list[str]) -> Source:
    """Read one or more ``.tf`` files (a module directory) into a :class:`Source`."""
    docs = [(p, parse_hcl(p, t)) for p, t in zip(paths, texts)]
    variables: dict[str, Any] = {}
    for _, doc in docs:
        for item in doc.get("variable", []) or []:
            if isinstance(item, dict):
                for name, body in item.items():
                    if isinstance(body, dict) and "default" in body:
                        variables[name] = body["default"]

    names: dict[str, str] = {}
    queue_blocks: list[tuple[Path, str, dict]] = []
    for path, doc in docs:
        for _, rname, body in _blocks(doc, "aws_sqs_queue"):
            raw = body.get("name")
            if isinstance(raw, str):
                m = _VAR.match(raw)
                raw = variables.get(m.group(1), raw) if m else raw
            names[rname] = (
                display_name(str(raw))
                if raw
                else (
                    display_name(str(body.get("name_prefix"))) + "*"
                    if body.get("name_prefix")
                    else f"aws_sqs_queue.{rname}"
                )
            )
            queue_blocks.append((path, rname, body))

    attrs_by_resource: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for path, rname, body in queue_blocks:
        res = _Resolver(path, names, variables)
        attrs: dict[str, Any] = {}
        for tf_key, aws_key in _ATTRS.items():
            if tf_key in body:
                value = res.value(body[tf_key])
                if isinstance(value, (dict, list)) and aws_key in (
                    "RedrivePolicy",
                    "RedriveAllowPolicy",
                    "Policy",
                ):
                    value = json.dumps(value)
                attrs[aws_key] = value
        attrs_by_resource[rname] = attrs

    extras = [
        ("aws_sqs_queue_redrive_policy", "redrive_policy", "RedrivePolicy"),
        ("aws_sqs_queue_redrive_allow_policy", "redrive_allow_policy", "RedriveAllowPolicy"),
        ("aws_sqs_queue_policy", "policy", "Policy"),
    ]
    for path, doc in docs:
        res = _Resolver(path, names, variables)
        for rtype, field, aws_key in extras:
            for _, rname, body in _blocks(doc, rtype):
                target = res.ref_target(body.get("queue_url"))
                if target not in attrs_by_resource:
                    notes.append(
                        f"{rtype}.{rname}: queue_url does not name an aws_sqs_queue "
                        "in these files; ignored"
                    )
                    continue
                value = res.value(body.get(field))
                attrs_by_resource[target][aws_key] = (
                    json.dumps(value) if isinstance(value, (dict, list)) else value
                )

    queues = []
    for path, rname, body in queue_blocks:
        raw_tags = body.get("tags") or {}
        tags = {str(k): str(v) for k, v in raw_tags.items()} if isinstance(raw_tags, dict) else {}
        q = queue_from_attributes(
            names[rname],
            attrs_by_resource[rname],
            tags=tags,
            extra={"terraform_address": f"aws_sqs_queue.{rname}", "file": path.name},
        )
        queues.append(q)
    first = paths[0]
    return Source(
        kind="sqs",
        name=first.name if len(paths) == 1 else first.parent.name,
        endpoint=str(first if len(paths) == 1 else first.parent),
        queues=queues,
        live=False,
        notes=notes,
    )
