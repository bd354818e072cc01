"""`make dev`: the API on http://127.0.0.1:3000 over an embedded AWS emulation, sample data loaded."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading

from parley_local import stack as local_stack
from parley_local.server import make_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley-dev", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--pump-threads", type=int, default=2, help="parallel queue pollers (default 2)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("PARLEY_DEV_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", os.environ.get("PARLEY_DEV_LOG_LEVEL", "WARNING"))
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    try:
        server = make_server(args.host, args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"port {args.port} on {args.host} is already in use; stop the other server or set PORT=...",
                  file=sys.stderr)
            return 2
        raise

    emulation, endpoint = local_stack.start_emulation()
    local_stack.use_emulated_aws(endpoint)
    local = local_stack.build(endpoint, pump_threads=args.pump_threads)
    local._servers.append(emulation)
    account = local_stack.seed(os.environ.get("PARLEY_DEV_TOKEN") or None)
    token = account["token"]
    api_url = f"http://{args.host}:{args.port}"
    local_stack.write_local_env(local, api_url, token)
    server.gateway = local.gateway

    stopping = threading.Event()

    def shutdown(*_: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    print(f"parley is serving {api_url} (AWS emulated at {endpoint})", flush=True)
    print(f"sample data set: 1 (FiberUP); dev account {account['id']} (admin)", flush=True)
    print(f"dev token: {token}", flush=True)
    print(f'try: curl -s -X POST {api_url}/api/conversations -H "Authorization: Token {token}" '
          f'-H "Content-Type: application/json" -d \'{{"data_set_id": 1}}\'', flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        local.stop()
        print("parley stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
