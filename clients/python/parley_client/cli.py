"""`parley`: ask questions, chat, manage service accounts and data sets, and load products and documents.

The API is found through --url / --token, else PARLEY_API_URL / PARLEY_API_TOKEN, else the local stack that
`make dev` runs (its .parley-data/local.json, or the file named by PARLEY_LOCAL_STATE). `ask` and `chat`
stream answers over the WebSocket API found in PARLEY_WS_URL or the local stack's state (else they poll).

Exit codes: 0 done, 1 the API (or AWS) refused or failed, 2 bad usage or a bad input file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from parley_client import imports
from parley_client.client import (
    BadRequest,
    ParleyClient,
    ParleyError,
    TaskFailed,
    TaskTimeout,
    format_detail,
    local_state_path,
    read_local_state,
)

EXIT_OK, EXIT_API, EXIT_USAGE = 0, 1, 2

TABLE_ENV = (
    "CONVERSATIONS_TABLE",
    "TASKS_TABLE",
    "DATA_SETS_TABLE",
    "ACCOUNTS_TABLE",
    "JOBS_QUEUE_URL",
    "INDEX_BUCKET",
)
STACK_OUTPUTS = {
    "CONVERSATIONS_TABLE": "ConversationsTableName",
    "TASKS_TABLE": "TasksTableName",
    "DATA_SETS_TABLE": "DataSetsTableName",
    "ACCOUNTS_TABLE": "AccountsTableName",
    "JOBS_QUEUE_URL": "JobsQueueUrl",
    "INDEX_BUCKET": "IndexBucketName",
}
LOCAL_REGION = "us-east-1"

# Items per load request (the API accepts up to 5,000 products / 1,000 documents), and a body budget below
# the API's 1 MB limit.
DEFAULT_CHUNK = {"products": 500, "documents": 200}
MAX_CHUNK = {"products": 5_000, "documents": 1_000}
MAX_CHUNK_BYTES = 900_000
MAX_REPORTED_ROWS = 20

TOKEN_WARNING = (
    "warning: this token is shown only once; store it now. It cannot be shown again, "
    "only replaced with `parley accounts reset-token {id}`."
)
CACHE_NOTE = (
    "note: the API caches authorizations (60 s by default, the stack's AuthorizerCacheTtl), so the old "
    "token can keep working that long."
)


class UsageError(Exception):
    """Bad arguments or a bad input file: exit code 2."""


# ------------------------------------------------------------------------------------------------ output


def _out(text: str = "") -> None:
    print(text, file=sys.stdout)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _json(value: Any) -> None:
    _out(json.dumps(value, indent=2, ensure_ascii=False))


def _table(rows: list[Sequence[Any]], header: Sequence[str]) -> None:
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        _out("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _ids(values: Sequence[Any] | None) -> str:
    return ", ".join(str(v) for v in values) if values else "-"


def _yes(flag: Any) -> str:
    return "yes" if flag else "no"


class Spinner:
    """A spinner with the elapsed seconds on stderr while waiting, only when stderr is a terminal."""

    FRAMES = "|/-\\"

    def __init__(self, label: str):
        self.label = label
        self.stream = sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        started = time.monotonic()
        frame = 0
        while not self._stop.is_set():
            elapsed = time.monotonic() - started
            self.stream.write(f"\r{self.FRAMES[frame % len(self.FRAMES)]} {self.label} {elapsed:4.1f}s")
            self.stream.flush()
            frame += 1
            self._stop.wait(0.1)

    def __enter__(self) -> Spinner:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="parley-spinner", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop and clear the spinner (once: it also stops when the first streamed text arrives)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.stream.write("\r\x1b[K")  # clear the spinner's line
            self.stream.flush()


def _print_answer(answer: Mapping[str, Any], prefix: str = "") -> None:
    _out(f"{prefix}{answer.get('text', '')}")
    _print_sources(answer)


def _print_sources(answer: Mapping[str, Any]) -> None:
    sources = answer.get("sources") or []
    if sources:
        _out("sources:")
        for source in sources:
            title = source.get("title") or source.get("id") or "?"
            url = f" <{source['url']}>" if source.get("url") else ""
            _out(f"  [{source.get('type', 'source')}] {title}{url}")


# ----------------------------------------------------------------------------------------- API commands


def _client(args: argparse.Namespace) -> ParleyClient:
    return ParleyClient(base_url=args.url, token=args.token)


def _print_streamed(
    client: ParleyClient,
    question: str,
    data_set_id: int | None,
    conversation_id: int | None,
    timeout: float,
    prefix: str = "",
) -> dict[str, Any]:
    """Print the answer as it streams in, then its sources; returns the stored answer with its
    conversation_id. A task.failed event raises TaskFailed, as polling does."""
    shown = ""
    with Spinner("thinking") as spinner:
        for event in client.stream(question, data_set_id, conversation_id, timeout=timeout):
            kind = event.get("type")
            if kind == "delta" and event.get("text"):
                if not shown:
                    spinner.stop()
                    sys.stdout.write(prefix)
                shown += event["text"]
                sys.stdout.write(event["text"])
                sys.stdout.flush()
            elif kind == "task.failed":
                raise TaskFailed(event["task_id"], {"state": "FAILURE", "error": event.get("error") or {}})
            elif kind == "message.completed":
                spinner.stop()
                answer = {**event["message"], "conversation_id": event["conversation_id"], "task_id": event["task_id"]}
                text = answer.get("text") or ""
                if not shown:
                    _out(prefix + text)
                elif text.startswith(shown):
                    _out(text[len(shown) :])
                else:  # the stream broke mid-answer and the stored answer was polled for: show it whole
                    _out("\n" + prefix + text)
                _print_sources(answer)
                return answer
    raise ParleyError(None, "the answer stream ended without a result")


def cmd_ask(args: argparse.Namespace) -> int:
    if args.data_set is None and args.conversation is None:
        raise UsageError("give --data-set (to start a conversation) or --conversation")
    with _client(args) as client:
        if not (args.json or args.no_stream):
            answer = _print_streamed(client, args.question, args.data_set, args.conversation, args.timeout)
            if sys.stderr.isatty():
                _err(
                    f"(conversation {answer['conversation_id']}: follow up with "
                    f"--conversation {answer['conversation_id']})"
                )
            return EXIT_OK
        with Spinner("waiting for the answer"):
            result = client.ask_raw(args.question, args.data_set, args.conversation, timeout=args.timeout)
    if args.json:
        _json(result)
        return EXIT_OK
    _print_answer(result["answer"])
    if sys.stderr.isatty():
        _err(f"(conversation {result['conversation_id']}: follow up with --conversation {result['conversation_id']})")
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    if args.data_set is None and args.conversation is None:
        raise UsageError("give --data-set (to start a conversation) or --conversation")
    conversation_id = args.conversation
    interactive = sys.stdin.isatty()
    if interactive:
        _err("Ask away; end with Ctrl-D, `exit` or `quit`.")
    with _client(args) as client:
        while True:
            try:
                line = input("you> ")
            except EOFError:
                _out()
                break
            except KeyboardInterrupt:
                _out()
                break
            question = line.strip()
            if not question:
                continue
            if question.lower() in ("exit", "quit"):
                break
            try:
                if args.no_stream:
                    with Spinner("thinking"):
                        answer = client.ask(question, args.data_set, conversation_id, timeout=args.timeout)
                    _print_answer(answer, prefix="agent> ")
                else:
                    answer = _print_streamed(
                        client, question, args.data_set, conversation_id, args.timeout, prefix="agent> "
                    )
            except (TaskFailed, TaskTimeout) as exc:
                _err(f"error: {exc.detail}")
                continue
            conversation_id = answer["conversation_id"]
    if conversation_id is not None and interactive:
        _err(f"(conversation {conversation_id})")
    return EXIT_OK


def cmd_data_sets_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        listed = client.list_data_sets()
    if args.json:
        _json(listed)
    else:
        rows = [
            (d["id"], d["name"], d.get("product_count", 0), d.get("document_count", 0))
            for d in listed.get("results", [])
        ]
        _table(rows, ("ID", "NAME", "PRODUCTS", "DOCUMENTS"))
    return EXIT_OK


def cmd_data_sets_create(args: argparse.Namespace) -> int:
    with _client(args) as client:
        created = client.create_data_set(args.name)
    if args.json:
        _json(created)
    else:
        _out(f"created data set {created['id']} ({created['name']})")
    return EXIT_OK


def cmd_data_sets_show(args: argparse.Namespace) -> int:
    with _client(args) as client:
        shown = client.get_data_set(args.id)
    if args.json:
        _json(shown)
    else:
        for key in ("id", "name", "product_count", "document_count", "created_at"):
            if key in shown:
                _out(f"{key}: {shown[key]}")
    return EXIT_OK


def cmd_data_sets_settings(args: argparse.Namespace) -> int:
    settings = {
        name: getattr(args, name)
        for name in (
            "provider",
            "model",
            "system_prompt",
            "temperature",
            "max_tokens",
            "max_steps",
            "base_url",
            "api_key_secret",
        )
        if getattr(args, name) is not None
    }
    with _client(args) as client:
        updated = client.update_data_set_settings(args.id, settings)
    if args.json:
        _json(updated)
    else:
        _out(f"data set {args.id} answers with: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    return EXIT_OK


# ----------------------------------------------------------------------------------------- input files


_UNION_TAG = re.compile(r"^(bool|int|float|str|none|constrained-[\w-]+|[\w-]+\[.*\])$")
_EXPECTED = {"bool": "a boolean", "int": "an integer", "float": "a number", "string": "a string", "none": "null"}


def describe_errors(errors: list[dict[str, Any]]) -> list[str]:
    """`field: message` per invalid field. pydantic reports a union (a price, a property value) once per
    member type, under locations ending in the member's tag: these become one message for the field."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for error in errors:
        loc = tuple(error.get("loc") or ())
        groups.setdefault(loc[:-1] if loc and _UNION_TAG.match(str(loc[-1])) else loc, []).append(error)
    described = []
    for loc, members in groups.items():
        if len(members) == 1 and tuple(members[0].get("loc") or ()) == loc:
            message = members[0]["msg"]
        else:
            kinds = [str(m.get("type", "")) for m in members]
            mismatch = all(k.endswith(("_type", "_parsing")) or k == "none_required" for k in kinds)
            if mismatch:
                expected = [_EXPECTED.get(k.split("_")[0], k) for k in kinds]
                if "a number" in expected and "an integer" in expected:
                    expected.remove("an integer")
                message = "Input should be " + " or ".join(dict.fromkeys(expected))
            else:  # the value had a fitting type but broke its constraint: say which
                message = "; ".join(
                    dict.fromkeys(m["msg"] for m, k in zip(members, kinds) if not k.endswith(("_type", "_parsing")))
                )
        described.append(f"{'.'.join(str(part) for part in loc) or 'row'}: {message}")
    return described


