"""FastAPI dependencies in tasks: `db: AsyncSession = Depends(get_db)`.

A task may declare dependencies in its signature the way an endpoint does (`Depends(...)`
as a default or in `Annotated[..., Depends(...)]`). They are not arguments of the job: the
worker resolves them for each job with FastAPI's own machinery (sub-dependencies, caching
within the job, `yield` dependencies), runs the task, and then closes the `yield`
dependencies, whatever the outcome (success, failure, cancel). Overrides for tests go in
`wh.dependency_overrides`, as in `app.dependency_overrides`.

There is no HTTP request in a job: a dependency that asks for `Request`, a header, a query
parameter or a body gets an empty request. Resources made once per worker belong in
`@wh.on_startup` (`ctx.resources`).
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

__all__ = ["Dependencies", "dependency_parameters"]


def _depends_class() -> type | None:
    """FastAPI's `Depends` marker, if FastAPI is loaded. A module declaring a dependency
    imported `Depends` before its tasks are decorated, so a worker whose tasks declare
    none never pays for importing FastAPI (half a second in each process child)."""
    params = sys.modules.get("fastapi.params")
    return getattr(params, "Depends", None)


def dependency_parameters(
    fn: Callable[..., Any], signature: inspect.Signature
) -> list[inspect.Parameter]:
    """The parameters of `fn` that are FastAPI dependencies."""
    depends = _depends_class()
    if depends is None:
        return []
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable annotations: only defaults can tell
        hints = {}
    found = []
    for parameter in signature.parameters.values():
        annotation = hints.get(parameter.name, parameter.annotation)
        metadata = getattr(annotation, "__metadata__", ())
        if isinstance(parameter.default, depends) or any(
            isinstance(item, depends) for item in metadata
        ):
            found.append(parameter.replace(annotation=annotation))
    return found


class Dependencies:
    """The dependencies of one task, resolved per job."""

    def __init__(self, task: str, parameters: list[inspect.Parameter]) -> None:
        from fastapi.dependencies.utils import get_dependant

        self.names = frozenset(p.name for p in parameters)

        def wanted() -> None: ...

        # FastAPI reads what to resolve from a signature: one holding only the dependencies
        # (the task's other parameters are the job's arguments, not request parameters).
        wanted.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [p.replace(kind=p.KEYWORD_ONLY) for p in parameters]
        )
        self._dependant = get_dependant(path=f"/tasks/{task}", call=wanted)
        self._task = task

    @asynccontextmanager
    async def resolved(self, overrides: Any) -> AsyncIterator[dict[str, Any]]:
        """Resolves the dependencies for one job: yields their values by parameter name,
        and closes the `yield` dependencies when the job is done (the job's exception, if
        any, is thrown into them, as FastAPI does after an endpoint raises)."""
        from fastapi.dependencies.utils import solve_dependencies
        from starlette.requests import Request

        async with AsyncExitStack() as stack:
            scope = {
                "type": "http",
                "method": "POST",
                "path": f"/tasks/{self._task}",
                "headers": [],
                "query_string": b"",
                "fastapi_astack": stack,
                "fastapi_inner_astack": stack,
                "fastapi_function_astack": stack,
            }
            solved = await solve_dependencies(
                request=Request(scope),
                dependant=self._dependant,
                dependency_overrides_provider=overrides,
                async_exit_stack=stack,
                embed_body_fields=False,
            )
            if solved.errors:
                raise ValueError(
                    f"the dependencies of task {self._task!r} could not be resolved: "
                    f"{solved.errors}"
                )
            yield solved.values
