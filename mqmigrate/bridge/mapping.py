"""How a source message becomes a Kafka record: key strategy and headers.

Key strategies (``--key-from``):

* ``auto`` (default): the source's natural group key (SQS MessageGroupId, AMQP 1.0
  group-id, the memory adapter's group) when it has one, else no key (round-robin);
* ``group``: that group key, and no key for messages without one;
* ``routing-key``: the AMQP routing key the message was published with;
* ``header:NAME``: the value of application header NAME (an SQS attribute's value);
* ``none``: never a key.

The key is never derived from the message id: ids are unique, so keying by them would
spread one ordering group over every partition and defeat the point of a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from mqmigrate.errors import UsageError
from mqmigrate.headers import sqs_attribute_value
from mqmigrate.sources.base import Envelope

_ID_NAMES = {"message_id", "message-id", "messageid", "mq.source.id", "mq.message-id"}


@dataclass(frozen=True)
class KeyStrategy:
    kind: str
    header: str | None = None

    @classmethod
    def parse(cls, text: str) -> "KeyStrategy":
        """``auto`` | ``group`` | ``routing-key`` | ``header:NAME`` | ``none``."""
        text = text.strip()
        if text in ("auto", "group", "routing-key", "none"):
            return cls(text)
        if text.startswith("header:") and len(text) > len("header:"):
            name = text.split(":", 1)[1]
            if name.lower() in _ID_NAMES:
                raise UsageError(f"--key-from {text}: a message id cannot be the key",
                                 hint="ids are unique; use a group or entity header instead")
            return cls("header", name)
        raise UsageError(f"bad --key-from {text!r}",
                         hint="use auto, group, routing-key, header:NAME or none")

    def function(self) -> Callable[[Envelope], bytes | None]:
        """A fast ``envelope -> key bytes`` function for this strategy."""
        if self.kind in ("auto", "group"):
            return lambda env: env.key.encode() if env.key else None
        if self.kind == "routing-key":
            return lambda env: _b(env.coordinates.get("routing_key"))
        if self.kind == "header":
            name = self.header

            def from_header(env: Envelope) -> bytes | None:
                value = env.headers.get(name)
                if isinstance(value, dict) and "DataType" in value:  # an SQS attribute
                    value = sqs_attribute_value(value)
                return _b(value)

            return from_header
        return lambda env: None


def _b(value: Any) -> bytes | None:
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        return value
    return str(value).encode()
