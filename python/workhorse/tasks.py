"""Tasks: decorated functions that can be called directly or enqueued as jobs.

`@wh.task(...)` turns a function into a `Task`. Calling it runs the function here and now
(handy in tests); `await task.enqueue(...)` makes a durable job of the call, which a worker
runs. `task.options(...)` overrides the task's default options for some calls, and
`task.call(...)` makes a pending enqueue for `wh.enqueue_many`. `task.s(...)` and
`task.si(...)` make a job of a workflow (see `workhorse.workflows`).
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar

from workhorse import _json
from workhorse._depends import Dependencies, dependency_parameters
from workhorse._values import TaskTypes
from workhorse.context import ContextSlot, JobContext, local_context
from workhorse.jobs import Job
from workhorse.options import EnqueueOptions, options_from
from workhorse.workflows import Signature

if TYPE_CHECKING:
    from workhorse.app import Workhorse

__all__ = [
    "AsyncTask",
    "ConfiguredTask",
    "Enqueueable",
    "Isolation",
    "RemoteTask",
    "Task",
    "TaskCall",
]

P = ParamSpec("P")
T = TypeVar("T")

Isolation = Literal["thread", "process"]
"""Where a plain (non-async) function runs: a worker thread (default) or its own process."""


@dataclass(frozen=True)
class TaskCall(Generic[T]):
    """One call of a task, not yet enqueued: what `task.call(...)` returns, for
    `wh.enqueue_many([...])`."""

    task: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: EnqueueOptions
    target: Enqueueable

    def request(self) -> dict[str, Any]:
        """The EnqueueRequest document of this call."""
        return self.options.request(self.task, list(self.args), self.kwargs)

    def diagnose(self) -> None:
        """Raises `ArgumentNotSerializable` naming the argument that is not JSON."""
        where = f"task {self.task!r}"
        _json.check_serializable(
            self.target.named_arguments(self.args, self.kwargs), where
        )
        if self.options.metadata is not None:
            _json.check_serializable([("metadata", self.options.metadata)], where)

    async def enqueue(self) -> Job[T]:
        """Enqueues this call; returns once the job is committed."""
        client = self.target.app.client
        answer = await client.enqueue(encode([self]))
        return Job._from_view_text(answer, client, self.target.types)

    def enqueue_sync(self) -> Job[T]:
        client = self.target.app.client
        answer = client.enqueue_sync(encode([self]))
        return Job._from_view_text(answer, client, self.target.types)


def encode(calls: Sequence[TaskCall[Any]]) -> str:
    """One call's request document, or a JSON array of several, as JSON text."""
    documents: Any = (
        calls[0].request() if len(calls) == 1 else [c.request() for c in calls]
    )
    try:
        return _json.dumps(documents)
    except (TypeError, ValueError):
        for call in calls:
            call.diagnose()
        raise


