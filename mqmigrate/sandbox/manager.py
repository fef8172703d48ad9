"""``sandbox up / down / status``: the orchestration over every service."""

from __future__ import annotations

from urllib.parse import quote

import json
import os
from pathlib import Path

from mqmigrate.errors import UsageError
from mqmigrate.sandbox.base import SandboxContext, ServiceStatus, read_json
from mqmigrate.sandbox.registry import SERVICES, services

PORTS_FILE = "ports.json"


def context(ports: dict[str, int] | None = None, log=None) -> SandboxContext:
    """A context whose ports are: the ones given, else the ones the last ``up`` used."""
    ctx = SandboxContext()
    if log:
        ctx.log = log
    saved = read_json(ctx.state_dir / PORTS_FILE)
    ctx.ports = {**{k: int(v) for k, v in saved.items()}, **(ports or {})}
    return ctx


def parse_ports(items: list[str]) -> dict[str, int]:
    """``["kafka.broker=19092"]`` -> ``{"kafka.broker": 19092}``."""
    ports: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        name = key.split(".", 1)[0]
        if not sep or "." not in key or not value.isdigit() or not 0 < int(value) < 65536:
            raise UsageError(
                f"bad --port {item!r}", hint="use SERVICE.KEY=PORT, e.g. --port kafka.broker=19092"
            )
        if name not in SERVICES:
            raise UsageError(
                f"bad --port {item!r}: no sandbox service {name!r}",
                hint=f"services: {', '.join(SERVICES)}",
            )
        ports[key] = int(value)
    return ports


def up(ctx: SandboxContext, names: list[str] | None = None) -> list[ServiceStatus]:
    """Install, start and health-check each service; a healthy running one is left alone."""
    chosen = services(ctx, names)
    for service in chosen:  # validate every port key before anything starts
        unknown = {k.split(".", 1)[1] for k in ctx.ports if k.startswith(service.name + ".")}
        unknown -= set(service.default_ports)
        if unknown:
            raise UsageError(
                f"{service.name} has no port named {', '.join(sorted(unknown))}",
                hint=f"its ports: {', '.join(service.default_ports)}",
            )
    ctx.state_dir.mkdir(parents=True, exist_ok=True)
    _save_ports(ctx)
    started = []
    for service in chosen:
        if service.is_running():
            continue
        ctx.log(f"installing {service.name}")
        service.install()
        service.check_ports_free()
        ctx.log(f"starting {service.name}")
        service.start()
        started.append(service)
    for service in started:
        ctx.log(f"waiting for {service.name}")
        service.wait_healthy()
        service.after_healthy()
    return [service.status() for service in chosen]


def down(ctx: SandboxContext, names: list[str] | None = None) -> list[str]:
    """Stop what the sandbox started; return the names of the services stopped."""
    stopped = []
    for service in reversed(services(ctx, names)):
        ctx.log(f"stopping {service.name}")
        if service.stop():
            stopped.append(service.name)
    return stopped


def status(ctx: SandboxContext, names: list[str] | None = None) -> list[ServiceStatus]:
    return [service.status() for service in services(ctx, names)]


def _save_ports(ctx: SandboxContext) -> None:
    path: Path = ctx.state_dir / PORTS_FILE
    merged = {**read_json(path), **ctx.ports}
    # written aside, then renamed over: a reader (another `up`, a test worker's context())
    # sees the old file or the new one, never a half-written one it would take for no ports
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    os.replace(staging, path)


def endpoints_for_doctor(ctx: SandboxContext) -> tuple[str, list[str]]:
    """The sandbox's Kafka bootstrap and every source endpoint as a URI with the sandbox's
    credentials, for ``doctor --sandbox`` (so no password has to go on a command line)."""
    from mqmigrate.sandbox import artemis, rabbitmq, sqs
    from mqmigrate.sandbox.kafka import KafkaService

    rabbit = rabbitmq.RabbitMQService(ctx)
    amqp1 = artemis.ArtemisService(ctx)
    key = sqs.DUMMY_CREDENTIALS
    secret = f"{key['aws_access_key_id']}:{key['aws_secret_access_key']}"
    sources = [
        f"amqp://{rabbitmq.USER}:{rabbitmq._PASSWORD}@127.0.0.1:{rabbit.port('amqp')}/",
        f"rabbitmq+http://{rabbitmq.USER}:{rabbitmq._PASSWORD}@127.0.0.1:"
        f"{rabbit.port('management')}",
        f"amqp1://{artemis.USER}:{artemis._PASSWORD}@127.0.0.1:{amqp1.port('acceptor')}",
    ]
    # the secured listeners, when this sandbox runs them, verified against the sandbox's CA
    if rabbit.secured:
        ca = quote(str(rabbit.tls_files.ca_cert), safe="")
        sources += [
            f"amqps://{rabbitmq.USER}:{rabbitmq._PASSWORD}@127.0.0.1:{rabbit.port('amqps')}/"
            f"?cafile={ca}",
            f"rabbitmq+https://{rabbitmq.USER}:{rabbitmq._PASSWORD}@127.0.0.1:"
            f"{rabbit.port('management_tls')}?cafile={ca}",
        ]
    if amqp1.secured:
        ca = quote(str(amqp1.tls_files.ca_cert), safe="")
        sources.append(
            f"amqp1s://{artemis.USER}:{artemis._PASSWORD}@127.0.0.1:{amqp1.port('tls')}?cafile={ca}"
        )
    for service in (sqs.MotoService(ctx), sqs.ElasticMQService(ctx)):
        host_port = service.endpoint_url.split("://", 1)[1]
        sources.append(f"sqs+http://{secret}@{host_port}?region={sqs.REGION}")
    return KafkaService(ctx).bootstrap, sources
