"""The example playbooks in ``playbooks/`` are exactly what ``mqmigrate plan`` writes for the
estates in ``tests/data/plan/``, and they validate.

Regenerate with ``PYTHONPATH=. python -m tests.playbook_examples``.
"""

from __future__ import annotations

import pytest

from mqmigrate.cli import main
from mqmigrate.playbooks import loader
from tests.playbook_examples import ALL, EXAMPLES, ROOT, plan_args


@pytest.mark.parametrize("name", sorted(ALL))
def test_example_is_what_plan_writes_and_valid(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(plan_args(name, tmp_path)) == 0
    generated = (tmp_path / name).read_text(encoding="utf-8")
    committed = (EXAMPLES / name).read_text(encoding="utf-8")
    assert generated == committed, (
        f"{EXAMPLES / name} is stale; regenerate with: PYTHONPATH=. python -m tests.playbook_examples"
    )
    assert loader.check_file(EXAMPLES / name) == []
    # a second run over the same estate rewrites nothing
    capsys.readouterr()
    assert main(plan_args(name, tmp_path)) == 0
    assert capsys.readouterr().out.startswith("unchanged")


def test_every_committed_playbook_is_an_example():
    """No stale hand-written file lingers in playbooks/ next to the generated ones."""
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(ALL)


def test_examples_validate_with_the_cli(capsys):
    files = [str(EXAMPLES / name) for name in sorted(ALL)]
    assert main(["playbook", "validate", *files]) == 0
    assert f"{len(files)} valid, 0 invalid" in capsys.readouterr().err