def _rows(path: Path, kind: str, fmt: str) -> imports.Parsed:
    """The file's rows as the `parley_client.imports` reader of its format reads them."""
    if fmt == "auto" and path.suffix.lower() not in (".jsonl", ".ndjson", ".csv"):
        raise UsageError(f"{path}: give a .jsonl (one JSON object per line) or a .csv file, or name its --format")
    try:
        text = path.read_text(encoding="utf-8-sig")  # the byte order mark WooCommerce writes is not a column
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if fmt == "auto":
        fmt = imports.detect(path.suffix, text)
    try:
        if kind == "documents":
            return imports.Parsed(fmt, imports.parse_documents(text, "jsonl" if fmt == "jsonl" else "csv"))
        return imports.parse_products(text, fmt)
    except imports.UnreadableFile as exc:
        raise UsageError(f"{path} {exc}") from None


def _server_models() -> tuple[Any, Any, type[Exception]] | None:
    """(Product, Document, pydantic's ValidationError) when the server package is installed, else None."""
    try:
        from pydantic import ValidationError

        from parley.models.documents import Document
        from parley.models.products import Product
    except ImportError:
        return None
    return Product, Document, ValidationError


def read_items(path: Path, kind: str, fmt: str = "auto", currency: str | None = None) -> list[dict[str, Any]]:
    """Every product or document of a file, validated; raises UsageError naming bad lines. Products come from
    JSON Lines, a generic CSV, or a WooCommerce or Shopify export (`fmt`, else detected); `currency` is given
    to products that name none. Notes on what was read go to stderr.

    With the server package beside the client (the repo's venv), rows are checked against the API's own models
    before anything is sent; the client installed alone sends them as read and the API checks them."""
    models = _server_models()
    model = None if models is None else models[0 if kind == "products" else 1]
    parsed = _rows(path, kind, fmt)
    items: list[dict[str, Any]] = []
    problems: list[tuple[int, str]] = []
    for line, parsed_row in parsed.rows:
        if isinstance(parsed_row, str):
            problems.append((line, parsed_row))
            continue
        row = parsed_row
        if currency and kind == "products" and not row.get("currency"):
            row = {**row, "currency": currency}
        if model is None:
            items.append(row)
            continue
        try:
            items.append(model.model_validate(row).model_dump())
        except models[2] as exc:
            problems.append((line, "; ".join(describe_errors(exc.errors()))))
    if problems:
        problems.sort(key=lambda problem: problem[0])
        lines = [
            f"{path}: {len(problems)} bad {'row' if len(problems) == 1 else 'rows'}, nothing was sent "
            f"(bad lines: {', '.join(str(n) for n, _ in problems[:MAX_REPORTED_ROWS])}"
            f"{', ...' if len(problems) > MAX_REPORTED_ROWS else ''})"
        ]
        lines += [f"  line {line}: {reason}" for line, reason in problems[:MAX_REPORTED_ROWS]]
        if len(problems) > MAX_REPORTED_ROWS:
            lines.append(f"  ... and {len(problems) - MAX_REPORTED_ROWS} more")
        raise UsageError("\n".join(lines))
    if not items:
        raise UsageError(f"{path}: no {kind} found")
    if kind == "products" and parsed.format in ("woocommerce", "shopify"):
        _err(f"read {path} as {imports.FORMAT_NAMES[parsed.format]}: {len(items)} products")
    for note in parsed.notes:
        _err(f"note: {note}")
    return items


