"""AMQP 1.0 (python-qpid-proton): the bridge source in ``adapter.py``, Artemis management in
``artemis.py``, and the connection pieces every AMQP 1.0 client of the package shares
(``doctor``'s probe, the bench target, the bridge source)."""

from __future__ import annotations

from typing import Any

from mqmigrate.sources.uri import SourceURI


def connection_args(source: SourceURI) -> tuple[str, dict[str, Any]]:
    """The proton URL and ``BlockingConnection`` keyword arguments for an ``amqp1://`` /
    ``amqp1s://`` endpoint: SASL PLAIN with the URI's user and password when it has a user."""
    scheme = "amqps" if source.tls else "amqp"
    kwargs: dict[str, Any] = {}
    if source.username:
        kwargs = {"user": source.username, "allowed_mechs": "PLAIN",
                  "password": source.password.reveal() if source.password else ""}
    return f"{scheme}://{source.host}:{source.port}", kwargs


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
