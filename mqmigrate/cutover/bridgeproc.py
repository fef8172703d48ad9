"""The bridge as a managed background process of ``cutover``.

``bridge.start`` spawns ``python -m mqmigrate.cutover.bridgeproc SPEC`` in its own session (a
Ctrl-C on ``cutover`` must not stop a shadow copy that outlives the run) and records it in a pid
file in the run directory next to the playbook (``<playbook>.cutover/<workload>.bridge.pid.json``).
The source URI reaches the child in its environment, never on its command line (``ps`` shows
command lines to everyone) nor in the spec or pid file.  The Kafka connection configuration
reaches it by reference: the spec holds the bootstrap servers and the path of the properties
file (whose secrets are ``${env:}``/``${file:}`` references or the file's own content).

The child writes ``<workload>.bridge.out.json`` when it ends: its exit code and the bridge's
summary, so a later ``cutover`` (not the parent) can tell a clean drain from a failure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from mqmigrate.errors import CutoverError
from mqmigrate.playbooks.state import atomic_write

#: environment variable the child reads the source URI from
URI_ENV = "MQMIGRATE_CUTOVER_SOURCE_URI"
_MARKER = "mqmigrate.cutover.bridgeproc"

#: children this process spawned, so their exit status is reaped (no zombie looks alive)
_children: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class BridgeInfo:
    """A managed bridge as its pid file records it."""

    pid: int
    port: int
    mode: str
    started_at: str

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"


def _files(run_dir: Path, workload: str) -> dict[str, Path]:
    stem = run_dir / f"{workload}.bridge"
    return {
        "pid": Path(f"{stem}.pid.json"),
        "spec": Path(f"{stem}.spec.json"),
        "log": Path(f"{stem}.log"),
        "out": Path(f"{stem}.out.json"),
    }


def ledger_path(run_dir: Path, workload: str) -> Path:
    """The verify ledger every bridge of ``workload`` appends to (shadow copies and drains)."""
    return run_dir / f"{workload}.ledger.jsonl"


def _alive(pid: int) -> bool:
    """True while ``pid`` runs and is one of our bridge launchers (a reused pid is not)."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return _MARKER in cmdline and state not in ("Z", "X")


