"""Kafka admin calls librdkafka's Python API does not expose, spoken over the wire from Python.

confluent-kafka has neither ``describe_features`` nor any share-group offset call, and Kafka's
own ``ShareGroupCommand`` needs a JDK.  This module uses kafka-python's protocol layer and
network client instead, with the same librdkafka-style connection properties every other Kafka
client of the package takes (TLS, mTLS, SASL PLAIN / SCRAM-SHA-256/512 / OAUTHBEARER), so a
plain ``pip install`` runs these against a remote secured cluster:

* the broker's supported and finalized feature levels (``share.version``,
  ``metadata.version``) from an ApiVersions v3+ response, what ``kafka-features.sh describe``
  reads;
* a share group's start offset and lag per partition (DescribeShareGroupOffsets, API key 90,
  the call ``kafka-share-groups.sh --describe --offsets`` makes; v1 brokers, Kafka 4.2+, report
  the lag themselves);
* setting a share group's start offsets (AlterShareGroupOffsets, API key 91, what
  ``kafka-share-groups.sh --reset-offsets`` sends; Kafka refuses it while the group has
  members).

The two share-group messages are declared from :mod:`mqmigrate.kafka.messages`, which the
library's schema layer loads like its own bundled definitions.

Every failure is a typed :class:`~mqmigrate.errors.MqMigrateError` with one line that names the
endpoint and the likely cause (refused, TLS handshake, authentication, not a Kafka listener),
raised within the given timeout.
"""

from __future__ import annotations

import re

import base64
import json
import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mqmigrate.errors import AuthenticationFailed, ConfigError, ConnectionFailed, MqMigrateError

if TYPE_CHECKING:
    from mqmigrate.kafka.config import KafkaConfig

# metadata.version feature level -> release (from org.apache.kafka.server.common.MetadataVersion)
METADATA_VERSION_RELEASE = {
    7: "3.3",
    8: "3.4",
    9: "3.5",
    10: "3.5",
    11: "3.5",
    12: "3.6",
    13: "3.6",
    14: "3.6",
    15: "3.7",
    16: "3.7",
    17: "3.7",
    18: "3.7",
    19: "3.7",
    20: "3.8",
    21: "3.9",
    22: "4.0",
    23: "4.0",
    24: "4.0",
    25: "4.0",
    26: "4.1",
    27: "4.1",
    28: "4.2",
    29: "4.2",
    30: "4.3",
    31: "4.4",
    32: "4.4",
    33: "4.4",
}

#: Kafka error codes this module tells apart
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
UNSUPPORTED_VERSION = 35

#: what a connection may be given as: the package's Kafka configuration (a KafkaConfig),
#: librdkafka properties, or plaintext bootstrap servers
Connection = Any


@dataclass
class BrokerFeatures:
    """What one broker said in its ApiVersions response."""

    api_versions: dict[int, tuple[int, int]] = field(default_factory=dict)
    supported: dict[str, tuple[int, int]] = field(default_factory=dict)
    finalized: dict[str, int] = field(default_factory=dict)

    def finalized_level(self, feature: str) -> int:
        """Finalized level of ``feature``; an absent feature is at level 0."""
        return self.finalized.get(feature, 0)

    def release(self) -> str | None:
        """The Kafka release line this broker runs, from its highest supported metadata.version.

        Releases newer than this table are reported as ``>4.4``.
        """
        top = self.supported.get("metadata.version", (0, 0))[1]
        if not top:
            return None
        if top in METADATA_VERSION_RELEASE:
            return METADATA_VERSION_RELEASE[top]
        return f">{METADATA_VERSION_RELEASE[max(METADATA_VERSION_RELEASE)]}" if top > 33 else None


@dataclass(frozen=True)
class ShareOffset:
    """One partition of a share group: its share-partition start offset and lag.

    ``None`` means the broker has no value (no share-partition state yet, or a broker that
    does not report lag): unknown, never 0.
    """

    start_offset: int | None
    lag: int | None


