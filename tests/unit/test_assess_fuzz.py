"""Property-based fuzzing of every parser: whatever the bytes, only MqMigrateError escapes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.unit.assess_helpers import FIXTURES
from mqmigrate.assessment.engine import assess, document
from mqmigrate.assessment.report import render_html, render_markdown
from mqmigrate.errors import MqMigrateError
from mqmigrate.inventory.readers import read_file

#: MQMIGRATE_FUZZ_EXAMPLES raises the count for a longer local run
_SETTINGS = settings(
    max_examples=int(os.environ.get("MQMIGRATE_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
DEF_KEYS = [
    "queues",
    "exchanges",
    "bindings",
    "policies",
    "vhosts",
    "users",
    "permissions",
    "parameters",
    "operator_policies",
    "rabbit_version",
]
QUEUE_KEYS = ["name", "vhost", "durable", "auto_delete", "arguments", "type"]
ARG_KEYS = [
    "x-queue-type",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-max-length",
    "x-delivery-limit",
    "x-max-priority",
    "x-single-active-consumer",
    "x-max-age",
    "x-consumer-timeout",
    "x-expires",
    "x-overflow",
]

definitions = st.fixed_dictionaries(
    {},
    optional={
        "queues": st.lists(
            st.fixed_dictionaries(
                {"name": st.text(max_size=6)},
                optional={
                    k: (
                        st.dictionaries(st.sampled_from(ARG_KEYS), json_values, max_size=4)
                        if k == "arguments"
                        else json_values
                    )
                    for k in QUEUE_KEYS[1:]
                },
            ),
            max_size=4,
        ),
        "exchanges": st.lists(
            st.dictionaries(st.sampled_from(["name", "type", "vhost", "arguments"]), json_values),
            max_size=3,
        ),
        "bindings": st.lists(
            st.dictionaries(
                st.sampled_from(
                    [
                        "source",
                        "destination",
                        "destination_type",
                        "routing_key",
                        "vhost",
                        "arguments",
                    ]
                ),
                json_values,
            ),
            max_size=3,
        ),
        "policies": st.lists(
            st.dictionaries(
                st.sampled_from(["name", "pattern", "apply-to", "priority", "definition", "vhost"]),
                json_values,
            ),
            max_size=3,
        ),
        **{k: json_values for k in DEF_KEYS[4:]},
    },
)


def _run(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(data)
        try:
            estate_sources = read_file(path)
            from mqmigrate.inventory.model import Estate

            doc = document(assess(Estate(sources=estate_sources)))
            render_html(doc)
            render_markdown(doc)
        except MqMigrateError:
            pass


@_SETTINGS
@given(definitions)
def test_definitions_reader(data):
    _run("defs.json", json.dumps(data).encode())


@_SETTINGS
@given(json_values)
def test_any_json(data):
    _run("any.json", json.dumps(data).encode())


def _mutations(seed: bytes):
    return st.tuples(st.integers(0, len(seed)), st.integers(0, 40), st.binary(max_size=12)).map(
        lambda t: seed[: t[0]] + t[2] + seed[t[0] + t[1] :]
    )


@_SETTINGS
@given(_mutations((FIXTURES / "sqs_all_rules.tf").read_bytes()))
def test_terraform_mutations(data):
    _run("q.tf", data)


@_SETTINGS
@given(_mutations((FIXTURES / "sqs_all_rules.yaml").read_bytes()))
def test_cloudformation_yaml_mutations(data):
    _run("q.yaml", data)


@_SETTINGS
@given(_mutations((FIXTURES / "amqp1.yaml").read_bytes()))
def test_amqp1_yaml_mutations(data):
    _run("a.yaml", data)


@_SETTINGS
@given(_mutations((FIXTURES / "rabbit_all_rules.json").read_bytes()))
def test_definitions_mutations(data):
    _run("d.json", data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_inventory_dump_mutations(data):
    from mqmigrate.inventory import read_estate

    dump = json.loads(read_estate([str(FIXTURES / "rabbit_all_rules.json")]).dump_json())
    queue = data.draw(st.integers(0, len(dump["sources"][0]["queues"]) - 1))
    key = data.draw(st.sampled_from(sorted(dump["sources"][0]["queues"][queue])))
    dump["sources"][0]["queues"][queue][key] = data.draw(json_values)
    _run("estate.json", json.dumps(dump).encode())


_EDGE = FIXTURES.parent / "estates" / "edge"


@_SETTINGS
@given(
    _mutations((_EDGE / "artemis-settings.xml").read_bytes()),
    st.sampled_from(["broker.xml", "broker"]),
)
def test_artemis_broker_xml_mutations(data, name):
    _run(name, data)


@_SETTINGS
@given(
    _mutations((_EDGE / "mqsc-continuations.mqsc").read_bytes()),
    st.sampled_from(["queues.mqsc", "queues.txt"]),
)
def test_mqsc_mutations(data, name):
    _run(name, data)


@_SETTINGS
@given(_mutations((FIXTURES / "servicebus_all_rules.tf").read_bytes()))
def test_servicebus_terraform_mutations(data):
    _run("sb.tf", data)


@_SETTINGS
@given(_mutations((FIXTURES / "servicebus_nested.json").read_bytes()))
def test_servicebus_arm_mutations(data):
    _run("sb.json", data)


@_SETTINGS
@given(_mutations((FIXTURES / "servicebus.bicep").read_bytes()))
def test_servicebus_bicep_mutations(data):
    _run("sb.bicep", data)


ARM_PROPS = [
    "lockDuration",
    "maxDeliveryCount",
    "requiresSession",
    "defaultMessageTimeToLive",
    "forwardTo",
    "forwardDeadLetteredMessagesTo",
    "maxSizeInMegabytes",
    "maxMessageSizeInKilobytes",
    "autoDeleteOnIdle",
    "sqlFilter",
    "correlationFilter",
    "filterType",
    "action",
    "filter",
]
ARM_TYPES = [
    "Microsoft.ServiceBus/namespaces",
    "Microsoft.ServiceBus/namespaces/queues",
    "Microsoft.ServiceBus/namespaces/topics",
    "topics",
    "queues",
    "subscriptions",
    "Rules",
    "Microsoft.ServiceBus/namespaces/topics/subscriptions",
    "Microsoft.ServiceBus/namespaces/topics/subscriptions/rules",
    "Microsoft.Resources/deployments",
]
arm_names = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "ns/q",
            "ns/t/s",
            "ns/t/s/r",
            "[parameters('p')]",
            "[concat('a', '/', 'b')]",
            "[bad(",
            "[variables('v')]",
            "[format('{0}/{1}', 'a')]",
            "[[literal]",
        ]
    ),
    json_values,
)
arm_resource = st.recursive(
    st.fixed_dictionaries(
        {"type": st.sampled_from(ARM_TYPES), "apiVersion": st.just("1"), "name": arm_names},
        optional={
            "properties": st.dictionaries(st.sampled_from(ARM_PROPS), json_values, max_size=4),
            "sku": json_values,
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {
            "type": st.sampled_from(ARM_TYPES),
            "apiVersion": st.just("1"),
            "name": arm_names,
            "resources": st.lists(inner, max_size=3),
        }
    ),
    max_leaves=8,
)


@_SETTINGS
@given(st.lists(arm_resource, min_size=1, max_size=4), json_values, json_values)
def test_servicebus_arm_structure(resources, parameters, variables):
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/"
        "deploymentTemplate.json#",
        "parameters": parameters,
        "variables": variables,
        "resources": resources,
    }
    _run("t.json", json.dumps(template).encode())
