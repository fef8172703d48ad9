"""Which topic-config changes provision refuses because they would lower data safety."""

from __future__ import annotations

import pytest

from mqmigrate.provision import lowers_safety


@pytest.mark.parametrize("key,old,new", [
    ("retention.ms", "604800000", "86400000"),
    ("retention.ms", "-1", "604800000"),          # -1 is "forever"
    ("retention.bytes", "-1", "1073741824"),
    ("min.insync.replicas", "2", "1"),
    ("unclean.leader.election.enable", "false", "true"),
    ("cleanup.policy", "delete", "compact"),
])
def test_refused(key, old, new):
    assert lowers_safety(key, old, new)


@pytest.mark.parametrize("key,old,new", [
    ("retention.ms", "86400000", "604800000"),
    ("retention.ms", "604800000", "-1"),
    ("min.insync.replicas", "1", "2"),
    ("unclean.leader.election.enable", "true", "false"),
    ("cleanup.policy", "delete,compact", "compact,delete"),
    ("max.message.bytes", "2097152", "1048576"),  # not a data-safety setting
    ("retention.ms", "abc", "1"),                  # unparsable: let the broker judge
])
def test_allowed(key, old, new):
    assert lowers_safety(key, old, new) is None
