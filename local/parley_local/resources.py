"""Creates template.yaml's tables, queues and buckets on whatever AWS endpoint the clients point at."""

from __future__ import annotations

import json
from typing import Any

from parley_local.template import Stack

REGION = "us-east-1"
ACCOUNT = "123456789012"

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode")


def _client(session: Any, service: str, endpoint_url: str | None) -> Any:
    return session.client(service, region_name=REGION, endpoint_url=endpoint_url)


def create_resources(
    stack: Stack,
    session: Any,
    endpoint_url: str | None = None,
    queue_overrides: dict[str, dict[str, str]] | None = None,
    existing_ok: bool = False,
) -> dict[str, dict[str, str]]:
    """Create every table, queue and bucket; return physical[logical id] = {"Ref": ..., "Arn": ...}."""
    physical: dict[str, dict[str, str]] = {}
    ddb = _client(session, "dynamodb", endpoint_url)
    existing_tables = set(ddb.list_tables().get("TableNames", [])) if existing_ok else set()
    for name, res in stack.of_type("AWS::DynamoDB::Table").items():
        props = res["Properties"]
        if name not in existing_tables:
            ddb.create_table(TableName=name, **{k: props[k] for k in _TABLE_KEYS if k in props})
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        physical[name] = {"Ref": name, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"}

    sqs = _client(session, "sqs", endpoint_url)
    queues = stack.of_type("AWS::SQS::Queue")
    for name, res in queues.items():  # create all first: redrive policies refer to other queues
        props = res["Properties"]
        fifo = bool(props.get("FifoQueue"))
        queue_name = f"{name}.fifo" if fifo else name
        url = sqs.create_queue(QueueName=queue_name, Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
        physical[name] = {"Ref": url, "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}", "QueueName": queue_name}
    for name, res in queues.items():
        props = stack.resolve(res["Properties"], physical)
        attributes = {
            key: (
                json.dumps(props[key])
                if isinstance(props[key], dict)
                else str(props[key]).lower()
                if isinstance(props[key], bool)
                else str(props[key])
            )
            for key in ("ContentBasedDeduplication", "VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy")
            if key in props
        }
        attributes.update((queue_overrides or {}).get(name, {}))
        if attributes:
            sqs.set_queue_attributes(QueueUrl=physical[name]["Ref"], Attributes=attributes)

    s3 = _client(session, "s3", endpoint_url)
    for name in stack.of_type("AWS::S3::Bucket"):
        bucket = f"parley-{name.lower()}"
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        physical[name] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}
    return physical
