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
