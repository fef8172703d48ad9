"""Protocol-level liveness checks shared by the AMQP sandbox services.

An open TCP port only proves that something listens; these checks send the protocol header
and read the broker's first frame, so a half-started broker (port bound, protocol stack not
yet serving) counts as "not yet".
"""

from __future__ import annotations

import socket

#: AMQP 0-9-1 protocol header; a broker answers with a Connection.Start method frame (type 1)
AMQP_091_HEADER = b"AMQP\x00\x00\x09\x01"
#: AMQP 1.0 SASL layer header; a broker that supports SASL echoes it back
AMQP_10_SASL_HEADER = b"AMQP\x03\x01\x00\x00"


def _exchange(port: int, header: bytes, expect: int, host: str, timeout: float) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(header)
        data = b""
        while len(data) < expect:
            chunk = sock.recv(expect - len(data))
            if not chunk:
                break
            data += chunk
        return data


def check_amqp_091(port: int, host: str = "127.0.0.1", timeout: float = 3.0) -> None:
    """Raise ``ConnectionError`` unless an AMQP 0-9-1 broker answers on ``port``."""
    reply = _exchange(port, AMQP_091_HEADER, 1, host, timeout)
    if reply[:1] != b"\x01":
        raise ConnectionError(f"no AMQP 0-9-1 Connection.Start on port {port} (got {reply!r})")


def check_amqp_10(port: int, host: str = "127.0.0.1", timeout: float = 3.0) -> None:
    """Raise ``ConnectionError`` unless an AMQP 1.0 broker echoes the SASL header on ``port``."""
    reply = _exchange(port, AMQP_10_SASL_HEADER, len(AMQP_10_SASL_HEADER), host, timeout)
    if reply != AMQP_10_SASL_HEADER:
        raise ConnectionError(f"no AMQP 1.0 SASL header on port {port} (got {reply!r})")