class Enqueueable:
    """Something to enqueue calls of (a `Task`, `ConfiguredTask` or `RemoteTask`): a
    task name, the app to enqueue through, and the default options of its jobs."""

    name: str
    app: Workhorse
    defaults: EnqueueOptions
    types: TaskTypes | None = None
    """The task's parameter and return types (`None`: known only by name)."""

    def call(self, *args: Any, **kwargs: Any) -> TaskCall[Any]:
        """A pending enqueue of a call with these arguments (for `wh.enqueue_many`)."""
        self.check_arguments(args, kwargs)
        return TaskCall(self.name, args, kwargs, self.defaults, self)

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A job of a workflow (`wh.chain`, `wh.group`, `wh.chord`) with these arguments;
        it receives its parents' results before them."""
        return Signature(self, args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """A job of a workflow that receives nothing from its parents (immutable)."""
        return Signature(self, args, kwargs, immutable=True)

    async def enqueue(self, *args: Any, **kwargs: Any) -> Job[Any]:
        """Enqueues a call with these arguments as a job; returns once it is committed."""
        return await self.call(*args, **kwargs).enqueue()

    def enqueue_sync(self, *args: Any, **kwargs: Any) -> Job[Any]:
        """`enqueue` for synchronous code (blocks; releases the GIL while it waits)."""
        return self.call(*args, **kwargs).enqueue_sync()

    def options(self, **options: Any) -> ConfiguredTask[Any, Any]:
        """The same task with some options overridden for the calls made through it:
        `delay`, `run_at`, `priority`, `queue`, `key`, `key_window`, `timeout`,
        `retries`, `backoff`, `expires`, `expires_at`, `metadata`, `concurrency_key`,
        `concurrency_limit` (see `EnqueueOptions`)."""
        return ConfiguredTask(self, options_from(options))

    def check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Raises `TypeError` when the arguments do not fit the task (nothing to check for
        a task this process does not define)."""

    def named_arguments(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterable[tuple[str, Any]]:
        """The arguments with names for error messages."""
        for index, value in enumerate(args):
            yield f"positional argument {index}", value
        for name, value in kwargs.items():
            yield f"argument {name!r}", value


class Task(Enqueueable, Generic[P, T]):
    """A function registered as a task of a `Workhorse` app (made by `@wh.task`)."""

    def __init__(
        self,
        fn: Callable[..., T],
        *,
        app: Workhorse,
        name: str,
        defaults: EnqueueOptions,
        isolation: Isolation | None,
    ) -> None:
        self.fn = fn
        """The decorated function, unchanged."""
        self.app = app
        self.name = name
        self.defaults = defaults
        self.is_async = inspect.iscoroutinefunction(fn)
        self.isolation: Literal["async", "thread", "process"] = _isolation(
            fn, self.is_async, isolation
        )
        signature = inspect.signature(fn)
        self.context_slot = _context_slot(fn, signature)
        """The parameter that receives the `JobContext`, if the task takes one."""
        depends = dependency_parameters(fn, signature)
        if depends and self.isolation == "process":
            raise ValueError(
                f"{fn.__qualname__} takes dependencies ({', '.join(p.name for p in depends)}), "
                'which the worker resolves on its event loop: a task with isolation="process" '
                "cannot take them"
            )
        if self.isolation == "process":
            check_importable(fn)
        self.dependencies = Dependencies(name, depends) if depends else None
        """The task's FastAPI dependencies, resolved by the worker for each job."""
        not_arguments = {p.name for p in depends}
        if self.context_slot is not None:
            not_arguments.add(self.context_slot.name)
        self._call_signature = _without(signature, not_arguments)
        self.types: TaskTypes = TaskTypes(fn, self._call_signature, name)
        self._positional_counts = _positional_counts(self._call_signature)
        self.__name__ = getattr(fn, "__name__", name)
        self.__qualname__ = getattr(fn, "__qualname__", name)
        self.__module__ = getattr(fn, "__module__", "")
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Runs the function directly, here and now. A task that takes a `JobContext`
        and is not given one gets a local one (its progress reports are kept, nothing is
        sent)."""
        slot = self.context_slot
        if (
            slot is None
            or slot.name in kwargs
            or any(isinstance(arg, JobContext) for arg in args)
        ):
            return self.fn(*args, **kwargs)
        retries = self.defaults.retries
        context = local_context(
            self.name,
            self.defaults.queue or "default",
            max_attempts=25 if retries is None else retries + 1,
        )
        return self.fn(*slot.insert(context, args, kwargs), **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name} ({self.isolation})>"

    def __get__(self, instance: object, owner: type | None = None) -> Task[P, T]:
        # A task is a function of its arguments, never a method of the class it sits in.
        return self

    def check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        counts = self._positional_counts
        if not kwargs and counts is not None and counts[0] <= len(args) <= counts[1]:
            return  # the common call, checked without binding (`bind` costs ~50 µs)
        try:
            self._call_signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{self.name}(): {error}") from None

    def named_arguments(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterable[tuple[str, Any]]:
        bound = self._call_signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            yield f"argument {name!r}", value

    # Typed twins of the shared methods: the arguments are the function's.
    if TYPE_CHECKING:

        def call(self, *args: P.args, **kwargs: P.kwargs) -> TaskCall[T]: ...
        async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job[T]: ...
        def enqueue_sync(self, *args: P.args, **kwargs: P.kwargs) -> Job[T]: ...
        def options(self, **options: Any) -> ConfiguredTask[P, T]: ...


if TYPE_CHECKING:

    class AsyncTask(Task[P, T]):
        """A task of an async function (what `@wh.task` makes of one, for type checkers):
        calling it gives a coroutine of `T`, and its jobs' results are `T`."""

        def __call__(  # type: ignore[override]
            self, *args: P.args, **kwargs: P.kwargs
        ) -> Coroutine[Any, Any, T]: ...

else:
    AsyncTask = Task


class RemoteTask(Enqueueable):
    """A task known only by name, run by workers of another service:
    `wh.remote_task("billing.charge", queue="billing")`. Its arguments are not checked
    here; they must serialize to JSON."""

    def __init__(self, name: str, *, app: Workhorse, defaults: EnqueueOptions) -> None:
        self.name = name
        self.app = app
        self.defaults = defaults

    def __repr__(self) -> str:
        return f"<RemoteTask {self.name}>"


class ConfiguredTask(Enqueueable, Generic[P, T]):
    """A task with some options overridden: what `task.options(...)` returns."""

    def __init__(self, base: Enqueueable, overrides: EnqueueOptions) -> None:
        self.base = base
        self.name = base.name
        self.app = base.app
        self.types = base.types
        self.defaults = base.defaults.merged(overrides)
        self.defaults.validate()

    def check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.base.check_arguments(args, kwargs)

    def named_arguments(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterable[tuple[str, Any]]:
        return self.base.named_arguments(args, kwargs)

    def options(self, **options: Any) -> ConfiguredTask[P, T]:
        return ConfiguredTask(self, options_from(options))

    def __repr__(self) -> str:
        return f"<ConfiguredTask {self.name}>"

    if TYPE_CHECKING:

        def call(self, *args: P.args, **kwargs: P.kwargs) -> TaskCall[T]: ...
        async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job[T]: ...
        def enqueue_sync(self, *args: P.args, **kwargs: P.kwargs) -> Job[T]: ...


def _isolation(
    fn: Callable[..., Any], is_async: bool, isolation: Isolation | None
) -> Literal["async", "thread", "process"]:
    if isolation not in (None, "thread", "process"):
        raise ValueError(f'isolation must be "thread" or "process" (got {isolation!r})')
    if is_async:
        if isolation == "thread":
            raise ValueError(
                f"{fn.__qualname__} is async: it runs on the event loop, not in a thread"
            )
        return "process" if isolation == "process" else "async"
    return isolation or "thread"


def check_importable(fn: Callable[..., Any]) -> None:
    """A process-isolated task's function is imported by module and name in the child
    process: it must live at the top level of an importable module."""
    if "<locals>" in fn.__qualname__ or fn.__module__ == "__main__":
        raise ValueError(
            f"{fn.__module__}.{fn.__qualname__} cannot run in a separate process: a task with "
            'isolation="process" must be defined at the top level of an importable module'
        )


def _context_slot(
    fn: Callable[..., Any], signature: inspect.Signature
) -> ContextSlot | None:
    """The parameter annotated `JobContext`, else the one named `ctx`, if any."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to their text
        hints = {}
    parameters = list(signature.parameters.values())
    found = next(
        (p for p in parameters if _is_context_type(hints.get(p.name, p.annotation))),
        signature.parameters.get("ctx"),
    )
    if found is None:
        return None
    positional = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )
    position = parameters.index(found) if found.kind in positional else None
    return ContextSlot(found.name, position)


def _is_context_type(annotation: Any) -> bool:
    return annotation is JobContext or (
        isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "JobContext"
    )


def _positional_counts(signature: inspect.Signature) -> tuple[int, int] | None:
    """The fewest and most positional arguments a call without keywords may pass, or
    `None` when such a call needs `bind` to be checked (a required keyword-only parameter)."""
    least, most = 0, 0
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            most = sys.maxsize
        elif parameter.kind is parameter.KEYWORD_ONLY:
            if parameter.default is parameter.empty:
                return None
        elif parameter.kind is not parameter.VAR_KEYWORD:
            most += 1
            if parameter.default is parameter.empty:
                least = most
    return least, most


def _without(signature: inspect.Signature, names: set[str]) -> inspect.Signature:
    """`signature` without the parameters that are not arguments of a job (the context,
    dependencies)."""
    if not names:
        return signature
    return signature.replace(
        parameters=[p for p in signature.parameters.values() if p.name not in names]
    )
