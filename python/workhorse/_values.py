"""Values: what tasks take and return.

Arguments and results travel as JSON. At enqueue, whatever is not plain JSON is encoded the
way FastAPI encodes a response (pydantic-core's `to_jsonable_python`): Pydantic models and
dataclasses as objects, `datetime`/`date`/`time` as ISO 8601, `timedelta` as an ISO 8601
duration, `UUID` and `Decimal` as strings, enums as their values, sets and tuples as arrays,
`bytes` as URL-safe base64. On the worker each argument is validated into the type its
parameter is annotated with, and `job.result()` validates the result into the task's return
annotation, so a task receives the `Order` it was given and its caller gets the `Receipt`
it returned.

A task's annotations are checked when it is decorated: one that Pydantic cannot validate
is refused then, naming the parameter, not after the job ran.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workhorse import _json
from workhorse.errors import ArgumentInvalid

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = ["TaskTypes", "ValueDecoder"]

_NO_TYPE: tuple[Any, ...] = (inspect.Parameter.empty, Any, object)
"""Annotations that ask for no validation: the value is passed on as JSON gave it."""

_PLAIN: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (float, int),
    bool: (bool,),
}
"""Types JSON gives as they are, checked without Pydantic: a worker whose tasks take only
these never imports it (a process child starts faster). `True` is no `int` here, as in JSON."""


@dataclass(frozen=True)
class ValueDecoder:
    """Validates a JSON-decoded value into one annotated type."""

    annotation: Any
    adapter: TypeAdapter[Any] | None
    """Pydantic's validator; `None` for a plain JSON type (checked with `isinstance`)."""
    json_mode: bool
    """Validate from JSON text: needed where `bytes` appear outside a model (base64 is
    decoded only in JSON mode)."""

    @classmethod
    def of(cls, annotation: Any) -> ValueDecoder | None:
        """The decoder of `annotation`, `None` when it asks for none. Raises
        `PydanticSchemaGenerationError` for a type Pydantic cannot validate."""
        if annotation in _NO_TYPE or annotation is None or annotation is type(None):
            return None
        if annotation in _PLAIN:
            return cls(annotation, None, json_mode=False)
        from pydantic import (
            ConfigDict,
            PydanticSchemaGenerationError,
            PydanticUserError,
            TypeAdapter,
        )

        config = ConfigDict(val_json_bytes="base64")
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(annotation, config=config)
        except PydanticSchemaGenerationError:
            raise
        except PydanticUserError:  # a model, dataclass or TypedDict: its config rules
            adapter = TypeAdapter(annotation)
        return cls(annotation, adapter, _mentions_bytes(annotation))

    def decode(self, value: Any) -> Any:
        """`value` as the annotated type. Raises `ValueError` (Pydantic's
        `ValidationError` is one) saying why it does not fit."""
        if self.adapter is None:
            fits = isinstance(value, _PLAIN[self.annotation])
            if fits and (self.annotation is bool or not isinstance(value, bool)):
                return value
            raise ValueError(
                f"expected {self.annotation.__name__}, got {_json.dumps(value)}"
            )
        if self.json_mode:
            return self.adapter.validate_json(_json.dumps(value))
        return self.adapter.validate_python(value)


def _mentions_bytes(annotation: Any) -> bool:
    """Whether `bytes` appears in `annotation` outside a model (`bytes`, `list[bytes]`,
    `bytes | None`, ...)."""
    if annotation in (bytes, bytearray):
        return True
    return any(_mentions_bytes(arg) for arg in typing.get_args(annotation))


_Decoders = tuple[dict[str, ValueDecoder], ValueDecoder | None]
"""A task's decoders: by parameter name (only parameters that ask for one), and its result's."""


