"""The body of creating a data set (its answer settings are in parley.models.settings)."""

from __future__ import annotations

from pydantic import field_validator

from parley.models.base import Body, Name, not_blank


class CreateDataSetRequest(Body):
    name: Name

    _check_blank = field_validator("name")(not_blank)
