"""JSON encoding with errors that name the argument that does not serialize."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from workhorse.errors import ArgumentNotSerializable

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))

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
                f"{name} of {where} does not serialize to JSON ({error}); "
                "pass JSON values: str, int, float, bool, None, and lists and dicts of them"
            ) from None


def dumps_result(value: Any, task: str) -> str:
    """A task's return value as JSON text."""
    try:
        return dumps(value)
    except (TypeError, ValueError) as error:
        raise ArgumentNotSerializable(
            f"the result of task {task!r} does not serialize to JSON ({error}); "
            "return JSON values: str, int, float, bool, None, and lists and dicts of them"
        ) from None
