"""Tracing behind the EnableTracing parameter: off, a handler does not even import the X-Ray SDK; on, the
handler and every AWS call it makes are subsegments. Each case runs in a fresh interpreter (the Tracer
patches botocore for the whole process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from parley_local.template import ROOT

SCRIPT = r"""
import json, os, sys
sys.path[:0] = [os.path.join(ROOT, "layers", "parley"), os.path.join(ROOT, "local")]
from moto import mock_aws

with mock_aws():
    import boto3
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="TasksTable", KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    from parley_local.runtime import InProcessPool
    from parley_local.template import Stack

    pool = InProcessPool(Stack().functions()["TaskStatusFunction"])
    sent = []
    if os.environ["POWERTOOLS_TRACE_DISABLED"] == "false":
        from aws_xray_sdk.core import xray_recorder

        class Capture:
            def send_entity(self, entity):
                sent.append(entity.to_dict())
            def set_daemon_address(self, address):
                pass

        xray_recorder.configure(emitter=Capture())
    task_id = "0a2f6e1c-5b0e-4f43-9b39-6f1a4c1d2e3f"
    path = f"/api/task_status/{task_id}"
    authorizer = {"authenticated": "true", "account_id": "1", "is_admin": "false", "data_set_ids": ""}
    event = {
        "version": "2.0",
        "routeKey": "GET /api/task_status/{task_id}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {},
        "pathParameters": {"task_id": task_id},
        "requestContext": {
            "http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"},
            "requestId": "r",
            "routeKey": "GET /api/task_status/{task_id}",
            "stage": "$default",
            "authorizer": {"lambda": authorizer},
        },
    }
    result = pool.invoke(event)

def names(entity):
    yield entity.get("name")
    for child in entity.get("subsegments", []):
        yield from names(child)

print(json.dumps({"status": result.get("statusCode"), "xray_loaded": "aws_xray_sdk" in sys.modules,
                  "subsegments": sorted({n for e in sent for n in names(e)})}))
"""


def run_handler(tracing: bool) -> dict:
    env = {
        **os.environ,
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "ROOT": str(ROOT),
        "TASKS_TABLE": "TasksTable",
        "CONVERSATIONS_TABLE": "c",
        "DATA_SETS_TABLE": "d",
        "ACCOUNTS_TABLE": "a",
        "JOBS_QUEUE_URL": "q",
        "INDEX_BUCKET": "b",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        # what Lambda sets for a sampled, traced invocation
        "LAMBDA_TASK_ROOT": str(ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": "TaskStatusFunction",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", f"ROOT = {str(ROOT)!r}\n" + SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_with_tracing_off_the_xray_sdk_is_never_loaded():
    result = run_handler(tracing=False)
    assert result["status"] == 404 and result["xray_loaded"] is False and result["subsegments"] == []


def test_with_tracing_on_the_handler_and_its_aws_calls_are_subsegments():
    result = run_handler(tracing=True)
    assert result["status"] == 404 and result["xray_loaded"] is True
    assert "## lambda_handler" in result["subsegments"]
    assert "dynamodb" in result["subsegments"]  # the DAL's GetItem, through the patched botocore
