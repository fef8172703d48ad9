"""ActiveMQ Artemis broker.xml and IBM MQ MQSC inputs: the readers (wildcard precedence and
merging, continuation lines, LIKE chains) and the findings, roles and topics derived from real
public files (tests/data/estates/SOURCES.md) and small files of our own (estates/edge)."""

from __future__ import annotations

import pytest

from mqmigrate.errors import ConfigError
from mqmigrate.inventory import read_estate
from mqmigrate.inventory.readers.artemis_common import Wildcards, effective_settings, parse_bytes
from mqmigrate.inventory.readers.mqsc import commands, parse_command
from tests.unit.assess_helpers import ESTATES, fired, run_cli, workloads

DIVERT = (
    ESTATES / "apache__activemq-artemis__examples__features__standard__divert__server0__broker.xml"
)
MQ_DEV = ESTATES / "ibm-messaging__mq-container__incubating__mqadvanced-server-dev__dev.mqsc"
MQ_NO_QUEUES = ESTATES / "ibm-messaging__mq-container__test-image__20-config.mqsc"
MQ_SENDER = ESTATES / "ibm-messaging__mq-ansible__blueprints__sdr-rcvr__sender-config.mqsc"
LVQ = ESTATES / (
    "apache__activemq-artemis__examples__features__standard__last-value-queue__server0__broker.xml"
)
ARTEMIS_EDGE = ESTATES / "edge" / "artemis-settings.xml"
MQSC_EDGE = ESTATES / "edge" / "mqsc-continuations.mqsc"


# ------------------------------------------------------------------ Artemis wildcard matching


def test_wildcard_precedence_literal_then_single_then_any():
    wc = Wildcards()
    matches = {
        "#": {"maxDeliveryAttempts": 1, "deadLetterAddress": "DLQ"},
        "orders.#": {"maxDeliveryAttempts": 2, "redeliveryDelay": 100},
        "orders.*": {"maxDeliveryAttempts": 3},
        "orders.eu": {"expiryDelay": 5},
    }
    merged, applied = effective_settings("orders.eu", matches, wc)
    assert applied == ["orders.eu", "orders.*", "orders.#", "#"]
    # unset fields come from the next most specific match
    assert merged == {
        "expiryDelay": 5,
        "maxDeliveryAttempts": 3,
        "redeliveryDelay": 100,
        "deadLetterAddress": "DLQ",
    }
    assert effective_settings("orders.us.retail", matches, wc)[1] == ["orders.#", "#"]
    # "a.#" matches "a" itself (zero words)
    assert effective_settings("orders", matches, wc)[1] == ["orders.#", "#"]
    assert effective_settings("other", matches, wc)[0]["maxDeliveryAttempts"] == 1


def test_wildcard_longer_any_words_match_wins_and_word_by_word_single():
    wc = Wildcards()
    assert sorted(["#", "a.#", "a.b.#"], key=_key(wc)) == ["a.b.#", "a.#", "#"]
    assert sorted(["*.b.c", "a.*.c", "a.b.*"], key=_key(wc)) == ["a.b.*", "a.*.c", "*.b.c"]


def test_custom_delimiter_and_byte_notation():
    wc = Wildcards(delimiter="/")
    assert wc.matches("orders/*", "orders/eu") and not wc.matches("orders/*", "orders.eu")
    assert not wc.matches("orders/*", "orders/us/retail")
    assert parse_bytes("10M") == 10 * 1024 * 1024 and parse_bytes("-1") == -1
    assert parse_bytes("512KiB") == 512 * 1024
    with pytest.raises(ValueError):
        parse_bytes("ten")


def _key(wc):
    from functools import cmp_to_key

    return cmp_to_key(wc.compare)


# ------------------------------------------------------------------ Artemis broker.xml


