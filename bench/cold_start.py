"""1. Cold start: each function's handler import in a fresh interpreter vs `import boto3`, then its first
(cold) and second (warm) invocation against the AWS emulation (moto server on loopback).

The probes run in a Lambda-like environment, not in the dev venv (where aws-sam-cli installs `awscrt`, which
botocore then imports, inflating `import boto3` by a third): a venv of its own under .parley-data/ on
python3.13 when available (PARLEY_PYTHON313, as the Makefile finds it), holding only the layer's
requirements plus boto3 (as the python3.13 runtime provides it, without awscrt), with the layer's package
on PYTHONPATH (like /opt/python) and each function's code dir as the working directory and first path
entry (like /var/task).

Rounds are interleaved (boto3, every function, boto3, ...) so that machine noise hits all alike."""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench.common import DEV_TOKEN, ROOT, lambda_environment, median, percentile

PROBE = ROOT / "bench" / "_cold_probe.py"
API_TARGET_RATIO = 1.2  # issue 15: every API handler within 1.2x `import boto3`
LAMBDA_VENV = ROOT / ".parley-data" / "bench-lambda-venv"
LAYER_DIR = ROOT / "layers" / "parley"
TRACING_REQUIREMENTS = ROOT / "layers" / "tracing" / "requirements.txt"
TRACED = ("TaskStatusFunction", "SendMessageFunction", "WorkerFunction")  # EnableTracing=true vs false
# What Lambda sets for a sampled invocation of a function with active tracing (X-Ray sends to a UDP daemon).
TRACING_ON = {
    "POWERTOOLS_TRACE_DISABLED": "false",
    "LAMBDA_TASK_ROOT": str(ROOT),
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
}


