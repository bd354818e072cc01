"""Bodies of the service-account routes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, field_validator

from parley.models.base import Body, Id, Name, not_blank


class CreateServiceAccountRequest(Body):
    name: Name
    data_set_ids: Annotated[list[Id], Field(max_length=100)] = []
    is_admin: StrictBool = False

    _check_blank = field_validator("name")(not_blank)


class UpdateServiceAccountRequest(Body):
    name: Name | None = None
    data_set_ids: Annotated[list[Id], Field(max_length=100)] | None = None
    is_active: StrictBool | None = None

    _check_blank = field_validator("name")(lambda v: v if v is None else not_blank(v))
