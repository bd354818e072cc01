"""4. Turn latency on the local stack over HTTP (a `python -m parley_local` subprocess, timed by
bench/_timed_stack.py): send-to-answer p50/p95 with clients polling the task every 50 ms, for 1 and for 8
concurrent clients, throughput, the host's CPU busy under 8 clients, per-stage shares and the stack's memory
(RSS of its process tree, environment processes included). `make dev` (functions in environment processes)
and the same stack with --in-process (every function on threads of one process, as before issue 16) run in
the same bench run, one after the other.

A turn is timed from the client's POST of the question to its GET of the conversation holding the answer
(POST send, GET task every 50 ms until SUCCESS, GET conversation). Variants: the offline engine, and the
OpenAI-compatible provider pointed at an instant fake Chat Completions server that this harness runs."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.common import DEV_TOKEN, PYTHON, ROOT, median, percentile, pss_tree_kb, rss_tree_kb
from parley_local.children import stop_process

POLL_SECONDS = 0.05
IDLE_SECONDS = 10  # --idle-seconds of the stacks measured (make dev: 60), so the bench sees them reaped
WARMUP_TURNS_8 = 8  # per client, before the measured 8-client turns
QUESTIONS = [
    "Does FiberUP Business Duplex include an SLA?",
    "What does Home 300 cost?",
    "Is a router included with Home 1000?",
    "How do I cancel my contract?",
    "Do you have a plan with TV?",
    "What is the upload speed of Business Pro?",
]
FAKE_KEY_VALUE = "sk-bench-" + "x" * 24


class FakeChatCompletions:
    """An instant OpenAI-compatible server on loopback: every chat completion answers at once."""

    def __init__(self) -> None:
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests += 1
                answer = {
                    "id": f"chatcmpl-{outer.requests}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {
                                "role": "assistant",
                                "content": "FiberUP Business Duplex includes a 99.9% SLA.",
                            },
                        }
                    ],
                    "usage": {"prompt_tokens": 200, "completion_tokens": 12, "total_tokens": 212},
                }
                raw = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_stack(workdir: Path, args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str, Path]:
    from parley_local.stack import free_port

    port = free_port()
    log_path = workdir / f"stack-{port}.log"
    timings = workdir / f"timings-{port}.jsonl"
    child_env = {
        **os.environ,
        "PORT": str(port),
        "PARLEY_DEV_TOKEN": DEV_TOKEN,
        "BENCH_TIMINGS": str(timings),
        "PARLEY_LOCAL_STATE": str(workdir / f"local-{port}.json"),
        "PYTHONPATH": str(ROOT),
        **env,
    }
    child_env.pop("AWS_ENDPOINT_URL", None)
    log = open(log_path, "w")
    process = subprocess.Popen(
        [PYTHON, "-m", "bench._timed_stack", *args], cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local stack exited early:\n{log_path.read_text()[-3000:]}")
        if "dev token:" in log_path.read_text():
            return process, f"http://127.0.0.1:{port}", timings
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"local stack did not start:\n{log_path.read_text()[-3000:]}")


def stop_stack(process: subprocess.Popen) -> None:
    stop_process(process, timeout=20)


def one_turn(client: httpx.Client, conversation_id: int, question: str) -> dict[str, Any]:
    started = time.time()
    response = client.post(f"/api/conversations/{conversation_id}", json={"question_message": question})
    response.raise_for_status()
    task_id = response.json()["task_id"]
    sent = time.time()
    polls = 0
    while True:
        time.sleep(POLL_SECONDS)
        polls += 1
        state = client.get(f"/api/task_status/{task_id}").json().get("state")
        if state in ("SUCCESS", "FAILURE"):
            break
        if time.time() - started > 60:
            raise TimeoutError(f"task {task_id} still {state} after 60 s")
    history = client.get(f"/api/conversations/{conversation_id}").json()["history"]
    ended = time.time()
    return {
        "task_id": task_id,
        "t_start": started,
        "t_sent": sent,
        "t_end": ended,
        "state": state,
        "polls": polls,
        "answer": history[-1]["text"] if history else "",
    }


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole host since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def run_clients(url: str, clients: int, turns_each: int, warmup: int) -> tuple[list[dict], float]:
    results: list[dict] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client_loop(n: int) -> None:
        try:
            with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Token {DEV_TOKEN}"}) as http:
                cid = http.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
                for i in range(warmup):
                    one_turn(http, cid, QUESTIONS[(n + i) % len(QUESTIONS)])
                barrier.wait()
                for i in range(turns_each):
                    turn = one_turn(http, cid, QUESTIONS[(n + i) % len(QUESTIONS)])
                    with lock:
                        results.append(turn)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
            try:
                barrier.abort()
            except Exception:
                pass

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    try:
        barrier.wait(timeout=300)
    except threading.BrokenBarrierError:
        pass  # a client failed during warm-up: its error is raised below
    began = time.time()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results, time.time() - began


def stage_shares(turns: list[dict], timings_path: Path) -> dict[str, float]:
    """Mean seconds per stage of a turn, from the stack's own invocation timings (see module doc)."""
    sends, workers = {}, {}
    for line in timings_path.read_text().splitlines():
        entry = json.loads(line)
        for tid in entry.get("task_ids") or []:
            if entry["fn"] == "SendMessageFunction":
                sends[tid] = entry
            elif entry["fn"] == "WorkerRecord":  # the record's own time within its batch (first delivery)
                workers.setdefault(tid, entry)
    stages: dict[str, list[float]] = defaultdict(list)
    for turn in turns:
        send, work = sends.get(turn["task_id"]), workers.get(turn["task_id"])
        if not send or not work:
            continue
        stages["API (HTTP, gateway, authorizer cache, send handler)"].append(
            send["t0"] - turn["t_start"] + (send["t1"] - send["t0"] - send["aws_s"])
        )
        stages["storage (AWS requests of send + worker)"].append(send["aws_s"] + work["aws_s"])
        stages["queue wait (enqueued -> worker invoked)"].append(work["t0"] - send["t1"])
        stages["worker (answer engine, excl. AWS requests)"].append(work["t1"] - work["t0"] - work["aws_s"])
        stages["client polling + reading the answer"].append(turn["t_end"] - work["t1"])
    return {name: sum(values) / len(values) for name, values in stages.items()}


