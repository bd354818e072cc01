"""10. Streaming over the WebSocket API on the local stack (`python -m parley_local` run by
bench/_timed_stack.py, DynamoDB Local in memory): time from the client's POST of a question to the first
`delta` event and to `message.completed`, events per turn, and the API Gateway cost per 1,000 streamed
turns next to polling's.

Variants: the offline planner (its tool calls as steps, its answer as one delta), and a scripted model
streaming 200 tokens at 10 ms each through the worker's listener (bench/_scripted_stream.py; issue 12's
scripted model server, not on main when this was written, does not pace its tokens). Each turn is one
client that keeps its connection and subscription, as a chat does; cost adds the connect + subscribe of a
client that opens a connection per question (`parley ask`)."""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from bench.common import DEV_TOKEN, median, percentile
from bench.latency import start_stack, stop_stack
from bench.run import PRICES, polls_for

QUESTIONS = [
    "Does FiberUP Business Duplex include an SLA?",
    "What does Home 300 cost?",
    "Is a router included with Home 1000?",
    "How do I cancel my contract?",
]
WS_MESSAGE_UNIT = 32 * 1024  # API Gateway bills WebSocket messages in 32 KB increments
WS_PER_MILLION_MESSAGES = 1.00  # us-east-1 list prices
WS_PER_MILLION_CONNECTION_MINUTES = 0.25


def stream_turns(url: str, ws_url: str, turns: int) -> list[dict[str, Any]]:
    measured = []
    with (
        httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Token {DEV_TOKEN}"}) as http,
        connect(ws_url, additional_headers={"Authorization": f"Token {DEV_TOKEN}"}, open_timeout=30) as socket,
    ):
        conversation = http.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
        socket.send(json.dumps({"action": "subscribe", "conversation_id": conversation}))
        assert json.loads(socket.recv(timeout=30))["type"] == "subscribed"
        for number in range(turns):
            started = time.monotonic()
            task = http.post(
                f"/api/conversations/{conversation}", json={"question_message": QUESTIONS[number % len(QUESTIONS)]}
            ).json()["task_id"]
            first_delta = None
            events: list[dict[str, Any]] = []
            sizes: list[int] = []
            while True:
                raw = socket.recv(timeout=60)
                event = json.loads(raw)
                if event.get("task_id") != task:
                    continue
                events.append(event)
                sizes.append(len(raw.encode() if isinstance(raw, str) else raw))
                if event["type"] == "delta" and first_delta is None:
                    first_delta = time.monotonic() - started
                if event["type"] in ("message.completed", "task.failed"):
                    break
            measured.append(
                {
                    "first_delta_s": first_delta,
                    "completed_s": time.monotonic() - started,
                    "events": len(events),
                    "types": [e["type"] for e in events],
                    "billed_messages": sum(math.ceil(size / WS_MESSAGE_UNIT) for size in sizes),
                    "final": events[-1]["type"],
                }
            )
    return measured


def cost(turns: list[dict[str, Any]]) -> dict[str, Any]:
    """$ per 1,000 turns on API Gateway: streaming (events + subscribe and its reply; 1 connection minute,
    as a client connecting per question pays at least one) against polling (send + task polls + read)."""
    events = median([t["billed_messages"] for t in turns])
    answer_s = median([t["completed_s"] for t in turns])
    ws_messages = events + 2
    streaming = 1000 * (
        (ws_messages * WS_PER_MILLION_MESSAGES + 1 * WS_PER_MILLION_CONNECTION_MINUTES) / 1e6
        + 1 * PRICES["http_api_per_million"] / 1e6
    )  # the send stays an HTTP request
    polls = polls_for(answer_s, "client")
    polling = 1000 * (1 + polls + 1) * PRICES["http_api_per_million"] / 1e6
    return {
        "ws_messages_per_turn": ws_messages,
        "answer_s": answer_s,
        "streaming_usd": streaming,
        "polls_per_turn": polls,
        "polling_usd": polling,
    }


def run_variant(name: str, env: dict[str, str], turns: int, warmup: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-stream-"))
    process, url, _ = start_stack(workdir, ["--in-memory", "--data-dir", str(workdir / "data")], env)
    try:
        state = json.loads(next(workdir.glob("local-*.json")).read_text())
        measured = stream_turns(url, state["ws_url"], turns + warmup)[warmup:]
    finally:
        stop_stack(process)
    failed = [t for t in measured if t["final"] != "message.completed" or t["first_delta_s"] is None]
    if failed:
        raise RuntimeError(f"{name}: {len(failed)} of {len(measured)} turns had no answer streamed: {failed[0]}")
    firsts = [t["first_delta_s"] for t in measured]
    completes = [t["completed_s"] for t in measured]
    return {
        "name": name,
        "turns": len(measured),
        "first_delta_p50_s": median(firsts),
        "first_delta_p95_s": percentile(firsts, 95),
        "completed_p50_s": median(completes),
        "completed_p95_s": percentile(completes, 95),
        "events_per_turn": median([t["events"] for t in measured]),
        "event_types": [*measured[0]["types"][:3], "...", *measured[0]["types"][-2:]]
        if len(measured[0]["types"]) > 6
        else measured[0]["types"],
        "cost_per_1000": cost(measured),
    }


def run(turns: int, warmup: int) -> dict[str, Any]:
    return {
        "variants": [
            run_variant("offline planner (its steps, one delta)", {}, turns, warmup),
            run_variant(
                "scripted model, 200 tokens x 10 ms",
                {"BENCH_STREAM_TOKENS": "200", "BENCH_STREAM_TOKEN_MS": "10"},
                turns,
                warmup,
            ),
        ]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    result = run(args.turns, args.warmup)
    for variant in result["variants"]:
        money = variant["cost_per_1000"]
        print(
            f"{variant['name']}: first delta p50 {variant['first_delta_p50_s'] * 1000:.1f} ms "
            f"(p95 {variant['first_delta_p95_s'] * 1000:.1f}), message.completed p50 "
            f"{variant['completed_p50_s'] * 1000:.1f} ms (p95 {variant['completed_p95_s'] * 1000:.1f}), "
            f"{variant['events_per_turn']:.0f} events/turn; $/1,000 turns: streaming "
            f"${money['streaming_usd']:.4f} ({money['ws_messages_per_turn']:.0f} WebSocket messages + 1 connection "
            f"minute + 1 HTTP send) vs polling ${money['polling_usd']:.4f} ({money['polls_per_turn']} polls)"
        )
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
