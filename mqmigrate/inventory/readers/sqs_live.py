"""Live SQS through boto3.

URIs: ``sqs://REGION`` (AWS; boto3's standard credential chain, ``?profile=NAME``) and
``sqs+http://host:port?region=R`` / ``sqs+https://…`` for an endpoint URL (moto, ElasticMQ,
LocalStack).  ``user:password`` in an endpoint URI are the access key id and secret; a loopback
endpoint without credentials gets dummy ones (emulators accept any).  ``?prefix=`` or
``--prefix`` filters queue names.
"""

from __future__ import annotations

from mqmigrate.errors import AuthenticationFailed, ConnectionFailed
from mqmigrate.inventory.model import Source
from mqmigrate.inventory.readers.sqs_common import queue_from_attributes
from mqmigrate.redact import mask_uri

_AUTH_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "AccessDeniedException",
    "ExpiredToken",
    "AuthFailure",
    "InvalidAccessKeyId",
}


def _client(uri: str):
    """(boto3 SQS client, region, query) for an ``sqs://`` or ``sqs+http(s)://`` URI."""
    from mqmigrate.sources.connect import sqs_client
    from mqmigrate.sources.uri import parse_source_uri

    source = parse_source_uri(uri)
    return sqs_client(source), source.region, source.query


def read(uri: str, *, prefix: str | None = None, progress=None) -> Source:
    """Every queue (optionally by name prefix) with all attributes, tags and redrive sources."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    client, region, query = _client(uri)
    prefix = prefix or query.get("prefix")
    masked = mask_uri(uri)
    try:
        urls: list[str] = []
        kwargs = {"QueueNamePrefix": prefix} if prefix else {}
        for page in client.get_paginator("list_queues").paginate(
            **kwargs, PaginationConfig={"PageSize": 1000}
        ):
            urls.extend(page.get("QueueUrls", []))
        queues = []
        for i, url in enumerate(urls, 1):
            name = url.rstrip("/").rsplit("/", 1)[-1]
            try:
                attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get(
                    "Attributes", {}
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code", "").endswith("NonExistentQueue"):
                    continue  # deleted between list and read
                raise
            tags = client.list_queue_tags(QueueUrl=url).get("Tags", {}) or {}
            sources: list[str] = []
            for page in client.get_paginator("list_dead_letter_source_queues").paginate(
                QueueUrl=url
            ):
                sources.extend(page.get("queueUrls", []))
            q = queue_from_attributes(name, attrs, tags=tags)
            if sources:
                q.extra["dead_letter_source_queues"] = [s.rsplit("/", 1)[-1] for s in sources]
            queues.append(q)
            if progress:
                progress("reading SQS queues", i, len(urls))
    except NoCredentialsError as exc:
        raise AuthenticationFailed(
            f"no AWS credentials for {masked}",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        ) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _AUTH_CODES:
            raise AuthenticationFailed(
                f"SQS at {masked} rejected the credentials ({code})"
            ) from exc
        raise ConnectionFailed(f"SQS at {masked} answered {code or 'an error'}") from exc
    except BotoCoreError as exc:
        raise ConnectionFailed(
            f"cannot reach SQS at {masked} ({type(exc).__name__})",
            hint="check the endpoint and region",
        ) from exc
    return Source(
        kind="sqs",
        name=masked,
        endpoint=masked,
        region=region,
        queues=queues,
        live=True,
        notes=[f"queues filtered by prefix {prefix!r}"] if prefix else [],
    )
