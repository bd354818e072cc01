"""The whole stack in one process on moto, reached through the API Gateway and SQS event adapters: what the
tests' `cloud` fixture and the answer-accuracy harness (`bench/agent_eval.py`) share."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from parley_local.runtime import Gateway, HttpResponse


@contextmanager
def emulated_cloud(gateway: Gateway) -> Iterator[Any]:
    """A fresh emulated AWS account with every table, queue and bucket of the template; yields the local
    stack, whose queue pump invokes the worker through `gateway`'s function pool (no background thread)."""
    from moto import mock_aws

    from parley import aws, config
    from parley.logic import knowledge_cache
    from parley_local import stack as local_stack
    from parley_local.emulation import strict_fifo

    strict_fifo()  # moto's FIFO queues as the emulation process of `make dev` has them
    with mock_aws():
        local_stack.use_emulated_aws(None)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        local = local_stack.build(None, start_pump=False)
        local.gateway = gateway
        local.pump.pool = gateway.pools[local.pump.consumer]
        gateway.clear_authorizer_cache()
        knowledge_cache.clear()
        try:
            yield local
        finally:
            aws.reset_clients()
            config.reset()
            knowledge_cache.clear()
            gateway.clear_authorizer_cache()


def drain(local: Any, max_batches: int = 50) -> int:
    """Run the worker over everything queued (as the SQS event source would), until the queue is empty."""
    handled = 0
    for _ in range(max_batches):
        count = local.pump.drain_once(0)
        if not count:
            break
        handled += count
    return handled


class Api:
    """Calls the API the way a client does, through the gateway adapter (authorizer included)."""

    def __init__(self, gateway: Gateway, token: str | None):
        self.gateway = gateway
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "default",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> HttpResponse:
        sent = {"content-type": "application/json"}
        token = self.token if token == "default" else token
        if token is not None:
            sent["authorization"] = f"Token {token}"
        sent.update(headers or {})
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        return self.gateway.handle(method, path, list(sent.items()), data)

    def get(self, path: str, **kw: Any) -> HttpResponse:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> HttpResponse:
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> HttpResponse:
        return self.call("PATCH", path, body, **kw)
