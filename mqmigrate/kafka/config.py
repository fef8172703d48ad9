"""The one Kafka connection configuration every Kafka client of the package is built from.

A :class:`KafkaConfig` holds librdkafka properties (``bootstrap.servers``, ``security.protocol``,
``sasl.*``, ``ssl.*`` ...).  :meth:`KafkaConfig.client` returns a fresh dict for a
confluent-kafka ``Producer``, ``Consumer``, ``AdminClient`` or ``ShareConsumer``; no module
builds a client config any other way (``tests/unit/test_kafka_client_guard.py`` checks).

:func:`load_kafka_config` reads it from, in order of precedence:

1. ``--kafka HOST:PORT`` (the bootstrap servers only);
2. the properties file named by ``--kafka-config FILE`` or ``$MQMIGRATE_KAFKA_CONFIG``;
3. the playbook's ``kafka`` section (``bootstrap`` and ``credentials``, which references a
   properties file by path or by the environment variable holding its path).

The file is the librdkafka / Java properties format Confluent Cloud and others hand out
(``key=value`` or ``key: value``, ``#`` and ``!`` comments).  Values may reference
``${env:NAME}`` and ``${file:PATH}`` so that no secret has to be written into it.  Settings
only the Java client knows are translated (``sasl.jaas.config`` of the PLAIN, SCRAM,
OAUTHBEARER and MSK IAM login modules) or refused with a one-line error saying what to use
instead (JKS trust and key stores).  Keys under ``mqmigrate.`` are this tool's own:

* ``mqmigrate.oauth.callback=package.module:function`` — an OAUTHBEARER token callback,
  called as ``function(sasl_oauthbearer_config)`` and returning ``(token, expiry_epoch_s)``;
* ``mqmigrate.aws.region`` / ``mqmigrate.aws.profile`` / ``mqmigrate.aws.role.arn`` — for
  ``sasl.mechanism=AWS_MSK_IAM`` (tokens from ``aws-msk-iam-sasl-signer-python``, the
  ``mqmigrate[msk-iam]`` extra).

Secrets never show: ``repr`` masks every secret-looking value and ``str`` is the endpoint.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from mqmigrate.errors import ConfigError
from mqmigrate.secrets import expand_references  # one ${env:}/${file:} implementation
from mqmigrate.properties import parse_properties  # re-exported: the Kafka client file syntax

#: the environment variable naming a properties file when --kafka-config is not given
ENV_VAR = "MQMIGRATE_KAFKA_CONFIG"

#: keys whose value is shown as *** (plus every key containing "password" or "secret")
SECRET_KEYS = frozenset(
    {
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.truststore.password",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.config",
        "sasl.jaas.config",
        "ssl.key.pem",
        "ssl_key",
        "sasl.oauthbearer.assertion.private.key.passphrase",
        "sasl.oauthbearer.assertion.private.key.pem",
    }
)

#: the tool's own keys; never handed to librdkafka
OWN_PREFIX = "mqmigrate."
OAUTH_CALLBACK_KEY = "mqmigrate.oauth.callback"
AWS_REGION_KEY = "mqmigrate.aws.region"
AWS_PROFILE_KEY = "mqmigrate.aws.profile"
AWS_ROLE_KEY = "mqmigrate.aws.role.arn"
MSK_IAM_KEY = "mqmigrate.aws.msk.iam"
_OWN_KEYS = {OAUTH_CALLBACK_KEY, AWS_REGION_KEY, AWS_PROFILE_KEY, AWS_ROLE_KEY, MSK_IAM_KEY}

#: Java-client settings with no meaning for this tool's clients (serializers, Schema Registry);
#: Confluent Cloud's Java snippet carries them, so they are dropped rather than refused
_JAVA_ONLY_IGNORED = frozenset(
    {
        "key.serializer",
        "value.serializer",
        "key.deserializer",
        "value.deserializer",
        "schema.registry.url",
        "basic.auth.credentials.source",
        "basic.auth.user.info",
        "schema.registry.basic.auth.user.info",
        "schema.registry.basic.auth.credentials.source",
        "specific.avro.reader",
        "auto.register.schemas",
        "use.latest.version",
    }
)

_MASK = "***"


def is_secret_key(key: str) -> bool:
    """True when the value of ``key`` must never be shown."""
    lowered = key.lower()
    return (
        lowered in SECRET_KEYS
        or "password" in lowered
        or "secret" in lowered
        or lowered.endswith(".pem")
        and "key" in lowered
    )


@dataclass(frozen=True)
class KafkaConfig:
    """librdkafka properties for every Kafka client of one cluster (immutable).

    ``path`` is the properties file it was read from, if any: commands that start other
    mqmigrate processes pass that path on (``--kafka-config``), never the secrets.
    """

    properties: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", MappingProxyType(dict(self.properties)))

    # ------------------------------------------------------------------ construction
    @classmethod
    def for_bootstrap(cls, bootstrap: str) -> "KafkaConfig":
        """A plaintext configuration: the bootstrap servers and nothing else."""
        return cls({"bootstrap.servers": bootstrap})

    def with_bootstrap(self, bootstrap: str) -> "KafkaConfig":
        """The same configuration for other bootstrap servers."""
        return KafkaConfig({**self.properties, "bootstrap.servers": bootstrap}, self.path)

    def with_overrides(
        self, extra: Mapping[str, Any] | None = None, /, **overrides: Any
    ) -> "KafkaConfig":
        """A copy with ``extra`` and ``overrides`` (librdkafka names) laid over the properties."""
        return KafkaConfig({**self.properties, **(extra or {}), **overrides}, self.path)

    # ------------------------------------------------------------------ reading
    @property
    def bootstrap(self) -> str:
        """``bootstrap.servers``; a ConfigError when the configuration has none."""
        value = str(self.properties.get("bootstrap.servers") or "").strip()
        if not value:
            raise ConfigError(
                "no Kafka bootstrap servers configured",
                hint="give --kafka HOST:PORT, bootstrap.servers in --kafka-config, "
                "or kafka.bootstrap in the playbook",
            )
        return value

    @property
    def security_protocol(self) -> str:
        """``security.protocol`` in upper case (``PLAINTEXT`` when unset)."""
        return str(self.properties.get("security.protocol") or "PLAINTEXT").upper()

    @property
    def sasl_mechanism(self) -> str | None:
        """The SASL mechanism (``sasl.mechanism`` or its alias ``sasl.mechanisms``), if any."""
        value = self.properties.get("sasl.mechanism") or self.properties.get("sasl.mechanisms")
        return str(value).upper() if value else None

    @property
    def secured(self) -> bool:
        """True unless the connection is plain PLAINTEXT."""
        return self.security_protocol != "PLAINTEXT"

    def describe(self) -> str:
        """``host:port`` plus protocol and mechanism, e.g. ``b1:9093 (SASL_SSL, SCRAM-SHA-512)``."""
        servers = str(self.properties.get("bootstrap.servers") or "?")
        if not self.secured:
            return servers
        detail = self.security_protocol
        if self.sasl_mechanism and self.security_protocol.startswith("SASL"):
            detail += f", {self.sasl_mechanism}"
        return f"{servers} ({detail})"

    def client(self, extra: Mapping[str, Any] | None = None, /, **overrides: Any) -> dict[str, Any]:
        """A fresh dict for a confluent-kafka client: the properties with the tool's own keys
        resolved (OAUTHBEARER callback, MSK IAM), then ``extra`` and ``overrides`` on top.

        Overrides use librdkafka names: ``client({"acks": "all"})`` or
        ``client(**{"group.id": "g"})``.
        """
        settings = {
            key: value for key, value in self.properties.items() if not key.startswith(OWN_PREFIX)
        }
        callback = _token_callback(self)
        if callback is not None:
            settings.setdefault("oauth_cb", callback)
        settings.update(extra or {})
        settings.update(overrides)
        return settings

    def masked(self) -> dict[str, Any]:
        """The properties with every secret replaced by ``***`` (for logs and reports)."""
        shown: dict[str, Any] = {}
        for key, value in self.properties.items():
            if is_secret_key(key):
                shown[key] = _MASK
            elif callable(value):
                shown[key] = f"<callable {getattr(value, '__qualname__', type(value).__name__)}>"
            else:
                shown[key] = value
        return shown

    def __repr__(self) -> str:
        origin = f", path={str(self.path)!r}" if self.path else ""
        return f"KafkaConfig({self.masked()!r}{origin})"

    def __str__(self) -> str:
        return self.describe()


# ---------------------------------------------------------------------------- coercion


def as_kafka_config(
    value: "KafkaConfig | Mapping[str, Any] | str | os.PathLike | None",
    *,
    environ: Mapping[str, str] = os.environ,
) -> KafkaConfig:
    """A KafkaConfig from what the SDKs and older call sites pass.

    ``KafkaConfig`` as is; a mapping of librdkafka properties; a ``Path`` (or ``os.PathLike``)
    of a properties file; a plain string of bootstrap servers (``host:port[,...]``).
    """
    if isinstance(value, KafkaConfig):
        return value
    if value is None:
        raise ConfigError(
            "no Kafka configuration given", hint="pass the bootstrap servers or a kafka_config"
        )
    if isinstance(value, Mapping):
        return normalize_properties(dict(value), origin="kafka_config")
    if isinstance(value, os.PathLike):
        return read_config_file(Path(value), environ=environ)
    if isinstance(value, str):
        return KafkaConfig.for_bootstrap(value)
    raise ConfigError(
        f"kafka_config must be a KafkaConfig, a mapping, a path or host:port, "
        f"not {type(value).__name__}"
    )


def connection_config(
    bootstrap: "KafkaConfig | str | None", kafka_config: Any = None
) -> KafkaConfig:
    """The SDKs' ``(bootstrap, kafka_config=)`` pair as one KafkaConfig: ``kafka_config`` (any
    form :func:`as_kafka_config` takes) with ``bootstrap`` servers, when given, over its own."""
    if kafka_config is None:
        return as_kafka_config(bootstrap)
    config = as_kafka_config(kafka_config)
    if isinstance(bootstrap, KafkaConfig):
        raise ConfigError("give the KafkaConfig once: as bootstrap or as kafka_config")
    if bootstrap:
        config = config.with_bootstrap(bootstrap)
    _ = config.bootstrap  # a ConfigError now rather than at the first connection
    return config


def bootstrap_of(value: "KafkaConfig | str") -> str:
    """The bootstrap servers of a KafkaConfig or of a plain ``host:port`` string."""
    return value.bootstrap if isinstance(value, KafkaConfig) else str(value)


# ---------------------------------------------------------------------------- loading


def load_kafka_config(
    bootstrap: str | None,
    config_file: Path | None = None,
    *,
    playbook_section: Any = None,
    base_dir: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    required: bool = True,
) -> KafkaConfig:
    """The Kafka configuration of one command.

    Precedence: ``bootstrap`` (``--kafka``) over the file's ``bootstrap.servers`` over the
    playbook's ``kafka.bootstrap``; the file is ``config_file`` (``--kafka-config``), else
    ``$MQMIGRATE_KAFKA_CONFIG``, else the one ``playbook_section['credentials']`` references
    (``{file: PATH}``, relative to ``base_dir``, or ``{env: NAME}``: the variable holds the
    path).  ``playbook_section`` is the playbook's ``kafka`` mapping or model.  Without any
    bootstrap servers a ConfigError is raised unless ``required`` is False.
    """
    section = _section_dict(playbook_section)
    path = Path(config_file) if config_file else None
    if path is None and environ.get(ENV_VAR):
        path = Path(environ[ENV_VAR])
    if path is None:
        path = _credentials_file(section.get("credentials"), base_dir, environ)
    config = read_config_file(path, environ=environ) if path is not None else KafkaConfig()
    chosen = (
        (bootstrap or "").strip()
        or config.properties.get("bootstrap.servers")
        or section.get("bootstrap")
    )
    if chosen:
        config = config.with_bootstrap(str(chosen).strip())
    elif required:
        _ = config.bootstrap  # raises the ConfigError that says where bootstrap servers come from
    return config


def _section_dict(section: Any) -> dict[str, Any]:
    if section is None:
        return {}
    if hasattr(section, "model_dump"):
        return section.model_dump(by_alias=True, exclude_none=True)
    return dict(section)


def _credentials_file(
    credentials: Any, base_dir: Path | None, environ: Mapping[str, str]
) -> Path | None:
    """The properties file the playbook's ``kafka.credentials`` references, if any."""
    if not credentials:
        return None
    if not isinstance(credentials, Mapping):
        raise ConfigError("playbook kafka.credentials must be {file: PATH} or {env: NAME}")
    if credentials.get("file"):
        path = Path(str(credentials["file"])).expanduser()
        return path if path.is_absolute() or base_dir is None else base_dir / path
    name = credentials.get("env")
    if name:
        value = environ.get(str(name))
        if not value:
            raise ConfigError(
                f"playbook kafka.credentials: environment variable {name} is not set",
                hint=f"set {name} to the path of a Kafka client properties file",
            )
        return Path(value).expanduser()
    raise ConfigError("playbook kafka.credentials must be {file: PATH} or {env: NAME}")


