"""Gate probes: real measurements of a workload, one probe per gate metric.

A probe answers :class:`Measurement` with a value or, when it cannot measure, ``None`` and the
reason.  The runner treats an unknown value as a failed gate — never as a pass — so a missing
probe, an unreachable API or a bridge without metrics can only ever hold a cutover back.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, runtime_checkable

from mqmigrate.cutover.source import SourceAccess
from mqmigrate.errors import MqMigrateError
from mqmigrate.kafka.backlog import backlog_of
from mqmigrate.kafka.protocol import Connection, ShareOffset, share_group_lag
from mqmigrate.playbooks.model import Workload


@dataclass(frozen=True)
class Measurement:
    """One observation; ``value`` None means unknown (``detail`` says why)."""

    value: float | None
    detail: str = ""

    @classmethod
    def unknown(cls, why: str) -> "Measurement":
        return cls(None, why)


@runtime_checkable
class GateProbe(Protocol):
    """Measures one metric of one workload, now."""

    def measure(self, workload: Workload) -> Measurement: ...


@dataclass(frozen=True)
class VerifyCounts:
    """What a verify run found (the counts the ``verify.*`` gates read)."""

    missing: int
    altered: int
    duplicated: int
    detail: str = ""


class Verifier(Protocol):
    """Reconciles a workload's source with its topic
    (:class:`mqmigrate.cutover.verifier.CutoverVerifier`; the CLI and the demo pass one in)."""

    def verify(self, workload: Workload) -> VerifyCounts: ...


# ---------------------------------------------------------------------------------- source


class SourceDepthProbe:
    """``source.depth`` (ready) or ``source.in-flight`` (unacked / not visible) of the source
    queue, as the source's adapter counts it (:meth:`~mqmigrate.sources.base.SourceAdapter.
    queue_counts`): RabbitMQ's management API ``messages_ready`` / ``messages_unacknowledged``
    (refreshed every few seconds, which ``for_seconds`` absorbs); SQS
    ``ApproximateNumberOfMessages`` + ``ApproximateNumberOfMessagesDelayed`` /
    ``ApproximateNumberOfMessagesNotVisible``; Artemis' Jolokia ``MessageCount`` minus
    ``DeliveringCount`` / ``DeliveringCount``.  A source that cannot count: unknown.
    """

    def __init__(self, what: str, access: Callable[[Workload], SourceAccess]):
        if what not in ("depth", "in-flight"):
            raise ValueError(what)
        self.what = what
        self._access = access

    def measure(self, workload: Workload) -> Measurement:
        try:
            access = self._access(workload)
        except MqMigrateError as exc:
            return Measurement.unknown(exc.one_line())
        return self.measure_access(access)

    def measure_access(self, access: SourceAccess) -> Measurement:
        """Measure a source given as a :class:`~mqmigrate.cutover.source.SourceAccess`."""
        try:
            source = access.adapter()
            if not source.capabilities.counts:
                return Measurement.unknown(f"no depth probe for {source.kind} sources")
            counts = source.queue_counts()
        except MqMigrateError as exc:
            return Measurement.unknown(exc.one_line())
        count = counts.ready if self.what == "depth" else counts.in_flight
        if count.value is None:
            return Measurement.unknown(count.detail)
        return Measurement(float(count.value), count.detail)


# ---------------------------------------------------------------------------------- bridge


_SAMPLE = re.compile(
    r"^(mqmigrate_bridge_(?:in_flight|source_backlog))(?:\{[^}]*\})?\s+(\S+)", re.M
)


def parse_bridge_lag(text: str) -> Measurement:
    """``bridge.lag`` from a ``/metrics`` page: in-flight plus the backlog the bridge has not
    read.  Without the backlog gauge (the source cannot say its depth) the lag is unknown."""
    values: dict[str, float] = {}
    for name, value in _SAMPLE.findall(text):
        values[name] = values.get(name, 0.0) + float(value)
    if "mqmigrate_bridge_in_flight" not in values:
        return Measurement.unknown("the bridge's /metrics has no in_flight gauge")
    if "mqmigrate_bridge_source_backlog" not in values:
        return Measurement.unknown("the bridge does not report its source backlog")
    lag = values["mqmigrate_bridge_in_flight"] + values["mqmigrate_bridge_source_backlog"]
    return Measurement(
        lag,
        f"in_flight {values['mqmigrate_bridge_in_flight']:.0f} + backlog "
        f"{values['mqmigrate_bridge_source_backlog']:.0f}",
    )


class BridgeLagProbe:
    """``bridge.lag`` scraped from the managed bridge's Prometheus ``/metrics``."""

    def __init__(self, metrics_url: Callable[[Workload], str | None]):
        self._url = metrics_url

    def measure(self, workload: Workload) -> Measurement:
        import httpx

        url = self._url(workload)
        if url is None:
            return Measurement.unknown("no bridge is running for this workload")
        try:
            resp = httpx.get(url, timeout=5)
        except httpx.HTTPError as exc:
            return Measurement.unknown(f"bridge metrics at {url}: {type(exc).__name__}")
        if resp.status_code != 200:
            return Measurement.unknown(f"bridge metrics answered {resp.status_code}")
        return parse_bridge_lag(resp.text)


# ---------------------------------------------------------------------------------- kafka


def topic_end_offsets(bootstrap: str, topic: str, timeout: float = 10.0) -> dict[int, int] | None:
    """The latest offset of each of ``topic``'s partitions (None when the topic is missing or
    the offsets cannot be listed)."""
    from confluent_kafka import KafkaException, TopicPartition
    from confluent_kafka.admin import OffsetSpec

    from mqmigrate.kafka.admin import admin_client

    admin = admin_client(bootstrap)
    meta = admin.list_topics(topic=topic, timeout=timeout).topics.get(topic)
    if meta is None or meta.error is not None:
        return None
    wanted = {TopicPartition(topic, p): OffsetSpec.latest() for p in meta.partitions}
    try:
        futures = admin.list_offsets(wanted, request_timeout=timeout)
        return {tp.partition: f.result(timeout=timeout).offset for tp, f in futures.items()}
    except KafkaException:
        return None


def topic_end_offset_sum(bootstrap: str, topic: str, timeout: float = 10.0) -> int | None:
    """Sum of the latest offsets of ``topic``'s partitions (None when the topic is missing)."""
    ends = topic_end_offsets(bootstrap, topic, timeout)
    return None if ends is None else sum(ends.values())


class DlqRateProbe:
    """``dlq.rate``: records per second arriving in the DLQ topic, from its end offsets over a
    window (between consecutive polls, or ``window`` seconds on the first one)."""

    def __init__(
        self,
        bootstrap: Callable[[], str | None],
        window: float = 5.0,
        end_offsets: Callable[[str, str], int | None] = topic_end_offset_sum,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._bootstrap = bootstrap
        self.window = window
        self._end = end_offsets
        self._clock = clock
        self._sleep = sleep
        self._last: dict[str, tuple[float, int]] = {}

    def measure(self, workload: Workload) -> Measurement:
        dlq = workload.target.dlq
        if dlq is None:
            return Measurement.unknown("the workload has no DLQ topic")
        bootstrap = self._bootstrap()
        if not bootstrap:
            return Measurement.unknown("no Kafka bootstrap")
        try:
            now, total = self._clock(), self._end(bootstrap, dlq.topic)
            if total is None:
                return Measurement.unknown(f"DLQ topic {dlq.topic} not found")
            last = self._last.get(dlq.topic)
            if last is None or now - last[0] < 1.0:
                self._sleep(self.window)
                last = (now, total)
                now, total = self._clock(), self._end(bootstrap, dlq.topic)
                if total is None:
                    return Measurement.unknown(f"DLQ topic {dlq.topic} not found")
        except Exception as exc:  # noqa: BLE001 - librdkafka failures are "unknown"
            return Measurement.unknown(f"DLQ end offsets: {type(exc).__name__}")
        self._last[dlq.topic] = (now, total)
        rate = (total - last[1]) / max(now - last[0], 1e-6)
        return Measurement(rate, f"{total - last[1]} records in {now - last[0]:.1f} s")


def share_group_backlog(offsets: Mapping[int, ShareOffset]) -> Measurement:
    """``share-group.backlog`` from the group's offsets on one topic, by the one backlog rule
    (:func:`mqmigrate.kafka.backlog.backlog_of`)."""
    backlog = backlog_of(offsets)
    if backlog.total is None:
        return Measurement.unknown(backlog.detail)
    return Measurement(float(backlog.total), backlog.detail)


class ShareGroupBacklogProbe:
    """``share-group.backlog``: records of the workload's topic the share group has not
    acknowledged, read from Kafka over the wire (DescribeShareGroupOffsets, the LAG that
    ``kafka-share-groups.sh --describe --offsets`` shows) with the cutover's Kafka connection.
    Unknown when Kafka cannot be asked or a partition has no lag yet."""

    def __init__(
        self,
        connection: Callable[[], Connection | None],
        describe: Callable[..., Mapping[int, ShareOffset]] = share_group_lag,
    ):
        self._connection = connection
        self._describe = describe

    def measure(self, workload: Workload) -> Measurement:
        consumer = workload.target.consumer
        if consumer.type != "share-group":
            return Measurement.unknown("the workload's consumer is not a share group")
        connection = self._connection()
        if not connection:
            return Measurement.unknown("no Kafka bootstrap")
        try:
            offsets = self._describe(connection, consumer.group, workload.target.topic)
        except MqMigrateError as exc:
            return Measurement.unknown(exc.one_line())
        if not offsets:
            return Measurement.unknown(
                f"share group {consumer.group} has no offsets on {workload.target.topic} yet"
            )
        return share_group_backlog(offsets)


class VerifyProbe:
    """``verify.missing`` / ``verify.altered`` / ``verify.duplicated`` from a :class:`Verifier`."""

    def __init__(self, field_name: str, verifier: Verifier | None):
        self.field = field_name
        self._verifier = verifier

    def measure(self, workload: Workload) -> Measurement:
        if self._verifier is None:
            return Measurement.unknown("mqmigrate verify is not available in this build")
        try:
            counts = self._verifier.verify(workload)
        except MqMigrateError as exc:
            return Measurement.unknown(exc.one_line())
        return Measurement(float(getattr(counts, self.field)), counts.detail or "verify")


ProbeSet = dict[str, GateProbe]
