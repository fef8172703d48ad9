"""The Kafka side of the dual-writer: an idempotent ``acks=all`` producer, one synchronous
send per message, delayed messages to the delay tier topics."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Mapping

from mqmigrate.errors import ConfigError, MqMigrateError
from mqmigrate.kafka import delays
from mqmigrate.headers import SOURCE_ID

log = logging.getLogger("mqmigrate.sdk.dualwrite")


def _kafka_terminal_codes() -> set[int]:
    from confluent_kafka import KafkaError as KE

    return {
        KE.MSG_SIZE_TOO_LARGE,
        KE.RECORD_LIST_TOO_LARGE,
        KE.INVALID_RECORD,
        KE.POLICY_VIOLATION,
        KE._UNKNOWN_TOPIC,
        KE.TOPIC_AUTHORIZATION_FAILED,
        KE.CLUSTER_AUTHORIZATION_FAILED,
    }


#: Kafka errors that retrying the same record cannot fix
_KAFKA_TERMINAL = _kafka_terminal_codes()

#: producer settings the guarantees depend on; a user cannot override these
KAFKA_REQUIRED: dict[str, Any] = {"enable.idempotence": True, "acks": "all"}


class KafkaSide:
    """The Kafka producer: idempotent, ``acks=all``, one synchronous send per message.

    ``message.timeout.ms`` is set to ``timeout`` so that when :meth:`send` gives up,
    librdkafka has given up on that record too: a spooled message is never also delivered
    late by the producer's own retries (which would make the replay a duplicate).

    A delayed message goes to the delay tier ``<topic>.retry-<label>`` of ``tiers`` that is
    at least as long as the delay, with ``mq.retry.*`` headers (due time = now + the tier's
    delay, attempt 0, no group: every share group's worker handles it once due).  The tier
    topic must exist: it is checked once per topic before the first delayed write.
    """

    kind = "kafka"

    def __init__(
        self,
        config: Any,
        topic: str,
        timeout: float = 10.0,
        tiers: "delays.DelayTiers | None" = None,
    ):
        """``config``: a KafkaConfig, a mapping of librdkafka settings, a properties file path
        or plaintext bootstrap servers."""
        from confluent_kafka import Producer

        from mqmigrate.kafka.config import KafkaConfig, as_kafka_config
        from mqmigrate.kafka.share import _quiet

        self.topic = topic
        self.timeout = timeout
        self.tiers = tiers
        self._known_topics: set[str] = set()
        shared = as_kafka_config(config)
        #: the connection, for the admin client that checks tier topics
        self._kafka = shared
        kafka = KafkaConfig({"linger.ms": 0, **shared.properties}, shared.path).with_overrides(
            KAFKA_REQUIRED, **{"message.timeout.ms": int(timeout * 1000)}
        )
        self.bootstrap = str(kafka.properties.get("bootstrap.servers", ""))
        self._producer = Producer(kafka.client({"logger": _quiet}))

    def check_delay(self, delay_ms: int) -> None:
        """ConfigError unless a tier covers ``delay_ms`` and its topic exists."""
        if self.tiers is None:
            raise ConfigError(
                f"a delayed message for Kafka topic {self.topic} needs delay tiers",
                hint="pass delay_tiers=('1s', '30s', ...) to the "
                "DualWriter, the same as the worker's retry_tiers",
            )
        topic = self.tiers.for_delay(delay_ms / 1000).topic(self.topic)
        if topic in self._known_topics:
            return
        from mqmigrate.kafka import share

        try:
            state = share.describe_topic(
                share.admin_client(self._kafka), topic, timeout=self.timeout
            )
        except MqMigrateError as exc:
            # Kafka unreachable: the write itself fails the same way and is retried or
            # spooled like any other; the check runs again on the next delayed send
            log.warning("cannot check delay tier topic %s: %s", topic, exc.one_line())
            return
        if state is None:
            # producing would auto-create a topic no worker reads: the delay would be lost
            raise ConfigError(
                f"delay tier topic {topic} does not exist",
                hint="create it with 'mqmigrate provision' (target.retry)",
            )
        self._known_topics.add(topic)

    def send(
        self,
        body: bytes,
        message_id: str,
        headers: Mapping[str, str],
        key: str | None,
        delay_ms: int | None = None,
    ) -> None:
        from confluent_kafka import KafkaException

        topic = self.topic
        extra: list[tuple[str, bytes]] = []
        if delay_ms:
            self.check_delay(delay_ms)
            assert self.tiers is not None
            tier = self.tiers.for_delay(delay_ms / 1000)
            topic = tier.topic(self.topic)
            extra = delays.tier_headers(
                due_ms=delays.now_ms() + tier.delay_ms,
                attempt=0,
                tier=tier,
                origin_topic=self.topic,
            )
        done = threading.Event()
        result: dict[str, Any] = {}

        def delivered(err: Any, _msg: Any) -> None:
            result["error"] = err
            done.set()

        kafka_headers: list[tuple[str, str | bytes | None]] = [(SOURCE_ID, message_id.encode())]
        kafka_headers += [(name, str(value).encode()) for name, value in headers.items()]
        kafka_headers += extra
        try:
            self._producer.produce(
                topic,
                value=body,
                key=key.encode() if key is not None else None,
                headers=kafka_headers,
                on_delivery=delivered,
            )
        except (KafkaException, BufferError) as exc:
            raise MqMigrateError(f"Kafka produce to {topic} failed: {exc}", transient=True) from exc
        # a little past message.timeout.ms: the report is then definitive (delivered or not)
        deadline = time.monotonic() + self.timeout + 5
        while not done.is_set() and time.monotonic() < deadline:
            self._producer.poll(0.05)
        if not done.is_set():
            raise MqMigrateError(
                f"Kafka gave no delivery report for {message_id} in time", transient=True
            )
        error = result["error"]
        if error is not None:
            raise MqMigrateError(
                f"Kafka write to {topic} at {self.bootstrap} failed: {error.str()}",
                transient=error.code() not in _KAFKA_TERMINAL,
            )

    def close(self) -> None:
        self._producer.flush(self.timeout)
