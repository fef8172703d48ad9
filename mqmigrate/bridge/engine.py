"""The bridge loop: receive → produce → settle on Kafka's delivery report.

The one rule everything else serves: a source message is ACCEPTed only after Kafka
acknowledged its record (``acks=all``, idempotent producer) — or, for a record Kafka will
never take, after the quarantine topic acknowledged it.  Until then the source still owns
the message, so a crash at any point loses nothing; what it can cause is a duplicate of a
message whose record was written but whose ACK never reached the source.  Those stay
within the in-flight window (``max_in_flight``), are visible through the ``mq.source.id``
header, and in effectively-once mode are skipped.

Single-threaded on purpose: pika and the share-group client are not thread-safe and
librdkafka calls delivery callbacks from ``poll``, so receiving, producing, settling and
serving both connections all happen in :meth:`Engine.run`.
"""

from __future__ import annotations

import bisect
import enum
import logging
import random
import signal
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from mqmigrate import headers as mqheaders
from mqmigrate.bridge.mapping import HeaderMapping, KeyStrategy
from mqmigrate.errors import KafkaError, MqMigrateError, SourceUnavailable
from mqmigrate.kafka.producer import BridgeProducer, Failure, FailureKind
from mqmigrate.sources.base import Envelope, BridgeMode, Outcome, SourceAdapter

log = logging.getLogger("mqmigrate.bridge")

#: Kafka's INVALID_TIMESTAMP error code
INVALID_TIMESTAMP = 32

#: end-to-end lag buckets (seconds): source send time → Kafka acknowledged
LAG_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    900,
    3600,
    float("inf"),
)
#: bridge-added latency buckets (seconds): received from source → Kafka acknowledged
LATENCY_BUCKETS = (
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.025,
    0.035,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    float("inf"),
)


class StopReason(str, enum.Enum):
    drained = "drained"  #: drain mode: source empty and quiet for idle_exit seconds
    idle = "idle"  #: shadow mode with idle_exit: nothing new for idle_exit seconds
    max_messages = "max-messages"
    signal = "signal"


@dataclass
class BridgeConfig:
    """Everything the loop needs to know; the CLI builds it from flags."""

    topic: str
    quarantine_topic: str | None = None
    mode: BridgeMode = BridgeMode.drain
    key_from: str = "auto"
    #: renames/drops of application headers (a playbook's mapping.headers)
    headers: HeaderMapping = field(default_factory=HeaderMapping)
    #: messages received but not yet settled; bounds memory and the duplicate window
    max_in_flight: int = 2000
    #: messages asked from the source per receive call
    batch_size: int = 500
    #: drain: stop once the source is empty and nothing arrived for this long
    idle_exit: float | None = None
    max_messages: int | None = None
    effectively_once: bool = False
    #: give up reconnecting to the source after this long (then exit 2)
    reconnect_timeout: float = 300.0
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    #: on stop, how long to wait for Kafka to acknowledge what is in flight
    shutdown_timeout: float = 30.0
    #: not ready when messages are in flight and Kafka acknowledged nothing for this long
    stall_after: float = 30.0
    #: seconds to wait for Kafka's reports when a turn received nothing
    poll_wait: float = 0.002
    #: seconds a receive may wait for the first message once nothing is in flight and the
    #: source has been quiet for a second (0.05 before that); receives return as soon as a
    #: message arrives, so a longer wait only means fewer wakeups of an idle workload (what
    #: hundreds of them in one process cost) and a stop request seen that much later
    idle_wait: float = 0.5


