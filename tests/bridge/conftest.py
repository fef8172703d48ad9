"""The bridge tests' collection rule: a scenario marked ``needs("name", ...)`` runs only on
the ``Test*`` classes whose data ``name`` is set (e.g. ``crash_campaign`` in
test_bridge_scenarios.py); on the others it is deselected, not skipped, since the adapter or
broker has nothing to run it on or it is run once per source kind elsewhere."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("needs")
        cls = getattr(item, "cls", None)
        if marker is None or all(getattr(cls, name, None) for name in marker.args):
            kept.append(item)
        else:
            deselected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
