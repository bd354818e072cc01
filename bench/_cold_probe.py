"""Runs in a fresh interpreter: times the import of one handler module, then its first and second invocation.

Reads a JSON job on stdin and prints one line `BENCH_RESULT {...}` (the handlers log to stdout too)."""

import json
import sys
import time

job = json.loads(sys.stdin.read())
started = time.perf_counter()
if job["module"] == "boto3":
    import boto3  # noqa: F401

    handler = None
else:
    sys.path.insert(0, job["code_dir"])
    import importlib

    module = importlib.import_module(job["module"])
    handler = getattr(module, job["handler"])
imported = time.perf_counter()
result = {"import_s": imported - started}


class Context:
    """What handlers and Powertools read from Lambda's context object."""

    def __init__(self, name: str, memory: int):
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = "00000000-0000-4000-8000-000000000000"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


if handler is not None and job.get("events"):
    context = Context(job["function_name"], job["memory"])
    timings, statuses = [], []
    for event in job["events"]:
        before = time.perf_counter()
        response = handler(event, context)
        timings.append(time.perf_counter() - before)
        if isinstance(response, dict):
            statuses.append(
                response.get("statusCode") or f"isAuthorized={response.get('isAuthorized')}"
                if "batchItemFailures" not in response
                else f"failures={len(response['batchItemFailures'])}"
            )
    result["invocations_s"] = timings
    result["statuses"] = statuses
print("BENCH_RESULT " + json.dumps(result), flush=True)
