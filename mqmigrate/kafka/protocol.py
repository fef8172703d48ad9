"""A minimal Kafka wire-protocol client for what librdkafka's Python API does not expose.

confluent-kafka has no ``describe_features``; the broker reports its supported and finalized
feature levels (``share.version``, ``metadata.version``) in the tagged fields of an
ApiVersions v3 response, which is what Kafka's own ``FeatureCommand describe`` reads.  The
request goes over TLS when the configuration says so; brokers answer it before SASL.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mqmigrate.errors import ConnectionFailed

if TYPE_CHECKING:
    from mqmigrate.kafka.config import KafkaConfig

API_VERSIONS = 18
UNSUPPORTED_VERSION = 35


class _UnsupportedVersion(Exception):
    """The broker is older than the request version; retry with a lower one."""

# metadata.version feature level -> release (from org.apache.kafka.server.common.MetadataVersion)
METADATA_VERSION_RELEASE = {
    7: "3.3", 8: "3.4", 9: "3.5", 10: "3.5", 11: "3.5", 12: "3.6", 13: "3.6", 14: "3.6",
    15: "3.7", 16: "3.7", 17: "3.7", 18: "3.7", 19: "3.7", 20: "3.8", 21: "3.9",
    22: "4.0", 23: "4.0", 24: "4.0", 25: "4.0", 26: "4.1", 27: "4.1", 28: "4.2", 29: "4.2",
    30: "4.3", 31: "4.4", 32: "4.4", 33: "4.4",
}


@dataclass
class BrokerFeatures:
    """What one broker said in its ApiVersions response."""

    api_versions: dict[int, tuple[int, int]] = field(default_factory=dict)
    supported: dict[str, tuple[int, int]] = field(default_factory=dict)
    finalized: dict[str, int] = field(default_factory=dict)

    def finalized_level(self, feature: str) -> int:
        """Finalized level of ``feature``; an absent feature is at level 0."""
        return self.finalized.get(feature, 0)

    def release(self) -> str | None:
        """The Kafka release line this broker runs, from its highest supported metadata.version.

        Releases newer than this table are reported as ``>4.4``.
        """
        top = self.supported.get("metadata.version", (0, 0))[1]
        if not top:
            return None
        if top in METADATA_VERSION_RELEASE:
            return METADATA_VERSION_RELEASE[top]
        return f">{METADATA_VERSION_RELEASE[max(METADATA_VERSION_RELEASE)]}" if top > 33 else None


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated Kafka response")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return struct.unpack(">h", self.take(2))[0]

    def int32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def int64(self) -> int:
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            byte = self.take(1)[0]
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def compact_string(self) -> str:
        length = self.uvarint() - 1
        return self.take(length).decode() if length > 0 else ""

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _compact_string(text: str) -> bytes:
    raw = text.encode()
    return _uvarint(len(raw) + 1) + raw


def encode_api_versions_request(
    correlation_id: int, version: int = 4, client_id: str = "mqmigrate"
) -> bytes:
    """ApiVersions v3/v4 request.  v4 (Kafka 4.0+) also lists features whose minimum is 0."""
    raw_client = client_id.encode()
    header = struct.pack(">hhih", API_VERSIONS, version, correlation_id, len(raw_client))
    header += raw_client
    header += _uvarint(0)  # header tagged fields (request header v2)
    body = _compact_string("mqmigrate") + _compact_string("0") + _uvarint(0)
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def decode_api_versions_response(payload: bytes) -> BrokerFeatures:
    """Decode an ApiVersions v3 response (after the size prefix; response header v0)."""
    reader = _Reader(payload)
    reader.int32()  # correlation id
    error = reader.int16()
    if error == UNSUPPORTED_VERSION:
        raise _UnsupportedVersion()
    if error:
        raise ValueError(f"ApiVersions error code {error}")
    features = BrokerFeatures()
    for _ in range(reader.uvarint() - 1):
        key, low, high = reader.int16(), reader.int16(), reader.int16()
        reader.skip_tags()
        features.api_versions[key] = (low, high)
    reader.int32()  # throttle time
    for _ in range(reader.uvarint()):
        tag, size = reader.uvarint(), reader.uvarint()
        field_reader = _Reader(reader.take(size))
        if tag == 0:
            for _ in range(field_reader.uvarint() - 1):
                name = field_reader.compact_string()
                low, high = field_reader.int16(), field_reader.int16()
                field_reader.skip_tags()
                features.supported[name] = (low, high)
        elif tag == 2:
            for _ in range(field_reader.uvarint() - 1):
                name = field_reader.compact_string()
                max_level, _min_level = field_reader.int16(), field_reader.int16()
                field_reader.skip_tags()
                features.finalized[name] = max_level
    return features


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        chunks += chunk
    return bytes(chunks)


def parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for item in bootstrap.split(","):
        item = item.strip()
        if "://" in item:
            item = item.split("://", 1)[1]
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad bootstrap address {item!r}: expected host:port")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


def fetch_features(kafka: "KafkaConfig | str", timeout: float = 5.0) -> BrokerFeatures:
    """Ask the first reachable bootstrap broker for its API versions and feature levels.

    ``kafka`` is the connection configuration (or plaintext bootstrap servers).  Brokers answer
    ApiVersions before SASL authentication, so only the TLS settings matter here.
    """
    from mqmigrate.kafka.config import as_kafka_config
    from mqmigrate.kafka.tls import ssl_context

    config = as_kafka_config(kafka)
    bootstrap = config.bootstrap
    context = ssl_context(config)
    last: Exception | None = None
    for host, port in parse_bootstrap(bootstrap):
        try:
            for version in (4, 3):
                with socket.create_connection((host, port), timeout=timeout) as raw:
                    sock = context.wrap_socket(raw, server_hostname=host) if context else raw
                    sock.settimeout(timeout)
                    sock.sendall(encode_api_versions_request(1, version))
                    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
                    try:
                        return decode_api_versions_response(_recv_exact(sock, size))
                    except _UnsupportedVersion:
                        continue
            raise ValueError("the broker supports neither ApiVersions v4 nor v3 (Kafka < 2.4)")
        except (OSError, ValueError, struct.error) as exc:
            last = exc
    raise ConnectionFailed(
        f"Kafka at {config.describe()} did not answer an ApiVersions request ({last})",
        hint="check the bootstrap address and that security.protocol matches the listener "
             "(--kafka-config)",
    )
