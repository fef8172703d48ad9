"""``--kafka-config FILE``: the one option every command that talks to Kafka shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from mqmigrate.kafka.config import ENV_VAR, KafkaConfig, load_kafka_config

KAFKA_CONFIG_HELP = (
    "Kafka client properties file (librdkafka/Java 'key=value', e.g. the client.properties "
    "Confluent Cloud hands out): security.protocol, sasl.*, ssl.*. Default: "
    f"${ENV_VAR}, then the playbook's kafka.credentials. Values may be ${{env:NAME}} or "
    "${file:PATH} so no secret is written in it; --kafka overrides its bootstrap.servers. "
    "See docs/security.md."
)

#: the option, declared once; use as ``kafka_config: KafkaConfigFile = None``
KafkaConfigFile = Annotated[
    Optional[Path],
    typer.Option("--kafka-config", metavar="FILE", help=KAFKA_CONFIG_HELP, show_default=False),
]


def resolve_kafka(
    kafka: Optional[str],
    kafka_config: Optional[Path],
    *,
    playbook: Any = None,
    playbook_file: Optional[Path] = None,
    required: bool = True,
) -> KafkaConfig:
    """The command's KafkaConfig from ``--kafka``, ``--kafka-config`` / the environment and the
    playbook's ``kafka`` section (relative credential files: from the playbook's directory)."""
    section = getattr(playbook, "kafka", None) if playbook is not None else None
    base_dir = Path(playbook_file).resolve().parent if playbook_file is not None else None
    return load_kafka_config(
        kafka, kafka_config, playbook_section=section, base_dir=base_dir, required=required
    )
