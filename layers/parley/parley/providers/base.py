"""What both providers share: the error a provider call ends in, and retrying within a hard deadline.

Deadlines are `time.monotonic()` seconds, and hard: each attempt runs in a thread of its own and the caller
stops waiting at the deadline (a client's read timeout applies per chunk, so a server that trickles its
reply would otherwise hold the answer far past it). A call is retried on throttling, 5xx and timeouts with
exponential backoff and full jitter (a server's Retry-After is the least wait), but only while another
attempt still fits before the deadline; then the last error is final and the worker turns it into the
task's FAILURE.
"""

from __future__ import annotations

import contextvars
import random
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from parley.log import logger

T = TypeVar("T")

THROTTLED, TIMEOUT, ERROR = "provider_throttled", "provider_timeout", "provider_error"

_MESSAGES = {
    THROTTLED: "The language model is receiving too many requests right now; please ask again in a moment.",
    TIMEOUT: "The language model did not answer in time; please ask again.",
    ERROR: "The language model could not answer this question.",
}


class ProviderError(Exception):
    """A failed provider call. `message` is shown to the client, so it never holds keys or raw responses."""

    def __init__(self, code: str, reason: str = "", *, retryable: bool = False, retry_after: float | None = None):
        self.code = code
        self.reason = reason  # short, safe detail (an HTTP status, an AWS error code)
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said so
        self.message = _MESSAGES[code] + (f" ({reason})" if reason and code == ERROR else "")
        super().__init__(f"{code}: {reason}" if reason else code)


MIN_ATTEMPT_SECONDS = 1.0  # no retry starts with less time than this left
BASE_DELAY_SECONDS = 0.25
MAX_DELAY_SECONDS = 8.0


def within(seconds: float, work: Callable[[], T]) -> T:
    """`work()`'s result, or a final TIMEOUT once `seconds` have passed (the abandoned attempt ends by its own
    read timeout; what it returns then is dropped)."""
    value: list[T] = []
    error: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            value.append(work())
        except BaseException as exc:  # handed to the caller's thread, whatever it is
            error.append(exc)
        finally:
            done.set()

    # the call runs in the invocation's context (its logging keys; the tests' IAM check attributes it)
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(run,), name="provider-call", daemon=True).start()
    if not done.wait(seconds):
        raise ProviderError(TIMEOUT, "the answer's time ran out", retryable=True)
    if error:
        raise error[0]
    return value[0]


def call_with_retries(
    attempt: Callable[[float], T],
    deadline: float,
    *,
    what: dict[str, str | None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Run `attempt(seconds_left)` until it returns, fails for good, or no further attempt fits the deadline.

    `what` (provider, host, model) is logged with each retry; it must not contain secrets.
    """
    retries = 0
    while True:
        try:
            seconds_left = max(deadline - clock(), 0.1)
            return within(seconds_left, partial(attempt, seconds_left))
        except ProviderError as exc:
            if not exc.retryable:
                raise
            retries += 1
            delay = jitter() * min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2**retries)
            if exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            if clock() + delay + MIN_ATTEMPT_SECONDS > deadline:
                logger.warning(
                    "provider call failed, no time left to retry",
                    extra={**what, "code": exc.code, "reason": exc.reason, "retries": retries - 1},
                )
                raise
            logger.info(
                "provider call failed, retrying",
                extra={**what, "code": exc.code, "reason": exc.reason, "delay": round(delay, 2)},
            )
            sleep(delay)
