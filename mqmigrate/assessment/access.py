"""Who may produce to and consume from a queue, read from the source's security data.

The result is the ``target.access`` value of a workload (rule ``security.mapping``, docs/rules.md:
"prefixed ACLs; non-prefix regexes listed"): ``grants`` the Kafka ACL grants the source's
permissions suggest, and ``unmapped`` what cannot become a grant and needs a human.  Principal
names are placeholders (``User:<source user or IAM name>``): how a SASL or mTLS identity is
spelled on the Kafka cluster is the cluster's own, so ``plan`` asks a human to confirm them.

RabbitMQ (permissions per user and vhost; regexes matched unanchored, as RabbitMQ does):

* produce — ``write`` matches an exchange that routes to the queue (or ``amq.default``, through
  which any queue is reachable by its name);
* consume — ``read`` matches the queue;
* a regex granting the whole vhost (``.*``) becomes a PREFIXED grant on the vhost's topic and
  group prefix (``<vhost>.``); a name-prefix regex (``^orders\\..*``) a PREFIXED grant on that
  prefix when every resource of the grant starts with it; an exact name (``^orders$``) a LITERAL
  grant; anything else a LITERAL grant on this workload's resources, the regex listed in
  ``unmapped`` (it may grant more than this workload).

SQS (queue policy statements with ``Effect: Allow``): ``sqs:SendMessage*`` → produce,
``sqs:ReceiveMessage``/``DeleteMessage*``/``ChangeMessageVisibility*`` → consume, ``sqs:*`` →
both; IAM ARNs become ``User:<last path element>`` with LITERAL grants.  ``*`` principals,
service principals, ``Deny`` statements and conditions are listed in ``unmapped``.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from mqmigrate.assessment.target import vhost_prefix
from mqmigrate.inventory.model import Edge, Queue, Source

#: regexes RabbitMQ users write for "everything in this vhost"
_WHOLE_VHOST = {".*", "^.*", "^.*$", ".+", "^.+$", "^.+"}
_SEND = {"sqs:sendmessage", "sqs:sendmessagebatch"}
_RECEIVE = {
    "sqs:receivemessage",
    "sqs:deletemessage",
    "sqs:deletemessagebatch",
    "sqs:changemessagevisibility",
    "sqs:changemessagevisibilitybatch",
}


def _name_prefix(regex: str) -> str | None:
    """``^orders\\..*`` → ``orders.``; None when the regex is not a plain name prefix."""
    m = re.fullmatch(r"\^((?:[A-Za-z0-9_-]|\\\.)+)(?:\.\*|\.\+)?", regex)
    return m.group(1).replace("\\.", ".") if m else None


def _matches(regex: str, name: str) -> bool | None:
    """RabbitMQ's check (unanchored search; ``""`` grants nothing); None if it does not compile."""
    if regex == "":
        return False
    try:
        return re.search(regex, name) is not None
    except re.error:
        return None


def _grant(
    principal: str, role: str, prefix: str | None, resources: Iterable[str], source: str
) -> dict[str, Any]:
    """A grant, PREFIXED on ``prefix`` only when every resource starts with it."""
    names = list(resources)
    if prefix and all(n.startswith(prefix) for n in names):
        return {
            "principal": principal,
            "role": role,
            "pattern": "prefixed",
            "prefix": prefix,
            "source": source,
        }
    return {"principal": principal, "role": role, "pattern": "literal", "source": source}


