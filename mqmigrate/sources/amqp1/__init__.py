"""AMQP 1.0 (python-qpid-proton): the bridge source in ``adapter.py``, Artemis management in
``artemis.py``, and the link option every AMQP 1.0 client of the package shares (the bench
target, the bridge source); connections are made by :mod:`mqmigrate.sources.connect`."""

from __future__ import annotations

from typing import Any

#: the shadow copy's queue: the source queue's name with this suffix (the adapter makes it,
#: the Artemis management removes it)
SHADOW_SUFFIX = ".mqmigrate-shadow"
#: a divert is a binding, so its name must differ from the shadow queue's
DIVERT_SUFFIX = ".mqmigrate-shadow-divert"


def queue_capability() -> Any:
    """A link option asking for point-to-point (anycast) delivery.

    Artemis auto-creates an address as multicast unless the link carries the ``queue``
    capability; multicast would hand every message to every consumer.  Put on the target of a
    sender and the source of a receiver.
    """
    from proton import symbol
    from proton.reactor import LinkOption

    class QueueCapability(LinkOption):
        def apply(self, link: Any) -> None:
            terminus = link.target if link.is_sender else link.source
            terminus.capabilities.put_symbol(symbol("queue"))

    return QueueCapability()