def chunked(items: list[dict[str, Any]], max_count: int, max_bytes: int = MAX_CHUNK_BYTES) -> list[list[dict]]:
    """Consecutive batches of at most `max_count` items whose JSON stays under `max_bytes`."""
    batches: list[list[dict]] = []
    batch: list[dict] = []
    size = 0
    for item in items:
        item_size = len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")) + 1
        if batch and (len(batch) >= max_count or size + item_size > max_bytes):
            batches.append(batch)
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        batches.append(batch)
    return batches


def cmd_load(args: argparse.Namespace) -> int:
    kind = args.kind
    limit = args.chunk_size or DEFAULT_CHUNK[kind]
    if not 1 <= limit <= MAX_CHUNK[kind]:
        raise UsageError(f"--chunk-size must be from 1 to {MAX_CHUNK[kind]} for {kind}")
    if kind == "products":
        items = read_items(Path(args.file), kind, args.format, args.currency)
    else:
        items = read_items(Path(args.file), kind)
    batches = chunked(items, limit)
    send = "load_products" if kind == "products" else "load_documents"
    task_ids: list[str] = []
    statuses: list[dict[str, Any]] = []
    done = 0
    with _client(args) as client:
        for number, batch in enumerate(batches, start=1):
            try:
                task_id = getattr(client, send)(args.data_set, batch)
                task_ids.append(task_id)
                if args.no_wait:
                    if not args.json:
                        _out(task_id)
                    continue
                with Spinner(f"loading {kind} {done + 1}-{done + len(batch)} of {len(items)}"):
                    status = client.wait_for_task(task_id, timeout=args.timeout)
            except ParleyError:
                if done:
                    _err(f"{done} of {len(items)} {kind} were loaded before this error")
                raise
            statuses.append(status)
            done += len(batch)
            if not args.json:
                result = status.get("result") or {}
                counts = (
                    (
                        f" (data set {args.data_set} now has {result.get('product_count', '?')} products, "
                        f"{result.get('document_count', '?')} documents)"
                    )
                    if result
                    else ""
                )
                _out(f"chunk {number}/{len(batches)}: {len(batch)} {kind} loaded{counts}")
    if args.json:
        _json({"task_ids": task_ids, "tasks": statuses})
    elif not args.no_wait:
        _out(f"loaded {done} {kind} into data set {args.data_set}")
    return EXIT_OK