def read_config_file(path: Path, *, environ: Mapping[str, str] = os.environ) -> KafkaConfig:
    """Parse, expand and translate one properties file."""
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"Kafka config file {path} does not exist",
            hint="check --kafka-config / $MQMIGRATE_KAFKA_CONFIG",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read Kafka config file {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"Kafka config file {path} is not UTF-8 text",
            hint="a librdkafka/Java properties file: key=value lines",
        ) from None
    properties = parse_properties(text, origin=str(path))
    expanded = expand_references(
        properties, origin=str(path), base_dir=path.parent, environ=environ
    )
    return normalize_properties(expanded, origin=str(path), path=path.resolve())


# ---------------------------------------------------------------------------- parsing

# ---------------------------------------------------------------------------- Java → librdkafka


def normalize_properties(
    properties: dict[str, Any], *, origin: str, path: Path | None = None
) -> KafkaConfig:
    """Translate Java-client settings to librdkafka ones, refuse what librdkafka cannot do,
    check the tool's own keys, and return the KafkaConfig."""
    props = dict(properties)
    for key in list(props):
        if key in _JAVA_ONLY_IGNORED:
            del props[key]
    _refuse_java_stores(props, origin)
    if "sasl.jaas.config" in props:
        _translate_jaas(props, origin)
    if str(props.get("ssl.endpoint.identification.algorithm", "x")) == "":
        props["ssl.endpoint.identification.algorithm"] = "none"  # Java's "off" is the empty string
    mechanism = str(props.get("sasl.mechanism") or props.get("sasl.mechanisms") or "").upper()
    if mechanism == "AWS_MSK_IAM":
        props.pop("sasl.mechanisms", None)
        props["sasl.mechanism"] = "OAUTHBEARER"
        props[MSK_IAM_KEY] = "true"
    if str(props.get(MSK_IAM_KEY, "")).lower() == "true":
        props.pop("sasl.client.callback.handler.class", None)
        if str(props.get("security.protocol", "SASL_SSL")).upper() != "SASL_SSL":
            raise ConfigError(f"{origin}: MSK IAM needs security.protocol=SASL_SSL")
        props["security.protocol"] = "SASL_SSL"
    for key in ("sasl.login.callback.handler.class", "sasl.client.callback.handler.class"):
        if key in props:
            raise ConfigError(
                f"{origin}: {key} is a Java class this tool cannot load",
                hint="for OAuth client credentials set sasl.oauthbearer.method=oidc "
                "(see docs/security.md); for a custom token use "
                f"{OAUTH_CALLBACK_KEY}=package.module:function",
            )
    unknown = [key for key in props if key.startswith(OWN_PREFIX) and key not in _OWN_KEYS]
    if unknown:
        raise ConfigError(
            f"{origin}: unknown setting {unknown[0]}",
            hint="the tool's own settings are " + ", ".join(sorted(_OWN_KEYS)),
        )
    config = KafkaConfig(props, path)
    _token_callback(config)  # fail now, not at the first connection, on a bad callback/extra
    return config


