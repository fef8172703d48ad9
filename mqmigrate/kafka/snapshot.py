"""Read topics once, from their start up to the end offsets taken when reading began.

``verify`` (records and body hashes) and the bridge's effectively-once recovery (source ids)
both need "everything written so far, and then stop": a plain consumer with a throw-away
group id that never commits, assigned to every partition at its low watermark, which stops
per partition at the high watermark seen at start.  Records written later are not part of
the snapshot.
"""

from __future__ import annotations

import time
import uuid
from typing import Callable, Iterable, Iterator, Optional

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from mqmigrate.errors import KafkaUnavailable
from mqmigrate.kafka.config import KafkaConfig, as_kafka_config


def read_snapshot(
    bootstrap: KafkaConfig | str,
    topics: Iterable[str],
    *,
    timeout: float,
    purpose: str = "snapshot",
    require_topics: bool = False,
    progress: Optional[Callable[[int, int], None]] = None,
    timeout_hint: str = "raise --timeout",
    batch_size: int = 5000,
) -> Iterator[Message]:
    """Every record of ``topics`` below the end offsets at start, then stop.

    A missing topic is skipped, or raises :class:`KafkaUnavailable` with ``require_topics``.
    ``progress(done, total)`` is called after each batch.  Not finishing within ``timeout``
    raises a transient :class:`KafkaUnavailable`.  ``bootstrap`` is the connection
    configuration (or plaintext bootstrap servers).
    """
    consumer = Consumer(
        as_kafka_config(bootstrap).client(
            {
                "group.id": f"mqmigrate-{purpose}-{uuid.uuid4().hex}",  # required, never committed
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "fetch.max.bytes": 64 * 1024 * 1024,
                "isolation.level": "read_committed",
            }
        )
    )
    try:
        try:
            meta = consumer.list_topics(timeout=10)
        except KafkaException as exc:
            raise KafkaUnavailable(
                f"Kafka at {bootstrap} did not answer",
                hint="check --kafka and that the broker is up",
            ) from exc
        ends: dict[tuple[str, int], int] = {}
        assign = []
        total = 0
        for topic in topics:
            info = meta.topics.get(topic)
            if info is None or info.error is not None:
                if require_topics:
                    raise KafkaUnavailable(
                        f"topic '{topic}' not found on {bootstrap}",
                        hint="check --topic or run 'mqmigrate provision'",
                    )
                continue
            for partition in info.partitions:
                try:
                    low, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), timeout=10
                    )
                except KafkaException as exc:
                    raise KafkaUnavailable(f"Kafka at {bootstrap} did not give offsets") from exc
                if high > low:
                    ends[(topic, partition)] = high
                    total += high - low
                    assign.append(TopicPartition(topic, partition, low))
        if not assign:
            return
        consumer.assign(assign)
        done = 0
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            batch = consumer.consume(num_messages=batch_size, timeout=0.5)
            for msg in batch:
                if msg.error() is not None:
                    continue
                tp = (msg.topic(), msg.partition())
                end = ends.get(tp)
                if end is None or msg.offset() >= end:
                    continue  # written after the snapshot began
                done += 1
                yield msg
                if msg.offset() + 1 >= end:
                    del ends[tp]
            if not batch:
                # the last offsets may hold no record (transaction markers, compaction): the
                # position tells whether a partition is done
                for tp in consumer.position([TopicPartition(t, p) for t, p in ends]):
                    if tp.offset >= ends.get((tp.topic, tp.partition), 1 << 62):
                        ends.pop((tp.topic, tp.partition), None)
            if progress is not None:
                progress(done, total)
        if ends:
            names = ", ".join(sorted({t for t, _ in ends}))
            raise KafkaUnavailable(
                f"reading {names} did not finish within {timeout:g}s",
                hint=timeout_hint,
                transient=True,
            )
    finally:
        consumer.close()


def header(msg: Message, name: str) -> Optional[str]:
    """The first header ``name`` of ``msg`` as text, or None."""
    for key, value in msg.headers() or ():
        if key == name and value is not None:
            return value.decode("utf-8", "replace")
    return None
