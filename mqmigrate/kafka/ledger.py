"""Recover the source ids already written to Kafka (effectively-once mode).

A plain consumer (no group, nothing committed) reads each topic from the beginning to the
end offsets taken at start and collects the ``mq.source.id`` headers.  Records written by
other bridge instances after that moment are not seen: effectively-once holds for one
bridge per source queue, or for redeliveries caused by a crash of this bridge.
"""

from __future__ import annotations

import time
import uuid
from typing import Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from mqmigrate.errors import KafkaUnavailable
from mqmigrate.headers import SOURCE_ID


def recover_ids(bootstrap: str, topics: Iterable[str], timeout: float = 300.0) -> set[str]:
    """Every ``mq.source.id`` in ``topics`` up to their current end offsets."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"mqmigrate-ledger-{uuid.uuid4().hex}",  # required, never committed
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "fetch.max.bytes": 64 * 1024 * 1024,
        "isolation.level": "read_committed",
    })
    ids: set[str] = set()
    try:
        try:
            meta = consumer.list_topics(timeout=10)
        except KafkaException as exc:
            raise KafkaUnavailable(f"Kafka at {bootstrap} did not answer") from exc
        ends: dict[tuple[str, int], int] = {}
        assign = []
        for topic in topics:
            info = meta.topics.get(topic)
            if info is None or info.error is not None:
                continue
            for partition in info.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                           timeout=10)
                if high > low:
                    ends[(topic, partition)] = high
                    assign.append(TopicPartition(topic, partition, low))
        if not assign:
            return ids
        consumer.assign(assign)
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            batch = consumer.consume(num_messages=10000, timeout=0.5)
            if not batch:
                # the last offsets may hold no record (control markers, compaction): the
                # position tells whether a partition is done
                for tp in consumer.position([TopicPartition(t, p) for t, p in ends]):
                    if tp.offset >= ends.get((tp.topic, tp.partition), 1 << 62):
                        ends.pop((tp.topic, tp.partition), None)
            for msg in batch:
                if msg.error():
                    continue
                for name, value in msg.headers() or ():
                    if name == SOURCE_ID and value is not None:
                        ids.add(value.decode("utf-8", "replace"))
                        break
                tp = (msg.topic(), msg.partition())
                if tp in ends and msg.offset() + 1 >= ends[tp]:
                    del ends[tp]
        if ends:
            raise KafkaUnavailable(
                f"could not read the ids already in Kafka within {timeout:.0f}s",
                hint="retry, or run without --effectively-once")
        return ids
    finally:
        consumer.close()