def _refuse_java_stores(props: dict[str, Any], origin: str) -> None:
    for key in (
        "ssl.truststore.location",
        "ssl.truststore.certificates",
        "ssl.truststore.type",
        "ssl.truststore.password",
    ):
        if key in props:
            raise ConfigError(
                f"{origin}: {key}: Java trust stores are not supported",
                hint="give the CA certificate as PEM with ssl.ca.location "
                "(keytool -exportcert -rfc -alias ALIAS -keystore STORE -file ca.pem)",
            )
    store_type = str(props.get("ssl.keystore.type") or "").upper()
    if store_type and store_type not in ("PKCS12", "P12"):
        raise ConfigError(
            f"{origin}: ssl.keystore.type={store_type}: only PKCS#12 key stores are supported",
            hint="convert it (keytool -importkeystore -deststoretype PKCS12) or give PEM files "
            "with ssl.certificate.location and ssl.key.location",
        )
    if "ssl.keystore.type" in props:
        del props["ssl.keystore.type"]  # librdkafka reads PKCS#12 key stores only


_JAAS = re.compile(
    r"^\s*(?P<module>[\w.$]+)\s+(?P<flag>required|requisite|sufficient|optional)"
    r"(?P<options>.*?);?\s*$",
    re.S,
)
_JAAS_OPTION = re.compile(
    r"""(?P<name>[\w.]+)\s*=\s*(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'|(?P<bare>[^\s;]+))"""
)


