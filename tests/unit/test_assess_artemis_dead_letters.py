"""Artemis dead-letter and expiry addresses: which queues are dead-letter queues (the
``dead-letter-address`` of a matching address-setting, every queue on that address) and which
are expiry queues (``expiry-address``), their findings, targets and what ``plan`` leaves out."""

from __future__ import annotations

from pathlib import Path

import yaml

from mqmigrate.assessment import deadletters
from mqmigrate.inventory.model import DeadLetter, Queue, Source
from mqmigrate.inventory.readers.artemis_common import queue_for
from tests.unit.assess_helpers import ESTATES, fired, run_cli, workloads

DEAD_LETTERS = ESTATES / "edge" / "artemis-dead-letters.xml"

# ------------------------------------------------------------------ the reader's facts


def test_a_queue_whose_settings_name_its_own_address_says_so():
    defaults = {"deadLetterAddress": "DLQ", "expiryAddress": "ExpiryQueue"}
    dlq = queue_for(address="DLQ", name="DLQ", routing="anycast", settings=defaults, attrs={})
    expiry = queue_for(
        address="ExpiryQueue", name="ExpiryQueue", routing="anycast", settings=defaults, attrs={}
    )
    work = queue_for(
        address="orders", name="orders", routing="anycast", settings=defaults, attrs={}
    )
    assert dlq.extra["own_address_is"] == ["dead-letter-address"] and dlq.dead_letter is None
    assert dlq.extra["expiry_address"] == "ExpiryQueue"
    assert expiry.extra["own_address_is"] == ["expiry-address"]
    assert expiry.dead_letter == DeadLetter(target="DLQ") and "expiry_address" not in expiry.extra
    assert "own_address_is" not in work.extra
    assert work.dead_letter == DeadLetter(target="DLQ")
    assert work.extra["expiry_address"] == "ExpiryQueue"
    # expired messages go to the expiry address, never to the dead-letter address
    assert work.extra["expiry_dead_lettered"] is False


# ------------------------------------------------------------------ the dead-letter graph


def _queue(name: str, address: str, **fields) -> Queue:
    return Queue(
        name=name, type="anycast", extra={"address": address, **fields.pop("extra", {})}, **fields
    )


def _source(*queues: Queue) -> Source:
    return Source(kind="amqp1", name="artemis", endpoint="broker.xml", queues=list(queues))


def test_a_dead_letter_address_makes_every_queue_on_it_a_sink_whatever_its_name():
    s = _source(
        _queue("orders", "orders", dead_letter=DeadLetter(target="DLA")),
        _queue("parked.a", "DLA"),
        _queue("parked.b", "DLA"),
        _queue("DLA", "elsewhere"),  # named like the address, but not on it
    )
    g = deadletters.build(s)
    by_name = {q.name: q for q in s.queues}
    assert g.dead_letter_sources(by_name["parked.a"], "amqp1") == ["orders"]
    assert g.dead_letter_sources(by_name["parked.b"], "amqp1") == ["orders"]
    assert not g.is_dead_letter_queue(by_name["DLA"], "amqp1")
    assert not g.is_dead_letter_queue(by_name["orders"], "amqp1")


def test_a_target_no_queue_is_on_names_the_queue():
    # an AMQP 1.0 YAML estate whose dead-letter address has no queue read: the queue of that name
    s = _source(
        _queue("orders", "orders", dead_letter=DeadLetter(target="dead")), Queue(name="dead")
    )
    g = deadletters.build(s)
    assert g.dead_letter_sources(s.queues[1], "amqp1") == ["orders"]


def test_expiry_queues_and_sinks_named_by_their_own_settings():
    own_dlq = {"own_address_is": ["dead-letter-address"]}
    own_expiry = {"own_address_is": ["expiry-address"]}
    s = _source(
        _queue("DLQ", "DLQ", extra=own_dlq),
        _queue(
            "ExpiryQueue", "ExpiryQueue", dead_letter=DeadLetter(target="DLQ"), extra=own_expiry
        ),
        _queue("orders", "orders", extra={"expiry_address": "orders.expired"}),
        _queue("orders.expired", "orders.expired"),
    )
    g = deadletters.build(s)
    dlq, expiry, orders, expired = s.queues
    # DLQ: a sink before any queue read dead-letters into it; the expiry queue's dead letters
    # are not a workload's failures
    assert g.is_dead_letter_queue(dlq, "amqp1") and g.dead_letter_sources(dlq, "amqp1") == []
    assert g.is_expiry_queue(expiry, "amqp1") and g.expiry_sources(expiry, "amqp1") == []
    assert g.is_expiry_queue(expired, "amqp1") and g.expiry_sources(expired, "amqp1") == ["orders"]
    assert not g.is_expiry_queue(orders, "amqp1") and not g.is_dead_letter_queue(orders, "amqp1")


# ------------------------------------------------------------------ findings, targets, plan


