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

from mqmigrate.errors import (AuthenticationFailed, MqMigrateError, PrerequisiteError,
                              SourceError, SourceUnavailable)
from mqmigrate.sources.uri import SourceURI

#: error codes that mean "these credentials are wrong or not allowed"
AUTH_CODES = frozenset({
    "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
    "AccessDenied", "AccessDeniedException", "ExpiredToken", "AuthFailure",
    "InvalidAccessKeyId", "InvalidSecurity", "AuthorizationError", "KMS.AccessDeniedException",
})
#: error codes of a queue that is not there
MISSING_QUEUE_CODES = frozenset({
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
    "AWS.SimpleQueueService.QueueDeletedRecently",
})
#: error codes worth retrying (the request may succeed later)
TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "RequestThrottled", "ServiceUnavailable",
    "InternalError", "InternalFailure", "RequestTimeout", "KmsThrottled",
    "AWS.SimpleQueueService.ServiceUnavailable", "SlowDown",
})
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def make_clients(uri: SourceURI, *, pool: int = 10, read_timeout: float = 30.0,
                 connect_timeout: float = 5.0) -> tuple[Any, Any]:
    """``(sqs, sns)`` boto3 clients for ``uri``; the SNS one serves shadow mode."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ProfileNotFound
    except ImportError as exc:
        raise PrerequisiteError("the sqs source needs the 'boto3' package",
                                hint="pip install boto3") from exc
    profile = uri.query.get("profile")
    try:
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    except ProfileNotFound as exc:
        raise AuthenticationFailed(f"AWS profile {profile!r} not found",
                                   hint="check ?profile= in --source or AWS_PROFILE") from exc
    kwargs: dict[str, Any] = {"region_name": uri.region}
    if uri.scheme != "sqs":
        kwargs["endpoint_url"] = uri.http_base
    if uri.username:
        kwargs["aws_access_key_id"] = uri.username
        kwargs["aws_secret_access_key"] = uri.password.reveal() if uri.password else ""
    elif uri.scheme != "sqs" and uri.host in _LOOPBACK and session.get_credentials() is None:
        kwargs["aws_access_key_id"] = kwargs["aws_secret_access_key"] = "testing"
    # a few retries for throttling and dropped connections; a long poll waits up to 20 s
    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                    retries={"max_attempts": 3, "mode": "standard"},
                    max_pool_connections=pool)
    return session.client("sqs", config=config, **kwargs), session.client("sns", config=config,
                                                                          **kwargs)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def classify(exc: BaseException, what: str, *, queue: str) -> MqMigrateError:
    """A boto3/botocore exception as a transient or terminal mqmigrate error.

    ``what`` is the secret-free subject (``SQS http://127.0.0.1:9324 queue 'orders': receive``).
    """
    from botocore import exceptions as bex

    if isinstance(exc, MqMigrateError):
        return exc
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
        return AuthenticationFailed(f"{what} failed: no usable AWS credentials",
                                    hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                                         "AWS_SECRET_ACCESS_KEY, or put KEY:SECRET@ in the URI")
    if isinstance(exc, bex.ClientError):
        code = error_code(exc)
        message = " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())[:200]
        text = f"{what} failed: {code}" + (f" ({message})" if message else "")
        if code in AUTH_CODES:
            return AuthenticationFailed(text, hint="check the AWS credentials and their "
                                                   "permissions on the queue")
        if code in MISSING_QUEUE_CODES:
            return SourceError(f"{what} failed: queue {queue!r} does not exist",
                               hint="check --queue and the region or endpoint in --source")
        if code in TRANSIENT_CODES:
            return SourceUnavailable(text, hint="SQS is throttling or unavailable; retrying")
        return SourceError(text)
    if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError,
                        bex.ReadTimeoutError, bex.ConnectionClosedError,
                        bex.HTTPClientError, OSError)):
        return SourceUnavailable(f"{what} failed: endpoint unreachable ({type(exc).__name__})",
                                 hint="is the SQS endpoint running and reachable?")
    if isinstance(exc, bex.BotoCoreError):
        return SourceError(f"{what} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
    return SourceError(f"{what} failed: {type(exc).__name__}")
