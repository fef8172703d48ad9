"""A fake Kafka producer with the BridgeProducer interface, for pure unit tests."""

from __future__ import annotations

from collections import deque
from typing import Any

from mqmigrate.headers import SOURCE_ID, header_value
from mqmigrate.kafka.producer import Failure, FailureKind


def failure(kind: FailureKind, name: str = "TEST") -> Failure:
    code = {"MSG_SIZE_TOO_LARGE": 10, "_MSG_TIMED_OUT": -192, "INVALID_TIMESTAMP": 32}.get(name, 0)
    return Failure(kind, code, name, f"injected {name}")


class FakeProducer:
    """Records acknowledged writes; ``fail`` maps a source id to failures returned in order
    (then success); ``max_bytes`` makes larger records fail as MSG_SIZE_TOO_LARGE."""

    def __init__(
        self,
        *,
        fail: dict[str, list[Failure]] | None = None,
        max_bytes: dict[str, int] | None = None,
        delay_polls: int = 0,
    ):
        self.fail = {k: deque(v) for k, v in (fail or {}).items()}
        self.max_bytes = max_bytes or {}
        self.delay_polls = delay_polls
        self.written: list[tuple[str, bytes, bytes | None, list, int | None]] = []
        self._queue: deque[list[Any]] = deque()

    def send(self, topic, value, *, key, headers, timestamp_ms, token):
        self._queue.append([self.delay_polls, topic, value, key, headers, timestamp_ms, token])
        return None

    def poll(self, timeout: float = 0.0):
        done = []
        for item in list(self._queue):
            if item[0] > 0:
                item[0] -= 1
                continue
            self._queue.remove(item)
            _, topic, value, key, headers, ts, token = item
            sid = header_value(headers, SOURCE_ID).decode()
            queued = self.fail.get(sid)
            if topic in self.max_bytes and len(value) > self.max_bytes[topic]:
                done.append((token, failure(FailureKind.PERMANENT, "MSG_SIZE_TOO_LARGE")))
            elif queued:
                done.append((token, queued.popleft()))
            else:
                self.written.append((topic, value, key, headers, ts))
                done.append((token, None))
        return done

    def take(self):
        return []

    def flush(self, timeout: float) -> int:
        self.delay_polls = 0
        for item in self._queue:
            item[0] = 0
        return 0

    def __len__(self) -> int:
        return len(self._queue)

    def ids(self, topic: str) -> list[str]:
        return [header_value(h, SOURCE_ID).decode() for t, _, _, h, _ in self.written if t == topic]
