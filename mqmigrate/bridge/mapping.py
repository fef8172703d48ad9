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

Header mapping (a playbook's ``mapping.headers``, :class:`HeaderMapping`) applies to the
message's *application* headers (AMQP 0-9-1 header table, AMQP 1.0 application-properties,
SQS message attributes); the bridge's own ``mq.*`` headers are never renamed or dropped:

* ``drop: [NAME, ...]``: the header is left out of the record (the key strategy still sees it,
  so ``header:NAME`` keys work on a dropped header);
* ``rename: {NAME: KAFKA_NAME}``: the header becomes a plain Kafka header ``KAFKA_NAME`` whose
  value is UTF-8 text (bytes as they are, an SQS attribute's value, a nested table or list as
  its typed JSON) instead of an entry of the typed ``mq.*`` section.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from mqmigrate import headers as mqheaders
from mqmigrate.errors import ConfigError, UsageError
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
                raise UsageError(
                    f"--key-from {text}: a message id cannot be the key",
                    hint="ids are unique; use a group or entity header instead",
                )
            return cls("header", name)
        raise UsageError(
            f"bad --key-from {text!r}", hint="use auto, group, routing-key, header:NAME or none"
        )

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


#: a playbook ``mapping.key`` -> the bridge's ``--key-from``
_KEY_FROM_PLAYBOOK = {
    "none": "none",
    "message-group-id": "group",
    "amqp-group-id": "group",
    "routing-key": "routing-key",
}


def key_from_playbook(mapping_key: str) -> str:
    """The ``--key-from`` strategy for a playbook ``mapping.key`` (``message-group-id`` and
    ``amqp-group-id`` are both the source's group key)."""
    if mapping_key.startswith("header:"):
        return mapping_key
    try:
        return _KEY_FROM_PLAYBOOK[mapping_key]
    except KeyError:
        raise ConfigError(
            f"unknown mapping.key {mapping_key!r}",
            hint="none, message-group-id, routing-key, amqp-group-id or header:NAME",
        ) from None


@dataclass(frozen=True)
class HeaderMapping:
    """Renames and drops of application headers (see the module doc)."""

    rename: Mapping[str, str] = dataclasses.field(default_factory=dict)
    drop: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "drop", frozenset(self.drop))
        for source_name, kafka_name in self.rename.items():
            if kafka_name.startswith(mqheaders.PREFIX):
                raise ConfigError(
                    f"mapping.headers.rename: {source_name!r} -> {kafka_name!r}: "
                    f"names starting with {mqheaders.PREFIX!r} are the bridge's own",
                    hint="choose a Kafka header name without the mq. prefix",
                )
            if not kafka_name:
                raise ConfigError(f"mapping.headers.rename: {source_name!r} has an empty name")
            if source_name in self.drop:
                raise ConfigError(
                    f"mapping.headers: {source_name!r} is both renamed and dropped",
                    hint="keep one of the two",
                )
        targets = list(self.rename.values())
        twice = sorted({name for name in targets if targets.count(name) > 1})
        if twice:
            raise ConfigError(f"mapping.headers.rename: several headers renamed to {twice[0]!r}")

    def __bool__(self) -> bool:
        return bool(self.rename or self.drop)

    def encoder(self) -> Callable[[Envelope], list[tuple[str, bytes]]]:
        """``envelope -> Kafka headers``; plain :func:`mqmigrate.headers.encode` when there is
        nothing to map, so an empty mapping costs nothing per message."""
        if not self:
            return mqheaders.encode
        rename, drop = dict(self.rename), self.drop
        touched = drop | set(rename)

        def encode(env: Envelope) -> list[tuple[str, bytes]]:
            if not env.headers or touched.isdisjoint(env.headers):
                return mqheaders.encode(env)
            kept = {k: v for k, v in env.headers.items() if k not in touched}
            plain = [(rename[k], _header_text(v)) for k, v in env.headers.items() if k in rename]
            return mqheaders.encode(dataclasses.replace(env, headers=kept)) + plain

        return encode


def _header_text(value: Any) -> bytes:
    """A renamed header's value as a plain Kafka header (UTF-8 text)."""
    if isinstance(value, dict) and "DataType" in value:  # an SQS attribute
        value = sqs_attribute_value(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (dict, list, tuple)):  # no text form: keep the typed encoding
        return json.dumps(
            mqheaders.encode_value(value), separators=(",", ":"), ensure_ascii=False
        ).encode()
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat().encode()
    return str(value).encode()


def _b(value: Any) -> bytes | None:
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        return value
    return str(value).encode()
