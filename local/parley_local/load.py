"""`make load`: many concurrent conversations against the local stack, then a check that nothing was lost.

Each conversation sends its questions back to back, then polls every task until it finishes. Afterwards it
checks: every task reached SUCCESS, every question has exactly one answer, answers follow their questions
in send order, and nothing is left in the jobs queue or its dead-letter queue. It prints throughput, p50 and
p95 send-to-answer latency and the counts it checked, and exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

QUESTIONS = [
    "Does FiberUP Business Duplex include an SLA?",
    "What are the roaming charges outside the EU?",
    "How do I cancel my contract?",
    "Which mobile plans include 5G?",
    "How fast is FiberUP Home 1000?",
    "Is a router included with the home plans?",
    "What does the fair use policy say?",
    "Can I take my plan with me when I move house?",
    "How much does a static IP cost?",
    "What is the fault restoration time of the SLA?",
]


@dataclass
class Report:
    conversations: int = 0
    questions: int = 0
    succeeded: int = 0
    answers_ok: int = 0
    in_order: int = 0
    latencies: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


# (task id, question, monotonic time it was sent)
SentQuestion = tuple[str, str, float]


def run_conversation(
    url: str, token: str, data_set_id: int, count: int, poll: float, deadline: float, report: Report
) -> None:
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        conversation = client.post("/api/conversations", json={"data_set_id": data_set_id}).json()["id"]
        sent = _send_questions(client, conversation, count, report)
        pending, finished = _await_tasks(client, sent, poll, deadline)
        history = client.get(f"/api/conversations/{conversation}").json()["history"]
    _record_tasks(report, sent, pending, finished)
    _check_history(report, conversation, history, sent)


def _send_questions(client: httpx.Client, conversation: int, count: int, report: Report) -> list[SentQuestion]:
    sent: list[SentQuestion] = []
    for i in range(count):
        question = f"{QUESTIONS[i % len(QUESTIONS)]} (#{i + 1})"
        response = client.post(f"/api/conversations/{conversation}", json={"question_message": question})
        if response.status_code != 202:
            report.problem(f"send {conversation}#{i}: {response.status_code} {response.text}")
            continue
        sent.append((response.json()["task_id"], question, time.monotonic()))
    return sent


def _await_tasks(
    client: httpx.Client, sent: list[SentQuestion], poll: float, deadline: float
) -> tuple[list[SentQuestion], dict[str, tuple[str, float]]]:
    """Poll each task until it leaves PENDING or the deadline passes: (still pending, {task: (state, latency)})."""
    pending = list(sent)
    finished: dict[str, tuple[str, float]] = {}
    while pending and time.monotonic() < deadline:
        still = []
        for task_id, question, started in pending:
            state = client.get(f"/api/task_status/{task_id}").json()["state"]
            if state == "PENDING":
                still.append((task_id, question, started))
            else:
                finished[task_id] = (state, time.monotonic() - started)
        pending = still
        if pending:
            time.sleep(poll)
    return pending, finished


def _record_tasks(
    report: Report, sent: list[SentQuestion], pending: list[SentQuestion], finished: dict[str, tuple[str, float]]
) -> None:
    with report.lock:
        report.conversations += 1
        report.questions += len(sent)
    for task_id, _, _ in pending:
        report.problem(f"task {task_id} still PENDING at the deadline")
    for task_id, (state, latency) in finished.items():
        if state != "SUCCESS":
            report.problem(f"task {task_id} ended {state}")
            continue
        with report.lock:
            report.succeeded += 1
            report.latencies.append(latency)


def _check_history(report: Report, conversation: int, history: list[dict], sent: list[SentQuestion]) -> None:
    """The stored history holds the questions in send order, each followed by exactly one answer."""
    users = [m for m in history if m["role"] == "user"]
    if [m["text"] for m in users] != [q for _, q, _ in sent]:
        report.problem(f"conversation {conversation}: questions stored out of send order")
    by_id = {m["id"]: m for m in history}
    answered = 0
    for question in users:
        replies = [m for m in history if m["id"] == question["id"] + 1]
        if len(replies) == 1 and replies[0]["role"] == "agent":
            answered += 1
        else:
            report.problem(f"conversation {conversation}: question {question['id']} has no single answer")
    roles = [m["role"] for m in history]
    ordered = roles == ["user", "agent"] * len(users) and len(by_id) == len(history)
    with report.lock:
        report.answers_ok += answered
        report.in_order += int(ordered)
    if not ordered:
        report.problem(f"conversation {conversation}: history is not question/answer pairs in order")


def queue_depths(state_file: Path) -> dict[str, int]:
    """Messages left in the jobs queue and its DLQ (visible + in flight), read through the emulation."""
    import boto3

    state = json.loads(state_file.read_text())
    sqs = boto3.client(
        "sqs",
        endpoint_url=state["aws_endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    queue_url = state["environment"]["JOBS_QUEUE_URL"]
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    dlq_name = redrive["deadLetterTargetArn"].rsplit(":", 1)[1]
    depths = {}
    for name, url in (("queue", queue_url), ("dead-letter queue", sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"])):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        depths[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return depths


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


def run(
    url: str,
    token: str,
    state_file: Path,
    conversations: int,
    questions: int,
    concurrency: int,
    data_set_id: int = 1,
    poll: float = 0.05,
    timeout: float = 300,
) -> Report:
    report = Report()
    started = time.monotonic()
    deadline = started + timeout
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [
            pool.submit(run_conversation, url, token, data_set_id, questions, poll, deadline, report)
            for _ in range(conversations)
        ]
        for future in futures:
            try:
                future.result()
            except Exception as exc:  # a crashed conversation is a failed check, not a crashed run
                report.problem(f"conversation failed: {exc!r}")
    elapsed = time.monotonic() - started
    time.sleep(0.5)  # let the pump's last deletes land before reading the queue depths
    for name, depth in queue_depths(state_file).items():
        if depth:
            report.problem(f"{depth} message(s) left in the {name}")
    report.elapsed = elapsed
    return report


def main(argv: list[str] | None = None) -> int:
    from parley_local.stack import local_state_path

    parser = argparse.ArgumentParser(prog="parley-load", description=__doc__)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="the running stack's local.json (default: .parley-data/local.json)",
    )
    args = parser.parse_args(argv)
    state_file = args.state_file or local_state_path()
    if not state_file.exists():
        print(f"no running local stack: {state_file} is missing (start `make dev` first)", file=sys.stderr)
        return 2
    state = json.loads(state_file.read_text())
    report = run(
        state["api_url"],
        state["token"],
        state_file,
        args.conversations,
        args.questions,
        args.concurrency,
        timeout=args.timeout,
    )
    turns = report.succeeded
    print(
        f"conversations {report.conversations}, questions {report.questions}, succeeded {report.succeeded}, "
        f"single answers {report.answers_ok}, conversations in order {report.in_order}"
    )
    print(
        f"throughput {turns / report.elapsed:.1f} turns/s over {report.elapsed:.1f} s; send-to-answer "
        f"p50 {percentile(report.latencies, 0.5) * 1000:.0f} ms, p95 {percentile(report.latencies, 0.95) * 1000:.0f} ms"
    )
    for problem in report.problems[:20]:
        print(f"FAIL {problem}")
    print("load check: " + ("passed" if not report.problems else f"{len(report.problems)} problem(s)"))
    return 0 if not report.problems else 1


if __name__ == "__main__":
    sys.exit(main())