# ------------------------------------------------------------------------------------ service accounts


class ApiAccounts:
    """Service accounts through the admin API."""

    def __init__(self, client: ParleyClient):
        self.client = client

    def create(self, name: str, data_set_ids: list[int], is_admin: bool) -> dict[str, Any]:
        return self.client.create_service_account(name, data_set_ids, is_admin)

    def list_page(self, limit: int | None, cursor: str | None) -> dict[str, Any]:
        return self.client.list_service_accounts(limit=limit, cursor=cursor)

    def update(self, account_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        return self.client.update_service_account(account_id, **changes)

    def reset_token(self, account_id: int) -> dict[str, Any]:
        return self.client.reset_service_account_token(account_id)

    def close(self) -> None:
        self.client.close()


class DirectAccounts:
    """Service accounts straight in DynamoDB through the domain layer (no API, no token needed).

    Inputs are validated with the API's own request models, and domain errors are reported as the API
    would report them (same status and detail)."""

    def _call(self, operation: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        from parley.errors import DomainError

        try:
            return operation()
        except DomainError as exc:
            cause = f" ({exc.__cause__})" if exc.__cause__ else ""
            raise ParleyError(exc.status_code, f"{format_detail(exc.detail)}{cause}") from exc

    @staticmethod
    def _validate(model: Any, values: dict[str, Any]) -> Any:
        from pydantic import ValidationError

        try:
            return model.model_validate(values)
        except ValidationError as exc:
            raise BadRequest(
                422, [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
            ) from None

    def create(self, name: str, data_set_ids: list[int], is_admin: bool) -> dict[str, Any]:
        from parley.logic import accounts
        from parley.logic.access import OPERATOR
        from parley.models.accounts import CreateServiceAccountRequest

        request = self._validate(
            CreateServiceAccountRequest, {"name": name, "data_set_ids": data_set_ids, "is_admin": is_admin}
        )
        return self._call(
            lambda: accounts.create(OPERATOR, request.name.strip(), request.data_set_ids, request.is_admin)
        )

    def list_page(self, limit: int | None, cursor: str | None) -> dict[str, Any]:
        from parley.logic import accounts
        from parley.logic.access import OPERATOR

        if cursor is not None and not str(cursor).isdigit():
            raise UsageError("a service account cursor is an account id")
        return self._call(lambda: accounts.list_page(OPERATOR, limit or 50, None if cursor is None else int(cursor)))

    def update(self, account_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        from parley.logic import accounts
        from parley.logic.access import OPERATOR
        from parley.models.accounts import UpdateServiceAccountRequest

        request = self._validate(UpdateServiceAccountRequest, changes)
        return self._call(lambda: accounts.update(OPERATOR, account_id, request.model_dump(exclude_none=True)))

    def reset_token(self, account_id: int) -> dict[str, Any]:
        from parley.logic import accounts
        from parley.logic.access import OPERATOR

        return self._call(lambda: accounts.reset_token(OPERATOR, account_id))

    def close(self) -> None:
        pass


@contextmanager
def direct_environment() -> Iterator[str]:
    """The environment for `--direct`: the table variables as set, or else the local stack's (with its AWS
    endpoint and dummy credentials). Restored afterwards. Yields a description of the target.

    Only this mode uses server code (the domain layer writes the tables), so only it needs the `parley` package:
    it is in the repo's venv (`make install`), not in the client installed alone."""
    try:
        from parley import aws, config
    except ImportError:
        raise UsageError(
            "--direct needs the server package `parley` beside the client: run it from the repo's "
            "venv (`make install`), or use the admin API with a token"
        ) from None

    present = [name for name in TABLE_ENV if os.environ.get(name)]
    overlay: dict[str, str | None] = {}
    if len(present) == len(TABLE_ENV):
        target = f"the tables named by the environment ({os.environ['ACCOUNTS_TABLE']})"
    elif present:
        missing = [name for name in TABLE_ENV if name not in present]
        raise UsageError(f"--direct: set all of {', '.join(TABLE_ENV)} (missing: {', '.join(missing)})")
    else:
        state = read_local_state()
        environment = (state or {}).get("environment")
        if not isinstance(environment, dict) or not (state or {}).get("aws_endpoint_url"):
            raise UsageError(
                "--direct needs the stack's tables: set " + ", ".join(TABLE_ENV) + " from the stack outputs "
                "(see `parley accounts --help`), or start the local stack with `make dev`"
            )
        missing = [name for name in TABLE_ENV if not environment.get(name)]
        if missing:
            raise UsageError(f"--direct: {local_state_path()} lacks {', '.join(missing)}")
        overlay = {name: str(environment[name]) for name in TABLE_ENV}
        region = str(state.get("region") or LOCAL_REGION)
        dynamodb_endpoint = state.get("aws_endpoint_url_dynamodb")  # DynamoDB Local, when the stack uses it
        overlay.update(
            {
                "AWS_ENDPOINT_URL": str(state["aws_endpoint_url"]),
                "AWS_ENDPOINT_URL_DYNAMODB": str(dynamodb_endpoint) if dynamodb_endpoint else None,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": region,
                "AWS_REGION": region,
                "AWS_SESSION_TOKEN": None,
                "AWS_PROFILE": None,
            }
        )
        target = f"the local stack of {local_state_path()}"
    saved = {name: os.environ.get(name) for name in overlay}

    def apply(values: Mapping[str, str | None]) -> None:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        config.reset()
        aws.reset_clients()

    apply(overlay)
    try:
        yield target
    finally:
        apply(saved)


@contextmanager
def _accounts_backend(args: argparse.Namespace) -> Iterator[ApiAccounts | DirectAccounts]:
    if not args.direct:
        backend = ApiAccounts(_client(args))
        try:
            yield backend
        finally:
            backend.close()
        return
    with direct_environment():
        from botocore.exceptions import BotoCoreError, ClientError  # beside the server package, as --direct is

        try:
            yield DirectAccounts()
        except (BotoCoreError, ClientError) as exc:
            raise ParleyError(None, f"AWS: {exc}") from exc


def _print_account(account: Mapping[str, Any], verb: str) -> None:
    _out(
        f"{verb} service account {account['id']} ({account['name']}): admin {_yes(account.get('is_admin'))}, "
        f"active {_yes(account.get('is_active', True))}, data sets {_ids(account.get('data_set_ids'))}"
    )


def _print_token(account: Mapping[str, Any]) -> None:
    _out(f"token: {account['token']}")
    _err(TOKEN_WARNING.format(id=account["id"]))


def cmd_accounts_create(args: argparse.Namespace) -> int:
    with _accounts_backend(args) as backend:
        created = backend.create(args.name, args.data_set or [], args.admin)
    if args.json:
        _json(created)
    else:
        _print_account(created, "created")
        _print_token(created)
    return EXIT_OK


def cmd_accounts_list(args: argparse.Namespace) -> int:
    accounts: list[dict[str, Any]] = []
    with _accounts_backend(args) as backend:
        cursor = None
        while True:
            page = backend.list_page(args.page_size, cursor)
            accounts.extend(page.get("results", []))
            cursor = page.get("next_cursor")
            if not cursor:
                break
    if args.json:
        _json({"results": accounts})
    else:
        rows = [
            (
                a["id"],
                a["name"],
                _yes(a.get("is_admin")),
                _yes(a.get("is_active", True)),
                _ids(a.get("data_set_ids")),
                a.get("created_at") or "",
            )
            for a in accounts
        ]
        _table(rows, ("ID", "NAME", "ADMIN", "ACTIVE", "DATA SETS", "CREATED"))
    return EXIT_OK


def _update(args: argparse.Namespace, changes: dict[str, Any], verb: str) -> int:
    with _accounts_backend(args) as backend:
        updated = backend.update(args.id, changes)
    if args.json:
        _json(updated)
    else:
        _print_account(updated, verb)
        if changes.get("is_active") is False:
            _err(CACHE_NOTE)
    return EXIT_OK


def cmd_accounts_update(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.no_data_sets:
        changes["data_set_ids"] = []
    elif args.data_set is not None:
        changes["data_set_ids"] = args.data_set
    if args.active is not None:
        changes["is_active"] = args.active
    if not changes:
        raise UsageError("nothing to update: give --name, --data-set, --no-data-sets, --active or --inactive")
    return _update(args, changes, "updated")


def cmd_accounts_disable(args: argparse.Namespace) -> int:
    return _update(args, {"is_active": False}, "disabled")


def cmd_accounts_reset_token(args: argparse.Namespace) -> int:
    with _accounts_backend(args) as backend:
        account = backend.reset_token(args.id)
    if args.json:
        _json(account)
    else:
        _print_account(account, "new token for")
        _print_token(account)
        _err(CACHE_NOTE)
    return EXIT_OK


# -------------------------------------------------------------------------------------------- the parser


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be 1 or more")
    return value


def _currency(raw: str) -> str:
    if len(raw) != 3 or not raw.isascii() or not raw.isalpha():
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ISO 4217 code such as EUR or USD")
    return raw.upper()


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{raw!r} must be more than 0")
    return value


DIRECT_HELP = """\
--direct works on DynamoDB through the domain layer instead of the admin API: no token is needed, only AWS
access to the accounts table. It is how the very first admin account of a deployed stack is created:

  # the values are the stack's outputs (aws cloudformation describe-stacks --stack-name <stack>
  # --query "Stacks[0].Outputs"); AWS credentials and region as usual (AWS_PROFILE, AWS_REGION, ...)
  export CONVERSATIONS_TABLE=<ConversationsTableName> TASKS_TABLE=<TasksTableName> \\
         DATA_SETS_TABLE=<DataSetsTableName> ACCOUNTS_TABLE=<AccountsTableName> \\
         JOBS_QUEUE_URL=<JobsQueueUrl> INDEX_BUCKET=<IndexBucketName>
  parley accounts create --direct --name admin --admin
  export PARLEY_API_URL=<ApiUrl> PARLEY_API_TOKEN=<the token printed above>

When none of those variables is set, --direct uses the local stack that `make dev` runs (its
.parley-data/local.json, or the file named by PARLEY_LOCAL_STATE), with its emulated AWS endpoint.
Without --direct, every command goes through the admin API (an admin token is needed).
"""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", default=argparse.SUPPRESS, help="API base URL (default: $PARLEY_API_URL, else the local stack)"
    )
    common.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="API token (default: $PARLEY_API_TOKEN, else the local stack's dev token)",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the raw API responses as JSON")
    direct = argparse.ArgumentParser(add_help=False)
    direct.add_argument(
        "--direct",
        action="store_true",
        default=argparse.SUPPRESS,
        help="write DynamoDB directly instead of calling the admin API (see `parley accounts -h`)",
    )
    formatter = argparse.RawDescriptionHelpFormatter

    parser = argparse.ArgumentParser(prog="parley", description=__doc__, formatter_class=formatter)
    parser.add_argument("--url", default=None, help="API base URL (default: $PARLEY_API_URL, else the local stack)")
    parser.add_argument(
        "--token", default=None, help="API token (default: $PARLEY_API_TOKEN, else the local stack's dev token)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser(
        "ask",
        parents=[common, as_json],
        help="ask one question and print the answer",
        description="Ask a question and print the answer and its sources.",
    )
    ask.add_argument("question")
    ask.add_argument("--data-set", type=_positive_int, help="data set to ask (starts a new conversation)")
    ask.add_argument("--conversation", type=_positive_int, help="continue this conversation")
    ask.add_argument("--timeout", type=_positive_float, default=60.0, help="seconds to wait (default 60)")
    ask.add_argument(
        "--no-stream", action="store_true", help="poll for the answer instead of streaming it over the WebSocket API"
    )
    ask.set_defaults(handler=cmd_ask)

    chat = commands.add_parser(
        "chat",
        parents=[common],
        help="an interactive conversation",
        description="Chat in one conversation; end with Ctrl-D, `exit` or `quit`.",
    )
    chat.add_argument("--data-set", type=_positive_int, help="data set to talk about")
    chat.add_argument("--conversation", type=_positive_int, help="continue this conversation")
    chat.add_argument("--timeout", type=_positive_float, default=60.0, help="seconds to wait per answer")
    chat.add_argument(
        "--no-stream", action="store_true", help="poll for each answer instead of streaming it over the WebSocket API"
    )
    chat.set_defaults(handler=cmd_chat)

    accounts = commands.add_parser(
        "accounts",
        parents=[common],
        help="manage service accounts (admin)",
        description="Manage service accounts.",
        epilog=DIRECT_HELP,
        formatter_class=formatter,
    )
    accounts.add_argument(
        "--direct",
        action="store_true",
        default=False,
        help="write DynamoDB directly instead of calling the admin API (see below)",
    )
    account_commands = accounts.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)
    leaf = [common, as_json, direct]

    create = account_commands.add_parser(
        "create",
        parents=leaf,
        help="create an account and print its token once",
        epilog=DIRECT_HELP,
        formatter_class=formatter,
    )
    create.add_argument("--name", required=True)
    create.add_argument(
        "--data-set",
        type=_positive_int,
        nargs="+",
        action="extend",
        metavar="ID",
        help="data set(s) the account may use (repeatable)",
    )
    create.add_argument("--admin", action="store_true", help="an admin account (manages accounts and data sets)")
    create.set_defaults(handler=cmd_accounts_create)

    listing = account_commands.add_parser("list", parents=leaf, help="list every account")
    listing.add_argument("--page-size", type=_positive_int, default=None, help=argparse.SUPPRESS)
    listing.set_defaults(handler=cmd_accounts_list)

    update = account_commands.add_parser("update", parents=leaf, help="change an account's name, data sets or state")
    update.add_argument("id", type=_positive_int)
    update.add_argument("--name")
    data_sets_group = update.add_mutually_exclusive_group()
    data_sets_group.add_argument(
        "--data-set",
        type=_positive_int,
        nargs="+",
        action="extend",
        metavar="ID",
        help="replace the account's data sets with these (repeatable)",
    )
    data_sets_group.add_argument("--no-data-sets", action="store_true", help="remove access to every data set")
    state = update.add_mutually_exclusive_group()
    state.add_argument(
        "--active", dest="active", action="store_const", const=True, default=None, help="enable the account"
    )
    state.add_argument("--inactive", dest="active", action="store_const", const=False, help="disable the account")
    update.set_defaults(handler=cmd_accounts_update)

    reset = account_commands.add_parser(
        "reset-token", parents=leaf, help="replace an account's token and print the new one once"
    )
    reset.add_argument("id", type=_positive_int)
    reset.set_defaults(handler=cmd_accounts_reset_token)

    disable = account_commands.add_parser("disable", parents=leaf, help="disable an account (its token stops working)")
    disable.add_argument("id", type=_positive_int)
    disable.set_defaults(handler=cmd_accounts_disable)

    data_sets = commands.add_parser("data-sets", parents=[common], help="list, create and show data sets")
    data_set_commands = data_sets.add_subparsers(dest="data_sets_command", metavar="ACTION", required=True)
    ds_list = data_set_commands.add_parser("list", parents=[common, as_json], help="the data sets you may use")
    ds_list.set_defaults(handler=cmd_data_sets_list)
    ds_create = data_set_commands.add_parser("create", parents=[common, as_json], help="create a data set (admin)")
    ds_create.add_argument("name")
    ds_create.set_defaults(handler=cmd_data_sets_create)
    ds_show = data_set_commands.add_parser("show", parents=[common, as_json], help="a data set and its counts")
    ds_show.add_argument("id", type=_positive_int)
    ds_show.set_defaults(handler=cmd_data_sets_show)
    ds_settings = data_set_commands.add_parser(
        "settings",
        parents=[common, as_json],
        help="set how a data set's questions are answered (admin; replaces the previous settings)",
    )
    ds_settings.add_argument("id", type=_positive_int)
    ds_settings.add_argument("--provider", choices=["extractive", "bedrock", "openai"], default="extractive")
    ds_settings.add_argument("--model", help="Bedrock model id, or the OpenAI-compatible server's model name")
    ds_settings.add_argument("--system-prompt", dest="system_prompt")
    ds_settings.add_argument("--temperature", type=float)
    ds_settings.add_argument("--max-tokens", dest="max_tokens", type=int)
    ds_settings.add_argument(
        "--max-steps", dest="max_steps", type=int, help="model calls per answer, 1 to 20 (default 6)"
    )
    ds_settings.add_argument(
        "--base-url", dest="base_url", help="OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1"
    )
    ds_settings.add_argument(
        "--api-key-secret",
        dest="api_key_secret",
        help="secret holding the key: a Secrets Manager name parley/... (locally an env variable)",
    )
    ds_settings.set_defaults(handler=cmd_data_sets_settings)

    load = commands.add_parser(
        "load",
        parents=[common],
        help="load products or documents from a .jsonl or .csv file (admin)",
        formatter_class=formatter,
        description="Load products or documents into a data set. Every row is validated before anything is sent.",
        epilog="""\
.jsonl files hold one JSON object per line, as the API takes it:
  products:  {"sku", "name", "description", "price", "categories": [...], "properties": {...}, ...}
  documents: {"title", "content", "url"}
.csv files have a header row:
  products:  sku,name,description,price,categories (separated by |); every other column is a property
  documents: title,content,url
Products also load from WooCommerce and Shopify product CSV exports as the shop writes them: the format is
detected from the header (or given with --format). docs/imports.md has the column mappings.
Products are matched by sku and documents by url (else title): loading again updates them.""",
    )
    load_commands = load.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind in ("products", "documents"):
        sub = load_commands.add_parser(kind, parents=[common, as_json], help=f"load {kind}")
        sub.add_argument("file", help=".jsonl or .csv file")
        sub.add_argument("--data-set", type=_positive_int, required=True)
        sub.add_argument("--no-wait", action="store_true", help="print the task ids instead of waiting")
        sub.add_argument(
            "--chunk-size", type=_positive_int, default=None, help=f"{kind} per request (default {DEFAULT_CHUNK[kind]})"
        )
        sub.add_argument(
            "--timeout", type=_positive_float, default=300.0, help="seconds to wait for each chunk (default 300)"
        )
        if kind == "products":
            sub.add_argument(
                "--format",
                choices=imports.FORMATS,
                default="auto",
                help="the file's format (default auto: JSON Lines by the .jsonl suffix, else the "
                "CSV flavour its header shows)",
            )
            sub.add_argument(
                "--currency",
                type=_currency,
                default=None,
                help="ISO 4217 code (EUR, USD, ...) for products whose file names no currency",
            )
        sub.set_defaults(handler=cmd_load)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except UsageError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except ParleyError as exc:
        if exc.status is None:
            _err(f"error: {format_detail(exc.detail)}")
        else:
            _err(f"error: {exc.status} {format_detail(exc.detail)}")
        return EXIT_API
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
