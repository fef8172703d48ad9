"""boto3 clients for an SQS source URI, and boto3/botocore errors as mqmigrate errors.

The URI is parsed once, by :func:`mqmigrate.sources.uri.parse_source_uri`:

* ``sqs://REGION`` — AWS; credentials from boto3's chain (environment, ``AWS_PROFILE``, shared
  files, instance role); ``?profile=NAME`` picks a profile;
* ``sqs+http(s)://[KEY:SECRET@]HOST:PORT?region=R`` — an SQS-compatible endpoint (moto,
  ElasticMQ, LocalStack).  Without credentials anywhere, a loopback endpoint gets dummy
  ones (the emulators accept any).

Credentials stay inside the client; only the masked URI is ever shown.
"""

from __future__ import annotations

from typing import Any

from mqmigrate.errors import AuthenticationFailed, MqMigrateError, SourceError, SourceUnavailable
from mqmigrate.sources.connect import sqs_client
from mqmigrate.sources.uri import SourceURI

#: error codes that mean "these credentials are wrong or not allowed"
AUTH_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "AuthFailure",
        "InvalidAccessKeyId",
        "InvalidSecurity",
        "AuthorizationError",
        "KMS.AccessDeniedException",
    }
)
#: error codes of a queue that is not there
MISSING_QUEUE_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.QueueDeletedRecently",
    }
)
#: error codes worth retrying (the request may succeed later)
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "RequestTimeout",
        "KmsThrottled",
        "AWS.SimpleQueueService.ServiceUnavailable",
        "SlowDown",
    }
)


def make_clients(
    uri: SourceURI, *, pool: int = 10, read_timeout: float = 30.0, connect_timeout: float = 5.0
) -> tuple[Any, Any]:
    """``(sqs, sns)`` boto3 clients for ``uri``; the SNS one serves shadow mode."""
    # a few retries for throttling and dropped connections; a long poll waits up to 20 s
    options = dict(
        connect_timeout=connect_timeout, read_timeout=read_timeout, max_attempts=3, pool=pool
    )
    return sqs_client(uri, **options), sqs_client(uri, service="sns", **options)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def classify(
    exc: BaseException, what: str, *, queue: str, source: SourceURI | None = None
) -> MqMigrateError:
    """A boto3/botocore exception as a transient or terminal mqmigrate error.

    ``what`` is the secret-free subject (``SQS http://127.0.0.1:9324 queue 'orders': receive``).
    """
    from botocore import exceptions as bex

    if isinstance(exc, MqMigrateError):
        return exc
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
        return AuthenticationFailed(
            f"{what} failed: no usable AWS credentials",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, or put KEY:SECRET@ in the URI",
        )
    if isinstance(exc, bex.ClientError):
        code = error_code(exc)
        message = " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())[:200]
        text = f"{what} failed: {code}" + (f" ({message})" if message else "")
        if code in AUTH_CODES:
            return AuthenticationFailed(
                text, hint="check the AWS credentials and their permissions on the queue"
            )
        if code in MISSING_QUEUE_CODES:
            return SourceError(
                f"{what} failed: queue {queue!r} does not exist",
                hint="check --queue and the region or endpoint in --source",
            )
        if code in TRANSIENT_CODES:
            return SourceUnavailable(text, hint="SQS is throttling or unavailable; retrying")
        return SourceError(text)
    if isinstance(exc, bex.SSLError) and source is not None:
        # a TLS trust problem (unknown CA, expired, wrong name) will not go away by retrying
        from mqmigrate.sources.connect import connect_error

        diagnosed = connect_error(source, exc, what="SQS")
        return SourceError(f"{what} failed: {diagnosed.message}", hint=diagnosed.hint)
    if isinstance(
        exc,
        (
            bex.EndpointConnectionError,
            bex.ConnectTimeoutError,
            bex.ReadTimeoutError,
            bex.ConnectionClosedError,
            bex.HTTPClientError,
            OSError,
        ),
    ):
        return SourceUnavailable(
            f"{what} failed: endpoint unreachable ({type(exc).__name__})",
            hint="is the SQS endpoint running and reachable?",
        )
    if isinstance(exc, bex.BotoCoreError):
        return SourceError(
            f"{what} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        )
    return SourceError(f"{what} failed: {type(exc).__name__}")
