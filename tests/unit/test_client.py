"""Client and CLI behaviour that needs no running stack: polling backoff (with an injected sleep and clock),
where the client finds the API, and the CLI's checks made before anything is sent.

Everything that talks to the API is tested over real HTTP in tests/integration/test_client_cli.py; here a
scripted httpx transport stands in only where the stack cannot be made to answer on cue (a task that stays
PENDING, a FAILURE, a 503)."""

from __future__ import annotations

import json

import httpx
import pytest
from parley_client import cli
from parley_client.client import (
    DEFAULT_URL,
    ApiUnreachable,
    BadRequest,
    ParleyClient,
    ServiceUnavailable,
    TaskFailed,
    TaskTimeout,
    find_answer,
)

TASK = "0b9f3c1e-3f7a-4a8e-9d7e-2a1c5b6d7e8f"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def scripted(states: list[dict], seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    """Answers task-status polls with `states` in turn (the last one repeats)."""
    answers = list(states)

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        assert request.url.path == f"/api/task_status/{TASK}"
        return httpx.Response(200, json=answers.pop(0) if len(answers) > 1 else answers[0])

    return httpx.MockTransport(handle)


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch, tmp_path):
    for name in ("PARLEY_API_URL", "PARLEY_API_TOKEN", *cli.TABLE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PARLEY_LOCAL_STATE", str(tmp_path / "no-stack.json"))


def test_wait_for_task_backs_off_from_100_ms_doubling_up_to_2_s():
    time = FakeTime()
    seen: list[httpx.Request] = []
    transport = scripted([{"state": "PENDING"}] * 8 + [{"state": "SUCCESS", "kind": "answer"}], seen)
    with ParleyClient("http://parley.test", "tok", transport=transport, sleep=time.sleep, clock=time.clock) as c:
        assert c.wait_for_task(TASK)["state"] == "SUCCESS"
    assert time.sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]
    assert len(seen) == 9 and seen[0].headers["authorization"] == "Token tok"


def test_wait_for_task_times_out_without_sleeping_past_the_deadline():
    time = FakeTime()
    with (
        ParleyClient(
            "http://parley.test", "tok", transport=scripted([{"state": "PENDING"}]), sleep=time.sleep, clock=time.clock
        ) as client,
        pytest.raises(TaskTimeout) as timeout,
    ):
        client.wait_for_task(TASK, timeout=5)
    assert time.sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 1.9]
    assert timeout.value.task_id == TASK and "PENDING after 5 s" in str(timeout.value)


def test_a_failed_task_raises_with_its_error_code_and_message():
    failure = {"state": "FAILURE", "error": {"code": "enqueue_failed", "message": "Send it again."}}
    time = FakeTime()
    with (
        ParleyClient(
            "http://parley.test",
            "tok",
            transport=scripted([{"state": "PENDING"}, failure]),
            sleep=time.sleep,
            clock=time.clock,
        ) as client,
        pytest.raises(TaskFailed) as failed,
    ):
        client.wait_for_task(TASK)
    assert (failed.value.code, failed.value.message) == ("enqueue_failed", "Send it again.")
    assert failed.value.task["state"] == "FAILURE" and time.sleeps == [0.1]


def test_503_carries_retry_after_and_413_is_a_bad_request():
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                503, json={"detail": "the answer queue is unavailable, please retry"}, headers={"Retry-After": "2"}
            )
        return httpx.Response(413, json={"detail": "request body is larger than 1048576 bytes"})

    with ParleyClient("http://parley.test", "tok", transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(ServiceUnavailable) as unavailable:
            client.send_message(5, "Hello?")
        with pytest.raises(BadRequest) as too_large:
            client.get_conversation(5)
    assert unavailable.value.retry_after == 2.0 and unavailable.value.status == 503
    assert "retry" in unavailable.value.detail
    assert too_large.value.status == 413


def test_connection_errors_are_parley_errors():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        ParleyClient("http://parley.test", "tok", transport=httpx.MockTransport(refuse)) as client,
        pytest.raises(ApiUnreachable) as unreachable,
    ):
        client.list_data_sets()
    assert unreachable.value.status is None and "http://parley.test" in unreachable.value.detail


