"""``bench``'s source target reads capabilities, not kinds: refusals before any connection."""

from __future__ import annotations

import pytest

from mqmigrate.bench.model import Workload
from mqmigrate.bench.targets import source_target
from mqmigrate.errors import UsageError

# nothing listens on port 9: every refusal below must come before a connection is tried
SQS = "sqs+http://x:y@127.0.0.1:9?region=us-east-1"
AMQP1 = "amqp1://u:p@127.0.0.1:9"


@pytest.mark.parametrize("uri", [SQS, AMQP1])
def test_fan_out_needs_the_fanout_capability(uri):
    with pytest.raises(UsageError, match="fan-out"):
        source_target(uri).setup(Workload(fanout=3))


def test_sqs_refuses_bodies_over_its_limit():
    with pytest.raises(UsageError, match="256 KiB"):
        source_target(SQS).setup(Workload(message_bytes=300 * 1024))


def test_the_system_is_the_adapter_kind_and_memory_cannot_be_benched():
    assert source_target("amqp://u:p@127.0.0.1:9/").system == "rabbitmq"
    with pytest.raises(UsageError, match="bench cannot publish"):
        source_target("memory://q")
