"""``bridge --playbook``: a playbook's workloads as :class:`~mqmigrate.bridge.run.BridgeOptions`.

A workload gives the source (kind, endpoint, queue, vhost, credentials *by reference*), the
topic, the DLQ topic (the bridge's quarantine topic) and the mapping (key strategy, header
renames and drops).  Credentials are read from the environment here, at run time, and live
only in :attr:`SourceSpec.uri` (never in a message: errors name the variable, not its value).

:func:`source_spec` is the one place that turns a playbook source into what an adapter's
``from_uri`` takes; a new source kind adds its branch there.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from mqmigrate.bridge.mapping import HeaderMapping, key_from_playbook
from mqmigrate.errors import ConfigError, UsageError
from mqmigrate.playbooks.model import Playbook, Workload
from mqmigrate.redact import mask_uri
from mqmigrate.sources import kind_for_uri
from mqmigrate.sources.uri import SCHEMES, scheme_for_adapter

if TYPE_CHECKING:  # the engine and Kafka client stay unimported for source_spec's callers
    from mqmigrate.bridge.run import BridgeOptions

#: flags that name one source/topic: with several workloads they would apply to all of them
SINGLE_WORKLOAD_FLAGS = ("source", "queue", "topic")


@dataclass(frozen=True)
class SourceSpec:
    """How to open a workload's source: the URI (secret), the queue and the kind-specific
    options its adapter's ``from_uri`` takes."""

    kind: str
    queue: str
    uri: str = field(repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def masked(self) -> str:
        return mask_uri(self.uri)


def _credential(workload: Workload, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``(value of the referenced env var, profile)``; a missing variable is an error naming
    the variable only."""
    creds = workload.source.credentials
    if creds is None:
        return None, None
    if creds.profile is not None:
        return None, creds.profile
    value = environ.get(creds.env or "")
    if not value:
        raise ConfigError(
            f"workload '{workload.id}': environment variable {creds.env} is not "
            "set (the playbook's source.credentials.env)",
            hint=f"export {creds.env} before starting the bridge",
        )
    return value, None


def _with_vhost(uri: str, vhost: str | None) -> str:
    """The AMQP URI with the playbook's vhost as its path (the variable may name none)."""
    if vhost is None:
        return uri
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, ""))


def _amqp_uri(workload: Workload, secret: str | None) -> str:
    """RabbitMQ / AMQP 1.0: the variable holds the whole URI, or ``USER:PASSWORD`` that goes
    into the playbook's endpoint."""
    src = workload.source
    if secret is None:
        raise ConfigError(
            f"workload '{workload.id}': a {src.kind} source needs "
            "'credentials: {env: NAME}' (a URI or USER:PASSWORD)",
            hint="profiles are for sqs sources (AWS profiles)",
        )
    if "://" in secret:
        return _spelled_for(secret, src.kind)
    user, sep, password = secret.partition(":")
    endpoint = src.endpoint or ""
    scheme = urlsplit(endpoint).scheme.lower() if endpoint else ""
    if not sep or scheme_for_adapter(scheme, src.kind) is None:
        var = src.credentials.env if src.credentials else "?"
        raise ConfigError(
            f"workload '{workload.id}': {var} holds neither a source URI nor "
            "USER:PASSWORD for an amqp:// source.endpoint",
            hint=f"e.g. {var}=amqp://USER:PASSWORD@HOST:5672/",
        )
    parts = urlsplit(endpoint)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return _spelled_for(urlunsplit((scheme, netloc, parts.path, parts.query, "")), src.kind)


def _spelled_for(uri: str, kind: str) -> str:
    """``uri`` with the scheme it has for a ``kind`` source: ``amqp(s)://`` written for an
    AMQP 1.0 source means ``amqp1(s)://`` (the plain scheme selects the AMQP 0-9-1 adapter)."""
    scheme, sep, rest = uri.partition("://")
    spelled = scheme_for_adapter(scheme, kind)
    return spelled + sep + rest if spelled and spelled != scheme.lower() else uri


