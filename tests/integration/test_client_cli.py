"""The Python client and the `parley` CLI against the running `make dev` stack, over real HTTP."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest
from parley_client import cli
from parley_client.client import BadRequest, Forbidden, NotFound, ParleyClient, Unauthorized

SLA_QUESTION = "Does FiberUP Business Duplex include an SLA?"


@pytest.fixture
def client(local_stack):
    with ParleyClient(local_stack.url, local_stack.token) as parley:
        yield parley


@pytest.fixture
def api_env(local_stack, monkeypatch):
    """The CLI finds the stack through PARLEY_API_URL / PARLEY_API_TOKEN, as a user's shell would."""
    monkeypatch.setenv("PARLEY_API_URL", local_stack.url)
    monkeypatch.setenv("PARLEY_API_TOKEN", local_stack.token)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def token_from(out: str) -> str:
    return re.search(r"^token: (prl_\S+)$", out, re.MULTILINE).group(1)


def new_data_set(client: ParleyClient, name: str) -> int:
    return client.create_data_set(name)["id"]


# ------------------------------------------------------------------------------------------------ client


def test_client_ask_answers_the_sla_question_from_the_sample(client):
    answer = client.ask(SLA_QUESTION, 1)
    assert answer["role"] == "agent"
    assert answer["text"].startswith("Yes") and "FiberUP Business Duplex" in answer["text"]
    assert {"type": "product", "id": "FU-BIZ-DUPLEX"}.items() <= next(
        s for s in answer["sources"] if s["type"] == "product"
    ).items()
    conversation_id = answer["conversation_id"]

    follow_up = client.ask("What does the SLA guarantee for availability?", 1, conversation_id=conversation_id)
    assert follow_up["conversation_id"] == conversation_id and follow_up["id"] > answer["id"]
    conversation = client.get_conversation(conversation_id)
    assert [m["role"] for m in conversation["history"]] == ["user", "agent", "user", "agent"]
    assert conversation["history"][1]["id"] == answer["id"] == conversation["history"][0]["id"] + 1
    assert conversation["summary"] == SLA_QUESTION

    newer = client.create_conversation(1)["id"]
    page = client.list_conversations(limit=1, data_set_id=1)
    assert page["results"][0]["id"] == newer and page["next_cursor"]
    page = client.list_conversations(limit=1, cursor=page["next_cursor"], data_set_id=1)
    assert page["results"][0]["id"] == conversation_id


def test_client_send_and_wait_step_by_step(client):
    conversation = client.create_conversation(1)
    assert conversation["started_at"].endswith("Z")
    task_id = client.send_message(conversation["id"], SLA_QUESTION, data_set_id=1)
    assert client.task_status(task_id)["state"] in ("PENDING", "SUCCESS")
    assert client.wait_for_task(task_id, timeout=30)["state"] == "SUCCESS"
    assert client.get_data_set(1)["product_count"] > 0
    assert [d["id"] for d in client.list_data_sets()["results"]][:1] == [1]


