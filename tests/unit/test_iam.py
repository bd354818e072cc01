"""IAM as AWS applies it: every function's calls are checked against its template policy (tests/conftest.py
installs the check for the whole suite; a whole-suite run also fails on grants no call needed)."""

from __future__ import annotations

import pytest

from parley_local.iam import AccessDenied, IamEmulation, requested
from parley_local.resources import ACCOUNT, REGION

TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table"


def local_names() -> dict[str, dict[str, str]]:
    names = ["ConversationsTable", "TasksTable", "DataSetsTable", "AccountsTable"]
    physical = {name: {"Ref": name, "Arn": f"{TABLE}/{name}"} for name in names}
    physical["JobsQueue"] = {
        "Ref": "http://localhost/123/JobsQueue.fifo",
        "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:JobsQueue.fifo",
    }
    physical["JobsDeadLetterQueue"] = {
        "Ref": "http://localhost/123/JobsDeadLetterQueue.fifo",
        "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:JobsDeadLetterQueue.fifo",
    }
    physical["IndexBucket"] = {"Ref": "parley-indexbucket", "Arn": "arn:aws:s3:::parley-indexbucket"}
    return physical


@pytest.fixture(scope="module")
def iam(template_stack) -> IamEmulation:
    emulation = IamEmulation(template_stack)
    emulation.use_resources(local_names())
    return emulation


def test_an_empty_service_account_patch_is_allowed_by_its_policy(admin):
    """PATCH {} reads the account (GetItem): denied by the template before the fix, a 500 on AWS."""
    account = admin.post("/api/service_accounts", {"name": "bot", "data_set_ids": [1]}).json()
    response = admin.patch(f"/api/service_accounts/{account['id']}", {})
    assert response.status == 200, response.body
    assert response.json()["name"] == "bot"


def test_a_call_outside_the_policy_is_access_denied(iam):
    iam.check("TaskStatusFunction", "dynamodb", "GetItem", {"TableName": "TasksTable"})
    with pytest.raises(AccessDenied, match="dynamodb:PutItem"):
        iam.check("TaskStatusFunction", "dynamodb", "PutItem", {"TableName": "TasksTable"})
    with pytest.raises(AccessDenied, match="AccountsTable"):
        iam.check("TaskStatusFunction", "dynamodb", "GetItem", {"TableName": "AccountsTable"})


def test_a_transaction_needs_each_items_own_action_on_its_table():
    pairs = requested(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "A"}},
                {"Update": {"TableName": "B"}},
                {"ConditionCheck": {"TableName": "A"}},
            ]
        },
    )
    assert pairs == [
        ("dynamodb:PutItem", f"{TABLE}/A"),
        ("dynamodb:UpdateItem", f"{TABLE}/B"),
        ("dynamodb:ConditionCheckItem", f"{TABLE}/A"),
    ]


def test_an_index_query_needs_the_index_arn(iam):
    iam.check(
        "ListConversationsFunction", "dynamodb", "Query", {"TableName": "ConversationsTable", "IndexName": "by_owner"}
    )
    with pytest.raises(AccessDenied):
        iam.check("ListConversationsFunction", "dynamodb", "Query", {"TableName": "ConversationsTable"})


def test_s3_keys_are_checked_against_the_granted_prefixes(iam):
    iam.check("LoadProductsFunction", "s3", "PutObject", {"Bucket": "parley-indexbucket", "Key": "ingest/1/t.json"})
    with pytest.raises(AccessDenied):
        iam.check("LoadProductsFunction", "s3", "PutObject", {"Bucket": "parley-indexbucket", "Key": "index/1/x"})


def test_bedrock_models_are_those_of_the_parameter(iam, template_stack):
    allowed = template_stack.parameter_default("BedrockModelIds").split(",")
    for model in allowed:
        iam.check("WorkerFunction", "bedrock", "Converse", {"modelId": model})
    with pytest.raises(AccessDenied):
        iam.check("WorkerFunction", "bedrock", "Converse", {"modelId": "some.other-model-v1:0"})
    with pytest.raises(AccessDenied):
        iam.check("CreateConversationFunction", "bedrock", "Converse", {"modelId": allowed[0]})


def test_unused_grants_are_reported_per_function(template_stack):
    fresh = IamEmulation(template_stack)
    fresh.use_resources(local_names())
    fresh.check("TaskStatusFunction", "dynamodb", "GetItem", {"TableName": "TasksTable"})
    unused = fresh.unused()
    assert "TaskStatusFunction" not in unused
    assert any(
        action == "dynamodb:PutItem" and f"{TABLE}/TasksTable" in grant
        for action, grant in unused["SendMessageFunction"]
    )


def test_one_model_of_the_parameters_list_uses_the_grant(iam, template_stack):
    fresh = IamEmulation(template_stack)
    fresh.use_resources(local_names())
    fresh.check(
        "WorkerFunction",
        "bedrock",
        "Converse",
        {"modelId": template_stack.parameter_default("BedrockModelIds").split(",")[0]},
    )
    assert "bedrock:InvokeModel" not in {action for action, _ in fresh.unused()["WorkerFunction"]}
