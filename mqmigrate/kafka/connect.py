"""One bounded connection check, so a misconfigured Kafka connection fails in seconds.

librdkafka retries a wrong password, an unknown CA or a protocol mismatch forever, logging
each attempt; a command would sit in that loop until some operation timed out and then
report only "timed out".  :func:`check_connection` connects once with the configuration's
own settings, watches librdkafka's error callback and turns the first telling error into
one line that names the endpoint and the likely cause:

* wrong user name or password, or a mechanism the listener does not enable;
* TLS to a listener without TLS, or no TLS to a TLS listener;
* a broker certificate signed by a CA the client does not trust (or a name mismatch, or an
  expired certificate);
* nothing listening.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from mqmigrate.errors import AuthenticationFailed, ConfigError, ConnectionFailed, MqMigrateError
from mqmigrate.kafka.config import KafkaConfig, as_kafka_config
from mqmigrate.kafka.tls import uses_tls


class _LogLines(logging.Handler):
    """Collects librdkafka's log lines (served by ``poll``) for :func:`check_connection`."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._lines: list[str] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock2:
            self._lines.append(record.getMessage())

    def take(self) -> list[str]:
        with self._lock2:
            lines, self._lines = self._lines, []
        return lines


def classify(error: KafkaError, config: KafkaConfig) -> MqMigrateError | None:
    """The mqmigrate error a librdkafka connection error stands for; None when it is not
    (yet) telling, e.g. a single refused connection while other brokers may answer."""
    code = error.code()
    text = error.str()
    lowered = _short(text).lower()  # without the "sasl_ssl://host:port/bootstrap:" prefix
    where = f"Kafka at {config.describe()}"
    if code in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED):
        if (
            "unsupported sasl mechanism" in lowered
            or "mechanism" in lowered
            and "not supported" in lowered
            or "enabled mechanisms" in lowered
        ):
            return AuthenticationFailed(
                f"{where} does not offer SASL mechanism {config.sasl_mechanism}: {_short(text)}",
                hint="set sasl.mechanism in --kafka-config to one the listener enables",
            )
        if "ssl" in lowered and "handshake" in lowered:
            return _tls_error(text, where, config)
        return AuthenticationFailed(
            f"{where} rejected the credentials: {_short(text)}",
            hint="check sasl.username / sasl.password (or the token) in --kafka-config",
        )
    if code == KafkaError._SSL:
        return _tls_error(text, where, config)
    if code == KafkaError._TRANSPORT:
        if not uses_tls(config) and _speaks_tls(lowered):
            return _tls_listener(where)
        if "ssl" in lowered or "tls" in lowered:
            return _tls_error(text, where, config)
        if (
            config.secured
            and config.security_protocol.startswith("SASL")
            and ("sasl" in lowered or "authentication" in lowered)
        ):
            return AuthenticationFailed(
                f"{where}: SASL failed: {_short(text)}",
                hint="check sasl.mechanism and the credentials",
            )
    if code == KafkaError._INVALID_ARG:
        return ConfigError(
            f"bad Kafka client configuration for {config.describe()}: {_short(text)}"
        )
    return None


def _speaks_tls(lowered: str) -> bool:
    """A plaintext client on a TLS listener: librdkafka's own diagnosis, or the connection
    closed while the client waited for its first answer (a TLS listener drops the bytes of
    an ApiVersions request it cannot read as a handshake)."""
    return (
        "incorrect security.protocol" in lowered
        or "connecting to a ssl listener" in lowered
        or "disconnected" in lowered
        and "apiversion_query" in lowered
    )


def _tls_listener(where: str) -> ConnectionFailed:
    return ConnectionFailed(
        f"{where}: the listener speaks TLS but the client does not",
        hint="set security.protocol=SSL or SASL_SSL (and ssl.ca.location) in --kafka-config",
        transient=False,
    )


