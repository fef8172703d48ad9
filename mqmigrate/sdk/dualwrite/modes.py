"""The mode switch: which sides a message goes to (``source-only -> dual -> kafka-only``), and
where that is read from, asked before every message: :class:`StaticMode`, :class:`EnvMode`
(an environment variable), :class:`FileMode` (a file re-read when it changes) or
:class:`ControlTopicMode` (a compacted Kafka topic; :func:`publish_mode` writes it).  An
invalid value keeps the last valid mode: a bad switch never stops or misroutes producers."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Protocol

from mqmigrate.errors import ConfigError, DualWriteError

log = logging.getLogger("mqmigrate.sdk.dualwrite")


class WriteMode(str, Enum):
    """Where the dual-write producer sends a message: the source only, both, or Kafka only."""

    SOURCE_ONLY = "source-only"
    DUAL = "dual"
    KAFKA_ONLY = "kafka-only"

    @classmethod
    def parse(cls, text: str) -> "WriteMode":
        value = text.strip().lower().replace("_", "-")
        for mode in cls:
            if mode.value == value:
                return mode
        raise ConfigError(
            f"unknown dual-write mode {text.strip()[:40]!r}",
            hint="use source-only, dual or kafka-only",
        )


#: the name before WriteMode; kept so code that imports ``Mode`` keeps working
Mode = WriteMode


# -- where the mode comes from ----------------------------------------------------------------


class ModeSource(Protocol):
    """Anything that says which mode applies now; asked before every message."""

    def current(self) -> Mode: ...


class StaticMode:
    """A fixed mode (tests, or a service redeployed to change it)."""

    def __init__(self, mode: Mode | str):
        self.mode = Mode.parse(mode) if isinstance(mode, str) else mode

    def current(self) -> Mode:
        return self.mode

    def close(self) -> None:
        pass


class _LastGood:
    """Keeps the last valid mode: a typo in the switch must not stop or redirect producers."""

    def __init__(self, default: Mode | str, what: str):
        self.value = Mode.parse(default) if isinstance(default, str) else default
        self.what = what
        self._warned: str | None = None

    def update(self, text: str | None) -> Mode:
        if text is None or not text.strip():
            return self.value
        try:
            mode = Mode.parse(text)
        except ConfigError as exc:
            if self._warned != text:
                log.warning("%s: %s; keeping mode %s", self.what, exc.one_line(), self.value.value)
                self._warned = text
            return self.value
        if mode is not self.value:
            log.info("%s: dual-write mode %s -> %s", self.what, self.value.value, mode.value)
        self.value = mode
        return mode


class EnvMode:
    """The mode in an environment variable, read on every call (cheap).

    Unset or empty means ``default``; an invalid value keeps the last valid mode.
    """

    def __init__(
        self, var: str = "MQMIGRATE_DUALWRITE_MODE", default: Mode | str = Mode.SOURCE_ONLY
    ):
        self.var = var
        self._state = _LastGood(default, f"${var}")

    def current(self) -> Mode:
        return self._state.update(os.environ.get(self.var))

    def close(self) -> None:
        pass


class FileMode:
    """The mode in a file (its whole content, e.g. ``dual``), re-read when it changes.

    The file is checked at most every ``interval`` seconds (a ``stat``), and read only when
    its mtime, size or inode changed.  A missing file means ``default``; invalid content
    keeps the last valid mode.  Write it atomically (``echo dual > f.tmp && mv f.tmp f``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        default: Mode | str = Mode.SOURCE_ONLY,
        interval: float = 1.0,
    ):
        self.path = Path(path)
        self.interval = interval
        self._state = _LastGood(default, str(self.path))
        self._default = self._state.value
        self._checked = float("-inf")
        self._signature: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def current(self) -> Mode:
        now = time.monotonic()
        with self._lock:
            if now - self._checked < self.interval:
                return self._state.value
            self._checked = now
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._signature = None
                self._state.value = self._default
                return self._default
            except OSError as exc:
                log.warning("%s: %s; keeping mode %s", self.path, exc, self._state.value.value)
                return self._state.value
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
            if signature != self._signature:
                self._signature = signature
                try:
                    text = self.path.read_text(encoding="utf-8")
                except OSError as exc:
                    log.warning("%s: %s; keeping mode %s", self.path, exc, self._state.value.value)
                    return self._state.value
                self._state.update(text)
            return self._state.value

    def close(self) -> None:
        pass


