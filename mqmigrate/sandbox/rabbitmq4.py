"""RabbitMQ 4.x beside the machine's own: Debian trixie's ``rabbitmq-server`` (4.0, Erlang 27)
in a chroot under the cache directory, so the host's packages are never touched.

Install (once per cache, as root; ``debootstrap`` itself comes from the host's apt when
missing): ``debootstrap --variant=minbase trixie`` into
``<cache>/rabbitmq-trixie/root.tmp`` from the Debian mirror, then ``apt-get install
rabbitmq-server`` inside it (a ``policy-rc.d`` forbids service starts), renamed to ``root`` and
marked complete only when both succeeded.  93 s measured on a busy 2-core machine.

Run: every command goes through ``unshare --mount`` into a private mount namespace that
bind-mounts the node's state directory into the root at the same path and mounts ``/proc``,
then ``chroot``.  The mounts live only as long as the processes of that namespace, so nothing
is left mounted on the host when the node (and the epmd it started) stops.  The node is the
same private node as :mod:`mqmigrate.sandbox.rabbitmq` (own node name, ports, Mnesia, cookie),
on other default ports so it can run next to the sandbox's 3.x node.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from mqmigrate.errors import PrerequisiteError, SandboxError
from mqmigrate.sandbox import rabbitmq_secured
from mqmigrate.sandbox.base import SandboxContext
from mqmigrate.sandbox.rabbitmq import RabbitMQService, _apt, _apt_install

#: the Debian release whose rabbitmq-server is 4.x, and where to fetch it
SUITE = "trixie"
MIRROR = os.environ.get("MQMIGRATE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
#: RabbitMQ's scripts inside the root
_SBIN = "/usr/lib/rabbitmq/bin"


class ChrootRabbitMQService(RabbitMQService):
    """A RabbitMQ 4.x node run from a debootstrapped Debian trixie root."""

    name = "rabbitmq4"
    start_timeout = 120.0
    #: beside the sandbox's 3.x node, so both can run with their defaults
    PORTS = {"amqp": 5682, "management": 15682, "dist": 25682, "epmd": 4379}

    def __init__(
        self,
        ctx: SandboxContext,
        *,
        name: str | None = None,
        node_name: str = "mqmigrate4@localhost",
        secured: bool = False,
    ):
        """``secured`` (amqps, https management) is the 3.x node's option, not yet run on 4.x:
        off by default."""
        super().__init__(ctx, name=name, node_name=node_name, secured=secured)
        self.default_ports = {**self.PORTS, **(rabbitmq_secured.SECURED_PORTS if secured else {})}

    @property
    def root(self) -> Path:
        """The trixie root (shared by every node of this cache)."""
        return self.ctx.cache_dir / f"rabbitmq-{SUITE}" / "root"

    # -- install ---------------------------------------------------------------------------
    def install(self) -> None:
        if (self.root / ".complete").exists():
            return
        if os.geteuid() != 0:
            raise PrerequisiteError(
                "installing RabbitMQ 4.x into a chroot needs root",
                hint="run as root (debootstrap, chroot and mount do)",
            )
        if not shutil.which("debootstrap"):
            self.ctx.log("installing debootstrap with apt-get")
            # a fresh machine often has no package lists yet
            if not _apt_install("debootstrap") and not (
                _apt(["apt-get", "update"]) and _apt_install("debootstrap")
            ):
                raise PrerequisiteError(
                    "apt-get could not install debootstrap",
                    hint="run 'apt-get update && apt-get install -y "
                    "debootstrap' and read its output",
                )
        if not shutil.which("unshare"):
            raise PrerequisiteError(
                "unshare is not installed", hint="apt-get install -y util-linux"
            )
        staging = self.root.with_name("root.tmp")
        _refuse_if_mounted(staging)
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
        self.ctx.log(f"debootstrap {SUITE} into {staging}")
        _run(
            ["debootstrap", "--variant=minbase", SUITE, str(staging), MIRROR],
            f"debootstrap {SUITE} from {MIRROR}",
            timeout=1800,
        )
        policy = staging / "usr/sbin/policy-rc.d"
        policy.write_text(
            "#!/bin/sh\n# written by mqmigrate sandbox: no service starts\nexit 101\n"
        )
        policy.chmod(0o755)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        self.ctx.log("apt-get install rabbitmq-server in the chroot")
        _run(
            [
                "chroot",
                str(staging),
                "apt-get",
                "install",
                "-y",
                "--no-install-recommends",
                "rabbitmq-server",
            ],
            f"apt-get install rabbitmq-server ({SUITE})",
            env=env,
            timeout=1800,
        )
        _run(["chroot", str(staging), "apt-get", "clean"], "apt-get clean", env=env)
        _refuse_if_mounted(staging)
        staging.rename(self.root)
        (self.root / ".complete").write_text(f"{SUITE} rabbitmq-server from {MIRROR}\n")

    # -- run -------------------------------------------------------------------------------
    def _write_config(self) -> None:
        super()._write_config()
        with open(self.dir / "rabbitmq.conf", "a") as conf:
            # as 4.x will be: the deprecated v1 AMQP 1.0 addresses (/amq/queue/NAME) refused,
            # so a client still using them fails here rather than on the next release
            conf.write("deprecated_features.permit.amqp_address_v1 = false\n")

    def env(self) -> dict[str, str]:
        # the Elixir CLI of 4.x wants a UTF-8 locale; trixie has C.UTF-8 built in
        return {**super().env(), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}

    def command(self, script: str, *args: str) -> list[str]:
        """``script`` run in the root, the state directory bind-mounted at its own path."""
        root, state = shlex.quote(str(self.root)), shlex.quote(str(self.dir))
        inside = shlex.quote(str(self.root) + str(self.dir))
        setup = (
            f"mkdir -p {inside} && mount --bind {state} {inside} && "
            f'mount -t proc proc {root}/proc && exec chroot {root} "$@"'
        )
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            setup,
            "mqmigrate-rabbitmq4",
            f"{_SBIN}/{script}",
            *args,
        ]

    def stop(self, timeout: float = 30.0) -> bool:
        stopped = super().stop(timeout)
        self._remove_mountpoint()
        return stopped

    def _remove_mountpoint(self) -> None:
        """Remove the empty directories ``command`` made in the root for the bind mount, up
        to (not including) the root's top-level directory, so the cached root does not
        collect one per node; a directory another node still uses is not empty and stays."""
        top = self.root / self.dir.parts[1]
        path = Path(str(self.root) + str(self.dir))
        while path != top and path.is_relative_to(top):
            try:
                path.rmdir()
            except OSError:
                return
            path = path.parent

    def _epmd(self) -> list[str] | None:
        # the chroot's epmd: talks to the node's epmd over 127.0.0.1, needs no mounts
        return ["chroot", str(self.root), "/usr/bin/epmd"]


def _run(
    argv: list[str], what: str, *, env: dict[str, str] | None = None, timeout: float = 600
) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])[:300]
        raise SandboxError(
            f"{what} failed: {tail}",
            hint="check access to the Debian mirror (MQMIGRATE_DEBIAN_MIRROR)",
        )


def _refuse_if_mounted(path: Path) -> None:
    """Never delete or rename a root with something still mounted in it (a failed
    debootstrap can leave /proc or /sys mounted): removing it would walk into the host's."""
    prefix = str(path.resolve()) + "/"
    with open("/proc/mounts") as mounts:
        inside = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    if inside:
        raise SandboxError(
            f"{path} still has mounts: {', '.join(inside[:3])}",
            hint="umount them, then start again",
        )
