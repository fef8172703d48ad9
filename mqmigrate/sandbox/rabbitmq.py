"""RabbitMQ from the machine's Debian package, as a private node with the management and
AMQP 1.0 plugins.

The package's ``/usr/sbin`` wrappers switch to the ``rabbitmq`` user and read ``/etc/rabbitmq``;
the sandbox instead runs the scripts in ``/usr/lib/rabbitmq/bin`` directly and points every
path RabbitMQ 3.10 reads from the environment (config, env file, plugins file, Mnesia, logs,
Erlang cookie via ``HOME``) into the service's state directory, so it never touches a system
RabbitMQ's data.  Every listener, epmd included, binds to 127.0.0.1.

epmd is started by the Erlang VM as a daemon outside the node's process group, so stopping
the node leaves it behind; ``stop`` ends it too, but only when the sandbox found the epmd port
free at start (it is then ours) and no other Erlang node is still registered with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from mqmigrate.errors import PrerequisiteError, SandboxError
from mqmigrate.sandbox import rabbitmq_secured, tls
from mqmigrate.sandbox.amqp_probe import check_amqp_091
from mqmigrate.sandbox.base import Endpoint, SandboxContext, Service, port_in_use

#: the scripts behind the Debian package's ``/usr/sbin`` wrappers (which would ``su rabbitmq``)
RABBITMQ_SBIN = Path(os.environ.get("MQMIGRATE_RABBITMQ_SBIN", "/usr/lib/rabbitmq/bin"))
NODE_NAME = "mqmigrate@localhost"
PLUGINS = ("rabbitmq_management", "rabbitmq_amqp1_0")
#: sandbox credentials; the password is documented in docs/sandbox.md and never printed
USER = "guest"
_PASSWORD = "guest"


def render_config(amqp_port: int, management_port: int) -> str:
    """The ``rabbitmq.conf`` of the sandbox node (new-style sysctl format)."""
    return (
        "# written by mqmigrate sandbox; rewritten on every start\n"
        f"listeners.tcp.default = 127.0.0.1:{amqp_port}\n"
        "management.tcp.ip = 127.0.0.1\n"
        f"management.tcp.port = {management_port}\n"
        f"default_user = {USER}\n"
        f"default_pass = {_PASSWORD}\n"
        # guest may only log in from loopback by default, which is all the sandbox serves
        "loopback_users.guest = true\n"
        # a full disk on a laptop should not silently block every publisher in a test
        "disk_free_limit.absolute = 50MB\n"
    )


def render_enabled_plugins(plugins: tuple[str, ...] = PLUGINS) -> str:
    """The ``enabled_plugins`` file: one Erlang list term."""
    return f"[{','.join(plugins)}].\n"


class RabbitMQService(Service):
    name = "rabbitmq"
    default_ports = {
        "amqp": 5672,
        "management": 15672,
        "dist": 25672,
        "epmd": 4369,
        **rabbitmq_secured.SECURED_PORTS,
    }
    start_timeout = 90.0

    def __init__(
        self,
        ctx: SandboxContext,
        *,
        name: str | None = None,
        node_name: str = NODE_NAME,
        secured: bool = True,
    ):
        # a second node (tests that restart RabbitMQ) takes its own service name, hence its
        # own state directory and ports, and its own Erlang node name
        if name:
            self.name = name
        super().__init__(ctx)
        self.node_name = node_name
        #: also open amqps, management over https and x509 EXTERNAL (see rabbitmq_secured)
        self.secured = secured
        if not secured:
            self.default_ports = {"amqp": 5672, "management": 15672, "dist": 25672, "epmd": 4369}

    # -- install ---------------------------------------------------------------------------
    def install(self) -> None:
        if (RABBITMQ_SBIN / "rabbitmq-server").exists():
            return
        if os.geteuid() != 0:
            raise PrerequisiteError(
                "rabbitmq-server is not installed",
                hint="install it as root: sudo apt-get install -y rabbitmq-server",
            )
        self.ctx.log("installing rabbitmq-server with apt-get")
        if not _apt_install("rabbitmq-server"):
            # a fresh machine often has no package lists yet
            _apt(["apt-get", "update"])
            if not _apt_install("rabbitmq-server"):
                raise PrerequisiteError(
                    "apt-get could not install rabbitmq-server",
                    hint="run 'apt-get update && apt-get install -y rabbitmq-server' "
                    "and read its output",
                )
        if not (RABBITMQ_SBIN / "rabbitmq-server").exists():
            raise PrerequisiteError(
                f"rabbitmq-server is installed but {RABBITMQ_SBIN}/rabbitmq-server is missing",
                hint="set MQMIGRATE_RABBITMQ_SBIN to the directory holding rabbitmq-server",
            )

    # -- configuration ---------------------------------------------------------------------
    @property
    def epmd_marker(self) -> Path:
        """Present while the epmd on our epmd port was started by this sandbox."""
        return self.dir / "epmd.ours"

    def env(self) -> dict[str, str]:
        """The environment for ``rabbitmq-server`` and ``rabbitmqctl`` (paths, ports, node)."""
        return {
            # the Erlang cookie lives in $HOME; a private one keeps other nodes out
            "HOME": str(self.dir),
            # an empty env file stops the scripts from reading /etc/rabbitmq/rabbitmq-env.conf
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.dir / "plugins-expand"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port("amqp")),
            "RABBITMQ_DIST_PORT": str(self.port("dist")),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_PORT": str(self.port("epmd")),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _write_config(self) -> None:
        (self.dir / "rabbitmq-env.conf").write_text(
            "# intentionally empty: see mqmigrate.sandbox.rabbitmq\n"
        )
        config = render_config(self.port("amqp"), self.port("management"))
        plugins = PLUGINS
        if self.secured:
            config += rabbitmq_secured.render_tls_config(
                self.port("amqps"),
                self.port("management_tls"),
                tls.ensure_tls(tls.tls_dir(self.ctx.state_dir)),
            )
            plugins += rabbitmq_secured.TLS_PLUGINS
        (self.dir / "rabbitmq.conf").write_text(config)
        (self.dir / "enabled_plugins").write_text(render_enabled_plugins(plugins))
        (self.dir / "log").mkdir(exist_ok=True)
        (self.dir / "mnesia").mkdir(exist_ok=True)

    # -- run -------------------------------------------------------------------------------
    def check_ports_free(self) -> None:
        # epmd is shared by design: one that already answers on our epmd port is reused
        if self._epmd_names() is not None:
            others = {k: v for k, v in self.all_ports().items() if k != "epmd"}
            for key, port in others.items():
                if port_in_use(port):
                    raise PrerequisiteError(
                        f"port {port} ({self.name} {key}) is in use by another process",
                        hint=f"stop that process or choose another port: "
                        f"mqmigrate sandbox up --port {self.name}.{key}=<free port>",
                    )
            return
        super().check_ports_free()

    def start(self) -> None:
        self._write_config()
        # a free epmd port means the VM will start an epmd that is ours to stop later; an
        # epmd already there is either a foreign one or ours left by a node that was killed
        # (the marker from that start is then still present and kept)
        if not port_in_use(self.port("epmd")):
            self.epmd_marker.write_text(str(self.port("epmd")))
        # the trailing user flag is ignored by RabbitMQ; it puts our state directory on the
        # command line so that pid() recognises the process as ours
        self.spawn(
            self.command("rabbitmq-server", "-mqmigrate_sandbox_dir", str(self.dir)), env=self.env()
        )

    def command(self, script: str, *args: str) -> list[str]:
        """The argv that runs one of RabbitMQ's scripts (``rabbitmq-server``, ``rabbitmqctl``)."""
        return [str(RABBITMQ_SBIN / script), *args]

    def probe(self) -> str:
        import httpx

        response = httpx.get(
            f"{self.management_url}api/overview", auth=(USER, _PASSWORD), timeout=3.0
        )
        response.raise_for_status()
        version = response.json()["rabbitmq_version"]
        check_amqp_091(self.port("amqp"))
        if self.secured:
            self._probe_tls()
        return version

    # -- TLS listeners (mqmigrate.sandbox.rabbitmq_secured) ----------------------------------
    @property
    def tls_files(self) -> tls.TlsFiles:
        """The sandbox CA and certificates (made by ``start``)."""
        return tls.TlsFiles(tls.tls_dir(self.ctx.state_dir))

    def _probe_tls(self) -> None:
        import ssl

        import httpx

        # management over https, verified against the sandbox CA
        verify = ssl.create_default_context(cafile=str(self.tls_files.ca_cert))
        response = httpx.get(
            f"{self.management_tls_url}api/overview",
            auth=(USER, _PASSWORD),
            timeout=3.0,
            verify=verify,
        )
        response.raise_for_status()
        tls.probe_tls_listener(self.name, f"127.0.0.1:{self.port('amqps')}", self.tls_files)

    def after_healthy(self) -> None:
        """Create the user x509 EXTERNAL logins map to (no password, all of vhost ``/``)."""
        if not self.secured:
            return
        user = rabbitmq_secured.EXTERNAL_USER
        listed = self.rabbitmqctl("list_users", "--quiet", "--no-table-headers")
        if user not in {line.split("\t")[0].strip() for line in listed.splitlines()}:
            # a blank password disables password logins for the user (no secret to keep)
            self.rabbitmqctl("add_user", user, "")
        for args in rabbitmq_secured.external_user_commands():
            self.rabbitmqctl(*args)

    def stop(self, timeout: float = 30.0) -> bool:
        stopped = super().stop(timeout)
        self._stop_own_epmd()
        return stopped

    def _epmd(self) -> list[str] | None:
        """The command that runs ``epmd`` (a node in a chroot runs the chroot's)."""
        epmd = shutil.which("epmd") or next(
            (str(p) for p in Path("/usr/lib/erlang").glob("erts-*/bin/epmd")), None
        )
        return [epmd] if epmd else None

    def _epmd_names(self) -> list[str] | None:
        """Node names registered with the epmd on our port; None when no epmd answers."""
        epmd = self._epmd()
        if not epmd:
            return None
        proc = subprocess.run(
            [*epmd, "-port", str(self.port("epmd")), "-names"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if proc.returncode != 0 or "up and running" not in proc.stdout:
            return None
        return [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("name ")]

    def _stop_own_epmd(self) -> None:
        if not self.epmd_marker.exists():
            return
        names = self._epmd_names()
        if names:  # another node still uses it
            return
        epmd = self._epmd()
        if names is not None and epmd:
            subprocess.run(
                [*epmd, "-port", str(self.port("epmd")), "-kill"],
                capture_output=True,
                timeout=10,
            )
        self.epmd_marker.unlink(missing_ok=True)

    def rabbitmqctl(self, *args: str, timeout: float = 60) -> str:
        """Run ``rabbitmqctl`` against the sandbox node; return its stdout."""
        proc = subprocess.run(
            self.command("rabbitmqctl", *args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self.env()},
        )
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()[-300:]
            raise SandboxError(
                f"rabbitmqctl {' '.join(args)} failed: {detail}",
                hint=f"see {self.log_file}",
            )
        return proc.stdout

    # -- addresses -------------------------------------------------------------------------
    @property
    def amqp_url(self) -> str:
        return f"amqp://127.0.0.1:{self.port('amqp')}/"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.port('management')}/"

    @property
    def amqps_url(self) -> str:
        return f"amqps://127.0.0.1:{self.port('amqps')}/"

    @property
    def management_tls_url(self) -> str:
        return f"https://127.0.0.1:{self.port('management_tls')}/"

    def credentials(self) -> tuple[str, str]:
        """User and password for drivers and tests (never printed)."""
        return USER, _PASSWORD

    def endpoints(self) -> list[Endpoint]:
        endpoints = [
            Endpoint("amqp", self.amqp_url, f"AMQP 0-9-1 and AMQP 1.0; user {USER}"),
            Endpoint("management", self.management_url, f"HTTP API and UI; user {USER}"),
        ]
        if self.secured:
            ca = self.tls_files.ca_cert
            endpoints += [
                Endpoint(
                    "amqps",
                    self.amqps_url,
                    f"AMQP 0-9-1 and 1.0 over TLS (CA {ca}); user {USER}, or x509 "
                    f"EXTERNAL as {rabbitmq_secured.EXTERNAL_USER}",
                ),
                Endpoint(
                    "management_tls",
                    self.management_tls_url,
                    f"HTTP API and UI over TLS (CA {ca}); user {USER}",
                ),
            ]
        return endpoints


def _apt(argv: list[str]) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(argv, capture_output=True, env=env).returncode == 0


def _apt_install(package: str) -> bool:
    # Debian's postinst would start a system RabbitMQ on the sandbox's ports; a temporary
    # policy-rc.d (the documented Debian switch) forbids service starts during the install
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text(
            "#!/bin/sh\n# written by mqmigrate sandbox during apt-get install\nexit 101\n"
        )
        policy.chmod(0o755)
    try:
        return _apt(["apt-get", "install", "-y", "--no-install-recommends", package])
    finally:
        if ours:
            policy.unlink(missing_ok=True)
