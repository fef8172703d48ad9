"""The dual-writer's source side: the source publishers of :mod:`mqmigrate.sources` under the
SDK's names.  Each ``send`` returns once the broker confirmed (RabbitMQ publisher confirm with
``mandatory``, the SQS answer, the AMQP 1.0 *accepted* outcome), else raises."""

from __future__ import annotations

from typing import Mapping, Protocol

from mqmigrate.sources.amqp1.publisher import AMQP1Publisher
from mqmigrate.sources.rabbitmq.publisher import RabbitMQPublisher
from mqmigrate.sources.sqs.publisher import SQSPublisher


class SourceSide(Protocol):
    """The least a source producer needs: ``send`` returns once the broker confirmed, else
    raises :class:`~mqmigrate.errors.MqMigrateError`.  A producer that can delay a message
    also has ``check_delay(delay_ms)`` and ``send(..., delay_ms=)``, as every
    :class:`~mqmigrate.sources.base.SourcePublisher` does."""

    @property
    def kind(self) -> str: ...

    def send(
        self, body: bytes, message_id: str, headers: Mapping[str, str], key: str | None
    ) -> None: ...

    def close(self) -> None: ...


class PikaSource(RabbitMQPublisher):
    """RabbitMQ over AMQP 0-9-1 with publisher confirms:
    :class:`~mqmigrate.sources.rabbitmq.publisher.RabbitMQPublisher`
    (``PikaSource(url, routing_key=, exchange="", persistent=True, delay_via="wait-queue")``)."""


class SqsSource(SQSPublisher):
    """Amazon SQS: :class:`~mqmigrate.sources.sqs.publisher.SQSPublisher`
    (``SqsSource(queue_url, client= | endpoint_url=, region_name= | source=URI)``)."""


class ProtonSource(AMQP1Publisher):
    """An AMQP 1.0 broker: :class:`~mqmigrate.sources.amqp1.publisher.AMQP1Publisher`
    (``ProtonSource(url, address, user=, password=, capabilities=, timeout=)``)."""


__all__ = ["SourceSide", "PikaSource", "SqsSource", "ProtonSource"]
