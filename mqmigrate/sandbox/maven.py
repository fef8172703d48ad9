"""Fetching broker jars from Maven Central with the machine's ``mvn``.

Maven's own local repository (``~/.m2``) caches every download, so a second ``sandbox up`` on
the same machine, or CI with a warm cache, fetches nothing.  The resolved jars are copied into
``<cache>/<name>/libs`` and marked complete only after the copy succeeded.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import escape

from mqmigrate.errors import PrerequisiteError, SandboxError

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mqmigrate.sandbox</groupId>
  <artifactId>{artifact}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise PrerequisiteError(
            "Maven (mvn) is needed to fetch broker jars from Maven Central",
            hint="apt-get install maven",
        )
    return mvn


def _dependency_xml(coordinate: str) -> str:
    parts = coordinate.split(":")
    if len(parts) < 3:
        raise ValueError(f"bad Maven coordinate {coordinate!r}")
    group, artifact, version = parts[:3]
    extra = ""
    if len(parts) > 3:
        extra += f"<type>{escape(parts[3])}</type>"
    if len(parts) > 4:
        extra += f"<classifier>{escape(parts[4])}</classifier>"
    return (
        f"    <dependency><groupId>{escape(group)}</groupId><artifactId>{escape(artifact)}"
        f"</artifactId><version>{escape(version)}</version>{extra}</dependency>"
    )


def _run(args: Sequence[str], cwd: Path, what: str) -> None:
    proc = subprocess.run([_mvn(), "-B", "-q", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stdout + proc.stderr).strip().splitlines()
        errors = [line for line in detail if "ERROR" in line] or detail[-3:]
        raise SandboxError(
            f"could not fetch {what} from Maven Central: {' '.join(errors[:2])[:300]}",
            hint="check network access to Maven Central and ~/.m2/settings.xml",
        )


def classpath(cache_dir: Path, name: str, coordinates: Sequence[str]) -> Path:
    """Resolve ``coordinates`` with their runtime dependencies into ``<cache>/<name>/libs``."""
    home = cache_dir / name
    libs = home / "libs"
    marker = home / ".complete"
    if marker.exists() and libs.is_dir():
        return libs
    home.mkdir(parents=True, exist_ok=True)
    deps = "\n".join(_dependency_xml(c) for c in coordinates)
    (home / "pom.xml").write_text(_POM.format(artifact=name, dependencies=deps))
    shutil.rmtree(libs, ignore_errors=True)
    _run(
        ["dependency:copy-dependencies", f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
        home,
        name,
    )
    marker.write_text("\n".join(coordinates) + "\n")
    return libs


def artifact(cache_dir: Path, name: str, coordinate: str) -> Path:
    """Fetch one artifact (e.g. a ``tar.gz`` distribution) without dependencies."""
    home = cache_dir / name
    out = home / "artifact"
    marker = home / ".complete"
    if marker.exists():
        files = [p for p in out.iterdir() if p.is_file()] if out.is_dir() else []
        if files:
            return files[0]
    home.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out, ignore_errors=True)
    (home / "pom.xml").write_text(_POM.format(artifact=name, dependencies=""))
    _run(
        [
            "dependency:copy",
            f"-Dartifact={coordinate}",
            f"-DoutputDirectory={out}",
            "-Dmdep.overWriteIfNewer=true",
        ],
        home,
        coordinate,
    )
    files = [p for p in out.iterdir() if p.is_file()]
    if not files:
        raise SandboxError(f"Maven reported success but {coordinate} is not in {out}")
    marker.write_text(coordinate + "\n")
    return files[0]