def test_artemis_edge_settings_are_matched_and_merged():
    src = read_estate([str(ARTEMIS_EDGE)]).sources[0]
    assert src.kind == "amqp1" and src.name == "artemis edge"
    q = {x.name: x for x in src.queues}
    assert q["orders.eu"].delivery_limit == 6  # literal match
    assert q["orders.us"].delivery_limit == -1  # orders/* says -1: unlimited
    assert q["orders.us.retail"].delivery_limit == 3  # only orders/# and # match
    assert q["audit.log"].delivery_limit == -1  # 0 is unlimited too
    assert q["orders.eu"].extra["address_settings"] == ["orders/eu", "orders/*", "orders/#", "#"]
    assert q["orders.eu"].message_ttl == 600 and q["orders.eu"].delay == 1.0
    assert q["orders.eu"].overflow == "BLOCK" and q["orders.eu"].max_length_bytes == 10485760
    assert q["orders.eu"].dead_letter.target == "DLQ"
    assert q["prices.fx.desk"].extra["last_value_key"] == "sku"
    assert "last_value" not in q["prices.fx.risk"].extra  # last-value="false" on the queue
    assert q["jobs.batch"].single_active_consumer and not q["jobs.batch"].exclusive
    assert not q["jobs.batch.shared"].single_active_consumer  # exclusive="false" wins
    assert q["jobs.batch.shared"].durable is False


def test_artemis_edge_findings_roles_and_topics():
    r = fired(ARTEMIS_EDGE)
    w = workloads(ARTEMIS_EDGE)
    assert r["orders.eu"] == (
        "share-group-with-changes",
        [
            ("backpressure.max-length", "warn"),
            ("delay.delivery", "warn"),
            ("dlq.redrive", "info"),
            ("ttl.expiry", "warn"),
        ],
    )
    delay = [f for f in w["orders.eu"].findings if f.rule == "delay.delivery"][0]
    assert delay.evidence == {
        "redelivery_delay": 1.0,
        "redelivery-delay-multiplier": 2.0,
        "max-redelivery-delay": 60000,
    }
    assert ("retry.limit", "warn") in r["orders.us"][1]
    assert w["orders.eu"].target.group_configs["share.delivery.count.limit"].value == 6
    # last-value on a multicast address: one topic, a share group per subscription queue
    assert ("queue-type.last-value", "warn") in r["prices.fx.desk"][1]
    assert ("queue-type.last-value", "warn") not in r["prices.fx.risk"][1]
    assert w["prices.fx.desk"].target.topic.value == "prices-fx"
    assert w["prices.fx.desk"].target.fanout.value["groups"] == ["prices.fx.desk", "prices.fx.risk"]
    drop = [f for f in w["prices.fx.desk"].findings if f.rule == "backpressure.max-length"][0]
    assert drop.evidence["address-full-policy"] == "DROP"
    # non-destructive + ring: a consumer group
    assert r["audit.log"][0] == "consumer-group"
    assert ("queue-type.non-destructive", "blocker") in r["audit.log"][1]
    ring = [f.evidence for f in w["audit.log"].findings if f.rule == "backpressure.max-length"]
    assert {"ring-size": 1000} in ring
    # default-ring-size is for auto-created queues: a queue of broker.xml keeps no ring
    assert not any("ring-size" in f.evidence for f in w["audit.archive"].findings)
    assert ("queue-type.non-destructive", "blocker") in r["audit.archive"][1]
    # exclusive queue and message groups: ordering, keyed consumer group (not RPC)
    assert r["jobs.batch"] == (
        "consumer-group",
        [
            ("backpressure.max-length", "info"),
            ("dlq.redrive", "info"),
            ("ordering.fifo", "blocker"),
        ],
    )
    assert w["jobs.batch"].target.key.value == "group-id"
    groups = [f for f in w["jobs.batch.shared"].findings if f.rule == "ordering.fifo"][0]
    assert groups.evidence == {"message_groups": True, "group-rebalance": True, "group-buckets": 16}
    # PAGE past max-size-bytes keeps every message: information, not a change
    assert ("backpressure.max-length", "info") in r["ExpiryQueue"][1]
    # DLQ is the sink of every queue: the shared DLQ topic, not a work queue
    assert w["DLQ"].target.role == "dead-letter" and w["DLQ"].target.topic.value == "dlq.DLQ"


