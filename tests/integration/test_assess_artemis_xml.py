"""A private Artemis broker configured with address settings (wildcards, merging, last-value,
non-destructive, ring, exclusive, groups, exponential redelivery, full policies, dead-letter and
expiry addresses) is assessed from its own ``broker.xml`` and live through Jolokia: both give
the same queues, findings, roles and targets.

The broker is a private instance (tests/support/brokers.py) on free ports, so the shared
sandbox Artemis is never reconfigured; it is stopped at the end.
"""

from __future__ import annotations

import pytest

from mqmigrate.assessment.engine import assess
from mqmigrate.inventory import read_estate
from mqmigrate.sandbox import manager

pytestmark = [pytest.mark.integration, pytest.mark.amqp1]

SETTINGS = """
         <address-setting match="live.#">
            <max-delivery-attempts>3</max-delivery-attempts>
            <redelivery-delay>500</redelivery-delay>
            <redelivery-delay-multiplier>2.0</redelivery-delay-multiplier>
            <max-redelivery-delay>4000</max-redelivery-delay>
         </address-setting>
         <address-setting match="live.*">
            <max-delivery-attempts>-1</max-delivery-attempts>
         </address-setting>
         <address-setting match="live.orders">
            <max-delivery-attempts>6</max-delivery-attempts>
            <expiry-delay>60000</expiry-delay>
            <max-size-bytes>1M</max-size-bytes>
            <address-full-policy>BLOCK</address-full-policy>
         </address-setting>
         <address-setting match="live.prices">
            <default-last-value-key>sku</default-last-value-key>
            <address-full-policy>DROP</address-full-policy>
         </address-setting>
         <address-setting match="live.audit">
            <default-non-destructive>true</default-non-destructive>
            <default-ring-size>100</default-ring-size>
         </address-setting>
         <address-setting match="live.jobs">
            <default-exclusive-queue>true</default-exclusive-queue>
         </address-setting>
         <address-setting match="live.billing.#">
            <dead-letter-address>live.billing.dead</dead-letter-address>
            <expiry-address>live.billing.expired</expiry-address>
         </address-setting>
"""
ADDRESSES = """
         <address name="live.orders"><anycast><queue name="live.orders"/></anycast></address>
         <address name="live.us.retail"><anycast><queue name="live.us.retail"/></anycast></address>
         <address name="live.prices">
            <multicast><queue name="live.prices.a"/><queue name="live.prices.b"/></multicast>
         </address>
         <address name="live.audit">
            <multicast><queue name="live.audit.log" ring-size="50"/><queue name="live.audit.all"/></multicast>
         </address>
         <address name="live.jobs">
            <anycast>
               <queue name="live.jobs"/>
               <queue name="live.jobs.groups" exclusive="false" group-rebalance="true" group-buckets="8"/>
            </anycast>
         </address>
         <address name="live.billing.eu"><anycast><queue name="live.billing.eu"/></anycast></address>
         <address name="live.billing.dead">
            <anycast><queue name="live.billing.parked"/></anycast>
         </address>
         <address name="live.billing.expired">
            <anycast><queue name="live.billing.expired"/></anycast>
         </address>
"""


