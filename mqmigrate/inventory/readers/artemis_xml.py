"""ActiveMQ Artemis ``broker.xml`` (the ``<configuration>`` with a ``<core>`` of namespace
``urn:activemq:core``), read offline.

Reads ``<addresses>`` (each ``anycast`` / ``multicast`` routing type with its queues and their
attributes), the legacy ``<queues>`` list, ``<address-settings>`` matched per address with
Artemis's wildcard precedence and merging (:mod:`artemis_common`), ``<wildcard-addresses>``
(delimiter and wildcard words) and ``<diverts>``.  A multicast address becomes a fan-out
exchange bound to its subscription queues; a divert becomes a binding from its address to its
forwarding address, so routing rules see ``address -> forwarding-address -> queue``.

The file is untrusted input: a document type declaration (the vehicle of entity expansion
attacks) is refused — a broker.xml never needs one — and ``xi:include`` is not followed (it is
named in the source's notes).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from mqmigrate.errors import ConfigError
from mqmigrate.inventory.model import Binding, Exchange, Queue, Source
from mqmigrate.inventory.readers.artemis_common import (
    XML_SETTINGS,
    Wildcards,
    effective_settings,
    queue_for,
    typed_setting,
)
from mqmigrate.inventory.readers.rabbitmq_common import flatten

CORE_NS = "urn:activemq:core"
_DOCTYPE = re.compile(r"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def looks_like(text: str) -> bool:
    """XML whose text names the Artemis core namespace or opens a ``<configuration>`` with a
    ``<core>`` element."""
    head = text.lstrip()
    if not head.startswith("<"):
        return False
    return CORE_NS in text or ("<configuration" in text and "<core" in text)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(elem: ET.Element | None, name: str) -> ET.Element | None:
    if elem is None:
        return None
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _children(elem: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in (elem if elem is not None else []) if _local(c.tag) == name]


def _text(elem: ET.Element | None, name: str) -> str | None:
    c = _child(elem, name)
    if c is None or c.text is None:
        return None
    return c.text.strip() or None


def _bool(raw: str | None, where: str, path: Path) -> bool | None:
    if raw is None:
        return None
    if raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ConfigError(f"{path}: {where}: expected true or false, got {raw!r}")


def _int(raw: str | None, where: str, path: Path) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(f"{path}: {where}: expected an integer, got {raw!r}") from None


def parse(path: Path, text: str) -> ET.Element:
    """The document's root element; ConfigError with file:line for malformed XML."""
    if _DOCTYPE.search(text):
        raise ConfigError(
            f"{path}: XML with a document type declaration is refused "
            "(entity expansion); a broker.xml needs none"
        )
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        line, col = exc.position
        raise ConfigError(
            f"{path}:{line}:{col + 1}: invalid XML: {str(exc).split(':')[0]}"
        ) from exc


