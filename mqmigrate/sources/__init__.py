"""Source adapters by name, imported only when used (kombu's alias table).

``open_source("amqp://guest:guest@localhost/%2f", queue="orders")`` picks the adapter from
the URI scheme; a typo gets a "did you mean" hint and a missing driver names its
``pip install`` line.  ``open_publisher(uri, queue="orders")`` does the same for the write
side (:class:`~mqmigrate.sources.base.SourcePublisher`, one per kind in
``sources/<kind>/publisher.py``).
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any
from urllib.parse import urlsplit

from mqmigrate.errors import PrerequisiteError, UsageError
from mqmigrate.sources.base import SourceAdapter, SourcePublisher
from mqmigrate.sources.uri import SCHEMES as URI_SCHEMES

#: name -> ("module:Class", the pip package that provides its driver)
ADAPTERS: dict[str, tuple[str, str]] = {
    "rabbitmq": ("mqmigrate.sources.rabbitmq.adapter:RabbitMQSource", "pika"),
    "sqs": ("mqmigrate.sources.sqs.adapter:SQSSource", "boto3"),
    "memory": ("mqmigrate.sources.memory:MemorySource", ""),
    "amqp1": ("mqmigrate.sources.amqp1.adapter:AMQP1Source", "python-qpid-proton"),
}

#: name -> ("module:Class", driver package) of the publisher (the write side) of each kind
PUBLISHERS: dict[str, tuple[str, str]] = {
    "rabbitmq": ("mqmigrate.sources.rabbitmq.publisher:RabbitMQPublisher", "pika"),
    "sqs": ("mqmigrate.sources.sqs.publisher:SQSPublisher", "boto3"),
    "amqp1": ("mqmigrate.sources.amqp1.publisher:AMQP1Publisher", "python-qpid-proton"),
}

#: name -> "module:Class" of the windowed publisher (the benchmark's source side: at most
#: ``window`` messages unconfirmed, ``for_queue(uri, QueueSpec, window=)`` and
#: ``received(body)``, the body as published from what a consumer receives)
WINDOWED_PUBLISHERS: dict[str, str] = {
    "rabbitmq": "mqmigrate.sources.rabbitmq.publisher:RabbitMQConfirmPublisher",
    "sqs": "mqmigrate.sources.sqs.publisher:SQSBatchPublisher",
    "amqp1": "mqmigrate.sources.amqp1.publisher:AMQP1CreditPublisher",
}

#: pip package -> the module it installs, where the names differ
_DRIVER_MODULES = {"python-qpid-proton": "proton"}

#: URI scheme -> adapter name: the queue schemes of the one scheme table
#: (:data:`mqmigrate.sources.uri.SCHEMES`)
SCHEMES: dict[str, str] = {
    name: scheme.adapter for name, scheme in URI_SCHEMES.items() if scheme.adapter
}


def _load(target: str, package: str | None, what: str) -> Any:
    """The class ``module:Class`` named by ``target``, imported now; a missing driver
    ``package`` is one line saying ``what`` needs it."""
    module, _, cls = target.partition(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        if package and exc.name and exc.name.split(".")[0] == _DRIVER_MODULES.get(package, package):
            raise PrerequisiteError(
                f"{what} needs the {package!r} package", hint=f"pip install {package}"
            ) from exc
        raise


def adapter_class(name: str) -> type[SourceAdapter]:
    """The adapter class registered as ``name`` (imported now, not before)."""
    try:
        target, package = ADAPTERS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(ADAPTERS) + list(SCHEMES), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"choose from {', '.join(ADAPTERS)}"
        raise UsageError(f"unknown source kind {name!r}", hint=hint) from None
    return _load(target, package, f"the {name} source")


def publisher_class(name: str) -> type[SourcePublisher]:
    """The publisher class of the source kind ``name`` (imported now, not before)."""
    if name not in PUBLISHERS:
        hint = f"publishers: {', '.join(PUBLISHERS)}"
        raise UsageError(f"no publisher for source kind {name!r}", hint=hint)
    target, package = PUBLISHERS[name]
    return _load(target, package, f"publishing to {name}")


def windowed_publisher_class(name: str) -> Any:
    """The windowed publisher class of the source kind ``name`` (imported now)."""
    if name not in WINDOWED_PUBLISHERS:
        hint = f"publishers: {', '.join(WINDOWED_PUBLISHERS)}"
        raise UsageError(f"no windowed publisher for source kind {name!r}", hint=hint)
    target, package = WINDOWED_PUBLISHERS[name], PUBLISHERS[name][1]
    return _load(target, package, f"publishing to {name}")


def kind_for_uri(uri: str) -> str:
    """The adapter name for a source URI, from its scheme."""
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    if not scheme:
        raise UsageError(
            f"source {uri!r} has no scheme", hint="e.g. amqp://user:pass@host:5672/%2f"
        )
    if scheme in SCHEMES:
        return SCHEMES[scheme]
    close = difflib.get_close_matches(scheme, SCHEMES, n=1)
    hint = f"did you mean {close[0]}://?" if close else f"schemes: {', '.join(SCHEMES)}"
    raise UsageError(f"unsupported source scheme {scheme!r}", hint=hint)


def open_source(uri: str, **options: Any) -> SourceAdapter:
    """An adapter (not yet opened) for ``uri``; ``options`` go to its constructor."""
    return adapter_class(kind_for_uri(uri)).from_uri(uri, **options)


def open_publisher(uri: str, *, queue: str, **options: Any) -> SourcePublisher:
    """A publisher (connected on first send) of ``queue`` at the source URI ``uri``:
    RabbitMQ with publisher confirms, SQS, AMQP 1.0; ``options`` go to its constructor."""
    return publisher_class(kind_for_uri(uri)).from_uri(uri, queue=queue, **options)
