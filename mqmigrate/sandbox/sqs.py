"""Two SQS endpoints: moto for semantics, ElasticMQ for volume.

moto (server mode) implements SQS *and* SNS with close-to-AWS semantics, which the contract
tests and the bridge's SNS-fed shadow mode need, but its receive and send cost grows linearly
with queue depth (measured: docs/benchmarks.md).  ElasticMQ stays flat on deep queues, so volume tests and
benchmarks use it.  Both keep everything in memory: ``down`` then ``up`` is a clean slate.

Both answer in region ``us-east-1`` with any credentials; the helpers here use ``testing``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from pathlib import Path
from typing import Any

from mqmigrate.errors import PrerequisiteError
from mqmigrate.sandbox import maven
from mqmigrate.sandbox.base import Endpoint, Service, require_java

REGION = "us-east-1"
#: moto and ElasticMQ accept any credentials; boto3 still insists on having some
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
ELASTICMQ_VERSION = os.environ.get("MQMIGRATE_ELASTICMQ_VERSION", "1.7.1")


def aws_client(service: str, endpoint_url: str, *, timeout: float = 10.0) -> Any:
    """A boto3 client for ``service`` ("sqs", "sns", "iam", "sts") on a local endpoint, dummy
    credentials.

    Retries are off so a dead endpoint fails fast instead of backing off for seconds.
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise PrerequisiteError(
            "boto3 is needed to talk to the SQS sandbox", hint="pip install boto3"
        ) from exc
    config = Config(
        connect_timeout=min(timeout, 3.0),
        read_timeout=timeout,
        retries={"max_attempts": 1, "mode": "standard"},
    )
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        config=config,
        **DUMMY_CREDENTIALS,
    )


class _SqsEndpoint(Service):
    """What both SQS servers share: one HTTP port, a boto3 client, a ``list_queues`` probe."""

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port('http')}"

    def client(self, service: str = "sqs", *, timeout: float = 10.0) -> Any:
        """A boto3 client for this endpoint (``"sqs"``; moto also serves ``"sns"``)."""
        return aws_client(service, self.endpoint_url, timeout=timeout)

    def _probe_sqs(self) -> None:
        # a real SQS API call, not a TCP connect: the server must parse and answer requests
        self.client(timeout=3.0).list_queues(MaxResults=1)


_MOTO_LAUNCHER = '''"""Written by mqmigrate sandbox: runs moto's server.

It exists so the process's command line names the sandbox state directory, which is how
``sandbox down`` recognises the process as its own (moto.server rejects unknown arguments).
"""
import sys

from moto.server import main

main(sys.argv[1:])
'''


class MotoService(_SqsEndpoint):
    """moto in server mode: SQS and SNS on one port, in memory."""

    name = "moto"
    default_ports = {"http": 5000}
    start_timeout = 60.0

    def install(self) -> None:
        try:
            importlib.import_module("moto.server")
        except ImportError as exc:
            raise PrerequisiteError(
                f"moto's server mode is not installed in {sys.executable} ({exc})",
                hint="pip install 'moto[server]'",
            ) from exc

    def _launcher(self) -> Path:
        path = self.dir / "moto_server.py"
        if not path.exists() or path.read_text() != _MOTO_LAUNCHER:
            path.write_text(_MOTO_LAUNCHER)
        return path

    def start(self) -> None:
        port = self.port("http")
        self.spawn(
            [sys.executable, str(self._launcher()), "-H", "127.0.0.1", "-p", str(port)],
            # moto builds some URLs (SNS → SQS, queue URLs) from MOTO_PORT; a stale value
            # inherited from the user's shell would point them at another port
            env={"MOTO_PORT": str(port), "PYTHONUNBUFFERED": "1"},
        )

    def probe(self) -> str:
        self._probe_sqs()
        # the server runs on this interpreter (sys.executable), so its moto is this one
        return importlib.metadata.version("moto")

    def after_healthy(self) -> None:
        """Create the role SQS clients assume (moto keeps state in memory: every start)."""
        from mqmigrate.sandbox import sts

        sts.ensure_role(self.client("iam"))

    def endpoints(self) -> list[Endpoint]:
        from mqmigrate.sandbox import sts

        note = f"region {REGION}, any credentials, in memory"
        return [
            Endpoint("sqs", self.endpoint_url, note),
            Endpoint("sns", self.endpoint_url, note),
            Endpoint("sts", self.endpoint_url, "STS and IAM"),
            Endpoint("role", sts.ROLE_ARN, f"assume with external id {sts.EXTERNAL_ID}"),
        ]


_ELASTICMQ_CONF = """# Written by mqmigrate sandbox; rewritten on every start.
# Keep ElasticMQ's own pekko settings (request timeout for 20 s long polls, 256 KiB URIs).
include classpath("application.conf")

# queue URLs are built from node-address, so it must match where clients connect
node-address {{
  protocol = http
  host = "127.0.0.1"
  port = {port}
  context-path = ""
}}
generate-node-address = false

rest-sqs {{
  enabled = true
  bind-port = {port}
  bind-hostname = "127.0.0.1"
  # AWS's limits (10 per batch, 256 KiB bodies, name rules): the sandbox must reject
  # what real SQS rejects
  sqs-limits = strict
}}

aws {{
  region = "{region}"
  accountId = "000000000000"
}}

# in memory, like moto: a restart is a clean slate, and deep queues stay fast
queues-storage {{
  enabled = false
}}
messages-storage {{
  enabled = false
}}
"""


class ElasticMQService(_SqsEndpoint):
    """ElasticMQ from Maven Central: an SQS server that stays fast on deep queues.

    ElasticMQ 1.7 ships no stats/UI server on Maven Central (the web UI exists only in the
    ``softwaremill/elasticmq`` container image), so there is a single ``http`` port.
    """

    name = "elasticmq"
    default_ports = {"http": 9324}
    start_timeout = 90.0
    heap = "512m"

    def classpath(self) -> str:
        libs = maven.classpath(
            self.ctx.cache_dir,
            f"elasticmq-{ELASTICMQ_VERSION}",
            [f"org.elasticmq:elasticmq-server_2.13:{ELASTICMQ_VERSION}"],
        )
        return f"{libs}/*"

    def install(self) -> None:
        require_java(17)
        self.classpath()

    def _config(self) -> Path:
        path = self.dir / "elasticmq.conf"
        path.write_text(_ELASTICMQ_CONF.format(port=self.port("http"), region=REGION))
        return path

    @property
    def _version_file(self) -> Path:
        return self.dir / "version"

    def start(self) -> None:
        config = self._config()
        self.spawn(
            [
                require_java(17),
                f"-Xmx{self.heap}",
                f"-Xms{self.heap}",
                "-cp",
                self.classpath(),
                f"-Dconfig.file={config}",
                "org.elasticmq.server.Main",
            ]
        )
        # what we launched, so ``status`` reports the running version even after the
        # default version changes
        self._version_file.write_text(ELASTICMQ_VERSION + "\n")

    def probe(self) -> str:
        self._probe_sqs()
        try:
            return self._version_file.read_text().strip() or ELASTICMQ_VERSION
        except OSError:
            return ELASTICMQ_VERSION

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("sqs", self.endpoint_url, f"region {REGION}, any credentials, in memory")]
