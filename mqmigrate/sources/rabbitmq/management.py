"""RabbitMQ's management HTTP API, for the RabbitMQ source: a queue's counts and bindings.

One client for every management call the adapter makes (the shadow queue's bindings, the
counts cutover's gates and ``verify`` read), so endpoint, credentials, TLS and error wording
are the same everywhere.  ``assess``'s live reader reads whole brokers through its own paged
client (:mod:`mqmigrate.inventory.readers.rabbitmq_http`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from mqmigrate.errors import AuthenticationFailed, SourceUnavailable
from mqmigrate.sources.connect import connect_error, http_client
from mqmigrate.sources.uri import SourceURI

#: what the management API is called in errors
API = "RabbitMQ management API"


class ManagementAnswer(SourceUnavailable):
    """The management API answered with an unexpected HTTP status (``status``)."""

    def __init__(self, message: str, status: int, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class RabbitMQManagement:
    """The management API of one broker (a ``rabbitmq+http(s)://`` endpoint, e.g. what
    :func:`mqmigrate.sources.uri.management_endpoint` derives from the AMQP source);
    ``guest:guest`` when the endpoint has no credentials, as the broker's default."""

    def __init__(self, endpoint: SourceURI, *, timeout: float = 10.0):
        self.endpoint = endpoint
        self.timeout = timeout

    def _request(self, method: str, path: str) -> Any:
        import httpx

        try:
            with http_client(
                self.endpoint, timeout=self.timeout, default_auth=("guest", "guest")
            ) as client:
                return client.request(method, path)
        except httpx.HTTPError as exc:
            raise connect_error(self.endpoint, exc, what=API) from exc

    def _checked(self, response: Any, what: str) -> Any:
        """The response, unless it refused the credentials or answered an error."""
        if response.status_code in (401, 403):
            raise AuthenticationFailed(
                f"the management API at {self.endpoint.masked} refused the credentials"
            )
        if response.status_code not in (200, 204):
            raise ManagementAnswer(
                f"management API answered {response.status_code} for {what}",
                response.status_code,
            )
        return response

    @staticmethod
    def _queue_path(vhost: str, queue: str) -> str:
        return f"/api/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}"

    def queue(self, vhost: str, queue: str) -> dict[str, Any] | None:
        """The queue's management record (``messages_ready``, ``messages_unacknowledged``,
        ``consumers``...), None when the queue does not exist."""
        response = self._request("GET", self._queue_path(vhost, queue))
        if response.status_code == 404:
            return None
        body: dict[str, Any] = self._checked(response, f"queue {queue!r}").json()
        return body

    def bindings(self, vhost: str, queue: str) -> list[dict[str, Any]] | None:
        """The queue's bindings (``source``, ``routing_key``, ``arguments``), None when the
        queue does not exist."""
        response = self._request("GET", self._queue_path(vhost, queue) + "/bindings")
        if response.status_code == 404:
            return None
        rows = self._checked(response, f"the bindings of {queue!r}").json()
        return [
            {
                "source": b["source"],
                "routing_key": b.get("routing_key", ""),
                "arguments": b.get("arguments") or {},
            }
            for b in rows
        ]
