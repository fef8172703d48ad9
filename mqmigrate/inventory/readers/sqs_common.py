"""SQS attribute normalization shared by Terraform, CloudFormation and the live boto3 reader.

Every reader first produces the queue's attributes under their AWS API names
(``VisibilityTimeout``, ``RedrivePolicy`` ...); this module fills the AWS defaults for what was
left unset (marking the field in ``Queue.defaulted``) and maps them onto the neutral model.

``MaximumMessageSize`` default: AWS raised the SQS maximum payload and the default of this
attribute from 256 KiB (262144) to 1 MiB (1048576) in August 2025, so a queue created today
without the attribute accepts 1 MiB messages.  Queues created before that keep 262144; the
value is marked *defaulted* so the report says it is an assumption.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mqmigrate.inventory.model import DeadLetter, Queue

#: AWS attribute name → (model field, AWS default or None when there is no default)
AWS_DEFAULTS: dict[str, tuple[str, Any]] = {
    "VisibilityTimeout": ("visibility_timeout", 30),
    "MessageRetentionPeriod": ("retention", 345600),
    "MaximumMessageSize": ("max_message_size", 1048576),
    "DelaySeconds": ("delay", 0),
    "ReceiveMessageWaitTimeSeconds": ("receive_wait", 0),
}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def arn_queue_name(arn: Any) -> str | None:
    """``arn:aws:sqs:eu-west-1:123:orders-dlq`` → ``orders-dlq``; names pass through."""
    if not isinstance(arn, str) or not arn:
        return None
    if arn.startswith("arn:"):
        return arn.rsplit(":", 1)[-1]
    if "/" in arn:  # a queue URL
        return arn.rstrip("/").rsplit("/", 1)[-1]
    return arn


def _json_doc(value: Any) -> dict | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        try:
            doc = json.loads(value)
        except json.JSONDecodeError:
            return None
        return doc if isinstance(doc, dict) else None
    return None


def queue_from_attributes(
    name: str,
    attrs: dict[str, Any],
    *,
    tags: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Queue:
    """A :class:`Queue` from AWS-named attributes; unset ones get the AWS default and are
    marked defaulted.  Values that are present but unresolvable (a Terraform variable without a
    default) stay ``None`` = unknown."""
    defaulted: set[str] = set()
    values: dict[str, Any] = {}
    for attr, (field, default) in AWS_DEFAULTS.items():
        if attr in attrs:
            values[field] = _num(attrs[attr])
        else:
            values[field] = default
            defaulted.add(field)
    fifo = _bool(attrs.get("FifoQueue")) or name.endswith(".fifo")
    cbd = _bool(attrs.get("ContentBasedDeduplication"))
    if cbd is None and "ContentBasedDeduplication" not in attrs:
        cbd = False
        defaulted.add("content_based_dedup")
    redrive = _json_doc(attrs.get("RedrivePolicy"))
    dead_letter = None
    delivery_limit: int | None
    if redrive is not None:
        dead_letter = DeadLetter(target=arn_queue_name(redrive.get("deadLetterTargetArn")))
        mrc = _num(redrive.get("maxReceiveCount"))
        delivery_limit = int(mrc) if mrc is not None else None
    elif "RedrivePolicy" in attrs and attrs["RedrivePolicy"] not in (None, ""):
        delivery_limit = None  # present but unreadable: unknown
    else:
        delivery_limit = -1  # no redrive policy: received again until retention expires
        defaulted.add("delivery_limit")
    kms = attrs.get("KmsMasterKeyId")
    queue_extra = dict(extra or {})
    for key in ("FifoThroughputLimit", "SqsManagedSseEnabled", "QueueArn"):
        if key in attrs:
            queue_extra[key] = attrs[key]
    live = {
        k: attrs[k]
        for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        if k in attrs
    }
    depth = _num(live.get("ApproximateNumberOfMessages"))
    in_flight = _num(live.get("ApproximateNumberOfMessagesNotVisible"))
    return Queue(
        name=name,
        type="fifo" if fifo else "standard",
        durable=True,
        exclusive=False,
        auto_delete=False,
        arguments={k: v for k, v in attrs.items() if not k.startswith("Approximate")},
        fifo=fifo,
        content_based_dedup=cbd,
        dedup_scope=attrs.get("DeduplicationScope") if fifo else None,
        dead_letter=dead_letter,
        delivery_limit=delivery_limit,
        kms_key=str(kms) if kms else None,
        access_policy=_json_doc(attrs.get("Policy")),
        redrive_allow_policy=_json_doc(attrs.get("RedriveAllowPolicy")),
        tags=dict(tags or {}),
        depth=int(depth) if depth is not None else None,
        in_flight=int(in_flight) if in_flight is not None else None,
        defaulted=defaulted,
        extra=queue_extra,
        **values,
    )


def display_name(template: str) -> str:
    """A readable queue name from an IaC template: ``${var.env}-orders`` stays recognisable
    as ``{var.env}-orders`` (the interpolations cannot be resolved offline)."""
    return re.sub(r"\$\{\s*([^}]*?)\s*\}", r"{\1}", template)
