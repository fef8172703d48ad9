"""Amazon SQS publisher (boto3 ``send_message``): the write side of an SQS source.

The id travels as the ``mq-source-id`` String message attribute; on a FIFO queue (URL ending
in ``.fifo``) it is also the ``MessageDeduplicationId`` and the message key (or ``group_id``)
is the ``MessageGroupId``.  Headers become message attributes (SQS allows 10 per message,
``mq-source-id`` included): text as String, numbers as Number, bytes as Binary.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from mqmigrate.errors import ConfigError, PublishRefused, SourceError, SourceUnavailable
from mqmigrate.headers import SQS_SOURCE_ID_ATTRIBUTE
from mqmigrate.kafka.delays import label
from mqmigrate.sources.base import SourcePublisher, check_properties
from mqmigrate.sources.connect import sqs_client
from mqmigrate.sources.sqs.client import TRANSIENT_CODES
from mqmigrate.sources.uri import parse_source_uri


def message_attribute(value: Any) -> dict[str, Any]:
    """One header as an SQS message attribute: ``int``/``float`` as Number, ``bytes`` as
    Binary, anything else as its text (String)."""
    if isinstance(value, (bytes, bytearray)):
        return {"DataType": "Binary", "BinaryValue": bytes(value)}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"DataType": "Number", "StringValue": str(value)}
    return {"DataType": "String", "StringValue": str(value)}


class SQSPublisher(SourcePublisher):
    """Amazon SQS with boto3 ``send_message`` (the SDK's ``SqsSource``).

    ``source`` is an SQS source URI as ``--source`` takes it (``sqs://REGION?profile=``,
    ``?role_arn=``, ``sqs+https://...?cafile=``); without it (and without ``client``), a
    boto3 client from the keyword arguments.  SQS has no message properties: any is a
    ConfigError.
    """

    kind = "sqs"
    #: SQS's longest per-message delay
    MAX_DELAY_S = 900

    def __init__(
        self,
        queue_url: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        group_id: str = "default",
        source: str | None = None,
        **client_kwargs: Any,
    ):
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self.group_id = group_id
        if client is None and source is not None:
            client = sqs_client(parse_source_uri(source))
        if client is None:
            import boto3

            client = boto3.client(
                "sqs", endpoint_url=endpoint_url, region_name=region_name, **client_kwargs
            )
        self.client = client

    @classmethod
    def from_uri(cls, uri: str, *, queue: str, **options: Any) -> "SQSPublisher":
        """A publisher to ``queue`` (a name, looked up now, or a queue URL) at ``uri``."""
        from botocore.exceptions import BotoCoreError, ClientError

        from mqmigrate.sources.sqs.client import classify

        endpoint = parse_source_uri(uri)
        client = options.pop("client", None) or sqs_client(endpoint)
        if queue.startswith(("http://", "https://")):
            return cls(queue, client=client, **options)
        try:
            url = client.get_queue_url(QueueName=queue)["QueueUrl"]
        except (BotoCoreError, ClientError, OSError) as exc:
            what = f"SQS {endpoint.masked} queue {queue!r}: find queue"
            raise classify(exc, what, queue=queue, source=endpoint) from exc
        return cls(url, client=client, **options)

    def check_delay(self, delay_ms: int) -> None:
        """ConfigError when SQS cannot delay a message by ``delay_ms``."""
        if self.fifo:
            raise ConfigError(
                f"{self.queue_url}: a FIFO queue has no per-message delay",
                hint="set the queue's DelaySeconds instead",
            )
        if math.ceil(delay_ms / 1000) > self.MAX_DELAY_S:
            raise ConfigError(
                f"SQS delays a message by at most {self.MAX_DELAY_S} s, not {label(delay_ms)}"
            )

    def send(
        self,
        body: bytes,
        message_id: str,
        headers: Mapping[str, Any],
        key: str | None,
        delay_ms: int | None = None,
        *,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """``SendMessage`` and its answer; a body must be UTF-8 text (SQS bodies are)."""
        from botocore.exceptions import BotoCoreError, ClientError

        check_properties(self.kind, properties, frozenset())
        try:
            # SQS bodies are text; binary payloads must be encoded by the application
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"message {message_id} is not UTF-8 text, which an SQS body must be",
                hint="base64-encode binary payloads",
            ) from exc
        attributes = {name: message_attribute(value) for name, value in headers.items()}
        attributes[SQS_SOURCE_ID_ATTRIBUTE] = {"DataType": "String", "StringValue": message_id}
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MessageBody": text,
            "MessageAttributes": attributes,
        }
        if self.fifo:
            request["MessageDeduplicationId"] = message_id
            request["MessageGroupId"] = key or self.group_id
        if delay_ms:
            self.check_delay(delay_ms)
            # whole seconds, rounded up: never earlier than asked
            request["DelaySeconds"] = math.ceil(delay_ms / 1000)
        try:
            self.client.send_message(**request)
        except (BotoCoreError, ClientError) as exc:
            code = (
                exc.response.get("Error", {}).get("Code", "")
                if isinstance(exc, ClientError)
                else ""
            )
            # connection errors and throttling pass; a missing queue or a bad request does not
            transient = not isinstance(exc, ClientError) or code in TRANSIENT_CODES
            error = SourceUnavailable if transient else SourceError
            raise error(f"SQS send to {self.queue_url} failed: {exc}") from exc

    def close(self) -> None:
        """Nothing to close: boto3 clients hold no connection of their own."""


# -- windowed, asynchronously confirmed publishing (the benchmark's source side) -----------------


class SQSBatchPublisher:
    """``SendMessageBatch`` of 10 (SQS's maximum); a failed entry is a refusal."""

    def __init__(self, client: Any, queue_url: str):
        self.client, self.queue_url = client, queue_url
        self.batch: list[dict[str, str]] = []
        self.confirmed = 0

    def publish(self, body: bytes) -> None:
        """Add ``body`` to the batch (SQS bodies are text: base64 keeps binary intact)."""
        import base64

        self.batch.append(
            {"Id": str(len(self.batch)), "MessageBody": base64.b64encode(body).decode()}
        )
        if len(self.batch) == 10:
            self.flush()

    def flush(self) -> None:
        """Send the batch; every entry must come back in ``Successful``."""
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=batch)
        taken = len(answer.get("Successful") or [])
        self.confirmed += taken
        if taken != len(batch):
            first = (answer.get("Failed") or [{}])[0]
            raise PublishRefused(
                f"SQS refused {len(batch) - taken} of {len(batch)} message(s): "
                f"{first.get('Code', '?')} {first.get('Message', '')}".strip()
            )

    def close(self) -> None:
        self.flush()
