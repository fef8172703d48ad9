"""Helpers shared by the bridge tests: publish to RabbitMQ, read a topic back."""

from __future__ import annotations

import sys
import time
import uuid

import pika
from confluent_kafka import Consumer, TopicPartition


def publish(
    channel,
    exchange: str,
    routing_key: str,
    n: int,
    *,
    size: int = 64,
    prefix: str = "id",
    start: int = 0,
    properties=None,
) -> list[str]:
    """Publish ``n`` persistent messages with unique message ids (publisher confirms on)."""
    ids = []
    for i in range(start, start + n):
        mid = f"{prefix}-{i}"
        props = properties or pika.BasicProperties(
            message_id=mid,
            delivery_mode=2,
            timestamp=int(time.time()),
            content_type="text/plain",
            headers={"n": i},
        )
        body = f"{mid}:".encode().ljust(size, b".")
        channel.basic_publish(exchange, routing_key, body, props)
        ids.append(mid)
    return ids


def read_topic(bootstrap: str, topic: str, timeout: float = 60.0) -> list:
    """Every record of ``topic`` (all partitions) up to the end offsets at call time."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.max.bytes": 64 * 1024 * 1024,
            "max.partition.fetch.bytes": 64 * 1024 * 1024,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends, assign = {}, []
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
                assign.append(TopicPartition(topic, p, low))
        out = []
        if not assign:
            return out
        consumer.assign(assign)
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.5):
                if msg.error():
                    continue
                out.append(msg)
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
        assert not ends, f"could not read {topic} to its end within {timeout}s"
        return out
    finally:
        consumer.close()


def source_ids(records) -> list[str]:
    return [dict(r.headers())["mq.source.id"].decode() for r in records]


def lost_and_duplicates(
    ids, bootstrap: str, topic: str, timeout: float = 180.0
) -> tuple[set[str], int, set[str]]:
    """What a crash campaign checks afterwards: the sent ``ids`` missing from ``topic``, how
    many extra copies of ids the topic holds, and ids in the topic that were never sent."""
    from collections import Counter

    got = Counter(source_ids(read_topic(bootstrap, topic, timeout=timeout)))
    return set(ids) - set(got), sum(count - 1 for count in got.values()), set(got) - set(ids)


def check_group_order(sequence: list[int], n: int) -> int:
    """What per-group order means under at-least-once, asserted for one group's records in
    Kafka partition order (``sequence`` = the send positions 0..n-1 of its records):

    * it starts at 0 and every position 0..n-1 is there;
    * each record is the one sent right after the previous record (``y == x + 1``), or a
      *rewind* (``y <= x``): a redelivery after a crash replays, from an earlier point, a tail
      already written.  It never skips ahead (``y > x + 1``): no record is written before one
      sent earlier in its group.

    Returns the number of rewinds (0 is required in effectively-once mode, where replays are
    acknowledged without writing)."""
    assert sequence and sequence[0] == 0, sequence[:10]
    assert set(sequence) == set(range(n)), sorted(set(range(n)) - set(sequence))[:10]
    rewinds = 0
    for x, y in zip(sequence, sequence[1:]):
        assert y == x + 1 or y <= x, f"skipped ahead from {x} to {y}"
        rewinds += y <= x
    return rewinds


def bridge_cmd(source: str, queue: str, bootstrap: str, topic: str, *extra: str) -> list[str]:
    """``mqmigrate bridge`` from ``source``'s ``queue`` into ``topic``, JSON logs, ``extra``
    options after."""
    return [
        sys.executable,
        "-m",
        "mqmigrate",
        "bridge",
        "--source",
        source,
        "--queue",
        queue,
        "--kafka",
        bootstrap,
        "--topic",
        topic,
        "--log-format",
        "json",
        *extra,
    ]
