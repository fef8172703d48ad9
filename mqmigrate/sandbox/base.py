"""The contract every sandbox service implements, and the process plumbing they share.

A service is a real broker run from this machine's packages or from Maven Central jars, with
its data, logs and pid file under one state directory.  ``down`` stops only processes whose
pid file the sandbox wrote *and* whose command line still carries the state directory, so a
recycled pid or a broker the user started by hand is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from mqmigrate.errors import PrerequisiteError, SandboxError


def _default_state_dir() -> Path:
    env = os.environ.get("MQMIGRATE_SANDBOX_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "mqmigrate" / "sandbox"


def _default_cache_dir() -> Path:
    env = os.environ.get("MQMIGRATE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mqmigrate"


@dataclass(frozen=True)
class Endpoint:
    """One address a user or a test connects to."""

    name: str
    url: str
    note: str = ""


@dataclass
class ServiceStatus:
    name: str
    state: str  # running | stopped | unhealthy
    pid: int | None = None
    version: str | None = None
    endpoints: list[Endpoint] = field(default_factory=list)
    detail: str = ""

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "state": self.state,
            "pid": self.pid,
            "version": self.version,
            "endpoints": {e.name: e.url for e in self.endpoints},
            "detail": self.detail,
        }


@dataclass
class SandboxContext:
    """Where the sandbox keeps its state and downloads, and which ports it uses."""

    state_dir: Path = field(default_factory=_default_state_dir)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    ports: dict[str, int] = field(default_factory=dict)
    log: Callable[[str], None] = lambda message: None

    def service_dir(self, name: str) -> Path:
        path = self.state_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


class Service(ABC):
    """A broker the sandbox can install, start, health-check and stop."""

    #: stable name used for ports (``--port NAME.KEY=N``), directories and status rows
    name: str
    #: default ports, by key; the user overrides them with ``--port NAME.KEY=N``
    default_ports: Mapping[str, int] = {}
    #: seconds ``wait_healthy`` waits after start
    start_timeout: float = 90.0

    def __init__(self, ctx: SandboxContext):
        self.ctx = ctx

    # -- ports -----------------------------------------------------------------------------
    def port(self, key: str) -> int:
        return int(self.ctx.ports.get(f"{self.name}.{key}", self.default_ports[key]))

    def all_ports(self) -> dict[str, int]:
        return {key: self.port(key) for key in self.default_ports}

    # -- what each service implements -------------------------------------------------------
    @abstractmethod
    def install(self) -> None:
        """Make the binaries available (idempotent; downloads are cached)."""

    @abstractmethod
    def start(self) -> None:
        """Start the process in the background (called only when it is not running)."""

    @abstractmethod
    def probe(self) -> str:
        """Make a real request; return the broker version, raise on failure."""

    @abstractmethod
    def endpoints(self) -> list[Endpoint]:
        """Addresses to print (never with passwords)."""

    def after_healthy(self) -> None:
        """One-time set-up once the broker answers (users, features, plugins)."""

    # -- shared plumbing ---------------------------------------------------------------------
    @property
    def dir(self) -> Path:
        return self.ctx.service_dir(self.name)

    @property
    def pid_file(self) -> Path:
        return self.dir / "pid"

    @property
    def log_file(self) -> Path:
        return self.dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of our running process, or None (stale pid files are ignored)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = (
                Path(f"/proc/{pid}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode("utf-8", "replace")
            )
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        # a zombie has exited; "ours" means the command line names our state directory
        if ") Z " in stat or str(self.dir) not in cmdline:
            return None
        return pid

    def _spawned_pid_exited(self) -> bool:
        # only liveness here: right after exec a JVM's /proc cmdline can be briefly empty
        try:
            return not _alive(int(self.pid_file.read_text().strip()))
        except (OSError, ValueError):
            return False

    def is_running(self) -> bool:
        return self.pid() is not None

    def check_ports_free(self) -> None:
        for key, port in self.all_ports().items():
            if port_in_use(port):
                raise PrerequisiteError(
                    f"port {port} ({self.name} {key}) is in use by another process",
                    hint=f"stop that process or choose another port: "
                    f"mqmigrate sandbox up --port {self.name}.{key}=<free port>",
                )

    def spawn(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Start ``argv`` detached in its own session, logging to the service's log file.

        ``argv`` must mention ``self.dir`` (a config path, a data dir) so that :meth:`pid`
        can recognise the process as ours.
        """
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(cwd or self.dir),
                env=full_env,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def wait_healthy(self) -> str:
        """Poll :meth:`probe` until it succeeds; raise with the log's tail when it never does."""
        deadline = time.monotonic() + self.start_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._spawned_pid_exited():
                raise SandboxError(
                    f"{self.name} exited during start-up: {self.log_tail()}",
                    hint=f"see {self.log_file}",
                )
            try:
                return self.probe()
            except Exception as exc:  # any failure means "not yet"
                last = exc
                time.sleep(0.5)
        raise SandboxError(
            f"{self.name} did not answer within {self.start_timeout:.0f}s ({last})",
            hint=f"see {self.log_file}",
        )

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop our process group: SIGTERM, then SIGKILL after ``timeout``. True if stopped."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> ServiceStatus:
        pid = self.pid()
        if pid is None:
            return ServiceStatus(self.name, "stopped", endpoints=self.endpoints())
        try:
            version = self.probe()
        except Exception as exc:
            return ServiceStatus(
                self.name, "unhealthy", pid, endpoints=self.endpoints(), detail=str(exc)[:200]
            )
        return ServiceStatus(self.name, "running", pid, version, self.endpoints())

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in text[-lines:])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return ") Z " not in stat


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_java(minimum: int = 17) -> str:
    """Return the ``java`` executable, or raise naming how to install it."""
    java = os.environ.get("JAVA_HOME") and str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    if not java or not Path(java).exists():
        java = shutil.which("java")
    if not java:
        raise PrerequisiteError(
            "no Java runtime found",
            hint=f"install Java {minimum}+ (apt-get install openjdk-17-jre-headless)",
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    major = _java_major(out)
    if major is not None and major < minimum:
        raise PrerequisiteError(
            f"Java {major} found at {java}, {minimum}+ is needed",
            hint=f"install Java {minimum}+ or set JAVA_HOME to one",
        )
    return java


def _java_major(version_output: str) -> int | None:
    import re

    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