class ControlTopicMode:
    """The mode in a compacted Kafka topic: the latest value under ``key`` wins.

    A background thread reads every partition from the beginning (no consumer group, so no
    offsets are committed and every instance sees the full history), then keeps polling
    every ``interval`` seconds.  :meth:`start` (called by the constructor) waits up to
    ``ready_timeout`` for the topic to be read to its end so the first message already
    goes where the latest switch says; if Kafka cannot be read, ``default`` applies until it
    can.  Write the topic with :func:`publish_mode`.
    """

    def __init__(
        self,
        bootstrap: Any,
        topic: str,
        key: str,
        default: Mode | str = Mode.SOURCE_ONLY,
        interval: float = 1.0,
        ready_timeout: float = 15.0,
        consumer_config: Mapping[str, Any] | None = None,
    ):
        from mqmigrate.kafka.config import as_kafka_config

        #: the Kafka connection configuration (``bootstrap``: a KafkaConfig, a mapping of
        #: librdkafka settings, a properties file path or plaintext bootstrap servers)
        self.kafka_config = as_kafka_config(bootstrap)
        self.bootstrap = self.kafka_config.bootstrap
        self.topic = topic
        self.key = key
        self.interval = interval
        self._state = _LastGood(default, f"control topic {topic}[{key}]")
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._consumer_config = dict(consumer_config or {})
        self._thread = threading.Thread(
            target=self._run, name=f"mqmigrate-mode-{topic}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(ready_timeout):
            log.warning(
                "control topic %s not read within %.0fs; mode %s until it is",
                topic,
                ready_timeout,
                self._state.value.value,
            )

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def current(self) -> Mode:
        return self._state.value

    def _run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

        from mqmigrate.kafka.share import _quiet

        consumer = Consumer(
            self.kafka_config.client(
                {
                    # assign() without commits: the group id is only a required name
                    "group.id": f"mqmigrate-mode-{uuid.uuid4().hex}",
                    "enable.auto.commit": False,
                    "logger": _quiet,
                    **self._consumer_config,
                }
            )
        )
        try:
            partitions: list[Any] = []
            while not partitions and not self._stop.is_set():
                try:
                    metadata = consumer.list_topics(self.topic, timeout=5)
                    info = metadata.topics.get(self.topic)
                    if info is not None and info.error is None:
                        partitions = [
                            TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in info.partitions
                        ]
                except KafkaException as exc:
                    log.warning("control topic %s: %s", self.topic, exc)
                if not partitions:
                    self._stop.wait(self.interval)
            if not partitions:
                return
            consumer.assign(partitions)
            ends = {}
            for tp in partitions:
                _, high = consumer.get_watermark_offsets(tp, timeout=10)
                ends[tp.partition] = high
            positions = {tp.partition: 0 for tp in partitions}
            if all(high == 0 for high in ends.values()):
                self._ready.set()
            while not self._stop.is_set():
                message = consumer.poll(self.interval)
                if message is None:
                    continue
                if message.error() is not None:
                    continue
                positions[message.partition() or 0] = (message.offset() or 0) + 1
                key = message.key()
                if key is not None and bytes(key).decode("utf-8", "replace") == self.key:
                    self._state.update((message.value() or b"").decode("utf-8", "replace"))
                if not self._ready.is_set() and all(positions[p] >= ends[p] for p in ends):
                    self._ready.set()
        except Exception as exc:  # noqa: BLE001 - the last mode stays; the producer keeps going
            log.error("control topic %s reader stopped: %s", self.topic, exc)
        finally:
            consumer.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def create_control_topic(bootstrap: Any, topic: str) -> None:
    """Create the compacted control topic (one partition, so the latest switch is one read)."""
    from mqmigrate.kafka import share

    share.create_topic(
        share.admin_client(bootstrap), topic, partitions=1, config={"cleanup.policy": "compact"}
    )


def publish_mode(
    bootstrap: Any, topic: str, key: str, mode: Mode | str, timeout: float = 30.0
) -> None:
    """Switch every :class:`ControlTopicMode` reading ``topic``/``key`` to ``mode``.

    ``bootstrap``: the Kafka connection configuration or plaintext bootstrap servers."""
    from confluent_kafka import Producer

    from mqmigrate.kafka.config import as_kafka_config
    from mqmigrate.kafka.share import _quiet

    value = (Mode.parse(mode) if isinstance(mode, str) else mode).value
    producer = Producer(
        as_kafka_config(bootstrap).client(
            {"acks": "all", "enable.idempotence": True, "logger": _quiet}
        )
    )
    errors: list[Any] = []
    producer.produce(
        topic,
        key=key.encode(),
        value=value.encode(),
        on_delivery=lambda err, _m: errors.append(err),
    )
    if producer.flush(timeout) != 0 or errors != [None]:
        raise DualWriteError(f"could not publish mode {value} to {topic}: {errors or 'timeout'}")


def mode_source_from_spec(
    spec: str, *, bootstrap: Any = None, default: Mode | str = Mode.SOURCE_ONLY
) -> ModeSource:
    """``dual`` | ``file:/path`` | ``env:VAR`` | ``kafka:TOPIC#KEY`` as a :class:`ModeSource`."""
    prefix, sep, rest = spec.partition(":")
    if not sep:
        return StaticMode(spec)
    if prefix == "file":
        return FileMode(rest, default)
    if prefix == "env":
        return EnvMode(rest, default)
    if prefix == "kafka":
        if not bootstrap:
            raise ConfigError("a kafka: mode source needs the Kafka bootstrap servers")
        topic, _, key = rest.partition("#")
        return ControlTopicMode(bootstrap, topic, key or "mode", default)
    raise ConfigError(
        f"unknown mode source {spec!r}", hint="use a mode, file:PATH, env:VAR or kafka:TOPIC#KEY"
    )