def test_artemis_20_layout_and_a_file_without_queues(tmp_path, capsys):
    old = tmp_path / "broker.xml"
    old.write_text(
        "<configuration xmlns='urn:activemq'><core xmlns='urn:activemq:core'>"
        "<addresses><address name='DLQ' type='anycast'><queues><queue name='DLQ'/>"
        "</queues></address><address name='news' type='multicast'><queues>"
        "<queue name='news.a'/></queues></address></addresses></core>"
        "</configuration>"
    )
    src = read_estate([str(old)]).sources[0]
    assert [(q.name, q.type) for q in src.queues] == [("DLQ", "anycast"), ("news.a", "multicast")]
    assert [(e.exchange, e.queue) for e in src.edges] == [("news", "news.a")]
    empty = tmp_path / "settings-only.xml"
    empty.write_text(
        "<configuration xmlns='urn:activemq'><core xmlns='urn:activemq:core'>"
        "<address-settings><address-setting match='#'><max-delivery-attempts>3"
        "</max-delivery-attempts></address-setting></address-settings></core>"
        "</configuration>"
    )
    code, out, err = run_cli(["assess", str(empty)], capsys)
    assert code == 2 and not out
    assert (
        "no queue in this broker.xml (found 0 addresses without queues, 1 address-settings" in err
        and "artemis+http://" in err
    )


def test_last_value_topic_is_compacted():
    w = workloads(ARTEMIS_EDGE)
    assert w["prices.fx.desk"].target.topic_configs["cleanup.policy"].value == "compact"
    assert "cleanup.policy" not in w["orders.eu"].target.topic_configs


def test_artemis_divert_example():
    r = fired(DIVERT)
    w = workloads(DIVERT)
    assert set(r) == {None, "orders", "priceForwarding"}
    # the exclusive divert priceUpdates[filter] -> priceForwarding is a route to that queue
    routing = [f for f in w["priceForwarding"].findings if f.rule == "routing.pattern"][0]
    assert routing.evidence["routing"] == ["exchange-to-exchange"]
    assert (
        "priceUpdates[office='New York'] -> priceForwarding[priceForwarding] -> priceForwarding"
    ) in routing.evidence["edges"]
    # no address-settings: Artemis's default of 10 delivery attempts (inside 2-10)
    assert r["orders"] == ("share-group", [])
    t = w["orders"].target
    assert t.topic.value == "orders"
    assert t.group_configs["share.delivery.count.limit"].value == 10
    assert "default" in t.group_configs["share.delivery.count.limit"].reason
    src = read_estate([str(DIVERT)]).sources[0]
    assert any("prices-divert" in n for n in src.notes)
    assert "AMQP 1.0 acceptor netty-acceptor: tcp://localhost:61616" in src.notes


# ------------------------------------------------------------------ IBM MQ MQSC


def test_mqsc_continuation_and_quoting():
    text = (
        "* comment\nDEFINE QLOCAL('A.B') +\n     DESCR('it''s') -\n MAXDEPTH(5)\n"
        "def ql(lower) like('A.B')\n"
    )
    cmds = commands(text)
    assert cmds == [
        (2, "DEFINE QLOCAL('A.B') DESCR('it''s')  MAXDEPTH(5)"),
        (5, "def ql(lower) like('A.B')"),
    ]
    words, attrs, name = parse_command(cmds[0][1])
    assert words == ["DEFINE", "QLOCAL"] and name == "A.B"
    assert attrs == {"DESCR": "it's", "MAXDEPTH": "5"}
    assert parse_command(cmds[1][1])[2] == "LOWER"  # unquoted names are upper-cased
    assert parse_command("ALTER QMGR DEADQ('X.DLQ')") == (
        ["ALTER", "QMGR"],
        {"DEADQ": "X.DLQ"},
        None,
    )


def test_mqsc_unreadable_command_that_is_not_a_queue_is_skipped(tmp_path):
    script = tmp_path / "q.mqsc"
    script.write_text(
        "DEFINE CHANNEL(C) CHLTYPE(SDR) CONNAME(host(1414))\nDEFINE QLOCAL(A) MAXDEPTH(7)\n"
    )
    src = read_estate([str(script)]).sources[0]
    assert [(q.name, q.max_length) for q in src.queues] == [("A", 7)]
    assert any("DEFINE CHANNEL not read" in n for n in src.notes)


