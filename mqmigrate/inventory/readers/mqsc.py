"""IBM MQ MQSC scripts (what ``runmqsc`` reads, ``dmpmqcfg`` writes), read offline.

What is read: ``DEFINE``/``ALTER``/``DELETE`` of ``QLOCAL``, ``QALIAS``, ``QREMOTE`` and
``QMODEL`` (short forms ``QL``/``QA``/``QR``/``QM``, ``DEF``), ``LIKE`` (copied when the queue
is defined, so chains resolve in file order), ``REPLACE`` / ``NOREPLACE``, and the queue
manager's dead-letter queue (``ALTER QMGR DEADQ``).  MQSC syntax: ``*`` starts a comment line;
a line ending in ``+`` continues from the first non-blank character of the next line, one ending
in ``-`` from its first column; names not in quotes are upper-cased, ``''`` inside quotes is a
quote.  Other commands (channels, authorities, topics) and attributes the rules do not read are
ignored; a script without any queue definition is an error naming what it holds.

Attribute meanings (defaults of ``SYSTEM.DEFAULT.LOCAL.QUEUE`` when unset, marked default):

* ``BOTHRESH``/``BOQNAME``: the backout threshold and queue are a *client-side* contract — the
  JMS/XMS clients move a message whose backout count reaches the threshold to ``BOQNAME`` (or
  the queue manager's ``DEADQ`` when it is blank); the queue manager itself never does.  Read as
  the retry limit and the dead-letter target; ``BOTHRESH(0)`` (default) retries forever.
* ``MAXMSGL`` (4194304) → maximum message size; ``MAXDEPTH`` (5000) → maximum length, puts to a
  full queue fail (``MQRC_Q_FULL``).
* ``NOSHARE`` or ``DEFSOPT(EXCL)`` → one consumer at a time; ``INDXTYPE(GROUPID)`` → message
  groups; ``MSGDLVSQ(PRIORITY)`` (default) → priority order, ``DEFPRTY``, ``DEFPSIST`` kept.
* ``TRIGGER`` with ``TRIGTYPE``/``INITQ``/``PROCESS``/``TRIGDPTH`` → a consumer started on arrival.

Reported apart, not as workloads: ``SYSTEM.*`` queues, transmission (``USAGE(XMITQ)``) and
initiation queues, remote and model queues, and the ``DEADQ`` when nothing backs out into it.
Aliases become routes (an exchange bound to the target queue).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from mqmigrate.errors import ConfigError
from mqmigrate.inventory.model import Binding, DeadLetter, Exchange, Queue, Source
from mqmigrate.inventory.readers.rabbitmq_common import flatten

_VERBS = {"DEFINE": "DEFINE", "DEF": "DEFINE", "ALTER": "ALTER", "ALT": "ALTER", "DELETE": "DELETE"}
_QTYPES = {
    "QLOCAL": "QLOCAL",
    "QL": "QLOCAL",
    "QALIAS": "QALIAS",
    "QA": "QALIAS",
    "QREMOTE": "QREMOTE",
    "QR": "QREMOTE",
    "QMODEL": "QMODEL",
    "QM": "QMODEL",
}
_COMMAND = re.compile(
    r"^\s*(DEFINE|DEF|ALTER|ALT|DELETE|SET|DISPLAY|DIS|START|STOP|REFRESH|CLEAR|RESET|END)"
    r"\s+[A-Z]+\b",
    re.IGNORECASE,
)
_QUEUE_DEFINE = re.compile(
    r"^\s*(DEFINE|DEF)\s+(QLOCAL|QL|QALIAS|QA|QREMOTE|QR|QMODEL|QM)\s*\(",
    re.IGNORECASE | re.MULTILINE,
)
_ATTR = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*)\s*(\()?")

#: SYSTEM.DEFAULT.LOCAL.QUEUE values the rules read, used when a definition leaves them unset
LOCAL_DEFAULTS = {
    "MAXDEPTH": "5000",
    "MAXMSGL": "4194304",
    "BOTHRESH": "0",
    "MSGDLVSQ": "PRIORITY",
    "DEFSOPT": "SHARED",
    "SHARE": "",
    "DEFPRTY": "0",
    "DEFPSIST": "NO",
    "USAGE": "NORMAL",
}
#: a keyword without value that switches another one (the pair is stored under the first)
_FLAGS = {
    "SHARE": ("SHARE", "YES"),
    "NOSHARE": ("SHARE", "NO"),
    "TRIGGER": ("TRIGGER", "YES"),
    "NOTRIGGER": ("TRIGGER", "NO"),
    "REPLACE": ("REPLACE", "YES"),
    "NOREPLACE": ("REPLACE", "NO"),
}
_SYNONYMS = {"TARGQ": "TARGET"}


def looks_like(text: str) -> bool:
    """A script with at least one queue definition, or whose lines are mostly MQSC commands."""
    if _QUEUE_DEFINE.search(text):
        return True
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("*")]
    commands = [ln for ln in lines if _COMMAND.match(ln)]
    return bool(commands) and len(commands) * 2 >= len(lines)


def commands(text: str) -> list[tuple[int, str]]:
    """(first line number, command text) with comments dropped and continuations joined."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    strip_next = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("*")):
            continue
        if buf and line.lstrip().startswith("*") and not line.rstrip().endswith(("+", "-")):
            continue  # a comment line between continued lines
        if not buf:
            start = number
        piece = line.lstrip() if strip_next or not buf else line
        if piece.endswith("+"):
            buf.append(piece[:-1])
            strip_next = True
            continue
        if piece.endswith("-"):
            buf.append(piece[:-1])
            strip_next = False
            continue
        buf.append(piece)
        out.append((start, "".join(buf).strip()))
        buf, strip_next = [], False
    if buf:
        out.append((start, "".join(buf).strip()))
    return out


