"""S3 objects: ingestion payloads (too big for a queue message) and search-index snapshots."""

from __future__ import annotations

from parley import aws
from parley.config import settings
from parley.dal.dynamo import aws_errors


def put(key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
    with aws_errors("object storage"):
        aws.client("s3").put_object(Bucket=settings().index_bucket, Key=key, Body=body, ContentType=content_type)


def get(key: str) -> bytes:
    with aws_errors("object storage"):
        body: bytes = aws.client("s3").get_object(Bucket=settings().index_bucket, Key=key)["Body"].read()
    return body


def delete(key: str) -> None:
    with aws_errors("object storage"):
        aws.client("s3").delete_object(Bucket=settings().index_bucket, Key=key)


def tag(key: str, tags: dict[str, str]) -> None:
    with aws_errors("object storage"):
        aws.client("s3").put_object_tagging(
            Bucket=settings().index_bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": name, "Value": value} for name, value in tags.items()]},
        )
