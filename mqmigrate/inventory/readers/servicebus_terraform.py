"""Terraform ``azurerm_servicebus_namespace``, ``_queue``, ``_topic``, ``_subscription`` and
``_subscription_rule`` (azurerm 2.x-4.x argument names) read offline.

Resolved: ``var.X`` with a default in the same files, references to another resource of these
files (``azurerm_servicebus_topic.X.id``, ``azurerm_servicebus_queue.X.name`` …).  Anything else
(a variable without default, a ``local``, a data source, ``each.key``) is unknown: a setting
is ``None`` (unknown, the Service Bus default is not assumed for it) and a name keeps the
expression as a ``{…}`` placeholder, so two queues named by two different variables stay two
workloads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mqmigrate.inventory.model import Source
from mqmigrate.inventory.readers.servicebus_common import (
    SbEntity,
    SbNamespace,
    SbRule,
    build_sources,
)
from mqmigrate.inventory.readers.sqs_common import display_name

RESOURCE_TYPES = (
    "azurerm_servicebus_namespace",
    "azurerm_servicebus_queue",
    "azurerm_servicebus_topic",
    "azurerm_servicebus_subscription",
    "azurerm_servicebus_subscription_rule",
)

#: azurerm argument → ARM property (both the 3.x and the 4.x spellings)
_PROPS = {
    "lock_duration": "lockDuration",
    "max_delivery_count": "maxDeliveryCount",
    "requires_session": "requiresSession",
    "requires_duplicate_detection": "requiresDuplicateDetection",
    "duplicate_detection_history_time_window": "duplicateDetectionHistoryTimeWindow",
    "default_message_ttl": "defaultMessageTimeToLive",
    "dead_lettering_on_message_expiration": "deadLetteringOnMessageExpiration",
    "dead_lettering_on_filter_evaluation_error": "deadLetteringOnFilterEvaluationExceptions",
    "forward_to": "forwardTo",
    "forward_dead_lettered_messages_to": "forwardDeadLetteredMessagesTo",
    "max_size_in_megabytes": "maxSizeInMegabytes",
    "max_message_size_in_kilobytes": "maxMessageSizeInKilobytes",
    "enable_partitioning": "enablePartitioning",
    "partitioning_enabled": "enablePartitioning",
    "auto_delete_on_idle": "autoDeleteOnIdle",
    "enable_batched_operations": "enableBatchedOperations",
    "batched_operations_enabled": "enableBatchedOperations",
    "enable_express": "enableExpress",
    "express_enabled": "enableExpress",
    "support_ordering": "supportOrdering",
    "status": "status",
}
_WHOLE = re.compile(r"^\$\{\s*(.*?)\s*\}$", re.S)
_VAR = re.compile(r"^var\.([A-Za-z0-9_-]+)$")
_RES = re.compile(r"^(azurerm_servicebus_[a-z_]+)\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\.(id|name)$")


def resource_types(doc: dict) -> list[str]:
    """Every ``resource`` type of a parsed file (for the "found only …" error)."""
    out = []
    for item in doc.get("resource", []) or []:
        if isinstance(item, dict):
            out.extend(str(t) for t in item)
    return out


def _blocks(doc: dict, kind: str) -> list[tuple[str, dict]]:
    out = []
    for item in doc.get("resource", []) or []:
        if not isinstance(item, dict) or not isinstance(item.get(kind), dict):
            continue
        for rname, body in item[kind].items():
            if isinstance(body, dict):
                out.append((rname, body))
    return out


class _Resolver:
    """Offline values: variables with defaults and references to resources of these files."""

    def __init__(self, variables: dict[str, Any]):
        self.variables = variables
        self.names: dict[tuple[str, str], str] = {}  # (type, resource name) → entity name

    def ref(self, value: Any) -> tuple[str, str] | None:
        """``${azurerm_servicebus_topic.x.id}`` → ("azurerm_servicebus_topic", "x")."""
        if isinstance(value, str):
            m = _WHOLE.match(value)
            if m:
                r = _RES.match(m.group(1))
                if r:
                    return r.group(1), r.group(2)
        return None

    def name(self, value: Any, fallback: str) -> str:
        """An entity name, ``{expression}`` placeholders where it cannot be resolved."""
        if value is None:
            return "{" + fallback + "}"
        if not isinstance(value, str):
            return str(value)
        m = _WHOLE.match(value)
        if m:
            expr = m.group(1)
            v = _VAR.match(expr)
            if v and isinstance(self.variables.get(v.group(1)), (str, int)):
                return str(self.variables[v.group(1)])
            r = _RES.match(expr)
            if r and r.group(3) == "name" and (r.group(1), r.group(2)) in self.names:
                return self.names[(r.group(1), r.group(2))]
            return "{" + expr + "}"
        return display_name(value)

    def value(self, value: Any) -> Any:
        """A setting; None when it is an expression these files cannot resolve."""
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.value(v) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        m = _WHOLE.match(value)
        if m:
            expr = m.group(1)
            v = _VAR.match(expr)
            if v:
                return self.variables.get(v.group(1))
            r = _RES.match(expr)
            if r and r.group(3) == "name" and (r.group(1), r.group(2)) in self.names:
                return self.names[(r.group(1), r.group(2))]
            return None
        if "${" in value:
            return None
        return value


def _props(body: dict, res: _Resolver) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for tf_key, arm_key in _PROPS.items():
        if tf_key in body:
            # None: set by an expression these files do not resolve (unknown, not the default)
            props[arm_key] = res.value(body[tf_key])
    return props


def read(paths: list[Path], docs: list[dict]) -> list[Source]:
    """Read parsed ``.tf`` documents into one :class:`Source` per Service Bus namespace."""
    res = _Resolver(_variables(docs))
    notes: list[str] = []
    namespaces, ns_of = _namespaces(docs, res)
    entities: list[SbEntity] = []
    topics = _topics_and_queues(paths, docs, res, ns_of, entities)
    subs = _subscriptions(paths, docs, res, ns_of, topics, entities)
    _subscription_rules(docs, res, subs, notes)
    first = paths[0]
    return build_sources(
        entities,
        namespaces,
        file_name=first.name if len(paths) == 1 else first.parent.name,
        file_path=str(first if len(paths) == 1 else first.parent),
        notes=notes,
    )


def _variables(docs: list[dict]) -> dict[str, Any]:
    """The variables' defaults (what the resolver substitutes for ``var.NAME``)."""
    variables: dict[str, Any] = {}
    for doc in docs:
        for item in doc.get("variable", []) or []:
            if isinstance(item, dict):
                for name, body in item.items():
                    if isinstance(body, dict) and "default" in body:
                        variables[name] = body["default"]
    return variables


