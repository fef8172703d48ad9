"""``provision`` creates a playbook's ACLs on a broker with an authorizer, described back from the
cluster; a second run changes nothing; ``--dry-run`` creates none; a cluster without an
authorizer gets none and says why.

The authorizer broker is a private one (StandardAuthorizer, KRaft): the shared sandbox runs
without an authorizer and must not be reconfigured.  ``super.users=User:ANONYMOUS`` lets this
PLAINTEXT test client (and the controller link) administer it; the ACLs are checked by
describing them, which is what provision is responsible for.
"""

from __future__ import annotations

import json

import pytest
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from mqmigrate.cli import main
from mqmigrate.kafka import acls, share
from mqmigrate.kafka.acls import Acl
from mqmigrate.playbooks import loader
from mqmigrate.playbooks.render import Derived, WorkloadSpec, build_playbook, render
from mqmigrate.playbooks.provision import provision

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

AUTHORIZER = {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "super.users": "User:ANONYMOUS",
    # strict: a SASL client may do only what an ACL grants
    "allow.everyone.if.no.acl.found": "false",
}
#: SASL/PLAIN users of the private broker's second listener (test-only passwords)
USERS = {"app": "app-test-pw", "worker": "worker-test-pw", "stranger": "stranger-test-pw"}
SOURCE = {
    "kind": "rabbitmq",
    "credentials": {"env": "RABBITMQ_URI"},
    "queue": "orders",
    "vhost": "shop",
}


@pytest.fixture(scope="module")
def acl_kafka(tmp_path_factory, kafka_service):
    """A private broker with StandardAuthorizer (the sandbox has none) and, next to PLAINTEXT,
    a SASL/PLAIN listener so clients with their own principals can show that the ACLs
    provision created are the ones in force."""
    from tests.support.brokers import PrivateKafka, running

    broker = PrivateKafka.in_temp_dir(
        tmp_path_factory, kafka_service, "kafka-acl", properties=AUTHORIZER, plain_users=USERS
    )
    with running(broker):
        yield broker


