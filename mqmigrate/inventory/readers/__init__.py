"""Readers: one module per input kind; :func:`read_source` picks one by sniffing the argument.

URI schemes (live sources, credentials in the URI or the environment):

=========================================  ==================================================
``rabbitmq+http://user:pass@host:15672``   RabbitMQ management HTTP API (``+https`` for TLS);
                                           a plain ``http(s)://`` URI with port 15672 or an
                                           ``/api`` path is taken as RabbitMQ too
``sqs://REGION``                           SQS through boto3's credential chain
                                           (``?profile=NAME`` picks a profile)
``sqs+http://host:port?region=R``          SQS-compatible endpoint (moto, ElasticMQ);
                                           ``+https`` for TLS
``artemis+http://user:pass@host:8161``     ActiveMQ Artemis through Jolokia
                                           (``?broker=NAME``, default ``0.0.0.0``);
                                           ``+https`` for TLS
=========================================  ==================================================

TLS settings (``?cafile=&certfile=&keyfile=&server_name=``) and secrets by reference
(``${env:NAME}``, ``${file:PATH}``, ``?password_env=``) are the same as for every source URI:
see :mod:`mqmigrate.sources.uri`.

Anything else is a file (or a directory of ``.tf`` files) sniffed by content: RabbitMQ
definitions JSON, the tool's inventory dump, CloudFormation JSON/YAML, ARM templates and Bicep
(Azure Service Bus), Terraform HCL (SQS and Service Bus resources), the AMQP 1.0 address YAML,
an ActiveMQ Artemis ``broker.xml``, an IBM MQ MQSC script.  A file whose kind is not
recognised, or that declares no queue the tool can read, is a :class:`ConfigError` naming what
it found, never an empty estate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mqmigrate.errors import ConfigError, UsageError
from mqmigrate.inventory.model import Estate, Source
from mqmigrate.inventory.readers import _files
from mqmigrate.sources.uri import SCHEMES

#: live URI scheme → reader module (from the one scheme table); imported only when used
LIVE_SCHEMES = {name: scheme.reader for name, scheme in SCHEMES.items() if scheme.reader}

Progress = Callable[[str, int, int], None]


def _scheme(arg: str) -> str | None:
    if "://" not in arg:
        return None
    return arg.split("://", 1)[0].lower()


def read_source(
    arg: str, *, prefix: str | None = None, progress: Progress | None = None
) -> list[Source]:
    """Read one SOURCE argument (URI or path) into one or more sources."""
    scheme = _scheme(arg)
    if scheme is not None:
        if scheme in ("http", "https"):
            from urllib.parse import urlsplit

            parts = urlsplit(arg)
            if parts.port == 15672 or parts.path.rstrip("/").endswith("/api"):
                scheme = "rabbitmq+" + scheme
                arg = "rabbitmq+" + arg
            else:
                raise UsageError(
                    f"cannot tell which broker {_masked(arg)} is",
                    hint="use rabbitmq+http://, sqs+http:// or artemis+http://",
                )
        module = LIVE_SCHEMES.get(scheme)
        if module is None:
            from difflib import get_close_matches

            close = get_close_matches(scheme, list(LIVE_SCHEMES), n=1)
            hint = (
                f"did you mean {close[0]}://?"
                if close
                else ("known schemes: " + ", ".join(sorted(set(LIVE_SCHEMES))))
            )
            raise UsageError(f"unknown source scheme {scheme}:// in {_masked(arg)}", hint=hint)
        import importlib

        mod = importlib.import_module(f"mqmigrate.inventory.readers.{module}")
        return [mod.read(arg, prefix=prefix, progress=progress)]
    return read_file(Path(arg), prefix=prefix)


def _masked(arg: str) -> str:
    from mqmigrate.redact import mask_uri

    return mask_uri(arg)


def read_file(path: Path, *, prefix: str | None = None) -> list[Source]:
    """Sniff and read an export/IaC/dump file."""
    from mqmigrate.inventory.readers import (
        amqp1_yaml,
        cloudformation,
        dump,
        rabbitmq_definitions,
        servicebus_arm,
        servicebus_bicep,
    )

    if path.is_dir():
        tfs = sorted(path.glob("*.tf"))
        if not tfs:
            raise ConfigError(f"{path}: directory has no .tf files")
        return _filter(_terraform(tfs, [_files.read_text(p) for p in tfs], path), prefix)
    text = _files.read_text(path)
    suffix = path.suffix.lower()
    stripped = text.lstrip()
    broker_file = _read_broker_file(path, text, suffix)
    if broker_file is not None:
        return _filter([broker_file], prefix)
    if suffix == ".bicep" or servicebus_bicep.any_resource(text):
        if not servicebus_bicep.looks_like(text):
            raise ConfigError(
                f"{path}: Bicep file declares no Microsoft.ServiceBus queue, topic "
                "or subscription: nothing to assess",
                hint="mqmigrate reads Service Bus resources from Bicep",
            )
        return _filter(_nonempty(path, servicebus_bicep.read(path, text), "Bicep file"), prefix)
    if suffix == ".tf" or (
        suffix not in (".json", ".yaml", ".yml", ".template")
        and not stripped.startswith(("{", "["))
        and "resource " in text
    ):
        return _filter(_terraform([path], [text], path), prefix)
    if suffix == ".json" or stripped.startswith(("{", "[")):
        data = _files.parse_json(path, text)
        if dump.looks_like(data):
            return _filter(dump.read(path, data).sources, prefix)
        if cloudformation.looks_like(data):
            return _filter([_cloudformation(path, data)], prefix)
        if servicebus_arm.looks_like(data):
            sources = servicebus_arm.read(path, data)
            if not any(s.queues for s in sources):
                raise ConfigError(
                    f"{path}: ARM template declares no Service Bus queue or subscription "
                    f"(found {_found(servicebus_arm.resource_types(data))}): nothing to assess",
                    hint="mqmigrate reads Microsoft.ServiceBus/namespaces queues, topics and "
                    "subscriptions from ARM templates",
                )
            return _filter(sources, prefix)
        if rabbitmq_definitions.looks_like(data):
            return _filter([rabbitmq_definitions.read(path, data)], prefix)
        keys = (
            ("keys " + ", ".join(sorted(map(str, data))[:6]) if data else "an empty object")
            if isinstance(data, dict)
            else f"a JSON {type(data).__name__}"
        )
        raise ConfigError(
            f"{path}: JSON is not a RabbitMQ definitions export, a CloudFormation "
            f"or ARM template or an mqmigrate inventory dump (found {keys})"
        )
    data = cloudformation.load_yaml(path, text)
    if cloudformation.looks_like(data):
        return _filter([_cloudformation(path, data)], prefix)
    if amqp1_yaml.looks_like(data):
        return _filter([amqp1_yaml.read(path, data)], prefix)
    if not isinstance(data, dict):
        found = (
            "an empty file"
            if data is None
            else (
                "plain text"
                if isinstance(data, (str, int, float))
                else f"a YAML {type(data).__name__}"
            )
        )
        raise ConfigError(
            f"{path}: not an estate file the tool reads (found {found})",
            hint="pass RabbitMQ definitions JSON, Terraform, CloudFormation, an ARM "
            "template, Bicep, an AMQP 1.0 address YAML or an inventory dump",
        )
    raise cloudformation.wrong_format(path)


def _found(types: list[str]) -> str:
    """``aws_s3_bucket x2, aws_iam_role`` from a list of resource types."""
    from collections import Counter

    if not types:
        return "no resource"
    counts = Counter(types)
    shown = [f"{t} x{n}" if n > 1 else t for t, n in sorted(counts.items())[:8]]
    return ", ".join(shown) + (", …" if len(counts) > 8 else "")


def _nonempty(path: Path, sources: list[Source], what: str) -> list[Source]:
    if not any(s.queues for s in sources):
        raise ConfigError(f"{path}: {what} declares no queue or subscription: nothing to assess")
    return sources


def _cloudformation(path: Path, data: dict) -> Source:
    from mqmigrate.inventory.readers import cloudformation

    source = cloudformation.read(path, data)
    if not source.queues:
        types = [str(r.get("Type")) for r in data["Resources"].values() if isinstance(r, dict)]
        raise ConfigError(
            f"{path}: CloudFormation template declares no AWS::SQS::Queue "
            f"(found {_found(types)}): nothing to assess"
        )
    return source


def _terraform(paths: list[Path], texts: list[str], where: Path) -> list[Source]:
    """SQS and Service Bus resources of one or more ``.tf`` files; a ``ConfigError`` naming the
    resource types found when none of them is a queue the tool reads."""
    from mqmigrate.inventory.readers import servicebus_terraform, terraform

    docs = [terraform.parse_hcl(p, t) for p, t in zip(paths, texts)]
    types = [t for d in docs for t in servicebus_terraform.resource_types(d)]
    sources: list[Source] = []
    if any(t.startswith("aws_sqs_queue") for t in types):
        sources.append(terraform.read(paths, texts))
    if any(t in servicebus_terraform.RESOURCE_TYPES for t in types):
        sources.extend(servicebus_terraform.read(paths, docs))
    if not any(s.queues for s in sources):
        raise ConfigError(
            f"{where}: Terraform declares no queue the tool can read (found {_found(types)}): "
            "nothing to assess",
            hint="mqmigrate reads aws_sqs_queue and azurerm_servicebus_queue/_topic/"
            "_subscription resources",
        )
    return sources


def _read_broker_file(path: Path, text: str, suffix: str) -> Source | None:
    """An Artemis broker.xml or an IBM MQ MQSC script (by content), or None for other files."""
    from mqmigrate.inventory.readers import artemis_xml, mqsc

    if suffix == ".xml" or text.lstrip().startswith("<"):
        if artemis_xml.looks_like(text):
            return artemis_xml.read(path, text)
        root = artemis_xml.parse(path, text)
        raise ConfigError(
            f"{path}: XML with root element <{root.tag.rsplit('}', 1)[-1]}> is "
            "not an ActiveMQ Artemis broker.xml (the only XML input read)"
        )
    if suffix == ".tf":
        return None
    if suffix == ".mqsc" or mqsc.looks_like(text):
        return mqsc.read(path, text)
    return None


def _filter(sources: list[Source], prefix: str | None) -> list[Source]:
    """Files are read whole whatever the prefix: rules need the queues around a workload
    (dead-letter targets, retry loops, policies); the engine filters the workloads."""
    return sources


def filter_estate(estate: Estate, prefix: str | None) -> Estate:
    """A copy of ``estate`` with only the queues (and edges) whose name starts with ``prefix``."""
    if not prefix:
        return estate
    out = estate.model_copy(deep=True)
    for s in out.sources:
        s.queues = [q for q in s.queues if q.name.startswith(prefix)]
        s.edges = [e for e in s.edges if e.queue.startswith(prefix)]
        s.notes.append(f"queues filtered by prefix {prefix!r}")
    return out


def read_estate(
    args: list[str], *, prefix: str | None = None, progress: Progress | None = None
) -> Estate:
    """An :class:`Estate` covering every SOURCE argument."""
    sources: list[Source] = []
    for arg in args:
        sources.extend(read_source(arg, prefix=prefix, progress=progress))
    return Estate(sources=sources)