def _namespaces(
    docs: list[dict], res: _Resolver
) -> tuple[dict[str | None, SbNamespace], dict[str, str]]:
    """The namespaces by name, and namespace resource name → namespace name."""
    namespaces: dict[str | None, SbNamespace] = {}
    ns_of: dict[str, str] = {}  # namespace resource name → namespace name
    for doc in docs:
        for rname, body in _blocks(doc, "azurerm_servicebus_namespace"):
            name = res.name(body.get("name"), f"azurerm_servicebus_namespace.{rname}.name")
            res.names[("azurerm_servicebus_namespace", rname)] = name
            ns_of[rname] = name
            sku = res.value(body.get("sku"))
            namespaces[name] = SbNamespace(name, sku if isinstance(sku, str) else None)
    return namespaces, ns_of


def _namespace_of(body: dict, res: _Resolver, ns_of: dict[str, str]) -> str | None:
    """The namespace an entity's ``namespace_id`` or ``namespace_name`` names."""
    ref = res.ref(body.get("namespace_id"))
    if ref and ref[0] == "azurerm_servicebus_namespace":
        return ns_of.get(ref[1])
    if "namespace_name" in body:
        return res.name(body["namespace_name"], "namespace_name")
    if "namespace_id" in body:
        return res.name(body["namespace_id"], "namespace_id")
    return None