def summarize(turns: list[dict], wall: float) -> dict[str, Any]:
    latencies = [t["t_end"] - t["t_start"] for t in turns]
    return {
        "turns": len(turns),
        "p50_s": median(latencies),
        "p95_s": percentile(latencies, 95),
        "throughput_per_s": len(turns) / wall if wall else 0.0,
        "wall_s": wall,
        "failures": sum(1 for t in turns if t["state"] != "SUCCESS"),
        "mean_polls": sum(t["polls"] for t in turns) / max(1, len(turns)),
    }


def aws_request_medians(timings_path: Path) -> dict[str, float]:
    """Median duration of each kind of AWS request the stack's functions made (client side, seconds)."""
    per_op: dict[str, list[float]] = defaultdict(list)
    for line in timings_path.read_text().splitlines():
        entry = json.loads(line)
        if entry["fn"] != "WorkerRecord":  # its requests are in its WorkerFunction line too
            for label, seconds in entry.get("aws_calls") or []:
                per_op[label].append(seconds)
    return {op: median(values) for op, values in sorted(per_op.items())}


def invocation_durations(timings_path: Path) -> dict[str, float]:
    per_fn: dict[str, list[float]] = defaultdict(list)
    for line in timings_path.read_text().splitlines():
        entry = json.loads(line)
        per_fn[entry["fn"]].append(entry["t1"] - entry["t0"])
    return {fn: median(values) for fn, values in per_fn.items()}


