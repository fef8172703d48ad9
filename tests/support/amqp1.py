"""Helpers for the AMQP 1.0 bridge tests: Artemis queues through Jolokia, a fast confirmed
publisher, and the bridge as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterable

from proton import Message, symbol
from proton.handlers import MessagingHandler
from proton.reactor import Container, LinkOption
from tests.support.bridge import bridge_cmd

ROOT = Path(__file__).resolve().parents[2]
MBEAN = 'org.apache.activemq.artemis:broker="mqmigrate"'


class Artemis:
    """The sandbox Artemis: URIs and queue administration through Jolokia."""

    def __init__(self, service):
        self.service = service
        self.user, self.password = service.credentials()

    @property
    def uri(self) -> str:
        return f"amqp1://{self.user}:{self.password}@127.0.0.1:{self.service.port('acceptor')}"

    @property
    def url(self) -> str:
        return f"amqp://127.0.0.1:{self.service.port('acceptor')}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.service.port('console')}"

    def exec(self, operation: str, *arguments):
        return self.service.jolokia(
            {"type": "exec", "mbean": MBEAN, "operation": operation, "arguments": list(arguments)}
        )

    def create_queue(self, name: str, address: str | None = None, routing: str = "ANYCAST") -> None:
        config = {
            "name": name,
            "address": address or name,
            "routing-type": routing,
            "durable": True,
            "auto-delete": False,
        }
        self.exec("createQueue(java.lang.String,boolean)", json.dumps(config), True)

    def create_address(self, name: str, routing: str = "MULTICAST") -> None:
        self.exec("createAddress(java.lang.String,java.lang.String)", name, routing)

    def queue_names(self) -> list[str]:
        return list(
            self.service.jolokia({"type": "read", "mbean": MBEAN, "attribute": "QueueNames"})
        )

    def divert_names(self) -> list[str]:
        return list(
            self.service.jolokia({"type": "read", "mbean": MBEAN, "attribute": "DivertNames"}) or []
        )

    def address_names(self) -> list[str]:
        return list(
            self.service.jolokia({"type": "read", "mbean": MBEAN, "attribute": "AddressNames"})
        )

    def count(self, queue: str) -> int:
        pattern = (
            f"{MBEAN},component=addresses,address=*,subcomponent=queues,routing-type=*,"
            f"queue={json.dumps(queue)}"
        )
        value = self.service.jolokia(
            {"type": "read", "mbean": pattern, "attribute": "MessageCount"}
        )
        return int(next(iter(value.values()))["MessageCount"])

    def delete_queue(self, name: str) -> None:
        if name in self.queue_names():
            self.exec("destroyQueue(java.lang.String,boolean)", name, True)

    def delete_address(self, name: str) -> None:
        if name in self.address_names():
            self.exec("deleteAddress(java.lang.String,boolean)", name, True)

    def cleanup(self, *names: str) -> None:
        """Remove queues/addresses/diverts a test made (shadow ones included)."""
        for name in names:
            shadow = name + ".mqmigrate-shadow"
            if shadow + "-divert" in self.divert_names():
                self.exec("destroyDivert(java.lang.String)", shadow + "-divert")
            for queue in (shadow, name):
                self.delete_queue(queue)
            for address in (shadow, name):
                self.delete_address(address)


class _Capabilities(LinkOption):
    def __init__(self, *capabilities: str):
        self.capabilities = capabilities

    def apply(self, link) -> None:
        for capability in self.capabilities:
            link.target.capabilities.put_symbol(symbol(capability))


class _Publisher(MessagingHandler):
    """Sends every message with at most ``window`` unconfirmed; fails unless all accepted."""

    def __init__(
        self,
        url: str,
        address: str,
        messages: Iterable[Message],
        user,
        password,
        capabilities: tuple[str, ...],
        window: int = 1000,
    ):
        super().__init__()
        self.url, self.address, self.user, self.password = url, address, user, password
        self.messages = iter(messages)
        self.capabilities = capabilities
        self.window = window
        self.sent = self.accepted = 0
        self.refused: list[str] = []
        self.done = False

    def on_start(self, event) -> None:
        conn = event.container.connect(
            self.url, user=self.user, password=self.password, allowed_mechs="PLAIN"
        )
        event.container.create_sender(
            conn,
            self.address,
            options=[_Capabilities(*self.capabilities)] if self.capabilities else None,
        )

    def on_sendable(self, event) -> None:
        self._send(event.sender)
        self._maybe_close(event)

    def _send(self, sender) -> None:
        while not self.done and sender.credit and self.sent - self.accepted < self.window:
            message = next(self.messages, None)
            if message is None:
                self.done = True
                break
            sender.send(message)
            self.sent += 1

    def on_accepted(self, event) -> None:
        self.accepted += 1
        if not self.done:
            self._send(event.link)
        self._maybe_close(event)

    def on_rejected(self, event) -> None:
        self.refused.append("rejected")
        event.connection.close()

    def on_released(self, event) -> None:
        self.refused.append("released")
        event.connection.close()

    def _maybe_close(self, event) -> None:
        if self.done and self.accepted == self.sent:
            event.connection.close()


def publish(
    url: str,
    address: str,
    messages: Iterable[Message],
    *,
    user: str,
    password: str,
    capabilities: tuple[str, ...] = ("queue",),
) -> int:
    """Publish with broker confirmation (accepted) of each; returns how many."""
    handler = _Publisher(url, address, messages, user, password, capabilities)
    Container(handler).run()
    assert not handler.refused, handler.refused[:3]
    assert handler.done and handler.accepted == handler.sent
    return handler.accepted


def numbered(
    n: int,
    *,
    prefix: str = "id",
    size: int = 64,
    start: int = 0,
    extra: Callable[[int, Message], None] | None = None,
) -> Iterable[Message]:
    for i in range(start, start + n):
        mid = f"{prefix}-{i}"
        message = Message(id=mid, body=f"{mid}:".encode().ljust(size, b"."), durable=True)
        message.inferred = True  # bytes as a data section
        if extra:
            extra(i, message)
        yield message


def run_bridge(
    source: str, queue: str, bootstrap: str, topic: str, *args: str, timeout: float = 300
) -> tuple[int, dict | None, str]:
    """Run the bridge to its end; returns (exit code, JSON summary or None, stderr)."""
    proc = subprocess.run(
        bridge_cmd(source, queue, bootstrap, topic, *args),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    summary = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, summary, proc.stderr


def start_bridge(
    source: str, queue: str, bootstrap: str, topic: str, *args: str
) -> subprocess.Popen:
    return subprocess.Popen(
        bridge_cmd(source, queue, bootstrap, topic, *args),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