def source_spec(workload: Workload, environ: Mapping[str, str] | None = None) -> SourceSpec:
    """The adapter inputs for ``workload``'s source, credentials read from ``environ``.

    * rabbitmq: ``credentials.env`` holds the AMQP URI (or ``USER:PASSWORD`` for the
      ``amqp://`` endpoint); ``vhost`` becomes the URI's path; a ``rabbitmq+http(s)://``
      endpoint is the management API used for shadow bindings (default: port 15672 of the
      AMQP host, the adapter's own default);
    * amqp1: ``credentials.env`` holds the ``amqp1://`` URI (or ``USER:PASSWORD``); an
      ``artemis+http(s)://`` endpoint (what ``plan`` writes for an Artemis assessed through
      Jolokia) is the management API used for depth and the shadow copy (default: port 8161
      of the AMQP host, the adapter's own default);
    * sqs: the endpoint (``sqs+http://host:port``) or ``sqs://REGION``; ``credentials.profile``
      (or an env variable holding a profile name, as ``plan`` writes with ``AWS_PROFILE``) is
      passed as ``?profile=NAME``; an env variable holding a URI is used as the URI.
    """
    env = os.environ if environ is None else environ
    src = workload.source
    secret, profile = _credential(workload, env)
    options: dict[str, Any] = {}
    if src.kind == "sqs":
        if secret is not None and "://" in secret:
            uri = secret
        else:
            uri = src.endpoint or f"sqs://{src.region or 'us-east-1'}"
            query = {}
            if src.region and not uri.startswith("sqs://"):
                query["region"] = src.region
            if profile or secret:
                query["profile"] = profile or secret
            if query:
                parts = urlsplit(uri)
                extra = urlencode(query)
                uri = urlunsplit(
                    (
                        parts.scheme,
                        parts.netloc,
                        parts.path,
                        f"{parts.query}&{extra}" if parts.query else extra,
                        "",
                    )
                )
    else:
        uri = _amqp_uri(workload, secret)
        if src.kind == "rabbitmq":
            uri = _with_vhost(uri, src.vhost)
        scheme = SCHEMES.get(urlsplit(uri).scheme.lower())
        prefix = scheme.management if scheme is not None else None
        if (
            prefix
            and src.endpoint
            and src.endpoint.startswith((prefix + "http://", prefix + "https://"))
        ):
            # the management API the playbook was planned from (shadow bindings / Jolokia)
            parts = urlsplit(src.endpoint)
            options["management_url"] = f"{parts.scheme.split('+', 1)[1]}://{parts.netloc}"
    kind = _adapter_kind(uri)
    if kind is not None and kind != src.kind:
        raise ConfigError(
            f"workload '{workload.id}': the source is {src.kind} in the playbook "
            f"but its URI is a {kind} URI ({mask_uri(uri)})",
            hint="check the variable named by source.credentials.env",
        )
    return SourceSpec(src.kind, src.queue, uri, options)


def _adapter_kind(uri: str) -> str | None:
    """The adapter a URI selects, None when no adapter of this build takes its scheme (the
    run then reports the unsupported scheme)."""
    try:
        return kind_for_uri(uri)
    except UsageError:
        return None


def workload_options(
    playbook: Playbook,
    workload: Workload,
    base: "BridgeOptions",
    overrides: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> "BridgeOptions":
    """``base`` (the process-wide flags) completed with ``workload``; ``overrides`` (flags the
    user gave explicitly: ``source``, ``queue``, ``topic``, ``kafka``, ``key_from``,
    ``quarantine_topic``) win over the playbook."""
    target = workload.target
    values: dict[str, Any] = {
        "workload": workload.id,
        "queue": workload.source.queue,
        "topic": target.topic,
        "topic_partitions": target.partitions,
        "key_from": key_from_playbook(workload.mapping.key),
        # not the DLQ: the DLQ holds what consumers gave up on and is provisioned like the
        # topic (1 MB records); the quarantine topic must take what Kafka refused on the topic
        # (64 MiB), so it stays TOPIC.quarantine, as for flags and for cutover's bridges
        "quarantine_topic": None,
        "headers": HeaderMapping(
            dict(workload.mapping.headers.rename), frozenset(workload.mapping.headers.drop)
        ),
    }
    if playbook.kafka is not None:
        values["kafka"] = playbook.kafka.bootstrap
    if "source" not in overrides:
        spec = source_spec(workload, environ)
        values["source"] = spec.uri
        values["source_options"] = dict(spec.options)
    values.update(overrides)
    return dataclasses.replace(base, **values)


def resolve(
    playbook: Playbook,
    workload_ids: Sequence[str],
    base: "BridgeOptions",
    overrides: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> list["BridgeOptions"]:
    """The options of every selected workload (all of them when ``workload_ids`` is empty).

    Errors (exit 2, one line): an unknown id (the ids are listed); ``--source``/``--queue``/
    ``--topic`` with several workloads; two selected workloads writing one topic (a fan-out:
    each queue holds a copy of every message, so bridging both would write each twice); a
    missing credential variable.  ``--max-in-flight`` is the budget of the whole process,
    shared evenly by the workloads, so memory stays bounded however many run.
    """
    known = [w.id for w in playbook.workloads]
    unknown = [i for i in workload_ids if i not in known]
    if unknown:
        raise UsageError(
            f"unknown workload {unknown[0]!r} in the playbook",
            hint=f"workloads: {', '.join(known)}",
        )
    chosen = list(dict.fromkeys(workload_ids)) or known
    if len(chosen) > 1:
        mixed = [
            ("--source (or MQMIGRATE_SOURCE)" if name == "source" else f"--{name}")
            for name in SINGLE_WORKLOAD_FLAGS
            if name in overrides
        ]
        if mixed:
            raise UsageError(
                f"{'/'.join(mixed)} cannot apply to {len(chosen)} workloads ({', '.join(chosen)})",
                hint="select one with --workload ID, or drop the flag and let the playbook say",
            )
    options = [
        workload_options(playbook, playbook.workload(i), base, overrides, environ) for i in chosen
    ]
    by_topic: dict[str, str] = {}
    for opts in options:
        other = by_topic.setdefault(opts.topic, opts.workload or "")
        if other != opts.workload:
            raise UsageError(
                f"workloads '{other}' and '{opts.workload}' both write topic "
                f"'{opts.topic}' (a fan-out: each queue holds a copy of every "
                "message, so bridging both writes each message twice)",
                hint="bridge one of them: --workload ID",
            )
    if len(options) > 1:
        share = max(1, base.max_in_flight // len(options))
        options = [
            dataclasses.replace(o, max_in_flight=share, batch_size=min(o.batch_size, share))
            for o in options
        ]
    return options
