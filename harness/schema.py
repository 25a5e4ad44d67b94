"""Structural checks of JSON the harness reads back from disk (result records, artifact manifests).

A schema is a table ``{field: Field(kind, required)}``; :func:`defect` returns the first field
that is missing or of the wrong kind, in words a user can act on ("'ipc' is a string, not a whole
number >= 1"), or None. The tables are data, so tests can generate every defect from them (drop
each required field, give each field a value of another kind) instead of listing cases by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Kind:
    """What a value must be: ``name`` says it in words, ``test`` checks it; ``fields`` is the
    schema of a nested object (checked after ``test``)."""

    name: str
    test: Callable[[object], bool]
    fields: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Field:
    kind: Kind
    required: bool = True


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


TEXT = Kind("a string", lambda v: isinstance(v, str))
NAME = Kind("a non-empty string", lambda v: isinstance(v, str) and v.strip() != "")
WHOLE = Kind("a whole number", _whole)
COUNT = Kind("a whole number >= 1", lambda v: _whole(v) and v >= 1)
SIZE = Kind("a whole number >= 0", lambda v: _whole(v) and v >= 0)
NUMBER = Kind("a number", _number)
FACTOR = Kind("a number >= 1", lambda v: _number(v) and v >= 1)
POSITIVE = Kind("a finite number > 0", lambda v: _number(v) and math.isfinite(v) and v > 0)
FLAG = Kind("true or false", lambda v: isinstance(v, bool))
OBJECT = Kind("a JSON object", lambda v: isinstance(v, dict))


def optional(kind: Kind) -> Kind:
    """``kind`` or null."""
    return Kind(f"{kind.name} or null", lambda v: v is None or kind.test(v), kind.fields)


def list_of(kind: Kind, name: str, length: int | None = None) -> Kind:
    """A JSON list of ``kind`` (of ``length`` items when given), called ``name`` in messages."""
    return Kind(name, lambda v: isinstance(v, list) and all(kind.test(x) for x in v)
                and (length is None or len(v) == length))


def nested(fields: dict[str, Field]) -> Kind:
    """A JSON object whose own fields follow ``fields``."""
    return Kind("a JSON object", lambda v: isinstance(v, dict), fields)


def describe(value) -> str:
    """A value's JSON kind in words (what a user would see in the file)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}" if value else "an empty string"
    if isinstance(value, list):
        return "a JSON list"
    if isinstance(value, dict):
        return "an empty JSON object" if not value else "a JSON object"
    return type(value).__name__


def defect(value, fields: dict[str, Field], what: str = "it", prefix: str = "") -> str | None:
    """The first structural defect of ``value`` (called ``what``) against the schema ``fields``,
    or None; nested fields are named ``outer.inner``."""
    if not isinstance(value, dict) or (not value and any(f.required for f in fields.values())):
        required = [name for name, spec in fields.items() if spec.required]
        return f"{what} is {describe(value)}, not a JSON object with {', '.join(required) or 'fields'}"
    for name, spec in fields.items():
        label = f"{prefix}{name}"
        if name not in value:
            if spec.required:
                return f"'{label}' is missing"
            continue
        if not spec.kind.test(value[name]):
            return f"'{label}' is {describe(value[name])}, not {spec.kind.name}"
        if spec.kind.fields:
            inner = defect(value[name], spec.kind.fields, f"'{label}'", f"{label}.")
            if inner:
                return inner
    return None
