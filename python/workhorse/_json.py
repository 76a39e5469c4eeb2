"""JSON encoding with errors that name the argument that does not serialize.

Plain JSON values go through the standard library's C encoder; anything else (Pydantic
models, dataclasses, `datetime`, `UUID`, `Decimal`, enums, sets, `bytes`, ...) is turned
into JSON values by pydantic-core, as FastAPI encodes a response (see `workhorse._values`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic_core import to_jsonable_python

from workhorse.errors import ArgumentNotSerializable

_VALUES = (
    "pass JSON values, Pydantic models, dataclasses, datetime, date, time, timedelta, "
    "UUID, Decimal, enums, bytes, or lists, tuples, sets and dicts of them"
)


def jsonable(value: Any) -> Any:
    """`value` as plain JSON values: the encoder's hook for what it does not know
    (`bytes` become URL-safe base64). Raises `TypeError` for what cannot be encoded."""
    try:
        return to_jsonable_python(value, bytes_mode="base64")
    except Exception as error:  # noqa: BLE001 - pydantic-core raises several kinds
        raise TypeError(
            f"Object of type {type(value).__qualname__} is not JSON serializable ({error})"
        ) from None


_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=jsonable
)

dumps = _encoder.encode
"""Compact, strict JSON (no NaN or infinity: they are not JSON)."""

_decoder = json.JSONDecoder()


def loads(text: str) -> Any:
    """Parses JSON text (strictly: the whole text must be one JSON value)."""
    return _decoder.decode(text)


def check_serializable(values: Iterable[tuple[str, Any]], where: str) -> None:
    """Raises `ArgumentNotSerializable` naming the first of `values` (name, value) that
    does not encode to JSON."""
    for name, value in values:
        try:
            dumps(value)
        except (TypeError, ValueError) as error:
            raise ArgumentNotSerializable(
                f"{name} of {where} does not serialize to JSON ({error}); {_VALUES}"
            ) from None


def dumps_result(value: Any, task: str) -> str:
    """A task's return value as JSON text."""
    try:
        return dumps(value)
    except (TypeError, ValueError) as error:
        raise ArgumentNotSerializable(
            f"the result of task {task!r} does not serialize to JSON ({error}); "
            + _VALUES.replace("pass", "return", 1)
        ) from None
