"""The local stack over real HTTP under overlapping invocations, as Lambda runs them: each invocation in an
environment of its own (a process by default), the server taking a burst of connections at once."""

from __future__ import annotations

import http.client
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.integration.conftest import start_stack, stop_stack
from tests.integration.test_local_stack import wait_for

CLIENTS = 16
# Rounds of overlapping sends and reads: 10 made today's threads-in-one-process stack store a question in
# another conversation (or answer 400) on every run. --in-process runs one HTTP invocation at a time, so
# fewer rounds there keep the suite short (its answers on moto are slow).
ROUNDS = {False: 10, True: 3}


def at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) on `count` threads released together; returns results (or raised errors)."""
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = work(n)
        except Exception as exc:  # reported by the caller's assertion
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_overlapping_invocations_each_keep_their_own_request(local_stack):
    """Sends and reads of different conversations at the same instant: every question is stored in the
    conversation its path names, and every read answers for the conversation it asked for."""
    with local_stack.client() as client:
        conversations = [
            client.post("/api/conversations", json={"data_set_id": 1}).json()["id"] for _ in range(CLIENTS)
        ]
        asked: dict[int, list[str]] = {cid: [] for cid in conversations}
        tasks = []
        for round_number in range(ROUNDS[local_stack.in_process]):

            def send_or_read(n: int, round_number: int = round_number) -> Any:
                cid = conversations[n // 2]
                if n % 2:  # a read of the conversation, overlapping the sends
                    read = client.get(f"/api/conversations/{cid}")
                    return read.status_code if read.status_code != 200 or read.json()["id"] != cid else "read"
                question = f"Question {round_number} for conversation {cid}?"
                asked[cid].append(question)
                sent = client.post(f"/api/conversations/{cid}", json={"question_message": question})
                tasks.append(sent.json().get("task_id"))
                return "sent" if sent.status_code == 202 else sent.status_code

            assert at_once(2 * CLIENTS, send_or_read) == ["sent", "read"] * CLIENTS
        for task_id in tasks:
            assert wait_for(client, task_id, timeout=120)["state"] == "SUCCESS"
        for cid, questions in asked.items():
            history = client.get(f"/api/conversations/{cid}").json()["history"]
            assert [m["text"] for m in history if m["role"] == "user"] == questions


def test_a_burst_of_32_connections_is_served_without_resets(local_stack):
    address = urlsplit(local_stack.url)

    def get(_: int) -> int:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        try:
            connection.request("GET", "/api/data_sets", headers={"Authorization": f"Token {local_stack.token}"})
            return connection.getresponse().status
        finally:
            connection.close()

    assert at_once(32, get) == [200] * 32


def test_each_environment_start_is_a_visible_cold_start(local_stack):
    with local_stack.client() as client:
        client.get("/api/data_sets")
    deadline = time.monotonic() + 10
    while "cold start ListDataSetsFunction env 1" not in local_stack.log_path.read_text():
        assert time.monotonic() < deadline, "no cold start logged"
        time.sleep(0.1)


def environment_pids(stack_pid: int) -> list[int]:
    """The environment processes the stack started (children running parley_local.environment)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        parent = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "")
        if parent == str(stack_pid) and b"parley_local.environment" in command:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_environment_processes_do_not_outlive_a_killed_stack(tmp_path):
    stack = start_stack(tmp_path, ["--moto"])
    try:
        with stack.client() as client:
            assert client.get("/api/data_sets").status_code == 200
        pids = environment_pids(stack.process.pid)
        assert len(pids) == 2  # the authorizer's and ListDataSetsFunction's
    finally:
        stop_stack(stack, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "an environment process outlived its stack"
        time.sleep(0.1)
