"""FastAPI integration: lifespan, a dependency for the app, a job status router, `202
Accepted` answers, and `DurableBackgroundTasks`, a drop-in for `BackgroundTasks` whose
work survives a crash.

```python
from fastapi import FastAPI, Request
from workhorse.fastapi import DurableBackgroundTasks, accepted

app = FastAPI(lifespan=wh.lifespan)
app.include_router(wh.router(prefix="/jobs"))

@app.post("/signup")
async def signup(email: str, jobs: DurableBackgroundTasks) -> dict:
    jobs.add_task(send_welcome_email, email)   # committed before the response is sent
    return {"ok": True}

@app.post("/reports")
async def create_report(request: Request):
    job = await build_report.enqueue(...)
    return accepted(job, request)              # 202, Location: /jobs/{id}
```
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

try:
    import fastapi
    from fastapi import APIRouter, Depends, FastAPI, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "workhorse.fastapi needs FastAPI: pip install 'workhorse[fastapi]'"
    ) from error

from workhorse._native import ApiError, InvalidRequest, ServerUnavailable
from workhorse.jobs import Job, JobInfo
from workhorse.tasks import Enqueueable, TaskCall, encode

if TYPE_CHECKING:
    from workhorse.app import Workhorse

__all__ = [
    "DurableBackgroundTasks",
    "DurableJobs",
    "JobStatus",
    "accepted",
    "install_exception_handlers",
    "job_router",
    "workhorse_lifespan",
]

STATUS_ROUTE = "workhorse_job_status"
"""The route name of `GET {prefix}/{job_id}`, for `request.url_for`."""
CANCEL_ROUTE = "workhorse_cancel_job"

PROBLEM_JSON = "application/problem+json"


# -- lifespan and dependency ---------------------------------------------------------------


def workhorse_lifespan(
    wh: Workhorse,
    *,
    declare_schedules: bool = False,
    check_server: bool = False,
    wrap: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[Any]]:
    """A FastAPI lifespan for `wh`: `FastAPI(lifespan=workhorse_lifespan(wh))`, or just
    `FastAPI(lifespan=wh.lifespan)` for the defaults.

    It stores `wh` in `app.state.workhorse`; with `check_server` it fails the start-up when
    the server does not answer (the message names its URL); with `declare_schedules` the
    web app upserts the schedules too (workers always do). `wrap` is your own lifespan,
    run inside this one.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        app.state.workhorse = wh
        if check_server:
            await wh.client.health()
        if declare_schedules:
            await wh.declare_schedules()
        if wrap is None:
            yield None
        else:
            async with wrap(app) as state:
                yield state

    return lifespan


# -- job status router ---------------------------------------------------------------------


class ProgressOut(BaseModel):
    fraction: float
    message: str | None = None


class ErrorOut(BaseModel):
    attempt: int
    type: str
    message: str
    traceback: str | None = None


class JobStatus(BaseModel):
    """A job as `GET /jobs/{id}` shows it to your API's clients."""

    id: str
    task: str
    queue: str
    state: str
    attempt: int
    max_attempts: int
    progress: ProgressOut | None
    result: Any = None
    """The task's return value, once `state` is `succeeded`."""
    error: ErrorOut | None = None
    """The last failed attempt's error."""
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, info: JobInfo, *, include_traceback: bool = False) -> JobStatus:
        error = info.error
        return cls(
            id=info.id,
            task=info.task,
            queue=info.queue,
            state=info.state.value,
            attempt=info.attempt,
            max_attempts=info.max_attempts,
            progress=ProgressOut(
                fraction=info.progress.fraction, message=info.progress.message
            )
            if info.progress
            else None,
            result=info.result,
            error=ErrorOut(
                attempt=error.attempt,
                type=error.type,
                message=error.message,
                traceback=error.traceback if include_traceback else None,
            )
            if error
            else None,
            cancel_requested=info.cancel_requested,
            created_at=info.created_at,
            started_at=info.started_at,
            finished_at=info.finished_at,
        )


def job_router(
    wh: Workhorse,
    *,
    prefix: str = "/jobs",
    include_traceback: bool = False,
    **router_options: Any,
) -> APIRouter:
    """`GET {prefix}/{job_id}` (state, progress, result or error) and `DELETE
    {prefix}/{job_id}` (cancel; answers the job as it then stands). An unknown id is a
    404 `application/problem+json`. Tracebacks stay out of the answers unless
    `include_traceback`. `router_options` go to `APIRouter` (e.g. `dependencies=` for
    auth, `tags=`)."""
    router_options.setdefault("tags", ["jobs"])
    router = APIRouter(prefix=prefix, **router_options)
    responses: dict[int | str, dict[str, Any]] = {
        404: {"description": "No such job", "content": {PROBLEM_JSON: {}}},
        503: {
            "description": "The Workhorse server is unavailable",
            "content": {PROBLEM_JSON: {}},
        },
    }

    @router.get(
        "/{job_id}", name=STATUS_ROUTE, response_model=JobStatus, responses=responses
    )
    async def job_status(job_id: str) -> Any:
        return await _answer(wh.job(job_id).status(), include_traceback)

    @router.delete(
        "/{job_id}", name=CANCEL_ROUTE, response_model=JobStatus, responses=responses
    )
    async def cancel_job(job_id: str) -> Any:
        return await _answer(wh.job(job_id).cancel(), include_traceback)

    return router