def test_mqsc_edge_like_chains_and_objects_apart():
    src = read_estate([str(MQSC_EDGE)]).sources[0]
    q = {x.name: x for x in src.queues}
    assert sorted(q) == [
        "APP.BACKOUT",
        "APP.BASE",
        "APP.DLQ",
        "APP.ORDERS",
        "APP.ORDERS.EU",
        "APP.REPORTS",
    ]
    # LIKE chain: APP.ORDERS.EU copies APP.ORDERS which copied APP.BASE
    eu = q["APP.ORDERS.EU"]
    assert eu.delivery_limit == 4 and eu.dead_letter.target == "APP.BACKOUT"
    assert eu.max_length == 20000 and eu.max_message_size == 1048576
    assert eu.single_active_consumer and eu.extra["DESCR"] == "Orders of the EU's shops"
    assert eu.extra["DEFPSIST"] == "YES"
    assert src.reported_apart == {
        "initiation queues": ["APP.INITQ"],
        "model queues": ["APP.REPLY.MODEL"],
        "remote queues": ["APP.PARTNER -> IN@PARTNERQM"],
        "system queues": ["SYSTEM.ADMIN.EVENT.QUEUE"],
        "transmission queues": ["PARTNERQM"],
    }
    # the alias routes to its target
    assert [(e.exchange, e.queue) for e in src.edges] == [("APP.ORDERS.IN", "APP.ORDERS")]


def test_mqsc_edge_findings_roles_and_topics():
    r = fired(MQSC_EDGE)
    w = workloads(MQSC_EDGE)
    reports = r["APP.REPORTS"]
    assert reports[0] == "consumer-group"
    for expected in (
        ("trigger.on-arrival", "warn"),
        ("priority", "warn"),
        ("ordering.fifo", "blocker"),
        ("retry.limit", "info"),
    ):
        assert expected in reports[1]
    trig = [f for f in w["APP.REPORTS"].findings if f.rule == "trigger.on-arrival"][0]
    assert trig.evidence == {
        "TRIGTYPE": "FIRST",
        "INITQ": "APP.INITQ",
        "PROCESS": "APP.REPORTS.PROC",
    }
    # BOTHRESH without BOQNAME: the JMS client backs out to the queue manager's DEADQ
    dlq = [f for f in w["APP.REPORTS"].findings if f.rule == "dlq.redrive"][0]
    assert dlq.evidence == {
        "BOQNAME": "APP.DLQ",
        "how": "client-side backout to the queue manager's DEADQ",
    }
    assert w["APP.DLQ"].target.role == "dead-letter"
    assert w["APP.DLQ"].target.topic.value == "dlq.APP.REPORTS"
    # the backout queue shared by three queues keeps its own name as the DLQ topic
    assert w["APP.BACKOUT"].target.role == "dead-letter"
    assert w["APP.BACKOUT"].target.topic.value == "dlq.APP.BACKOUT"
    base = w["APP.BASE"]
    assert base.verdict == "share-group-with-changes"
    assert base.target.group_configs["share.delivery.count.limit"].value == 4
    assert base.target.dlq_topic.value == "dlq.APP.BASE"
    limit = [f for f in base.findings if f.rule == "backpressure.max-length"][0]
    assert limit.evidence == {"MAXDEPTH": 20000, "overflow": "reject-publish"}
    assert ("ordering.fifo", "blocker") in r["APP.ORDERS"][1]
    assert r[None][1] == [("source.hygiene", "info")]