def running(run_dir: Path, workload: str) -> BridgeInfo | None:
    """The workload's managed bridge if it is running (a stale pid file is removed)."""
    pid_file = _files(run_dir, workload)["pid"]
    try:
        raw = json.loads(pid_file.read_text())
        info = BridgeInfo(
            int(raw["pid"]), int(raw["port"]), str(raw["mode"]), str(raw["started_at"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if _alive(info.pid):
        return info
    pid_file.unlink(missing_ok=True)
    return None


def last_exit(run_dir: Path, workload: str) -> dict[str, Any] | None:
    """What the workload's last bridge wrote when it ended (exit code, mode, summary)."""
    try:
        return json.loads(_files(run_dir, workload)["out"].read_text())
    except (OSError, ValueError):
        return None


def spec_of(run_dir: Path, workload: str) -> dict[str, Any]:
    """The spec the workload's last bridge was started with (empty when none was)."""
    try:
        return json.loads(_files(run_dir, workload)["spec"].read_text())
    except (OSError, ValueError):
        return {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def start(
    run_dir: Path,
    workload: str,
    *,
    uri: str,
    queue: str,
    kafka: Any,
    topic: str,
    mode: str,
    key: str = "auto",
    idle_exit: float | None = None,
    effectively_once: bool = False,
    management_url: str | None = None,
    ready_timeout: float = 30.0,
) -> tuple[BridgeInfo, bool]:
    """Start the workload's bridge in ``mode``; ``(info, started)``.

    Idempotent: a bridge of this workload already running in ``mode`` is kept
    (``started`` False); one running in another mode is an error (stop it first).  ``kafka``
    is a KafkaConfig (read from a file, so the child can read it too) or bootstrap servers.
    """
    kafka_ref = _kafka_reference(kafka)
    current = running(run_dir, workload)
    if current is not None:
        if current.mode == mode:
            return current, False
        raise CutoverError(
            f"workload '{workload}': a {current.mode} bridge is running "
            f"(pid {current.pid}); cannot start a {mode} bridge",
            hint="the playbook should stop it first (bridge.stop)",
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    files = _files(run_dir, workload)
    files["out"].unlink(missing_ok=True)
    port = _free_port()
    spec = {
        "workload": workload,
        "queue": queue,
        **kafka_ref,
        "topic": topic,
        "mode": mode,
        "key_from": key,
        "idle_exit": idle_exit,
        "effectively_once": effectively_once,
        "metrics_port": port,
        "management_url": management_url,
        "out": str(files["out"]),
        "ledger": str(ledger_path(run_dir, workload)),
    }
    atomic_write(files["spec"], json.dumps(spec, indent=2) + "\n")
    env = {**os.environ, URI_ENV: uri}
    with open(files["log"], "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", _MARKER, str(files["spec"])],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _children[child.pid] = child
    info = BridgeInfo(child.pid, port, mode, datetime.now(timezone.utc).isoformat())
    atomic_write(files["pid"], json.dumps(info.__dict__, indent=2) + "\n")
    _wait_ready(child, info, files, ready_timeout)
    return info, True


def _kafka_reference(kafka: Any) -> dict[str, str | None]:
    """``{"kafka": servers, "kafka_config": path or None}`` for the spec: never a secret."""
    from mqmigrate.kafka.config import as_kafka_config

    config = as_kafka_config(kafka)
    extra = {k for k in config.properties if k != "bootstrap.servers"}
    if extra and config.path is None:
        raise CutoverError(
            "the bridge cutover starts needs the Kafka configuration as a file",
            hint="give --kafka-config FILE (or the playbook's kafka.credentials)",
        )
    return {
        "kafka": config.bootstrap,
        "kafka_config": str(config.path) if config.path is not None else None,
    }


def _wait_ready(
    child: subprocess.Popen, info: BridgeInfo, files: dict[str, Path], timeout: float
) -> None:
    """Wait until the bridge serves /healthz; a bridge that exits first is an error."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            files["pid"].unlink(missing_ok=True)
            if child.returncode == 0 and info.mode == "drain":
                return  # a drain of an empty source may end before the first probe
            raise CutoverError(
                f"the bridge exited at once (exit {child.returncode}): "
                f"{_log_tail(files['log']) or 'see ' + str(files['log'])}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{info.port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_pid(info.pid, 10)
    files["pid"].unlink(missing_ok=True)
    raise CutoverError(
        f"the bridge did not come up within {timeout:.0f} s", hint=f"see {files['log']}"
    )


def stop_pid(pid: int, timeout: float) -> None:
    """SIGTERM (the bridge settles what Kafka acknowledged), then SIGKILL after ``timeout``;
    nothing is lost either way: unsettled messages stay in the source."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        end = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < end:
            time.sleep(0.05)


def stop(run_dir: Path, workload: str, timeout: float = 60.0) -> BridgeInfo | None:
    """Stop the workload's bridge; the one stopped, or None when none was running."""
    info = running(run_dir, workload)
    if info is None:
        return None
    stop_pid(info.pid, timeout)
    _files(run_dir, workload)["pid"].unlink(missing_ok=True)
    return info


def wait_exit(
    run_dir: Path, workload: str, timeout: float, should_stop: Callable[[], bool] = lambda: False
) -> bool:
    """Wait until the workload's bridge has exited; False on timeout or when asked to stop."""
    deadline = time.monotonic() + timeout
    while running(run_dir, workload) is not None:
        if should_stop() or time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _main(spec_path: str) -> int:
    """The child: run one bridge from a spec file, record how it ended."""
    from mqmigrate.bridge.run import BridgeOptions, run_bridge
    from mqmigrate.errors import ExitCode, MqMigrateError
    from mqmigrate.kafka.config import KafkaConfig, read_config_file
    from mqmigrate.sources.base import BridgeMode

    spec = json.loads(Path(spec_path).read_text())
    code, summary = int(ExitCode.USAGE), {}
    try:
        path = spec.get("kafka_config")
        kafka = (read_config_file(Path(path)) if path else KafkaConfig()).with_bootstrap(
            spec["kafka"]
        )
        opts = BridgeOptions(
            source=os.environ[URI_ENV],
            queue=spec["queue"],
            kafka=kafka,
            topic=spec["topic"],
            mode=BridgeMode(spec["mode"]),
            key_from=spec["key_from"],
            idle_exit=spec["idle_exit"],
            effectively_once=spec["effectively_once"],
            metrics_port=spec["metrics_port"],
            create_topics=True,
            log_format="json",
            verify_ledger=spec.get("ledger"),
            **({"management_url": spec["management_url"]} if spec.get("management_url") else {}),
        )
        exit_code, summary = run_bridge(opts)
        code = int(exit_code)
    except MqMigrateError as exc:
        sys.stderr.write(f"Error: {exc.one_line()}\n")
        summary = {"error": exc.one_line()}
        code = int(exc.exit_code)
    atomic_write(
        spec["out"],
        json.dumps(
            {
                "exit": code,
                "mode": spec["mode"],
                "ended_at": datetime.now(timezone.utc).isoformat(),
                "summary": summary,
            },
            default=str,
        )
        + "\n",
    )
    return code


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
