"""A share group's backlog, measured by Kafka's own ``ShareGroupCommand``.

confluent-kafka has no admin call for share-group offsets, so this runs
``org.apache.kafka.tools.consumer.group.ShareGroupCommand --describe --offsets`` from the
sandbox's Kafka jars, and only when they are already present: ``None`` (unknown) otherwise,
never 0.
"""

from __future__ import annotations

import subprocess
from typing import Optional

from mqmigrate.errors import MqMigrateError

COMMAND = "org.apache.kafka.tools.consumer.group.ShareGroupCommand"


def parse_offsets(text: str, topic: str) -> Optional[int]:
    """Sum the LAG column of ``--describe --offsets`` output for ``topic``; None if absent."""
    header: list[str] | None = None
    total: Optional[int] = None
    for line in text.splitlines():
        cols = line.split()
        if not cols:
            continue
        if "LAG" in cols and "TOPIC" in cols:
            header = cols
            continue
        if header is None or len(cols) != len(header):
            continue
        row = dict(zip(header, cols))
        if row.get("TOPIC") != topic:
            continue
        try:
            lag = int(row["LAG"])
        except ValueError:
            return None  # "-": the group has no position there; unknown, not 0
        total = (total or 0) + lag
    return total


def share_backlog(bootstrap: str, group: str, topic: str, timeout: float = 60) -> Optional[int]:
    """The records of ``topic`` the share group has not yet delivered; None when unknown."""
    from mqmigrate.kafka.config import bootstrap_of
    from mqmigrate.sandbox import manager

    bootstrap = bootstrap_of(bootstrap)  # a KafkaConfig: the Java tool gets the servers only
    from mqmigrate.sandbox.kafka import KAFKA_VERSION, KafkaService

    ctx = manager.context()
    # never download jars from verify: use them only when the sandbox already fetched them
    if not (ctx.cache_dir / f"kafka-{KAFKA_VERSION}" / ".complete").exists():
        return None
    try:
        result = KafkaService(ctx).java(COMMAND, "--bootstrap-server", bootstrap, "--describe",
                                        "--offsets", "--group", group, timeout=timeout)
    except (OSError, subprocess.SubprocessError, MqMigrateError):  # no java: unknown
        return None
    if result.returncode != 0:
        return None
    return parse_offsets(result.stdout, topic)
