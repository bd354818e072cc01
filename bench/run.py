"""`make bench`: runs every benchmark section in its own process, prints one table and rewrites
BENCHMARKS.md (figures, machine, date, command). Sections: cold start, AWS requests per operation, cost
per 1,000 turns, turn latency on the local stack, retrieval at scale, retrieval quality, deployment size,
answer accuracy by question type, the tool-calling loop, streaming over the WebSocket API.

    .venv/bin/python -m bench.run            # the whole harness (< 10 minutes on 2 cores)
    .venv/bin/python -m bench.run --quick    # fewer rounds and sizes, for trying the harness itself
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, machine

Row = Callable[..., None]  # row(section, metric, measured, target="", ok=None): one line of the summary table
Failed = Callable[[dict[str, Any], str, str], bool]  # reports a section that did not run; True if so

# AWS list prices, us-east-1, as published in 2025 (assumed unchanged on the date of the run).
PRICES = {
    "http_api_per_million": 1.00,
    "lambda_arm64_gb_second": 0.0000133334,
    "lambda_per_million_requests": 0.20,
    "dynamodb_per_million_wru": 0.625,
    "dynamodb_per_million_rru": 0.125,
    "sqs_fifo_per_million": 0.50,
}
PRICES_DATE = "2025 list prices (us-east-1), assumed current"
REFERENCE = {"p50_sequential_s": 0.148, "throughput_8": 12.0, "p50_8_s": 0.620, "memory_mb": 860}


LATENCY_FLOOR = """### The floor, and why the targets are (not) met

**1 client (~105 ms; target 74 ms).** The client POSTs (send handler: 1 TransactWriteItems + 1 SQS
SendMessage, ~25-30 ms on the emulators), then **sleeps 50 ms before its first poll** (the issue fixes
polling at 50 ms), polls the task once (1 GetItem, ~7 ms as the client sees it) and reads the
conversation (1 Query, ~10-15 ms for a conversation of up to 60 messages). The worker (4 DynamoDB requests,
~40 ms) runs during that first sleep and is done before it ends (mean polls per turn 1.0), so it is off
the critical path: turn = send + 50 ms + status + read + 4 loopback round trips. With the emulators as
they are (DynamoDB Local: TransactWriteItems 6-12 ms, Query 3-10 ms; moto SendMessage ~8 ms; botocore
~1-2 ms of CPU per request) that is ~100 ms; with instant storage it would be ~60-65 ms. A client polling
every 50 ms waits 25 ms on average for an answer whose time is spread out, but here the answer is always
ready within the first sleep, so the whole 50 ms is paid on every turn. 74 ms would need every emulated
request at ~2 ms; it is not reachable with DynamoDB Local + moto on this machine, and it is the storage
emulators, not our code (API + worker code ~10 ms), that set it.

**8 clients (in memory ~28 turns/s, on disk ~17; target 24).** The stack is CPU-bound, not waiting:
the stack's Python process, DynamoDB Local's JVM, the moto process and the load generator share 2 cores.
Per turn (measured from /proc): the stack ~45-50 ms of CPU, two thirds of it inside botocore (request
building, signing, hooks, response parsing: ~2 ms per AWS request, ~10 requests per turn plus one GetItem
per poll); the JVM ~30 ms (~1 ms per request once its JIT has warmed up, ~3.5 ms before, hence the warm-up
turns); moto ~8 ms; the client ~14 ms. ~100 ms of CPU per turn is a ceiling of ~20-25 turns/s on 2
otherwise idle cores, and every extra 50 ms of latency adds a poll (~8 ms of CPU), so latency and
throughput worsen together. Under that load the "worker" and "queue wait" stages are mostly waiting for
a CPU. On disk, DynamoDB Local's SQLite syncs each write, and its reads wait behind them (GetItem ~28 ms vs
~15 ms in memory under 8 clients): that is the gap between `make dev` and the in-memory figure. Not ours
and not tunable locally: botocore's and DynamoDB Local's CPU per request, SQLite's syncs, and moto's
TransactWriteItems, which deep-copies every table it touches (the --moto variant slows down as tables
grow; ~150 ms of moto CPU per turn).