def _value(text: str, pos: int, where: str) -> tuple[str, int, bool]:
    """The value inside the parentheses opening before ``pos``: (value, end, quoted)."""
    i = pos
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] == "'":
        out = []
        i += 1
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    out.append("'")
                    i += 2
                    continue
                break
            out.append(text[i])
            i += 1
        else:
            raise ValueError(f"{where}: unterminated quoted string")
        end = text.find(")", i + 1)
        if end < 0:
            raise ValueError(f"{where}: missing ')'")
        return "".join(out), end + 1, True
    end = text.find(")", i)
    if end < 0:
        raise ValueError(f"{where}: missing ')'")
    return text[i:end].strip(), end + 1, False


def parse_command(text: str) -> tuple[list[str], dict[str, str], str | None]:
    """(leading keywords, attributes, object name) of one command; ValueError when malformed.

    ``DEFINE QLOCAL('A.B') MAXDEPTH(10) TRIGGER`` → (["DEFINE", "QLOCAL"], {"MAXDEPTH": "10",
    "TRIGGER": "YES"}, "A.B").  Unquoted values are upper-cased, as MQSC does.
    """
    words: list[str] = []
    attrs: dict[str, str] = {}
    name: str | None = None
    pos = 0
    while pos < len(text):
        m = _ATTR.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"unexpected {text[pos : pos + 20]!r}")
        key = m.group(1).upper()
        pos = m.end()
        if m.group(2):
            value, pos, quoted = _value(text, pos, key)
            value = value if quoted else value.upper()
            if name is None and len(words) == 1:  # VERB OBJECT(name): the object's name
                name = value
                words.append(key)
            else:
                attrs[_SYNONYMS.get(key, key)] = value
        elif name is None and not attrs and key not in _FLAGS:
            words.append(key)
        else:
            flag, value = _FLAGS.get(key, (key, "YES"))
            attrs[flag] = value
    return words, attrs, name


def _int(raw: str, key: str, unresolved: dict[str, str]) -> int | None:
    """``raw`` as a number; a value that is not one (a ``$VAR`` a deployment substitutes) is
    unknown and recorded in ``unresolved``."""
    try:
        return int(raw)
    except ValueError:
        unresolved[key] = raw
        return None