def test_the_api_is_found_by_argument_environment_local_stack_or_default(monkeypatch, tmp_path):
    assert ParleyClient().base_url == DEFAULT_URL and ParleyClient().token is None

    state = tmp_path / "local.json"
    state.write_text(json.dumps({"api_url": "http://127.0.0.1:3999", "token": "prl_1_dev"}))
    monkeypatch.setenv("PARLEY_LOCAL_STATE", str(state))
    local = ParleyClient()
    assert (local.base_url, local.token) == ("http://127.0.0.1:3999", "prl_1_dev")
    # The local dev token is never sent to another server.
    assert ParleyClient("https://api.example.com").token is None

    monkeypatch.setenv("PARLEY_API_URL", "https://api.example.com/prod/")
    monkeypatch.setenv("PARLEY_API_TOKEN", "prl_2_env")
    from_env = ParleyClient()
    assert (from_env.base_url, from_env.token) == ("https://api.example.com/prod", "prl_2_env")
    explicit = ParleyClient("http://other:1", "prl_3_arg")
    assert (explicit.base_url, explicit.token) == ("http://other:1", "prl_3_arg")


def test_find_answer_takes_the_reply_to_the_question():
    history = [
        {"id": 10, "role": "user", "text": "Q"},
        {"id": 11, "role": "agent", "text": "first"},
        {"id": 20, "role": "user", "text": "Q"},
        {"id": 21, "role": "system", "text": "failed"},
    ]
    assert find_answer(history, "Q")["text"] == "failed"
    assert find_answer(history, "Q", question_id=10)["text"] == "first"
    assert find_answer(history, "other") is None
    assert find_answer(history[:1], "Q") is None


def test_cli_usage_errors_exit_2(capsys):
    assert cli.main(["--help"]) == 0
    assert cli.main([]) == 2
    assert cli.main(["ask"]) == 2
    assert cli.main(["accounts", "create"]) == 2  # --name is required
    assert cli.main(["load", "products", "x.csv"]) == 2  # --data-set is required
    help_text = capsys.readouterr().out
    assert "parley" in help_text


def test_cli_accounts_help_explains_the_direct_bootstrap(capsys):
    assert cli.main(["accounts", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--direct" in text and "ACCOUNTS_TABLE=<AccountsTableName>" in text and "first admin" in text


def test_direct_needs_all_table_variables_or_a_local_stack(monkeypatch, capsys):
    assert cli.main(["accounts", "list", "--direct"]) == 2
    assert "make dev" in capsys.readouterr().err
    monkeypatch.setenv("ACCOUNTS_TABLE", "parley-accounts")
    assert cli.main(["accounts", "list", "--direct"]) == 2
    assert "missing: CONVERSATIONS_TABLE" in capsys.readouterr().err


def test_cli_reads_products_from_csv_with_properties_and_categories(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("SKU,Name,price,categories,Colour,weight_kg\nA-1,Alpha,12.5,,red,\nB-2,Beta,,x| y |,,3\n")
    alpha, beta = cli.read_items(path, "products")
    assert alpha == {
        "sku": "A-1",
        "name": "Alpha",
        "description": "",
        "price": 12.5,
        "categories": [],
        "properties": {"Colour": "red"},
    }
    assert beta["price"] is None and beta["categories"] == ["x", "y"] and beta["properties"] == {"weight_kg": "3"}


def test_cli_reads_documents_and_rejects_unknown_csv_columns(tmp_path):
    good = tmp_path / "d.csv"
    good.write_text('title,content,url\nT,"multi\nline",\nU,body,https://x.example/u\n')
    first, second = cli.read_items(good, "documents")
    assert first == {"title": "T", "content": "multi\nline", "url": None} and second["url"] == "https://x.example/u"
    bad = tmp_path / "e.csv"
    bad.write_text("title,content,author\nT,c,me\n")
    with pytest.raises(cli.UsageError, match="unknown column"):
        cli.read_items(bad, "documents")
    missing = tmp_path / "m.csv"
    missing.write_text("name,price\nx,1\n")
    with pytest.raises(cli.UsageError, match="line 1: the header lacks the column"):
        cli.read_items(missing, "products")


def test_bad_rows_are_reported_by_line_before_any_request(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text(
        '{"sku": "a", "name": "A"}\n\n{"sku": "b", "name": "B", "price": "12"}\n'
        '{"sku": "c", "name": "C", "properties": {"size": [1]}}\n'
    )
    # The URL is unreachable: nothing may be sent before the file is known to be good.
    assert cli.main(["--url", "http://127.0.0.1:9", "load", "products", str(path), "--data-set", "1"]) == 2
    err = capsys.readouterr().err
    assert "2 bad rows, nothing was sent (bad lines: 3, 4)" in err
    assert "line 3: price: Input should be a number" in err
    assert "line 4: properties.size: Input should be" in err


def test_chunks_respect_both_the_count_and_the_body_size():
    items = [{"n": i, "text": "x" * 1000} for i in range(10)]
    assert [len(c) for c in cli.chunked(items, 4)] == [4, 4, 2]
    assert [len(c) for c in cli.chunked(items, 100, max_bytes=3_100)] == [3, 3, 3, 1]
    assert cli.chunked([], 5) == []