def _python313() -> str | None:
    candidates = [os.environ.get("PARLEY_PYTHON313"), shutil.which("python3.13")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13.*/bin/python3.13")))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def lambda_venv() -> dict[str, Any]:
    """The Lambda-like venv (built once, rebuilt when the layer's requirements or the interpreter change):
    {"python": path, "version": "3.13.x", "packages": {...}, "awscrt": False}."""
    base = _python313() or sys.executable
    # the tracing layer's X-Ray SDK too, for the tracing-on rows (it is imported only when tracing is on)
    requirements = (LAYER_DIR / "requirements.txt").read_text() + TRACING_REQUIREMENTS.read_text()
    wanted = hashlib.sha256(f"{base}\n{requirements}\nboto3".encode()).hexdigest()
    python = LAMBDA_VENV / "bin" / "python"
    stamp = LAMBDA_VENV / ".bench-stamp"
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        shutil.rmtree(LAMBDA_VENV, ignore_errors=True)
        subprocess.run([base, "-m", "venv", str(LAMBDA_VENV)], check=True, capture_output=True)
        done = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(LAYER_DIR / "requirements.txt"),
                "-r",
                str(TRACING_REQUIREMENTS),
                "boto3",
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"building {LAMBDA_VENV} failed:\n{done.stderr[-2000:]}")
        stamp.write_text(wanted)
    described = subprocess.run(
        [
            str(python),
            "-c",
            (
                "import importlib.metadata as m, importlib.util as u, json, platform; print(json.dumps({"
                "'version': platform.python_version(), 'awscrt': u.find_spec('awscrt') is not None, "
                "'packages': {n: m.version(n) for n in ('boto3', 'botocore', 'aws-lambda-powertools', 'pydantic')}}))"
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return {"python": str(python), "base": base, **json.loads(described.stdout)}


def _api_requests(admin_token: str, conversation_id: int, task_id: str, account_id: int) -> dict[str, tuple]:
    """(method, path, body) of a representative request per API function."""
    product = {"sku": "BENCH-1", "name": "Bench plan", "description": "A plan for the benchmark.", "price": 10}
    document = {"title": "Bench notes", "content": "The benchmark plan is fast. It costs little."}
    return {
        "CreateConversationFunction": ("POST", "/api/conversations", {"data_set_id": 1}),
        "ListConversationsFunction": ("GET", "/api/conversations", None),
        "GetConversationFunction": ("GET", f"/api/conversations/{conversation_id}", None),
        "SendMessageFunction": (
            "POST",
            f"/api/conversations/{conversation_id}",
            {"question_message": "Does FiberUP Business Duplex include an SLA?"},
        ),
        "TaskStatusFunction": ("GET", f"/api/task_status/{task_id}", None),
        "ListDataSetsFunction": ("GET", "/api/data_sets", None),
        "GetDataSetFunction": ("GET", "/api/data_sets/1", None),
        "CreateDataSetFunction": ("POST", "/api/data_sets", {"name": "bench"}),
        "LoadProductsFunction": ("POST", "/api/data_sets/2/products", {"products": [product]}),
        "LoadDocumentsFunction": ("POST", "/api/data_sets/2/documents", {"documents": [document]}),
        "CreateServiceAccountFunction": ("POST", "/api/service_accounts", {"name": "svc", "data_set_ids": [1]}),
        "ListServiceAccountsFunction": ("GET", "/api/service_accounts", None),
        "UpdateServiceAccountFunction": ("PATCH", f"/api/service_accounts/{account_id}", {"name": "svc2"}),
        "ResetServiceAccountTokenFunction": ("POST", f"/api/service_accounts/{account_id}/reset_token", None),
        "UpdateDataSetSettingsFunction": ("PATCH", "/api/data_sets/2/settings", {"provider": "extractive"}),
    }


def _worker_events(local: Any, call: Callable[..., Any], rounds: int) -> list[dict]:
    """One fresh answer job per worker round, as the SQS events the worker gets (each conversation is its own
    FIFO group, so all arrive)."""
    wanted = set()
    for _ in range(rounds):
        cid = call("POST", "/api/conversations", {"data_set_id": 1}).json()["id"]
        wanted.add(
            call(
                "POST", f"/api/conversations/{cid}", {"question_message": "Is there a plan with guaranteed uptime?"}
            ).json()["task_id"]
        )
    messages: dict[str, dict] = {}
    sqs = local.pump.sqs
    for _ in range(100):
        batch = sqs.receive_message(
            QueueUrl=local.pump.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        for message in batch:
            tid = json.loads(message["Body"]).get("task_id")
            if tid in wanted:
                messages[tid] = message
        if len(messages) == len(wanted):
            break
    return [local.pump.event_for([m]) for m in messages.values()]


def prepare(rounds: int) -> tuple[Any, dict[str, str], dict[str, list[list[dict]]]]:
    """Start moto on loopback with the template's resources and the sample; build per-round events."""
    from parley_local import stack as local_stack

    server, endpoint = local_stack.start_emulation()
    local_stack.use_emulated_aws(endpoint)
    local = local_stack.build(endpoint, start_pump=False)
    account = local_stack.seed(DEV_TOKEN)
    gateway = local.gateway
    headers = [("content-type", "application/json"), ("authorization", f"Token {account['token']}")]

    def call(method: str, path: str, body: Any = None):
        return gateway.handle(method, path, headers, b"" if body is None else json.dumps(body).encode())

    assert call("POST", "/api/data_sets", {"name": "bench loads"}).status == 201
    conversation_id = call("POST", "/api/conversations", {"data_set_id": 1}).json()["id"]
    task_id = call(
        "POST", f"/api/conversations/{conversation_id}", {"question_message": "What does Home 300 cost?"}
    ).json()["task_id"]
    service = call("POST", "/api/service_accounts", {"name": "svc", "data_set_ids": [1]}).json()
    requests = _api_requests(account["token"], conversation_id, task_id, service["id"])

    def api_event(method: str, path: str, body: Any) -> dict:
        raw = b"" if body is None else json.dumps(body).encode()
        route, params = gateway.match(method, path)
        event = gateway.build_event(method, path, "", headers, raw, route, params)
        auth = gateway._authorize(event)
        event["requestContext"]["authorizer"] = {"lambda": auth.get("context") or {}}
        return event

    def authorizer_event() -> dict:
        event = api_event("GET", "/api/data_sets", None)
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:local/$default/GET/api/data_sets",
            "identitySource": [f"Token {account['token']}"],
            "routeKey": event["routeKey"],
            "rawPath": event["rawPath"],
            "rawQueryString": "",
            "headers": event["headers"],
            "requestContext": {k: v for k, v in event["requestContext"].items() if k != "authorizer"},
        }

    worker_events = _worker_events(local, call, rounds)

    events: dict[str, list[list[dict]]] = defaultdict(list)
    for r in range(rounds):
        for name, (method, path, body) in requests.items():
            if gateway.match(method, path) is None or name not in gateway.pools:
                continue  # a function this checkout does not have (yet)
            events[name].append([api_event(method, path, body), api_event(method, path, body)])
        events["AuthorizerFunction"].append([authorizer_event(), authorizer_event()])
        if r < len(worker_events):
            events["WorkerFunction"].append([worker_events[r]])
    env = dict(local.environment())
    env["AWS_ENDPOINT_URL"] = endpoint
    return (server, local), env, events


_PYTHON: dict[str, str] = {}  # {"python": the Lambda-like venv's interpreter}, set by run()


def _probe(job: dict, env: dict[str, str], importtime: bool = False) -> tuple[dict, str]:
    args = [_PYTHON["python"]] + (["-X", "importtime"] if importtime else []) + [str(PROBE)]
    env = {**env, "PYTHONPATH": str(LAYER_DIR)}  # the layer, as /opt/python on Lambda
    done = subprocess.run(
        args,
        input=json.dumps(job),
        capture_output=True,
        text=True,
        env=env,
        cwd=job.get("code_dir") or ROOT,
        timeout=120,
    )
    line = next((out for out in done.stdout.splitlines() if out.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(
            f"probe failed for {job.get('function_name')}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return json.loads(line[len("BENCH_RESULT ") :]), done.stderr


def importtime_by_package(stderr: str) -> list[tuple[str, float]]:
    """Self time (ms) per top-level package from `-X importtime` output, largest first."""
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if found:
            package = found.group(4).split(".")[0]
            if package.startswith("app"):
                package = "handler app.py"
            totals[package] += int(found.group(1)) / 1000
    return sorted(totals.items(), key=lambda kv: -kv[1])


def run(rounds: int = 15, invoke_rounds: int = 3) -> dict[str, Any]:
    import logging

    from parley_local.template import Stack

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto server's access log
    venv = lambda_venv()
    _PYTHON["python"] = venv["python"]
    (server, _local), stack_env, events = prepare(invoke_rounds)
    try:
        functions = Stack().functions()
        imports: dict[str, list[float]] = defaultdict(list)
        invocations: dict[str, list[list[float]]] = defaultdict(list)
        statuses: dict[str, set] = defaultdict(set)
        traced_imports: dict[str, list[float]] = defaultdict(list)
        traced_invocations: dict[str, list[list[float]]] = defaultdict(list)
        base_env = lambda_environment(stack_env, "bench", 256)
        for r in range(rounds):
            result, _ = _probe({"module": "boto3"}, base_env)
            imports["boto3"].append(result["import_s"])
            for name, fn in functions.items():
                module, attr = fn.handler.rsplit(".", 1)
                fn_events = events[name][r] if r < len(events[name]) else []
                job = {
                    "module": module,
                    "handler": attr,
                    "code_dir": str(fn.code_dir),
                    "events": fn_events,
                    "function_name": name,
                    "memory": fn.memory_mb,
                }
                result, _ = _probe(job, lambda_environment(stack_env, name, fn.memory_mb))
                imports[name].append(result["import_s"])
                if result.get("invocations_s"):
                    invocations[name].append(result["invocations_s"])
                    statuses[name].update(str(s) for s in result.get("statuses", []))
                if name in TRACED:
                    traced, _ = _probe(job, {**lambda_environment(stack_env, name, fn.memory_mb), **TRACING_ON})
                    traced_imports[name].append(traced["import_s"])
                    if traced.get("invocations_s"):
                        traced_invocations[name].append(traced["invocations_s"])
        profiles = {}
        for name, fn in functions.items():
            module, attr = fn.handler.rsplit(".", 1)
            job = {
                "module": module,
                "handler": attr,
                "code_dir": str(fn.code_dir),
                "events": [],
                "function_name": name,
                "memory": fn.memory_mb,
            }
            _, stderr = _probe(job, lambda_environment(stack_env, name, fn.memory_mb), importtime=True)
            profiles[name] = importtime_by_package(stderr)[:8]
        _, stderr = _probe({"module": "boto3"}, base_env, importtime=True)
        profiles["boto3"] = importtime_by_package(stderr)[:5]
    finally:
        server.stop()
    api_functions = {route.function for route in Stack().routes()} | {Stack().authorizer()[0]}
    boto3_median = median(imports["boto3"])
    out: dict[str, Any] = {
        "rounds": rounds,
        "boto3_import_s": boto3_median,
        "environment": venv,
        "boto3_p95_s": percentile(imports["boto3"], 95),
        "functions": {},
        "profiles": profiles,
    }
    for name in functions:
        first = [i[0] for i in invocations[name]]
        second = [i[1] for i in invocations[name] if len(i) > 1]
        out["functions"][name] = {
            "import_s": median(imports[name]),
            "import_p95_s": percentile(imports[name], 95),
            "ratio_to_boto3": median(imports[name]) / boto3_median,
            "first_invocation_s": median(first) if first else None,
            "warm_invocation_s": median(second) if second else None,
            "invocation_runs": len(first),
            "statuses": sorted(statuses[name]),
            "is_api": name in api_functions,
        }
    out["tracing"] = {}
    for name in TRACED:
        if name in functions and traced_imports[name]:
            first = [i[0] for i in traced_invocations[name]]
            out["tracing"][name] = {
                "import_off_s": median(imports[name]),
                "import_on_s": median(traced_imports[name]),
                "first_invocation_off_s": out["functions"][name]["first_invocation_s"],
                "first_invocation_on_s": median(first) if first else None,
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--invoke-rounds", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    result = run(args.rounds, args.invoke_rounds)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