def rabbitmq_access(
    source: Source, q: Queue, edges: list[Edge], topic: str, group: str | None
) -> dict[str, Any] | None:
    """Grants for queue ``q`` from the users' permissions on its vhost (None: none recorded)."""
    perms = [p for p in source.permissions if p.vhost == q.vhost]
    if not perms:
        return None
    exchanges = sorted({e.path[0] if e.path else e.exchange for e in edges} | {"amq.default"})
    vprefix = vhost_prefix(q.vhost)
    grants: list[dict[str, Any]] = []
    unmapped: list[str] = []
    for p in sorted(perms, key=lambda p: p.user):
        principal = f"User:{p.user}"
        for role, regex, names, resources in (
            ("produce", p.write, exchanges, [topic]),
            ("consume", p.read, [q.name], [topic] + ([group] if group else [])),
        ):
            where = f"{p.user}@{q.vhost} {'write' if role == 'produce' else 'read'}={regex}"
            results = [_matches(regex, n) for n in names]
            if None in results:
                unmapped.append(f"{where}: not a regex this tool can evaluate; map by hand")
                continue
            if not any(results):
                continue
            if re.fullmatch(r"\^(?:[A-Za-z0-9_-]|\\\.)+\$", regex):
                grants.append(_grant(principal, role, None, resources, where))  # one exact name
            elif regex in _WHOLE_VHOST:
                grants.append(_grant(principal, role, vprefix or None, resources, where))
            elif (body := _name_prefix(regex)) is not None:
                grants.append(_grant(principal, role, vprefix + body, resources, where))
            else:
                grants.append(_grant(principal, role, None, resources, where))
                unmapped.append(
                    f"{where}: not a name prefix; granted on this workload's "
                    "resources only (LITERAL)"
                )
    return {"grants": grants, "unmapped": unmapped}


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _iam_name(arn: str) -> str | None:
    """``arn:aws:iam::123:role/app/orders-worker`` → ``orders-worker``; an account → its id."""
    if re.fullmatch(r"\d{12}", arn):
        return arn
    m = re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):(.+)", arn)
    if not m:
        return None
    return m.group(1) if m.group(2) == "root" else m.group(2).rsplit("/", 1)[-1] or None


def sqs_access(q: Queue, topic: str, group: str | None) -> dict[str, Any] | None:
    """Grants for SQS queue ``q`` from its queue policy (None: no policy recorded)."""
    if q.access_policy is None:
        return None
    statements = _as_list(q.access_policy.get("Statement"))
    grants: list[dict[str, Any]] = []
    unmapped: list[str] = []
    seen: set[tuple[str, str]] = set()
    for i, st in enumerate(statements):
        if not isinstance(st, dict):
            continue
        label = f"statement {st.get('Sid') or i}"
        if st.get("Effect") != "Allow":
            unmapped.append(
                f"{label}: {st.get('Effect')} statements have no ACL equivalent "
                "here (Kafka DENY ACLs are possible); map by hand"
            )
            continue
        actions = {str(a).lower() for a in _as_list(st.get("Action"))}
        roles = []
        if actions & ({"sqs:*", "*"} | _SEND):
            roles.append("produce")
        if actions & ({"sqs:*", "*"} | _RECEIVE):
            roles.append("consume")
        if not roles:
            continue
        if st.get("Condition"):
            unmapped.append(
                f"{label}: conditions ({', '.join(sorted(st['Condition']))}) have "
                "no ACL equivalent; the grant is unconditional"
            )
        principal = st.get("Principal")
        arns: list[str] = []
        if principal == "*" or (
            isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))
        ):
            unmapped.append(f"{label}: any principal ('*'); grant Kafka principals by hand")
        if isinstance(principal, dict):
            arns = [str(a) for a in _as_list(principal.get("AWS")) if a != "*"]
            for service in _as_list(principal.get("Service")):
                unmapped.append(
                    f"{label}: service {service} ({'/'.join(roles)}); the bridge "
                    "or a producer takes its place"
                )
        for arn in arns:
            name = _iam_name(arn)
            if name is None:
                unmapped.append(f"{label}: principal {arn} is not an IAM ARN; map by hand")
                continue
            for role in roles:
                if (name, role) in seen:
                    continue
                seen.add((name, role))
                resources = [topic] + ([group] if role == "consume" and group else [])
                grants.append(_grant(f"User:{name}", role, None, resources, f"{label}: {arn}"))
    return {"grants": grants, "unmapped": unmapped}
