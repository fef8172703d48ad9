"""Source registry (lazy, did-you-mean) and key strategies."""

from __future__ import annotations

import sys

import pytest

from mqmigrate.bridge.mapping import KeyStrategy
from mqmigrate.errors import UsageError
from mqmigrate.sources import adapter_class, kind_for_uri
from mqmigrate.sources.base import Envelope


def test_scheme_resolves_and_typos_get_a_hint():
    assert kind_for_uri("amqp://u:p@h/%2f") == "rabbitmq"
    assert kind_for_uri("amqps://u:p@h/%2f") == "rabbitmq"
    with pytest.raises(UsageError) as info:
        kind_for_uri("amqpp://h")
    assert "did you mean amqp://" in info.value.one_line()
    with pytest.raises(UsageError) as info:
        adapter_class("rabbitqm")
    assert "did you mean 'rabbitmq'" in info.value.one_line()
    with pytest.raises(UsageError, match="no scheme"):
        kind_for_uri("localhost:5672")


def test_adapters_import_lazily():
    sys.modules.pop("mqmigrate.sources.rabbitmq.adapter", None)
    import mqmigrate.sources  # noqa: F401  (the registry alone imports no driver module)

    assert "mqmigrate.sources.rabbitmq.adapter" not in sys.modules
    cls = adapter_class("rabbitmq")
    assert cls.kind == "rabbitmq" and cls.capabilities.shadow
    assert "mqmigrate.sources.rabbitmq.adapter" in sys.modules


def test_amqp1_schemes_resolve_to_the_proton_adapter():
    assert kind_for_uri("amqp1://u:p@h:61616") == "amqp1"
    assert kind_for_uri("amqp1s://u:p@h:5671") == "amqp1"
    cls = adapter_class("amqp1")
    assert cls.kind == "amqp1" and cls.capabilities.group_key and cls.capabilities.shadow
    source = cls.from_uri("amqp1://bob:s3cret@h:61616", queue="q", prefetch=10)
    assert "s3cret" not in source.describe() and "bob:***@" in source.describe()
    with pytest.raises(UsageError, match="not an AMQP 1.0 URI"):
        cls.from_uri("amqp://bob:s3cret@h:5672/%2f", queue="q")


def test_missing_driver_names_the_pip_package(monkeypatch):
    from mqmigrate.errors import PrerequisiteError

    monkeypatch.setitem(sys.modules, "proton", None)  # import proton now fails
    monkeypatch.delitem(sys.modules, "mqmigrate.sources.amqp1.adapter", raising=False)
    with pytest.raises(PrerequisiteError) as info:
        adapter_class("amqp1")
    assert "pip install python-qpid-proton" in info.value.one_line()


def test_rabbitmq_describe_masks_the_password():
    source = adapter_class("rabbitmq").from_uri("amqp://bob:s3cret@h:5672/%2f", queue="q")
    assert "s3cret" not in source.describe() and "bob:***@" in source.describe()


ENV = Envelope(
    body=b"",
    source_id="id-1",
    source_kind="sqs",
    queue="q",
    key="group-7",
    headers={
        "tenant": {"DataType": "String", "StringValue": "acme"},
        "region": "eu",
        "n": {"DataType": "Number.int", "StringValue": "42"},
    },
    coordinates={"routing_key": "orders.created"},
)


@pytest.mark.parametrize(
    "spec,key",
    [
        ("auto", b"group-7"),
        ("group", b"group-7"),
        ("routing-key", b"orders.created"),
        ("header:tenant", b"acme"),
        ("header:region", b"eu"),
        ("header:n", b"42"),
        ("header:missing", None),
        ("none", None),
    ],
)
def test_key_strategies(spec, key):
    assert KeyStrategy.parse(spec).function()(ENV) == key


@pytest.mark.parametrize("spec", ["header:message_id", "header:mq.source.id", "id", "header:"])
def test_bad_or_id_keys_refused(spec):
    with pytest.raises(UsageError):
        KeyStrategy.parse(spec)
