"""The dual-writer: each message where the current mode says, with one id on every side, the
authoritative side first; retries with capped, jittered backoff; the other side's failure
raised (strict) or spooled for :meth:`DualWriter.replay` (spool)."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

from mqmigrate.errors import ConfigError, DualWriteError, MqMigrateError
from mqmigrate.kafka import delays
from mqmigrate.sdk.dualwrite import delay as delaying
from mqmigrate.sdk.dualwrite.delay import Side
from mqmigrate.sdk.dualwrite.kafka import KafkaSide
from mqmigrate.sdk.dualwrite.metrics import DualWriteMetrics
from mqmigrate.sdk.dualwrite.modes import Mode, ModeSource, StaticMode, mode_source_from_spec
from mqmigrate.sdk.dualwrite.source import SourceSide
from mqmigrate.sdk.dualwrite.spool import SIDES, Spool, SpooledMessage, entry_line
from mqmigrate.sources.base import SourcePublisher, as_publisher

log = logging.getLogger("mqmigrate.sdk.dualwrite")


@dataclass(frozen=True)
class WriteResult:
    """What :meth:`DualWriter.send` did with one message."""

    message_id: str
    mode: Mode
    #: sides that confirmed the message ("source", "kafka"), in write order
    written: tuple[str, ...]
    #: sides the message was spooled for (to be re-sent by replay())
    spooled: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReplayResult:
    """What :meth:`DualWriter.replay` did: re-sent, still failing (back in the spool), and
    unreadable lines moved to ``<side>.corrupt.jsonl``."""

    sent: int
    failed: int
    corrupt: int = 0


def _kafka_of(kafka_config: Any) -> Any:
    """The KafkaConfig for a ``kafka:`` mode source, or None when no servers are configured."""
    from mqmigrate.kafka.config import as_kafka_config

    config = as_kafka_config(kafka_config)
    return config if config.properties.get("bootstrap.servers") else None


class DualWriter:
    """Writes each message where the current mode says, with one id on every side.

    :param source: the source producer (:class:`PikaSource`, :class:`SqsSource`,
        :class:`ProtonSource`, or anything with the :class:`SourceSide` shape).
    :param kafka_config: the Kafka connection: a :class:`~mqmigrate.kafka.config.KafkaConfig`,
        a mapping of librdkafka settings (``bootstrap.servers`` at least), the path of a
        properties file, or plaintext bootstrap servers; ``acks=all`` and idempotence are
        forced.
    :param topic: the Kafka topic.
    :param mode_source: a :class:`ModeSource`, a :class:`Mode`, or a spec string accepted by
        :func:`mode_source_from_spec` (``"dual"``, ``"file:/etc/mode"``, ``"env:VAR"``).
    :param authoritative: ``"source"`` (default, during migration) or ``"kafka"``: written
        first in ``dual`` mode; its failure fails the call.
    :param on_secondary_failure: ``"spool"`` (default when ``spool_dir`` is given) or
        ``"strict"`` (default otherwise).
    :param spool_dir: directory for ``source.jsonl`` / ``kafka.jsonl`` spool files.
    :param retries: extra attempts per side after the first; backoff doubles from
        ``backoff`` up to ``max_backoff`` seconds, with jitter.
    :param kafka_timeout: seconds one Kafka attempt may take (also librdkafka's
        ``message.timeout.ms``).
    :param delay_tiers: the delay tiers (the worker's ``retry_tiers``) that
        ``send(..., delay=...)`` uses on Kafka; without them a delayed send to Kafka is refused.

    ``send`` is thread-safe (calls are serialised: the drivers are not thread-safe).
    """

    def __init__(
        self,
        source: SourcePublisher | SourceSide,
        kafka_config: Any,
        topic: str,
        mode_source: ModeSource | Mode | str = Mode.SOURCE_ONLY,
        *,
        authoritative: Side = "source",
        on_secondary_failure: Literal["spool", "strict"] | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        retries: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        kafka_timeout: float = 10.0,
        metrics: "DualWriteMetrics | None | Literal[False]" = None,
        sleep: Callable[[float], None] = time.sleep,
        kafka_side: Any = None,
        delay_tiers: "delays.DelayTiers | Sequence[delays.DelayLike] | None" = None,
    ):
        if authoritative not in ("source", "kafka"):
            raise ConfigError(f"authoritative must be 'source' or 'kafka', not {authoritative!r}")
        policy = on_secondary_failure or ("spool" if spool_dir else "strict")
        if policy not in ("spool", "strict"):
            raise ConfigError(f"on_secondary_failure must be 'spool' or 'strict', not {policy!r}")
        if policy == "spool" and not spool_dir:
            raise ConfigError("on_secondary_failure='spool' needs spool_dir")
        self.topic = topic
        self.delay_tiers = delays.DelayTiers.of(delay_tiers)
        # a producer with only kind/send/close (the documented minimum) is seen as a publisher
        # that cannot delay; the SDK's own sides and the package's publishers are used as is
        self.source: SourcePublisher = as_publisher(source)
        self.kafka: delaying.SideProducer = (
            as_publisher(kafka_side)
            if kafka_side is not None
            else KafkaSide(kafka_config, topic, timeout=kafka_timeout, tiers=self.delay_tiers)
        )
        if isinstance(mode_source, Mode):
            mode_source = StaticMode(mode_source)
        elif isinstance(mode_source, str):
            mode_source = mode_source_from_spec(mode_source, bootstrap=_kafka_of(kafka_config))
        self.mode_source: ModeSource = mode_source
        self.authoritative: Side = authoritative
        self.policy = policy
        self.spool_dir = Path(spool_dir) if spool_dir else None
        self._spool = Spool(self.spool_dir) if self.spool_dir is not None else None
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        if metrics is False:
            self.metrics: DualWriteMetrics | None = None
        else:
            self.metrics = metrics if metrics is not None else DualWriteMetrics.default()
        self._lock = threading.RLock()
        self._last_mode: Mode | None = None

    # -- public ------------------------------------------------------------------------------
    def send(
        self,
        body: bytes,
        *,
        message_id: str | None = None,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: "delays.DelayLike | None" = None,
    ) -> WriteResult:
        """Write one message where the current mode says (docs/dualwrite.md, "Failure policy").

        ``delay`` (seconds, a ``timedelta`` or text like ``"30s"``) holds the message back
        that long on every side the mode writes: the source broker's own delay there, a delay
        tier on Kafka (rounded up to the tier).  A delay a side cannot honour (negative, not a
        duration, longer than SQS's 900 s or the largest tier, a missing tier topic) raises
        :class:`~mqmigrate.errors.ConfigError` before anything is written.
        """
        message_id = message_id or str(uuid.uuid4())
        headers = dict(headers or {})
        delay_ms = delays.to_ms(delay) if delay is not None else None
        with self._lock:
            mode = self.mode_source.current()
            self._note_mode(mode)
            if delay_ms:
                delaying.check_delay(mode, delay_ms, {"source": self.source, "kafka": self.kafka})
            due_ms = delaying.due_at(delay_ms)
            try:
                return self._send(mode, body, message_id, key, headers, due_ms)
            except DualWriteError:
                if self.metrics:
                    self.metrics.errors.labels(mode.value).inc()
                raise

    def replay(self) -> ReplayResult:
        """Re-send every spooled message to the side it is waiting for, with its id.

        A message that fails again goes back to the spool, and so do the rest of that side's
        messages without being tried (one failure per side per replay, not one timeout per
        message); a message spooled for another topic is left alone; one that cannot be parsed
        is moved to ``<side>.corrupt.jsonl`` (kept, never dropped).  A replay interrupted by a
        crash is resumed by the next one (at-least-once: the same id makes a repeat
        recognisable).
        """
        if self._spool is None:
            return ReplayResult(0, 0)
        sent = failed = corrupt = 0
        with self._lock:
            for side in SIDES:
                side_down = False
                for batch in self._spool.take(side):
                    for line in self._spool.lines(batch):
                        try:
                            message = SpooledMessage.parse(line)
                        except ValueError:
                            self._spool.keep_corrupt(side, line)
                            corrupt += 1
                            continue
                        if side_down or message.entry.get("topic", self.topic) != self.topic:
                            # the side just failed (don't wait out a timeout per message), or
                            # the entry belongs to another writer's topic: keep it spooled
                            self._spool.append(side, line)
                            failed += 1
                            continue
                        try:
                            self._write_side(
                                side,
                                message.body,
                                message.message_id,
                                message.key,
                                message.headers,
                                retries=0,
                                due_ms=message.due_ms,
                            )
                        except DualWriteError as exc:
                            self._spool.append(side, message.failed_again(exc.one_line()))
                            failed += 1
                            side_down = True
                            continue
                        sent += 1
                        if self.metrics:
                            self.metrics.replayed.labels(side).inc()
                    batch.unlink()
        if sent or failed or corrupt:
            log.info("replay: %d sent, %d still failing, %d unreadable", sent, failed, corrupt)
        return ReplayResult(sent, failed, corrupt)

    def spooled(self) -> dict[str, int]:
        """How many messages wait in the spool, per side."""
        if self._spool is None:
            return {side: 0 for side in SIDES}
        return self._spool.count()

    def close(self) -> None:
        """Flush Kafka, close the source connection and the mode reader."""
        with self._lock:
            self.kafka.close()
            self.source.close()
            closer = getattr(self.mode_source, "close", None)
            if closer is not None:
                closer()

    def __enter__(self) -> "DualWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _note_mode(self, mode: Mode) -> None:
        if mode is self._last_mode:
            return
        if self._last_mode is not None:
            log.info(
                "dual-write mode for %s: %s -> %s", self.topic, self._last_mode.value, mode.value
            )
        self._last_mode = mode
        if self.metrics:
            for each in Mode:
                self.metrics.mode.labels(each.value).set(1 if each is mode else 0)

    def _send(
        self,
        mode: Mode,
        body: bytes,
        message_id: str,
        key: str | None,
        headers: dict[str, str],
        due_ms: int | None = None,
    ) -> WriteResult:
        if mode is Mode.SOURCE_ONLY:
            self._write_side("source", body, message_id, key, headers, due_ms=due_ms)
            return WriteResult(message_id, mode, ("source",))
        if mode is Mode.KAFKA_ONLY:
            self._write_side("kafka", body, message_id, key, headers, due_ms=due_ms)
            return WriteResult(message_id, mode, ("kafka",))
        first: Side = self.authoritative
        second: Side = "kafka" if first == "source" else "source"
        # authoritative first: if it fails, nothing is written anywhere and the caller knows
        self._write_side(first, body, message_id, key, headers, due_ms=due_ms)
        try:
            self._write_side(second, body, message_id, key, headers, due_ms=due_ms)
        except DualWriteError as exc:
            if self.policy == "strict":
                raise DualWriteError(
                    f"message {message_id} is on the {first} side only: {exc.message}",
                    written=(first,),
                    hint="re-send it to the other side, or use on_secondary_failure='spool'",
                ) from exc
            self._spool_message(second, body, message_id, key, headers, exc, due_ms)
            return WriteResult(message_id, mode, (first,), spooled=(second,))
        return WriteResult(message_id, mode, (first, second))

    def _write_side(
        self,
        side: Side,
        body: bytes,
        message_id: str,
        key: str | None,
        headers: dict[str, str],
        retries: int | None = None,
        due_ms: int | None = None,
    ) -> None:
        target = self.source if side == "source" else self.kafka
        attempts = 1 + (self.retries if retries is None else retries)
        backoff = self.backoff
        for attempt in range(1, attempts + 1):
            try:
                # what is left of the delay now: a message already due goes out plain, never
                # before its due time
                target.send(body, message_id, headers, key, delay_ms=delaying.remaining(due_ms))
            except MqMigrateError as exc:
                if self.metrics:
                    self.metrics.failed.labels(side).inc()
                # a terminal error (queue missing, message refused) fails the same way again
                if attempt == attempts or not exc.transient:
                    raise DualWriteError(
                        f"{side} write of {message_id} failed after "
                        f"{attempt} attempt(s): {exc.one_line()}"
                    ) from exc
                log.warning(
                    "%s write of %s failed (attempt %d/%d): %s",
                    side,
                    message_id,
                    attempt,
                    attempts,
                    exc.one_line(),
                )
                self._sleep(min(backoff, self.max_backoff) * (0.5 + random.random() / 2))
                backoff *= 2
                continue
            if self.metrics:
                self.metrics.written.labels(side).inc()
            return

    def _spool_message(
        self,
        side: Side,
        body: bytes,
        message_id: str,
        key: str | None,
        headers: dict[str, str],
        error: MqMigrateError,
        due_ms: int | None = None,
    ) -> None:
        assert self._spool is not None
        line = entry_line(
            side=side,
            topic=self.topic,
            body=body,
            message_id=message_id,
            key=key,
            headers=headers,
            error=error.one_line(),
            due_ms=due_ms,
        )
        try:
            self._spool.append(side, line)
        except OSError as exc:
            raise DualWriteError(
                f"message {message_id} is on the {self.authoritative} side only and could "
                f"not be spooled for {side}: {exc}",
                written=(self.authoritative,),
            ) from exc
        if self.metrics:
            self.metrics.spooled.labels(side).inc()
        log.warning(
            "%s write of %s failed; spooled for replay: %s", side, message_id, error.one_line()
        )
