from __future__ import annotations

import pytest

from mqmigrate.errors import UsageError
from mqmigrate.redact import Secret, mask_uri
from mqmigrate.sources.uri import parse_source_uri


def test_mask_uri_hides_password_and_secret_query_values():
    assert mask_uri("amqp://guest:guest@h:5672/%2f") == "amqp://guest:***@h:5672/%2f"
    assert mask_uri("sqs+http://AKIA:abc@h:1?region=eu&token=xyz") == (
        "sqs+http://AKIA:***@h:1?region=eu&token=***"
    )
    assert mask_uri("amqp://h:5672") == "amqp://h:5672"


def test_secret_never_prints_its_value():
    secret = Secret("hunter2")
    assert str(secret) == "***" and repr(secret) == "Secret('***')" and f"{secret}" == "***"
    assert secret.reveal() == "hunter2"


@pytest.mark.parametrize(
    "uri, kind, port, vhost",
    [
        ("amqp://u:p@rabbit/", "rabbitmq", 5672, "/"),
        ("amqp://u:p@rabbit:5673/prod%2Fa", "rabbitmq", 5673, "prod/a"),
        ("rabbitmq+http://u:p@rabbit", "rabbitmq-management", 15672, "/"),
        ("amqp1://artemis:61616", "amqp1", 61616, "/"),
        ("sqs+http://127.0.0.1:5000?region=eu-west-1", "sqs", 5000, "/"),
    ],
)
def test_parse_source_uri(uri, kind, port, vhost):
    parsed = parse_source_uri(uri)
    assert (parsed.kind, parsed.port, parsed.vhost) == (kind, port, vhost)


def test_sqs_region_from_host_or_query():
    assert parse_source_uri("sqs://eu-central-1").region == "eu-central-1"
    assert parse_source_uri("sqs+http://h:1?region=ap-south-1").region == "ap-south-1"


def test_parsed_password_is_a_secret():
    parsed = parse_source_uri("amqp://user:pa%40ss@h/")
    assert parsed.password.reveal() == "pa@ss"
    assert "pa@ss" not in repr(parsed) and "pa@ss" not in parsed.masked


@pytest.mark.parametrize("uri", ["ftp://x", "nonsense", "amqp://:99999", "amqp:///vhost"])
def test_bad_uris_are_usage_errors(uri):
    with pytest.raises(UsageError):
        parse_source_uri(uri)
