"""Specs of the example playbooks under ``playbooks/`` (rebuilt and compared by a test).

Until ``plan`` lands these specs are written by hand from what ``assess`` would find; after the
merge they are replaced by estates under ``tests/`` fed through ``plan``.
"""

from __future__ import annotations

from pathlib import Path

from mqmigrate.playbooks.model import Playbook
from mqmigrate.playbooks.render import DecisionSpec, Derived, WorkloadSpec, build_playbook

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "playbooks"


def rabbitmq_work_queue() -> Playbook:
    """A RabbitMQ work queue with a dead-letter exchange and a 1-day message TTL."""
    spec = WorkloadSpec(
        id="orders",
        source={"kind": "rabbitmq", "endpoint": "amqp://rabbitmq.internal:5672",
                "credentials": {"env": "RABBITMQ_URI"}, "queue": "orders", "vhost": "shop"},
        topic="shop.orders",
        partitions=Derived(12, "12 partitions: peak 3,000 msg/s ÷ 250 msg/s per partition, "
                               "rounded up"),
        replication=Derived(3, "3 replicas: the cluster's default.replication.factor"),
        topic_configs={
            "retention.ms": Derived("604800000", "7 days: max(x-message-ttl 1 day, backlog "
                                    "drain 2 h, rollback window 7 days)"),
            "min.insync.replicas": Derived("2", "acks=all survives one broker down"),
        },
        group=Derived("shop.orders-workers", "one share group for the queue's 8 consumers"),
        share_configs={
            "share.auto.offset.reset": Derived("earliest", "the backlog copied before consumers "
                                               "join must be served"),
            "share.record.lock.duration.ms": Derived(45000, "45 s lock: 1.5 × p99 processing "
                                                     "time of 30 s"),
            "share.delivery.count.limit": Derived(5, "x-delivery-limit 5 on the quorum queue"),
        },
        dlq_topic=Derived("dlq.shop.orders", "the queue dead-letters to exchange orders.dlx; "
                          "Kafka 4.4 dead-letters to this topic (KIP-1191)"),
        use_broker_dlq=Derived(True, "share.version=2 on the target cluster"),
        decisions=[
            DecisionSpec("ttl.expiry", "Messages expire after 1 day (x-message-ttl). Kafka has no "
                         "per-record TTL: should consumers skip records older than 1 day "
                         "(expires-at header) or process them late?"),
            DecisionSpec("dlq.redrive", "Who consumes orders.dlx today? Point them at "
                         "dlq.shop.orders before the consumers phase."),
        ],
    )
    return build_playbook([spec], "shadow-then-drain", name="rabbitmq-work-queue",
                          bootstrap="kafka.internal:9092",
                          description="RabbitMQ quorum queue 'orders' (vhost shop) with DLX "
                          "and TTL onto a Kafka share group")


#: file name under playbooks/ → builder
ALL = {"rabbitmq-work-queue.yaml": rabbitmq_work_queue}
