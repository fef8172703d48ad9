"""The example playbooks in ``playbooks/`` are exactly what their specs build, and valid.

Regenerate with ``PYTHONPATH=. python -m tests.unit.test_playbook_examples``.
"""

from __future__ import annotations

import pytest

from mqmigrate.playbooks import loader
from mqmigrate.playbooks.render import render
from tests.playbook_examples import ALL, EXAMPLES


@pytest.mark.parametrize("name", sorted(ALL))
def test_example_is_reproducible_and_valid(name):
    path = EXAMPLES / name
    expected = render(ALL[name]())
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path} is stale; regenerate with: PYTHONPATH=. python -m tests.unit.test_playbook_examples")
    assert loader.check_file(path) == []


if __name__ == "__main__":
    for file_name, build in ALL.items():
        (EXAMPLES / file_name).write_text(render(build()), encoding="utf-8")
        print(f"wrote {EXAMPLES / file_name}")
