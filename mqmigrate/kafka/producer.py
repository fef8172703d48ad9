"""The bridge's Kafka producer: idempotent, ``acks=all``, delivery reports mapped back.

Each ``send`` carries a token (the bridge passes its envelope); :meth:`BridgeProducer.poll`
returns ``(token, failure)`` pairs once Kafka has answered, ``failure`` None on success.
Failures are classified so the engine can decide without knowing librdkafka's codes:

* ``PERMANENT`` — this record will never be accepted (too large, policy violation, invalid
  record or timestamp): quarantine it;
* ``TRANSIENT`` — anything that may succeed later (timeouts, leader moves, broker down):
  release it to the source and retry after a backoff;
* ``FATAL`` — the bridge is misconfigured (authorization, unknown topic) or the idempotent
  producer is unusable: stop, leaving the message in the source.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any, Sequence

from confluent_kafka import KafkaError as _KE
from confluent_kafka import KafkaException, Producer

from mqmigrate.errors import ConfigError, KafkaError, KafkaUnavailable
from mqmigrate.kafka.config import KafkaConfig, as_kafka_config

#: producer settings the bridge's guarantees depend on; a user cannot override these
REQUIRED_CONFIG: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "max.in.flight.requests.per.connection": 5,
}

#: defaults a user may override with --producer-config
DEFAULT_CONFIG: dict[str, Any] = {
    "linger.ms": 5,
    "batch.num.messages": 10000,
    "compression.type": "none",
    # the topic's max.message.bytes decides what is too large, not a client default: a
    # record above it comes back as MSG_SIZE_TOO_LARGE from the broker and is quarantined
    "message.max.bytes": 64 * 1024 * 1024,
    "message.timeout.ms": 120_000,
    "queue.buffering.max.messages": 200_000,
}


class Severity(Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    FATAL = "fatal"


_PERMANENT = {_KE.MSG_SIZE_TOO_LARGE, _KE.POLICY_VIOLATION, _KE.INVALID_RECORD,
              _KE.INVALID_TIMESTAMP, _KE.RECORD_LIST_TOO_LARGE, 2}  # 2 = CORRUPT_MESSAGE
_FATAL = {_KE.TOPIC_AUTHORIZATION_FAILED, _KE.CLUSTER_AUTHORIZATION_FAILED,
          _KE.SASL_AUTHENTICATION_FAILED, _KE._AUTHENTICATION, _KE._UNKNOWN_TOPIC,
          _KE._UNKNOWN_PARTITION, _KE._INVALID_ARG, _KE.TRANSACTIONAL_ID_AUTHORIZATION_FAILED}


@dataclass(frozen=True)
class Failure:
    """Why Kafka did not take a record."""

    severity: Severity
    code: int
    name: str
    reason: str

    @classmethod
    def from_error(cls, err: _KE) -> "Failure":
        code = err.code()
        if err.fatal() or code in _FATAL:
            severity = Severity.FATAL
        elif code in _PERMANENT:
            severity = Severity.PERMANENT
        else:
            severity = Severity.TRANSIENT
        return cls(severity, code, err.name(), err.str())


def classify(err: _KE) -> Severity:
    """PERMANENT, TRANSIENT or FATAL for a librdkafka error."""
    return Failure.from_error(err).severity


class BridgeProducer:
    """One idempotent producer; single-threaded like the engine that owns it."""

    def __init__(self, bootstrap: KafkaConfig | str, config: dict[str, Any] | None = None):
        """``bootstrap``: the shared connection configuration (or plaintext bootstrap servers);
        ``config``: producer settings (``--producer-config``) laid over it.  Precedence:
        DEFAULT_CONFIG < the connection configuration < ``config`` < REQUIRED_CONFIG."""
        shared = as_kafka_config(bootstrap)
        self.bootstrap = shared.bootstrap
        self._kafka = KafkaConfig({**DEFAULT_CONFIG, **shared.properties}, shared.path) \
            .with_overrides(config or {}, **REQUIRED_CONFIG)
        self._done: list[tuple[Any, Failure | None]] = []
        self._producer = self._make()

    def _make(self) -> Producer:
        try:
            # librdkafka's own log lines go through logging (served by poll), so a failed
            # start is still one line and runtime warnings are JSON when asked
            return Producer(self._kafka.client(
                {"logger": logging.getLogger("mqmigrate.kafka.client")}))
        except KafkaException as exc:
            raise ConfigError(f"bad Kafka producer configuration: {exc.args[0].str()}") from exc

    def check(self, topics: Sequence[str], timeout: float = 10.0) -> None:
        """Fail fast, with one clear line, when Kafka is unreachable or a topic is missing."""
        try:
            meta = self._producer.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise KafkaUnavailable(
                f"Kafka at {self._kafka.describe()} did not answer within {timeout:.0f}s",
                hint="check --kafka (host:port of a broker listener), --kafka-config and that "
                     "the broker is up",
            ) from exc
        for topic in topics:
            info = meta.topics.get(topic)
            if info is None or info.error is not None:
                raise ConfigError(
                    f"Kafka topic {topic!r} does not exist on {self.bootstrap}",
                    hint="create it (mqmigrate provision, or bridge --create-topics)",
                )

    def send(self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]],
             timestamp_ms: int | None, token: Any) -> Failure | None:
        """Queue one record.  Returns a Failure when librdkafka refuses it on the spot (e.g. a
        record above ``message.max.bytes``); otherwise the outcome comes from :meth:`poll`."""
        callback = functools.partial(self._on_delivery, token)
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers,
                                       timestamp=timestamp_ms or 0, on_delivery=callback)
                return None
            except BufferError:
                # the local queue is full: serve delivery reports, which frees it
                self._producer.poll(0.05)
            except KafkaException as exc:
                return Failure.from_error(exc.args[0])

    def _on_delivery(self, token: Any, err: _KE | None, msg: Any) -> None:
        self._done.append((token, None if err is None else Failure.from_error(err)))

    def poll(self, timeout: float = 0.0) -> list[tuple[Any, Failure | None]]:
        """Serve delivery reports; the ``(token, failure)`` pairs completed since last time."""
        self._producer.poll(timeout)
        return self.take()

    def take(self) -> list[tuple[Any, Failure | None]]:
        done, self._done = self._done, []
        return done

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for every outstanding record; the number still pending."""
        return self._producer.flush(timeout)

    def __len__(self) -> int:
        return len(self._producer)

    def restart(self) -> None:
        """Replace a producer that hit a fatal (idempotence) error; pending records fail
        as transient so their messages are released to the source."""
        try:
            self._producer.purge()
            self._producer.poll(0)
        except KafkaException:
            pass
        self._producer = self._make()

    def close(self, timeout: float = 10.0) -> int:
        return self.flush(timeout)


def kafka_error(exc: KafkaException, action: str) -> KafkaError:
    """A mqmigrate error for a KafkaException raised by a client call."""
    err = exc.args[0] if exc.args else None
    text = err.str() if isinstance(err, _KE) else str(exc)
    if isinstance(err, _KE) and (err.retriable() or err.code() in (_KE._TRANSPORT,
                                                                      _KE._ALL_BROKERS_DOWN,
                                                                      _KE._TIMED_OUT)):
        return KafkaUnavailable(f"{action}: {text}")
    return KafkaError(f"{action}: {text}")
