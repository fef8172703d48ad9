"""A share group's backlog: the records of a topic it has not yet acknowledged.

Read over the Kafka protocol (DescribeShareGroupOffsets, what Kafka's
``kafka-share-groups.sh --describe --offsets`` shows as LAG), with the same connection
settings as every other Kafka client: no Java, TLS and SASL as configured.  The one rule, used
by ``verify --share-group`` and cutover's ``share-group.backlog`` gate: the sum of the
partitions' lag, and unknown (``None``, never 0) when no partition is reported or one
partition has no lag yet (no share-partition state: its records are neither counted nor known
to be zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from mqmigrate.kafka.protocol import Connection, ShareOffset, share_group_lag


@dataclass(frozen=True)
class Backlog:
    """A share group's backlog on one topic; ``total`` None means unknown (``detail`` says
    why), otherwise ``detail`` says what was summed."""

    total: int | None
    detail: str


def backlog_of(offsets: Mapping[int, ShareOffset]) -> Backlog:
    """The backlog from the group's offsets on one topic (see the module doc for the rule)."""
    if not offsets:
        return Backlog(None, "no partitions reported")
    for partition, offset in sorted(offsets.items()):
        if offset.lag is None:
            return Backlog(None, f"partition {partition} has no share-group lag yet")
    total = sum(offset.lag or 0 for offset in offsets.values())
    return Backlog(total, f"lag over {len(offsets)} partition(s)")


def share_backlog(
    connection: Connection, group: str, topic: str, timeout: float = 30.0
) -> int | None:
    """The records of ``topic`` the share group has not yet acknowledged; None when unknown.

    Raises :class:`~mqmigrate.errors.MqMigrateError` when Kafka cannot be asked (connection,
    authentication, authorization).
    """
    return backlog_of(share_group_lag(connection, group, topic, timeout=timeout)).total
