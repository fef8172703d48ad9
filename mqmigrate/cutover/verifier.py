"""``cutover``'s verify: a workload's bridge ledger reconciled with its topic.

The hook lives here, above :mod:`mqmigrate.verify`, because it reads cutover's run layout
(:func:`mqmigrate.cutover.bridgeproc.ledger_path`) and answers cutover's
:class:`~mqmigrate.cutover.probes.VerifyCounts`; the CLI and the demo build one and pass it to
:class:`~mqmigrate.cutover.runner.Cutover`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from mqmigrate.cutover.bridgeproc import ledger_path
from mqmigrate.cutover.probes import VerifyCounts
from mqmigrate.errors import CutoverError
from mqmigrate.playbooks.model import Workload
from mqmigrate.verify import read_topic, reconcile
from mqmigrate.verify.ledger import read_ledger


class CutoverVerifier:
    """The counts the ``verify.run`` step and the ``verify.*`` gates read.

    The runner binds it to its run directory (where ``bridge.start`` has the bridges append
    to ``<workload>.ledger.jsonl``) and to the cluster; ``verify(workload)`` then reconciles.
    """

    def __init__(self) -> None:
        self.run_dir: Optional[Path] = None
        self.bootstrap: Any = None  # a KafkaConfig or plaintext bootstrap servers

    def bind(self, *, run_dir: Path, bootstrap: Any) -> None:
        """Where the bridges of this run keep their ledgers, and the Kafka cluster."""
        self.run_dir = Path(run_dir)
        self.bootstrap = bootstrap

    def verify(self, workload: Workload) -> VerifyCounts:
        """Reconcile ``workload``'s verify ledger with its topic."""
        if self.run_dir is None or not self.bootstrap:
            raise CutoverError(
                "verify needs the cutover run directory and a Kafka cluster",
                hint="pass --kafka HOST:PORT or set kafka.bootstrap",
            )
        path = ledger_path(self.run_dir, workload.id)
        if not path.exists():
            raise CutoverError(
                f"workload '{workload.id}' has no verify ledger at {path}",
                hint="the shadow phase's bridge.start writes it; run it first",
            )
        # the ledger first: a bridge appends an id only after Kafka acknowledged its record, so
        # every id read now is below the end offsets read_topic takes next; read the other way
        # round, a live bridge's newest ids would count as missing
        settled = list(read_ledger(path))
        report = reconcile(settled, read_topic(self.bootstrap, workload.target.topic))
        return VerifyCounts(
            missing=len(report.missing),
            altered=len(report.altered),
            duplicated=report.duplicate_copies,
            detail=f"{report.source_count} settled by the bridge, {report.kafka_count} records "
            f"in {workload.target.topic}",
        )
