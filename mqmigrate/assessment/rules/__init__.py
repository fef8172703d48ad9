"""Readiness rules, one module per concern; importing this package registers them all.

The rule ids are the catalogue of docs/rules.md and never change.
"""

from mqmigrate.assessment.rules import (  # noqa: F401  (imported to register)
    clients,
    dedup,
    hygiene,
    limits,
    naming,
    ordering,
    priority,
    queue_type,
    redelivery,
    routing,
    security,
    servicebus,
    timing,
)
from mqmigrate.assessment.rules import amqp1_brokers  # noqa: F401  (Artemis, IBM MQ)
from mqmigrate.assessment.rules.base import REGISTRY, QueueContext, SourceContext

RULE_IDS = [
    "ordering.fifo",
    "exactly-once.dedup",
    "visibility.timeout",
    "retry.limit",
    "dlq.redrive",
    "delay.delivery",
    "priority",
    "ttl.expiry",
    "backpressure.max-length",
    "size.max-message",
    "routing.pattern",
    "fanout.share-groups",
    "rpc.reply-to",
    "queue-type.stream",
    "source.hygiene",
    "security.mapping",
    "client.share-consumer",
    "lock.renewal",
    "routing.auto-forward",
    "naming.unresolved",
]
RULE_IDS += ["queue-type.last-value", "queue-type.non-destructive", "trigger.on-arrival"]

__all__ = ["REGISTRY", "RULE_IDS", "QueueContext", "SourceContext"]
