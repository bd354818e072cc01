"""`make dev`: the API on http://127.0.0.1:3000, sample data loaded.

DynamoDB runs on DynamoDB Local with its data kept under --data-dir (default .parley-data/local), so
conversations, accounts and data sets survive a restart; SQS and S3 run on moto server, in memory (on start,
missing index snapshots are rebuilt from the table and unfinished tasks are queued again).
--in-memory starts clean on DynamoDB Local; --moto runs everything on moto (no Java, nothing kept).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley_local import stack as local_stack, websocket
from parley_local.dynamodb_local import DynamoDBLocal, DynamoDBLocalUnavailable
from parley_local.runtime import DEFAULT_CONCURRENCY, DEFAULT_IDLE_SECONDS
from parley_local.server import make_server

DEFAULT_DATA_DIR = local_stack.STATE_DIR / "local"


class _StartFailed(Exception):
    """Start-up stopped for a reason the user can fix; the message says which, `exit_code` is the process's."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class _Started:
    """The running stack, and what start-up found, for the banner."""

    local: local_stack.LocalStack
    api_url: str
    emulation_url: str
    dynamodb: DynamoDBLocal | None
    data_kept_in: Path | None  # where DynamoDB Local keeps its data; None when in memory
    account: dict[str, Any]
    streaming: websocket.WebSocketApi
    rebuilt: list[int]
    requeued: dict[str, int]


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    _configure_logging()
    try:
        server = _bind_api_server(args.host, args.port)
        started = _start_stack(args, server)
    except _StartFailed as failure:
        print(failure, file=sys.stderr)
        return failure.exit_code
    _stop_on_signals(server)
    _print_banner(args, started)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        started.local.stop()
        print("parley stopped", flush=True)
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="parley-dev", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--ws-port",
        type=int,
        default=int(os.environ.get("WS_PORT", "0")),
        help="port of the WebSocket (streaming) API (default: a free one)",
    )
    parser.add_argument("--pump-threads", type=int, default=2, help="parallel queue pollers (default 2)")
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument(
        "--in-memory", action="store_true", help="DynamoDB Local without files: start clean, keep nothing"
    )
    backend.add_argument(
        "--moto", action="store_true", help="emulate DynamoDB with moto too (no Java; fast; keeps nothing)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("PARLEY_DATA_DIR") or DEFAULT_DATA_DIR),
        help=f"where DynamoDB Local keeps its data and the generated dev token "
        f"(default {DEFAULT_DATA_DIR.relative_to(local_stack.ROOT)})",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every function in this one process (threads), to debug with a debugger; "
        "by default each function runs in environment processes of its own, as on Lambda",
    )
    parser.add_argument(
        "--default-concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"environments per function where template.yaml sets no ReservedConcurrentExecutions "
        f"(default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=DEFAULT_IDLE_SECONDS,
        help=f"stop an environment process idle this long (default {DEFAULT_IDLE_SECONDS:g})",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="do not run the queue consumer: questions stay PENDING (for debugging and tests)",
    )
    return parser.parse_args(argv)


def _configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("PARLEY_DEV_LOG_LEVEL", "WARNING"), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", os.environ.get("PARLEY_DEV_LOG_LEVEL", "WARNING"))
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    # Locally an OpenAI-compatible provider's key comes from the environment variable its settings name.
    os.environ.setdefault("PARLEY_SECRETS_BACKEND", "env")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("local-lambda").setLevel(logging.INFO)  # cold starts, as Lambda logs them
    # Many handler threads share one boto3 client here (one invocation per process on Lambda); a connection
    # beyond the client's pool of 10 is simply closed after use, which urllib3 reports as a warning.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


