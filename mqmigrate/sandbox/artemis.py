"""Apache ActiveMQ Artemis, the sandbox's AMQP 1.0 broker of a second vendor.

The binary distribution comes from Maven Central (``apache-artemis:<v>:tar.gz:bin``) and is
unpacked once into the cache.  ``artemis create`` makes a broker instance under the service's
state directory with a single all-protocols acceptor (AMQP 1.0, CORE, OpenWire, STOMP, MQTT)
and the web console, both on 127.0.0.1.  The per-protocol acceptors of a default instance are
left out: the ``amqp`` one would take 5672, RabbitMQ's port.

Ports are (re)written into ``broker.xml`` and ``bootstrap.xml`` on every start, so
``--port artemis.acceptor=N`` works on an instance created earlier with other ports.  The
TLS acceptor and the https console binding (``artemis_secured``) are added at the same time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from mqmigrate.errors import SandboxError
from mqmigrate.sandbox import artemis_secured, maven, tls
from mqmigrate.sandbox.amqp_probe import check_amqp_10
from mqmigrate.sandbox.base import Endpoint, SandboxContext, Service, require_java

ARTEMIS_VERSION = os.environ.get("MQMIGRATE_ARTEMIS_VERSION", "2.40.0")
BROKER_NAME = "mqmigrate"
#: sandbox credentials; the password is documented in docs/sandbox.md and never printed
USER = "artemis"
_PASSWORD = "artemis"
HEAP = "512M"

_ACCEPTOR = re.compile(r"\s*<acceptor name=\"(?P<name>[^\"]+)\">(?P<url>[^<]*)</acceptor>\n?")
_BINDING_URI = re.compile(r'(<binding name="artemis" uri=")http://[^"/]+(")')


def render_broker_xml(text: str, port: int, host: str = "127.0.0.1") -> str:
    """``broker.xml`` with one acceptor, ``artemis``, on ``host:port``; every other acceptor
    (``amqp`` on 5672, ``stomp``, ``mqtt``, ``hornetq``) removed.

    The ``artemis`` acceptor already speaks every protocol, so nothing is lost.
    """
    found = False

    def replace(match: re.Match) -> str:
        nonlocal found
        if match.group("name") != "artemis":
            return ""
        found = True
        url = re.sub(r"^tcp://[^?]+", f"tcp://{host}:{port}", match.group("url"))
        return match.group(0).replace(match.group("url"), url)

    rendered = _ACCEPTOR.sub(replace, text)
    if not found:
        raise ValueError("broker.xml has no acceptor named 'artemis'")
    return rendered


def render_bootstrap_xml(text: str, port: int, host: str = "127.0.0.1") -> str:
    """``bootstrap.xml`` with the web console (and Jolokia) bound to ``host:port``."""
    rendered, count = _BINDING_URI.subn(rf"\g<1>http://{host}:{port}\g<2>", text)
    if count != 1:
        raise ValueError("bootstrap.xml has no web binding named 'artemis'")
    return rendered


class ArtemisService(Service):
    name = "artemis"
    default_ports = {"acceptor": 61616, "console": 8161, **artemis_secured.SECURED_PORTS}
    start_timeout = 120.0

    def __init__(self, ctx: SandboxContext, *, secured: bool = True):
        super().__init__(ctx)
        #: also open the TLS acceptor and the console over https (see artemis_secured)
        self.secured = secured
        if not secured:
            self.default_ports = {"acceptor": 61616, "console": 8161}

    # -- install ---------------------------------------------------------------------------
    def home(self) -> Path:
        """The unpacked distribution in the cache (fetched and unpacked once)."""
        home = self.ctx.cache_dir / f"artemis-{ARTEMIS_VERSION}"
        marker = home / ".complete"
        if marker.exists():
            return home / f"apache-artemis-{ARTEMIS_VERSION}"
        tarball = maven.artifact(
            self.ctx.cache_dir,
            f"artemis-{ARTEMIS_VERSION}-dist",
            f"org.apache.activemq:apache-artemis:{ARTEMIS_VERSION}:tar.gz:bin",
        )
        # unpack next to the final place, then rename, so a crash never leaves half a tree
        staging = home.with_name(home.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            with tarfile.open(tarball) as archive:
                archive.extractall(staging, filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise SandboxError(
                f"could not unpack {tarball.name}: {exc}",
                hint=f"delete {tarball.parent} and run the command again",
            ) from exc
        staging.rename(home)
        marker.write_text(ARTEMIS_VERSION + "\n")
        return home / f"apache-artemis-{ARTEMIS_VERSION}"

    def install(self) -> None:
        require_java(17)
        home = self.home()
        if not (home / "bin" / "artemis").exists():
            raise SandboxError(
                f"{home} has no bin/artemis",
                hint=f"delete {home.parent} and run the command again",
            )

    # -- instance --------------------------------------------------------------------------
    @property
    def instance(self) -> Path:
        return self.dir / "instance"

    def _create_instance(self) -> None:
        if (self.instance / "etc" / "broker.xml").exists():
            return
        shutil.rmtree(self.instance, ignore_errors=True)
        argv = [
            str(self.home() / "bin" / "artemis"),
            "create",
            str(self.instance),
            "--name",
            BROKER_NAME,
            "--user",
            USER,
            "--password",
            _PASSWORD,
            "--allow-anonymous",
            "--silent",
            "--no-autotune",
            "--nio",
            "--host",
            "127.0.0.1",
            "--http-host",
            "127.0.0.1",
            "--default-port",
            str(self.port("acceptor")),
            "--http-port",
            str(self.port("console")),
            "--no-amqp-acceptor",
            "--no-hornetq-acceptor",
            "--no-mqtt-acceptor",
            "--no-stomp-acceptor",
            "--java-memory",
            HEAP,
        ]
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "JAVA_HOME": _java_home()},
        )
        if proc.returncode != 0:
            shutil.rmtree(self.instance, ignore_errors=True)
            raise SandboxError(
                f"artemis create failed: {(proc.stderr or proc.stdout).strip()[-300:]}",
                hint=f"run {' '.join(argv[:3])} by hand to see why",
            )

    def _write_ports(self) -> None:
        etc = self.instance / "etc"
        broker = etc / "broker.xml"
        broker.write_text(render_broker_xml(broker.read_text(), self.port("acceptor")))
        bootstrap = etc / "bootstrap.xml"
        bootstrap.write_text(render_bootstrap_xml(bootstrap.read_text(), self.port("console")))
        if self.secured:
            self._write_tls()

    # -- TLS (mqmigrate.sandbox.artemis_secured) ---------------------------------------------
    @property
    def tls_files(self) -> tls.TlsFiles:
        """The sandbox CA and certificates (made by ``start``)."""
        return tls.TlsFiles(tls.tls_dir(self.ctx.state_dir))

    def _write_tls(self) -> None:
        files = tls.ensure_tls(tls.tls_dir(self.ctx.state_dir))
        etc = self.instance / "etc"
        broker = etc / "broker.xml"
        broker.write_text(
            artemis_secured.add_tls_acceptor(broker.read_text(), self.port("tls"), files)
        )
        bootstrap = etc / "bootstrap.xml"
        bootstrap.write_text(
            artemis_secured.add_tls_binding(bootstrap.read_text(), self.port("console_tls"), files)
        )
        login = etc / "login.config"
        login.write_text(artemis_secured.refuse_wrong_passwords(login.read_text()))

    def _probe_tls(self) -> None:
        import ssl

        import httpx

        tls.probe_tls_listener(self.name, f"127.0.0.1:{self.port('tls')}", self.tls_files)
        url = f"https://127.0.0.1:{self.port('console_tls')}/console/jolokia/"
        response = httpx.post(
            url,
            json={"type": "version"},
            auth=(USER, _PASSWORD),
            timeout=5.0,
            headers={"Origin": f"https://127.0.0.1:{self.port('console_tls')}"},
            verify=ssl.create_default_context(cafile=str(self.tls_files.ca_cert)),
        )
        response.raise_for_status()

    # -- run -------------------------------------------------------------------------------
    def start(self) -> None:
        self._create_instance()
        self._write_ports()
        # bin/artemis execs java with -Dartemis.instance=<self.dir>/instance, so the pid
        # file's process keeps our state directory on its command line
        self.spawn(
            [str(self.instance / "bin" / "artemis"), "run"],
            env={"JAVA_HOME": _java_home()},
        )

    def probe(self) -> str:
        mbean = f'org.apache.activemq.artemis:broker="{BROKER_NAME}"'
        version = self.jolokia_read(mbean, "Version")
        check_amqp_10(self.port("acceptor"))
        if self.secured:
            self._probe_tls()
        return str(version)

    def jolokia(self, request: dict) -> object:
        """One Jolokia request to the broker's management API; return its ``value``."""
        import httpx

        response = httpx.post(
            f"{self.console_url}jolokia/",
            json=request,
            auth=(USER, _PASSWORD),
            # Jolokia's strict CORS checking refuses requests without a matching Origin
            headers={"Origin": f"http://127.0.0.1:{self.port('console')}"},
            timeout=5.0,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("status") != 200:
            raise SandboxError(f"Jolokia {request.get('type')} failed: {body.get('error')}")
        return body.get("value")

    def jolokia_read(self, mbean: str, attribute: str) -> object:
        """Read one MBean attribute through Jolokia."""
        return self.jolokia({"type": "read", "mbean": mbean, "attribute": attribute})

    # -- addresses -------------------------------------------------------------------------
    @property
    def amqp_url(self) -> str:
        return f"amqp://127.0.0.1:{self.port('acceptor')}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.port('console')}/console/"

    def credentials(self) -> tuple[str, str]:
        """User and password for drivers and tests (never printed)."""
        return USER, _PASSWORD

    @property
    def amqps_url(self) -> str:
        return f"amqps://127.0.0.1:{self.port('tls')}"

    @property
    def console_tls_url(self) -> str:
        return f"https://127.0.0.1:{self.port('console_tls')}/console/"

    def endpoints(self) -> list[Endpoint]:
        endpoints = [
            Endpoint(
                "amqp",
                self.amqp_url,
                f"all protocols (AMQP 1.0, CORE, OpenWire, STOMP, MQTT); user {USER}",
            ),
            Endpoint("console", self.console_url, f"web console and Jolokia; user {USER}"),
        ]
        if self.secured:
            ca = self.tls_files.ca_cert
            endpoints += [
                Endpoint("amqps", self.amqps_url, f"all protocols over TLS (CA {ca}); user {USER}"),
                Endpoint(
                    "console_tls",
                    self.console_tls_url,
                    f"web console and Jolokia over https (CA {ca}); user {USER}",
                ),
            ]
        return endpoints


def _java_home() -> str:
    """JAVA_HOME for the artemis scripts, derived from the ``java`` the sandbox checked."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    return str(Path(os.path.realpath(require_java(17))).parent.parent)
