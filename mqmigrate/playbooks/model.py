"""The playbook format (``apiVersion: mqmigrate/v1``, ``kind: MigrationPlaybook``).

Defined once here with pydantic v2; the JSON Schema in ``docs/playbook.schema.json`` (and its
copy shipped next to this module) is generated from these classes by :func:`json_schema`.
Every model forbids unknown keys so a typo is an error, not a silently ignored setting.

Type and range checks live on the fields.  Checks that need the whole workload (the step graph:
duplicate ids, dangling ``requires``, cycles, a step requiring a later phase) live in
:mod:`mqmigrate.playbooks.graph` so each has its own error type and an exact path.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal, Optional
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

API_VERSION = "mqmigrate/v1"
KIND = "MigrationPlaybook"

#: the fixed phase order (docs/architecture.md)
PHASES: tuple[str, ...] = (
    "provision",
    "shadow",
    "verify",
    "consumers",
    "producers",
    "drain",
    "decommission",
)

#: broker-side prefix KIP-1191 requires for share-group dead-letter topics
BROKER_DLQ_PREFIX = "dlq."

#: the default broker cap on share.delivery.count.limit; above it the broker's
#: group.share.max.delivery.count.limit must be raised (to at most 25)
DEFAULT_DELIVERY_LIMIT_CAP = 10

_ID = r"^[a-z0-9][a-z0-9._-]{0,99}$"
_KAFKA_NAME = r"^[A-Za-z0-9._-]{1,249}$"
_CONFIG_KEY = r"^[a-z0-9][a-z0-9._-]*$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_KEY_STRATEGY = re.compile(r"^(none|message-group-id|routing-key|amqp-group-id|header:[^\s:]+)$")


class _Strict(BaseModel):
    """Base: unknown keys are errors; aliases are the YAML names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False, frozen=False)