def _topics_and_queues(
    paths: list[Path],
    docs: list[dict],
    res: _Resolver,
    ns_of: dict[str, str],
    entities: list[SbEntity],
) -> dict[str, SbEntity]:
    """Topics and queues appended to ``entities``; returns the topics by resource name."""
    topics: dict[str, SbEntity] = {}
    for path, doc in zip(paths, docs):
        for kind, rtype in (
            ("topic", "azurerm_servicebus_topic"),
            ("queue", "azurerm_servicebus_queue"),
        ):
            for rname, body in _blocks(doc, rtype):
                name = res.name(body.get("name"), f"{rtype}.{rname}.name")
                res.names[(rtype, rname)] = name
                e = SbEntity(
                    kind=kind,
                    name=name,
                    namespace=_namespace_of(body, res, ns_of),
                    props=_props(body, res),
                    origin={"terraform_address": f"{rtype}.{rname}", "file": path.name},
                )
                entities.append(e)
                if kind == "topic":
                    topics[rname] = e
    return topics


def _subscriptions(
    paths: list[Path],
    docs: list[dict],
    res: _Resolver,
    ns_of: dict[str, str],
    topics: dict[str, SbEntity],
    entities: list[SbEntity],
) -> dict[str, SbEntity]:
    """Subscriptions appended to ``entities``; returns them by resource name."""
    subs: dict[str, SbEntity] = {}
    for path, doc in zip(paths, docs):
        for rname, body in _blocks(doc, "azurerm_servicebus_subscription"):
            rtype = "azurerm_servicebus_subscription"
            name = res.name(body.get("name"), f"{rtype}.{rname}.name")
            res.names[(rtype, rname)] = name
            ref = res.ref(body.get("topic_id"))
            topic = topics.get(ref[1]) if ref and ref[0] == "azurerm_servicebus_topic" else None
            if topic is not None:
                topic_name, ns = topic.name, topic.namespace
            else:
                raw = body.get("topic_name", body.get("topic_id"))
                topic_name = res.name(raw, "topic_id")
                ns = _namespace_of(body, res, ns_of)
            e = SbEntity(
                kind="subscription",
                name=name,
                namespace=ns,
                topic=topic_name,
                props=_props(body, res),
                origin={"terraform_address": f"{rtype}.{rname}", "file": path.name},
            )
            entities.append(e)
            subs[rname] = e
    return subs


def _subscription_rules(
    docs: list[dict], res: _Resolver, subs: dict[str, SbEntity], notes: list[str]
) -> None:
    """Each rule added to its subscription; a rule whose subscription is not declared is
    noted and ignored."""
    for doc in docs:
        for rname, body in _blocks(doc, "azurerm_servicebus_subscription_rule"):
            ref = res.ref(body.get("subscription_id"))
            sub = subs.get(ref[1]) if ref and ref[0] == "azurerm_servicebus_subscription" else None
            if sub is None and body.get("subscription_name") is not None:
                wanted = res.name(body.get("subscription_name"), "subscription_name")
                sub = next((s for s in subs.values() if s.name == wanted), None)
            if sub is None:
                notes.append(
                    f"azurerm_servicebus_subscription_rule.{rname}: its subscription is "
                    "not declared in these files; ignored"
                )
                continue
            sub.rules.append(_rule(rname, body, res))


def _rule(rname: str, body: dict, res: _Resolver) -> SbRule:
    name = res.name(body.get("name"), f"azurerm_servicebus_subscription_rule.{rname}.name")
    action = res.value(body.get("action"))
    ftype = res.value(body.get("filter_type"))
    if ftype == "CorrelationFilter":
        blocks = body.get("correlation_filter") or []
        block = blocks[0] if isinstance(blocks, list) and blocks else blocks
        block = block if isinstance(block, dict) else {}
        corr: dict[str, Any] = {}
        for k, v in block.items():
            if k == "properties" and isinstance(v, dict):
                corr.update({str(pk): res.value(pv) for pk, pv in v.items()})
            elif v not in (None, ""):
                corr[k] = res.value(v)
        return SbRule(
            name=name,
            correlation=corr or {"(unresolved)": "?"},
            action=action if isinstance(action, str) else None,
        )
    sql = res.value(body.get("sql_filter"))
    if sql is None and body.get("sql_filter") is not None:
        sql = "{" + str(body.get("sql_filter")).strip("${}") + "}"
    return SbRule(
        name=name,
        sql=sql if isinstance(sql, str) else None,
        action=action if isinstance(action, str) else None,
    )
