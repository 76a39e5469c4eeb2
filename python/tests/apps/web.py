"""A FastAPI app over the basic test app's tasks, as a user would write one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from tests.apps import basic
from tests.apps.basic import wh
from workhorse import Workhorse
from workhorse.fastapi import (
    DurableBackgroundTasks,
    accepted,
    install_exception_handlers,
)


def create_app() -> FastAPI:
    app = FastAPI(lifespan=wh.lifespan)
    app.include_router(wh.router(prefix="/jobs"))
    install_exception_handlers(app)

    @app.post("/signup")
    async def signup(email: str, jobs: DurableBackgroundTasks) -> dict[str, bool]:
        jobs.add_task(
            basic.send_email.options(key=f"welcome:{email}"), email, subject="welcome"
        )
        jobs.add_task(basic.add, 1, 2)
        return {"ok": True}

    @app.post("/signup-with-ids")
    async def signup_with_ids(
        email: str, jobs: DurableBackgroundTasks
    ) -> dict[str, list[str]]:
        jobs.add_task(basic.send_email, email)
        return {"jobs": [job.id for job in await jobs.commit()]}

    @app.post("/signup-fails")
    async def signup_fails(email: str, jobs: DurableBackgroundTasks) -> None:
        jobs.add_task(basic.send_email, email)
        raise HTTPException(status_code=409, detail="email taken")

    @app.post("/add-plain-function")
    async def add_plain_function(jobs: DurableBackgroundTasks) -> None:
        jobs.add_task(print, "not a task")  # type: ignore[arg-type]

    @app.post("/add-bad-argument")
    async def add_bad_argument(jobs: DurableBackgroundTasks) -> None:
        jobs.add_task(basic.send_email, object())

    @app.post("/reports", status_code=202)
    async def create_report(request: Request, gate: str) -> JSONResponse:
        job = await basic.waits_at_gate.enqueue(gate)
        return accepted(job, request, content={"kind": "report"})

    @app.get("/whoami")
    async def whoami(
        client: Annotated[Workhorse, Depends(wh.client_dependency)],
    ) -> dict[str, Any]:
        return {"url": client.url, "same": client is wh}

    return app
