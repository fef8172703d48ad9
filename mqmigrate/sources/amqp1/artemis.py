"""ActiveMQ Artemis management through Jolokia: the one Jolokia client (:class:`JolokiaClient`,
used by the AMQP 1.0 adapter and by ``assess``'s live Artemis reader, so the CORS ``Origin``
rule, credential handling and HTTP error mapping are the same for both) and the adapter's
management operations on it (:class:`ArtemisManagement`: queue lookup, counts, and the shadow
copy, a durable subscription queue or a non-exclusive divert).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mqmigrate.errors import ConnectionFailed, MqMigrateError, SourceError
from mqmigrate.redact import mask_uri
from mqmigrate.sources.amqp1 import DIVERT_SUFFIX, SHADOW_SUFFIX
from mqmigrate.sources.connect import (
    check_http_status,
    connect_error,
    http_client,
    management_credentials,
)
from mqmigrate.sources.uri import SourceURI, parse_source_uri

_NAME_PART = re.compile(r'(?P<key>[\w-]+)=(?P<value>"(?:[^"\\]|\\.)*"|[^,]*)')


class JolokiaClient:
    """Jolokia requests to one Artemis broker's console: an ``artemis+http(s)://`` endpoint
    (``?broker=NAME``; the path defaults to ``/console/jolokia``).  Credentials missing from
    the URI come from ``ARTEMIS_USER`` / ``ARTEMIS_PASSWORD``."""

    def __init__(self, uri: "str | SourceURI"):
        endpoint = parse_source_uri(uri) if isinstance(uri, str) else uri
        self.endpoint = endpoint = management_credentials(endpoint, "ARTEMIS")
        self.uri = endpoint.masked
        self.query = endpoint.query
        path = "" if endpoint.path.rstrip("/").endswith("jolokia") else "/console/jolokia"
        # Artemis' Jolokia checks the Origin header against its CORS allow-list; the console's
        # own origin is what a browser on the console would send.
        self.client = http_client(endpoint, path=path, headers={"Origin": endpoint.http_base})

    def call(self, request: dict[str, Any]) -> Any:
        """One Jolokia request; its ``value``, or a one-line error."""
        import httpx

        try:
            r = self.client.post("/", json=request)
        except httpx.HTTPError as exc:
            raise connect_error(self.endpoint, exc, what="the Artemis Jolokia API") from exc
        check_http_status(r, "the Artemis Jolokia API", self.uri)
        try:
            body = r.json()
        except ValueError as exc:
            raise ConnectionFailed(f"{mask_uri(self.uri)}: Jolokia did not answer JSON") from exc
        if body.get("status") != 200:
            raise ConnectionFailed(
                f"Artemis at {mask_uri(self.uri)}: {body.get('error_type')}: {body.get('error')}"
            )
        return body.get("value")

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True)
class QueueInfo:
    """Where a queue lives: its address and routing type (``anycast`` / ``multicast``)."""

    name: str
    address: str
    routing: str
    filter: str | None = None


class ArtemisManagement:
    """The Jolokia API of one Artemis broker: an ``artemis+http(s)://`` endpoint, e.g. what
    :func:`mqmigrate.sources.uri.management_endpoint` derives from the AMQP source (its
    credentials and TLS settings included)."""

    def __init__(self, endpoint: "SourceURI | str"):
        self.endpoint = parse_source_uri(endpoint) if isinstance(endpoint, str) else endpoint
        self._api = JolokiaClient(self.endpoint)
        self._broker: str | None = None

    def describe(self) -> str:
        return self.endpoint.masked

    def call(self, request: dict) -> Any:
        return self._api.call(request)

    def close(self) -> None:
        self._api.close()

    @property
    def broker(self) -> str:
        """The broker MBean name (the first one when the JVM runs several)."""
        if self._broker is None:
            found = self.call({"type": "search", "mbean": "org.apache.activemq.artemis:broker=*"})
            if not found:
                raise ConnectionFailed(f"no Artemis broker MBean at {self.describe()}")
            self._broker = sorted(found)[0]
        return self._broker

    def _exec(self, operation: str, *arguments: Any) -> Any:
        return self.call(
            {
                "type": "exec",
                "mbean": self.broker,
                "operation": operation,
                "arguments": list(arguments),
            }
        )

    # -- lookups -----------------------------------------------------------------------------
    def find_queue(self, name: str) -> QueueInfo | None:
        """The queue called ``name`` (on any address), or None."""
        pattern = (
            f"{self.broker},component=addresses,address=*,subcomponent=queues,"
            f"routing-type=*,queue={_quote(name)}"
        )
        found = self.call({"type": "search", "mbean": pattern}) or []
        if not found:
            return None
        parts = _parts(sorted(found)[0])
        filter_text = self.call({"type": "read", "mbean": sorted(found)[0], "attribute": "Filter"})
        return QueueInfo(
            name=name,
            address=parts["address"],
            routing=parts["routing-type"],
            filter=filter_text or None,
        )

    def address_routing(self, address: str) -> list[str]:
        """The routing types of ``address`` (lower case), empty when it does not exist."""
        mbean = f"{self.broker},component=addresses,address={_quote(address)}"
        try:
            value = self.call({"type": "read", "mbean": mbean, "attribute": "RoutingTypes"})
        except ConnectionFailed as exc:
            if "InstanceNotFoundException" in str(exc):
                return []
            raise
        return [str(v).lower() for v in value or []]

    def message_count(self, queue: str) -> int | None:
        """Every message of ``queue``, those being delivered (unsettled) included."""
        return self.queue_counts(queue, "MessageCount").get("MessageCount")

    def queue_counts(self, queue: str, *attributes: str) -> dict[str, int]:
        """Numeric attributes of ``queue`` read in one request (``MessageCount``,
        ``DeliveringCount``…); empty when the queue does not exist."""
        pattern = (
            f"{self.broker},component=addresses,address=*,subcomponent=queues,"
            f"routing-type=*,queue={_quote(queue)}"
        )
        value = self.call({"type": "read", "mbean": pattern, "attribute": list(attributes)})
        if isinstance(value, dict):  # a pattern read answers {mbean: {attribute: value}}
            for mbean in sorted(value):
                found = value[mbean]
                if isinstance(found, dict):
                    return {
                        k: int(v) for k, v in found.items() if k in attributes and v is not None
                    }
        return {}

    # -- changes -----------------------------------------------------------------------------
    def create_queue(
        self, name: str, address: str, routing: str, filter_text: str | None = None
    ) -> None:
        config: dict[str, Any] = {
            "name": name,
            "address": address,
            "routing-type": routing.upper(),
            "durable": True,
            "auto-delete": False,
        }
        if filter_text:
            config["filter-string"] = filter_text
        self._exec("createQueue(java.lang.String,boolean)", json.dumps(config), True)

    def destroy_queue(self, name: str) -> None:
        self._exec("destroyQueue(java.lang.String,boolean)", name, True)

    def divert_names(self) -> list[str]:
        return [
            str(n)
            for n in self.call({"type": "read", "mbean": self.broker, "attribute": "DivertNames"})
            or []
        ]

    def create_divert(self, name: str, address: str, forwarding_address: str) -> None:
        """A non-exclusive divert: every message routed to ``address`` also goes, as a copy,
        to ``forwarding_address`` (anycast); the original goes on to its queues unchanged."""
        self._exec(
            "createDivert(java.lang.String,java.lang.String,java.lang.String,"
            "java.lang.String,boolean,java.lang.String,java.lang.String,java.lang.String)",
            name,
            name,
            address,
            forwarding_address,
            False,
            None,
            None,
            "ANYCAST",
        )

    def destroy_divert(self, name: str) -> None:
        self._exec("destroyDivert(java.lang.String)", name)

    def delete_address(self, address: str) -> None:
        self._exec("deleteAddress(java.lang.String,boolean)", address, True)


def remove_shadow(management: ArtemisManagement, source_queue: str) -> list[str]:
    """Delete the shadow copy a shadow bridge made for ``source_queue`` (a divert and its
    anycast queue and address, or a durable subscription queue); what is already gone is
    skipped, the source queue is untouched.  The names removed, for the account."""
    name = source_queue.split("::")[-1]
    info = management.find_queue(name)
    # every candidate carries the shadow suffix, so nothing of the source can match
    queues = dict.fromkeys(
        [name + SHADOW_SUFFIX] + ([info.address + SHADOW_SUFFIX] if info is not None else [])
    )
    removed = []
    if name + DIVERT_SUFFIX in management.divert_names():
        management.destroy_divert(name + DIVERT_SUFFIX)
        removed.append(f"divert {name + DIVERT_SUFFIX}")
    for queue in queues:
        if management.find_queue(queue) is not None:
            management.destroy_queue(queue)
            removed.append(f"queue {queue}")
        if management.address_routing(queue):
            management.delete_address(queue)
            removed.append(f"address {queue}")
    return removed


def _quote(value: str) -> str:
    return json.dumps(value)  # JMX ObjectName quoting: "..." with \" and \\ escapes


def _parts(mbean: str) -> dict[str, str]:
    out = {}
    for match in _NAME_PART.finditer(mbean.split(":", 1)[1]):
        value = match.group("value")
        out[match.group("key")] = json.loads(value) if value.startswith('"') else value
    return out


def management_error(exc: MqMigrateError, what: str) -> SourceError:
    """A shadow/lookup failure as one terminal line that says what management is needed."""
    return SourceError(
        f"{what}: {exc.one_line()}",
        hint="shadow on Artemis needs its Jolokia management API: pass "
        "--management-url https://HOST:8161 (the console port)",
    )
