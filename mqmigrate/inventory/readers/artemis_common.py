"""ActiveMQ Artemis address settings and queues → :class:`Queue`, shared by the ``broker.xml``
reader (:mod:`artemis_xml`) and the live Jolokia reader (:mod:`artemis_jolokia`), so both sources
of one broker give the same queues and the same findings.

Address settings are keyed by their JSON names (what ``getAddressSettingsAsJSON`` answers);
``broker.xml`` element names map onto them (:data:`XML_SETTINGS`).  Matching follows Artemis's
``HierarchicalObjectRepository``: every ``match`` that matches the address applies, the most
specific first, and each field left unset by a more specific match is taken from the next one.
Specificity (``MatchComparator``): a match without ``#`` beats one with ``#`` (between two with
``#`` the longer wins); then one without ``*`` beats one with ``*``; between two with ``*`` the
word-by-word comparison prefers a literal word over ``*``, and then the longer match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cmp_to_key
from typing import Any, Callable

from mqmigrate.inventory.model import DeadLetter, Queue

#: broker defaults the rules need when no setting names them (AddressSettings.DEFAULT_*)
DEFAULT_MAX_DELIVERY_ATTEMPTS = 10
FULL_POLICIES = ("PAGE", "BLOCK", "FAIL", "DROP")

#: broker.xml ``address-setting`` element → JSON key, for the settings the rules read
XML_SETTINGS = {
    "max-delivery-attempts": "maxDeliveryAttempts",
    "redelivery-delay": "redeliveryDelay",
    "redelivery-delay-multiplier": "redeliveryMultiplier",
    "max-redelivery-delay": "maxRedeliveryDelay",
    "dead-letter-address": "deadLetterAddress",
    "expiry-address": "expiryAddress",
    "expiry-delay": "expiryDelay",
    "max-size-bytes": "maxSizeBytes",
    "max-size-messages": "maxSizeMessages",
    "address-full-policy": "addressFullMessagePolicy",
    "last-value-queue": "defaultLastValueQueue",  # deprecated spelling of the next one
    "default-last-value-queue": "defaultLastValueQueue",
    "default-last-value-key": "defaultLastValueKey",
    "default-non-destructive": "defaultNonDestructive",
    "default-exclusive-queue": "defaultExclusiveQueue",
    "default-group-rebalance": "defaultGroupRebalance",
    "default-group-buckets": "defaultGroupBuckets",
    "default-ring-size": "defaultRingSize",
}
_INT = {
    "maxDeliveryAttempts",
    "redeliveryDelay",
    "maxRedeliveryDelay",
    "expiryDelay",
    "maxSizeMessages",
    "defaultGroupBuckets",
    "defaultRingSize",
}
_BYTES = {"maxSizeBytes"}
_FLOAT = {"redeliveryMultiplier"}
_BOOL = {
    "defaultLastValueQueue",
    "defaultNonDestructive",
    "defaultExclusiveQueue",
    "defaultGroupRebalance",
}

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
}


def parse_bytes(text: str) -> int:
    """Artemis byte notation (``10M``, ``512KiB``, ``-1``) → bytes; ValueError if not one."""
    m = re.fullmatch(r"\s*(-?\d+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(text)
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def typed_setting(key: str, raw: Any) -> Any:
    """One setting value with its type (XML gives text, Jolokia JSON values); ValueError when
    the text is not of the setting's type."""
    if raw is None:
        return None
    if key in _BOOL:
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() in ("true", "false"):
            return str(raw).strip().lower() == "true"
        raise ValueError(raw)
    if key in _BYTES:
        return raw if isinstance(raw, int) and not isinstance(raw, bool) else parse_bytes(str(raw))
    if key in _INT:
        return int(str(raw).strip())
    if key in _FLOAT:
        return float(str(raw).strip())
    text = str(raw).strip()
    return text or None


# ------------------------------------------------------------------------------ wildcards


