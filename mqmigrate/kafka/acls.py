"""Kafka ACLs through the admin client: what exists, and creating what is missing.

An ACL here is an :class:`Acl` (resource type, name, pattern, principal, operation), always
ALLOW from any host: the grants a playbook declares.  Nothing in this module deletes an ACL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from mqmigrate.kafka.share import _result

_TYPES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
_PATTERNS = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}
_OPERATIONS = {
    "READ": AclOperation.READ,
    "WRITE": AclOperation.WRITE,
    "DESCRIBE": AclOperation.DESCRIBE,
    "DESCRIBE_CONFIGS": AclOperation.DESCRIBE_CONFIGS,
}


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW ACL from any host (``*``)."""

    resource: str  # "topic" | "group"
    name: str
    pattern: str  # "literal" | "prefixed"
    principal: str
    operation: str  # "READ" | "WRITE" | "DESCRIBE" | "DESCRIBE_CONFIGS"

    def label(self) -> str:
        """``TOPIC shop. (prefixed)`` style text for the diff."""
        return f"{self.resource} {self.name} ({self.pattern})"

    def binding(self) -> AclBinding:
        return AclBinding(
            _TYPES[self.resource],
            self.name,
            _PATTERNS[self.pattern],
            self.principal,
            "*",
            _OPERATIONS[self.operation],
            AclPermissionType.ALLOW,
        )


def _from_binding(b: AclBinding) -> Acl | None:
    """The :class:`Acl` a described binding is, or None for one this tool never creates."""
    kinds = {v: k for k, v in _TYPES.items()}
    patterns = {v: k for k, v in _PATTERNS.items()}
    operations = {v: k for k, v in _OPERATIONS.items()}
    if (
        b.restype not in kinds
        or b.resource_pattern_type not in patterns
        or b.operation not in operations
        or b.permission_type != AclPermissionType.ALLOW
        or b.host != "*"
    ):
        return None
    return Acl(
        kinds[b.restype],
        b.name,
        patterns[b.resource_pattern_type],
        b.principal,
        operations[b.operation],
    )


def existing(admin: AdminClient, timeout: float = 30.0) -> set[Acl]:
    """Every ALLOW-from-any-host topic/group ACL on the cluster (one DescribeAcls request)."""
    everything = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    bindings = _result(
        admin.describe_acls(everything, request_timeout=timeout), "describing ACLs", timeout
    )
    return {acl for acl in map(_from_binding, bindings) if acl is not None}


def create(admin: AdminClient, acls: Iterable[Acl], timeout: float = 30.0) -> None:
    """Create ``acls`` (creating one that exists is a no-op on the broker)."""
    wanted = [acl.binding() for acl in sorted(set(acls))]
    if not wanted:
        return
    futures = admin.create_acls(wanted, request_timeout=timeout)
    for binding, future in futures.items():
        _result(future, f"creating ACL {binding}", timeout)
