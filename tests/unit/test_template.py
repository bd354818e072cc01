"""template.yaml: valid SAM, linted, and least privilege for every function."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parley_local.template import ROOT, Stack

STACK = Stack()
BIN = Path(sys.executable).parent

# What each policy may grant is not listed here: the IAM emulation (local/parley_local/iam.py, installed by
# tests/conftest.py) refuses every call a function's policy does not allow, and a whole-suite run fails on any
# grant that no call needed. Here: the policies' form.


def granted(function: str) -> set[tuple[str, str]]:
    pairs = set()
    for policy in STACK.resources[function]["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and "Statement" in policy, f"{function}: use explicit statements"
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                for resource in resources:
                    pairs.add((action, json.dumps(resource)))
    return pairs


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_sam_validate_lint():
    result = run(str(BIN / "sam"), "validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint():
    result = run(str(BIN / "cfn-lint"), "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("function", sorted(STACK.functions()))
def test_no_wildcards_in_any_policy(function):
    for action, resource in granted(function):
        assert "*" not in action, f"{function}: wildcard action {action}"
        assert resource != '"*"' and not resource.endswith(':*"'), f"{function}: wildcard resource {resource}"


def test_every_route_has_a_handler_module_and_runtime_settings():
    functions = STACK.functions()
    for route in STACK.routes():
        assert (functions[route.function].code_dir / "app.py").is_file(), route
    assert STACK.globals["Runtime"] == "python3.13" and STACK.globals["Architectures"] == ["arm64"]


def test_queue_is_fifo_with_dead_letters_and_long_enough_visibility():
    queue = STACK.resources["JobsQueue"]["Properties"]
    worker = STACK.functions()["WorkerFunction"]
    assert queue["FifoQueue"] is True
    assert queue["VisibilityTimeout"] >= 6 * worker.timeout_s
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}
    _, event = STACK.sqs_consumer()
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert STACK.resources["TasksTable"]["Properties"]["TimeToLiveSpecification"]["Enabled"] is True


def test_the_dead_letter_backstop_leaves_room_for_records_received_behind_failed_ones():
    """A record can be received with each try of the (up to BatchSize - 1) records ahead of it in its group."""
    _, event = STACK.sqs_consumer()
    receives = int(STACK.parameter_default("JobMaxReceiveCount"))
    assert receives >= int(event["BatchSize"]) * int(STACK.parameter_default("JobMaxTries"))


# ------------------------------------------------------------------ operations


def test_the_api_throttles_each_route_by_parameters_and_writes_access_logs():
    props = STACK.resources["HttpApi"]["Properties"]
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }
    logs = props["AccessLogSettings"]
    assert logs["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    assert "$context.status" in logs["Format"] and "authorization" not in logs["Format"].lower().replace(
        "authorizer", ""
    )
    assert STACK.resources["ApiAccessLogs"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_function_has_a_log_group_kept_for_the_retention_parameter():
    assert STACK.parameter_default("LogRetentionDays") == 30
    groups = {
        res["Properties"]["LogGroupName"]["Fn::Sub"]: res["Properties"]
        for res in STACK.of_type("AWS::Logs::LogGroup").values()
        if "LogGroupName" in res["Properties"]
    }
    for function in STACK.functions():
        assert groups[f"/aws/lambda/${{{function}}}"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, function


def test_tables_and_the_bucket_survive_stack_deletion():
    for name in [*STACK.of_type("AWS::DynamoDB::Table"), *STACK.of_type("AWS::S3::Bucket")]:
        resource = STACK.resources[name]
        assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain", name
    for name, table in STACK.of_type("AWS::DynamoDB::Table").items():
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name


def test_the_bucket_is_versioned_tls_only_and_expires_payloads_and_old_snapshots():
    bucket = STACK.resources["IndexBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireLoadPayloads"]["Prefix"] == "ingest/"
    assert rules["ExpireSupersededIndexSnapshots"]["TagFilters"] == [{"Key": "superseded", "Value": "true"}]
    assert rules["ExpireOldVersions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1
    (policy,) = [p["Properties"] for p in STACK.of_type("AWS::S3::BucketPolicy").values()]
    assert policy["Bucket"] == {"Ref": "IndexBucket"}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::Sub": "${IndexBucket.Arn}/*"} in statement["Resource"]


def test_alarms_watch_dead_letters_api_errors_and_the_worker_and_notify_the_optional_topic():
    alarms = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in STACK.of_type("AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/ApiGateway", "5xx"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
    }
    assert alarms[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["JobsDeadLetterQueue", "QueueName"]
    }
    for key in (("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles")):
        assert alarms[key]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "WorkerFunction"}}]
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }
    assert STACK.parameter_default("AlarmTopicArn") == ""


def test_the_workers_concurrency_is_capped_and_tracing_is_a_parameter():
    _, event = STACK.sqs_consumer()
    assert event["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaximumConcurrency"}}
    assert STACK.parameter_default("EnableTracing") == "false"
    assert STACK.globals["Tracing"] == {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]}
    assert STACK.globals["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingEnabled", "false", "true"]
    }
