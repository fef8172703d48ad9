"""``sources.locate``: a playbook source's plain values as the adapter's URI and options."""

from __future__ import annotations

import pytest

from mqmigrate.errors import ConfigError
from mqmigrate.sources.locate import URI_BUILDERS, SourceLocation, source_uri


def test_rabbitmq_user_password_goes_into_the_endpoint_with_the_vhost_as_path():
    uri, options = source_uri(
        SourceLocation(
            "rabbitmq", "workload 'w'", endpoint="amqp://mq:5672", vhost="a/b", secret="u:p@ss"
        )
    )
    assert uri == "amqp://u:p%40ss@mq:5672/a%2Fb"
    assert options == {}


def test_a_management_endpoint_becomes_the_management_url():
    uri, options = source_uri(
        SourceLocation(
            "amqp1",
            "workload 'w'",
            endpoint="artemis+https://broker:8161",
            secret="amqp://u:p@broker:5672",
        )
    )
    assert uri == "amqp1://u:p@broker:5672"  # amqp:// written for an AMQP 1.0 source
    assert options == {"management_url": "https://broker:8161"}


def test_sqs_profile_and_region_go_into_the_query():
    uri, _ = source_uri(
        SourceLocation(
            "sqs", "workload 'w'", endpoint="sqs+http://h:9324", region="eu-west-1", profile="p"
        )
    )
    assert uri == "sqs+http://h:9324?region=eu-west-1&profile=p"
    assert source_uri(SourceLocation("sqs", "w"))[0] == "sqs://us-east-1"


def test_errors_name_the_variable_never_its_value():
    with pytest.raises(ConfigError) as caught:
        source_uri(
            SourceLocation(
                "rabbitmq", "workload 'w'", secret="no-colon-secret", credential_env="MQ_URI"
            )
        )
    assert "MQ_URI" in str(caught.value) and "no-colon-secret" not in str(caught.value)
    with pytest.raises(ConfigError, match="needs 'credentials"):
        source_uri(SourceLocation("amqp1", "workload 'w'"))


def test_every_kind_with_a_windowed_publisher_has_a_uri_builder():
    from mqmigrate.sources import WINDOWED_PUBLISHERS

    assert set(WINDOWED_PUBLISHERS) <= set(URI_BUILDERS)
