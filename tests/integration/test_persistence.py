"""`make dev` keeps its DynamoDB data (on DynamoDB Local, under --data-dir) across a restart, and answers the
questions a previous run left unanswered."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.integration.conftest import start_stack, stop_stack
from tests.integration.test_local_stack import wait_for

QUESTION = "Does FiberUP Business Duplex include an SLA?"


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_conversations_accounts_and_data_sets_survive_a_restart(tmp_path):
    data_dir = tmp_path / "data"
    first = start_stack(tmp_path, ["--data-dir", str(data_dir)])
    try:
        with first.client() as client:
            conversation = client.post("/api/conversations", json={"data_set_id": 1}).json()
            sent = client.post(f"/api/conversations/{conversation['id']}", json={"question_message": QUESTION})
            assert sent.status_code == 202
            assert wait_for(client, sent.json()["task_id"])["state"] == "SUCCESS"
            created = client.post("/api/service_accounts", json={"name": "kept", "data_set_ids": [1]})
            assert created.status_code == 201
            kept = created.json()
            before = client.get(f"/api/conversations/{conversation['id']}").json()
    finally:
        assert stop_stack(first, signal.SIGINT) == 0
    assert "parley stopped" in first.log_path.read_text()
    assert (data_dir / "dynamodb").is_dir()

    second = start_stack(tmp_path, ["--data-dir", str(data_dir)])
    try:
        with second.client() as client:
            assert client.get(f"/api/conversations/{conversation['id']}").json() == before
            data_set = client.get("/api/data_sets/1").json()
            assert data_set["name"] == "FiberUP sample" and data_set["product_count"] > 0
            accounts = client.get("/api/service_accounts").json()["results"]
            assert {"dev", "kept"} <= {a["name"] for a in accounts}
            # The search index (its S3 snapshot died with moto) is rebuilt from the table: answers still work.
            again = client.post(f"/api/conversations/{conversation['id']}", json={"question_message": QUESTION})
            assert wait_for(client, again.json()["task_id"])["state"] == "SUCCESS"
            history = client.get(f"/api/conversations/{conversation['id']}").json()["history"]
            assert [m["role"] for m in history] == ["user", "agent", "user", "agent"]
            assert history[-1]["text"].startswith("Yes")
        with second.client(kept["token"]) as kept_client:  # the other account's token still works
            assert kept_client.get("/api/conversations").status_code == 200
        assert "rebuilt the search index of data sets 1" in second.log_path.read_text()
    finally:
        assert stop_stack(second, signal.SIGINT) == 0


def test_a_generated_dev_token_is_kept_across_restarts_and_only_its_hash_is_stored(tmp_path):
    data_dir = tmp_path / "data"
    env = {"PARLEY_DEV_TOKEN": ""}  # unset: the stack generates one
    tokens = []
    for _ in range(2):
        stack = start_stack(tmp_path, ["--data-dir", str(data_dir)], env=env)
        try:
            token = json.loads(stack.state_path.read_text())["token"]
            tokens.append(token)
            with stack.client(token) as client:
                assert client.get("/api/conversations").status_code == 200
        finally:
            assert stop_stack(stack, signal.SIGINT) == 0
    assert tokens[0] == tokens[1]
    token_file = data_dir / "dev-token"
    assert token_file.read_text().strip() == tokens[0]
    assert token_file.stat().st_mode & 0o777 == 0o600
    database = b"".join(p.read_bytes() for p in (data_dir / "dynamodb").iterdir())
    assert tokens[0].encode() not in database


def test_a_question_left_pending_by_a_killed_stack_is_answered_after_restart(tmp_path):
    data_dir = tmp_path / "data"
    held = start_stack(tmp_path, ["--data-dir", str(data_dir), "--no-worker"])
    java = _children(held.process.pid)
    try:
        with held.client() as client:
            conversation = client.post("/api/conversations", json={"data_set_id": 1}).json()
            sent = client.post(f"/api/conversations/{conversation['id']}", json={"question_message": QUESTION})
            task_id = sent.json()["task_id"]
            assert client.get(f"/api/task_status/{task_id}").json()["state"] == "PENDING"
    finally:
        held.process.kill()  # a crash: no clean shutdown at all
        held.process.wait()
    # DynamoDB Local is a child that dies with the stack, even when the stack is killed.
    assert java, "DynamoDB Local should run as a child of the stack"
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in java) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in java)

    restarted = start_stack(tmp_path, ["--data-dir", str(data_dir)])
    try:
        assert "queued again 1 unfinished task(s)" in restarted.log_path.read_text()
        with restarted.client() as client:
            assert wait_for(client, task_id)["state"] == "SUCCESS"
            history = client.get(f"/api/conversations/{conversation['id']}").json()["history"]
            assert [m["role"] for m in history] == ["user", "agent"]
            assert history[1]["text"].startswith("Yes")
    finally:
        assert stop_stack(restarted, signal.SIGINT) == 0


def test_in_memory_starts_clean_and_a_data_dir_serves_one_stack_at_a_time(tmp_path):
    data_dir = tmp_path / "data"
    kept = start_stack(tmp_path, ["--data-dir", str(data_dir)])
    try:
        with kept.client() as client:
            conversation = client.post("/api/conversations", json={"data_set_id": 1}).json()
        # A second stack on the same data dir is refused with a clear message (one database, one writer).
        import subprocess
        import sys

        from parley_local.stack import free_port

        clash = subprocess.run(
            [sys.executable, "-m", "parley_local", "--data-dir", str(data_dir)],
            env={**os.environ, "PORT": str(free_port())},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert clash.returncode == 2 and "in use by another running stack" in clash.stderr
    finally:
        assert stop_stack(kept, signal.SIGINT) == 0

    clean = start_stack(tmp_path, ["--data-dir", str(data_dir), "--in-memory"])
    try:
        with clean.client() as client:
            assert client.get(f"/api/conversations/{conversation['id']}").status_code == 404
            assert client.get("/api/data_sets/1").json()["product_count"] > 0  # the sample is loaded fresh
    finally:
        assert stop_stack(clean, signal.SIGINT) == 0
