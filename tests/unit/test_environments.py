"""The local stack's Lambda execution environments (parley_local.runtime pools, parley_local.environment), with a
probe function (tests/fixtures/functions/probe) behind the real Gateway: one invocation at a time per
environment, module state per environment, a crash or timeout failing only its invocation (502), and Lambda's
6 MB payload limits measured on the JSON as Lambda marshals it, in both modes (processes and --in-process)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from parley_local.runtime import MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, Gateway, InvocationFailed
from parley_local.template import Stack

PROBE_TEMPLATE = {
    "Resources": {
        "Api": {
            "Type": "AWS::Serverless::HttpApi",
            "Properties": {
                "Auth": {
                    "DefaultAuthorizer": "Token",
                    "Authorizers": {
                        "Token": {
                            "FunctionArn": {"Fn::GetAtt": ["ProbeFunction", "Arn"]},
                            "Identity": {"Headers": ["Authorization"]},
                        }
                    },
                }
            },
        },
        "ProbeFunction": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "tests/fixtures/functions/probe/",
                "Handler": "app.lambda_handler",
                "Timeout": 3,
                "ReservedConcurrentExecutions": 3,
                "Events": {
                    "Probe": {
                        "Type": "HttpApi",
                        "Properties": {"Method": "POST", "Path": "/probe/{action}", "Auth": {"Authorizer": "NONE"}},
                    }
                },
            },
        },
    }
}
MODES = {"processes": False, "in-process": True}


@pytest.fixture(params=list(MODES))
def probe(request):
    gateway = Gateway(Stack(PROBE_TEMPLATE), in_process=MODES[request.param], idle_seconds=0)
    yield gateway
    gateway.close()


def call(gateway: Gateway, action: str, body: Any = None, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body or {}).encode()
    return gateway.handle("POST", f"/probe/{action}", [("Content-Type", "application/json")], data)


def overlapping(gateway: Gateway, parties: int, tmp_path) -> list[dict[str, Any]]:
    """`parties` invocations that each wait for all the others before answering."""
    answers: list[Any] = [None] * parties
    tmp_path.mkdir()

    def run(n: int) -> None:
        answers[n] = call(gateway, "meet", {"dir": str(tmp_path), "parties": parties})

    threads = [threading.Thread(target=run, args=(n,)) for n in range(parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status for a in answers] == [200] * parties
    return [a.json() for a in answers]


def test_overlapping_invocations_each_get_an_environment_of_their_own(tmp_path):
    gateway = Gateway(Stack(PROBE_TEMPLATE), in_process=False, idle_seconds=0)
    try:
        first = overlapping(gateway, 3, tmp_path / "a")
        assert len({a["pid"] for a in first}) == 3  # three processes: no module state shared between them
        assert [a["calls"] for a in first] == [1, 1, 1]
        again = call(gateway, "state").json()  # an environment is reused, its module state kept
        assert again["pid"] in {a["pid"] for a in first} and again["calls"] == 2
        assert gateway.pools["ProbeFunction"].concurrency == 3  # ReservedConcurrentExecutions
    finally:
        gateway.close()


def test_invocations_beyond_the_reserved_concurrency_wait_for_a_free_environment(tmp_path):
    gateway = Gateway(Stack(PROBE_TEMPLATE), in_process=False, idle_seconds=0)
    try:
        overlapping(gateway, 3, tmp_path / "a")
        done: list[Any] = []
        waiting = threading.Thread(target=lambda: done.append(call(gateway, "state")))
        # three environments busy at a meeting of four: the fourth invocation waits for one of them
        meeting = threading.Thread(target=overlapping, args=(gateway, 3, tmp_path / "b"))
        meeting.start()
        waiting.start()
        meeting.join()
        waiting.join()
        assert done[0].status == 200
        assert len({env.process.pid for env, _ in gateway.pools["ProbeFunction"]._idle}) == 3
    finally:
        gateway.close()


def test_a_crashing_environment_fails_only_its_invocation(tmp_path):
    gateway = Gateway(Stack(PROBE_TEMPLATE), in_process=False, idle_seconds=0)
    try:
        before = call(gateway, "state").json()
        crashed = call(gateway, "crash")
        assert crashed.status == 502 and crashed.json() == {"message": "Internal Server Error"}
        after = call(gateway, "state")
        assert after.status == 200 and after.json()["pid"] != before["pid"] and after.json()["calls"] == 1
    finally:
        gateway.close()


def test_a_timed_out_invocation_is_a_502_and_its_environment_is_stopped():
    gateway = Gateway(Stack(PROBE_TEMPLATE), in_process=False, idle_seconds=0)
    try:
        pid = call(gateway, "state").json()["pid"]
        assert call(gateway, "sleep", {"seconds": 30}).status == 502  # the function's Timeout is 3 s
        assert call(gateway, "state").json()["pid"] != pid
    finally:
        gateway.close()


def test_idle_environments_are_reaped():
    gateway = Gateway(Stack(PROBE_TEMPLATE), in_process=False, idle_seconds=0)
    try:
        process = gateway.pools["ProbeFunction"]
        call(gateway, "state")
        assert process.reap(3600) == 0 and len(process._idle) == 1
        environment = process._idle[0][0]
        assert process.reap(0) == 1 and environment.process.poll() is not None
        assert call(gateway, "state").json()["calls"] == 1  # a new cold start
    finally:
        gateway.close()


def test_a_function_error_is_a_502(probe):
    failed = call(probe, "fail")
    assert failed.status == 502 and failed.json() == {"message": "Internal Server Error"}
    assert call(probe, "state").status == 200


def test_the_6_mb_result_limit_counts_the_json_lambda_marshals(probe):
    overhead = len(json.dumps({"statusCode": 200, "body": json.dumps({"text": ""})}, ensure_ascii=False).encode())
    at_limit = call(probe, "big", {"char": "a", "count": MAX_RESPONSE_BYTES - overhead})
    assert at_limit.status == 200 and len(at_limit.json()["text"]) == MAX_RESPONSE_BYTES - overhead
    over = call(probe, "big", {"char": "a", "count": MAX_RESPONSE_BYTES - overhead + 1})
    assert over.status == 502 and over.json() == {"message": "Internal Server Error"}
    # 1.8 MB of emoji as text: the body escapes each to \\ud83d\\ude00, the result escapes the backslashes again
    emoji = call(probe, "big", {"char": "\N{GRINNING FACE}", "count": 460_000})
    assert emoji.status == 502


def test_an_event_over_6_mb_is_a_502_and_an_http_body_over_10_mb_a_413(probe):
    body = json.dumps({"pad": "x" * MAX_REQUEST_BYTES}).encode()
    assert call(probe, "state", raw=body).status == 502
    assert call(probe, "state", raw=b"x" * (10 * 1024 * 1024 + 1)).status == 413


def test_a_function_error_raises_for_the_queue_pump(probe):
    expected = (
        (RuntimeError, "the probe failed on purpose") if probe.in_process else (InvocationFailed, "function error")
    )
    with pytest.raises(expected[0], match=expected[1]):
        probe.pools["ProbeFunction"].invoke({"pathParameters": {"action": "fail"}})


def test_a_function_error_keeps_its_environment_and_module_state(probe):
    assert call(probe, "state").json()["calls"] == 1
    assert call(probe, "fail").status == 502
    assert call(probe, "state").json()["calls"] == 3  # the same environment: no new cold start
