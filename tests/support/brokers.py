"""Brokers a test owns alone, so it can restart them without disturbing the shared sandbox.

Crash campaigns restart Kafka and RabbitMQ in the middle of a run; doing that to the sandbox
brokers would break every other test using them.  ``PrivateKafka`` is a second real KRaft
broker (the same jars as the sandbox, share groups on) and ``PrivateRabbitMQ`` a second real
RabbitMQ node (the same Debian install, its own Erlang node name, Mnesia directory, AMQP,
management, distribution and epmd ports), each in a temporary state directory on free ports,
which the test may stop and start at will; their data survive a restart.

``PrivateKafka(..., secured=True)`` is the one way the tests start a secured private Kafka
(the sandbox's SASL_SSL, OAUTHBEARER and mTLS listeners with a CA of its own); the
``secured_only_kafka`` fixture (tests/conftest.py) shares one per session, without PLAINTEXT
and with StandardAuthorizer.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mqmigrate.sandbox import kafka_secured
from mqmigrate.sandbox.base import SandboxContext
from mqmigrate.sandbox.kafka import KafkaService
from mqmigrate.sandbox.rabbitmq import RabbitMQService


class _Startable(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


_B = TypeVar("_B", bound=_Startable)


@contextmanager
def running(broker: _B) -> Iterator[_B]:
    """``broker`` started for the ``with`` block and stopped after it, however it ends."""
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateKafka:
    """A single-node KRaft broker in ``state_dir``; ``restart()`` keeps its log directory."""

    @classmethod
    def in_temp_dir(
        cls, tmp_path_factory: Any, kafka_service: KafkaService, name: str, **options: Any
    ) -> "PrivateKafka":
        """A broker named ``name`` in a fresh pytest temporary directory, on the jars the
        sandbox's ``kafka_service`` cached."""
        return cls(tmp_path_factory.mktemp(name), kafka_service.ctx.cache_dir, name=name, **options)

    def __init__(
        self,
        state_dir: Path,
        cache_dir: Path,
        *,
        name: str = "kafka-private",
        heap: str = "512m",
        properties: dict[str, str] | None = None,
        secured: bool = False,
        plaintext: bool = True,
        plain_users: dict[str, str] | None = None,
        version: str | None = None,
        collector: str = "g1",
    ):
        """``properties`` are broker settings over the sandbox's (e.g. an authorizer);
        ``secured`` also opens the sandbox's SASL_SSL, OAUTHBEARER and mTLS listeners (with
        a CA of its own under ``state_dir/tls``); ``plaintext=False`` (with ``secured``)
        leaves no PLAINTEXT client listener at all, so a client built without the secured
        configuration cannot connect (clients: ``service.client_properties_file(kind)``);
        ``plain_users`` (name: password; not with ``secured``) opens a SASL_PLAINTEXT
        listener next to PLAINTEXT whose SASL/PLAIN users they are, at
        ``sasl_plain_bootstrap``, so clients with principals of their own can meet an
        authorizer's ACLs; ``version`` an Apache Kafka release other than the sandbox's (jars
        from Maven Central, cached per version); ``collector`` the JVM's garbage collector
        (``GARBAGE_COLLECTORS`` of :mod:`mqmigrate.sandbox.kafka`)."""
        service = KafkaService(
            SandboxContext(state_dir=state_dir, cache_dir=cache_dir),
            name=name,
            heap=heap,
            properties=properties,
            secured=secured,
            plaintext=plaintext,
            version=version,
            collector=collector,
        )
        # every port comes from ctx.ports, all free ones
        service.ctx.ports = {f"{name}.{key}": free_port() for key in service.default_ports}
        service.default_ports = {key: 0 for key in service.default_ports}
        self.service = service
        #: ``host:port`` of the SASL_PLAINTEXT listener of ``plain_users``
        self.sasl_plain_bootstrap: str | None = None
        if plain_users:
            self._add_plain_listener(plain_users, secured=secured)

    def _add_plain_listener(self, users: dict[str, str], *, secured: bool) -> None:
        if secured:
            raise ValueError("plain_users sets the whole listener list: not with secured")
        plain, controller, sasl = (
            self.service.port("broker"),
            self.service.port("controller"),
            free_port(),
        )
        jaas = " ".join(f'user_{user}="{password}"' for user, password in users.items())
        self.service.properties.update(
            {
                "listeners": f"PLAINTEXT://127.0.0.1:{plain},CONTROLLER://127.0.0.1:{controller},"
                f"SASL_PLAINTEXT://127.0.0.1:{sasl}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{plain},"
                f"SASL_PLAINTEXT://127.0.0.1:{sasl}",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
                "SASL_PLAINTEXT:SASL_PLAINTEXT",
                "inter.broker.listener.name": "PLAINTEXT",
                "sasl.enabled.mechanisms": "PLAIN",
                "listener.name.sasl_plaintext.plain.sasl.jaas.config": "org.apache.kafka.common"
                f".security.plain.PlainLoginModule required {jaas};",
            }
        )
        self.sasl_plain_bootstrap = f"127.0.0.1:{sasl}"

    @property
    def bootstrap(self) -> str:
        return self.service.bootstrap

    # -- a secured broker's ways in (``secured=True``) -----------------------------------------
    def secured_address(self, listener: str) -> str:
        """``host:port`` of a secured listener: ``sasl_ssl``, ``oauth`` or ``mtls``."""
        return self.service.secured_listeners().address(listener)

    @property
    def sasl_password(self) -> str:
        """The SASL user's password (generated for this broker; test-only)."""
        return kafka_secured.read_password(self.service.secured_listeners().password_file)

    def write_client_properties(self, path: Path, kind: str = "scram", **overrides: str) -> Path:
        """The settings of the ready ``client-<kind>.properties`` (``scram``, ``plain``,
        ``oauth``, ``mtls``) with ``overrides`` (e.g. a wrong password), written to ``path``."""
        settings = kafka_secured.client_properties(self.service.secured_listeners())
        path.write_text(
            kafka_secured.render_properties(
                {**settings[f"client-{kind}"], **overrides},
                header=f"{kind} on the private test broker {self.service.name}",
            )
        )
        return path

    def start(self) -> None:
        self.service.install()
        self.service.start()
        self.service.wait_healthy()
        self.service.after_healthy()

    def stop(self, *, hard: bool = False) -> None:
        """Stop the broker: a controlled shutdown, or SIGKILL with ``hard``."""
        if hard:
            self.service.stop(timeout=0)
        else:
            self.service.stop()

    def restart(self, *, down_for: float = 0.0, hard: bool = False) -> float:
        """Stop, stay down ``down_for`` seconds, start again; returns seconds until healthy."""
        self.stop(hard=hard)
        time.sleep(down_for)
        began = time.monotonic()
        self.start()
        return time.monotonic() - began