def test_client_raises_typed_errors_carrying_the_detail(client, local_stack):
    with ParleyClient(local_stack.url, "prl_1_" + "X" * 43) as stranger, pytest.raises(Unauthorized) as unknown:
        stranger.list_conversations()
    assert unknown.value.status == 401 and unknown.value.detail == "Invalid token."
    with ParleyClient(local_stack.url, token="") as anonymous, pytest.raises(Unauthorized):
        anonymous.list_data_sets()

    with pytest.raises(NotFound) as missing:
        client.get_conversation(999_999_999)
    assert missing.value.status == 404 and missing.value.detail == "conversation not found"
    with pytest.raises(NotFound):
        client.task_status("00000000-0000-4000-8000-000000000000")

    conversation_id = client.create_conversation(1)["id"]
    with pytest.raises(BadRequest) as blank:
        client.send_message(conversation_id, "   ")
    assert blank.value.status == 422
    assert any("question_message" in item["loc"] for item in blank.value.detail)
    with pytest.raises(BadRequest) as out_of_range:
        client.create_conversation(0)
    assert out_of_range.value.status == 422 and any("data_set_id" in i["loc"] for i in out_of_range.value.detail)
    with pytest.raises(BadRequest) as mismatch:
        client.send_message(conversation_id, "Hello?", data_set_id=999)
    assert mismatch.value.status == 400 and "data_set_id" in mismatch.value.detail

    user = client.create_service_account("typed-errors user", [1])
    with ParleyClient(local_stack.url, user["token"]) as plain:
        with pytest.raises(Forbidden) as forbidden:
            plain.create_data_set("not allowed")
        assert forbidden.value.status == 403 and "admin" in forbidden.value.detail
        with pytest.raises(NotFound):  # another account's conversation does not exist for this one
            plain.get_conversation(conversation_id)
    with pytest.raises(TypeError):
        client.update_service_account(user["id"], is_admn=True)


# --------------------------------------------------------------------------------------------- ask, chat


def test_cli_ask_prints_the_answer_and_its_sources(api_env, capsys):
    code, out, err = run(capsys, "ask", SLA_QUESTION, "--data-set", "1")
    assert code == 0, err
    assert out.startswith("Yes") and "FiberUP Business Duplex" in out.splitlines()[0]
    assert "  [product] FiberUP Business Duplex" in out.splitlines()
    assert err == ""  # no spinner when stderr is not a terminal


