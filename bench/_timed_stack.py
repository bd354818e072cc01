"""`python -m parley_local` with per-invocation timings: every Lambda invocation of the stack is appended
to $BENCH_TIMINGS as one JSON line (function, start and end wall-clock time, time spent in AWS requests,
the task ids it handled), without changing the product code (bench/instrument.py wraps it)."""

import json
import os
import sys
import threading

from bench import instrument

_out = open(os.environ["BENCH_TIMINGS"], "a", buffering=1)
_lock = threading.Lock()


def on_invoke(fn: str, event: dict, result, started: float, ended: float, aws: list) -> None:
    entry = {"fn": fn, "t0": started, "t1": ended, "aws_s": sum(aws), "aws_n": len(aws)}
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
    with _lock:
        _out.write(json.dumps(entry) + "\n")


instrument.install(record=False, on_invoke=on_invoke)

from parley_local.__main__ import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
