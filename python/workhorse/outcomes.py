"""How an exception raised by a task becomes the failure report of its attempt."""

from __future__ import annotations

import builtins
import traceback
from types import TracebackType
from typing import NamedTuple

from workhorse.errors import Abort, Retry

__all__ = ["Failure", "failure_of"]


class Failure(NamedTuple):
    """The arguments of `NativeJob.fail`."""

    kind: str
    message: str
    traceback: str | None
    retry_in: float | None = None
    fatal: bool = False


def failure_of(error: BaseException) -> Failure:
    """The report for `error`, raised by a task: `Retry` asks for a retry (after its
    delay, or the backoff), `Abort` fails for good, anything else follows the retry
    policy with its type, message and traceback."""
    if isinstance(error, Retry):
        return Failure("Retry", str(error), None, retry_in=error.delay)
    trace = _from_task(error.__traceback__)
    text = "".join(traceback.format_exception(type(error), error, trace))
    return Failure(
        exception_kind(error), str(error), text, fatal=isinstance(error, Abort)
    )


# Frames of the machinery that called the task say nothing about its error.
_RUNTIME_MODULES = ("workhorse.", "asyncio.", "concurrent.futures.")


def _from_task(trace: TracebackType | None) -> TracebackType | None:
    """`trace` without its leading frames from the worker runtime."""
    first = trace
    while first is not None and _is_runtime(first):
        first = first.tb_next
    return first or trace


def _is_runtime(trace: TracebackType) -> bool:
    module = trace.tb_frame.f_globals.get("__name__", "")
    return isinstance(module, str) and module.startswith(_RUNTIME_MODULES)


def exception_kind(error: BaseException) -> str:
    """`ValueError` for a built-in or Workhorse exception, `module.QualName` for any other."""
    cls = type(error)
    if getattr(builtins, cls.__name__, None) is cls or cls.__module__.startswith(
        "workhorse."
    ):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
