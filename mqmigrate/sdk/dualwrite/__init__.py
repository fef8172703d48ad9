"""Dual-writing producers: one message, one id, written to the source broker and to Kafka.

During a migration the producers of a queue move in three steps, switchable while the
service runs::

    source-only  ->  dual  ->  kafka-only

Each message gets one id (given, or a new UUID) that travels on both sides, so ``verify``
and the bridge's dedup recognise the pair: the ``mq.source.id`` header on Kafka, the
``message_id`` property on AMQP 0-9-1 (pika), ``message-id`` on AMQP 1.0 (proton), and an
``mq-source-id`` message attribute on SQS (plus ``MessageDeduplicationId`` on a FIFO queue).

Failure policy, per mode (also in ``docs/dualwrite.md``):

* ``source-only``: write the source (publisher confirm / SQS answer / AMQP 1.0 accepted
  outcome), retrying transient failures with capped exponential backoff up to ``retries``
  times (a terminal one, e.g. a missing queue, is not retried); then raise
  :class:`~mqmigrate.errors.DualWriteError` (``written=()``).  Kafka is not touched.
* ``kafka-only``: the same with Kafka (``acks=all``, idempotent producer, delivery report).
* ``dual``: the *authoritative* side (``authoritative="source"`` by default, the side the
  consumers still read during the migration) is written first and synchronously, with
  retries; if it fails the message is written nowhere and :class:`DualWriteError` is raised
  (``written=()``) — the other side never holds a message the authoritative side lacks.
  Then the other side, with retries.  If it still fails:

  - ``on_secondary_failure="strict"``: raise :class:`DualWriteError` with
    ``written=("source",)`` (or ``("kafka",)``): the caller knows the message is on one side;
  - ``on_secondary_failure="spool"`` (needs ``spool_dir``): append the message (id, body,
    key, headers) as one JSON line to ``<spool_dir>/<side>.jsonl``, fsync'd, and return;
    :meth:`DualWriter.replay` re-sends the spooled messages later with the same id.  If the
    spool itself cannot be written, :class:`DualWriteError` is raised.

  Nothing is ever dropped silently: every message is either confirmed by each side the mode
  requires, spooled (counted in ``mqmigrate_dualwrite_spooled_total``), or the call raises.

The mode comes from a :class:`ModeSource` asked on every send: :class:`StaticMode`,
:class:`EnvMode` (an environment variable), :class:`FileMode` (a file re-read when it
changes, at most every ``interval`` seconds) or :class:`ControlTopicMode` (a compacted Kafka
topic read continuously in the background; :func:`publish_mode` writes it).

Example::

    from mqmigrate.sdk.dualwrite import DualWriter, PikaSource, FileMode

    writer = DualWriter(
        PikaSource("amqp://app:secret@rabbit:5672/%2f", routing_key="orders"),
        {"bootstrap.servers": "kafka:9092"}, "orders",
        mode_source=FileMode("/etc/orders/migration-mode"),
        spool_dir="/var/lib/orders/spool",
    )
    writer.send(b'{"order": 1}', message_id="order-1")

The package's parts: :mod:`.modes` (the mode switch), :mod:`.writer` (the writer, its retries
and failure policy), :mod:`.spool` (messages waiting for a side), :mod:`.delay` (delayed
sends), :mod:`.kafka` (the Kafka side), :mod:`.source` (the source side: the publishers of
:mod:`mqmigrate.sources`), :mod:`.metrics`.
"""

from __future__ import annotations

from mqmigrate.sdk.dualwrite.kafka import KAFKA_REQUIRED, KafkaSide  # noqa: F401 - public
from mqmigrate.sdk.dualwrite.metrics import DualWriteMetrics
from mqmigrate.sdk.dualwrite.modes import (
    ControlTopicMode,
    EnvMode,
    FileMode,
    Mode,
    ModeSource,
    StaticMode,
    WriteMode,
    create_control_topic,
    mode_source_from_spec,
    publish_mode,
)
from mqmigrate.sdk.dualwrite.source import PikaSource, ProtonSource, SourceSide, SqsSource
from mqmigrate.sdk.dualwrite.writer import DualWriter, ReplayResult, WriteResult

__all__ = [
    "WriteMode",
    "Mode",
    "ModeSource",
    "StaticMode",
    "EnvMode",
    "FileMode",
    "ControlTopicMode",
    "mode_source_from_spec",
    "publish_mode",
    "create_control_topic",
    "SourceSide",
    "PikaSource",
    "SqsSource",
    "ProtonSource",
    "KafkaSide",
    "DualWriter",
    "WriteResult",
    "ReplayResult",
    "DualWriteMetrics",
]
