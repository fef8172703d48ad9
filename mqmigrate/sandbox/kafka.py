"""Apache Kafka 4.x as one KRaft broker+controller with share groups enabled.

The jars come from Maven Central (``kafka_2.13`` and ``kafka-tools`` plus a log4j2 binding),
or from an existing distribution named by ``KAFKA_HOME``.  Single-node settings make the
internal topics (offsets, transactions, share-group state) work with one replica.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from mqmigrate.errors import PrerequisiteError, SandboxError
from mqmigrate.sandbox import kafka_secured, maven, tls
from mqmigrate.sandbox.base import Endpoint, SandboxContext, Service, require_java

if TYPE_CHECKING:
    from mqmigrate.kafka.config import KafkaConfig

KAFKA_VERSION = os.environ.get("MQMIGRATE_KAFKA_VERSION", "4.4.0")

_LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
"""


#: JVM options per garbage collector of the broker.  G1 (Kafka's own start script's choice)
#: stops every request for its young collections, 30-120 ms on a busy 2-core machine, which
#: sets a latency-bound share group's p99 there; ZGC's pauses stay under a millisecond
#: (docs/benchmarks.md, "The work-queue tail")
GARBAGE_COLLECTORS: dict[str, tuple[str, ...]] = {
    "g1": ("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"),
    "zgc": ("-XX:+UseZGC",),
}


