"""Walks the whole contract over real HTTP against the `make dev` stack, as the README's curl examples do."""

from __future__ import annotations

import time

import httpx

from tests.integration.conftest import start_stack, stop_stack


def wait_for(client: httpx.Client, task_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/task_status/{task_id}")
        assert status.status_code == 200
        if status.json()["state"] != "PENDING":
            return status.json()
        time.sleep(0.1)
    raise AssertionError("task still PENDING")


def test_contract_walkthrough_over_http(local_stack):
    with local_stack.client() as client:
        created = client.post("/api/conversations", json={"data_set_id": 1})
        assert created.status_code == 201
        conversation = created.json()
        assert set(conversation) >= {"id", "started_at"} and conversation["started_at"].endswith("Z")

        sent = client.post(
            f"/api/conversations/{conversation['id']}",
            json={"question_message": "Does FiberUP Business Duplex include an SLA?", "data_set_id": 1},
        )
        assert sent.status_code == 202
        assert wait_for(client, sent.json()["task_id"])["state"] == "SUCCESS"

        read = client.get(f"/api/conversations/{conversation['id']}").json()
        user, agent = read["history"]
        assert user["role"] == "user" and agent["role"] == "agent"
        assert agent["text"].startswith("Yes") and "FiberUP Business Duplex" in agent["text"]

        listed = client.get("/api/conversations", params={"limit": 5}).json()
        assert listed["results"][0]["id"] == conversation["id"]
        assert client.get("/api/data_sets").json()["results"][0]["id"] == 1
        assert client.get("/api/data_sets/1").json()["product_count"] > 0


def test_http_errors_are_json(local_stack):
    assert httpx.get(f"{local_stack.url}/api/conversations").status_code == 401
    with local_stack.client("prl_1_" + "X" * 43) as stranger:
        response = stranger.get("/api/conversations")
        assert response.status_code == 401 and response.json() == {"detail": "Invalid token."}
    with local_stack.client() as client:
        bad = client.post("/api/conversations", content=b"{oops", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and "detail" in bad.json()
        assert client.get("/api/nowhere").status_code == 404
        for method in ("TRACE", "DELETE", "PUT"):  # unknown methods: 404 JSON, as API Gateway answers
            odd = client.request(method, "/api/conversations")
            assert odd.status_code == 404 and odd.json() == {"message": "Not Found"}


def test_a_busy_port_is_reported_and_ctrl_c_stops_cleanly(local_stack, tmp_path):
    import os
    import subprocess
    import sys

    port = local_stack.url.rsplit(":", 1)[1]
    busy = subprocess.run(
        [sys.executable, "-m", "parley_local"],
        env={**os.environ, "PORT": port},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert busy.returncode == 2 and f"port {port}" in busy.stderr

    second = start_stack(tmp_path)
    assert stop_stack(second) == 0
    assert "parley stopped" in second.log_path.read_text()