def _config_value(value: Any) -> Any:
    """Kafka config values are strings; YAML authors write numbers and booleans unquoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


ConfigValue = Annotated[str, BeforeValidator(_config_value)]
ConfigMap = dict[Annotated[str, Field(pattern=_CONFIG_KEY)], ConfigValue]


# ---------------------------------------------------------------------------------- source


class Credentials(_Strict):
    """Where credentials come from; never the credentials themselves."""

    env: Optional[str] = Field(
        None,
        pattern=_ENV_NAME,
        description="Name of an environment variable holding the URI/secret.",
    )
    profile: Optional[str] = Field(
        None, min_length=1, description="A named profile (AWS profile, ~/.mqmigrate profile)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> "Credentials":
        if (self.env is None) == (self.profile is None):
            raise ValueError("give exactly one of 'env' or 'profile'")
        return self


class Source(_Strict):
    """The queue being migrated."""

    kind: Literal["rabbitmq", "sqs", "amqp1"]
    endpoint: Optional[str] = Field(
        None,
        description="Endpoint URI without user information or secrets, e.g. "
        "amqp://rabbit.internal:5672 or https://sqs.eu-west-1.amazonaws.com.",
    )
    credentials: Optional[Credentials] = None
    queue: str = Field(min_length=1)
    vhost: Optional[str] = Field(None, description="RabbitMQ virtual host.")
    region: Optional[str] = Field(None, description="AWS region (SQS).")

    @field_validator("endpoint")
    @classmethod
    def _no_secrets(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return value
        parts = urlsplit(value)
        if "@" in parts.netloc:
            raise ValueError(
                "endpoint must not contain user information; reference credentials "
                "with 'credentials: {env: NAME}' instead"
            )
        if re.search(r"(?i)(password|secret|token|sig|signature|key)=", parts.query):
            raise ValueError("endpoint must not carry secrets in its query string")
        return value

    @model_validator(mode="after")
    def _per_kind(self) -> "Source":
        if self.vhost is not None and self.kind != "rabbitmq":
            raise ValueError("'vhost' applies to rabbitmq sources only")
        if self.region is not None and self.kind != "sqs":
            raise ValueError("'region' applies to sqs sources only")
        return self


# ---------------------------------------------------------------------------------- target


class ShareGroupConfigs(_Strict):
    """Per-group share-group configs, set with incremental_alter_configs on the group.

    Ranges are the broker's hard limits; tighter defaults (e.g. a delivery-count cap of 10) are
    reported as warnings by :func:`warnings`.
    """

    auto_offset_reset: Optional[Literal["earliest", "latest"]] = Field(
        None, alias="share.auto.offset.reset"
    )
    record_lock_duration_ms: Optional[int] = Field(
        None, alias="share.record.lock.duration.ms", ge=1000, le=3_600_000
    )
    delivery_count_limit: Optional[int] = Field(
        None, alias="share.delivery.count.limit", ge=2, le=25
    )
    partition_max_record_locks: Optional[int] = Field(
        None, alias="share.partition.max.record.locks", ge=100, le=10_000
    )
    isolation_level: Optional[Literal["read_committed", "read_uncommitted"]] = Field(
        None, alias="share.isolation.level"
    )
    session_timeout_ms: Optional[int] = Field(None, alias="share.session.timeout.ms", ge=1)
    heartbeat_interval_ms: Optional[int] = Field(None, alias="share.heartbeat.interval.ms", ge=1)
    renew_acknowledge_enable: Optional[bool] = Field(None, alias="share.renew.acknowledge.enable")

    def as_kafka(self) -> dict[str, str]:
        """The configs as Kafka strings, keyed by their Kafka names, unset ones left out."""
        return {
            k: _config_value(v)
            for k, v in self.model_dump(by_alias=True, exclude_none=True).items()
        }


class ShareClient(_Strict):
    """Settings of the share consumers a migrated service runs (the worker's
    ``max_poll_records``, or any share consumer's client config); not set on the cluster."""

    max_poll_records: Optional[int] = Field(
        None,
        alias="max.poll.records",
        ge=1,
        description="Records one share fetch acquires: "
        "records acquired by a busy consumer wait for it (docs/worker.md).",
    )
    acquire_mode: Optional[Literal["batch_optimized", "record_limit"]] = Field(
        None,
        alias="share.acquire.mode",
        description="KIP-1206 (Kafka 4.2+, and a client "
        "that has the setting): record_limit makes max.poll.records a strict limit.",
    )

    def as_kafka(self) -> dict[str, str]:
        """The settings as client config strings, unset ones left out."""
        return {
            k: _config_value(v)
            for k, v in self.model_dump(by_alias=True, exclude_none=True).items()
        }


class Consumer(_Strict):
    """How consumers read the topic: a share group (queue semantics) or a keyed consumer group
    when ordering demands it (rule ``ordering.fifo``)."""

    type: Literal["share-group", "consumer-group"]
    group: str = Field(pattern=_KAFKA_NAME)
    configs: Optional[ShareGroupConfigs] = None
    client: Optional[ShareClient] = None
    key: Optional[str] = Field(
        None, description="consumer-group only: the ordering key; must equal mapping.key."
    )

    @model_validator(mode="after")
    def _per_type(self) -> "Consumer":
        if self.type == "consumer-group" and self.configs is not None:
            raise ValueError("'configs' holds share-group configs; a consumer-group has none")
        if self.type == "consumer-group" and self.client is not None:
            raise ValueError("'client' holds share-consumer settings; a consumer-group has none")
        if self.type == "share-group" and self.key is not None:
            raise ValueError("'key' applies to consumer-group consumers only")
        if self.type == "consumer-group" and self.key is None:
            raise ValueError("a consumer-group consumer needs 'key' (the ordering key)")
        return self


class Dlq(_Strict):
    """Dead-letter topic for records that reach the delivery-count limit or fail permanently."""

    topic: str = Field(pattern=_KAFKA_NAME)
    partitions: int = Field(1, ge=1)
    use_broker_dlq: bool = Field(
        False,
        description="Let the broker dead-letter (KIP-1191, share.version>=2) instead of "
        "the worker forwarding then REJECTing.",
    )
    configs: ConfigMap = Field(default_factory=dict)

    @model_validator(mode="after")
    def _broker_prefix(self) -> "Dlq":
        if self.use_broker_dlq and not self.topic.startswith(BROKER_DLQ_PREFIX):
            raise ValueError(
                f"with use_broker_dlq the topic name must start with "
                f"'{BROKER_DLQ_PREFIX}' (KIP-1191), got '{self.topic}'"
            )
        return self


class Retry(_Strict):
    """Delay tiers: the worker's retry with backoff and the producers' delayed sends.

    Each tier is a topic ``<topic>.retry-<label>`` (``orders.retry-30s``) that the worker reads
    with a consumer group ``<group>.retry-<label>`` and hands to the handler once a record's
    due time has come (see docs/delays.md).  ``tiers`` is also the worker's backoff schedule:
    ``Worker(..., retry_tiers=tiers, max_attempts=max_attempts)``.
    """

    tiers: list[str] = Field(
        min_length=1,
        description="Delays in ascending order, e.g. "
        "['1s', '30s', '5m']: one topic each, and the backoff schedule.",
    )
    max_attempts: Optional[int] = Field(
        None,
        ge=1,
        description="Handler attempts across the "
        "topic and the tiers before dead-lettering (default: "
        "one per tier plus the first).",
    )
    partitions: Optional[int] = Field(
        None, ge=1, description="Partitions of each tier topic (default: the topic's)."
    )
    configs: ConfigMap = Field(default_factory=dict, description="Configs of each tier topic.")

    @field_validator("tiers", mode="before")
    @classmethod
    def _tiers(cls, value: Any) -> Any:
        from mqmigrate.kafka.delays import DelayTiers
        from mqmigrate.errors import ConfigError

        if not isinstance(value, list):
            return value
        try:
            return DelayTiers([str(v) for v in value]).labels
        except ConfigError as exc:
            raise ValueError(exc.one_line()) from exc

    def topics(self, topic: str) -> list[str]:
        """The tier topics of ``topic``, shortest delay first."""
        from mqmigrate.kafka.delays import SUFFIX

        return [f"{topic}{SUFFIX}{label}" for label in self.tiers]

    def groups(self, group: str) -> list[str]:
        """The consumer groups the worker reads the tiers with, shortest delay first."""
        from mqmigrate.kafka.delays import SUFFIX

        return [f"{group}{SUFFIX}{label}" for label in self.tiers]


#: a Kafka principal as the authorizer spells it (``User:orders-app``); a name, never a secret
_PRINCIPAL = r"^[A-Za-z][A-Za-z0-9]*:\S+$"
#: a resource-name prefix: Kafka name characters, may end in '.', '_' or '-'
_PREFIX = r"^[A-Za-z0-9._-]{1,249}$"

AclRole = Literal["produce", "consume", "dlq-write"]


class AclGrant(_Strict):
    """One principal's access to this workload's resources, created as Kafka ACLs by provision.

    ``produce``: WRITE, DESCRIBE and DESCRIBE_CONFIGS on the topic (the bridge reads its
    ``max.message.bytes``).  ``consume``: READ on the topic and READ on
    the group (a share group is a GROUP resource).  ``dlq-write``: WRITE and DESCRIBE on the DLQ
    topic (the worker forwards dead letters with its own identity; a broker DLQ needs none).
    ``pattern: literal`` grants on the resources' own names; ``prefixed`` on every resource whose
    name starts with ``prefix`` (which must cover the grant's resources).
    """

    principal: str = Field(pattern=_PRINCIPAL, description="Kafka principal, e.g. User:orders-app")
    role: AclRole
    pattern: Literal["literal", "prefixed"] = "literal"
    prefix: Optional[str] = Field(
        None, pattern=_PREFIX, description="prefixed only: the resource-name prefix"
    )

    @model_validator(mode="after")
    def _prefix(self) -> "AclGrant":
        if self.pattern == "prefixed" and self.prefix is None:
            raise ValueError("a prefixed grant needs 'prefix'")
        if self.pattern == "literal" and self.prefix is not None:
            raise ValueError("'prefix' applies to pattern: prefixed only")
        return self


def _grant_fits_target(grant: AclGrant, info: ValidationInfo) -> AclGrant:
    """A grant must name resources the target has (checked per item, so an error points at
    ``acls[i]``); fields that failed their own validation are not in ``info.data``."""
    topic, consumer, dlq = (info.data.get(k) for k in ("topic", "consumer", "dlq"))
    if grant.role == "dlq-write" and "dlq" in info.data and dlq is None:
        raise ValueError("a dlq-write grant needs target.dlq")
    if grant.pattern == "prefixed":
        names = {
            "produce": [topic],
            "dlq-write": [dlq.topic if dlq else None],
            "consume": [topic, consumer.group if consumer else None],
        }[grant.role]
        outside = [n for n in names if n is not None and not n.startswith(grant.prefix or "")]
        if outside:
            raise ValueError(f"prefix '{grant.prefix}' does not cover {', '.join(outside)}")
    return grant


class Target(_Strict):
    """The Kafka side of one workload."""

    topic: str = Field(pattern=_KAFKA_NAME)
    partitions: int = Field(ge=1)
    replication: Optional[int] = Field(
        None,
        ge=1,
        le=32767,
        description="Replication factor of the topic and its DLQ topic; "
        "left out: the cluster's default.replication.factor.",
    )
    configs: ConfigMap = Field(default_factory=dict, description="Topic configs.")
    consumer: Consumer
    dlq: Optional[Dlq] = None
    retry: Optional[Retry] = Field(
        None,
        description="Delay tiers for retry with backoff and delayed sends (share-group consumers).",
    )
    acls: list[Annotated[AclGrant, AfterValidator(_grant_fits_target)]] = Field(
        default_factory=list,
        description="Principals and their access; provision creates the "
        "ACLs when the cluster has an authorizer (never deletes any).",
    )

    @model_validator(mode="after")
    def _dlq(self) -> "Target":
        if self.dlq is not None:
            if self.dlq.topic == self.topic:
                raise ValueError("the DLQ topic must differ from the topic")
            if self.dlq.use_broker_dlq and self.consumer.type != "share-group":
                raise ValueError("use_broker_dlq needs a share-group consumer")
        if self.retry is not None and self.consumer.type != "share-group":
            raise ValueError(
                "retry tiers are read by the share-group worker; a consumer-group consumer has none"
            )
        return self

    def acl_resources(self, role: str) -> list[tuple[str, str]]:
        """``(resource type, name)`` a grant of ``role`` covers: TOPIC and/or GROUP.

        With retry tiers, producers write delayed sends to the tier topics, and consumers read
        them (with the tier groups) and write their retries to them.
        """
        tiers = [("topic", t) for t in self.retry.topics(self.topic)] if self.retry else []
        if role == "produce":
            return [("topic", self.topic), *tiers]
        if role == "consume":
            groups = (
                [("group", g) for g in self.retry.groups(self.consumer.group)] if self.retry else []
            )
            return [("topic", self.topic), ("group", self.consumer.group), *tiers, *groups]
        return [("topic", self.dlq.topic)] if self.dlq is not None else []

    def tier_topics(self) -> list[str]:
        """The retry tier topics (none without ``retry``)."""
        return self.retry.topics(self.topic) if self.retry else []


# --------------------------------------------------------------------------------- mapping


class Headers(_Strict):
    """How source headers/properties become Kafka headers (the bridge adds ``mq.*`` headers)."""

    rename: dict[str, str] = Field(
        default_factory=dict, description="source header name -> Kafka header name"
    )
    drop: list[str] = Field(default_factory=list, description="source headers not copied")


class Mapping(_Strict):
    """Record key and header mapping."""

    key: str = Field(
        "none", description="none | message-group-id | routing-key | amqp-group-id | header:<name>"
    )
    headers: Headers = Field(default_factory=Headers)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY_STRATEGY.match(value):
            raise ValueError(
                "key must be one of none, message-group-id, routing-key, "
                f"amqp-group-id, header:<name>; got '{value}'"
            )
        return value


class Decision(_Strict):
    """A finding that needs a human decision, as a checklist item."""

    rule: str = Field(pattern=r"^[a-z0-9-]+(\.[a-z0-9-]+)*$")
    question: str = Field(min_length=1)
    done: bool = False


# ---------------------------------------------------------------------------------- phases


class Action(str, Enum):
    """The closed set of step actions ``cutover`` knows how to run."""

    provision_apply = "provision.apply"
    bridge_start = "bridge.start"
    bridge_stop = "bridge.stop"
    verify_run = "verify.run"
    consumers_switch = "consumers.switch"
    consumers_revert = "consumers.revert"
    consumers_kafka = "consumers.kafka"
    consumers_source = "consumers.source"
    producers_dual_write = "producers.dual-write"
    producers_kafka_only = "producers.kafka-only"
    producers_revert = "producers.revert"
    source_drain = "source.drain"
    source_delete_shadow = "source.delete-shadow"
    manual = "manual"


class Step(_Strict):
    """One step; ``requires`` names steps (of this or an earlier phase) that must be done first."""

    id: str = Field(pattern=_ID)
    action: Action
    mode: Optional[Literal["shadow", "drain"]] = Field(None, description="bridge.start only.")
    description: Optional[str] = Field(None, description="Required for manual steps.")
    requires: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _per_action(self) -> "Step":
        if self.action is Action.manual and not self.description:
            raise ValueError("a manual step needs a 'description' saying what to do")
        if self.action is Action.bridge_start and self.mode is None:
            raise ValueError("bridge.start needs 'mode: shadow' or 'mode: drain'")
        if self.action is not Action.bridge_start and self.mode is not None:
            raise ValueError("'mode' applies to bridge.start only")
        return self


Metric = Literal[
    "bridge.lag",
    "verify.missing",
    "verify.altered",
    "verify.duplicated",
    "source.depth",
    "source.in-flight",
    "share-group.backlog",
    "dlq.rate",
]


class Gate(_Strict):
    """A measurable condition that must hold (for ``for_seconds``) before the phase is done."""

    metric: Metric
    op: Literal["<=", "<", "==", ">=", ">"]
    value: float
    for_seconds: int = Field(0, ge=0)

    def holds(self, observed: float) -> bool:
        """Whether ``observed`` satisfies this gate's comparison (the duration is the runner's)."""
        return {
            "<=": observed <= self.value,
            "<": observed < self.value,
            "==": observed == self.value,
            ">=": observed >= self.value,
            ">": observed > self.value,
        }[self.op]


class Phase(_Strict):
    """Steps, the gates that close the phase, and how to undo it."""

    steps: list[Step] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    rollback: list[Step] = Field(default_factory=list)


class Phases(_Strict):
    """The phases in their fixed order; a strategy may leave some out."""

    provision: Optional[Phase] = None
    shadow: Optional[Phase] = None
    verify: Optional[Phase] = None
    consumers: Optional[Phase] = None
    producers: Optional[Phase] = None
    drain: Optional[Phase] = None
    decommission: Optional[Phase] = None

    def present(self) -> list[tuple[str, Phase]]:
        """``(name, phase)`` for every phase given, in the fixed order."""
        return [(name, getattr(self, name)) for name in PHASES if getattr(self, name) is not None]


Strategy = Literal["shadow-then-drain", "drain-only", "dual-write"]


class Workload(_Strict):
    """One queue and its migration."""

    id: str = Field(pattern=_ID)
    source: Source
    target: Target
    mapping: Mapping = Field(default_factory=Mapping)
    decisions: list[Decision] = Field(default_factory=list)
    strategy: Strategy
    phases: Phases

    @model_validator(mode="after")
    def _ordering_key(self) -> "Workload":
        consumer = self.target.consumer
        if consumer.type == "consumer-group":
            if self.mapping.key == "none":
                raise ValueError(
                    "a consumer-group (ordered) workload needs a mapping.key other than 'none'"
                )
            if consumer.key != self.mapping.key:
                raise ValueError(
                    f"target.consumer.key '{consumer.key}' must equal mapping.key "
                    f"'{self.mapping.key}'"
                )
        return self

    def steps(self) -> list[tuple[str, Step]]:
        """Forward steps with their phase name, in document order."""
        return [(name, step) for name, phase in self.phases.present() for step in phase.steps]


class KafkaCredentials(_Strict):
    """Where the Kafka client properties file (SASL, TLS) is; never a secret itself."""

    env: Optional[str] = Field(
        None,
        pattern=_ENV_NAME,
        description="Name of an environment variable holding the path of "
        "a Kafka client properties file.",
    )
    file: Optional[str] = Field(
        None,
        min_length=1,
        description="Path of a Kafka client properties file (relative "
        "to the playbook's directory); secrets in it as ${env:NAME} or "
        "${file:PATH}.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> "KafkaCredentials":
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self


class KafkaCluster(_Strict):
    """The target cluster; credentials by reference only."""

    bootstrap: str = Field(min_length=1, description="host:port[,host:port...]")
    credentials: Optional[KafkaCredentials] = None

    @field_validator("bootstrap")
    @classmethod
    def _plain_hosts(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if "@" in server or "//" in server:
                raise ValueError(
                    "bootstrap is host:port[,host:port...] without user information; "
                    "reference a client properties file with 'credentials: {file: PATH}' or '{env: NAME}'"
                )
            if not host or not port.isdigit():
                raise ValueError(f"'{server.strip()}' is not host:port")
        return value


class Metadata(_Strict):
    """Name and provenance of the playbook."""

    name: str = Field(pattern=_ID)
    generated_by: Optional[str] = Field(None, alias="generated-by")
    generated_at: Optional[datetime] = Field(
        None,
        alias="generated-at",
        description="Left out by default so a regenerated playbook is byte-identical.",
    )
    description: Optional[str] = None


class Playbook(_Strict):
    """A migration playbook: one or more workloads."""

    api_version: Literal["mqmigrate/v1"] = Field(alias="apiVersion")
    kind: Literal["MigrationPlaybook"]
    metadata: Metadata
    kafka: Optional[KafkaCluster] = None
    workloads: list[Workload] = Field(min_length=1)

    # path in the document -> why the value is what it is; rendered as YAML comments
    _reasons: dict[tuple, str] = PrivateAttr(default_factory=dict)

    @property
    def reasons(self) -> dict[tuple, str]:
        """Explanations of derived values keyed by their path (rendered as comments)."""
        return self._reasons

    def workload(self, workload_id: str) -> Workload:
        """The workload with id ``workload_id`` (KeyError if none)."""
        for workload in self.workloads:
            if workload.id == workload_id:
                return workload
        raise KeyError(workload_id)


def warnings(playbook: Playbook) -> list[tuple[tuple, str]]:
    """Valid but noteworthy settings, as ``(path, message)``."""
    found: list[tuple[tuple, str]] = []
    for i, workload in enumerate(playbook.workloads):
        configs = workload.target.consumer.configs
        if (
            configs
            and configs.delivery_count_limit
            and configs.delivery_count_limit > DEFAULT_DELIVERY_LIMIT_CAP
        ):
            found.append(
                (
                    ("workloads", i, "target", "consumer", "configs", "share.delivery.count.limit"),
                    f"{configs.delivery_count_limit} is above the broker's default cap of "
                    f"{DEFAULT_DELIVERY_LIMIT_CAP}: raise group.share.max.delivery.count."
                    "limit on the brokers first",
                )
            )
        lock = configs.record_lock_duration_ms if configs else None
        if lock is not None and not 15_000 <= lock <= 60_000:
            found.append(
                (
                    (
                        "workloads",
                        i,
                        "target",
                        "consumer",
                        "configs",
                        "share.record.lock.duration.ms",
                    ),
                    f"{lock} ms is outside the broker's default bounds 15000-60000: raise "
                    "group.share.min/max.record.lock.duration.ms on the brokers first",
                )
            )
        locks = configs.partition_max_record_locks if configs else None
        if locks is not None and locks > 4000:
            found.append(
                (
                    (
                        "workloads",
                        i,
                        "target",
                        "consumer",
                        "configs",
                        "share.partition.max.record.locks",
                    ),
                    f"{locks} is above the broker's default cap of 4000: raise "
                    "group.share.max.partition.max.record.locks on the brokers first",
                )
            )
        for j, decision in enumerate(workload.decisions):
            if not decision.done:
                found.append(
                    (
                        ("workloads", i, "decisions", j),
                        f"open decision ({decision.rule}): {decision.question}",
                    )
                )
    return found


def json_schema() -> dict[str, Any]:
    """The playbook JSON Schema (by alias, i.e. the YAML key names)."""
    schema = Playbook.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://mqmigrate.dev/schema/playbook-v1.json"
    return schema


def json_schema_text() -> str:
    """The schema as the exact text shipped in the package and in docs/."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
