"""Sandbox services by name, imported only when used."""

from __future__ import annotations

import difflib
import importlib

from mqmigrate.errors import UsageError
from mqmigrate.sandbox.base import SandboxContext, Service

#: name -> "module:Class"; the order is the start order
SERVICES: dict[str, str] = {
    "kafka": "mqmigrate.sandbox.kafka:KafkaService",
    "rabbitmq": "mqmigrate.sandbox.rabbitmq:RabbitMQService",
    "moto": "mqmigrate.sandbox.sqs:MotoService",
    "elasticmq": "mqmigrate.sandbox.sqs:ElasticMQService",
    "artemis": "mqmigrate.sandbox.artemis:ArtemisService",
}


def service_class(name: str) -> type[Service]:
    try:
        target = SERVICES[name]
    except KeyError:
        close = difflib.get_close_matches(name, SERVICES, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"choose from {', '.join(SERVICES)}"
        raise UsageError(f"unknown sandbox service {name!r}", hint=hint) from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def services(ctx: SandboxContext, names: list[str] | None = None) -> list[Service]:
    chosen = names or list(SERVICES)
    return [service_class(name)(ctx) for name in chosen]