def test_mq_container_dev_script():
    """IBM's developer image script: three queues at MQ defaults, the DEADQ reported apart."""
    r = fired(MQ_DEV)
    w = workloads(MQ_DEV)
    assert sorted(q for q in r if q) == ["DEV.QUEUE.1", "DEV.QUEUE.2", "DEV.QUEUE.3"]
    # BOTHRESH(0) default: redelivered forever; MAXDEPTH 5000 and MAXMSGL 4 MiB defaults
    assert r["DEV.QUEUE.1"] == (
        "share-group-with-changes",
        [
            ("backpressure.max-length", "warn"),
            ("retry.limit", "warn"),
            ("size.max-message", "warn"),
        ],
    )
    q1 = {f.rule: f for f in w["DEV.QUEUE.1"].findings}
    assert q1["retry.limit"].evidence == {"BOTHRESH": "unlimited (default)"}
    assert q1["size.max-message"].evidence["MAXMSGL"] == "4194304 (default)"
    assert q1["priority"].status.value == "unknown"  # MSGDLVSQ(PRIORITY) is only the default
    t = w["DEV.QUEUE.1"].target
    assert t.topic.value == "DEV.QUEUE.1" and t.mode.value == "share-group"
    assert t.topic_configs["max.message.bytes"].value == 4194304 + 4096
    apart = [f for f in w[None].findings if f.rule == "source.hygiene"][0]
    assert apart.evidence == {"queue manager dead-letter queue (DEADQ)": ["DEV.DEAD.LETTER.QUEUE"]}


def test_mq_ansible_sender_script_has_no_workload_but_says_what_it_holds(capsys):
    """A sender queue manager: a transmission queue (``USAGE (XMITQ)``, blank before the
    parenthesis) and a remote queue; nothing to migrate here, and the report says why."""
    r = fired(MQ_SENDER)
    assert r == {None: ("not-a-workload", [("source.hygiene", "info")])}
    w = workloads(MQ_SENDER)
    apart = [f for f in w[None].findings if f.rule == "source.hygiene"][0]
    assert apart.evidence == {
        "remote queues": ["REMOTE.Q -> RCVR.TARGET.Q@RECEIVER"],
        "transmission queues": ["RECEIVER"],
    }


def test_artemis_1x_jms_last_value_example():
    r = fired(LVQ)
    assert r["jms.queue.exampleQueue"] == (
        "share-group-with-changes",
        [("queue-type.last-value", "warn")],
    )
    t = workloads(LVQ)["jms.queue.exampleQueue"].target
    assert t.topic.value == "jms.queue.exampleQueue"
    assert t.topic_configs["cleanup.policy"].value == "compact"
    assert t.mode.value == "share-group"


def test_mqsc_without_queue_definitions_is_exit_2(capsys):
    code, out, err = run_cli(["assess", str(MQ_NO_QUEUES)], capsys)
    assert code == 2 and not out
    assert "no queue definition" in err
    assert "DEFINE CHANNEL x1" in err and "SET CHLAUTH x3" in err
    with pytest.raises(ConfigError, match="no queue definition"):
        read_estate([str(MQ_NO_QUEUES)])


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "<?xml version='1.0'?>\n<!DOCTYPE x [<!ENTITY a 'b'>]>\n<configuration/>",
            "document type declaration",
        ),
        (
            "<configuration xmlns='urn:activemq'><core xmlns='urn:activemq:core'><addresses>",
            "invalid XML",
        ),
        ("<beans><bean/></beans>", "root element <beans> is not an ActiveMQ Artemis broker.xml"),
        (
            "<configuration xmlns='urn:activemq'><core xmlns='urn:activemq:core'><address-settings>"
            "<address-setting match='#'><max-delivery-attempts>ten</max-delivery-attempts>"
            "</address-setting></address-settings></core></configuration>",
            "max-delivery-attempts: invalid value 'ten'",
        ),
        ("DEFINE QLOCAL('A) REPLACE\n", "cannot read the MQSC command"),
    ],
)
def test_bad_broker_files_are_one_line_errors(tmp_path, capsys, text, message):
    path = tmp_path / ("broker.xml" if text.startswith("<") else "q.mqsc")
    path.write_text(text)
    code, out, err = run_cli(["assess", str(path)], capsys)
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "path", [DIVERT, MQ_DEV, ARTEMIS_EDGE, MQSC_EDGE], ids=lambda p: p.name[:24]
)
@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_reports_name_the_new_sources(path, fmt, capsys):
    code, out, err = run_cli(["assess", str(path), "--format", fmt, "--fail-on", "never"], capsys)
    assert code == 0, err
    kind = "ibmmq" if path.suffix == ".mqsc" else "artemis"
    assert f"amqp1: {kind} " in out