def _settings(core: ET.Element, path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    block = _child(core, "address-settings")
    for s in _children(block, "address-setting"):
        match = s.get("match")
        if match is None:
            raise ConfigError(f"{path}: address-setting without a match attribute")
        values: dict[str, Any] = {}
        for c in s:
            key = XML_SETTINGS.get(_local(c.tag))
            if key is None or c.text is None or not c.text.strip():
                continue  # settings the rules do not read are ignored
            try:
                values[key] = typed_setting(key, c.text)
            except ValueError:
                raise ConfigError(
                    f"{path}: address-setting {match!r}: {_local(c.tag)}: "
                    f"invalid value {c.text.strip()!r}"
                ) from None
        # a later address-setting with the same match replaces the earlier one (as in Artemis)
        out[match] = values
    return out


def _queue_attrs(q: ET.Element, where: str, path: Path) -> dict[str, Any]:
    filt = _child(q, "filter")
    durable = _text(q, "durable")
    return {
        "exclusive": _bool(q.get("exclusive"), f"{where} exclusive", path),
        "last_value": _bool(q.get("last-value"), f"{where} last-value", path),
        "last_value_key": q.get("last-value-key") or None,
        "non_destructive": _bool(q.get("non-destructive"), f"{where} non-destructive", path),
        "group_rebalance": _bool(q.get("group-rebalance"), f"{where} group-rebalance", path),
        "group_buckets": _int(q.get("group-buckets"), f"{where} group-buckets", path),
        # the broker gives a queue of broker.xml the static ring size (-1), never the
        # address's default-ring-size (that one is for auto-created queues): seen on 2.40
        "ring_size": _int(q.get("ring-size"), f"{where} ring-size", path) or -1,
        "filter": filt.get("string") if filt is not None else None,
        "durable": _bool(durable, f"{where} durable", path) if durable is not None else True,
    }


#: one queue the file declares: (address, routing type, queue name, attributes)
_Declared = tuple[str, str, str, dict[str, Any]]


def read(path: Path, text: str) -> Source:
    """Read a broker.xml into a :class:`Source` (kind ``amqp1``)."""
    root = parse(path, text)
    core = _core(root, path)
    notes = _notes(root, core)
    wildcards = _wildcards(core)
    matches = _settings(core, path)

    # (address, routing, queue name, attrs) in file order
    found: list[_Declared] = []
    multicast: set[str] = set()
    addresses: set[str] = set()
    _address_queues(core, path, found, multicast, addresses)
    _pre_2_0_queues(core, path, found, addresses)
    _jms_queues(root, path, found, addresses)
    if not found:
        diverts_count = len(_children(_child(core, "diverts"), "divert"))
        raise ConfigError(
            f"{path}: no queue in this broker.xml (found {len(addresses)} addresses without "
            f"queues, {len(matches)} address-settings, {diverts_count} diverts)",
            hint="queues the broker auto-creates are not in the file: assess the live broker "
            "(artemis+http://user@host:8161)",
        )
    queues = _queues(found, matches, wildcards)
    exchanges, bindings = _routing(core, path, found, multicast, notes)
    broker = _text(core, "name") or path.stem
    return Source(
        kind="amqp1",
        name=f"artemis {broker}",
        endpoint=str(path),
        queues=queues,
        exchanges=exchanges,
        bindings=bindings,
        edges=flatten(exchanges, bindings),
        live=False,
        notes=notes,
    )


def _core(root: ET.Element, path: Path) -> ET.Element:
    """The ``<core>`` element (the root itself, or nested in a ``<configuration>``)."""
    core = (
        root
        if _local(root.tag) == "core"
        else next((e for e in root.iter() if _local(e.tag) == "core"), None)
    )
    if core is None:
        raise ConfigError(
            f"{path}: XML without the Artemis <core> element",
            hint="pass the broker's etc/broker.xml",
        )
    return core


def _notes(root: ET.Element, core: ET.Element) -> list[str]:
    """The source's notes: the ``xi:include`` not followed and the AMQP 1.0 acceptors."""
    notes = [
        f"xi:include {e.get('href')} not followed"
        for e in root.iter()
        if _local(e.tag) == "include"
    ]
    for acc in _children(_child(core, "acceptors"), "acceptor"):
        url = (acc.text or "").strip()
        protocols = re.search(r"protocols=([A-Za-z,]+)", url)
        if url and (protocols is None or "AMQP" in protocols.group(1).upper().split(",")):
            # where the bridge could connect (AMQP 1.0); the host is often 0.0.0.0 here
            notes.append(f"AMQP 1.0 acceptor {acc.get('name')}: {url.split('?', 1)[0]}")
    return notes


def _wildcards(core: ET.Element) -> Wildcards:
    wc_elem = _child(core, "wildcard-addresses")
    return Wildcards(
        delimiter=_text(wc_elem, "delimiter") or ".",
        any_words=_text(wc_elem, "any-words") or "#",
        single_word=_text(wc_elem, "single-word") or "*",
    )


def _address_queues(
    core: ET.Element,
    path: Path,
    found: list[_Declared],
    multicast: set[str],
    addresses: set[str],
) -> None:
    """The queues of ``<addresses>`` (the 2.x layouts), appended to ``found``; multicast
    addresses also to ``multicast``, every address to ``addresses``."""
    for a in _children(_child(core, "addresses"), "address"):
        aname = a.get("name")
        if not aname:
            raise ConfigError(f"{path}: <address> without a name attribute")
        addresses.add(aname)
        blocks = [(r, _child(a, r)) for r in ("anycast", "multicast")]
        if _child(a, "queues") is not None:
            # the 2.0 layout: <address name=".." type="anycast"><queues><queue/></queues>
            blocks.append(((a.get("type") or "anycast").lower(), _child(a, "queues")))
        for routing, block in blocks:
            if block is None:
                continue
            if routing == "multicast":
                multicast.add(aname)
            for q in _children(block, "queue"):
                qname = q.get("name")
                if not qname:
                    raise ConfigError(f"{path}: address {aname!r}: <queue> without a name")
                found.append((aname, routing, qname, _queue_attrs(q, f"queue {qname!r}", path)))


def _pre_2_0_queues(
    core: ET.Element, path: Path, found: list[_Declared], addresses: set[str]
) -> None:
    """The pre-2.0 layout: <queues><queue name=".."><address>..</address></queue></queues>."""
    for q in _children(_child(core, "queues"), "queue"):
        qname = q.get("name")
        if not qname:
            raise ConfigError(f"{path}: <queue> without a name attribute")
        aname = _text(q, "address") or qname
        routing = (_text(q, "routing-type") or "anycast").lower()
        addresses.add(aname)
        found.append((aname, routing, qname, _queue_attrs(q, f"queue {qname!r}", path)))


def _jms_queues(root: ET.Element, path: Path, found: list[_Declared], addresses: set[str]) -> None:
    """Artemis 1.x: <jms><queue name="q"/></jms> next to <core> is the core queue
    jms.queue.q; a <jms><topic> is an address."""
    jms = next((e for e in root.iter() if _local(e.tag) == "jms"), None)
    for q in _children(jms, "queue"):
        qname = q.get("name")
        if not qname:
            raise ConfigError(f"{path}: <jms> <queue> without a name attribute")
        selector = _child(q, "selector")
        attrs = {
            "durable": _bool(_text(q, "durable"), f"jms queue {qname!r} durable", path)
            if _text(q, "durable") is not None
            else True,
            "filter": selector.get("string") if selector is not None else None,
            "ring_size": -1,
        }
        addresses.add(f"jms.queue.{qname}")
        found.append((f"jms.queue.{qname}", "anycast", f"jms.queue.{qname}", attrs))
    for t in _children(jms, "topic"):
        if t.get("name"):
            addresses.add(f"jms.topic.{t.get('name')}")


def _queues(
    found: list[_Declared], matches: dict[str, dict[str, Any]], wildcards: Wildcards
) -> list[Queue]:
    """Each declared queue with the address-settings that apply to its address."""
    queues: list[Queue] = []
    for aname, routing, qname, attrs in found:
        settings, applied = effective_settings(aname, matches, wildcards)
        q = queue_for(address=aname, name=qname, routing=routing, settings=settings, attrs=attrs)
        if applied:
            q.extra["address_settings"] = applied
        queues.append(q)
    return queues


def _routing(
    core: ET.Element,
    path: Path,
    found: list[_Declared],
    multicast: set[str],
    notes: list[str],
) -> tuple[list[Exchange], list[Binding]]:
    """Multicast addresses as fan-out exchanges bound to their queues, and each divert as a
    binding from its address to its forwarding address (an exclusive one also noted)."""
    exchanges: list[Exchange] = []
    bindings: list[Binding] = []
    for aname in sorted(multicast):
        exchanges.append(Exchange(name=aname, type="fanout"))
    for aname, routing, qname, _ in found:
        if routing == "multicast":
            bindings.append(Binding(source=aname, destination=qname))
    diverts = _children(_child(core, "diverts"), "divert")
    for d in diverts:
        dname = d.get("name") or "(unnamed divert)"
        src, dst = _text(d, "address"), _text(d, "forwarding-address")
        if not src or not dst:
            raise ConfigError(f"{path}: divert {dname!r} needs address and forwarding-address")
        filt = _child(d, "filter")
        key = filt.get("string") if filt is not None and filt.get("string") else ""
        exclusive = _bool(_text(d, "exclusive"), f"divert {dname!r} exclusive", path) or False
        for name in (src, dst):
            if not any(e.name == name for e in exchanges):
                exchanges.append(
                    Exchange(name=name, type="fanout" if name in multicast else "direct")
                )
                if name not in multicast:
                    bindings.extend(
                        Binding(source=name, destination=qn, routing_key=qn)
                        for an, _, qn, _ in found
                        if an == name
                    )
        bindings.append(
            Binding(
                source=src,
                destination=dst,
                destination_type="exchange",
                routing_key=key,
                arguments={
                    "divert": dname,
                    "exclusive": exclusive,
                    **(
                        {"routing-type": _text(d, "routing-type")}
                        if _text(d, "routing-type")
                        else {}
                    ),
                },
            )
        )
        if exclusive:
            notes.append(f"divert {dname}: messages sent to {src} go only to {dst}")
    return exchanges, bindings
