"""A share group's backlog: the records of a topic it has not yet delivered.

Read over the Kafka protocol (DescribeShareGroupOffsets, what Kafka's
``kafka-share-groups.sh --describe --offsets`` shows as LAG), with the same connection
settings as every other Kafka client: no Java, TLS and SASL as configured.  ``None`` means
unknown (a partition without share-partition state, a group that never consumed the topic),
never 0.
"""

from __future__ import annotations

from typing import Mapping, Optional

from mqmigrate.kafka.protocol import Connection, ShareOffset, share_group_lag


def total_lag(offsets: Mapping[int, ShareOffset]) -> Optional[int]:
    """The sum of the partitions' lag; None when there is none or one partition's is unknown."""
    if not offsets or any(offset.lag is None for offset in offsets.values()):
        return None
    return sum(offset.lag or 0 for offset in offsets.values())


def share_backlog(
    connection: Connection, group: str, topic: str, timeout: float = 30.0
) -> Optional[int]:
    """The records of ``topic`` the share group has not yet delivered; None when unknown.

    Raises :class:`~mqmigrate.errors.MqMigrateError` when Kafka cannot be asked (connection,
    authentication, authorization).
    """
    return total_lag(share_group_lag(connection, group, topic, timeout=timeout))
