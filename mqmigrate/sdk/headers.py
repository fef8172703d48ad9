"""Kafka header names the SDKs (:mod:`mqmigrate.sdk.worker`, :mod:`mqmigrate.sdk.dualwrite`) write.

Kept in one module so they can be aligned with :mod:`mqmigrate.headers` (the bridge's
``mq.*`` names, see ``docs/headers.md``) in one place.  ``mq.source.id`` is the same header
the bridge writes: the stable message id that ``verify`` and dedup key on.
"""

from __future__ import annotations

# the stable message id and the prefix are the bridge's: one definition in mqmigrate.headers
from mqmigrate.headers import (  # noqa: F401  (re-exported for the SDKs)
    PREFIX,
    SOURCE_ID,
    SQS_SOURCE_ID_ATTRIBUTE,
)

# -- error headers the worker adds to a record it writes to a DLQ topic ----------------------
ERROR_TYPE = "mq.error.type"  #: exception class, ``module.QualName``
ERROR_MESSAGE = "mq.error.message"  #: ``str(exc)``, truncated to ERROR_MESSAGE_MAX bytes
ERROR_DELIVERY_COUNT = "mq.error.delivery-count"  #: the delivery attempt that failed
ERROR_TOPIC = "mq.error.topic"  #: where the record was consumed from
ERROR_PARTITION = "mq.error.partition"
ERROR_OFFSET = "mq.error.offset"
ERROR_GROUP = "mq.error.group"  #: the share group that gave up on it
ERROR_REASON = "mq.error.reason"  #: ``permanent`` | ``last-delivery`` | ``rejected``
ERROR_TIMESTAMP = "mq.error.timestamp"  #: ms since the epoch when the worker gave up

ERROR_HEADERS = (
    ERROR_TYPE,
    ERROR_MESSAGE,
    ERROR_DELIVERY_COUNT,
    ERROR_TOPIC,
    ERROR_PARTITION,
    ERROR_OFFSET,
    ERROR_GROUP,
    ERROR_REASON,
    ERROR_TIMESTAMP,
)
ERROR_MESSAGE_MAX = 2048


# -- headers the broker's own share-group DLQ (KIP-1191) writes, as observed on Kafka 4.4 ----
BROKER_DLQ_TOPIC = "__dlq.errors.topic"
BROKER_DLQ_PARTITION = "__dlq.errors.partition"
BROKER_DLQ_OFFSET = "__dlq.errors.offset"
BROKER_DLQ_GROUP = "__dlq.errors.group"
BROKER_DLQ_DELIVERY_COUNT = "__dlq.errors.delivery.count"
BROKER_DLQ_MESSAGE = "__dlq.errors.message"
