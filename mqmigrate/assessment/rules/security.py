"""``security.mapping``: vhosts, permissions, queue policies and keys → Kafka ACLs."""

from __future__ import annotations

import re

from mqmigrate.assessment.rules.base import QueueContext, SourceContext, finding, rule

MAPPING = "Kafka ACLs on topics and groups, PREFIXED where a permission is a name prefix"


def _is_prefix(regex: str) -> bool:
    """``^orders\\..*``, ``^orders``, ``.*`` and ``""`` map onto a prefixed/literal ACL."""
    if regex in ("", ".*", "^.*", "^.*$"):
        return True
    body = regex[1:] if regex.startswith("^") else None
    if body is None:
        return False
    body = re.sub(r"(\.\*|\.\+)?\$?$", "", body, count=1)
    return re.fullmatch(r"(?:[A-Za-z0-9_-]|\\\.)*", body) is not None


@rule("security.mapping", scope="source")
def rabbit_permissions(ctx: SourceContext):
    s = ctx.source
    if s.kind != "rabbitmq" or (not s.permissions and not [v for v in s.vhosts if v != "/"]):
        return  # only the default vhost and no permissions: nothing to map
    non_prefix = sorted(
        {
            f"{p.user}@{p.vhost} {kind}={rx}"
            for p in s.permissions
            for kind, rx in (("configure", p.configure), ("write", p.write), ("read", p.read))
            if not _is_prefix(rx)
        }
    )
    evidence = {"vhosts": s.vhosts, "permissions": len(s.permissions)}
    if s.users_count is not None:
        evidence["users"] = s.users_count
    if non_prefix:
        evidence["non-prefix regexes"] = non_prefix
    yield finding(
        "security.mapping",
        "warn",
        evidence,
        MAPPING,
        "one topic/group prefix per vhost (e.g. <vhost>.); translate each user's "
        "permissions to PREFIXED ACLs; the listed regexes need manual ACLs",
    )


@rule("security.mapping")
def sqs_policy(ctx: QueueContext):
    q = ctx.queue
    evidence: dict = {}
    if q.access_policy is not None:
        stmts = q.access_policy.get("Statement") or []
        if isinstance(stmts, dict):
            stmts = [stmts]
        principals = sorted({str(st.get("Principal")) for st in stmts if isinstance(st, dict)})
        evidence["queue policy statements"] = len(stmts)
        evidence["principals"] = principals
    if q.kms_key:
        evidence["KmsMasterKeyId"] = q.kms_key
    if q.redrive_allow_policy is not None:
        evidence["RedriveAllowPolicy"] = q.redrive_allow_policy.get("redrivePermission")
    if evidence:
        yield finding(
            "security.mapping",
            "warn",
            evidence,
            MAPPING + "; encryption at rest is the cluster's (no per-topic KMS key)",
            "translate each principal to a Kafka principal with topic/group ACLs; "
            "per-queue KMS keys need disk or client-side encryption",
        )