def parse_jaas(text: str) -> tuple[str, dict[str, str]]:
    """``(login module class, options)`` of one ``sasl.jaas.config`` line."""
    match = _JAAS.match(text)
    if not match:
        raise ValueError("not a JAAS login module line")
    options: dict[str, str] = {}
    for option in _JAAS_OPTION.finditer(match.group("options")):
        value = option.group("dq")
        if value is None:
            value = option.group("sq")
        if value is None:
            value = option.group("bare")
        options[option.group("name")] = re.sub(r"\\(.)", r"\1", value)
    return match.group("module"), options


def _translate_jaas(props: dict[str, Any], origin: str) -> None:
    """``sasl.jaas.config`` (Java) → librdkafka's sasl.username/password or OAUTHBEARER keys."""
    text = str(props.pop("sasl.jaas.config"))
    try:
        module, options = parse_jaas(text)
    except ValueError:
        raise ConfigError(
            f"{origin}: sasl.jaas.config is not a 'LoginModule required ...;' line",
            hint="or give sasl.username and sasl.password instead",
        ) from None
    simple = module.rsplit(".", 1)[-1]
    mechanism = str(props.get("sasl.mechanism") or props.get("sasl.mechanisms") or "").upper()
    if simple in ("PlainLoginModule", "ScramLoginModule"):
        if "username" not in options or "password" not in options:
            raise ConfigError(f"{origin}: sasl.jaas.config: {simple} needs username and password")
        if simple == "PlainLoginModule" and not mechanism:
            props["sasl.mechanism"] = "PLAIN"
        if simple == "ScramLoginModule" and not mechanism.startswith("SCRAM-"):
            raise ConfigError(
                f"{origin}: sasl.jaas.config uses SCRAM: set sasl.mechanism to "
                "SCRAM-SHA-256 or SCRAM-SHA-512"
            )
        props["sasl.username"] = options["username"]
        props["sasl.password"] = options["password"]
    elif simple == "OAuthBearerLoginModule":
        if "unsecuredLoginStringClaim_sub" in options:
            props["enable.sasl.oauthbearer.unsecure.jwt"] = "true"
            props["sasl.oauthbearer.config"] = (
                f"principal={options['unsecuredLoginStringClaim_sub']}"
            )
        elif "clientId" in options:
            props["sasl.oauthbearer.method"] = "oidc"
            props["sasl.oauthbearer.client.id"] = options["clientId"]
            props["sasl.oauthbearer.client.secret"] = options.get("clientSecret", "")
            if options.get("scope"):
                props["sasl.oauthbearer.scope"] = options["scope"]
            props.pop("sasl.login.callback.handler.class", None)
            if "sasl.oauthbearer.token.endpoint.url" not in props:
                raise ConfigError(
                    f"{origin}: OAUTHBEARER with clientId needs sasl.oauthbearer.token.endpoint.url"
                )
        else:
            raise ConfigError(
                f"{origin}: sasl.jaas.config: OAuthBearerLoginModule without clientId",
                hint=f"set {OAUTH_CALLBACK_KEY}=package.module:function",
            )
        props.setdefault("sasl.mechanism", "OAUTHBEARER")
    elif simple == "IAMLoginModule":
        props[MSK_IAM_KEY] = "true"
        if options.get("awsProfileName"):
            props.setdefault(AWS_PROFILE_KEY, options["awsProfileName"])
        if options.get("awsRoleArn"):
            props.setdefault(AWS_ROLE_KEY, options["awsRoleArn"])
    else:
        raise ConfigError(
            f"{origin}: sasl.jaas.config: login module {simple} is not supported",
            hint="supported: PLAIN, SCRAM-SHA-256/512, OAUTHBEARER, MSK IAM, mTLS",
        )