def playbook_file(tmp_path, bootstrap, name, grants, *, use_broker_dlq=False):
    spec = WorkloadSpec(
        id="orders",
        source=SOURCE,
        topic=f"shop.{name}",
        partitions=Derived(1, "test"),
        group=f"shop.{name}",
        share_configs={"share.auto.offset.reset": "earliest"},
        dlq_topic=f"dlq.shop.{name}",
        use_broker_dlq=use_broker_dlq,
        strategy="drain-only",
        acls=grants,
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(render(build_playbook([spec], name="acl-it", bootstrap=bootstrap)))
    return path


def run(capsys, *args) -> tuple[int, dict]:
    code = main(["provision", *map(str, args), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def described(bootstrap: str, principal: str) -> set[tuple]:
    """The principal's ACLs as the broker describes them (the admin client's own filter)."""
    admin = share.admin_client(bootstrap)
    wanted = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        principal,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    bindings = admin.describe_acls(wanted, request_timeout=30).result(timeout=30)
    return {
        (
            b.restype.name,
            b.name,
            b.resource_pattern_type.name,
            b.operation.name,
            b.permission_type.name,
            b.host,
        )
        for b in bindings
    }


def test_provision_creates_the_declared_acls_and_a_rerun_changes_nothing(
    acl_kafka, unique_name, tmp_path, capsys
):
    bootstrap = acl_kafka.bootstrap
    app, worker = f"User:app-{unique_name}", f"User:worker-{unique_name}"
    grants = [
        {"principal": app, "role": "produce", "pattern": "prefixed", "prefix": "shop."},
        {"principal": worker, "role": "consume", "pattern": "literal"},
        {"principal": worker, "role": "dlq-write", "pattern": "literal"},
    ]
    path = playbook_file(tmp_path, bootstrap, unique_name, grants)

    code, report = run(capsys, path)
    assert code == 0
    rows = [c for c in report["changes"] if c["resource"] == "acls"]
    assert [(c["name"], c["item"], c["action"]) for c in rows] == [
        (f"group shop.{unique_name} (literal)", f"{worker} READ", "create"),
        (f"topic dlq.shop.{unique_name} (literal)", f"{worker} DESCRIBE", "create"),
        (f"topic dlq.shop.{unique_name} (literal)", f"{worker} WRITE", "create"),
        ("topic shop. (prefixed)", f"{app} DESCRIBE", "create"),
        ("topic shop. (prefixed)", f"{app} DESCRIBE_CONFIGS", "create"),
        ("topic shop. (prefixed)", f"{app} WRITE", "create"),
        (f"topic shop.{unique_name} (literal)", f"{worker} READ", "create"),
    ]
    assert described(bootstrap, app) == {
        ("TOPIC", "shop.", "PREFIXED", "WRITE", "ALLOW", "*"),
        ("TOPIC", "shop.", "PREFIXED", "DESCRIBE", "ALLOW", "*"),
        ("TOPIC", "shop.", "PREFIXED", "DESCRIBE_CONFIGS", "ALLOW", "*"),
    }
    assert described(bootstrap, worker) == {
        ("TOPIC", f"shop.{unique_name}", "LITERAL", "READ", "ALLOW", "*"),
        ("GROUP", f"shop.{unique_name}", "LITERAL", "READ", "ALLOW", "*"),
        ("TOPIC", f"dlq.shop.{unique_name}", "LITERAL", "WRITE", "ALLOW", "*"),
        ("TOPIC", f"dlq.shop.{unique_name}", "LITERAL", "DESCRIBE", "ALLOW", "*"),
    }

    # a second run changes nothing and says so
    assert main(["provision", str(path)]) == 0
    assert "nothing to change: the cluster already matches the playbook" in capsys.readouterr().err
    again = provision(loader.load(path))
    assert again.applied == 0 and again.pending == [] and again.drift == []
    assert {c.action for c in again.changes if c.resource == "acls"} == {"unchanged"}
    assert len(described(bootstrap, app)) == 3 and len(described(bootstrap, worker)) == 4

    # an ACL of the same principal the playbook does not declare is left alone (never deleted)
    admin = share.admin_client(bootstrap)
    extra = Acl("topic", "elsewhere", "literal", app, "READ")
    acls.create(admin, [extra])
    assert provision(loader.load(path)).pending == []
    assert ("TOPIC", "elsewhere", "LITERAL", "READ", "ALLOW", "*") in described(bootstrap, app)


def test_dry_run_creates_no_acl(acl_kafka, unique_name, tmp_path, capsys):
    bootstrap = acl_kafka.bootstrap
    principal = f"User:dry-{unique_name}"
    path = playbook_file(
        tmp_path,
        bootstrap,
        unique_name,
        [{"principal": principal, "role": "consume", "pattern": "prefixed", "prefix": "shop."}],
        use_broker_dlq=True,
    )
    code, report = run(capsys, path, "--dry-run")
    assert code == 0 and report["applied"] == 0
    assert [
        (c["name"], c["item"], c["action"]) for c in report["changes"] if c["resource"] == "acls"
    ] == [
        ("group shop. (prefixed)", f"{principal} READ", "create"),
        ("topic shop. (prefixed)", f"{principal} READ", "create"),
    ]
    assert described(bootstrap, principal) == set()


def test_without_an_authorizer_acls_are_skipped_and_counted(
    kafka_bootstrap, unique_name, tmp_path, capsys
):
    path = playbook_file(
        tmp_path,
        kafka_bootstrap,
        unique_name,
        [{"principal": "User:app", "role": "produce", "pattern": "literal"}],
    )
    code, report = run(capsys, path, "--dry-run")  # dry: the shared sandbox stays untouched
    assert code == 0
    assert [c for c in report["changes"] if c["resource"] == "acls"] == [
        {
            "workload": "*",
            "resource": "acls",
            "name": "-",
            "item": "acls",
            "action": "skipped",
            "old": None,
            "new": None,
            "note": "the cluster has no authorizer; 3 declared ACL(s) not created",
        }
    ]


def as_user(user: str) -> dict[str, str]:
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": user,
        "sasl.password": USERS[user],
    }


def produce(bootstrap: str, user: str, topic: str, value: bytes) -> str | None:
    """None when the record was written, else the error's name."""
    from confluent_kafka import Producer

    errors: list = []
    producer = Producer(
        {"bootstrap.servers": bootstrap, "message.timeout.ms": 15000, **as_user(user)}
    )
    producer.produce(topic, value, on_delivery=lambda err, msg: errors.append(err))
    producer.flush(20)
    assert len(errors) == 1, "no delivery report within 20 s"
    return errors[0].name() if errors[0] is not None else None


def test_the_provisioned_acls_are_what_the_broker_enforces(
    acl_kafka, unique_name, tmp_path, capsys
):
    """With allow.everyone.if.no.acl.found=false a SASL user can do only what an ACL grants:
    app produces (prefixed grant), worker consumes through the share group (literal grants);
    a user with no grant is refused, and app cannot read."""
    from tests.support.share import poll_until_quiet
    from confluent_kafka import AcknowledgeType

    topic = f"shop.{unique_name}"
    path = playbook_file(
        tmp_path,
        acl_kafka.bootstrap,
        unique_name,
        [
            {"principal": "User:app", "role": "produce", "pattern": "prefixed", "prefix": "shop."},
            {"principal": "User:worker", "role": "consume", "pattern": "literal"},
        ],
        use_broker_dlq=True,
    )
    assert run(capsys, path)[0] == 0
    sasl = acl_kafka.sasl_plain_bootstrap

    assert produce(sasl, "stranger", topic, b"refused") == "TOPIC_AUTHORIZATION_FAILED"
    assert produce(sasl, "app", topic, b"granted") is None

    worker = share.share_consumer(sasl, topic, **as_user("worker"))
    try:
        worker.subscribe([topic])
        seen = poll_until_quiet(worker, lambda m: AcknowledgeType.ACCEPT, 1, quiet=1, timeout=40)
    finally:
        worker.close()
    assert seen == [(b"granted", 1)]

    # the producer's grant does not let it join the worker's share group
    intruder = share.share_consumer(sasl, topic, **as_user("app"))
    try:
        intruder.subscribe([topic])
        errors = []
        for _ in range(20):
            errors += [m.error() for m in intruder.poll(0.5) if m.error() is not None]
            if errors:
                break
    except Exception as exc:  # the client may raise instead of returning an error record
        errors = [exc]
    finally:
        intruder.close()
    assert errors and "AUTHORIZATION" in str(errors[0]).upper(), errors