@pytest.fixture(scope="module")
def private_artemis(tmp_path_factory):
    from tests.support.brokers import PrivateArtemis

    broker = PrivateArtemis(tmp_path_factory.mktemp("private-artemis"), manager.context().cache_dir)
    broker.create()
    xml = broker.broker_xml.read_text()
    assert xml.count("</address-settings>") == 1 and xml.count("</addresses>") == 1
    xml = xml.replace("</address-settings>", SETTINGS + "      </address-settings>")
    broker.broker_xml.write_text(xml.replace("</addresses>", ADDRESSES + "      </addresses>"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _view(estate) -> dict:
    """queue → (verdict, fired findings with evidence, target essentials)."""
    out = {}
    for w in assess(estate):
        if w.queue is None:
            continue
        t = w.target
        out[w.queue] = (
            w.verdict,
            sorted(
                (f.rule, f.severity.value, repr(f.evidence))
                for f in w.findings
                if f.status.value == "fired"
            ),
            (
                t.mode.value,
                t.role,
                t.topic.value,
                {k: v.value for k, v in t.group_configs.items()},
                t.key.value if t.key else None,
                t.fanout.value if t.fanout else None,
            ),
        )
    return out


def test_broker_xml_and_jolokia_agree(private_artemis):
    from_file = _view(read_estate([str(private_artemis.broker_xml)]))
    live = _view(read_estate([private_artemis.jolokia_uri]))
    ours = sorted(q for q in from_file if q.startswith("live."))
    assert ours == [
        "live.audit.all",
        "live.audit.log",
        "live.billing.eu",
        "live.billing.expired",
        "live.billing.parked",
        "live.jobs",
        "live.jobs.groups",
        "live.orders",
        "live.prices.a",
        "live.prices.b",
        "live.us.retail",
    ]
    assert set(from_file) == set(live)  # the broker's DLQ and ExpiryQueue too
    for queue in sorted(from_file):
        assert from_file[queue] == live[queue], queue

    # and the findings are the ones the settings call for
    rules = {q: {(r, s) for r, s, _ in v[1]} for q, v in from_file.items()}
    assert ("delay.delivery", "warn") in rules["live.orders"]
    assert ("ttl.expiry", "warn") in rules["live.orders"]
    assert ("backpressure.max-length", "warn") in rules["live.orders"]
    assert from_file["live.orders"][2][3]["share.delivery.count.limit"] == 6
    assert ("retry.limit", "warn") not in rules["live.us.retail"]  # live.# gives 3
    assert from_file["live.us.retail"][2][3]["share.delivery.count.limit"] == 3
    assert ("queue-type.last-value", "warn") in rules["live.prices.a"]
    assert from_file["live.prices.a"][2][2] == "live.prices"  # one topic for the address
    assert ("queue-type.non-destructive", "blocker") in rules["live.audit.log"]
    assert from_file["live.audit.log"][0] == "consumer-group"
    # a ring only where the queue sets ring-size: default-ring-size is not applied to it
    assert ("backpressure.max-length", "warn", "{'ring-size': 50}") in from_file["live.audit.log"][
        1
    ]
    assert not any("ring-size" in e for _, _, e in from_file["live.audit.all"][1])
    assert ("ordering.fifo", "blocker") in rules["live.jobs"]
    assert ("ordering.fifo", "blocker") in rules["live.jobs.groups"]
    assert ("retry.limit", "warn") in rules["live.jobs"]  # live.* says -1
    assert from_file["DLQ"][2][1] == "dead-letter"


def test_dead_letter_and_expiry_queues_in_their_roles_from_both(private_artemis):
    """The broker's DLQ and ExpiryQueue (address-setting "#") and those live.billing.# names
    (one not named like its address) are dead-letter and expiry queues, live and from the file,
    and plan would leave them out; the work queues keep their role."""
    for estate in (
        read_estate([str(private_artemis.broker_xml)]),
        read_estate([private_artemis.jolokia_uri]),
    ):
        w = {x.queue: x for x in assess(estate) if x.queue is not None}
        where = estate.sources[0].endpoint
        roles = {
            q: (w[q].target.role, w[q].target.mode.value, w[q].target.topic.value)
            for q in ("DLQ", "ExpiryQueue", "live.billing.parked", "live.billing.expired")
        }
        assert roles["DLQ"][:2] == ("dead-letter", "share-group"), where
        assert roles["ExpiryQueue"] == ("expiry", "none", "ExpiryQueue"), where
        assert roles["live.billing.parked"] == (
            "dead-letter",
            "share-group",
            "dlq.live.billing.eu",
        ), where
        assert roles["live.billing.expired"] == ("expiry", "none", "live.billing.expired"), where
        assert w["live.billing.eu"].target.role == "work-queue", where
        evidence = {
            q: {f.rule: f.evidence for f in w[q].findings if f.status.value == "fired"}
            for q in ("DLQ", "ExpiryQueue", "live.billing.parked", "live.billing.expired")
        }
        assert evidence["DLQ"]["dlq.redrive"]["named by"].startswith("the dead-letter-address")
        assert "live.orders" in evidence["DLQ"]["dlq.redrive"]["dead-letter queue of"], where
        assert "ExpiryQueue" not in evidence["DLQ"]["dlq.redrive"]["dead-letter queue of"]
        assert evidence["live.billing.parked"]["dlq.redrive"]["dead-letter queue of"] == [
            "live.billing.eu"
        ], where
        assert evidence["ExpiryQueue"]["ttl.expiry"]["named by"].startswith("the expiry-address")
        assert "live.orders" in evidence["ExpiryQueue"]["ttl.expiry"]["expiry queue of"], where
        assert evidence["live.billing.expired"]["ttl.expiry"]["expiry queue of"] == [
            "live.billing.eu",
            "live.billing.parked",
        ], where
        # a work queue's expired messages go to its expiry address, not to its DLQ
        orders = {f.rule: f.evidence for f in w["live.orders"].findings}
        assert orders["ttl.expiry"]["expired messages moved to (expiry-address)"] == "ExpiryQueue"