def _tls_error(text: str, where: str, config: KafkaConfig) -> MqMigrateError:
    lowered = _short(text).lower()
    if (
        "certificate verify failed" in lowered
        or "unable to get local issuer" in lowered
        or "self-signed" in lowered
        or "self signed" in lowered
    ):
        if "expired" in lowered:
            return ConnectionFailed(
                f"{where}: the broker's certificate has expired",
                hint="renew the broker certificate",
                transient=False,
            )
        if "hostname" in lowered or "ip address mismatch" in lowered:
            return ConnectionFailed(
                f"{where}: the broker's certificate does not name this host",
                hint="connect by a name in the certificate, or (tests only) "
                "ssl.endpoint.identification.algorithm=none",
                transient=False,
            )
        return ConnectionFailed(
            f"{where}: the broker's certificate is signed by a CA the client does not trust",
            hint="set ssl.ca.location in --kafka-config to the PEM file of the CA that signed it",
            transient=False,
        )
    if "expired" in lowered:
        return ConnectionFailed(
            f"{where}: a certificate has expired ({_short(text)})", hint="renew it", transient=False
        )
    if any(
        marker in lowered
        for marker in (
            "wrong version number",
            "packet length too long",
            "unexpected eof",
            "record layer failure",
            "http request",
            "unknown protocol",
            "disconnected",
        )
    ):
        return ConnectionFailed(
            f"{where}: TLS handshake failed: the listener does not speak TLS",
            hint="set security.protocol to PLAINTEXT or SASL_PLAINTEXT for this listener, or "
            "use the broker's TLS port",
            transient=False,
        )
    return ConnectionFailed(
        f"{where}: TLS handshake failed: {_short(text)}",
        hint="check ssl.* in --kafka-config",
        transient=False,
    )


def _short(text: str) -> str:
    # librdkafka prefixes "sasl_ssl://127.0.0.1:9093/bootstrap: "; the endpoint is named anyway
    head, sep, rest = text.partition("/bootstrap: ")
    return " ".join((rest if sep else text).split())[:200]


def check_connection(kafka: KafkaConfig | str, timeout: float = 10.0) -> None:
    """Connect to ``kafka`` with its own settings (TLS, SASL) and fetch metadata once.

    Returns when the cluster answered; raises AuthenticationFailed, ConnectionFailed or
    ConfigError (one line, endpoint and likely cause) as soon as librdkafka reports why it
    cannot connect, and ConnectionFailed when nothing answered within ``timeout`` seconds.
    """
    config = as_kafka_config(kafka)
    errors: list[KafkaError] = []
    lock = threading.Lock()

    def on_error(error: KafkaError) -> None:
        with lock:
            errors.append(error)

    # some diagnoses (a plaintext client on a TLS listener) come only as log lines
    logs = _LogLines()
    client_log = logging.Logger("mqmigrate.kafka.connect.check")
    client_log.addHandler(logs)

    millis = max(1000, int(timeout * 1000))
    try:
        admin = AdminClient(
            config.client(
                {
                    "error_cb": on_error,
                    "logger": client_log,
                    "socket.connection.setup.timeout.ms": millis,
                    "socket.timeout.ms": millis,
                }
            )
        )
    except KafkaException as exc:
        raise ConfigError(
            f"bad Kafka client configuration: {_describe(exc)}",
            hint="check --kafka-config against librdkafka's CONFIGURATION.md",
        ) from None
    deadline = time.monotonic() + timeout
    refused: KafkaError | None = None  # nothing listening / name not resolved
    last: KafkaError | None = None  # any other transport error
    while True:
        try:
            admin.list_topics(timeout=0.5)
            return
        except KafkaException:
            pass  # "failed to get metadata" says nothing; the error callback says why
        admin.poll(0)  # serves callbacks (OAUTHBEARER token refresh, errors)
        lines = logs.take()
        if not uses_tls(config) and any(_speaks_tls(line.lower()) for line in lines):
            raise _tls_listener(f"Kafka at {config.describe()}")
        with lock:
            seen, errors[:] = list(errors), []
        for error in seen:
            found = classify(error, config)
            if found is not None:
                raise found
            if error.code() in (KafkaError._TRANSPORT, KafkaError._RESOLVE):
                last = error
                if error.code() == KafkaError._RESOLVE or "refused" in error.str().lower():
                    refused = error
            if error.code() == KafkaError._ALL_BROKERS_DOWN and refused is not None:
                raise _unreachable(config, refused)
        if time.monotonic() >= deadline:
            if refused is not None or last is not None:
                raise _unreachable(config, refused or last)
            raise ConnectionFailed(
                f"Kafka at {config.describe()} did not answer within {timeout:.0f}s",
                hint="check the bootstrap address and that security.protocol matches the "
                "listener (--kafka-config)",
            )


def _unreachable(config: KafkaConfig, error: KafkaError | None) -> ConnectionFailed:
    assert error is not None
    return ConnectionFailed(
        f"Kafka at {config.describe()} did not answer: {_short(error.str())}",
        hint="check --kafka / bootstrap.servers and that the broker is up",
    )


def _describe(exc: KafkaException) -> Any:
    err = exc.args[0] if exc.args else None
    return err.str() if isinstance(err, KafkaError) else exc
