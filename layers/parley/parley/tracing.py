"""X-Ray tracing with Powertools' Tracer, only when the stack enables it (the EnableTracing parameter).

With tracing off (the default, and locally) nothing of the X-Ray SDK is imported: a handler pays no cold
start for it. With it on, each handler invocation is a traced subsegment (cold start and service
annotated, exceptions recorded), and the Tracer patches botocore, so every DynamoDB, SQS, S3, Secrets
Manager and Bedrock call of the DAL and the providers is a subsegment of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

_tracer: Tracer | None = None


def enabled() -> bool:
    """On only when the template says so (POWERTOOLS_TRACE_DISABLED=false); Powertools' own default is on."""
    return (os.environ.get("POWERTOOLS_TRACE_DISABLED") or "true").strip().lower() in ("false", "0")


def tracer() -> Tracer:
    global _tracer
    if _tracer is None:
        from aws_lambda_powertools import Tracer  # loads aws_xray_sdk and patches boto3/botocore

        # httpx (the OpenAI-compatible provider) ships only in the worker's answer layer: patched where present
        modules = ["boto3", "botocore"]
        try:
            import httpx  # noqa: F401
        except ImportError:
            pass
        else:
            modules.append("httpx")
        _tracer = Tracer(patch_modules=modules)
    return _tracer


def handler(function: Callable[..., Any]) -> Callable[..., Any]:
    """Trace a Lambda handler when tracing is on; otherwise the handler itself, untouched."""
    if not enabled():
        return function
    return tracer().capture_lambda_handler(function, capture_response=False)  # responses may hold user data