**What was fixed** (profiled with py-spy, `--gil` for CPU, and the stack's own timings): moto ran as a
thread of the stack process, so its request handling competed with the handlers for the interpreter lock
(py-spy showed handler threads stalled on every socket call) -> moto runs in its own process
(`parley_local.emulation`), one request at a time (its backends are not thread-safe: "dictionary changed
size during iteration" under 8 clients), the lock released while an SQS long poll waits; werkzeug closed
the connection after every response (a new TCP connection per SQS/S3 request, then a 10 ms drain) -> kept
alive; moto listed its package directory and inspected its response classes on every request (~25% of its
CPU per SQS request) -> computed once; both HTTP servers (the stack's and moto's) wrote headers and body
as two small writes, so the body waited up to 40 ms for the client's delayed ACK (Nagle) -> one write
(task status 52 ms -> 7 ms as the client sees it, conversation read 56 -> 10 ms); the access log went
through Powertools' JSON logger at INFO (~4% of the stack's CPU) -> a plain logger, shown with
PARLEY_DEV_LOG_LEVEL=INFO. Measured and not kept: more queue pollers (4, 8: slower, CPU-bound), DynamoDB
Local with the C2 JIT (2x its CPU per turn over a bench-length run: compilation on the same 2 cores)."""


LATENCY_PROCESSES = """### Functions in processes (issue 16)

`make dev` runs each function in execution environment processes of its own (at most 2 per function here),
as Lambda does; the `--in-process` row is the same stack with every function on threads of the stack's one
process, as before. Both rows come from the same run, one after the other, on a host that other work
loads too (see the load average): compare them, not other runs. Under 8 clients the environments let the
handlers run beside each other instead of behind one interpreter lock; the host's CPU was busy throughout
both. Memory: at rest (after start, and again once idle environments are stopped) the stack holds no
environment, so its RSS is the single-process one; under 8 clients about 18 environments run, each with
its own interpreter, boto3 and Powertools (~60-80 MB RSS each, much of it shared pages: see PSS). One
client's latency depends on whether the answer is ready at the first poll (50 ms after the send); on a
loaded host that varies from run to run in both modes: `python -m bench.latency --alternate --out x.json`
alternates the two modes (A B A B) for a like-for-like one-client comparison."""


def section(module: str, out_dir: Path, args: list[str], timeout: int) -> dict[str, Any]:
    out = out_dir / f"{module}.json"
    started = time.monotonic()
    print(f"[bench] {module} ...", file=sys.stderr, flush=True)
    try:
        done = subprocess.run(
            [PYTHON, "-m", f"bench.{module}", "--out", str(out), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    elapsed = time.monotonic() - started
    print(f"[bench] {module} done in {elapsed:.0f} s", file=sys.stderr, flush=True)
    if done.returncode or not out.exists():
        return {"error": (done.stderr or done.stdout)[-1500:]}
    result = json.loads(out.read_text())
    result["_seconds"] = elapsed
    return result


def catalog_tools_section(tools: dict[str, Any], md: list[str], row: Row) -> None:
    """5b. The typed catalog and its tools at scale (bench/catalog_tools.py)."""
    md.append("## 5b. Catalog tools at scale\n")
    if "error" in tools:
        row("5b catalog tools", "all", "FAILED: " + tools["error"][-200:])
        md.append(f"Failed: ```{tools['error']}```\n")
        return
    size = f"{tools['products'] // 1000}k"
    md.append(
        f"The synthetic catalog of section 5 ({tools['products']:,} products) as a typed catalog beside its index, "
        "in one fresh process: `search_products` with one filter (numeric range, value, category or price "
        f"range) and a sort (price or a numeric attribute) over {tools['queries']} queries; `get_product` by "
        "SKU. Build = index + catalog; peak RSS = the process's ru_maxrss after building both and packing the "
        "knowledge snapshot.\n"
    )
    row(
        "5b catalog tools",
        f"{size} search_products p50 / p95",
        f"{f_ms(tools['search_products_p50_s'])} / {f_ms(tools['search_products_p95_s'])}",
        "p50 <= 20 ms, p95 <= 50 ms",
        tools["search_products_p50_s"] <= 0.020 and tools["search_products_p95_s"] <= 0.050,
    )
    row(
        "5b catalog tools",
        f"{size} get_product p50 / p95",
        f"{tools['get_product_p50_s'] * 1e6:.0f} µs / {tools['get_product_p95_s'] * 1e6:.0f} µs",
        "p50 <= 1 ms",
        tools["get_product_p50_s"] <= 0.001,
    )
    row(
        "5b catalog tools",
        f"{size} build (index + catalog)",
        f"{tools['build_s']:.1f} s ({tools['index_build_s']:.1f} + {tools['catalog_build_s']:.1f})",
    )
    row("5b catalog tools", f"{size} peak memory", f"{tools['peak_rss_mb']:.0f} MB")
    row(
        "5b catalog tools",
        f"{size} catalog snapshot / load",
        f"{tools['catalog_bytes'] / 1e6:.1f} MB / {tools['catalog_from_bytes_s']:.2f} s",
    )
    md.append("")


def f_ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f} ms"


def ops_text(requests: dict[str, dict[str, int]]) -> str:
    parts = []
    for fn, ops in requests.items():
        label = fn.replace("Function", "")
        parts.append(f"{label}: " + ", ".join(f"{n} {op}" for op, n in sorted(ops.items())))
    return "; ".join(parts)


def polls_for(answer_s: float, schedule: str) -> int:
    """Task-status requests a client makes until it sees a task that finished `answer_s` after the send."""
    if schedule == "contract":  # every 2 s
        return max(1, int(answer_s // 2.0) + 1)
    elapsed, delay, polls = 0.0, 0.1, 0  # our client: 100 ms, doubling, capped at 2 s
    while True:
        elapsed += delay
        polls += 1
        if elapsed >= answer_s:
            return polls
        delay = min(delay * 2, 2.0)


def cost_per_1000(
    aws: dict, durations: dict[str, float], memory: dict[str, int], answer_s: float, schedule: str
) -> dict[str, Any]:
    ops = aws["operations"]
    polls = polls_for(answer_s, schedule)
    per_turn_api = 1 + polls + 1  # send, polls, read the conversation
    wru = ops["send message"]["wru"] + ops["worker turn (answer)"]["wru"]
    rru = (
        ops["send message"]["rru"]
        + polls * ops["task status"]["rru"]
        + ops["worker turn (answer)"]["rru"]
        + ops["read conversation (10 messages)"]["rru"]
    )
    sqs = ops["send message"]["sqs_requests"] + ops["worker turn (answer)"]["sqs_requests"]
    invocations = {
        "SendMessageFunction": 1,
        "TaskStatusFunction": polls,
        "GetConversationFunction": 1,
        "WorkerFunction": 1,
    }
    gb_s = sum(n * memory.get(fn, 256) / 1024 * max(0.001, durations.get(fn, 0.0)) for fn, n in invocations.items())
    lambda_requests = sum(invocations.values())
    dollars = {
        "HTTP API": per_turn_api * PRICES["http_api_per_million"] / 1e6,
        "Lambda requests": lambda_requests * PRICES["lambda_per_million_requests"] / 1e6,
        "Lambda GB-s": gb_s * PRICES["lambda_arm64_gb_second"],
        "DynamoDB writes": wru * PRICES["dynamodb_per_million_wru"] / 1e6,
        "DynamoDB reads": rru * PRICES["dynamodb_per_million_rru"] / 1e6,
        "SQS FIFO": sqs * PRICES["sqs_fifo_per_million"] / 1e6,
    }
    return {
        "schedule": schedule,
        "answer_s": answer_s,
        "polls": polls,
        "api_requests": per_turn_api,
        "lambda_invocations": lambda_requests,
        "gb_s": gb_s,
        "wru": wru,
        "rru": rru,
        "sqs": sqs,
        "per_1000_turns": {k: v * 1000 for k, v in dollars.items()},
        "total_per_1000_turns": sum(dollars.values()) * 1000,
    }


def accuracy_markdown(acc: dict[str, Any]) -> list[str]:
    """The accuracy table (question type x catalog) and the failed cases, from bench.agent_eval's results."""
    names = list(acc["by_catalog"])
    lines = [
        "Every case of the question suites (`tests/fixtures/suites/`, format in docs/agent-eval.md) asked through "
        "the API and the worker on an emulated stack, one data set per catalog (`python -m bench.agent_eval`). "
        "A cell is cases passed / cases.\n",
        "| type | " + " | ".join(names) + " | all |",
        "|---" * (len(names) + 2) + "|",
    ]
    for kind, cell in acc["by_type"].items():
        cells = [acc["by_catalog"][n]["by_type"].get(kind) for n in names]
        lines.append(
            f"| {kind} | "
            + " | ".join(f"{c['passed']}/{c['cases']}" if c else "-" for c in cells)
            + f" | {cell['passed']}/{cell['cases']} |"
        )
    lines.append(
        "| **all** | "
        + " | ".join(f"**{acc['by_catalog'][n]['passed']}/{acc['by_catalog'][n]['cases']}**" for n in names)
        + f" | **{acc['overall']['passed']}/{acc['overall']['cases']} ({acc['overall']['accuracy']:.0%})** |"
    )
    failed = [c for c in acc["cases"] if not c["passed"]]
    if failed:
        lines.append(f"\n<details><summary>{len(failed)} failed cases</summary>\n")
        for case in failed:
            asked = " / ".join([*case["turns"], case["question"]])
            lines.append(f"- `{case['id']}` {asked}: {'; '.join(case['missed'])}")
        lines.append("\n</details>")
    return lines


def cold_start_section(cold: dict[str, Any], md: list[str], row: Row, failed: Failed) -> None:
    md.append("## 1. Cold start\n")
    if not failed(cold, "1 cold start", "all functions"):
        b = cold["boto3_import_s"]
        row("1 cold start", "import boto3 (baseline)", f_ms(b))
        env = cold.get("environment") or {}
        pkgs = ", ".join(f"{n} {v}" for n, v in (env.get("packages") or {}).items())
        md.append(
            f"Import of each handler module in a fresh interpreter (median of {cold['rounds']} runs, rounds "
            f"interleaved with `import boto3` = **{f_ms(b)}** median in the same run and the same "
            "interpreter). Lambda-like environment, not the dev venv: a venv of its own "
            f"(`.parley-data/bench-lambda-venv`, Python {env.get('version', '?')}) holding only the layer's "
            f"requirements and boto3 ({pkgs}; awscrt: {'yes' if env.get('awscrt') else 'no'}, as on the "
            "python3.13 runtime; the dev venv has it through aws-sam-cli, which makes `import boto3` a third "
            "slower), the layer's package on PYTHONPATH as /opt/python, the function's code dir as working "
            "directory and first path entry as /var/task, the template's variables with dummy names. "
            "First / warm invocation: the handler's first and second call in that interpreter against moto "
            "server on loopback (lazy boto3 clients included in the first).\n"
        )
        md.append("| function | import p50 | p95 | x boto3 | first invocation | warm invocation | status |")
        md.append("|---|---|---|---|---|---|---|")
        api = {n: f for n, f in cold["functions"].items() if f["is_api"]}
        worst = max(api.items(), key=lambda kv: kv[1]["ratio_to_boto3"]) if api else None
        for name, fn in sorted(cold["functions"].items(), key=lambda kv: (not kv[1]["is_api"], kv[0])):
            md.append(
                f"| {name}{'' if fn['is_api'] else ' (not API)'} | {f_ms(fn['import_s'])} | "
                f"{f_ms(fn['import_p95_s'])} | {fn['ratio_to_boto3']:.2f} | {f_ms(fn['first_invocation_s'])}"
                f" | {f_ms(fn['warm_invocation_s'])} | {', '.join(fn['statuses'])} |"
            )
        if worst:
            from bench.cold_start import API_TARGET_RATIO

            missed = sorted(n for n, f in api.items() if f["ratio_to_boto3"] > API_TARGET_RATIO)
            row(
                "1 cold start",
                f"slowest API handler import ({worst[0]})",
                f"{f_ms(worst[1]['import_s'])} = {worst[1]['ratio_to_boto3']:.2f}x boto3",
                f"<= {API_TARGET_RATIO}x boto3",
                not missed,
            )
            if missed:
                row(
                    "1 cold start",
                    f"API handlers over {API_TARGET_RATIO}x",
                    ", ".join(m.replace("Function", "") for m in missed),
                )
        for name, traced in (cold.get("tracing") or {}).items():
            row(
                "1 cold start",
                f"{name.replace('Function', '')} import / first invocation, tracing off -> on",
                f"{f_ms(traced['import_off_s'])} -> {f_ms(traced['import_on_s'])} / "
                f"{f_ms(traced['first_invocation_off_s'])} -> {f_ms(traced['first_invocation_on_s'])}",
            )
        send = cold["functions"].get("SendMessageFunction")
        if send:
            row(
                "1 cold start",
                "send_message import / first invocation",
                f"{f_ms(send['import_s'])} ({send['ratio_to_boto3']:.2f}x) / {f_ms(send['first_invocation_s'])}",
            )
        worker = cold["functions"].get("WorkerFunction")
        if worker:
            row(
                "1 cold start",
                "worker import / first invocation (index load)",
                f"{f_ms(worker['import_s'])} ({worker['ratio_to_boto3']:.2f}x) / {f_ms(worker['first_invocation_s'])}",
                "reported separately",
            )
        md.append("\nWhere import time goes (`-X importtime`, self time summed per top-level package, one run):\n")
        for name in ("boto3", worst[0] if worst else None, "SendMessageFunction", "WorkerFunction"):
            if name and name in cold["profiles"]:
                top = ", ".join(f"{pkg} {t:.0f} ms" for pkg, t in cold["profiles"][name][:6])
                md.append(f"- {name}: {top}")
        md.append(
            "\nThe API handlers' floor: they import no boto3 at import time (clients are lazy, so boto3 "
            "lands in the first invocation), but Powertools' HTTP resolver with validation imports "
            "pydantic and its OpenAPI models (the request models' validators are built on first use, "
            "only for the models a handler uses); pydantic + pydantic_core + annotated_types and "
            "Powertools' event handler (whose package imports asyncio for its AppSync resolver) are most "
            "of every API handler's import, whatever the handler."
        )
        md.append("")


def aws_requests_section(aws: dict[str, Any], md: list[str], row: Row, failed: Failed) -> None:
    md.append("## 2. AWS requests per operation\n")
    if not failed(aws, "2 AWS requests", "all operations"):
        md.append(
            "Counted with botocore `before-call`/`after-call` hooks on every client (handlers' and the "
            "queue pump's) while the real handlers run through `parley_local.runtime.Gateway` / "
            "`QueuePump` against moto in-process; steady state (authorizer result cached, warm "
            "instances). Request units: computed from item sizes as on-demand DynamoDB bills them "
            "(writes: 1 WRU per started KB, x2 inside a transaction, +1 per GSI holding the item; reads: "
            "1 RRU per started 4 KB, half when eventually consistent). moto's own ConsumedCapacity "
            "(asked for with a harness-only `ReturnConsumedCapacity=TOTAL` hook) is a constant per "
            "request, so it is shown only for reference.\n"
        )
        md.append("| operation | requests | DynamoDB / SQS / S3 | RRU | WRU | moto-reported CU | target |")
        md.append("|---|---|---|---|---|---|---|")
        checks = {
            "create conversation": lambda o: o["dynamodb_requests"] <= 2,
            "send message": lambda o: o["dynamodb_requests"] == 1 and o["sqs_requests"] == 1,
            "send message with Idempotency-Key": lambda o: o["dynamodb_requests"] == 1 and o["sqs_requests"] == 1,
            "send message, retried with its Idempotency-Key": lambda o: (
                o["dynamodb_requests"] == 1 and o["sqs_requests"] == 0
            ),
            "task status": lambda o: o["dynamodb_requests"] == 1,
            "read conversation (10 messages)": lambda o: o["dynamodb_requests"] == 1,
            "read conversation (100 messages)": lambda o: o["dynamodb_requests"] == 1,
            "worker turn (answer)": lambda o: (
                o["dynamodb_requests"] <= 4
                and any("DeleteMessage" in op for ops in o["requests"].values() for op in ops)
            ),
        }
        for name, op in aws["operations"].items():
            target = aws["targets"].get(name, "")
            ok = checks[name](op) if name in checks else None
            md.append(
                f"| {name} | {ops_text(op['requests'])} | {op['dynamodb_requests']} / {op['sqs_requests']} / "
                f"{op['s3_requests']} | {op['rru']:g} | {op['wru']:g} | {op['moto_reported_units']:g} | "
                f"{target} {'' if ok is None else ('(ok)' if ok else '(MISSED)')} |"
            )
            row(
                "2 AWS requests",
                name,
                f"{op['dynamodb_requests']} DDB, {op['sqs_requests']} SQS, "
                f"{op['s3_requests']} S3; {op['rru']:g} RRU, {op['wru']:g} WRU",
                target,
                ok,
            )
        md.append("")


def offline_variant(lat: dict[str, Any]) -> dict[str, Any] | None:
    """The latency run of the offline engine on `make dev` (its durations price section 3), if it ran."""
    offline = None
    if "error" not in lat:
        with_data = [v for v in lat["variants"] if "sequential" in v]
        offline = next(
            (v for v in with_data if "make dev" in v["variant"] and "provider" not in v["variant"]),
            with_data[0] if with_data else None,
        )
    return offline


def cost_section(aws: dict[str, Any], offline: dict[str, Any] | None, md: list[str], row: Row) -> None:
    md.append("## 3. Cost per 1,000 turns (AWS list prices)\n")
    if "error" in aws:
        row("3 cost", "per 1,000 turns", "n/a (AWS request counts failed)")
    else:
        from parley_local.template import Stack

        memory = {n: f.memory_mb for n, f in Stack().functions().items()}
        durations = dict(aws["warm_durations_s"])
        source = "warm in-process durations (moto in-process)"
        if offline and offline.get("invocation_median_s"):
            durations.update(offline["invocation_median_s"])
            source = f"median invocation durations on the local stack ({offline['variant']}, section 4)"
        answer_s = 0.5
        if offline:
            st = offline["sequential"]["stages_s"]
            answer_s = max(0.05, sum(v for k, v in st.items() if not k.startswith("client polling")))
        md.append(
            f"Prices: {PRICES_DATE}: HTTP API ${PRICES['http_api_per_million']:.2f} per million requests; "
            f"Lambda arm64 ${PRICES['lambda_arm64_gb_second']} per GB-second + "
            f"${PRICES['lambda_per_million_requests']:.2f} per million requests; DynamoDB on-demand "
            f"${PRICES['dynamodb_per_million_wru']} per million WRU, ${PRICES['dynamodb_per_million_rru']} "
            f"per million RRU; SQS FIFO ${PRICES['sqs_fifo_per_million']:.2f} per million requests (64 KB "
            "chunks; our messages are < 1 KB).\n"
        )
        md.append(
            "A turn = POST the question (1 API request, SendMessage), the client polling task status "
            "until SUCCESS (P requests, TaskStatus), one GET of the conversation (GetConversation, 10 "
            "messages), the worker's answer (SQS send + event-source receive + delete, 1 Worker invocation "
            "per turn at low load; batching lowers it under load). Authorizer results are cached per "
            "token (60 s), so the authorizer is left out per turn.\n"
        )
        md.append(
            "    cost/turn = (2 + P) x HTTP + (3 + P) x Lambda req + sum_f(n_f x mem_f x dur_f) x GB-s\n"
            "              + WRU(send + worker) x WRU price"
            " + (RRU(send + worker + read) + P x RRU(status)) x RRU price\n"
            "              + SQS(send + receive + delete) x SQS price\n"
        )
        md.append(
            f"Lambda durations: {source}; memory from template.yaml. P depends on how long the answer "
            f"takes: measured {answer_s * 1000:.0f} ms from POST to the worker's end with the offline "
            "engine (section 4); 3 s assumed for a language-model answer (the model's own price is not "
            "included).\n"
        )
        md.append("| answer time | polling | P | API req | Lambda GB-s | WRU | RRU | SQS | $ per 1,000 turns |")
        md.append("|---|---|---|---|---|---|---|---|---|")
        best = None
        for answer in (answer_s, 3.0):
            for schedule in ("contract", "client"):
                c = cost_per_1000(aws, durations, memory, answer, schedule)
                label = "every 2 s (contract)" if schedule == "contract" else "100 ms doubling to 2 s (our client)"
                md.append(
                    f"| {answer * 1000:.0f} ms | {label} | {c['polls']} | {c['api_requests']} | "
                    f"{c['gb_s']:.4f} | {c['wru']:g} | {c['rru']:g} | {c['sqs']} | "
                    f"${c['total_per_1000_turns']:.4f} |"
                )
                if best is None:
                    best = c
                    breakdown = ", ".join(f"{k} ${v:.4f}" for k, v in c["per_1000_turns"].items())
                row(
                    "3 cost",
                    f"$ / 1,000 turns, answer {answer:.1f} s, {schedule} polling",
                    f"${c['total_per_1000_turns']:.4f} (P={c['polls']})",
                )
        md.append(
            f"\nBreakdown of the first row: {breakdown}. Not per turn: the event source mapping's idle "
            "long polling (about 5 pollers x 3 ReceiveMessage a minute, ~650k requests or ~$0.32 a month), "
            "authorizer invocations (one GetItem per token per cache TTL), S3 for index snapshots, "
            "CloudWatch Logs.\n"
        )


def latency_section(lat: dict[str, Any], md: list[str], row: Row, failed: Failed) -> None:
    md.append("## 4. Turn latency on the local stack\n")
    if not failed(lat, "4 latency", "all"):
        md.append(
            f"`python -m parley_local` over HTTP (started by the harness through `bench/_timed_stack.py`, "
            "which records every invocation's duration and time in AWS requests), clients polling the task "
            f"every {lat['poll_seconds'] * 1000:.0f} ms; a turn is POST question -> task SUCCESS -> GET "
            "conversation. Throughput = turns / wall time of the measured turns. Memory = RSS of the stack's "
            "process tree (/proc, environment processes included; RSS counts a page shared by n processes n "
            "times, PSS once), idle after start, peak under 8 clients, "
            "and idle again once the environments were reaped (the stacks run with --idle-seconds 10); "
            "CPU busy = the host's busy share (/proc/stat, all cores) during the measured 8-client turns, "
            "with the 1-minute load average just before them (the bench alone keeps it near 2; more is "
            "other work on the host). "
            "Reference (Django + Celery + "
            f"Postgres + Redis, same kind of machine, same fake): {REFERENCE['p50_sequential_s'] * 1000:.0f} ms "
            f"p50 sequential, {REFERENCE['throughput_8']:.0f} turns/s with 8 clients (p50 "
            f"{REFERENCE['p50_8_s'] * 1000:.0f} ms), {REFERENCE['memory_mb']} MB. Targets: half the "
            f"latency ({REFERENCE['p50_sequential_s'] * 500:.0f} ms), twice the throughput "
            f"({REFERENCE['throughput_8'] * 2:.0f} turns/s).\n"
        )
        md.append(
            "| variant | 1 client p50 / p95 | turns/s | 8 clients p50 / p95 | turns/s | host CPU busy "
            "| RSS idle / peak / idle after | PSS idle / peak |"
        )
        md.append("|---|---|---|---|---|---|---|---|")
        for v in lat["variants"]:
            if "pending" in v:
                md.append(f"| {v['variant']} | pending: {v['pending']} | | | | | | |")
                row("4 latency", v["variant"], "pending: " + v["pending"][:120])
                continue
            s, c = v["sequential"], v["concurrent8"]
            md.append(
                f"| {v['variant']} | {f_ms(s['p50_s'])} / {f_ms(s['p95_s'])} | {s['throughput_per_s']:.1f} | "
                f"{f_ms(c['p50_s'])} / {f_ms(c['p95_s'])} | {c['throughput_per_s']:.1f} | "
                f"{c['host_cpu_busy']:.0%} (load {c['host_load_before']:.1f}) | "
                f"{v['idle_rss_mb']:.0f} / {v['peak_rss_mb']:.0f} / {v['idle_after_rss_mb']:.0f} MB | "
                f"{v['idle_pss_mb']:.0f} / {v['peak_pss_mb']:.0f} MB |"
            )
            row(
                "4 latency",
                f"{v['variant']}: 1 client p50",
                f_ms(s["p50_s"]),
                f"<= {REFERENCE['p50_sequential_s'] * 500:.0f} ms",
                s["p50_s"] <= REFERENCE["p50_sequential_s"] / 2,
            )
            row(
                "4 latency",
                f"{v['variant']}: 8 clients",
                f"{c['throughput_per_s']:.1f} turns/s, p50 {f_ms(c['p50_s'])}",
                f">= {REFERENCE['throughput_8'] * 2:.0f} turns/s",
                c["throughput_per_s"] >= REFERENCE["throughput_8"] * 2,
            )
            row(
                "4 latency",
                f"{v['variant']}: memory (peak RSS / PSS)",
                f"{v['peak_rss_mb']:.0f} / {v['peak_pss_mb']:.0f} MB",
                f"< {REFERENCE['memory_mb']} MB",
                v["peak_pss_mb"] < REFERENCE["memory_mb"],
            )
        md.append(
            "\nShare of a turn per stage (mean seconds, from the stack's own timings; API = client to the "
            "send handler's end minus its AWS time; storage = time inside AWS requests of send + worker; "
            "queue wait = send handler's end to the start of the worker's work on *this* record (so "
            "waiting behind other records of the same batch counts here; can be slightly negative: the "
            "pump receives the job while the send handler is still returning); worker = that record's "
            "own time minus its AWS requests; polling = the record's end to the client holding the "
            "answer). A batch's records are timed one by one, so no AWS time is counted once per task "
            "of a batch:\n"
        )
        for v in lat["variants"]:
            for label in ("sequential", "concurrent8"):
                if label in v:
                    stages = v[label]["stages_s"]
                    total = sum(stages.values()) or 1
                    md.append(
                        f"- {v['variant']}, {'1 client' if label == 'sequential' else '8 clients'}: "
                        + ", ".join(f"{k} {t * 1000:.0f} ms ({t / total:.0%})" for k, t in stages.items())
                    )
        md.append(
            "\nMedian duration of each AWS request as the handlers saw it (client side, whole run of the "
            "variant, 1 and 8 clients):\n"
        )
        for v in lat["variants"]:
            if v.get("aws_request_median_s"):
                md.append(
                    f"- {v['variant']}: "
                    + ", ".join(f"{op} {t * 1000:.1f} ms" for op, t in v["aws_request_median_s"].items())
                )
        md.append("\n" + LATENCY_PROCESSES + "\n")
        md.append("\n" + LATENCY_FLOOR)
        md.append("")


def retrieval_scale_section(ret: dict[str, Any], md: list[str], row: Row, failed: Failed) -> None:
    md.append("## 5. Retrieval at scale\n")
    if not failed(ret, "5 retrieval", "all"):
        md.append(
            "Synthetic catalogs (Zipf-distributed vocabulary of 30k made-up words plus common domain words; "
            "one 60-sentence document per 100 products, chunked by the index). Build and queries in one "
            "fresh process per size (peak RSS = its ru_maxrss, catalog included); cold load = "
            "`SearchIndex.from_bytes` in a new process (median of 3). rank-bm25 (`BM25Okapi`, same tokens, "
            "same k1/b) on the same corpus and queries in the same run; overlap = shared top-5 records. "
            "The two differ by design on very common terms (rank-bm25's idf goes negative and is floored, "
            "ours stays positive), which is where most of the non-overlap is.\n"
        )
        md.append(
            "| products | records | build | snapshot | query p50 / p95 | peak RSS | cold load | rank-bm25 build "
            "| rank-bm25 query p50 | speed-up | top-5 overlap |"
        )
        md.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for size, r in ret["sizes"].items():
            p, cl, rb = r["parley"], r["cold_load"], r["rank_bm25"]
            md.append(
                f"| {int(size):,} | {p['records']:,} | {p['build_s']:.2f} s | {p['snapshot_bytes'] / 1e6:.1f} MB "
                f"| {f_ms(p['query_p50_s'])} / {f_ms(p['query_p95_s'])} | {p['peak_rss_mb']:.0f} MB | "
                f"{cl['from_bytes_s']:.2f} s | {rb['build_s']:.2f} s | {f_ms(rb['query_p50_s'])} | "
                f"{r['query_speedup_vs_rank_bm25']:.0f}x | {rb['top5_overlap']:.0%} |"
            )
        big = ret["sizes"].get("100000")
        if big:
            p, cl = big["parley"], big["cold_load"]
            row(
                "5 retrieval",
                "100k query p50 / p95",
                f"{f_ms(p['query_p50_s'])} / {f_ms(p['query_p95_s'])}",
                "p50 <= 10 ms",
                p["query_p50_s"] <= 0.010,
            )
            row("5 retrieval", "100k build", f"{p['build_s']:.1f} s", "<= 60 s", p["build_s"] <= 60)
            row("5 retrieval", "100k peak memory", f"{p['peak_rss_mb']:.0f} MB", "<= 1 GB", p["peak_rss_mb"] <= 1024)
            row(
                "5 retrieval",
                "100k cold load (from_bytes)",
                f"{cl['from_bytes_s']:.2f} s",
                "<= 2 s",
                cl["from_bytes_s"] <= 2,
            )
            row("5 retrieval", "100k snapshot", f"{p['snapshot_bytes'] / 1e6:.1f} MB")
            row(
                "5 retrieval",
                "100k vs rank-bm25",
                f"{big['query_speedup_vs_rank_bm25']:.0f}x faster p50, "
                f"top-5 overlap {big['rank_bm25']['top5_overlap']:.0%}",
            )
        else:
            last = list(ret["sizes"].values())[-1]
            row("5 retrieval", "largest size query p50", f_ms(last["parley"]["query_p50_s"]), "(quick run)")
        md.append("")


def quality_section(qual: dict[str, Any], md: list[str], row: Row) -> None:
    md.append("## 6. Retrieval quality\n")
    if "error" in qual:
        row("6 quality", "recall@5", "FAILED")
    else:
        md.append(
            f"recall@{qual['k']} = **{qual['recall']:.3f}**, MRR {qual['mrr']:.3f} on {qual['questions']} "
            "labelled questions (`tests/fixtures/fiberup_questions.jsonl`) over the FiberUP sample.\n"
        )
        for miss in qual["misses"]:
            md.append(f"- miss: {miss['question']} (expected {miss['expected']}, got {miss['got']})")
        row(
            "6 quality",
            f"recall@{qual['k']} (FiberUP, {qual['questions']} questions)",
            f"{qual['recall']:.3f} (MRR {qual['mrr']:.3f})",
        )
        md.append("")


def deploy_size_section(dep: dict[str, Any], md: list[str], row: Row) -> None:
    md.append("## 7. Deployment size (`sam build`, unzipped)\n")
    if "error" in dep or "pending" in dep:
        row("7 deploy size", "sam build", "FAILED: " + (dep.get("error") or dep.get("pending"))[-200:])
    else:
        users = {"ParleyLayer": "every function", "AnswerLayer": "the worker only"}
        for name, layer in dep["layers"].items():
            md.append(
                f"- {name}: **{layer['bytes'] / 1e6:.1f} MB**, for {users.get(name, '?')}; largest: "
                + ", ".join(f"{n} {s / 1e6:.2f} MB" for n, s in layer["largest"])
                + f". numpy: {'yes' if layer['has_numpy'] else 'no'}; parley/retrieval.py: "
                f"{'yes' if layer['has_retrieval'] else 'no'}."
            )
            row(
                "7 deploy size",
                f"layer {name}",
                f"{layer['bytes'] / 1e6:.1f} MB (numpy: {'yes' if layer['has_numpy'] else 'no'})",
                "no numpy",
                not layer["has_numpy"],
            )
        packages = dep.get("packages", {})
        md.append("\nPackage = the function's code plus its layers, as Lambda unpacks it.\n")
        md.append("| function | own code | files | package | carries numpy / retrieval |")
        md.append("|---|---|---|---|---|")
        carrying = []
        for name, fn in dep["functions"].items():
            package = f"{packages[name] / 1e6:.2f} MB" if name in packages else "?"
            md.append(
                f"| {name} | {fn['bytes'] / 1e3:.1f} kB | {fn['files']} | {package} | "
                f"{', '.join(fn['carries']) or 'no'} |"
            )
            if fn["carries"]:
                carrying.append(name)
        largest = max(dep["functions"].items(), key=lambda kv: kv[1]["bytes"])
        row(
            "7 deploy size",
            "functions' own code",
            f"largest {largest[0]} {largest[1]['bytes'] / 1e3:.0f} kB; {len(carrying)} carry numpy/retrieval",
            "none carry them",
            not carrying,
        )
        md.append("")


def accuracy_section(acc: dict[str, Any], md: list[str], row: Row, failed: Failed) -> None:
    md.append("## 8. Answer accuracy by question type\n")
    if not failed(acc, "8 accuracy", "question suites"):
        md.extend(accuracy_markdown(acc))
        for name, cell in acc["by_catalog"].items():
            row(
                "8 accuracy",
                f"{name} suite",
                f"{cell['passed']}/{cell['cases']} ({cell['accuracy']:.0%})",
                "all pass",
                cell["passed"] == cell["cases"],
            )
        md.append("")


def model_loop_section(loop: dict[str, Any], md: list[str], row: Row, failed: Failed) -> None:
    md.append("## 9. Tool-calling loop (scripted model)\n")
    if not failed(loop, "9 model loop", "calls and tokens per answer"):
        from bench.model_loop import OVERHEAD_TARGET_MS, markdown as loop_markdown

        md.extend(loop_markdown(loop))
        for scenario in sorted({r["scenario"] for r in loop["rows"]}):
            picked = [r for r in loop["rows"] if r["scenario"] == scenario]
            calls = sum(r["calls_mean"] for r in picked) / len(picked)
            tokens = sorted(r["tokens_median"] for r in picked)[len(picked) // 2]
            row("9 model loop", f"{scenario}: model calls / tokens per answer", f"{calls:.2f} / {tokens:.0f}")
        over = loop["overhead_ms"]
        row(
            "9 model loop",
            "loop overhead per step, excluding model and tools (p50)",
            f"{over['p50']:.2f} ms",
            f"<= {OVERHEAD_TARGET_MS:.0f} ms",
            over["p50"] <= OVERHEAD_TARGET_MS,
        )
        md.append("")


def streaming_section(stream: dict[str, Any], md: list[str], row: Row) -> None:
    md.append("## 10. Streaming over the WebSocket API\n")
    if "error" in stream:
        row("10 streaming", "first delta", "FAILED: " + stream["error"][-200:])
    else:
        md.append(
            "Time from the client's POST of a question to the first `delta` event and to `message.completed` "
            "on the local stack (DynamoDB Local in memory), one subscribed connection, sequential turns "
            "(`bench/streaming.py`). The scripted model streams 200 tokens at 10 ms each through the worker's "
            "listener (`bench/_scripted_stream.py`). Cost per 1,000 turns counts API Gateway only: WebSocket "
            "messages ($1.00 per million, 32 KB units: the events plus a subscribe and its reply) and one "
            "connection minute ($0.25 per million) per turn, plus the HTTP send, against polling (HTTP API "
            "$1.00 per million requests: send + polls + conversation read).\n"
        )
        md.append(
            "| variant | first delta p50 / p95 | completed p50 / p95 | events per turn | "
            "$ / 1,000 turns streaming | polling |"
        )
        md.append("|---|---|---|---|---|---|")
        for variant in stream["variants"]:
            money = variant["cost_per_1000"]
            md.append(
                f"| {variant['name']} | {f_ms(variant['first_delta_p50_s'])} / {f_ms(variant['first_delta_p95_s'])}"
                f" | {f_ms(variant['completed_p50_s'])} / {f_ms(variant['completed_p95_s'])} | "
                f"{variant['events_per_turn']:.0f} ({', '.join(variant['event_types'])}) | "
                f"${money['streaming_usd']:.4f} ({money['ws_messages_per_turn']:.0f} messages) | "
                f"${money['polling_usd']:.4f} ({money['polls_per_turn']} polls) |"
            )
            row(
                "10 streaming",
                f"{variant['name']}: first delta p50",
                f_ms(variant["first_delta_p50_s"]),
                "<= 150 ms",
                variant["first_delta_p50_s"] <= 0.150,
            )
            row(
                "10 streaming",
                f"{variant['name']}: completed p50, events/turn",
                f"{f_ms(variant['completed_p50_s'])}, {variant['events_per_turn']:.0f}",
            )
            row(
                "10 streaming",
                f"{variant['name']}: $ / 1,000 turns (API Gateway)",
                f"streaming ${money['streaming_usd']:.4f} vs polling ${money['polling_usd']:.4f}",
            )
        md.append("")


def build_report(results: dict[str, Any], quick: bool, total_s: float, command: str) -> tuple[list[list[str]], str]:
    rows: list[list[str]] = []  # section, metric, measured, target, verdict
    md: list[str] = []
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()

    def row(sec: str, metric: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append([sec, metric, value, target, "" if ok is None else ("ok" if ok else "MISSED")])

    def failed(result: dict[str, Any], sec: str, metric: str) -> bool:
        """Reports a section that did not run (its summary row and its error) and says so."""
        if "error" not in result:
            return False
        row(sec, metric, "FAILED: " + result["error"][-200:])
        md.append(f"Failed: ```{result['error']}```\n")
        return True

    cold_start_section(results["cold_start"], md, row, failed)
    aws = results["aws_calls"]
    aws_requests_section(aws, md, row, failed)
    lat = results["latency"]
    cost_section(aws, offline_variant(lat), md, row)  # 3 after 4's run: cost uses the latency run's durations
    latency_section(lat, md, row, failed)
    retrieval_scale_section(results["retrieval_scale"], md, row, failed)
    catalog_tools_section(results.get("catalog_tools") or {"error": "not run"}, md, row)
    quality_section(results["fiberup_eval"], md, row)
    deploy_size_section(results["deploy_size"], md, row)
    accuracy_section(results.get("agent_eval") or {"error": "not run"}, md, row, failed)
    model_loop_section(results.get("model_loop") or {"error": "not run"}, md, row, failed)
    streaming_section(results.get("streaming") or {"error": "not run"}, md, row)

    header = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {now} in {total_s / 60:.1f} minutes"
        f"{' (quick mode: fewer rounds and sizes)' if quick else ''}.",
        f"Machine: {info['cpus']} CPUs ({info['cpu']}), {info['memory_gb']} GB RAM, {info['os']}, "
        f"Python {info['python']} "
        "(the harness's venv; Lambda runs python3.13 on arm64, so absolute times differ on AWS; ratios measured "
        "in the same run are the figures to compare).",
        "",
        "## Summary",
        "",
        "| section | metric | measured | target | |",
        "|---|---|---|---|---|",
    ]
    header += [f"| {' | '.join(r)} |" for r in rows]
    return rows, "\n".join(header + [""] + md) + "\n"


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows + [["section", "metric", "measured", "target", ""]]) for i in range(5)]
    widths = [min(w, 70) for w in widths]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format("section", "metric", "measured", "target", ""))
    print(line.format(*["-" * w for w in widths]))
    for r in rows:
        print(line.format(*[c if len(c) <= 70 else c[:67] + "..." for c in r]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, sizes and turns (not for BENCHMARKS.md)")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--only", default="", help="comma-separated sections to run (others are skipped)")
    args = parser.parse_args()
    started = time.monotonic()
    out_dir = Path(tempfile.mkdtemp(prefix="parley-bench-results-"))
    plan = {
        "cold_start": (["--rounds", "3" if args.quick else "15", "--invoke-rounds", "1" if args.quick else "3"], 420),
        "aws_calls": ([], 300),
        "latency": (
            ["--turns", "8", "--concurrent-turns", "2"] if args.quick else ["--turns", "30", "--concurrent-turns", "8"],
            600,
        ),
        "retrieval_scale": (["--sizes", "1000,10000" if args.quick else "1000,10000,100000"], 500),
        "fiberup_eval": ([], 120),
        "catalog_tools": (["--size", "10000" if args.quick else "100000"], 600),
        "deploy_size": ([], 400),
        "agent_eval": ([], 400),
        "model_loop": ([], 180),
        "streaming": (["--turns", "5" if args.quick else "20"], 400),
    }
    only = {s for s in args.only.split(",") if s}
    results = {}
    for name, (extra, timeout) in plan.items():
        if only and name not in only:
            results[name] = {"error": "skipped (--only)"}
            continue
        results[name] = section(name, out_dir, extra, timeout)
    total = time.monotonic() - started
    command = "make bench" if not args.quick else "python -m bench.run --quick"
    rows, markdown = build_report(results, args.quick, total, command)
    print_table(rows)
    Path(args.output).write_text(markdown)
    (out_dir / "all.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"\n[bench] {total / 60:.1f} min; wrote {args.output} (raw results: {out_dir / 'all.json'})")


if __name__ == "__main__":
    main()