class KafkaService(Service):
    name = "kafka"
    default_ports = {"broker": 9092, "controller": 9093, **kafka_secured.SECURED_PORTS}
    start_timeout = 120.0

    def __init__(
        self,
        ctx: SandboxContext,
        *,
        name: str | None = None,
        features: dict[str, int] | None = None,
        heap: str = "1g",
        properties: dict[str, str] | None = None,
        secured: bool = True,
        plaintext: bool = True,
        version: str | None = None,
        collector: str = "g1",
    ):
        if name:
            self.name = name
        super().__init__(ctx)
        #: also open the SASL_SSL, OAUTHBEARER and mTLS listeners (see kafka_secured)
        self.secured = secured
        if not secured:
            self.default_ports = {"broker": 9092, "controller": 9093}
        #: keep the PLAINTEXT client listener; without it (a test broker) every client,
        #: the sandbox's own admin calls included, comes through a secured listener
        self.plaintext = plaintext
        if not plaintext and not secured:
            raise ValueError("a broker without PLAINTEXT needs its secured listeners")
        #: feature levels given to ``storage format`` (e.g. ``{"share.version": 0}``)
        self.features = features or {}
        self.heap = heap
        #: broker properties set over the defaults, e.g. an authorizer for a test broker
        #: (``authorizer.class.name``, ``super.users``); the sandbox itself passes none
        self.properties = dict(properties or {})
        #: the Apache Kafka release whose jars run this broker (each cached in its own
        #: ``<cache>/kafka-<version>``); tests of older releases pass e.g. ``"4.2.2"``
        self.version = version or KAFKA_VERSION
        if collector not in GARBAGE_COLLECTORS:
            raise ValueError(f"collector must be one of {', '.join(GARBAGE_COLLECTORS)}")
        #: the broker JVM's garbage collector (a benchmark compares a low-pause one)
        self.collector = collector

    @property
    def bootstrap(self) -> str:
        """The PLAINTEXT listener (on a broker without one: the SASL_SSL listener)."""
        if not self.plaintext:
            return self.secured_listeners().address("sasl_ssl")
        return f"127.0.0.1:{self.port('broker')}"

    # -- install ---------------------------------------------------------------------------
    def classpath(self) -> str:
        home = os.environ.get("KAFKA_HOME")
        if home:
            libs = Path(home) / "libs"
            if not libs.is_dir():
                raise PrerequisiteError(
                    f"KAFKA_HOME={home} has no libs/ directory",
                    hint="point KAFKA_HOME at an unpacked Apache Kafka distribution or unset it",
                )
            return f"{libs}/*"
        libs = maven.classpath(
            self.ctx.cache_dir,
            f"kafka-{self.version}",
            [
                f"org.apache.kafka:kafka_2.13:{self.version}",
                f"org.apache.kafka:kafka-tools:{self.version}",
                # Kafka's own POMs leave the logging binding to the distribution
                "org.apache.logging.log4j:log4j-slf4j2-impl:2.24.3",
                "org.slf4j:slf4j-api:2.0.17",
            ],
        )
        return f"{libs}/*"

    def install(self) -> None:
        require_java(17)
        self.classpath()

    # -- run -------------------------------------------------------------------------------
    def java(
        self, main_class: str, *args: str, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        """Run one of Kafka's tools (FeatureCommand, StorageTool, ...) to completion."""
        cmd = [
            require_java(17),
            "-Xmx256m",
            "-cp",
            self.classpath(),
            f"-Dlog4j2.configurationFile={self._log4j()}",
            main_class,
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def _log4j(self) -> Path:
        path = self.dir / "log4j2.yaml"
        if not path.exists():
            path.write_text(_LOG4J2)
        return path

    def _properties(self) -> Path:
        data = self.dir / "data"
        broker, controller = self.port("broker"), self.port("controller")
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller}",
            "listeners": f"PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "share.coordinator.state.topic.num.partitions": "5",
            "group.initial.rebalance.delay.ms": "0",
            # a sandbox allows the full ranges so tests can exercise short locks
            "group.share.min.record.lock.duration.ms": "1000",
            "group.share.max.record.lock.duration.ms": "3600000",
            "group.share.max.delivery.count.limit": "25",
            "group.share.min.delivery.count.limit": "2",
            "delete.topic.enable": "true",
            "auto.create.topics.enable": "false",
        }
        if self.secured:
            lines = kafka_secured.merge_listeners(lines, self._secured_listener_properties())
        if not self.plaintext:
            lines = kafka_secured.without_plaintext(lines)
        lines.update(self.properties)
        path = self.dir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        kafka_secured.protect(path)  # the PLAIN user's password is in its JAAS line
        return path

    # -- secured listeners (mqmigrate.sandbox.kafka_secured) ---------------------------------
    def secured_listeners(self, *, ensure_tls: bool = False) -> kafka_secured.SecuredKafka:
        """Ports, CA and password file of the secured listeners; ``ensure_tls`` (at start)
        makes the sandbox CA and certificates when missing or expiring."""
        directory = tls.tls_dir(self.ctx.state_dir)
        return kafka_secured.SecuredKafka(
            ports={key: self.port(key) for key in kafka_secured.SECURED_PORTS},
            tls=tls.ensure_tls(directory) if ensure_tls else tls.TlsFiles(directory),
            password_file=self.dir / kafka_secured.PASSWORD_FILE,
        )

    def client_properties_file(self, kind: str) -> Path:
        """The ready client file for ``kind`` (``scram``, ``plain``, ``oauth``, ``mtls``)."""
        return self.dir / f"client-{kind}.properties"

    def admin_config(self) -> "KafkaConfig":
        """How the sandbox itself connects: PLAINTEXT, or mTLS on a broker without it."""
        from mqmigrate.kafka.config import KafkaConfig, read_config_file

        if self.plaintext:
            return KafkaConfig.for_bootstrap(self.bootstrap)
        return read_config_file(self.client_properties_file("mtls"))

    def _secured_listener_properties(self) -> dict[str, str]:
        secured = self.secured_listeners(ensure_tls=True)
        password = tls.ensure_secret(secured.password_file)
        kafka_secured.write_client_properties(secured, self.dir)
        return kafka_secured.listener_properties(secured, password=password)

    def start(self) -> None:
        props = self._properties()
        data = self.dir / "data"
        if not (data / "meta.properties").exists():
            args = ["format", "--standalone", "-t", str(uuid.uuid4().hex[:22]), "-c", str(props)]
            cluster_id = self.java("kafka.tools.StorageTool", "random-uuid").stdout.strip()
            args[3] = cluster_id or args[3]
            for feature, level in self.features.items():
                args += ["--feature", f"{feature}={level}"]
            proc = self.java("kafka.tools.StorageTool", *args)
            if proc.returncode != 0:
                raise SandboxError(
                    f"kafka storage format failed: {(proc.stderr or proc.stdout).strip()[-300:]}"
                )
        self.spawn(
            [
                require_java(17),
                f"-Xmx{self.heap}",
                f"-Xms{self.heap}",
                *GARBAGE_COLLECTORS[self.collector],
                "-cp",
                self.classpath(),
                f"-Dlog4j2.configurationFile={self._log4j()}",
                f"-Dkafka.logs.dir={self.dir}",
                "kafka.Kafka",
                str(props),
            ]
        )

    def probe(self) -> str:
        from confluent_kafka.admin import AdminClient

        from mqmigrate.kafka.protocol import fetch_features

        features = fetch_features(self.admin_config(), timeout=2)
        admin = AdminClient(self.admin_config().client({"socket.timeout.ms": 3000}))
        admin.list_topics(timeout=3)  # metadata round trip: the broker serves requests
        if self.secured:
            secured = self.secured_listeners()
            for key in kafka_secured.SECURED_PORTS:
                tls.probe_tls_listener(self.name, secured.address(key), secured.tls)
        return features.release() or "unknown"

    def after_healthy(self) -> None:
        """Make sure share groups are on: raise ``share.version`` when the cluster has it at 0.

        A cluster formatted by 4.2+ has it on already; a data directory formatted by an older
        release or with ``--feature share.version=0`` does not.  A service built with explicit
        feature levels (a test broker with share groups off on purpose) is left as formatted.
        """
        from mqmigrate.kafka.protocol import fetch_features

        if self.secured:
            secured = self.secured_listeners()
            kafka_secured.create_scram_users(
                self.admin_config(), kafka_secured.read_password(secured.password_file)
            )
        if "share.version" in self.features:
            return
        features = fetch_features(self.admin_config())
        supported = features.supported.get("share.version", (0, 0))[1]
        if features.finalized_level("share.version") >= 1:
            return
        if supported < 1:
            raise SandboxError(
                f"Kafka at {self.bootstrap} does not support share groups",
                hint="use Apache Kafka 4.2 or newer (MQMIGRATE_KAFKA_VERSION)",
            )
        if not self.plaintext:  # FeatureCommand below speaks PLAINTEXT only
            raise SandboxError(
                f"Kafka at {self.bootstrap} has share groups off and no "
                "PLAINTEXT listener to turn them on through",
                hint="format it with share.version on (Kafka 4.2+ does)",
            )
        proc = self.java(
            "org.apache.kafka.tools.FeatureCommand",
            "--bootstrap-server",
            self.bootstrap,
            "upgrade",
            "--feature",
            f"share.version={supported}",
        )
        if proc.returncode != 0:
            raise SandboxError(f"could not enable share groups: {proc.stderr.strip()[-300:]}")

    def endpoints(self) -> list[Endpoint]:
        endpoints = []
        if self.plaintext:
            endpoints.append(
                Endpoint("bootstrap", self.bootstrap, "PLAINTEXT, share groups enabled")
            )
        if self.secured:
            endpoints += kafka_secured.endpoints(self.secured_listeners(), self.dir)
        return endpoints