class TaskTypes:
    """A task's parameter and return types, as decoders.

    Built when the task is decorated; annotations that name a class defined later (a
    forward reference not yet resolvable) are resolved at first use instead.
    """

    def __init__(
        self, fn: Callable[..., Any], signature: inspect.Signature, task: str
    ) -> None:
        self._fn = fn
        self._signature = signature
        self._task = task
        self._resolved: _Decoders | None = None
        try:
            self._resolved = self._resolve()
        except NameError:
            pass  # a forward reference: resolved when first needed

    @property
    def parameters(self) -> dict[str, ValueDecoder]:
        return self._get()[0]

    @property
    def result(self) -> ValueDecoder | None:
        """The decoder of the return annotation (`None`: the result is passed on as is)."""
        return self._get()[1]

    def _get(self) -> _Decoders:
        if self._resolved is None:
            self._resolved = self._resolve()
        return self._resolved

    def _resolve(self) -> _Decoders:
        hints = typing.get_type_hints(self._fn, include_extras=True)
        parameters = {}
        for name in self._signature.parameters:
            decoder = self._decoder(f"parameter {name!r}", hints.get(name, Any))
            if decoder is not None:
                parameters[name] = decoder
        result = self._decoder("the return type", hints.get("return", Any))
        return parameters, result

    def _decoder(self, what: str, annotation: Any) -> ValueDecoder | None:
        from pydantic import PydanticSchemaGenerationError

        try:
            return ValueDecoder.of(annotation)
        except PydanticSchemaGenerationError as error:
            raise TypeError(
                f"task {self._task!r}: {what} is annotated {_type_name(annotation)}, which "
                "cannot travel as JSON; annotate it with JSON values, Pydantic models, "
                "dataclasses, TypedDicts, datetime, UUID, Decimal, enums, bytes, or "
                f"collections of them ({error.message})"
            ) from None

    def decode_arguments(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The arguments validated into the parameters' types. Raises `ArgumentInvalid`
        naming the first parameter whose value does not fit."""
        decoders = self.parameters
        if not decoders:
            return args, kwargs
        decoded_args = tuple(
            self._decode(name, decoders.get(name), value)
            for name, value in zip(self._positional_names(len(args)), args)
        )
        decoded_kwargs = {
            name: self._decode(name, decoders.get(self._keyword_slot(name)), value)
            for name, value in kwargs.items()
        }
        return decoded_args, decoded_kwargs

    def decode_result(self, value: Any) -> Any:
        """A job's result validated into the return type."""
        decoder = self.result
        if decoder is None:
            return value
        try:
            return decoder.decode(value)
        except ValueError as error:
            raise ArgumentInvalid(
                f"the result of task {self._task!r} does not fit its return type "
                f"{_type_name(decoder.annotation)}: {_first_error(error)}"
            ) from None

    def _decode(self, name: str, decoder: ValueDecoder | None, value: Any) -> Any:
        if decoder is None:
            return value
        try:
            return decoder.decode(value)
        except ValueError as error:
            raise ArgumentInvalid(
                f"argument {name!r} of task {self._task!r} does not fit its type "
                f"{_type_name(decoder.annotation)}: {_first_error(error)}"
            ) from None

    def _positional_names(self, count: int) -> Iterator[str]:
        """The parameter each of `count` positional arguments binds to (a `*args`
        parameter takes the rest)."""
        given = 0
        for parameter in self._signature.parameters.values():
            if given == count:
                return
            if parameter.kind is parameter.VAR_POSITIONAL:
                while given < count:
                    given += 1
                    yield parameter.name
                return
            if parameter.kind in (
                parameter.POSITIONAL_ONLY,
                parameter.POSITIONAL_OR_KEYWORD,
            ):
                given += 1
                yield parameter.name

    def _keyword_slot(self, name: str) -> str:
        """The parameter a keyword argument binds to: its own, else a `**kwargs` one."""
        if name in self._signature.parameters:
            return name
        for parameter in self._signature.parameters.values():
            if parameter.kind is parameter.VAR_KEYWORD:
                return parameter.name
        return name


def _first_error(error: ValueError) -> str:
    """Pydantic's first complaint, with where in the value it is; else the message."""
    errors = getattr(error, "errors", None)
    if errors is None:
        return str(error)
    first = errors(include_url=False)[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__qualname__", None) or repr(annotation)