def test_roles_topics_and_findings_of_dead_letter_and_expiry_queues():
    w = workloads(DEAD_LETTERS)
    roles = {
        q: (x.target.role, x.target.mode.value, x.target.topic.value) for q, x in w.items() if q
    }
    assert roles == {
        "DLQ": ("dead-letter", "share-group", "dlq.billing"),
        "ExpiryQueue": ("expiry", "none", "ExpiryQueue"),
        "orders.eu": ("work-queue", "share-group", "orders.eu"),
        # on orders.# 's dead-letter address, though not named like it
        "orders.parked": ("dead-letter", "share-group", "dlq.orders.eu"),
        "orders.expired": ("expiry", "none", "orders.expired"),
        "billing": ("work-queue", "share-group", "billing"),
    }
    evidence = {
        q: {f.rule: f.evidence for f in x.findings if f.status.value == "fired"}
        for q, x in w.items()
        if q
    }
    assert evidence["DLQ"]["dlq.redrive"] == {
        "dead-letter queue of": ["billing"],  # not ExpiryQueue: it is no work queue
        "named by": "the dead-letter-address of its own address-settings",
    }
    assert evidence["orders.expired"]["ttl.expiry"] == {
        "expiry queue of": ["orders.eu", "orders.parked"],
        "named by": "the expiry-address of its own address-settings",
    }
    assert evidence["ExpiryQueue"]["ttl.expiry"]["expiry queue of"] == ["DLQ", "billing"]
    assert evidence["orders.eu"]["ttl.expiry"] == {
        "expiry": 60000,
        "expired messages moved to (expiry-address)": "orders.expired",
    }
    expiry = [f for f in w["ExpiryQueue"].findings if f.rule == "ttl.expiry"][0]
    assert expiry.severity.value == "info"
    assert "never moves an expired record" in expiry.mapping
    assert "do not migrate it as a work queue" in expiry.remediation
    assert "drain or archive" in expiry.remediation
    # an expiry queue is not consumed: no retry limit, no DLQ topic of its own
    r = fired(DEAD_LETTERS)
    assert r["ExpiryQueue"] == ("redesign", [("ttl.expiry", "info")])
    assert w["ExpiryQueue"].target.group is None and w["ExpiryQueue"].target.dlq_topic is None


def _default_broker_xml(tmp_path: Path, *queues: str) -> Path:
    """A broker.xml with Artemis's default "#" setting, DLQ, ExpiryQueue and ``queues``
    (each on its own anycast address)."""
    addresses = "".join(
        f"<address name='{q}'><anycast><queue name='{q}'/></anycast></address>"
        for q in ("DLQ", "ExpiryQueue", *queues)
    )
    xml = tmp_path / "broker.xml"
    xml.write_text(
        "<configuration xmlns='urn:activemq'><core xmlns='urn:activemq:core'>"
        "<address-settings><address-setting match='#'>"
        "<dead-letter-address>DLQ</dead-letter-address>"
        "<expiry-address>ExpiryQueue</expiry-address></address-setting></address-settings>"
        f"<addresses>{addresses}</addresses></core></configuration>"
    )
    return xml


def test_a_dead_letter_address_no_queue_dead_letters_into_yet(tmp_path):
    w = workloads(_default_broker_xml(tmp_path))
    dlq = w["DLQ"].target
    assert dlq.role == "dead-letter" and dlq.topic.value == "dlq.DLQ"
    assert "no queue read dead-letters into it yet" in dlq.topic.reason
    assert [f.evidence for f in w["DLQ"].findings if f.rule == "dlq.redrive"] == [
        {"named by": "the dead-letter-address of its own address-settings"}
    ]
    assert w["ExpiryQueue"].target.role == "expiry"
    # its one source, DLQ (the DLQ's expired messages go there too)
    assert [f.evidence for f in w["ExpiryQueue"].findings if f.rule == "ttl.expiry"] == [
        {"expiry queue of": ["DLQ"], "named by": "the expiry-address of its own address-settings"}
    ]


def test_plan_leaves_dead_letter_and_expiry_queues_out(tmp_path, capsys):
    code, out, err = run_cli(["plan", str(DEAD_LETTERS), "-o", str(tmp_path)], capsys)
    assert code == 0, err
    text = out + err
    assert "(orders.eu, billing)" in text
    left_out = {
        line.split(":", 3)[2]: line.split(":", 3)[3]
        for line in text.splitlines()
        if line.startswith("left out amqp1:artemis dead-letters:") and not line.count(":*:")
    }
    assert set(left_out) == {"DLQ", "ExpiryQueue", "orders.parked", "orders.expired"}
    assert "expiry queue of orders.eu, orders.parked" in left_out["orders.expired"]
    assert "drain or archive it" in left_out["orders.expired"]
    assert "(dlq.orders.eu)" in left_out["orders.parked"]
    playbook = yaml.safe_load((tmp_path / "migration.yaml").read_text())
    assert [w["source"]["queue"] for w in playbook["workloads"]] == ["orders.eu", "billing"]


def test_a_reason_names_a_few_sources_and_the_evidence_all(tmp_path):
    w = workloads(_default_broker_xml(tmp_path, *(f"q{i}" for i in range(7))))
    assert w["ExpiryQueue"].target.mode.reason.startswith(
        "expiry queue of DLQ, q0, q1, q2, q3 and 3 more (messages whose time to live passed)"
    )
    assert w["DLQ"].target.topic.reason == (
        "dead-letter queue shared by 7 queues (q0, q1, q2, q3, q4 and 2 more): one DLQ topic "
        "for all of them"
    )
    expiry = [f.evidence for f in w["ExpiryQueue"].findings if f.rule == "ttl.expiry"][0]
    assert expiry["expiry queue of"] == ["DLQ"] + [f"q{i}" for i in range(7)]
