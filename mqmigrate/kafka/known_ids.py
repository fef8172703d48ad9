"""Recover the source ids already written to Kafka (effectively-once mode).

A plain consumer (no group, nothing committed) reads each topic from the beginning to the
end offsets taken at start and collects the ``mq.source.id`` headers.  Records written by
other bridge instances after that moment are not seen: effectively-once holds for one
bridge per source queue, or for redeliveries caused by a crash of this bridge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mqmigrate.kafka.config import KafkaConfig

from typing import Iterable

from mqmigrate.headers import SOURCE_ID
from mqmigrate.kafka.snapshot import header, read_snapshot


def recover_ids(
    bootstrap: "KafkaConfig | str", topics: Iterable[str], timeout: float = 300.0
) -> set[str]:
    """Every ``mq.source.id`` in ``topics`` up to their current end offsets."""
    ids: set[str] = set()
    for msg in read_snapshot(
        bootstrap,
        topics,
        timeout=timeout,
        purpose="known-ids",
        batch_size=10000,
        timeout_hint="retry, or run without --effectively-once",
    ):
        sid = header(msg, SOURCE_ID)
        if sid is not None:
            ids.add(sid)
    return ids
