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

# What each function's code calls, and so all its policy may grant: (action, resource logical id[/suffix]).
NEEDED = {
    "AuthorizerFunction": {("dynamodb:GetItem", "AccountsTable")},
    "CreateConversationFunction": {("dynamodb:PutItem", "ConversationsTable"), ("dynamodb:GetItem", "DataSetsTable"),
                                   ("dynamodb:PutItem", "TasksTable")},
    "ListConversationsFunction": {("dynamodb:Query", "ConversationsTable/index/by_owner")},
    "GetConversationFunction": {("dynamodb:Query", "ConversationsTable"), ("dynamodb:GetItem", "ConversationsTable")},
    "DeleteConversationFunction": {
        ("dynamodb:UpdateItem", "ConversationsTable"), ("dynamodb:Query", "ConversationsTable"),
        ("dynamodb:BatchWriteItem", "ConversationsTable"), ("dynamodb:DeleteItem", "ConversationsTable"),
        ("dynamodb:BatchWriteItem", "TasksTable"),
    },
    "SendMessageFunction": {
        ("dynamodb:UpdateItem", "ConversationsTable"), ("dynamodb:PutItem", "ConversationsTable"),
        ("dynamodb:GetItem", "ConversationsTable"), ("dynamodb:PutItem", "TasksTable"),
        ("dynamodb:UpdateItem", "TasksTable"), ("dynamodb:DeleteItem", "TasksTable"), ("sqs:SendMessage", "JobsQueue"),
    },
    "TaskStatusFunction": {("dynamodb:GetItem", "TasksTable")},
    "ListDataSetsFunction": {("dynamodb:Query", "DataSetsTable/index/all_data_sets"),
                             ("dynamodb:BatchGetItem", "DataSetsTable")},
    "GetDataSetFunction": {("dynamodb:GetItem", "DataSetsTable")},
    "UpdateDataSetSettingsFunction": {("dynamodb:GetItem", "DataSetsTable"), ("dynamodb:UpdateItem", "DataSetsTable")},
    "CreateDataSetFunction": {("dynamodb:UpdateItem", "DataSetsTable"), ("dynamodb:PutItem", "DataSetsTable")},
    "LoadProductsFunction": {("dynamodb:GetItem", "DataSetsTable"), ("dynamodb:PutItem", "TasksTable"),
                             ("dynamodb:UpdateItem", "TasksTable"), ("dynamodb:DeleteItem", "TasksTable"),
                             ("s3:PutObject", "IndexBucket/ingest/*"),
                             ("sqs:SendMessage", "JobsQueue")},
    "CreateServiceAccountFunction": {("dynamodb:UpdateItem", "AccountsTable"), ("dynamodb:PutItem", "AccountsTable"),
                                     ("dynamodb:BatchGetItem", "DataSetsTable")},
    "ListServiceAccountsFunction": {("dynamodb:Scan", "AccountsTable")},
    "UpdateServiceAccountFunction": {("dynamodb:UpdateItem", "AccountsTable"),
                                     ("dynamodb:BatchGetItem", "DataSetsTable")},
    "ResetServiceAccountTokenFunction": {("dynamodb:UpdateItem", "AccountsTable")},
    "WorkerFunction": {
        ("dynamodb:UpdateItem", "TasksTable"),
        ("dynamodb:Query", "ConversationsTable"), ("dynamodb:PutItem", "ConversationsTable"),
        ("dynamodb:GetItem", "DataSetsTable"), ("dynamodb:Query", "DataSetsTable"),
        ("dynamodb:BatchWriteItem", "DataSetsTable"), ("dynamodb:UpdateItem", "DataSetsTable"),
        ("s3:GetObject", "IndexBucket/ingest/*"), ("s3:DeleteObject", "IndexBucket/ingest/*"),
        ("s3:GetObject", "IndexBucket/index/*"), ("s3:PutObject", "IndexBucket/index/*"),
        ("bedrock:InvokeModel", "foundation-model/<BedrockModelIds>"),
        ("bedrock:InvokeModelWithResponseStream", "foundation-model/<BedrockModelIds>"),  # ConverseStream
        ("secretsmanager:GetSecretValue", "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
                                          ":secret:parley/*"),
        ("dynamodb:Query", "ConnectionsTable"), ("dynamodb:GetItem", "ConnectionsTable"),
        ("dynamodb:BatchWriteItem", "ConnectionsTable"),
        ("execute-api:ManageConnections", "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}"
                                          ":${WebSocketApi}/${WebSocketStage}/POST/@connections/*"),
    },
    "WsAuthorizerFunction": {("dynamodb:GetItem", "AccountsTable")},
    "WsConnectFunction": {("dynamodb:PutItem", "ConnectionsTable")},
    "WsDisconnectFunction": {("dynamodb:GetItem", "ConnectionsTable"), ("dynamodb:BatchWriteItem", "ConnectionsTable")},
    "WsDefaultFunction": {("dynamodb:GetItem", "ConnectionsTable"), ("dynamodb:UpdateItem", "ConnectionsTable"),
                          ("dynamodb:PutItem", "ConnectionsTable"), ("dynamodb:DeleteItem", "ConnectionsTable"),
                          ("dynamodb:GetItem", "ConversationsTable")},
}
NEEDED["ApiDocsFunction"] = set()
NEEDED["SweeperFunction"] = {
    ("dynamodb:Query", "TasksTable/index/open_tasks"), ("dynamodb:UpdateItem", "TasksTable"),
    ("dynamodb:PutItem", "ConversationsTable"), ("sqs:SendMessage", "JobsQueue"),
}
NEEDED["LoadDocumentsFunction"] = NEEDED["LoadProductsFunction"]


def resource_name(resource) -> str:
    """`!GetAtt X.Arn` -> X; `!Sub "${X.Arn}/index/y"` -> X/index/y; a foundation-model ARN built from the
    BedrockModelIds parameter -> foundation-model/<BedrockModelIds>; anything else is returned as text."""
    text = json.dumps(resource)
    if "foundation-model/${Id}" in text and "BedrockModelIds" in text:
        return "foundation-model/<BedrockModelIds>"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    if isinstance(resource, dict) and "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], str):
        text = resource["Fn::Sub"]
        if text.startswith("${") and ".Arn}" in text:
            return text[2:text.index(".Arn}")] + text[text.index(".Arn}") + 5:]
        return text
    return str(resource)


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
                    pairs.add((action, resource_name(resource)))
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
        assert resource != "*" and not resource.endswith(":*"), f"{function}: wildcard resource {resource}"


@pytest.mark.parametrize("function", sorted(STACK.functions()))
def test_each_policy_grants_only_what_the_code_calls(function):
    if function not in NEEDED:
        pytest.fail(f"{function} is new: add what its code calls to NEEDED in this test")
    extra = granted(function) - NEEDED[function]
    assert not extra, f"{function} grants more than its code needs: {sorted(extra)}"


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