# ---------------------------------------------------------------------------- token callbacks


def _token_callback(config: KafkaConfig) -> Callable[[str], tuple] | None:
    """The OAUTHBEARER callback the tool's own keys ask for, or None."""
    props = config.properties
    if str(props.get(MSK_IAM_KEY, "")).lower() == "true":
        return msk_iam_callback(
            region=_msk_region(props),
            profile=props.get(AWS_PROFILE_KEY),
            role_arn=props.get(AWS_ROLE_KEY),
        )
    reference = props.get(OAUTH_CALLBACK_KEY)
    if reference:
        return import_callback(str(reference))
    return None


def import_callback(reference: str) -> Callable[..., Any]:
    """The function ``package.module:function`` names."""
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{OAUTH_CALLBACK_KEY}={reference!r} is not package.module:function")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{OAUTH_CALLBACK_KEY}: cannot import {module_name}: {exc}") from None
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ConfigError(f"{OAUTH_CALLBACK_KEY}: {module_name} has no {attr}")
    if not callable(target):
        raise ConfigError(f"{OAUTH_CALLBACK_KEY}: {reference} is not callable")
    return target


def _msk_region(props: Mapping[str, Any]) -> str:
    if props.get(AWS_REGION_KEY):
        return str(props[AWS_REGION_KEY])
    match = re.search(
        r"\.kafka(?:-serverless)?\.([a-z0-9-]+)\.amazonaws\.com",
        str(props.get("bootstrap.servers") or ""),
    )
    if match:
        return match.group(1)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    raise ConfigError(
        "MSK IAM needs the AWS region",
        hint=f"set {AWS_REGION_KEY} in the Kafka config file or AWS_REGION",
    )


def msk_iam_callback(
    *, region: str, profile: str | None = None, role_arn: str | None = None
) -> Callable[[str], tuple[str, float]]:
    """An OAUTHBEARER callback that signs MSK IAM tokens with ``aws-msk-iam-sasl-signer-python``."""
    try:
        signer = importlib.import_module("aws_msk_iam_sasl_signer")
    except ImportError:
        raise ConfigError(
            "MSK IAM authentication needs the AWS signer", hint="pip install 'mqmigrate[msk-iam]'"
        ) from None
    provider = signer.MSKAuthTokenProvider

    def callback(_config: str) -> tuple[str, float]:
        if role_arn:
            token, expiry_ms = provider.generate_auth_token_from_role_arn(region, role_arn)
        elif profile:
            token, expiry_ms = provider.generate_auth_token_from_profile(region, profile)
        else:
            token, expiry_ms = provider.generate_auth_token(region)
        return token, expiry_ms / 1000.0

    callback.__qualname__ = "msk_iam_token"
    return callback