def read(path: Path, text: str) -> Source:
    """Read an MQSC script into a :class:`Source` (kind ``amqp1``: IBM MQ speaks AMQP 1.0)."""
    defs: dict[str, tuple[str, dict[str, str]]] = {}  # name → (type, attributes as set)
    order: list[str] = []
    deadq: str | None = None
    seen = Counter()
    notes: list[str] = []
    for line, cmd in commands(text):
        where = f"{path}:{line}"
        try:
            words, attrs, name = parse_command(cmd)
        except ValueError as exc:
            head = cmd.split("(", 1)[0].upper().split()
            if len(head) >= 2 and head[0] in _VERBS and (head[1] in _QTYPES or head[1] == "QMGR"):
                raise ConfigError(f"{where}: cannot read the MQSC command: {exc}") from None
            notes.append(f"line {line}: {' '.join(head[:2])} not read ({exc})")
            continue  # a channel or authority command the assessment does not need
        if not words:
            continue
        verb = _VERBS.get(words[0])
        objtype = _QTYPES.get(words[1]) if len(words) > 1 else None
        seen[" ".join(words[:2])] += 1
        if verb is None:
            continue
        if len(words) > 1 and words[1] == "QMGR" and verb == "ALTER":
            if "DEADQ" in attrs:
                deadq = attrs["DEADQ"] or None
            continue
        if objtype is None:
            continue  # channels, topics, authorities...: not queues
        if name is None:
            raise ConfigError(f"{where}: {verb} {words[1]} without a queue name")
        if verb == "DELETE":
            if name in defs:
                del defs[name]
                order.remove(name)
            continue
        if verb == "ALTER":
            if name not in defs:
                notes.append(
                    f"ALTER of {name} (line {line}) whose DEFINE is not in the file: "
                    "defaults assumed for what it does not set"
                )
                defs[name] = (objtype or "QLOCAL", {})
                order.append(name)
            kind, current = defs[name]
            current.update({k: v for k, v in attrs.items() if k not in ("REPLACE", "FORCE")})
            continue
        # DEFINE
        if name in defs and attrs.get("REPLACE") != "YES":
            notes.append(
                f"DEFINE {name} (line {line}) without REPLACE over an earlier "
                "definition: the queue manager keeps the first one"
            )
            continue
        base: dict[str, str] = {}
        like = attrs.get("LIKE")
        if like:
            if like in defs and defs[like][0] == objtype:
                base = dict(defs[like][1])
            elif not like.startswith("SYSTEM.DEFAULT."):
                notes.append(
                    f"{name}: LIKE({like}) is not defined earlier in the file: defaults assumed"
                )
        base.update({k: v for k, v in attrs.items() if k not in ("REPLACE", "LIKE")})
        if name not in defs:
            order.append(name)
        defs[name] = (objtype, base)

    if not defs:
        found = ", ".join(f"{k} x{n}" for k, n in sorted(seen.items())) or "no MQSC command"
        raise ConfigError(
            f"{path}: no queue definition (DEFINE QLOCAL/QALIAS/QREMOTE/QMODEL) "
            f"in this MQSC script; found: {found}",
            hint="pass the script that defines the queues (dmpmqcfg -t queue)",
        )
    return _source(path, defs, order, deadq, notes)


def _source(
    path: Path,
    defs: dict[str, tuple[str, dict[str, str]]],
    order: list[str],
    deadq: str | None,
    notes: list[str],
) -> Source:
    initqs = {a["INITQ"] for kind, a in defs.values() if a.get("INITQ")}
    apart: dict[str, list[str]] = {}
    queues: list[Queue] = []
    exchanges: list[Exchange] = []
    bindings: list[Binding] = []
    for name in order:
        kind, a = defs[name]
        if kind == "QREMOTE":
            target = a.get("RNAME") or "?"
            apart.setdefault("remote queues", []).append(
                f"{name} -> {target}@{a.get('RQMNAME') or '?'}"
            )
            continue
        if kind == "QMODEL":
            apart.setdefault("model queues", []).append(name)
            continue
        if kind == "QALIAS":
            target = a.get("TARGET")
            if not target or a.get("TARGTYPE", "QUEUE") != "QUEUE":
                apart.setdefault("alias queues", []).append(name)
                continue
            exchanges.append(Exchange(name=name, type="direct", arguments={"QALIAS": target}))
            bindings.append(Binding(source=name, destination=target, routing_key=name))
            continue
        if name.startswith("SYSTEM."):
            apart.setdefault("system queues", []).append(name)
            continue
        if a.get("USAGE", "NORMAL") in ("XMITQ", "TRANSMISSION"):
            apart.setdefault("transmission queues", []).append(name)
            continue
        if name in initqs:
            apart.setdefault("initiation queues", []).append(name)
            continue
        queues.append(_queue(name, a, deadq))

    if deadq:
        sinks = {q.dead_letter.target for q in queues if q.dead_letter}
        if deadq not in sinks and any(q.name == deadq for q in queues):
            queues = [q for q in queues if q.name != deadq]
            apart.setdefault("queue manager dead-letter queue (DEADQ)", []).append(deadq)
        elif deadq not in sinks and not deadq.startswith("SYSTEM."):
            apart.setdefault("queue manager dead-letter queue (DEADQ)", []).append(deadq)
    # routes to aliases of queues not defined here lead nowhere the rules can see
    known = {q.name for q in queues}
    bindings = [b for b in bindings if b.destination in known]
    exchanges = [e for e in exchanges if any(b.source == e.name for b in bindings)]
    if deadq:
        notes.append(f"queue manager dead-letter queue: {deadq}")
    return Source(
        kind="amqp1",
        name=f"ibmmq {path.stem}",
        endpoint=str(path),
        queues=queues,
        exchanges=exchanges,
        bindings=bindings,
        edges=flatten(exchanges, bindings),
        live=False,
        notes=notes,
        reported_apart=apart,
    )


