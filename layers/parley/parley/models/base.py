"""What every request body shares: strict types, unknown fields ignored, at most 50 errors listed."""

from __future__ import annotations

from itertools import islice
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from parley.ids import MAX_SAFE_INTEGER

Id = Annotated[StrictInt, Field(ge=1, le=MAX_SAFE_INTEGER)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]


MAX_ERRORS_SHOWN = 50


def _error_detail(error: ErrorDetails) -> InitErrorDetails:
    detail = InitErrorDetails(type=error["type"], loc=error["loc"], input=error.get("input"))
    if "ctx" in error:
        detail["ctx"] = error["ctx"]
    return detail


class Body(BaseModel):
    # defer_build: a handler builds the validators of the models it uses, on first use, not all of them at import
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False, defer_build=True)

    @model_validator(mode="wrap")
    @classmethod
    def _at_most_50_errors(cls, data: Any, handler: Any) -> Any:
        """A 1 MB body can hold 400,000 invalid values, each a field error: listing them took the API seconds
        per thousand (past Lambda's timeout) and made a 50 MB response. Keep the first 50 and a count."""
        try:
            return handler(data)
        except ValidationError as exc:
            if exc.error_count() <= MAX_ERRORS_SHOWN:
                raise
            errors = exc.errors(include_url=False)
            # a nested model may have cut its own list already: its last entry counts what it left out
            count = sum(e["ctx"]["count"] if e["type"] == "too_many_errors" else 1 for e in errors)
            shown = [
                _error_detail(e)
                for e in islice((e for e in errors if e["type"] != "too_many_errors"), MAX_ERRORS_SHOWN)
            ]
            more = PydanticCustomError(
                "too_many_errors", "{count} more errors not shown", {"count": count - len(shown)}
            )
            raise ValidationError.from_exception_data(
                exc.title, [*shown, InitErrorDetails(type=more, loc=(), input=None)]
            ) from None


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value
