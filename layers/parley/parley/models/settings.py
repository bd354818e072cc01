"""A data set's answer settings: which provider answers, with which model, and where it may connect."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, StrictFloat, StrictInt, StrictStr, ValidationInfo, field_validator

from parley import egress
from parley.models.base import Body

_MODEL_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$"
_SECRET_NAME = r"^[A-Za-z0-9/_+=.@-]+$"
_NEEDS = {"model": ("bedrock", "openai"), "base_url": ("openai",), "api_key_secret": ("openai",)}


class AnswerSettings(Body):
    """How a data set's questions are answered. The whole object is replaced on each update.

    `provider` comes first so that the checks of the later fields can see it: a setting the provider
    needs is a 422 naming that field now, rather than a failed answer later.
    """

    provider: Literal["extractive", "bedrock", "openai"] = "extractive"
    model: Annotated[
        Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=_MODEL_ID)] | None,
        Field(validate_default=True),
    ] = None
    system_prompt: Annotated[StrictStr, Field(max_length=8_000)] | None = None
    temperature: Annotated[StrictFloat, Field(ge=0, le=2)] | None = None  # a JSON 1 is accepted as 1.0
    max_tokens: Annotated[StrictInt, Field(ge=1, le=8192)] | None = None
    max_steps: Annotated[StrictInt, Field(ge=1, le=20)] | None = None  # model calls per answer (default 6)
    base_url: Annotated[
        Annotated[StrictStr, Field(min_length=1, max_length=2_000)] | None, Field(validate_default=True)
    ] = None
    api_key_secret: Annotated[
        Annotated[StrictStr, Field(min_length=1, max_length=256, pattern=_SECRET_NAME)] | None,
        Field(validate_default=True),
    ] = None

    @field_validator("model", "base_url", "api_key_secret")
    @classmethod
    def _required_by_provider(cls, value: str | None, info: ValidationInfo) -> str | None:
        provider = info.data.get("provider")  # absent when the provider itself was invalid
        if value is None and provider in _NEEDS.get(info.field_name or "", ()):
            raise ValueError(f"is required when provider is {provider}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        # credentials or query strings in the URL would be stored and shown; keys belong in the secret
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must not contain credentials, a query or a fragment")
        egress.check_setting(value.strip())  # https, and no link-local or private address (parley/egress.py)
        return value.strip().rstrip("/")

    @field_validator("api_key_secret")
    @classmethod
    def _secret_in_scope(cls, value: str | None) -> str | None:
        # On AWS the worker may read only this stack's secrets (see template.yaml); locally
        # (PARLEY_SECRETS_BACKEND=env) the name is an environment variable instead.
        from parley.config import settings

        if value is not None and settings().secrets_backend == "aws":
            egress.check_secret_name(value)
        return value
