"""Checks a tool call's arguments against the tool's JSON Schema, before the tool runs.

Covers the part of JSON Schema that tool schemas use: `type` (one or a list), `properties`, `required`,
`additionalProperties: false`, `enum`, `minimum`/`maximum`, `minLength`/`maxLength`, `items`,
`minItems`/`maxItems`. Keywords it does not know are ignored (they only narrow what a model may send, and
the tool checks its own arguments again). The problem is returned as a sentence a model can act on.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


def _is(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False  # JSON true is not a number, though Python's bool is an int
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def problem(schema: dict[str, Any], value: Any, where: str = "arguments") -> str | None:
    """The first way `value` breaks `schema`, or None when it conforms."""
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_is(value, name) for name in names):
            return f"{where} must be of type {' or '.join(names)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} must be one of {', '.join(map(repr, schema['enum']))}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where} must be at least {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where} must be at most {schema['maximum']}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{where} must have at least {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{where} must have at most {schema['maxLength']} characters"
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return f"{where} must have at least {schema['minItems']} items"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{where} must have at most {schema['maxItems']} items"
        if isinstance(schema.get("items"), dict):
            for position, item in enumerate(value):
                found = problem(schema["items"], item, f"{where}[{position}]")
                if found:
                    return found
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                return f"{where} lacks the required property {name!r}"
        for name, item in value.items():
            if name in properties:
                found = problem(properties[name], item, f"{where}.{name}" if where != "arguments" else name)
                if found:
                    return found
            elif schema.get("additionalProperties") is False:
                return f"{where} has an unknown property {name!r}; allowed: {', '.join(properties) or 'none'}"
    return None