def run_variant(
    name: str,
    stack_args: list[str],
    provider: FakeChatCompletions | None,
    sequential_turns: int,
    concurrent_turns_each: int,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    env = {"PARLEY_SECRETS_BACKEND": "env", "FAKE_KEY": FAKE_KEY_VALUE} if provider else {}
    stack_args = [arg.replace("{workdir}", str(workdir)) for arg in stack_args] + ["--idle-seconds", str(IDLE_SECONDS)]
    process, url, timings = start_stack(workdir, stack_args, env)
    out: dict[str, Any] = {"variant": name, "stack_args": stack_args}
    try:
        time.sleep(1.0)
        out["idle_rss_mb"] = rss_tree_kb(process.pid) / 1024
        out["idle_pss_mb"] = pss_tree_kb(process.pid) / 1024
        if provider:
            with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Token {DEV_TOKEN}"}) as http:
                settings = {
                    "provider": "openai",
                    "model": "fake",
                    "base_url": f"http://127.0.0.1:{provider.port}/v1",
                    "api_key_secret": "FAKE_KEY",
                }
                response = http.patch("/api/data_sets/1/settings", json=settings)
                if response.status_code >= 300:
                    return {**out, "pending": f"PATCH settings answered {response.status_code}: {response.text[:200]}"}
                cid = http.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
                probe = one_turn(http, cid, QUESTIONS[0])
                if probe["state"] != "SUCCESS" or not provider.requests:
                    return {
                        **out,
                        "pending": f"a turn with the provider ended {probe['state']} after "
                        f"{provider.requests} request(s) to the fake server",
                    }
        turns, wall = run_clients(url, 1, sequential_turns, warmup=2)
        out["sequential"] = summarize(turns, wall)
        out["sequential"]["stages_s"] = stage_shares(turns, timings)
        peak = [0, 0]  # RSS, PSS
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                peak[0] = max(peak[0], rss_tree_kb(process.pid))
                peak[1] = max(peak[1], pss_tree_kb(process.pid))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # Steady state: DynamoDB Local's JVM compiles its hot paths only after ~1,000 requests (its CPU per
        # GetItem falls from ~3.5 ms to ~1 ms), so 8 clients run a while before the measured turns.
        run_clients(url, 8, WARMUP_TURNS_8, warmup=0)
        busy0, total0 = cpu_times()
        load_before = os.getloadavg()[0]  # others' work on the host shows here (the bench alone: ~2)
        turns, wall = run_clients(url, 8, concurrent_turns_each, warmup=0)
        busy1, total1 = cpu_times()
        sampling.set()
        sampler.join()
        out["concurrent8"] = summarize(turns, wall)
        out["concurrent8"]["host_cpu_busy"] = (busy1 - busy0) / max(1, total1 - total0)
        out["concurrent8"]["host_load_before"] = load_before
        out["concurrent8"]["stages_s"] = stage_shares(turns, timings)
        out["peak_rss_mb"] = peak[0] / 1024
        out["peak_pss_mb"] = peak[1] / 1024
        time.sleep(IDLE_SECONDS + 5)  # the environments idle out (with --in-process nothing is stopped)
        out["idle_after_rss_mb"] = rss_tree_kb(process.pid) / 1024
        out["invocation_median_s"] = invocation_durations(timings)
        out["aws_request_median_s"] = aws_request_medians(timings)
        if provider:
            out["fake_server_requests"] = provider.requests
    finally:
        stop_stack(process)
    return out


def run(sequential_turns: int = 30, concurrent_turns_each: int = 8, dynamodb_local: bool = True) -> dict[str, Any]:
    on_disk = ["--data-dir", "{workdir}/data"]  # `make dev`: DynamoDB Local keeping its data on disk
    variants = [("offline engine, moto", ["--moto"], False)]
    if dynamodb_local:
        variants = [
            ("offline engine, DynamoDB Local on disk (make dev)", on_disk, False),
            (
                "offline engine, DynamoDB Local on disk, --in-process (threads of one process, before issue 16)",
                on_disk + ["--in-process"],
                False,
            ),
            ("offline engine, DynamoDB Local in memory", ["--in-memory"], False),
            ("OpenAI-compatible provider (instant fake), DynamoDB Local on disk (make dev)", on_disk, True),
        ]
    else:
        variants.append(("OpenAI-compatible provider (instant fake), moto", ["--moto"], True))
    results = []
    for name, args, with_provider in variants:
        provider = FakeChatCompletions() if with_provider else None
        try:
            results.append(run_variant(name, args, provider, sequential_turns, concurrent_turns_each))
        except Exception as exc:  # a variant that cannot run is reported, not fatal to the whole bench
            results.append({"variant": name, "stack_args": args, "pending": f"{type(exc).__name__}: {exc}"[:400]})
        finally:
            if provider:
                provider.stop()
    return {"variants": results, "poll_seconds": POLL_SECONDS}


def alternate(rounds: int = 2, turns: int = 30) -> list[dict[str, Any]]:
    """One client on `make dev`, functions in processes and --in-process, alternated `rounds` times (A B A B),
    so that other work on a shared host weighs on both alike: p50, polls per turn, the worker's record time."""
    out = []
    for round_number in range(rounds):
        for mode, extra in (("processes", []), ("in-process", ["--in-process"])):
            workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
            process, url, timings = start_stack(workdir, ["--data-dir", str(workdir / "data"), *extra], {})
            try:
                measured, wall = run_clients(url, 1, turns, warmup=3)
                summary = summarize(measured, wall)
                out.append(
                    {
                        "round": round_number,
                        "mode": mode,
                        "p50_s": summary["p50_s"],
                        "mean_polls": summary["mean_polls"],
                        "host_load": os.getloadavg()[0],
                        "worker_record_s": invocation_durations(timings).get("WorkerRecord"),
                    }
                )
                print(json.dumps(out[-1]), flush=True)
            finally:
                stop_stack(process)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--alternate",
        action="store_true",
        help="only the one-client comparison of processes and --in-process, alternated",
    )
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--concurrent-turns", type=int, default=8)
    parser.add_argument("--no-dynamodb-local", action="store_true")
    args = parser.parse_args()
    if args.alternate:
        result: dict[str, Any] = {"alternate": alternate(turns=args.turns)}
    else:
        result = run(args.turns, args.concurrent_turns, not args.no_dynamodb_local)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