def _bind_api_server(host: str, port: int) -> Any:
    try:
        return make_server(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise _StartFailed(
                f"port {port} on {host} is already in use; stop the other server or set PORT=...", 2
            ) from exc
        raise


def _start_stack(args: argparse.Namespace, server: Any) -> _Started:
    """Start the emulation and DynamoDB, build the stack and seed it; on failure nothing is left running."""
    persistent = not (args.in_memory or args.moto)
    data_dir = args.data_dir.resolve()
    # moto in a process of its own, started before any thread exists (as is DynamoDB Local below)
    log_dir = data_dir if persistent else local_stack.STATE_DIR
    log_dir.mkdir(parents=True, exist_ok=True)
    emulation = local_stack.spawn_emulation(log_dir / "emulation.log")
    try:
        dynamodb = None if args.moto else _spawn_dynamodb_local(data_dir, persistent)
    except _StartFailed:
        server.server_close()
        emulation.stop()
        raise
    _wait_until_ready(server, emulation, dynamodb)
    local_stack.use_emulated_aws(emulation.endpoint_url, dynamodb.endpoint_url if dynamodb else None)
    local = local_stack.build(
        emulation.endpoint_url,
        pump_threads=args.pump_threads,
        start_pump=False,
        in_process=args.in_process,
        default_concurrency=args.default_concurrency,
        idle_seconds=args.idle_seconds,
    )
    local._servers.append(emulation)
    if dynamodb:
        local._servers.append(dynamodb)
    try:
        account = _seed_dev_account(data_dir, persistent)
        rebuilt = local_stack.republish_missing_indexes()
        requeued = local_stack.requeue_unfinished_tasks()
        streaming = websocket.attach(local, args.host, args.ws_port)
    except BaseException:  # Ctrl-C during start-up too: never leave a child behind
        server.server_close()
        local.stop()
        raise
    if not args.no_worker:
        local.pump.start()
    api_url = f"http://{args.host}:{args.port}"
    local_stack.write_local_env(local, api_url, account["token"], streaming.url)
    server.gateway = local.gateway
    data_kept_in = data_dir if persistent else None
    return _Started(
        local, api_url, emulation.endpoint_url, dynamodb, data_kept_in, account, streaming, rebuilt, requeued
    )


def _spawn_dynamodb_local(data_dir: Path, persistent: bool) -> DynamoDBLocal:
    if persistent:
        data_dir.mkdir(parents=True, exist_ok=True)
        if not local_stack.lock_data_dir(data_dir):
            raise _StartFailed(f"{data_dir} is in use by another running stack; stop it or pass another --data-dir", 2)
    dynamodb = DynamoDBLocal(
        local_stack.free_port(),
        data_dir / "dynamodb" if persistent else None,
        log_path=(data_dir if persistent else local_stack.STATE_DIR) / "dynamodb-local.log",
    )
    try:
        dynamodb.log_path.parent.mkdir(parents=True, exist_ok=True)
        dynamodb.spawn()  # before any thread exists: the child is forked from a single-threaded process
    except DynamoDBLocalUnavailable as exc:
        raise _StartFailed(f"cannot start DynamoDB Local: {exc}", 3) from exc
    return dynamodb


def _wait_until_ready(server: Any, emulation: Any, dynamodb: DynamoDBLocal | None) -> None:
    """Wait for the emulation, then DynamoDB Local (the JVM starts meanwhile); on failure stop them all."""
    try:
        emulation.wait_ready()
        if dynamodb:
            dynamodb.wait_ready()
    except BaseException as exc:
        server.server_close()
        emulation.stop()
        if dynamodb:
            dynamodb.stop()
        if isinstance(exc, DynamoDBLocalUnavailable):
            raise _StartFailed(f"cannot start DynamoDB Local: {exc}", 3) from exc
        raise


def _seed_dev_account(data_dir: Path, persistent: bool) -> dict[str, Any]:
    """The dev account, with PARLEY_DEV_TOKEN or the token kept from the last run (a new one is kept)."""
    dev_token = os.environ.get("PARLEY_DEV_TOKEN") or (local_stack.stored_dev_token(data_dir) if persistent else None)
    account = local_stack.seed(dev_token)
    if persistent and not os.environ.get("PARLEY_DEV_TOKEN"):
        local_stack.store_dev_token(data_dir, account["token"])
    return account


def _stop_on_signals(server: Any) -> None:
    """SIGTERM and Ctrl-C stop serving (once); `main` then stops the stack."""
    stopping = threading.Event()

    def shutdown(*_: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)


def _print_banner(args: argparse.Namespace, started: _Started) -> None:
    api_url, token = started.api_url, started.account["token"]
    print(f"parley is serving {api_url} (SQS and S3 on moto at {started.emulation_url})", flush=True)
    streaming = started.streaming
    print(f"streaming: {streaming.url} (WebSocket API; @connections at {streaming.management_url})", flush=True)
    print(f"DynamoDB: {_dynamodb_description(started)}", flush=True)
    if started.rebuilt:
        print(f"rebuilt the search index of data sets {', '.join(map(str, started.rebuilt))}", flush=True)
    requeued = started.requeued
    if requeued["requeued"] or requeued["failed"]:
        print(
            f"queued again {requeued['requeued']} unfinished task(s) from the previous run"
            + (
                f"; {requeued['failed']} load(s) lost their payload and were marked FAILURE"
                if requeued["failed"]
                else ""
            ),
            flush=True,
        )
    print(f"functions: {_functions_description(args)}", flush=True)
    if args.no_worker:
        print("worker: off (--no-worker): tasks stay PENDING", flush=True)
    print(f"sample data set: 1 (FiberUP); dev account {started.account['id']} (admin)", flush=True)
    print(f"dev token: {token}", flush=True)
    print(
        f'try: curl -s -X POST {api_url}/api/conversations -H "Authorization: Token {token}" '
        f'-H "Content-Type: application/json" -d \'{{"data_set_id": 1}}\'',
        flush=True,
    )


def _dynamodb_description(started: _Started) -> str:
    if started.dynamodb is None:
        return "moto, in memory (nothing is kept)"
    if started.data_kept_in is not None:
        return f"DynamoDB Local at {started.dynamodb.endpoint_url}, data kept in {started.data_kept_in}"
    return f"DynamoDB Local at {started.dynamodb.endpoint_url}, in memory (nothing is kept)"


def _functions_description(args: argparse.Namespace) -> str:
    if args.in_process:
        return "in this process (--in-process), one HTTP invocation at a time"
    return (
        f"in environment processes started on demand (up to {args.default_concurrency} per "
        f"function unless template.yaml reserves otherwise), stopped after {args.idle_seconds:g} s idle"
    )


if __name__ == "__main__":
    sys.exit(main())
