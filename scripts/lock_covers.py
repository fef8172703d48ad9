"""Exit 1 when requirements/ci.lock does not satisfy pyproject.toml: a dependency of the
package or of its `dev` extra is missing from the lock or pinned outside its range (run
scripts/lock.sh).  Offline, for scripts/check.sh."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

root = Path(__file__).resolve().parent.parent
project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
pins = {
    canonicalize_name(m[1]): m[2]
    for m in re.finditer(
        r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s\\;]+)",
        (root / "requirements/ci.lock").read_text(),
        re.M,
    )
}
problems = []
for text in wanted:
    req = Requirement(text)
    pinned = pins.get(canonicalize_name(req.name))
    if pinned is None:
        problems.append(f"{req.name} is not in the lock")
    elif not req.specifier.contains(pinned, prereleases=True):
        problems.append(f"{req.name}=={pinned} is outside {req.specifier}")
if problems:
    print("requirements/ci.lock is stale (run ./scripts/lock.sh): " + "; ".join(problems))
    sys.exit(1)
print(f"{len(wanted)} requirements pinned in range")
