"""``bridge --playbook``: a playbook's workloads as :class:`~mqmigrate.bridge.run.BridgeOptions`.

A workload gives the source (kind, endpoint, queue, vhost, credentials *by reference*), the
topic, the DLQ topic (the bridge's quarantine topic) and the mapping (key strategy, header
renames and drops).  Credentials are read from the environment here, at run time, and live
only in :attr:`SourceSpec.uri` (never in a message: errors name the variable, not its value).

:func:`source_spec` hands a playbook source's values to
:func:`mqmigrate.sources.locate.source_uri`, which turns them into what an adapter's
``from_uri`` takes (a new source kind adds its row there, not here).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from mqmigrate.bridge.mapping import HeaderMapping, key_from_playbook
from mqmigrate.errors import ConfigError, UsageError
from mqmigrate.playbooks.model import Playbook, Workload
from mqmigrate.redact import mask_uri
from mqmigrate.sources import kind_for_uri
from mqmigrate.sources.locate import SourceLocation, source_uri

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


def source_spec(workload: Workload, environ: Mapping[str, str] | None = None) -> SourceSpec:
    """The adapter inputs for ``workload``'s source, credentials read from ``environ``.

    What each kind makes of the values (:func:`mqmigrate.sources.locate.source_uri`):

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
    uri, options = source_uri(
        SourceLocation(
            kind=src.kind,
            label=f"workload '{workload.id}'",
            endpoint=src.endpoint,
            region=src.region,
            vhost=src.vhost,
            secret=secret,
            profile=profile,
            credential_env=src.credentials.env if src.credentials else None,
        )
    )
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
