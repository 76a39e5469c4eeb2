"""The FastAPI integration, through the ASGI interface (httpx), against a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.apps import basic, web
from tests.support import job_counts, unused_port
from workhorse import ArgumentNotSerializable, JobState, ServerUnavailable, Workhorse
from workhorse.fastapi import PROBLEM_JSON, workhorse_lifespan
from workhorse.testing import WorkhorseEnv

MISSING_JOB = "01900000-0000-7000-8000-000000000000"


@pytest.fixture
def web_app() -> FastAPI:
    return web.create_app()


@pytest.fixture
async def http(web_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=web_app)
    async with (
        web_app.router.lifespan_context(web_app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield http


@pytest.fixture
def idle_app(server_url: str) -> Iterator[WorkhorseEnv]:
    """The app on the server with no worker: jobs stay where enqueue put them."""
    with WorkhorseEnv(basic.wh, url=server_url, worker=False) as env:
        yield env


def counts_when_the_response_starts(
    app: FastAPI, env: WorkhorseEnv
) -> tuple[Any, list[int]]:
    """`app` wrapped to record how many jobs are ready when its response starts."""
    ready: list[int] = []

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def watching_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                ready.append(job_counts(env.client)["ready"])
            await send(message)

        await app(scope, receive, watching_send)

    return wrapped, ready


async def test_background_jobs_are_committed_before_the_response(
    web_app: FastAPI, idle_app: WorkhorseEnv
) -> None:
    wrapped, ready = counts_when_the_response_starts(web_app, idle_app)
    transport = httpx.ASGITransport(app=wrapped)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as http:
        answer = await http.post("/signup", params={"email": "a@b.c"})
        assert answer.status_code == 200, answer.text
        assert ready == [2], "both jobs were committed before the response started"
        again = await http.post("/signup", params={"email": "a@b.c"})
        assert again.status_code == 200
    assert job_counts(idle_app.client)["ready"] == 3, "the welcome email's key held"


async def test_a_failed_request_commits_nothing(
    http: httpx.AsyncClient, idle_app: WorkhorseEnv
) -> None:
    answer = await http.post("/signup-fails", params={"email": "a@b.c"})
    assert answer.status_code == 409
    assert job_counts(idle_app.client)["ready"] == 0


async def test_commit_in_the_endpoint_returns_the_jobs(
    http: httpx.AsyncClient, idle_app: WorkhorseEnv
) -> None:
    answer = await http.post("/signup-with-ids", params={"email": "a@b.c"})
    (job_id,) = answer.json()["jobs"]
    assert (await basic.wh.job(job_id).status()).args == ["a@b.c"]
    assert job_counts(idle_app.client)["ready"] == 1, "committed once"


async def test_add_task_refuses_what_cannot_run_durably(
    http: httpx.AsyncClient, idle_app: WorkhorseEnv
) -> None:
    with pytest.raises(TypeError, match="add_task takes a Workhorse task"):
        await http.post("/add-plain-function")
    with pytest.raises(
        ArgumentNotSerializable, match="argument 'to' of task 'emails.send'"
    ):
        await http.post("/add-bad-argument")


async def test_job_status_route(http: httpx.AsyncClient, env: WorkhorseEnv) -> None:
    job = await basic.add.enqueue(20, 22)
    await job.result(timeout=20)
    answer = await http.get(f"/jobs/{job.id}")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["id"], body["state"], body["result"], body["error"]) == (
        job.id,
        "succeeded",
        42,
        None,
    )
    assert (body["attempt"], body["task"]) == (1, basic.add.name)

    failed = await basic.aborts.enqueue()
    await failed.wait(timeout=20)
    body = (await http.get(f"/jobs/{failed.id}")).json()
    assert body["state"] == "dead"
    assert (body["error"]["type"], body["error"]["message"]) == (
        "Abort",
        "the input can never work",
    )
    assert body["error"]["traceback"] is None, "tracebacks stay private by default"


async def test_202_accepted_points_at_the_job(
    http: httpx.AsyncClient, env: WorkhorseEnv
) -> None:
    answer = await http.post("/reports", params={"gate": "report"})
    assert answer.status_code == 202
    body = answer.json()
    location = answer.headers["location"]
    assert location == f"http://testserver/jobs/{body['job_id']}" == body["status_url"]
    assert body["kind"] == "report"

    status = await _poll(
        http, location, lambda s: s["state"] == "running" and s["progress"]
    )
    assert status["progress"] == {"fraction": 0.5, "message": "halfway"}
    basic.gates["report"].set()
    status = await _poll(http, location, lambda s: s["state"] == "succeeded")
    assert status["result"] == "report"


async def test_delete_cancels_the_job(
    http: httpx.AsyncClient, idle_app: WorkhorseEnv
) -> None:
    job = await basic.add.options(delay=60).enqueue(1, 2)
    answer = await http.delete(f"/jobs/{job.id}")
    assert answer.status_code == 200
    assert answer.json()["state"] == "cancelled"
    assert (await job.status()).state is JobState.CANCELLED


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_an_unknown_job_is_a_404_problem(
    http: httpx.AsyncClient, idle_app: WorkhorseEnv, method: str
) -> None:
    answer = await http.request(method, f"/jobs/{MISSING_JOB}")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == PROBLEM_JSON
    problem = answer.json()
    assert problem["status"] == 404
    assert MISSING_JOB in problem["detail"]


async def test_a_malformed_job_id_is_a_client_error(
    http: httpx.AsyncClient, idle_app: WorkhorseEnv
) -> None:
    answer = await http.get("/jobs/not-a-job-id")
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"] == PROBLEM_JSON


async def test_the_client_dependency_yields_the_app(
    http: httpx.AsyncClient, idle_app: WorkhorseEnv
) -> None:
    assert (await http.get("/whoami")).json() == {"url": idle_app.url, "same": True}


async def test_the_lifespan_keeps_the_app_and_wraps_yours(
    idle_app: WorkhorseEnv,
) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def mine(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        events.append("start")
        yield {"mine": "yes"}
        events.append("stop")

    app = FastAPI(lifespan=workhorse_lifespan(basic.wh, check_server=True, wrap=mine))
    async with app.router.lifespan_context(app) as state:
        assert app.state.workhorse is basic.wh
        assert state == {"mine": "yes"}
    assert events == ["start", "stop"]


async def test_server_down_fails_start_up_and_answers_503() -> None:
    down = Workhorse(f"http://127.0.0.1:{unused_port()}")
    app = FastAPI(lifespan=workhorse_lifespan(down, check_server=True))
    with pytest.raises(ServerUnavailable, match="127.0.0.1"):
        async with app.router.lifespan_context(app):
            pass

    @down.task
    async def anything() -> None: ...

    web_app = FastAPI()
    from workhorse.fastapi import install_exception_handlers

    install_exception_handlers(web_app)

    @web_app.post("/go")
    async def go() -> None:
        await anything.enqueue()

    transport = httpx.ASGITransport(app=web_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as http:
        answer = await http.post("/go")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert "127.0.0.1" in answer.json()["detail"]


async def _poll(http: httpx.AsyncClient, url: str, done: Any) -> dict[str, Any]:
    import asyncio
    import time

    deadline = time.monotonic() + 20
    while True:
        status: dict[str, Any] = (await http.get(url)).json()
        if done(status):
            return status
        assert time.monotonic() < deadline, f"timed out; last status {status}"
        await asyncio.sleep(0.02)
