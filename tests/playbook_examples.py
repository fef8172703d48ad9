"""The example playbooks under ``playbooks/``: each is what ``mqmigrate plan`` writes for an
estate kept in ``tests/data/plan/`` (rebuilt and compared byte for byte by a test).

Regenerate them all with ``PYTHONPATH=. python -m tests.playbook_examples`` from the
repository root after a deliberate change to ``plan`` or the estates.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "playbooks"
ESTATES = Path("tests/data/plan")  # relative: the path is written into the header comment

#: playbook file under playbooks/ → the ``mqmigrate plan`` arguments that write it
ALL: dict[str, list[str]] = {
    "rabbitmq-work-queue.yaml": [str(ESTATES / "rabbitmq-work-queue.json")],
    "rabbitmq-fanout.yaml": [str(ESTATES / "rabbitmq-fanout.json")],
    "sqs-standard.yaml": [str(ESTATES / "sqs-standard.tf")],
    "sqs-fifo.yaml": [str(ESTATES / "sqs-fifo.yaml")],
    "amqp1-queue.yaml": [str(ESTATES / "amqp1-queue.yaml")],
    "artemis-broker-xml.yaml": [str(ESTATES / "artemis-broker.xml")],
    "ibmmq-mqsc.yaml": [str(ESTATES / "ibmmq-queues.mqsc")],
    "servicebus-namespace.yaml": [str(ESTATES / "servicebus-namespace.bicep")],
}


def plan_args(file_name: str, out_dir: Path) -> list[str]:
    """The full ``plan`` command line for one example, writing into ``out_dir``."""
    return [
        "plan",
        *ALL[file_name],
        "--name",
        file_name.removesuffix(".yaml"),
        "--kafka",
        "kafka.internal:9092",
        "--out",
        str(out_dir),
    ]


def build(file_name: str):
    """The playbook ``plan`` builds for one example (through the core, not the CLI)."""
    from mqmigrate.assessment.model import KafkaCapabilities
    from mqmigrate.inventory.readers import read_estate
    from mqmigrate.playbooks.plan import from_estate, plan

    sources = ALL[file_name]
    estate = read_estate([str(ROOT / s) for s in sources])
    assessment = from_estate(estate, KafkaCapabilities(), origin=", ".join(sources))
    result = plan(assessment, name=file_name.removesuffix(".yaml"), bootstrap="kafka.internal:9092")
    return result.files[0].playbook


def rabbitmq_work_queue():
    """The RabbitMQ work queue example (DLX, TTL, 45 s consumer timeout) as a Playbook."""
    return build("rabbitmq-work-queue.yaml")


def regenerate(out_dir: Path = EXAMPLES) -> int:
    """Run ``plan`` for every example from the repository root; the worst exit code."""
    from mqmigrate.cli import main

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return max(main(plan_args(name, out_dir)) for name in sorted(ALL))
    finally:
        os.chdir(cwd)


if __name__ == "__main__":
    raise SystemExit(regenerate())
