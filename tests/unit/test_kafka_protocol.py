"""ApiVersions encoding/decoding without a broker (the broker round trip is an integration test)."""

from __future__ import annotations

import struct

import pytest

from mqmigrate.kafka.protocol import (
    _compact_string,
    _uvarint,
    decode_api_versions_response,
    encode_api_versions_request,
    parse_bootstrap,
)


def _feature_field(entries: list[tuple[str, int, int]]) -> bytes:
    body = _uvarint(len(entries) + 1)
    for name, a, b in entries:
        body += _compact_string(name) + struct.pack(">hh", a, b) + _uvarint(0)
    return body


def _response(finalized, supported, error: int = 0) -> bytes:
    body = struct.pack(">ih", 7, error)
    body += _uvarint(2) + struct.pack(">hhh", 18, 0, 4) + _uvarint(0)  # one api key
    body += struct.pack(">i", 0)  # throttle
    tags = [(0, _feature_field(supported)), (1, struct.pack(">q", 5)), (2, _feature_field(finalized))]
    body += _uvarint(len(tags))
    for tag, data in tags:
        body += _uvarint(tag) + _uvarint(len(data)) + data
    return body


def test_decode_reads_supported_and_finalized_features():
    payload = _response(
        finalized=[("share.version", 1, 0), ("metadata.version", 29, 29)],
        supported=[("share.version", 0, 2), ("metadata.version", 7, 29)],
    )
    features = decode_api_versions_response(payload)
    assert features.api_versions == {18: (0, 4)}
    assert features.finalized == {"share.version": 1, "metadata.version": 29}
    assert features.supported["share.version"] == (0, 2)
    assert features.release() == "4.2"
    assert features.finalized_level("streams.version") == 0


def test_unknown_newer_metadata_version_is_reported_as_newer():
    features = decode_api_versions_response(_response([], [("metadata.version", 7, 40)]))
    assert features.release() == ">4.4"


def test_error_code_is_raised():
    with pytest.raises(ValueError, match="error code 41"):
        decode_api_versions_response(_response([], [], error=41))


def test_truncated_response_is_a_value_error():
    with pytest.raises(ValueError, match="truncated"):
        decode_api_versions_response(_response([], [("metadata.version", 7, 33)])[:-5])


def test_request_frame_is_size_prefixed_api_versions_v4():
    frame = encode_api_versions_request(42)
    size, api_key, version, correlation = struct.unpack(">ihhi", frame[:12])
    assert size == len(frame) - 4
    assert (api_key, version, correlation) == (18, 4, 42)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**21, 2**31 - 1])
def test_uvarint_round_trip(value):
    from mqmigrate.kafka.protocol import _Reader

    assert _Reader(_uvarint(value)).uvarint() == value


def test_parse_bootstrap():
    assert parse_bootstrap("a:1, PLAINTEXT://b:2,[::1]:3") == [("a", 1), ("b", 2), ("::1", 3)]
    with pytest.raises(ValueError):
        parse_bootstrap("no-port")
