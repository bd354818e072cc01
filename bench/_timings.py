"""Per-invocation timings of the local stack (imported by bench/_timed_stack.py and, before their handler, by
the environment processes): every Lambda invocation is appended to $BENCH_TIMINGS as one JSON line
(function, start and end wall-clock time, time spent in AWS requests in total and per request, the task ids
it handled), without changing the product code (bench/instrument.py wraps it). The worker also gets one line
per record of its batch ("fn": "WorkerRecord"), so a batch's time is attributed to each task by what that task
itself took, not counted once per task in the batch."""

import json
import os
import threading
import time

from bench import instrument

_out = open(os.environ["BENCH_TIMINGS"], "a", buffering=1)
_lock = threading.Lock()


def _write(entry: dict) -> None:
    with _lock:
        _out.write(json.dumps(entry) + "\n")


def _aws_entry(calls: list) -> dict:
    return {
        "aws_s": sum(seconds for _, seconds in calls),
        "aws_n": len(calls),
        "aws_calls": [[label, round(seconds, 6)] for label, seconds in calls],
    }


def on_invoke(fn: str, event: dict, result, started: float, ended: float, aws: list) -> None:
    entry = {"fn": fn, "t0": started, "t1": ended, **_aws_entry(aws)}
    if "Records" in event:
        ids = []
        for record in event["Records"]:
            try:
                ids.append(json.loads(record["body"]).get("task_id"))
            except (ValueError, AttributeError):
                pass
        entry["task_ids"] = ids
    elif isinstance(result, dict) and result.get("statusCode") == 202:
        try:
            entry["task_ids"] = [json.loads(result.get("body") or "{}").get("task_id")]
        except ValueError:
            pass
    _write(entry)


def _time_each_record() -> None:
    """Wrap the domain's per-job entry point (the worker handler calls `worker.handle` once per record)."""

    from parley.logic import worker

    handle = worker.handle

    def timed_handle(job, *args, **kwargs):
        calls = instrument.current_aws_calls()
        mark = len(calls) if calls is not None else 0
        started = time.time()
        try:
            return handle(job, *args, **kwargs)
        finally:
            ended = time.time()
            mine = calls[mark:] if calls is not None else []
            task_id = job.get("task_id") if isinstance(job, dict) else None
            _write({"fn": "WorkerRecord", "t0": started, "t1": ended, "task_ids": [task_id], **_aws_entry(mine)})

    worker.handle = timed_handle


def _in_the_worker() -> bool:
    """In the stack's process (--in-process) or in one of the worker's environments, not the other functions'."""
    from parley_local.template import Stack

    consumer = Stack().sqs_consumer()[0]
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME", consumer) == consumer


instrument.install(record=False, on_invoke=on_invoke)
if _in_the_worker():
    _time_each_record()
    if os.environ.get("BENCH_STREAM_TOKENS"):  # the streaming benchmark's scripted model
        from bench import _scripted_stream

        _scripted_stream.install()