def test_cli_ask_json_prints_the_raw_responses(local_stack, capsys):
    code, out, err = run(
        capsys, "--url", local_stack.url, "--token", local_stack.token, "ask", SLA_QUESTION, "--data-set", "1", "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["task"]["state"] == "SUCCESS" and result["created"]["id"] == result["conversation_id"]
    assert result["answer"]["text"].startswith("Yes")
    assert any(s["id"] == "FU-BIZ-DUPLEX" for s in result["answer"]["sources"])

    code, out, err = run(
        capsys,
        "ask",
        "And what does it cost?",
        "--conversation",
        str(result["conversation_id"]),
        "--url",
        local_stack.url,
        "--token",
        local_stack.token,
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["created"] is None and len(json.loads(out)["conversation"]["history"]) == 4


def test_cli_reports_api_errors_with_status_and_detail(local_stack, capsys):
    code, out, err = run(
        capsys, "--url", local_stack.url, "--token", "prl_1_" + "Y" * 43, "ask", SLA_QUESTION, "--data-set", "1"
    )
    assert code == 1 and out == "" and err.strip() == "error: 401 Invalid token."
    code, _, err = run(capsys, "--url", local_stack.url, "--token", local_stack.token, "data-sets", "show", "424242")
    assert code == 1 and err.strip() == "error: 404 data set not found"
    code, _, err = run(capsys, "ask", SLA_QUESTION)  # neither --data-set nor --conversation
    assert code == 2 and "--data-set" in err


def test_cli_chat_is_one_conversation(api_env, client, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{SLA_QUESTION}\n\nHow is roaming charged?\n"))
    code, out, err = run(capsys, "chat", "--data-set", "1")
    assert code == 0, err
    answers = [line for line in out.splitlines() if "agent> " in line]
    assert len(answers) == 2 and out.count("you> ") == 4  # two questions, one blank line, then EOF
    assert answers[0].split("agent> ", 1)[1].startswith("Yes")
    newest = client.list_conversations(limit=1)["results"][0]
    history = client.get_conversation(newest["id"])["history"]
    assert [m["text"] for m in history if m["role"] == "user"] == [SLA_QUESTION, "How is roaming charged?"]

    monkeypatch.setattr("sys.stdin", io.StringIO("quit\nThis is never asked\n"))
    code, out, _ = run(capsys, "chat", "--data-set", "1")
    assert code == 0 and "agent> " not in out


# -------------------------------------------------------------------------------------------- accounts


def test_cli_manages_accounts_through_the_admin_api(api_env, local_stack, capsys):
    code, out, err = run(capsys, "accounts", "create", "--name", "cli bot", "--data-set", "1")
    assert code == 0, err
    assert "created service account" in out and "shown only once" in err
    first_token = token_from(out)
    account_id = int(re.search(r"service account (\d+)", out).group(1))

    code, out, _ = run(capsys, "accounts", "list", "--json")
    listed = {a["id"]: a for a in json.loads(out)["results"]}
    assert listed[account_id]["name"] == "cli bot" and listed[account_id]["data_set_ids"] == [1]
    code, out, _ = run(capsys, "accounts", "list")
    assert code == 0 and re.search(rf"^{account_id}\s+cli bot\s+no\s+yes\s+1\b", out, re.MULTILINE)

    # The first token is never used before the reset, so no authorizer cache entry can keep it alive.
    code, out, err = run(capsys, "accounts", "reset-token", str(account_id))
    assert code == 0 and "shown only once" in err
    second_token = token_from(out)
    assert second_token != first_token
    with ParleyClient(local_stack.url, first_token) as old, pytest.raises(Unauthorized):
        old.list_data_sets()
    with ParleyClient(local_stack.url, second_token) as new:
        assert [d["id"] for d in new.list_data_sets()["results"]] == [1]

    code, out, _ = run(capsys, "accounts", "update", str(account_id), "--name", "cli bot 2", "--no-data-sets", "--json")
    assert code == 0 and json.loads(out)["name"] == "cli bot 2" and json.loads(out)["data_set_ids"] == []
    code, out, _ = run(capsys, "accounts", "update", str(account_id), "--data-set", "1", "--data-set", "1")
    assert code == 0 and "data sets 1" in out

    code, out, err = run(capsys, "accounts", "create", "--name", "to disable", "--data-set", "1")
    doomed_token = token_from(out)
    doomed_id = int(re.search(r"service account (\d+)", out).group(1))
    code, out, err = run(capsys, "accounts", "disable", str(doomed_id))
    assert code == 0 and "active no" in out
    with ParleyClient(local_stack.url, doomed_token) as disabled, pytest.raises(Unauthorized):
        disabled.list_data_sets()
    code, out, _ = run(capsys, "accounts", "update", str(doomed_id), "--active", "--json")
    assert json.loads(out)["is_active"] is True

    assert run(capsys, "accounts", "update", str(doomed_id))[0] == 2  # nothing to change
    code, _, err = run(capsys, "accounts", "update", "987654", "--name", "x")
    assert code == 1 and err.strip() == "error: 404 service account not found"
    code, _, err = run(capsys, "--token", second_token, "accounts", "list")
    assert code == 1 and err.startswith("error: 403 ")


def _state_of(local_stack) -> Path:
    """The state file (local.json) that the session's stack wrote for the CLI."""
    path = Path(local_stack.state_path)
    assert json.loads(path.read_text())["api_url"].rstrip("/") == local_stack.url
    return path


def test_cli_direct_bootstraps_an_admin_against_the_stack_tables(local_stack, capsys, monkeypatch, tmp_path):
    state_path = _state_of(local_stack)
    copy = tmp_path / "local.json"
    copy.write_text(state_path.read_text())
    monkeypatch.setenv("PARLEY_LOCAL_STATE", str(copy))
    for name in (*cli.TABLE_ENV, "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "PARLEY_API_URL", "PARLEY_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)

    code, out, err = run(capsys, "accounts", "create", "--direct", "--name", "bootstrap admin", "--admin")
    assert code == 0, err
    token = token_from(out)
    assert "admin yes" in out and "shown only once" in err
    assert dict(os.environ) == before  # the emulated endpoint and dummy keys were only borrowed

    with ParleyClient(local_stack.url, token) as admin:
        names = [a["name"] for a in admin.list_service_accounts(limit=100)["results"]]
        assert "bootstrap admin" in names

    code, out, _ = run(capsys, "accounts", "--direct", "list", "--json")
    account = next(a for a in json.loads(out)["results"] if a["name"] == "bootstrap admin")
    assert account["is_admin"] is True and "token" not in account and "token_hash" not in account
    code, out, _ = run(capsys, "accounts", "reset-token", str(account["id"]), "--direct")
    assert code == 0 and token_from(out) != token
    code, _, err = run(capsys, "accounts", "update", "987654", "--inactive", "--direct")
    assert code == 1 and err.strip() == "error: 404 service account not found"
    code, _, err = run(capsys, "accounts", "create", "--direct", "--name", " ")
    assert code == 1 and err.startswith("error: 422 body.name")

    # Without the state file and without the variables, --direct says what it needs.
    monkeypatch.setenv("PARLEY_LOCAL_STATE", str(tmp_path / "missing.json"))
    code, _, err = run(capsys, "accounts", "list", "--direct")
    assert code == 2 and "ACCOUNTS_TABLE" in err


# ------------------------------------------------------------------------------------------- data, loads


PRODUCTS_CSV = """\
sku,name,description,price,categories,warranty_years,colour
ZX-3000,Zorblax Quantum Toaster,\
"A four-slot toaster that browns bread evenly, with a defrost button.",89.5,kitchen|appliances,5,chrome
ZX-1000,Zorblax Mini Kettle,A one-litre travel kettle.,25,kitchen,2,
"""

DOCUMENTS_JSONL = (
    "\n".join(
        json.dumps(d)
        for d in [
            {
                "title": "Zorblax returns policy",
                "url": "https://zorblax.example/returns",
                "content": "Unused Zorblax appliances can be returned within 45 days of delivery for a full refund. "
                "Return shipping is free for members of the Zorblax Club.",
            },
            {
                "title": "Zorblax descaling guide",
                "content": "Descale a Zorblax kettle every month with citric acid to keep it quiet.",
            },
        ]
    )
    + "\n"
)


def test_cli_loads_csv_and_jsonl_then_answers_from_them(api_env, client, capsys, tmp_path):
    code, out, err = run(capsys, "data-sets", "create", "Zorblax shop", "--json")
    assert code == 0, err
    data_set = str(json.loads(out)["id"])
    (tmp_path / "products.csv").write_text(PRODUCTS_CSV)
    (tmp_path / "documents.jsonl").write_text(DOCUMENTS_JSONL)

    code, out, err = run(
        capsys, "load", "products", str(tmp_path / "products.csv"), "--data-set", data_set, "--chunk-size", "1"
    )
    assert code == 0, err
    assert "chunk 1/2: 1 products loaded" in out and "chunk 2/2" in out
    assert f"loaded 2 products into data set {data_set}" in out
    code, out, err = run(capsys, "load", "documents", str(tmp_path / "documents.jsonl"), "--data-set", data_set)
    assert code == 0 and "now has 2 products, 2 documents" in out

    code, out, _ = run(capsys, "data-sets", "show", data_set)
    assert "product_count: 2" in out and "document_count: 2" in out
    code, out, _ = run(capsys, "data-sets", "list")
    assert re.search(rf"^{data_set}\s+Zorblax shop\s+2\s+2$", out, re.MULTILINE)

    answer = client.ask("How many years of warranty does the Zorblax Quantum Toaster have?", int(data_set))
    assert "5" in answer["text"] and "Zorblax Quantum Toaster" in answer["text"]
    product = next(s for s in answer["sources"] if s["type"] == "product")
    assert product["id"] == "ZX-3000"

    code, out, err = run(
        capsys, "ask", "Within how many days can I return a Zorblax appliance?", "--data-set", data_set
    )
    assert code == 0, err
    assert "45 days" in out
    assert "  [document] Zorblax returns policy <https://zorblax.example/returns>" in out.splitlines()

    # Loading again upserts by sku; --no-wait prints the task ids instead of waiting.
    code, out, err = run(
        capsys, "load", "products", str(tmp_path / "products.csv"), "--data-set", data_set, "--no-wait"
    )
    task_ids = out.split()
    assert code == 0 and len(task_ids) == 1
    assert client.wait_for_task(task_ids[0], timeout=30)["result"]["product_count"] == 2


def test_cli_rejects_a_bad_file_before_sending_anything(api_env, client, capsys, tmp_path):
    data_set = new_data_set(client, "bad input")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text(
        "sku,name,price\n"
        "OK-1,Fine product,10\n"
        "BAD-1,Cheap thing,cheap\n"
        "\n"
        "BAD-2,,3\n"
        '"BAD-3","Spans\ntwo lines",-1\n'
        "OK-2,Also fine,\n"
    )
    code, out, err = run(capsys, "load", "products", str(bad_csv), "--data-set", str(data_set))
    assert code == 2 and out == ""
    assert "3 bad rows, nothing was sent" in err and "bad lines: 3, 5, 6" in err
    assert "  line 3: price:" in err and "  line 5: name:" in err and "  line 6: price:" in err
    assert client.get_data_set(data_set)["product_count"] == 0

    bad_jsonl = tmp_path / "bad.jsonl"
    bad_jsonl.write_text(
        '{"title": "Fine", "content": "ok"}\n{"title": "No content"\n[1, 2]\n{"title": "Blank", "content": "   "}\n'
    )
    code, _, err = run(capsys, "load", "documents", str(bad_jsonl), "--data-set", str(data_set))
    assert code == 2 and "bad lines: 2, 3, 4" in err and "not valid JSON" in err and "expected a JSON object" in err
    assert client.get_data_set(data_set)["document_count"] == 0

    code, _, err = run(capsys, "load", "documents", str(tmp_path / "docs.txt"), "--data-set", str(data_set))
    assert code == 2 and ".jsonl" in err


def test_cli_loads_shop_exports_in_chunks_with_variations_after_their_parents(api_env, client, capsys):
    data_set = new_data_set(client, "exports")
    samples = Path(__file__).resolve().parents[2] / "samples" / "apparel"
    code, out, err = run(
        capsys,
        "load",
        "products",
        str(samples / "woocommerce-export.csv"),
        "--data-set",
        str(data_set),
        "--chunk-size",
        "7",
        "--currency",
        "EUR",
    )
    assert code == 0, err
    assert "as a WooCommerce product export: 25 products" in err and "wc-<ID>" in err
    assert "chunk 4/4: 4 products loaded" in out and f"loaded 25 products into data set {data_set}" in out
    code, out, err = run(
        capsys,
        "load",
        "products",
        str(samples / "shopify-export.csv"),
        "--data-set",
        str(data_set),
        "--format",
        "shopify",
    )
    assert code == 0 and "now has 30 products" in out, err


def test_cli_sets_a_data_sets_answer_settings(api_env, client, capsys):
    data_set = str(new_data_set(client, "settings"))
    code, _out, err = run(
        capsys,
        "data-sets",
        "settings",
        data_set,
        "--provider",
        "openai",
        "--model",
        "m1",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--api-key-secret",
        "PARLEY_TEST_KEY",
        "--max-steps",
        "3",
    )
    assert code == 0, err
    shown = client.get_data_set(int(data_set))["answer_settings"]
    assert shown["provider"] == "openai" and shown["model"] == "m1" and shown["base_url"] == "http://127.0.0.1:9/v1"
    assert shown["max_steps"] == 3

    code, _, err = run(capsys, "data-sets", "settings", data_set, "--provider", "openai")
    assert code == 1 and "error: 422" in err and "model" in err  # required settings are checked when set

    code, _, err = run(capsys, "data-sets", "settings", data_set)
    assert code == 0, err
    assert client.get_data_set(int(data_set))["answer_settings"]["provider"] == "extractive"
