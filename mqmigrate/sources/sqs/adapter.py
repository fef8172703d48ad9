"""Amazon SQS (and SQS-compatible endpoints) as a bridge source, over boto3.

* receive: ``ReceiveMessage`` batches of 10 (the SQS maximum), several in parallel on a
  small thread pool so one engine turn can take up to ``max_messages`` quickly; a long poll
  (``WaitTimeSeconds`` up to 20) when the engine is willing to wait, a short poll when it
  calls with ``timeout=0`` (then an empty answer pauses short polls for a moment, so a bridge
  waiting on Kafka does not hammer the queue).
* settle: ACCEPT → ``DeleteMessageBatch``; RELEASE → ``ChangeMessageVisibilityBatch`` with
  timeout 0 (visible again at once).  REJECT → the message is left alone: it is not deleted
  and no longer kept invisible, so it reappears when its visibility timeout ends and that
  receive counts towards the queue's redrive policy (``maxReceiveCount``): SQS itself moves it
  to the queue's dead-letter queue.  SQS never drops it; without a redrive policy it is simply
  redelivered later (a delayed RELEASE).
* visibility: every message received and not yet settled is *held*; whenever a held message
  has less than half of its visibility timeout left, the adapter extends it by a whole
  timeout with ``ChangeMessageVisibilityBatch``.  The engine calls :meth:`receive` every turn,
  also with ``timeout=0`` while it waits for Kafka, so a slow or unavailable Kafka never lets a
  message reappear to another consumer while its record is still pending.
* FIFO: ``MessageGroupId`` is the envelope key (``group_key``); SQS hands out a group's
  messages in order and holds the group back while one of them is in flight, so the engine
  writes each group in order.

Source id: the ``mq-source-id`` message attribute when the producer set one (the dual-write
SDK does, :data:`mqmigrate.headers.SQS_SOURCE_ID_ATTRIBUTE`), else the SQS ``MessageId``,
which is stable across redeliveries of one message.

Headers: the message attributes exactly as boto3 returns them (``DataType`` with its custom
suffix, ``StringValue`` or ``BinaryValue``) go to ``mq.sqs.attributes``; the system attributes
(``SentTimestamp``, ``ApproximateReceiveCount``, ``SequenceNumber``,
``MessageDeduplicationId``, ``MessageGroupId``, ``SenderId``, ``AWSTraceHeader`` ...) to
``mq.sqs.system``.  Kafka timestamp = ``SentTimestamp``.

Shadow mode: SQS has no non-destructive read, so a shadow copy is only possible when the
queue is fed by SNS.  The bridge then creates ``<queue>-mqmigrate-shadow`` (``.fifo`` kept),
lets the topics send to it (queue policy), subscribes it to every topic feeding the source
queue with the same ``RawMessageDelivery`` / ``FilterPolicy`` / ``FilterPolicyScope``, and
reads that; ``--remove-shadow`` unsubscribes and deletes it.  Any other queue is refused.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import boto3  # noqa: F401  (first: a missing driver gets the registry's "pip install boto3")
from botocore import exceptions as bex

from mqmigrate.errors import MqMigrateError, SourceError, SourceUnavailable, UsageError
from mqmigrate.headers import SQS_SOURCE_ID_ATTRIBUTE
from mqmigrate.sources.base import (
    Capabilities,
    Count,
    Envelope,
    BridgeMode,
    Outcome,
    QueueCounts,
    QueueSpec,
    SourceAdapter,
)
from mqmigrate.sources.sqs.client import MISSING_QUEUE_CODES, classify, error_code, make_clients
from mqmigrate.sources.uri import parse_source_uri

log = logging.getLogger("mqmigrate.bridge")

SHADOW_SUFFIX = "-mqmigrate-shadow"
#: SQS limits: messages per receive/delete/visibility batch, seconds of one long poll
BATCH = 10
MAX_WAIT = 20
#: subscription attributes a shadow subscription copies from the source's
COPIED_SUBSCRIPTION_ATTRIBUTES = ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope")
#: after an empty short poll, answer short polls from memory (empty) for this long
EMPTY_SHORT_POLL_PAUSE = 0.1


@dataclass
class _Held:
    """A message received and not settled yet."""

    receipt: str
    generation: int
    #: monotonic time at which SQS makes it visible again unless extended
    visible_at: float


class SQSSource(SourceAdapter):
    """One SQS queue (standard or FIFO); see the module doc."""

    kind = "sqs"
    capabilities = Capabilities(
        shadow=True,
        batch_settle=True,
        send_timestamp=True,
        group_key=True,
        release_redelivers=True,
        depth=True,
        counts=True,
        queue_check=True,
        declare=True,
    )
    #: what a boto3 call can raise; :func:`~mqmigrate.sources.sqs.client.classify` sorts it
    #: into transient or terminal by error code (SQS has no connection to lose)
    connection_errors = (
        bex.EndpointConnectionError,
        bex.ConnectTimeoutError,
        bex.ReadTimeoutError,
        bex.ConnectionClosedError,
        OSError,
    )
    terminal_errors = (bex.NoCredentialsError, bex.PartialCredentialsError)

    def __init__(
        self,
        uri: str,
        queue: str,
        *,
        mode: BridgeMode = BridgeMode.drain,
        prefetch: int = 2000,
        receivers: int = 8,
        visibility_timeout: int | None = None,
        clients: tuple[Any, Any] | None = None,
    ):
        self.uri = parse_source_uri(uri)
        if self.uri.kind != "sqs":
            raise UsageError(
                f"{self.uri.masked} is not an SQS URI",
                hint="use sqs://REGION or sqs+http://HOST:PORT",
            )
        if queue.startswith(("http://", "https://")):  # a queue URL: its last path part
            self.source_url: str | None = queue
            queue = queue.rstrip("/").rsplit("/", 1)[-1]
        else:
            self.source_url = None
        self.source_queue = queue
        self.mode = BridgeMode(mode)
        self.fifo = queue.endswith(".fifo")
        self.queue = _shadow_name(queue) if self.mode is BridgeMode.shadow else queue
        self.prefetch = prefetch
        self.receivers = max(1, receivers)
        self._visibility_override = visibility_timeout
        self._clients = clients
        self._sqs: Any = None
        self._sns: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self.url: str | None = None
        self.visibility_timeout = 30
        self._generation = 0
        #: message id -> held message, ordered by ``visible_at`` (extensions move to the end)
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._quiet_until = 0.0
        self._next_extend = 0.0
        #: held messages whose extension failed (warned about once)
        self._extend_failed: set[str] = set()

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> "SQSSource":
        queue = options.pop("queue")
        options.pop("management_url", None)  # RabbitMQ-only
        return cls(uri, queue, **options)

    def describe(self) -> str:
        return f"SQS {self.uri.masked} queue {self.queue!r}"

    # -- calls ------------------------------------------------------------------------------
    def _call(self, action: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except (bex.BotoCoreError, bex.ClientError, OSError) as exc:
            raise classify(
                exc, f"{self.describe()}: {action}", queue=self.queue, source=self.uri
            ) from exc

    def _parallel(
        self, action: str, fn: Callable[..., Any], requests: list[dict], *, partial: bool = False
    ) -> list[Any]:
        """Run ``fn(**request)`` for each request, concurrently; answers in request order.
        A failed call raises, unless ``partial`` and another call succeeded: then its answer
        is None (a failed receive took nothing this adapter could settle)."""
        if len(requests) == 1 or self._pool is None:
            return [self._call(action, fn, **r) for r in requests]
        futures = [self._pool.submit(self._call, action, fn, **r) for r in requests]
        answers, first_error = [], None
        for future in futures:  # wait for all, so no call outlives this one
            try:
                answers.append(future.result())
            except MqMigrateError as exc:
                answers.append(None)
                first_error = first_error or exc
        if first_error is not None and not (partial and any(a is not None for a in answers)):
            raise first_error
        return answers

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        self.close()
        if self._sqs is None:
            self._sqs, self._sns = self._clients or make_clients(self.uri, pool=self.receivers + 2)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.receivers, thread_name_prefix="sqs")
        if self.source_url is None:
            self.source_url = self._call(
                "find queue", self._sqs.get_queue_url, QueueName=self.source_queue
            )["QueueUrl"]
        if self.mode is BridgeMode.shadow:
            self.url = self._ensure_shadow()
        else:
            self.url = self.source_url
        attrs = self._call(
            "read queue attributes",
            self._sqs.get_queue_attributes,
            QueueUrl=self.url,
            AttributeNames=["VisibilityTimeout"],
        )["Attributes"]
        self.visibility_timeout = self._visibility_override or int(attrs["VisibilityTimeout"])
        self._generation += 1

    def close(self) -> None:
        """Give held messages back at once (visibility 0) and forget them; a failure here is
        harmless: they reappear when their visibility timeout ends."""
        held = [h for h in self._held.values() if h.generation == self._generation]
        self._held.clear()
        self._extend_failed.clear()
        self._generation += 1
        if held and self._sqs is not None and self.url is not None:
            try:
                self._change_visibility([h.receipt for h in held], 0, "release on close")
            except MqMigrateError as exc:
                log.warning(
                    "%s: could not release %d held messages on close (%s); they "
                    "reappear after their visibility timeout",
                    self.describe(),
                    len(held),
                    exc.one_line(),
                )
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- receive --------------------------------------------------------------------------------
    def receive(self, max_messages: int, timeout: float) -> list[Envelope]:
        if self.url is None:
            raise SourceUnavailable(f"{self.describe()}: not open")
        now = time.monotonic()
        if self._held and now >= self._next_extend:
            self._extend(now)
        # the engine bounds what it holds too; this keeps a direct caller within prefetch
        max_messages = min(max_messages, self.prefetch - len(self._held))
        if max_messages <= 0:
            return []
        wait = 0 if timeout <= 0 else min(MAX_WAIT, max(1, math.ceil(timeout)))
        if wait == 0 and now < self._quiet_until:
            return []
        calls = min(self.receivers, math.ceil(max_messages / BATCH))
        if wait:
            calls = 1  # a long poll: one caller waits, the answer comes on the first arrival
        requests, left = [], max_messages
        for _ in range(calls):
            request = {
                "QueueUrl": self.url,
                "MaxNumberOfMessages": min(BATCH, left),
                "WaitTimeSeconds": wait,
                "MessageAttributeNames": ["All"],
                "MessageSystemAttributeNames": ["All"],
            }
            if self._visibility_override:
                request["VisibilityTimeout"] = self._visibility_override
            requests.append(request)
            left -= request["MaxNumberOfMessages"]
        received_at = time.monotonic()
        # messages a failed call may have taken reappear after their visibility timeout
        answers = self._parallel("receive", self._sqs.receive_message, requests, partial=True)
        out: list[Envelope] = []
        visible_at = received_at + self.visibility_timeout
        for answer in answers:
            for message in (answer or {}).get("Messages") or ():
                mid = message["MessageId"]
                self._held[mid] = _Held(message["ReceiptHandle"], self._generation, visible_at)
                self._held.move_to_end(mid)
                out.append(self._envelope(message))
        if not out and wait == 0:
            self._quiet_until = time.monotonic() + EMPTY_SHORT_POLL_PAUSE
        return out

    def _envelope(self, message: dict[str, Any]) -> Envelope:
        system = dict(message.get("Attributes") or {})
        attributes = message.get("MessageAttributes") or {}
        mid = message["MessageId"]
        own_id = attributes.get(SQS_SOURCE_ID_ATTRIBUTE, {}).get("StringValue")
        sent = system.get("SentTimestamp")
        group = system.get("MessageGroupId")
        properties: dict[str, Any] = {"message_id": mid}
        if group:
            properties["group_id"] = group
        count = int(system.get("ApproximateReceiveCount", "1") or 1)
        return Envelope(
            body=message.get("Body", "").encode("utf-8"),
            source_id=own_id or mid,
            source_kind=self.kind,
            queue=self.source_queue,
            key=group or None,
            timestamp_ms=int(sent) if sent else None,
            properties=properties,
            headers=attributes,
            sections={"sqs.system": system},
            coordinates={"queue": self.queue, "queue_url": self.url or "", "message_id": mid},
            redelivered=count > 1,
            handle=(self._generation, mid),
        )

    # -- visibility ---------------------------------------------------------------------------
    def _extend(self, now: float) -> None:
        """Extend every held message with less than half its visibility timeout left."""
        timeout = self.visibility_timeout
        due = []
        for mid, held in self._held.items():  # ordered by visible_at: stop at the first not due
            if held.visible_at - now > timeout / 2:
                break
            due.append(mid)
        self._next_extend = now + max(0.2, min(1.0, timeout / 4))
        if not due:
            return
        receipts = [self._held[mid].receipt for mid in due]
        failed = self._change_visibility(receipts, timeout, "extend visibility")
        visible_at = time.monotonic() + timeout
        for mid in due:
            held = self._held[mid]
            if held.receipt in failed:
                # kept held and retried next time: the failure may pass, and if the message
                # is no longer ours (its visibility ended and another consumer has it) the
                # delete after Kafka's ack may still remove it; a duplicate at worst
                if mid not in self._extend_failed:
                    self._extend_failed.add(mid)
                    log.warning(
                        "%s: could not extend the visibility of message %s (%s)",
                        self.describe(),
                        mid,
                        failed[held.receipt],
                    )
                continue
            held.visible_at = visible_at
            self._held.move_to_end(mid)  # the latest deadline goes last
        log.debug("extended the visibility of %d messages by %ds", len(due), timeout)

    def _change_visibility(
        self, receipts: Sequence[str], timeout: int, action: str
    ) -> dict[str, str]:
        """``ChangeMessageVisibilityBatch`` for ``receipts``; the failed ones with reasons."""
        return self._batch(
            action, self._sqs.change_message_visibility_batch, receipts, VisibilityTimeout=timeout
        )

    def _batch(
        self, action: str, fn: Callable[..., Any], receipts: Sequence[str], **entry_fields: Any
    ) -> dict[str, str]:
        requests = []
        for start in range(0, len(receipts), BATCH):
            chunk = receipts[start : start + BATCH]
            requests.append(
                {
                    "QueueUrl": self.url,
                    "Entries": [
                        {"Id": str(i), "ReceiptHandle": r, **entry_fields}
                        for i, r in enumerate(chunk)
                    ],
                }
            )
        failed: dict[str, str] = {}
        for request, answer in zip(requests, self._parallel(action, fn, requests)):
            for entry in answer.get("Failed") or ():
                receipt = request["Entries"][int(entry["Id"])]["ReceiptHandle"]
                failed[receipt] = f"{entry.get('Code', '?')}: {entry.get('Message', '')}"[:200]
        return failed

    # -- settle ----------------------------------------------------------------------------------
    def settle(self, envelope: Envelope, outcome: Outcome) -> None:
        self.settle_many([envelope], outcome)

    def settle_many(self, envelopes: Sequence[Envelope], outcome: Outcome) -> int:
        mine: list[_Held] = []
        for env in envelopes:
            generation, mid = env.handle
            held = self._held.get(mid)
            if generation == self._generation and held is not None:
                mine.append(self._held.pop(mid))
                self._extend_failed.discard(mid)
        if not mine or outcome is Outcome.REJECT:
            # REJECT: no longer held, so no longer extended: it reappears after its
            # visibility timeout and the redrive policy dead-letters it (module doc)
            return len(mine)
        receipts = [h.receipt for h in mine]
        if outcome is Outcome.ACCEPT:
            failed = self._batch("delete", self._sqs.delete_message_batch, receipts)
        else:
            failed = self._change_visibility(receipts, 0, "release")
        if failed:
            # the record is in Kafka (ACCEPT) or the message comes back anyway when its
            # visibility ends (RELEASE): at worst a counted duplicate, never a loss
            log.warning(
                "%s: %s failed for %d of %d messages, e.g. %s",
                self.describe(),
                outcome.value,
                len(failed),
                len(receipts),
                next(iter(failed.values())),
            )
        return len(receipts) - len(failed)

    def depth(self) -> int | None:
        """Messages still to move: visible, delayed, and in flight with someone other than
        this adapter (a crashed bridge's messages come back when their visibility ends, so
        drain must not call the queue empty while they are out)."""
        if self.url is None:
            return None
        attrs = self._call(
            "read depth",
            self._sqs.get_queue_attributes,
            QueueUrl=self.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        visible = int(attrs.get("ApproximateNumberOfMessages", 0))
        others = max(
            0, int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)) - len(self._held)
        )
        return visible + others + int(attrs.get("ApproximateNumberOfMessagesDelayed", 0))

    # -- shadow ------------------------------------------------------------------------------------
    def _queue_arn(self, url: str) -> str:
        return self._call(
            "read queue ARN",
            self._sqs.get_queue_attributes,
            QueueUrl=url,
            AttributeNames=["QueueArn"],
        )["Attributes"]["QueueArn"]

    def _subscriptions_of(self, endpoint_arn: str) -> list[dict[str, Any]]:
        """SNS subscriptions delivering to the queue with ARN ``endpoint_arn``."""
        out, token = [], None
        while True:
            page = self._call(
                "list SNS subscriptions",
                self._sns.list_subscriptions,
                **({"NextToken": token} if token else {}),
            )
            out += [
                s
                for s in page.get("Subscriptions", ())
                if s.get("Protocol") == "sqs" and s.get("Endpoint") == endpoint_arn
            ]
            token = page.get("NextToken")
            if not token:
                return out

    def feeding_subscriptions(self) -> list[dict[str, Any]]:
        """The SNS subscriptions of the source queue with the attributes a copy needs."""
        assert self.source_url is not None
        subs = []
        for sub in self._subscriptions_of(self._queue_arn(self.source_url)):
            if sub.get("SubscriptionArn", "").startswith("PendingConfirmation"):
                continue
            attrs = self._call(
                "read SNS subscription",
                self._sns.get_subscription_attributes,
                SubscriptionArn=sub["SubscriptionArn"],
            )["Attributes"]
            copied = {k: attrs[k] for k in COPIED_SUBSCRIPTION_ATTRIBUTES if attrs.get(k)}
            subs.append({"TopicArn": sub["TopicArn"], "Attributes": copied})
        return subs

    def _ensure_shadow(self) -> str:
        """Create (or find) the shadow queue, subscribed like the source queue; its URL."""
        feeding = self.feeding_subscriptions()
        if not feeding:
            raise SourceError(
                f"SQS queue {self.source_queue!r} is not fed by an SNS topic, and SQS has no "
                "non-destructive read: a shadow copy would take messages from its consumers",
                hint="use --mode drain to move the messages, or dual-write the producers "
                "(mqmigrate.sdk.dualwrite)",
            )
        source_attrs = self._call(
            "read queue attributes",
            self._sqs.get_queue_attributes,
            QueueUrl=self.source_url,
            AttributeNames=["All"],
        )["Attributes"]
        topics = sorted({s["TopicArn"] for s in feeding})
        attributes = {
            k: source_attrs[k]
            for k in ("VisibilityTimeout", "MessageRetentionPeriod", "MaximumMessageSize")
            if k in source_attrs
        }
        if self.fifo:
            attributes["FifoQueue"] = "true"
            attributes["ContentBasedDeduplication"] = source_attrs.get(
                "ContentBasedDeduplication", "false"
            )
        url = self._call(
            "create shadow queue",
            self._sqs.create_queue,
            QueueName=self.queue,
            Attributes=attributes,
        )["QueueUrl"]
        arn = self._queue_arn(url)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "mqmigrate-shadow",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topics}},
                }
            ],
        }
        self._call(
            "set shadow queue policy",
            self._sqs.set_queue_attributes,
            QueueUrl=url,
            Attributes={"Policy": json.dumps(policy)},
        )
        existing = {s["TopicArn"] for s in self._subscriptions_of(arn)}
        for sub in feeding:
            if sub["TopicArn"] in existing:
                continue  # a restart: the shadow queue kept collecting copies meanwhile
            self._call(
                "subscribe shadow queue",
                self._sns.subscribe,
                TopicArn=sub["TopicArn"],
                Protocol="sqs",
                Endpoint=arn,
                Attributes=sub["Attributes"],
                ReturnSubscriptionArn=True,
            )
            existing.add(sub["TopicArn"])
        log.info("shadow queue %s subscribed to %s", self.queue, ", ".join(topics))
        return url

    # -- management operations (no open() needed) ------------------------------------------------
    def _clients_now(self) -> Any:
        """The SQS client, made now when :meth:`open` has not made it."""
        if self._sqs is None:
            self._sqs, self._sns = self._clients or make_clients(self.uri)
        return self._sqs

    def _find_url(self, name: str) -> str | None:
        """The URL of queue ``name``, None when it does not exist."""
        sqs = self._clients_now()
        try:
            url: str = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except (bex.BotoCoreError, bex.ClientError, OSError) as exc:
            if error_code(exc) in MISSING_QUEUE_CODES:
                return None
            raise classify(
                exc, f"{self.describe()}: find queue", queue=name, source=self.uri
            ) from exc
        return url

    def queue_counts(self) -> QueueCounts:
        """``ApproximateNumberOfMessages`` + ``ApproximateNumberOfMessagesDelayed`` ready (a
        delayed message is still in the queue, only not receivable yet: a drain that stopped
        before it became visible would strand it), ``ApproximateNumberOfMessagesNotVisible`` in
        flight; SQS does not report consumers."""
        url = self.source_url or self._find_url(self.source_queue)
        if url is None:
            raise SourceError(
                f"{self.describe()}: queue {self.source_queue!r} does not exist",
                hint="check --queue and the region or endpoint in --source",
            )
        ready = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"]
        in_flight = ["ApproximateNumberOfMessagesNotVisible"]
        got = self._call(
            "read queue counts",
            self._clients_now().get_queue_attributes,
            QueueUrl=url,
            AttributeNames=ready + in_flight,
        )["Attributes"]
        return QueueCounts(
            ready=Count(sum(int(got.get(a, 0)) for a in ready), "SQS " + " + ".join(ready)),
            in_flight=Count(sum(int(got.get(a, 0)) for a in in_flight), "SQS " + in_flight[0]),
            consumers=Count.unknown("SQS does not report consumers"),
        )

    def queue_exists(self) -> bool:
        return self._find_url(self.source_queue) is not None

    def remove_shadow(self) -> list[str]:
        """Unsubscribe and delete the shadow queue; the source queue and its subscriptions are
        untouched."""
        url = self._find_url(_shadow_name(self.source_queue))
        if url is None:
            return []  # already gone
        removed = []
        for sub in self._subscriptions_of(self._queue_arn(url)):
            self._call(
                "unsubscribe shadow queue",
                self._sns.unsubscribe,
                SubscriptionArn=sub["SubscriptionArn"],
            )
            removed.append(f"subscription to {sub.get('TopicArn', '?')}")
        self._call("delete shadow queue", self._sqs.delete_queue, QueueUrl=url)
        if self.mode is BridgeMode.shadow:
            self.url = None
        return [f"queue {_shadow_name(self.source_queue)}", *removed]

    def declare_queue(self, spec: QueueSpec) -> None:
        """The queue with ``visibility_timeout_s`` and, with ``dead_letter_queue``, a redrive
        policy to it after ``max_receives`` receives (the dead-letter queue created too)."""
        sqs = self._clients_now()
        attributes: dict[str, str] = {}
        if spec.visibility_timeout_s is not None:
            attributes["VisibilityTimeout"] = str(spec.visibility_timeout_s)
        if spec.dead_letter_queue:
            dlq_url = self._call(
                "create dead-letter queue", sqs.create_queue, QueueName=spec.dead_letter_queue
            )["QueueUrl"]
            redrive = {"deadLetterTargetArn": self._queue_arn(dlq_url)}
            if spec.max_receives is not None:
                redrive["maxReceiveCount"] = str(spec.max_receives)
            attributes["RedrivePolicy"] = json.dumps(redrive)
        self._call("create queue", sqs.create_queue, QueueName=spec.name, Attributes=attributes)

    def delete_queue(self, spec: QueueSpec) -> list[str]:
        problems = []
        for name in (spec.name, spec.dead_letter_queue):
            if not name:
                continue
            try:
                url = self._find_url(name)
                if url is not None:
                    self._call("delete queue", self._sqs.delete_queue, QueueUrl=url)
            except MqMigrateError as exc:
                problems.append(f"SQS queue {name}: {exc.one_line()}")
        return problems


def _shadow_name(queue: str) -> str:
    stem, fifo = (queue[:-5], ".fifo") if queue.endswith(".fifo") else (queue, "")
    name = stem + SHADOW_SUFFIX + fifo
    if len(name) > 80:  # the SQS limit on queue names
        raise UsageError(
            f"the shadow queue name {name!r} would exceed SQS's 80 characters",
            hint="shadow a queue with a shorter name",
        )
    return name


__all__ = ["SQSSource", "SHADOW_SUFFIX", "error_code"]