@dataclass
class Histogram:
    """Cumulative-bucket histogram kept as plain counts (cheap on the hot path)."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.bounds)

    def observe(self, value: float) -> None:
        # bisect_left: the first bound >= value, as "value <= bound" buckets need
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.n += 1

    def cumulative(self) -> list[tuple[float, int]]:
        out, running = [], 0
        for bound, count in zip(self.bounds, self.counts):
            running += count
            out.append((bound, running))
        return out

    def quantile(self, q: float) -> float | None:
        """Upper bucket bound below which a fraction ``q`` of observations fall."""
        if not self.n:
            return None
        target = q * self.n
        for bound, running in self.cumulative():
            if running >= target:
                return bound
        return self.bounds[-1]


@dataclass
class Stats:
    """Counters read by metrics, logs and the live view (plain ints: one writer thread)."""

    received: int = 0  #: messages taken from the source (in)
    produced: int = 0  #: records Kafka acknowledged on the target topic (out)
    acked: int = 0  #: source messages ACCEPTed
    released: int = 0  #: source messages RELEASEd (transient failure or shutdown)
    quarantined: int = 0  #: records Kafka refused, written to the quarantine topic
    duplicates_skipped: int = 0  #: effectively-once: redeliveries already in Kafka
    redelivered: int = 0  #: messages the source flagged as redelivered
    in_flight: int = 0
    source_depth: int | None = None
    source_reconnects: int = 0
    kafka_transient_errors: int = 0
    started_at: float = field(default_factory=time.time)
    last_produced_at: float | None = None
    consuming: bool = False
    lag: Histogram = field(default_factory=lambda: Histogram(LAG_BUCKETS))
    latency: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))

    def as_dict(self) -> dict[str, Any]:
        return {
            "in": self.received,
            "out": self.produced,
            "acked": self.acked,
            "released": self.released,
            "quarantined": self.quarantined,
            "duplicates_skipped": self.duplicates_skipped,
            "redelivered": self.redelivered,
            "in_flight": self.in_flight,
            "source_depth": self.source_depth,
            "source_reconnects": self.source_reconnects,
            "latency_p50_s": self.latency.quantile(0.5),
            "latency_p99_s": self.latency.quantile(0.99),
        }


@dataclass(slots=True)
class _Pending:
    """One envelope whose record Kafka has not answered for yet."""

    envelope: Envelope
    received_at: float
    quarantine: bool = False
    #: written with the broker's time because Kafka refused the source's send time
    retimed: bool = False
    #: quarantine writes: why the target topic refused the record
    reason: Failure | None = None


class SettledLedger(Protocol):
    """Where the engine lists what it settled (``mqmigrate.verify.ledger.LedgerWriter``)."""

    def record(self, source_id: str, body: bytes | None) -> None: ...
    def flush(self, sync: bool = True) -> None: ...


class Engine:
    """Moves messages from one source adapter into one Kafka topic (see module doc)."""

    def __init__(
        self,
        source: SourceAdapter,
        producer: BridgeProducer,
        config: BridgeConfig,
        *,
        known_ids: Iterable[str] | None = None,
        on_tick: Callable[[Stats], None] | None = None,
        rng: random.Random | None = None,
        ledger: "SettledLedger | None" = None,
    ):
        self.source = source
        #: verify ledger: (source id, body hash) of each message settled after its record
        #: reached the main topic (quarantined ones are not in that topic, so not listed)
        self._ledger = ledger
        self._ledger_ok: set[int] = set()
        self._ledger_synced = time.monotonic()
        self.producer = producer
        self.config = config
        self.stats = Stats()
        self._key = KeyStrategy.parse(config.key_from).function()
        self._headers = config.headers.encoder()
        #: effectively-once: ids already in Kafka (from the topic at start, then our writes)
        self._known: set[str] | None = set(known_ids or ()) if config.effectively_once else None
        #: effectively-once: ids whose record is in flight -> redeliveries waiting on it
        self._writing: dict[str, list[Envelope]] = {}
        self._settle: dict[Outcome, list[Envelope]] = defaultdict(list)
        self._stop: StopReason | None = None
        self._force = False
        self._signal: int | None = None
        self._fatal: MqMigrateError | None = None
        self._depth_unavailable = False
        self._backoff_until = 0.0
        self._failures_in_row = 0
        self._rng = rng or random.Random()
        self._on_tick = on_tick
        self._opened = False
        self.ready = False
        #: monotonic time of the loop's last turn (for /healthz)
        self.heartbeat: float | None = None

    # -- control --------------------------------------------------------------------------
    def request_stop(self, reason: StopReason = StopReason.signal) -> None:
        """Stop receiving; in-flight records are flushed and settled before run() returns."""
        if self._stop is not None and reason is StopReason.signal:
            self._force = True  # a second Ctrl-C: do not wait for Kafka any longer
        self._stop = self._stop or reason

    def install_signal_handlers(self) -> Callable[[], None]:
        """SIGTERM/SIGINT request a graceful stop; returns a function restoring the old ones."""

        def handler(signum: int, _frame: Any) -> None:
            self._signal = self._signal or signum
            self.request_stop(StopReason.signal)

        old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
        return lambda: [signal.signal(sig, h) for sig, h in old.items()] and None

    @property
    def stopped_by_signal(self) -> int | None:
        """The signal number that stopped the bridge, if one did."""
        return self._signal

    def open(self) -> None:
        """Connect the source (a failure here is a configuration/connection error: exit 2)."""
        if not self._opened:
            self.source.open()
            self._opened = True
            self.stats.consuming = True

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> StopReason:
        """Run until drained, idle, max-messages or a stop request; returns why it stopped.

        Raises a :class:`~mqmigrate.errors.MqMigrateError` for what it cannot recover from
        (source gone longer than ``reconnect_timeout``, Kafka refusing the topic); even then
        nothing unsettled is lost: the source redelivers it.
        """
        cfg = self.config
        self.open()
        self.ready = True
        last_activity = time.monotonic()
        last_tick = 0.0
        last_depth = 0.0
        try:
            while self._stop is None:
                now = time.monotonic()
                self.heartbeat = now
                got = 0
                room = cfg.max_in_flight - self.stats.in_flight
                if cfg.max_messages is not None:
                    room = min(room, cfg.max_messages - self.stats.received)
                receiving = now >= self._backoff_until and room > 0 and not self._limit_reached()
                try:
                    if receiving:
                        wait = (
                            0.0
                            if self.stats.in_flight
                            else cfg.idle_wait
                            if now - last_activity >= 1.0
                            else 0.05
                        )
                        batch = self.source.receive(min(room, cfg.batch_size), wait)
                        got = len(batch)
                        if got:
                            self._accept_inputs(batch)
                    else:
                        self.source.receive(0, 0)  # serve heartbeats only
                except SourceUnavailable as exc:
                    self._reconnect(exc)
                    continue
                if got:
                    last_activity = now
                done = self.producer.poll(0 if got else self.config.poll_wait)
                if done:
                    self._complete_all(done)
                    self._flush_settlements()
                elif not got:
                    self._flush_settlements()
                    self._flush_source()  # a quiet turn: push out batched settlements
                if self._fatal is not None:
                    raise self._fatal
                if now - last_tick >= 1.0:
                    last_tick = now
                    self._update_readiness(now)
                    if self._on_tick:
                        self._on_tick(self.stats)
                if self._limit_reached() and self.stats.in_flight == 0:
                    self._stop = StopReason.max_messages
                elif (
                    cfg.idle_exit is not None
                    and self.stats.in_flight == 0
                    and now - last_activity >= cfg.idle_exit
                ):
                    depth = self._depth()
                    # None is "this source cannot tell" (quiet time decides) but never "the
                    # source did not answer": an unreachable queue is not an empty one
                    if not depth and not self._depth_unavailable:
                        self._stop = (
                            StopReason.drained if cfg.mode is BridgeMode.drain else StopReason.idle
                        )
                    else:
                        last_activity = now  # not empty yet: keep going
                elif now - last_depth >= 5.0:
                    last_depth = now
                    self._depth()
            return self._stop
        finally:
            self._shutdown()

    def _limit_reached(self) -> bool:
        limit = self.config.max_messages
        return limit is not None and self.stats.received >= limit

    # -- per message ----------------------------------------------------------------------
    def _accept_inputs(self, batch: list[Envelope]) -> None:
        stats = self.stats
        stats.received += len(batch)
        stats.in_flight += len(batch)
        now = time.monotonic()  # one clock read per batch: they arrived together
        known = self._known
        produce = self._produce
        for envelope in batch:
            if envelope.redelivered:
                stats.redelivered += 1
            if known is not None:
                sid = envelope.source_id
                if sid in known:
                    stats.duplicates_skipped += 1
                    self._mark_for_ledger(envelope)
                    self._settle[Outcome.ACCEPT].append(envelope)
                    continue
                waiting = self._writing.get(sid)
                if waiting is not None:  # the same id is being written right now: wait for it
                    waiting.append(envelope)
                    continue
                self._writing[sid] = []
            produce(_Pending(envelope, now))

    def _produce(self, pending: _Pending) -> None:
        env = pending.envelope
        if pending.quarantine:
            topic = self.config.quarantine_topic
            failure = pending.reason
            assert topic is not None and failure is not None
            headers = (
                self._headers(env)
                + [
                    (mqheaders.QUARANTINE_REASON, f"{failure.name}: {failure.reason}".encode()),
                    (mqheaders.QUARANTINE_CODE, str(failure.code).encode()),
                    (mqheaders.QUARANTINE_TOPIC, self.config.topic.encode()),
                    (mqheaders.QUARANTINE_SIZE, str(len(env.body)).encode()),
                ]
                + [
                    (f"mq.source.coordinate.{k}", str(v).encode())
                    for k, v in env.coordinates.items()
                ]
            )
        else:
            topic = self.config.topic
            headers = self._headers(env)
        refused = self.producer.send(
            topic,
            env.body,
            key=self._key(env),
            headers=headers,
            timestamp_ms=None if pending.retimed else env.timestamp_ms,
            token=pending,
        )
        if refused is not None:  # librdkafka refused it locally: same handling as a report
            self._complete(pending, refused)

    def _complete_all(self, done: list[tuple[_Pending, Failure | None]]) -> None:
        """Handle Kafka's reports; successes share one reading of the clocks."""
        now, wall = time.monotonic(), time.time()
        stats = self.stats
        latency, lag = stats.latency.observe, stats.lag.observe
        accepted = self._settle[Outcome.ACCEPT]
        ledger = self._ledger is not None
        resolve = self._known is not None
        produced = 0
        for pending, failure in done:
            if failure is not None or pending.quarantine:
                self._complete(pending, failure)
                continue
            env = pending.envelope
            latency(now - pending.received_at)
            if env.timestamp_ms:
                lag(max(0.0, wall - env.timestamp_ms / 1000.0))
            produced += 1
            if ledger:
                self._ledger_ok.add(id(env))
            accepted.append(env)
            if resolve:
                self._resolve_waiting(env.source_id, written=True)
        if produced:
            stats.produced += produced
            stats.last_produced_at = wall
            self._failures_in_row = 0

    def _complete(self, pending: _Pending, failure: Failure | None) -> None:
        env = pending.envelope
        stats = self.stats
        if failure is None:
            now = time.monotonic()
            stats.latency.observe(now - pending.received_at)
            if env.timestamp_ms:
                stats.lag.observe(max(0.0, time.time() - env.timestamp_ms / 1000.0))
            if pending.quarantine:
                stats.quarantined += 1
                log.warning("quarantined message %s from %s", env.source_id, env.queue)
            else:
                stats.produced += 1
                self._mark_for_ledger(env)
            stats.last_produced_at = time.time()
            self._failures_in_row = 0
            self._settle[Outcome.ACCEPT].append(env)
            self._resolve_waiting(env.source_id, written=True)
            return
        if failure.code == INVALID_TIMESTAMP and not pending.retimed and env.timestamp_ms:
            # the source's send time is outside the topic's accepted window (a skewed
            # publisher clock, a very old message): write it with the broker's time instead;
            # the send time stays in the mq.timestamp header
            log.warning(
                "Kafka refused the send time of message %s; using the broker's time", env.source_id
            )
            self._produce(
                _Pending(
                    env,
                    pending.received_at,
                    pending.quarantine,
                    retimed=True,
                    reason=pending.reason,
                )
            )
            return
        if failure.kind is FailureKind.PERMANENT and not pending.quarantine:
            if self.config.quarantine_topic:
                log.warning(
                    "Kafka refused message %s (%s): quarantining", env.source_id, failure.name
                )
                self._produce(_Pending(env, pending.received_at, quarantine=True, reason=failure))
                return
            self._fatal = KafkaError(
                f"Kafka refused message {env.source_id} for good ({failure.name}: "
                f"{failure.reason}) and no quarantine topic is configured",
                hint="set --quarantine-topic; the message stays in the source",
            )
        elif failure.kind is FailureKind.PERMANENT:
            self._fatal = KafkaError(
                f"the quarantine topic {self.config.quarantine_topic!r} refused message "
                f"{env.source_id} too ({failure.name}: {failure.reason})",
                hint="raise its max.message.bytes; the message stays in the source",
            )
        elif failure.kind is FailureKind.FATAL:
            self._fatal = KafkaError(
                f"Kafka write failed: {failure.name}: {failure.reason}",
                hint="check the topic exists and the bridge may write it",
            )
        else:
            stats.kafka_transient_errors += 1
            self._failures_in_row += 1
            self._backoff_until = time.monotonic() + self._backoff_delay()
            if self._failures_in_row == 1 or self._failures_in_row % 100 == 0:
                log.warning(
                    "Kafka write failed (%s: %s); releasing to the source and backing off",
                    failure.name,
                    failure.reason,
                )
        self._settle[Outcome.RELEASE].append(env)
        self._resolve_waiting(env.source_id, written=False)

    def _resolve_waiting(self, source_id: str, *, written: bool) -> None:
        if self._known is None:
            return
        waiting = self._writing.pop(source_id, None) or []
        if written:
            self._known.add(source_id)
            self.stats.duplicates_skipped += len(waiting)
            self._settle[Outcome.ACCEPT].extend(waiting)
        else:
            self._settle[Outcome.RELEASE].extend(waiting)

    def _backoff_delay(self) -> float:
        """Capped exponential backoff with full jitter."""
        cap = min(
            self.config.backoff_max,
            self.config.backoff_initial * (2 ** min(self._failures_in_row, 16)),
        )
        return self._rng.uniform(cap / 2, cap)

    # -- settling ---------------------------------------------------------------------------
    def _flush_settlements(self) -> None:
        if not self._settle:
            return
        batches, self._settle = self._settle, defaultdict(list)
        for outcome in (Outcome.ACCEPT, Outcome.RELEASE, Outcome.REJECT):
            envelopes = batches.get(outcome)
            if not envelopes:
                continue
            try:
                settled = self.source.settle_many(envelopes, outcome)
            except SourceUnavailable as exc:
                # these messages are back in the source already; the copies written to Kafka
                # will be redelivered, which is the (counted) duplicate window
                self._count_settled(envelopes, outcome, 0)
                self._reconnect(exc)
                continue
            self._count_settled(envelopes, outcome, settled)
            if outcome is Outcome.ACCEPT:
                self._record_settled(envelopes)

    def _flush_source(self) -> None:
        try:
            self.source.flush()
        except SourceUnavailable as exc:
            self._reconnect(exc)

    def _mark_for_ledger(self, envelope: Envelope) -> None:
        if self._ledger is not None:
            self._ledger_ok.add(id(envelope))

    def _record_settled(self, envelopes: list[Envelope]) -> None:
        """Append settled messages that are in the main topic to the verify ledger.

        Written after the settle, so the ledger never lists a message the source still owns;
        a message whose settle was lost with a connection is in Kafka anyway, and its
        redelivery lists the same id again (the reader keeps one).
        """
        if self._ledger is None:
            return
        for envelope in envelopes:
            if id(envelope) in self._ledger_ok:
                self._ledger_ok.discard(id(envelope))
                self._ledger.record(envelope.source_id, envelope.body)
        now = time.monotonic()
        if now - self._ledger_synced >= 1.0:  # fsync at most once a second
            self._ledger.flush()
            self._ledger_synced = now
        else:  # readers (verify, cutover gates) see each batch at once
            self._ledger.flush(sync=False)

    def _count_settled(self, envelopes: list[Envelope], outcome: Outcome, settled: int) -> None:
        """``settled`` of ``envelopes`` really were settled; the rest belonged to a dropped
        connection (the source has them back)."""
        self.stats.in_flight -= len(envelopes)
        if outcome is Outcome.ACCEPT:
            self.stats.acked += settled
        elif outcome is Outcome.RELEASE:
            self.stats.released += settled

    # -- source connection ------------------------------------------------------------------
    def _reconnect(self, exc: SourceUnavailable) -> None:
        """Reopen the source with capped jittered backoff until ``reconnect_timeout``."""
        log.warning("source connection lost (%s); reconnecting", exc.one_line())
        self.stats.consuming = False
        self.ready = False
        try:
            self.source.close()
        except MqMigrateError:
            pass
        deadline = time.monotonic() + self.config.reconnect_timeout
        attempt = 0
        while True:
            self.heartbeat = time.monotonic()  # reconnecting is alive, just not ready
            # keep Kafka's reports flowing so in-flight records resolve meanwhile
            for token, failure in self.producer.poll(0):
                self._complete(token, failure)
            self._drop_stale_settlements()
            if self._stop is not None:
                return  # asked to stop while the source is down: nothing left to settle there
            try:
                self.source.open()
                break
            except SourceUnavailable as again:
                attempt += 1
                if time.monotonic() >= deadline:
                    raise SourceUnavailable(
                        f"{again.message} (gave up reconnecting after "
                        f"{self.config.reconnect_timeout:.0f}s)",
                        hint="check the source broker; nothing unsettled was lost",
                    ) from again
                cap = min(
                    self.config.backoff_max, self.config.backoff_initial * 2 ** min(attempt, 16)
                )
                time.sleep(self._rng.uniform(cap / 2, cap))
        self.stats.source_reconnects += 1
        self.stats.consuming = True
        self.ready = True
        log.info("source reconnected")

    def _drop_stale_settlements(self) -> None:
        """While the source is down, settlements would fail; the source has these back."""
        for outcome, envelopes in self._settle.items():
            self._count_settled(envelopes, outcome, 0)
        self._settle = defaultdict(list)

    def _depth(self) -> int | None:
        """The source's backlog; None when unknown.  ``_depth_unavailable`` tells an
        unreachable source from one that has no depth to give."""
        try:
            depth = self.source.depth()
        except SourceUnavailable:
            self._depth_unavailable = True
            return None
        self._depth_unavailable = False
        self.stats.source_depth = depth
        return depth

    def _update_readiness(self, now_monotonic: float) -> None:
        """Ready = consuming and Kafka keeps acknowledging while messages are in flight."""
        stats = self.stats
        last = stats.last_produced_at or stats.started_at  # never acknowledged counts too
        stalled = stats.in_flight > 0 and time.time() - last > self.config.stall_after
        self.ready = stats.consuming and not stalled

    # -- shutdown ---------------------------------------------------------------------------
    def _shutdown(self) -> None:
        """Stop receiving, let Kafka answer for what is in flight, settle, close the source."""
        self.ready = False
        deadline = time.monotonic() + (0 if self._force else self.config.shutdown_timeout)
        try:
            while len(self.producer) and time.monotonic() < deadline and not self._force:
                for token, failure in self.producer.poll(0.05):
                    self._complete(token, failure)
                self._flush_settlements()
                try:
                    self.source.receive(0, 0)
                except SourceUnavailable:
                    break
            for token, failure in self.producer.take():
                self._complete(token, failure)
            # quarantine writes queued by the last reports
            while len(self.producer) and time.monotonic() < deadline and not self._force:
                for token, failure in self.producer.poll(0.05):
                    self._complete(token, failure)
            self._flush_settlements()
            self.source.flush()
        except MqMigrateError as exc:
            log.warning("during shutdown: %s", exc.one_line())
        finally:
            try:
                self.source.close()
            except MqMigrateError as exc:
                log.warning("closing the source: %s", exc.one_line())
            self.stats.consuming = False
            if len(self.producer):
                log.warning(
                    "%d records still unacknowledged by Kafka at exit; their messages "
                    "stay in the source",
                    len(self.producer),
                )