def _queue(name: str, a: dict[str, str], deadq: str | None) -> Queue:
    defaulted: set[str] = set()

    def get(key: str, field: str | None = None) -> str:
        if key in a:
            return a[key]
        if field:
            defaulted.add(field)
        return LOCAL_DEFAULTS.get(key, "")

    names: dict[str, str] = {
        "delivery_limit": "BOTHRESH",
        "dead_letter": "BOQNAME",
        "max_message_size": "MAXMSGL",
        "max_length": "MAXDEPTH",
        "max_priority": "MSGDLVSQ",
        "single_active_consumer": "NOSHARE" if a.get("SHARE") == "NO" else "DEFSOPT(EXCL)",
    }
    extra: dict[str, Any] = {"broker": "ibmmq", "attribute_names": names}
    unresolved: dict[str, str] = {}
    threshold = _int(get("BOTHRESH", "delivery_limit"), "BOTHRESH", unresolved) or 0
    boq = a.get("BOQNAME") or None
    dead = None
    if threshold > 0:
        extra["backout"] = "client-side"
        target = boq or deadq
        if target and target != name:
            dead = DeadLetter(
                target=target,
                strategy="client-side backout" + ("" if boq else " to the queue manager's DEADQ"),
            )
    elif boq:
        extra["backout_queue_unused"] = boq  # BOQNAME without BOTHRESH: never used
    max_depth = _int(get("MAXDEPTH", "max_length"), "MAXDEPTH", unresolved)
    max_msgl = _int(get("MAXMSGL", "max_message_size"), "MAXMSGL", unresolved)
    if unresolved:
        extra["unresolved"] = unresolved
    order = get("MSGDLVSQ", "max_priority")
    exclusive = a.get("SHARE") == "NO" or a.get("DEFSOPT") == "EXCL"
    trigger = None
    if a.get("TRIGGER") == "YES":
        trigger = {
            k: a[k] for k in ("TRIGTYPE", "INITQ", "PROCESS", "TRIGDPTH", "TRIGDATA") if a.get(k)
        }
        trigger.setdefault("TRIGTYPE", "FIRST")
        if trigger["TRIGTYPE"] != "NONE":
            extra["trigger"] = trigger
    for key in ("DEFPRTY", "DEFPSIST", "DESCR"):
        if a.get(key):
            extra[key] = a[key]
    for key in ("GET", "PUT"):
        if a.get(key) == "DISABLED":
            extra[f"{key} disabled"] = True
    if a.get("INDXTYPE") == "CORRELID":
        extra["INDXTYPE"] = "CORRELID"  # consumers get by correlation id: request/reply
    if order == "PRIORITY":
        extra["priority_order"] = (
            "PRIORITY (default)" if "max_priority" in defaulted else "PRIORITY"
        )
    return Queue(
        name=name,
        type="anycast",
        durable=True,
        exclusive=False,
        auto_delete=False,
        arguments={k: v for k, v in sorted(a.items())},
        single_active_consumer=exclusive or None,
        message_groups=(a.get("INDXTYPE") == "GROUPID") or None,
        max_length=max_depth,
        overflow="reject-publish",
        max_message_size=max_msgl,
        # MQ priorities are 0-9; only an explicit MSGDLVSQ(PRIORITY) is taken as a promise
        max_priority=9 if order == "PRIORITY" and "max_priority" not in defaulted else None,
        dead_letter=dead,
        delivery_limit=threshold if threshold > 0 else -1,
        defaulted=defaulted - {"max_priority"},
        extra=extra,
    )