def unsecured_token(_oauthbearer_config: str) -> tuple[str, float]:
    """An OAUTHBEARER token callback (``mqmigrate.oauth.callback``): an unsigned JWT for the
    secured listeners' principal, which a secured private broker's OAUTH listener (Kafka's
    unsecured validator) accepts."""
    import base64
    import json

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = time.time()
    claims = {
        "sub": kafka_secured.OAUTH_PRINCIPAL,
        "iat": int(now),
        "exp": int(now) + 3600,
        "scope": "kafka",
    }
    return f"{part({'alg': 'none'})}.{part(claims)}.", now + 3600


class PrivateRabbitMQ:
    """A RabbitMQ node in ``state_dir``; ``restart()`` keeps its Mnesia directory, so durable
    queues and persistent messages come back."""

    def __init__(
        self,
        state_dir: Path,
        *,
        name: str = "rabbitmq-private",
        secured: bool = False,
        service: type[RabbitMQService] = RabbitMQService,
        cache_dir: Path | None = None,
    ):
        """``secured`` also opens amqps and management over https (a CA of its own under
        ``state_dir/tls``); ``service``
        :class:`~mqmigrate.sandbox.rabbitmq4.ChrootRabbitMQService` runs RabbitMQ 4.x from a
        Debian trixie root installed under ``cache_dir``."""
        ctx = SandboxContext(state_dir=state_dir, cache_dir=cache_dir or state_dir)
        # a node name no other node on this machine uses; epmd is its own (own port), so the
        # sandbox node's epmd is never touched
        self.service = service(
            ctx,
            name=name,
            secured=secured,
            node_name=f"mqm-private-{uuid.uuid4().hex[:8]}@localhost",
        )
        ctx.ports = {f"{name}.{key}": free_port() for key in self.service.default_ports}

    @property
    def amqp_uri(self) -> str:
        user, password = self.service.credentials()
        return f"amqp://{user}:{password}@127.0.0.1:{self.service.port('amqp')}/%2f"

    def start(self) -> None:
        self.service.install()
        self.service.start()
        self.service.wait_healthy()
        self.service.after_healthy()

    def stop(self, *, hard: bool = False) -> None:
        """Stop the node: a clean shutdown (connections closed by the broker), or SIGKILL."""
        self.service.stop(timeout=0 if hard else 30)

    def restart(self, *, down_for: float = 0.0, hard: bool = False) -> float:
        """Stop, stay down ``down_for`` seconds, start again; returns seconds until healthy."""
        self.stop(hard=hard)
        time.sleep(down_for)
        began = time.monotonic()
        self.start()
        return time.monotonic() - began


class PrivateArtemis:
    """An ActiveMQ Artemis instance in ``state_dir`` on free ports, created from the sandbox's
    cached distribution, whose ``broker.xml`` a test may change before it starts (the shared
    sandbox broker is never reconfigured)."""

    def __init__(self, state_dir: Path, cache_dir: Path, *, secured: bool = False):
        """``secured`` also opens the TLS acceptor and the https console (a CA of its own
        under ``state_dir/tls``)."""
        from mqmigrate.sandbox.artemis import ArtemisService

        ctx = SandboxContext(state_dir=state_dir, cache_dir=cache_dir)
        self.service = ArtemisService(ctx, secured=secured)
        # every port free, the TLS ones too: the sandbox's defaults may be taken
        ctx.ports = {f"artemis.{key}": free_port() for key in self.service.default_ports}

    @property
    def broker_xml(self) -> Path:
        return self.service.instance / "etc" / "broker.xml"

    @property
    def jolokia_uri(self) -> str:
        user, password = self.service.credentials()
        return f"artemis+http://{user}:{password}@127.0.0.1:{self.service.port('console')}"

    def create(self) -> None:
        """Install (from the cache) and create the instance without starting it."""
        self.service.install()
        self.service._create_instance()

    def start(self) -> None:
        self.service.start()
        self.service.wait_healthy()

    def stop(self) -> None:
        self.service.stop()
