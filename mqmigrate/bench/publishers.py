"""The benchmark's publishers: each sends the way a production publisher of its system does,
so the source is measured, not the harness.

One class per protocol, each counting what its broker confirmed; the source brokers' live
with the other broker code of their kind, in ``mqmigrate/sources/<kind>/publisher.py``:

* :class:`KafkaPublisher` — asynchronous, batching (``acks=all``, idempotent), every delivery
  report checked.
* :class:`RabbitMQConfirmPublisher` — publisher confirms, asynchronous and windowed: at most
  ``window`` messages unconfirmed, ``Basic.Ack`` (single or ``multiple``) counted as they come.
* :class:`AMQP1CreditPublisher` — sends within the link's credit, at most ``window``
  deliveries unsettled, each settled as the broker accepts it.
* :class:`SQSBatchPublisher` — ``SendMessageBatch`` of 10, every ``Failed`` entry checked.

``publish`` returns as soon as the message is handed to the client (it waits only while the
window is full); ``flush`` returns once every message published so far is confirmed.  A
refusal (nack, rejected/released/modified, a failed delivery report, a failed batch entry)
or a confirmation that does not come within ``timeout`` raises
:class:`~mqmigrate.errors.PublishRefused`: no message is ever counted as sent that the broker
did not take.  ``confirmed`` is how many the broker confirmed so far.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from mqmigrate.errors import PublishRefused
from mqmigrate.sources.amqp1.publisher import AMQP1CreditPublisher
from mqmigrate.sources.base import PUBLISH_TIMEOUT as DEFAULT_TIMEOUT
from mqmigrate.sources.base import PUBLISH_WINDOW as DEFAULT_WINDOW
from mqmigrate.sources.rabbitmq.publisher import ConfirmTracker, RabbitMQConfirmPublisher
from mqmigrate.sources.sqs.publisher import SQSBatchPublisher

if TYPE_CHECKING:
    from mqmigrate.kafka.config import KafkaConfig

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_WINDOW",
    "KafkaPublisher",
    "ConfirmTracker",
    "RabbitMQConfirmPublisher",
    "AMQP1CreditPublisher",
    "SQSBatchPublisher",
]


# -- Kafka ---------------------------------------------------------------------------------------
class KafkaPublisher:
    """confluent-kafka's asynchronous producer; every delivery report is counted."""

    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        settings: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        """``config``: the connection (bootstrap, security); ``settings``: the producer's own
        (acks, idempotence, linger...) on top of it."""
        from confluent_kafka import Producer

        self.producer = Producer(config.client(settings))
        self.topic = topic
        self.timeout = timeout
        self.confirmed = 0
        self.failed = 0
        self.first_error = ""

    def _report(self, error: Any, _message: Any) -> None:
        if error is None:
            self.confirmed += 1
        else:
            self.failed += 1
            self.first_error = self.first_error or str(error)

    def publish(self, body: bytes) -> None:
        """Queue ``body`` for sending (serving delivery reports while the local queue is full)."""
        while True:
            try:
                self.producer.produce(self.topic, body, on_delivery=self._report)
                break
            except BufferError:  # local queue full: serve delivery reports, retry
                self.producer.poll(0.05)
        self.producer.poll(0)
        self._raise_if_failed()

    def flush(self) -> None:
        """Wait until every queued message has its delivery report."""
        remaining = self.producer.flush(self.timeout)
        self._raise_if_failed()
        if remaining:
            raise PublishRefused(
                f"Kafka did not acknowledge {remaining} message(s) within {self.timeout:.0f} s"
            )

    def _raise_if_failed(self) -> None:
        if self.failed:
            raise PublishRefused(
                f"Kafka refused {self.failed} message(s): {self.first_error[:200]}"
            )

    def close(self) -> None:
        """Give queued messages a last chance; nothing is counted that was not reported."""
        self.producer.flush(10)