def features_from_response(response: Any) -> BrokerFeatures:
    """A :class:`BrokerFeatures` from a decoded ApiVersions response (kafka-python's object)."""
    if response.error_code:
        raise ValueError(f"ApiVersions error code {response.error_code}")
    features = BrokerFeatures()
    for key in response.api_keys or []:
        features.api_versions[key.api_key] = (key.min_version, key.max_version)
    for feature in response.supported_features or []:
        features.supported[feature.name] = (feature.min_version, feature.max_version)
    for feature in response.finalized_features or []:
        features.finalized[feature.name] = feature.max_version_level
    return features


def parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port[,host:port...]`` (optionally ``PROTOCOL://``-prefixed) as pairs."""
    hosts = []
    for item in bootstrap.split(","):
        item = item.strip()
        if "://" in item:
            item = item.split("://", 1)[1]
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad bootstrap address {item!r}: expected host:port")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


# ---------------------------------------------------------------------------- configuration


def kafka_config(connection: Connection) -> "KafkaConfig":
    """The package's Kafka configuration from a KafkaConfig, librdkafka properties or
    plaintext bootstrap servers."""
    from mqmigrate.kafka.config import as_kafka_config

    return as_kafka_config(connection)


def client_settings(config: "KafkaConfig", *, timeout: float = 10.0) -> dict[str, Any]:
    """kafka-python client settings for the librdkafka-style properties of ``config``.

    Reads ``bootstrap.servers``, ``client.id``, ``security.protocol``, ``sasl.mechanism``
    (or ``sasl.mechanisms``), ``sasl.username``/``sasl.password``, the ``ssl.*`` settings
    (through :func:`mqmigrate.kafka.tls.ssl_context`, as every socket of the tool does),
    ``sasl.kerberos.service.name`` and for OAUTHBEARER the configuration's token callback
    (``oauth_cb``), ``sasl.oauthbearer.method=oidc`` (client credentials against
    ``sasl.oauthbearer.token.endpoint.url``) or, as librdkafka does by default, an unsecured
    JWT from ``sasl.oauthbearer.config`` (``principal=... scope=...``).  Other keys concern
    librdkafka only and are ignored.  ``timeout`` bounds bootstrapping and every request.
    """
    from mqmigrate.kafka.tls import ssl_context

    props = {str(key): value for key, value in config.client().items()}
    try:
        servers = [
            f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
            for host, port in parse_bootstrap(config.bootstrap)
        ]
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    protocol = config.security_protocol
    if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ConfigError(
            f"security.protocol={protocol} is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
        )
    millis = max(int(timeout * 1000), 1000)
    settings: dict[str, Any] = {
        "bootstrap_servers": servers,
        "client_id": str(props.get("client.id") or "mqmigrate"),
        "security_protocol": protocol,
        "bootstrap_timeout_ms": millis,
        "request_timeout_ms": millis,
        "reconnect_backoff_max_ms": 1000,
    }
    context = ssl_context(config)
    if context is not None:
        settings["ssl_context"] = context
    if protocol.startswith("SASL"):
        settings.update(_sasl_settings(props))
    return settings


def _sasl_settings(props: Mapping[str, Any]) -> dict[str, Any]:
    mechanism = str(props.get("sasl.mechanism") or props.get("sasl.mechanisms") or "GSSAPI")
    mechanism = mechanism.strip().upper()
    settings: dict[str, Any] = {"sasl_mechanism": mechanism}
    if mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        user, password = props.get("sasl.username"), props.get("sasl.password")
        if not user or password is None:
            raise ConfigError(f"sasl.mechanism={mechanism} needs sasl.username and sasl.password")
        settings["sasl_plain_username"] = str(user)
        settings["sasl_plain_password"] = str(password)
    elif mechanism == "OAUTHBEARER":
        settings["sasl_oauth_token_provider"] = _token_provider(props)
    elif mechanism == "GSSAPI":
        settings["sasl_kerberos_service_name"] = str(
            props.get("sasl.kerberos.service.name") or "kafka"
        )
    else:
        raise ConfigError(
            f"sasl.mechanism={mechanism} is not supported",
            hint="use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or GSSAPI",
        )
    return settings


def _token_provider(props: Mapping[str, Any]):
    """A kafka-python token provider for OAUTHBEARER, chosen as librdkafka chooses."""
    from kafka.net.sasl.oauth import AbstractTokenProvider

    callback = props.get("oauth_cb")  # the configuration's callback, resolved by client()
    config = str(props.get("sasl.oauthbearer.config") or "")
    extensions = _extensions(str(props.get("sasl.oauthbearer.extensions") or ""))
    if callback is None:
        if str(props.get("sasl.oauthbearer.method") or "default").lower() == "oidc":
            callback = _oidc_callback(props)
        else:
            callback = unsecured_jwt_callback
            extensions.update(
                {
                    key[len("extension_") :]: value
                    for key, value in _pairs(config).items()
                    if key.startswith("extension_")
                }
            )

    class Provider(AbstractTokenProvider):
        """Caches the token until a minute before it expires, as librdkafka refreshes it."""

        def __init__(self) -> None:
            self._token: str | None = None
            self._expires = 0.0

        def token(self) -> str:
            if self._token is None or time.time() > self._expires - 60:
                answer = callback(config)
                token, expiry = answer[0], answer[1]
                self._token, self._expires = str(token), float(expiry)
            return self._token

        def extensions(self) -> dict[str, str]:
            return dict(extensions)

    return Provider()


def _pairs(text: str) -> dict[str, str]:
    """``a=b c=d`` (librdkafka's sasl.oauthbearer.config syntax) as a dict."""
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def _extensions(text: str) -> dict[str, str]:
    """``a=b,c=d`` (sasl.oauthbearer.extensions) as a dict."""
    return dict(item.strip().split("=", 1) for item in text.split(",") if "=" in item)


def unsecured_jwt_callback(config: str) -> tuple[str, float]:
    """An unsigned JWT as librdkafka's default OAUTHBEARER handler builds it from
    ``sasl.oauthbearer.config`` (``principal=NAME [scope=A,B] [lifeSeconds=N]
    [scopeClaimName=scope] [principalClaimName=sub]``): for brokers using Kafka's unsecured
    validator (development and test clusters only)."""
    pairs = _pairs(config)
    principal = pairs.get("principal")
    if not principal:
        raise ConfigError(
            "OAUTHBEARER without sasl.oauthbearer.method=oidc or a token callback "
            "needs sasl.oauthbearer.config=principal=NAME (an unsecured token)"
        )
    now = int(time.time())
    life = int(pairs.get("lifeSeconds", "3600"))
    claims: dict[str, Any] = {
        pairs.get("principalClaimName", "sub"): principal,
        "iat": now,
        "exp": now + life,
    }
    if pairs.get("scope"):
        claims[pairs.get("scopeClaimName", "scope")] = pairs["scope"].split(",")

    def part(data: dict) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.", float(now + life)


def _oidc_callback(props: Mapping[str, Any]) -> Callable[[str], tuple[str, float]]:
    """OAuth 2 client credentials against ``sasl.oauthbearer.token.endpoint.url``."""
    url = props.get("sasl.oauthbearer.token.endpoint.url")
    client_id = props.get("sasl.oauthbearer.client.id")
    secret = props.get("sasl.oauthbearer.client.secret")
    if not (url and client_id and secret):
        raise ConfigError(
            "sasl.oauthbearer.method=oidc needs sasl.oauthbearer.client.id, "
            "sasl.oauthbearer.client.secret and "
            "sasl.oauthbearer.token.endpoint.url"
        )
    scope = props.get("sasl.oauthbearer.scope")

    def fetch(_config: str) -> tuple[str, float]:
        import httpx

        form = {"grant_type": "client_credentials"}
        if scope:
            form["scope"] = str(scope)
        try:
            answer = httpx.post(
                str(url), data=form, auth=(str(client_id), str(secret)), timeout=10.0
            )
            answer.raise_for_status()
            body = answer.json()
            return str(body["access_token"]), time.time() + float(body.get("expires_in", 300))
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise AuthenticationFailed(
                f"OAuth token endpoint {url} gave no token: {_reason(exc)}"
            ) from exc

    return fetch


# ---------------------------------------------------------------------------- the client


class _Causes(logging.Handler):
    """Keeps the connection failure the library logs while it retries, so an error can say
    why (refused, TLS handshake, authentication) instead of only "timed out".

    A broker that refuses SASL credentials may close the connection without an error
    response; a connection lost after the broker version was identified (the ApiVersions
    exchange that precedes SASL) and before the library logged "Authenticated" is therefore
    taken as refused credentials.
    """

    def __init__(self, sasl: bool) -> None:
        super().__init__(logging.INFO)
        self.last: str | None = None
        self._sasl = sasl
        self._authenticating = False

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "Broker version identified" in message:
            self._authenticating = self._sasl
            return
        if "Authenticated" in message or "SaslHandshake failed" in message:
            self._authenticating = False  # past SASL, or refused before any credential
            if "Authenticated" in message:
                return
        if record.levelno < logging.WARNING or "Unable to bootstrap" in message:
            return  # the final timeout hides the cause
        for marker in ("Connection failed: ", "Connection lost: ", "failed: "):
            if marker in message:
                cause = message.split(marker, 1)[1].split(" (backoff")[0].strip()
                dropped = any(word in cause.lower() for word in ("disconnected", "reset", "eof"))
                if self._authenticating and "Connection lost: " in message and dropped:
                    cause = f"SaslAuthenticationFailed: connection closed during SASL ({cause})"
                    self._authenticating = False
                # the broker may just drop the next attempts: a refusal seen once stays the
                # cause (credentials, then TLS, then anything else)
                if self.last is None or _rank(cause) >= _rank(self.last):
                    self.last = cause
                return


def _rank(cause: str) -> int:
    lowered = cause.lower()
    if "sasl" in lowered or "authentication" in lowered:
        return 3
    if "ssl" in lowered or "handshake" in lowered:
        return 2
    return 1


_library_log = logging.getLogger("kafka")


def _quiet_library() -> None:
    """The library logs each retry at ERROR with tracebacks: keep that off the user's
    terminal (this module reports one line instead)."""
    if not getattr(_library_log, "_mqmigrate_quiet", False):
        _library_log.addHandler(logging.NullHandler())
        _library_log.propagate = False
        _library_log._mqmigrate_quiet = True


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _tls_record_as_frame_length(lowered: str) -> bool:
    """True when the "frame length" kafka-python read is a TLS record header: a TLS listener
    answers a plaintext request with an alert (0x15) or handshake (0x16) record of version 3.x,
    whose first four bytes read as a length of 0x1503.... or 0x1603...."""
    match = re.search(r"invalid frame length:?\s*(-?\d+)", lowered)
    if match is None:
        return False
    length = int(match.group(1)) & 0xFFFFFFFF
    return length >> 24 in (0x15, 0x16) and (length >> 16) & 0xFF == 0x03


def explain(endpoint: str, cause: str | None, protocol: str, timeout: float) -> MqMigrateError:
    """One typed error naming ``endpoint`` and the likely cause of a failed connection."""
    text = cause or ""
    lowered = text.lower()
    if "closed during sasl" in lowered:
        return AuthenticationFailed(
            f"Kafka at {endpoint} closed the connection during SASL authentication: it refused "
            "the credentials or the mechanism",
            hint="check sasl.username/sasl.password (or the token) and that the listener "
            "enables sasl.mechanism",
        )
    if (
        "saslauthenticationfailed" in lowered
        or "authentication failed" in lowered
        or "invalid credentials" in lowered
        or "authentication/authorization" in lowered
    ):
        return AuthenticationFailed(
            f"Kafka at {endpoint} refused the credentials (SASL authentication failed)",
            hint="check sasl.username/sasl.password, the token, or sasl.mechanism",
        )
    if "unsupportedsaslmechanism" in lowered:
        return AuthenticationFailed(
            f"Kafka at {endpoint} does not accept this SASL mechanism ({_short(text)})",
            hint="set sasl.mechanism to one the listener enables",
        )
    if "certificate_verify_failed" in lowered or "certificate verify failed" in lowered:
        return ConnectionFailed(
            f"TLS handshake with Kafka at {endpoint} failed: the broker's certificate is not "
            f"trusted ({_short(text)})",
            hint="set ssl.ca.location to the CA that signed the broker certificate",
        )
    if any(
        alert in lowered
        for alert in (
            "alert certificate",
            "alert bad certificate",
            "certificate required",
            "alert unknown ca",
        )
    ):
        return ConnectionFailed(
            f"TLS handshake with Kafka at {endpoint} failed: the broker refused the client "
            f"certificate ({_short(text)})",
            hint="the certificate (ssl.certificate.location) may be expired, or signed by a CA "
            "the broker does not trust",
        )
    if "handshake" in lowered or "ssl" in lowered or "tls" in lowered:
        plaintext = protocol in ("SSL", "SASL_SSL")
        return ConnectionFailed(
            f"TLS handshake with Kafka at {endpoint} failed ({_short(text)})",
            hint="the listener may be plaintext: check security.protocol"
            if plaintext
            else "check the client certificate (ssl.certificate.location) and the broker's TLS setup",
        )
    if "illegalsaslstate" in lowered:
        return ConnectionFailed(
            f"Kafka at {endpoint} refused the SASL handshake: the listener does not take SASL",
            hint="check security.protocol (PLAINTEXT or SSL for this listener?)",
        )
    if "econnrefused" in lowered or "connection refused" in lowered:
        return ConnectionFailed(
            f"Kafka at {endpoint}: connection refused (nothing listens there)",
            hint="check the bootstrap address and port",
        )
    if "dns" in lowered or "name or service not known" in lowered:
        return ConnectionFailed(
            f"Kafka at {endpoint}: the host name does not resolve",
            hint="check the bootstrap address",
        )
    if "invalid frame length" in lowered or "invalidreceive" in lowered:
        if _tls_record_as_frame_length(lowered):
            return ConnectionFailed(
                f"Kafka at {endpoint} answered with TLS: a TLS listener spoken to in plaintext",
                hint="set security.protocol to SSL or SASL_SSL (and ssl.ca.location) for this "
                "listener",
            )
        return ConnectionFailed(
            f"{endpoint} is not a Kafka listener (its answer is no Kafka response)",
            hint="check the bootstrap address and port",
        )
    if "timed out" in lowered or "disconnected" in lowered or "reset by peer" in lowered:
        secured = protocol in ("SSL", "SASL_SSL")
        return ConnectionFailed(
            f"Kafka at {endpoint} gave no Kafka answer within {timeout:.0f}s ({_short(text)})",
            hint="not a Kafka listener, or a TLS listener spoken to in plaintext: check the "
            "port and security.protocol"
            if not secured
            else "check the port and security.protocol",
        )
    return ConnectionFailed(
        f"Kafka at {endpoint} did not answer within {timeout:.0f}s"
        + (f" ({_short(text)})" if text else ""),
        hint="check the bootstrap address, the port and security.protocol",
    )


def _short(text: str) -> str:
    return " ".join(text.split())[:200]


def preflight(
    servers: list[str], context: ssl.SSLContext | None, endpoint: str, protocol: str, timeout: float
) -> None:
    """Reach one bootstrap server (TCP, and the TLS handshake when the protocol has TLS) once,
    so that a refused port, an unknown host or an untrusted certificate fails at once with its
    cause, rather than after the library's retries until the timeout."""
    import socket

    causes = []
    for server in servers:
        host, port = parse_bootstrap(server)[0]
        try:
            with socket.create_connection((host, port), timeout=min(timeout, 5.0)) as sock:
                if context is None:
                    return
                sock.settimeout(min(timeout, 5.0))
                with context.wrap_socket(sock, server_hostname=host):
                    return  # the handshake happens in wrap_socket
        except socket.gaierror as exc:
            causes.append(f"DNS resolution failure: {exc}")
        except ssl.SSLError as exc:
            causes.append(f"Handshake failed: {_reason(exc)}")
        except ConnectionRefusedError:
            causes.append("ECONNREFUSED")
        except OSError as exc:  # timeouts, resets: let the client retry within its timeout
            if context is not None and not isinstance(exc, TimeoutError):
                causes.append(f"TLS handshake failed: {_reason(exc)}")
            else:
                return
    raise explain(endpoint, causes[-1] if causes else None, protocol, timeout)


def _admin_client(settings: Mapping[str, Any]) -> Any:
    """kafka-python's admin client; when bootstrapping fails, its network thread is stopped
    too (the library leaves it running), so a gate polling a refusing cluster leaks nothing."""
    from kafka.admin import KafkaAdminClient

    class Admin(KafkaAdminClient):
        def __init__(self, **configs: Any) -> None:
            try:
                super().__init__(**configs)
            except BaseException:
                for part, stop in (("_client", "close"), ("_net", "stop")):
                    try:
                        getattr(getattr(self, part), stop)()
                    except Exception:  # noqa: BLE001 - best effort on a failed start
                        pass
                raise

    return Admin(**settings)


def _first_token(provider: Any, endpoint: str) -> None:
    """Get the OAUTHBEARER token before connecting, so that a token endpoint or callback that
    fails is reported as such, once, instead of as a connection the library keeps retrying."""
    if provider is None:
        return
    try:
        provider.token()
    except MqMigrateError:
        raise
    except Exception as exc:  # noqa: BLE001 - a user's callback may raise anything
        raise AuthenticationFailed(
            f"no OAUTHBEARER token for Kafka at {endpoint}: the token "
            f"callback failed ({type(exc).__name__}: {_reason(exc)})",
            hint="check mqmigrate.oauth.callback and its settings",
        ) from exc


class WireAdmin:
    """A connection to one cluster for the calls of this module; use as a context manager.

    ``connection`` is bootstrap servers, librdkafka properties, or the package's Kafka
    configuration.  Connecting (bootstrap, TLS and SASL included) happens here and raises
    :class:`~mqmigrate.errors.ConnectionFailed` or
    :class:`~mqmigrate.errors.AuthenticationFailed` within ``timeout`` seconds.
    """

    def __init__(self, connection: Connection, *, timeout: float = 10.0):
        config = kafka_config(connection)
        settings = client_settings(config, timeout=timeout)
        self.endpoint = config.describe()
        self.timeout = timeout
        self._protocol = settings["security_protocol"]
        _quiet_library()
        _first_token(settings.get("sasl_oauth_token_provider"), self.endpoint)
        preflight(
            settings["bootstrap_servers"],
            settings.get("ssl_context"),
            self.endpoint,
            self._protocol,
            timeout,
        )
        causes = _Causes(sasl=self._protocol.startswith("SASL"))
        _library_log.addHandler(causes)
        _library_log.setLevel(logging.INFO)  # the handler needs the library's INFO lines
        try:
            self._admin = _admin_client(settings)
        except Exception as exc:  # noqa: BLE001 - every library failure becomes one line
            raise self._explain(exc, causes.last) from exc
        finally:
            _library_log.removeHandler(causes)
            _library_log.setLevel(logging.NOTSET)

    def _explain(self, exc: BaseException, logged: str | None) -> MqMigrateError:
        if isinstance(exc, MqMigrateError):
            return exc
        cause = f"{type(exc).__name__}: {_reason(exc)}"
        if logged and ("timeout" in cause.lower() or "bootstrap" in cause.lower()):
            cause = logged  # the library's final timeout hides why each attempt failed
        return explain(self.endpoint, cause, self._protocol, self.timeout)

    def __enter__(self) -> "WireAdmin":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and stop the client's network thread."""
        try:
            self._admin.close()
        except Exception:  # noqa: BLE001 - closing a broken client must not mask the error
            pass

    def _run(self, coroutine_function: Callable[..., Any], *args: Any, what: str) -> Any:
        """Run one request coroutine on the client's network thread, within the timeout."""
        causes = _Causes(sasl=False)
        _library_log.addHandler(causes)
        try:
            return self._admin._manager.run(coroutine_function, *args)
        except MqMigrateError:
            raise
        except Exception as exc:  # noqa: BLE001
            name = type(exc).__name__
            if "Authorization" in name:
                raise AuthenticationFailed(
                    f"{what} at {self.endpoint}: not authorized ({_reason(exc)})",
                    hint="grant this principal the ACL it needs",
                ) from exc
            if "Timeout" in name or "Connection" in name or "NodeNotReady" in name:
                raise self._explain(exc, causes.last) from exc
            raise MqMigrateError(
                f"{what} at {self.endpoint} failed: {name}: {_reason(exc)}"
            ) from exc
        finally:
            _library_log.removeHandler(causes)

    # ------------------------------------------------------------------ features

    def features(self) -> BrokerFeatures:
        """Supported and finalized feature levels (ApiVersions v3+, v4 where the broker has it,
        which also lists features whose minimum level is 0)."""
        from kafka.protocol.metadata import ApiVersionsRequest

        async def ask() -> Any:
            request = ApiVersionsRequest(
                client_software_name="mqmigrate", client_software_version="0", min_version=3
            )
            return await self._admin._manager.send(request)

        response = self._run(ask, what="ApiVersions")
        try:
            return features_from_response(response)
        except ValueError as exc:
            raise ConnectionFailed(f"Kafka at {self.endpoint}: {exc}") from exc

    # ------------------------------------------------------------------ share groups

    def _coordinator(self, group: str):
        from kafka.protocol.metadata.find_coordinator import CoordinatorType

        return self._admin._find_coordinator_id(group, key_type=CoordinatorType.GROUP)

    def share_group_offsets(
        self, group: str, topics: list[str] | None = None
    ) -> dict[str, dict[int, ShareOffset]]:
        """``{topic: {partition: ShareOffset}}`` of ``group`` (all its topics, or ``topics``).

        A group without share-partition state on a topic has no entry for it.  Raises
        :class:`MqMigrateError` for a group-level error (not a share group, not authorized).
        """
        request_class, _ = share_group_messages()

        async def ask() -> Any:
            node = await self._coordinator(group)
            request = request_class(
                groups=[
                    request_class.DescribeShareGroupOffsetsRequestGroup(group_id=group, topics=None)
                ]
            )
            return await self._admin._manager.send(request, node_id=node)

        response = self._run(ask, what=f"describing share group {group}")
        offsets = parse_share_group_offsets(response, group)
        return offsets if topics is None else {t: o for t, o in offsets.items() if t in topics}

    def alter_share_group_offsets(self, group: str, topic: str, offsets: Mapping[int, int]) -> None:
        """Set ``group``'s start offset on each partition of ``topic``.

        Raises :class:`ShareGroupNotEmpty` while the group has members (Kafka refuses), and
        :class:`MqMigrateError` for any other error the broker reports.
        """
        _, alter_class = share_group_messages()

        async def ask() -> Any:
            node = await self._coordinator(group)
            topic_entry = alter_class.AlterShareGroupOffsetsRequestTopic(
                topic_name=topic,
                partitions=[
                    alter_class.AlterShareGroupOffsetsRequestTopic.AlterShareGroupOffsetsRequestPartition(
                        partition_index=p, start_offset=o
                    )
                    for p, o in sorted(offsets.items())
                ],
            )
            request = alter_class(group_id=group, topics=[topic_entry])
            return await self._admin._manager.send(request, node_id=node)

        response = self._run(ask, what=f"altering the offsets of share group {group}")
        check_alter_response(response, group)


class ShareGroupNotEmpty(MqMigrateError):
    """AlterShareGroupOffsets on a share group that has active members."""


def share_group_messages() -> tuple[type, type]:
    """The DescribeShareGroupOffsets and AlterShareGroupOffsets request classes."""
    global _MESSAGES
    if _MESSAGES is None:
        from kafka.protocol.api_message import ApiMessage

        from mqmigrate.kafka import messages

        class DescribeShareGroupOffsetsRequest(ApiMessage, load_json=messages):
            pass

        class DescribeShareGroupOffsetsResponse(ApiMessage, load_json=messages):
            pass

        class AlterShareGroupOffsetsRequest(ApiMessage, load_json=messages):
            pass

        class AlterShareGroupOffsetsResponse(ApiMessage, load_json=messages):
            pass

        _MESSAGES = (DescribeShareGroupOffsetsRequest, AlterShareGroupOffsetsRequest)
        _RESPONSES.update(
            describe=DescribeShareGroupOffsetsResponse, alter=AlterShareGroupOffsetsResponse
        )
    return _MESSAGES


_MESSAGES: tuple[type, type] | None = None
_RESPONSES: dict[str, type] = {}


def response_class(kind: str) -> type:
    """The response class of ``kind`` (``describe`` or ``alter``), e.g. to decode bytes."""
    share_group_messages()
    return _RESPONSES[kind]


def _error(code: int, message: str | None) -> str:
    from kafka import errors

    name = errors.for_code(code).__name__ if code else "NoError"
    return f"{name}" + (f": {message}" if message else "")


def parse_share_group_offsets(response: Any, group: str) -> dict[str, dict[int, ShareOffset]]:
    """``{topic: {partition: ShareOffset}}`` from a decoded DescribeShareGroupOffsets response."""
    result: dict[str, dict[int, ShareOffset]] = {}
    for entry in response.groups:
        if entry.group_id != group:
            continue
        if entry.error_code:
            error = _error(entry.error_code, entry.error_message)
            if "Authorization" in error:
                raise AuthenticationFailed(
                    f"describing share group {group}: {error}",
                    hint="grant DESCRIBE on the group and the topic",
                )
            raise MqMigrateError(f"describing share group {group} failed: {error}")
        for topic in entry.topics:
            partitions = result.setdefault(topic.topic_name, {})
            for part in topic.partitions:
                if part.error_code:
                    raise MqMigrateError(
                        f"describing share group {group} on {topic.topic_name}-"
                        f"{part.partition_index} failed: "
                        f"{_error(part.error_code, part.error_message)}"
                    )
                start = part.start_offset if part.start_offset >= 0 else None
                lag = getattr(part, "lag", -1)
                partitions[part.partition_index] = ShareOffset(
                    start, lag if lag is not None and lag >= 0 else None
                )
    return result


def check_alter_response(response: Any, group: str) -> None:
    """Raise for any error in a decoded AlterShareGroupOffsets response."""
    codes = [(response.error_code, response.error_message, None)]
    for topic in response.responses:
        for part in topic.partitions:
            codes.append(
                (part.error_code, part.error_message, f"{topic.topic_name}-{part.partition_index}")
            )
    for code, message, where in codes:
        if not code:
            continue
        if code == NON_EMPTY_GROUP:
            raise ShareGroupNotEmpty(
                f"share group {group} is not empty: Kafka keeps the position "
                "of a group with active members"
            )
        place = f" on {where}" if where else ""
        raise MqMigrateError(
            f"altering the offsets of share group {group}{place} failed: {_error(code, message)}"
        )


def fetch_features(connection: Connection, timeout: float = 5.0) -> BrokerFeatures:
    """Ask the cluster for its API versions and feature levels (TLS and SASL as configured)."""
    with WireAdmin(connection, timeout=timeout) as admin:
        return admin.features()


def share_group_lag(
    connection: Connection, group: str, topic: str, *, timeout: float = 10.0
) -> dict[int, ShareOffset]:
    """``{partition: ShareOffset}`` of ``group`` on ``topic``; empty when the group has no
    share-partition state there (it never consumed it)."""
    with WireAdmin(connection, timeout=timeout) as admin:
        return admin.share_group_offsets(group, [topic]).get(topic, {})
