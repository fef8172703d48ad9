"""Guard: every confluent-kafka client the package builds takes its settings from
``KafkaConfig.client(...)``, so TLS/SASL settings reach every connection.

A client built from a dict literal (``Producer({"bootstrap.servers": ...})``) would connect
in plaintext on a secured cluster; this scan fails on it, naming file and line.  The
secured-broker proof is tests/integration/test_kafka_config_guard.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mqmigrate

PACKAGE = Path(mqmigrate.__file__).parent
CLIENTS = {
    "Producer",
    "Consumer",
    "AdminClient",
    "ShareConsumer",
    "DeserializingConsumer",
    "SerializingProducer",
}
MODULES = ("confluent_kafka", "confluent_kafka.admin", "confluent_kafka.experimental")


def _client_names(tree: ast.AST) -> tuple[dict[str, str], set[str]]:
    """``{local name: client class}`` imported from confluent_kafka, and module aliases."""
    names: dict[str, str] = {}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in MODULES:
            for alias in node.names:
                if alias.name in CLIENTS:
                    names[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    modules.add(alias.asname or alias.name)
    return names, modules


def _is_client_call(call: ast.Call, names: dict[str, str], modules: set[str]) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in names
    if isinstance(func, ast.Attribute) and func.attr in CLIENTS:
        base = func.value
        dotted = []
        while isinstance(base, ast.Attribute):
            dotted.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name):
            dotted.append(base.id)
            return ".".join(reversed(dotted)) in modules
    return False


def _from_kafka_config(call: ast.Call) -> bool:
    """The client's one argument is ``<something>.client(...)``."""
    if len(call.args) != 1 or call.keywords:
        return False
    arg = call.args[0]
    return (
        isinstance(arg, ast.Call)
        and isinstance(arg.func, ast.Attribute)
        and arg.func.attr == "client"
    )


def offenders(source: str, filename: str = "<module>") -> list[str]:
    """``file:line`` of every confluent-kafka client not built from KafkaConfig.client()."""
    tree = ast.parse(source, filename)
    names, modules = _client_names(tree)
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and _is_client_call(node, names, modules)
            and not _from_kafka_config(node)
        ):
            found.append(f"{filename}:{node.lineno}")
    return found


def test_every_kafka_client_in_the_package_uses_kafka_config():
    found: list[str] = []
    scanned = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "confluent_kafka" not in text:
            continue
        scanned += 1
        found += offenders(text, str(path.relative_to(PACKAGE.parent)))
    assert scanned >= 8, "the scan found too few modules using confluent_kafka"
    assert not found, (
        "Kafka clients built without KafkaConfig.client() (they would ignore "
        "--kafka-config): " + ", ".join(found)
    )


def test_the_scan_catches_the_forms_that_bypass_the_config():
    bad = """
from confluent_kafka import Producer, Consumer as C
from confluent_kafka.admin import AdminClient
import confluent_kafka
import confluent_kafka as ck
settings = {"bootstrap.servers": "b:9092"}
Producer({"bootstrap.servers": "b:9092"})
C(settings)
AdminClient(dict(settings))
confluent_kafka.ShareConsumer({"group.id": "g"})
ck.Producer(**settings)
Producer(config.client(), extra=1)
"""
    assert offenders(bad) == [f"<module>:{line}" for line in range(7, 13)]
    good = """
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
Producer(config.client({"acks": "all"}))
AdminClient(as_kafka_config(b).client(**{"socket.timeout.ms": 1}))
"""
    assert offenders(good) == []