async def _answer(request: Any, include_traceback: bool) -> Any:
    try:
        info = await request
    except ApiError as error:
        return _problem_of(error)
    except InvalidRequest as error:  # not a job id at all: it names no job
        return problem(404, "Not Found", str(error))
    except ServerUnavailable as error:
        return problem(503, "Service Unavailable", str(error))
    return JobStatus.of(info, include_traceback=include_traceback)


def _problem_of(error: ApiError) -> JSONResponse:
    try:
        document = json.loads(error.problem)
    except ValueError:
        document = {"title": "Error", "detail": str(error)}
    document["status"] = error.status
    return JSONResponse(document, status_code=error.status, media_type=PROBLEM_JSON)


def problem(status: int, title: str, detail: str, **fields: Any) -> JSONResponse:
    """An RFC 9457 problem answer."""
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        **fields,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install_exception_handlers(app: FastAPI) -> None:
    """Answers `503 Service Unavailable` (problem+json, `Retry-After: 5`) when a route
    cannot reach the Workhorse server, instead of a bare 500."""

    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        answer = problem(503, "Service Unavailable", str(error))
        answer.headers["Retry-After"] = "5"
        return answer

    app.add_exception_handler(ServerUnavailable, unavailable)


# -- 202 Accepted --------------------------------------------------------------------------


def accepted(
    job: Job[Any],
    request: Request,
    *,
    route: str = STATUS_ROUTE,
    content: dict[str, Any] | None = None,
) -> JSONResponse:
    """`202 Accepted` for `job`, with a `Location` header pointing at its status URL (the
    `GET` route of `wh.router()`, or any route named `route` that takes `job_id`). The body
    is `{"job_id": ..., "status_url": ...}` plus `content`."""
    try:
        location = str(request.url_for(route, job_id=job.id))
    except Exception as error:  # starlette's NoMatchFound
        raise RuntimeError(
            f"accepted() needs a route named {route!r} taking job_id: include "
            "wh.router() in the app, or pass route= naming your own status route"
        ) from error
    body = {"job_id": job.id, "status_url": location, **(content or {})}
    return JSONResponse(body, status_code=202, headers={"Location": location})


# -- durable background tasks --------------------------------------------------------------


class DurableJobs:
    """The jobs a request adds with `add_task`, committed together before the response
    is sent. Get one with a parameter annotated `DurableBackgroundTasks`."""

    def __init__(self) -> None:
        self._pending: list[TaskCall[Any]] = []
        self.jobs: list[Job[Any]] = []
        """The jobs committed so far (in the order they were added, per app)."""

    def add_task(self, task: Enqueueable, /, *args: Any, **kwargs: Any) -> None:
        """Adds a job of `task` (a `@wh.task`, `task.options(...)` or `wh.remote_task`)
        with these arguments. The arguments are checked now: a call that does not fit the
        task, or an argument that is not JSON, raises here, in your endpoint."""
        if not isinstance(task, Enqueueable):
            raise TypeError(
                f"add_task takes a Workhorse task (a @wh.task function), got {task!r}; "
                "a plain function cannot run durably"
            )
        call = task.call(*args, **kwargs)
        encode([call])  # raises ArgumentNotSerializable naming the argument
        self._pending.append(call)

    @property
    def pending(self) -> int:
        """Jobs added and not yet committed."""
        return len(self._pending)

    async def commit(self) -> list[Job[Any]]:
        """Enqueues the jobs added so far, atomically per app, and returns them. Called
        for you after the endpoint returns; call it yourself to answer with their ids."""
        committed: list[Job[Any]] = []
        while self._pending:
            app = self._pending[0].target.app
            batch = [call for call in self._pending if call.target.app is app]
            self._pending = [
                call for call in self._pending if call.target.app is not app
            ]
            committed += await app.enqueue_many(batch)
        self.jobs += committed
        return committed


async def _durable_jobs() -> AsyncIterator[DurableJobs]:
    jobs = DurableJobs()
    # An exception from the endpoint is raised here: its jobs are dropped, as
    # BackgroundTasks drops its tasks for a failed request.
    yield jobs
    await jobs.commit()


try:
    _commit_before_response = Depends(_durable_jobs, scope="function")
except TypeError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "workhorse.fastapi needs FastAPI 0.121 or newer (dependencies with "
        f"scope='function'); this is FastAPI {fastapi.__version__}"
    ) from error

DurableBackgroundTasks = Annotated[DurableJobs, _commit_before_response]
"""A drop-in for FastAPI's `BackgroundTasks` whose work is durable:
`async def signup(email: str, jobs: DurableBackgroundTasks)` then
`jobs.add_task(send_welcome_email, email)`.

Why it is built this way: `BackgroundTasks` runs its functions in the web process after
the response, so a crash or a deploy loses them. Here each `add_task` becomes a job, and
all of a request's jobs are committed in one `enqueue_many` *before the response is sent*,
so once the client has its answer the work cannot be lost. The commit happens in the
exit of a dependency with `scope="function"`, which FastAPI runs after the endpoint
returns and before it sends the response (the default scope would run it after the
response, too late). Because the dependency comes with the annotation, there is nothing to
forget: no route class to install and no call to remember (`await jobs.commit()` is only
for endpoints that want the job ids in their answer). If the endpoint raises, nothing is
committed; if the commit fails (server down), the request fails instead of answering
success (see `install_exception_handlers` for a 503).
"""