@dataclass(frozen=True)
class Wildcards:
    """``<wildcard-addresses>``: the delimiter and the two wildcard words."""

    delimiter: str = "."
    any_words: str = "#"
    single_word: str = "*"

    def matches(self, pattern: str, address: str) -> bool:
        """Whether address-setting ``match`` ``pattern`` covers ``address``."""
        if pattern == address:
            return True
        if self.any_words not in pattern and self.single_word not in pattern:
            return False
        return _words_match(pattern.split(self.delimiter), address.split(self.delimiter), self)

    def compare(self, left: str, right: str) -> int:
        """Artemis's MatchComparator: negative when ``left`` is the more specific match."""
        a, s = self.any_words, self.single_word
        if a in left and a not in right:
            return 1
        if a not in left and a in right:
            return -1
        if a in left and a in right:
            return len(right) - len(left)
        if s in left and s not in right:
            return 1
        if s not in left and s in right:
            return -1
        if s in left and s in right:
            lw, rw = left.split(self.delimiter), right.split(self.delimiter)
            for i, word in enumerate(lw):
                if i >= len(rw):
                    return -1
                if word == s and rw[i] != s:
                    return 1
                if word != s and rw[i] == s:
                    return -1
        return len(right) - len(left)


def _words_match(pattern: list[str], words: list[str], wc: Wildcards) -> bool:
    """Word-wise match, ``#`` standing for zero or more words (``a.#`` matches ``a``), ``*``
    for one; dynamic programming, so a hostile match like ``#.#.#.#`` stays linear-ish."""
    # reach[j]: the first i pattern words can match the first j address words
    reach = [True] + [False] * len(words)
    for p in pattern:
        if p == wc.any_words:
            for j in range(1, len(words) + 1):
                reach[j] = reach[j] or reach[j - 1]
        else:
            reach = [False] + [
                reach[j - 1] and (p == wc.single_word or p == words[j - 1])
                for j in range(1, len(words) + 1)
            ]
    return reach[len(words)]


def effective_settings(
    address: str, matches: dict[str, dict[str, Any]], wildcards: Wildcards = Wildcards()
) -> tuple[dict[str, Any], list[str]]:
    """The merged settings of ``address`` and the matches that gave them, most specific first."""
    hits = [m for m in matches if wildcards.matches(m, address)]
    hits.sort(key=cmp_to_key(wildcards.compare))
    merged: dict[str, Any] = {}
    for m in hits:
        for k, v in matches[m].items():
            if v is not None and k not in merged:
                merged[k] = v
    return merged, hits


# ------------------------------------------------------------------------------ queues


def queue_for(
    *, address: str, name: str, routing: str, settings: dict[str, Any], attrs: dict[str, Any]
) -> Queue:
    """One Artemis queue as a :class:`Queue`.

    ``settings`` are the address's merged settings (JSON keys, unset ones absent); ``attrs`` the
    queue's own values, which win over the ``default-*`` settings because Artemis copies those
    into a queue when it creates it: ``exclusive``, ``last_value``, ``last_value_key``,
    ``non_destructive``, ``group_rebalance``, ``group_buckets``, ``ring_size``, ``filter``,
    ``durable``, ``auto_delete``, ``temporary``, ``depth``, ``consumers``, ``in_flight``,
    ``scheduled``.
    """

    def attr(key: str, setting: str) -> Any:
        return attrs[key] if attrs.get(key) is not None else settings.get(setting)

    routing = "multicast" if str(routing).lower() == "multicast" else "anycast"
    extra: dict[str, Any] = {
        "address": address,
        "routing": routing,
        "attribute_names": {
            "single_active_consumer": "exclusive",
            "max_length": "max-size-messages",
            "delivery_limit": "max-delivery-attempts",
            "dead_letter": "dead-letter-address",
        },
    }
    defaulted: set[str] = set()

    limit = _delivery_limit(settings, defaulted)
    dla = settings.get("deadLetterAddress")
    dead = DeadLetter(target=dla) if dla and dla != address else None
    expiry = settings.get("expiryAddress")
    if expiry and expiry != address:
        extra["expiry_address"] = expiry
    # Artemis moves an expired message to the expiry address (or drops it), never to the
    # dead-letter address
    extra["expiry_dead_lettered"] = False
    # the queue's own address-settings send dead letters / expired messages to its address:
    # it is a dead-letter or expiry queue even before a queue dead-letters or expires into it
    own = [
        setting
        for setting, value in (("dead-letter-address", dla), ("expiry-address", expiry))
        if value == address
    ]
    if own:
        extra["own_address_is"] = own
    redelivery = _redelivery(settings, extra)

    size = settings.get("maxSizeBytes")
    count = settings.get("maxSizeMessages")
    policy = _full_policy(settings)
    if policy is not None:
        extra["address_full_policy"] = policy

    _last_value(attr, attrs, extra)
    if attr("non_destructive", "defaultNonDestructive"):
        extra["non_destructive"] = True
    ring = attr("ring_size", "defaultRingSize")
    if ring is not None and ring > 0:
        extra["ring_size"] = ring
    groups = _message_groups(attr, extra)
    exclusive = bool(attr("exclusive", "defaultExclusiveQueue"))
    if attrs.get("filter"):
        extra["filter"] = attrs["filter"]
    if attrs.get("scheduled"):
        extra["scheduled"] = True

    durable = attrs.get("durable")
    if attrs.get("temporary"):
        durable = False
    arguments = {k: v for k, v in settings.items() if v is not None}
    return Queue(
        name=name,
        type=routing,
        durable=durable,
        exclusive=False,
        auto_delete=attrs.get("auto_delete", False),
        arguments=arguments,
        # an exclusive queue sends every message to one consumer at a time: ordering, not RPC
        single_active_consumer=exclusive or None,
        message_groups=groups or None,
        delay=redelivery / 1000 if redelivery > 0 else None,
        message_ttl=(
            settings["expiryDelay"] / 1000 if (settings.get("expiryDelay") or 0) > 0 else None
        ),
        max_length=count if count is not None and count > 0 else None,
        max_length_bytes=size if size is not None and size > 0 else None,
        overflow=policy if ((size or 0) > 0 or (count or 0) > 0) else None,
        dead_letter=dead,
        delivery_limit=limit,
        depth=attrs.get("depth"),
        in_flight=attrs.get("in_flight"),
        consumer_count=attrs.get("consumers"),
        defaulted=defaulted,
        extra=extra,
    )


def _delivery_limit(settings: dict[str, Any], defaulted: set[str]) -> int:
    """max-delivery-attempts as a delivery limit (-1: unlimited); Artemis's default is
    recorded in ``defaulted``."""
    attempts = settings.get("maxDeliveryAttempts")
    if attempts is None:
        defaulted.add("delivery_limit")
        return DEFAULT_MAX_DELIVERY_ATTEMPTS
    return -1 if attempts in (0, -1) or attempts < 0 else attempts


def _redelivery(settings: dict[str, Any], extra: dict[str, Any]) -> Any:
    """The redelivery delay in ms (0: none); a growing delay's multiplier and cap go in
    ``extra``."""
    redelivery = settings.get("redeliveryDelay") or 0
    multiplier = settings.get("redeliveryMultiplier")
    if redelivery > 0 and multiplier is not None and multiplier > 1:
        extra["redelivery_multiplier"] = multiplier
        # Artemis caps the growing delay at max-redelivery-delay, by default 10 x the delay
        cap = settings.get("maxRedeliveryDelay")
        extra["max_redelivery_delay_ms"] = (
            cap if cap is not None else f"{redelivery * 10} (default)"
        )
    return redelivery


def _full_policy(settings: dict[str, Any]) -> str | None:
    """address-full-policy, upper-case, when it is one Artemis knows."""
    policy = settings.get("addressFullMessagePolicy")
    policy = str(policy).upper() if policy else None
    if policy is not None and policy not in FULL_POLICIES:
        policy = None
    return policy


def _last_value(
    attr: Callable[[str, str], Any], attrs: dict[str, Any], extra: dict[str, Any]
) -> None:
    """A last-value queue (the queue's own setting, else the address's) and its key."""
    last_value_key = attr("last_value_key", "defaultLastValueKey")
    if attrs.get("last_value") is False and not attrs.get("last_value_key"):
        last_value = False  # the queue opts out of the address's last-value default
    else:
        last_value = bool(attr("last_value", "defaultLastValueQueue")) or bool(last_value_key)
    if last_value:
        extra["last_value"] = True
        extra["last_value_key"] = last_value_key or "_AMQ_LVQ_NAME"


def _message_groups(attr: Callable[[str, str], Any], extra: dict[str, Any]) -> bool:
    """Whether the queue has message groups (rebalancing or buckets), noted in ``extra``."""
    rebalance = bool(attr("group_rebalance", "defaultGroupRebalance"))
    buckets = attr("group_buckets", "defaultGroupBuckets")
    groups = rebalance or (buckets is not None and buckets > 0)
    if groups:
        extra["group_rebalance"] = rebalance
        if buckets is not None and buckets > 0:
            extra["group_buckets"] = buckets
    return groups
