"""The web service: answers at once and hands the work to Workhorse.

Run it with `uvicorn app.main:app`; run the tasks with `workhorse worker app.tasks:wh`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from workhorse import ApiError
from workhorse.fastapi import DurableBackgroundTasks, accepted, install_exception_handlers

from app.tasks import (
    Order,
    charge_payment,
    count_primes,
    generate_report,
    send_welcome_email,
    ship_order,
    wh,
)

app = FastAPI(title="Workhorse FastAPI example", lifespan=wh.lifespan)
app.include_router(wh.router(prefix="/jobs"))  # GET /jobs/{id}, DELETE /jobs/{id}
install_exception_handlers(app)  # Workhorse server down: 503, not 500


class Signup(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["ada@example.com"])


class ReportRequest(BaseModel):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-10"])


class ChargeRequest(BaseModel):
    charge_id: str = Field(min_length=1, max_length=100, examples=["order-1042"])
    customer: str = Field(min_length=1, max_length=100, examples=["cus_42"])
    amount_cents: int = Field(gt=0, examples=[1999])


class PrimesRequest(BaseModel):
    limit: int = Field(ge=0, le=100_000_000, examples=[20_000_000])


@app.post("/signup", status_code=201)
async def signup(body: Signup, jobs: DurableBackgroundTasks) -> dict[str, str]:
    """Signs a user up. The welcome email is a durable job, committed before this answer
    is sent; posting the same address twice sends one email (the task's key)."""
    # ... create the account in your database here ...
    jobs.add_task(send_welcome_email, body.email)
    return {"email": body.email}


@app.post("/reports", status_code=202)
async def create_report(body: ReportRequest, request: Request) -> JSONResponse:
    """Starts a report: 202 with `Location: /jobs/{id}` to poll it (progress, then the
    result) or to cancel it with `DELETE`."""
    job = await generate_report.enqueue(body.month)
    return accepted(job, request)


@app.post("/charges", status_code=202)
async def create_charge(body: ChargeRequest, request: Request) -> JSONResponse:
    """Charges a customer. Posting the same `charge_id` again returns the same job, and
    the customer is charged once."""
    job = await charge_payment.enqueue(body.charge_id, body.customer, body.amount_cents)
    return accepted(job, request)


@app.post("/primes", status_code=202)
async def create_prime_count(body: PrimesRequest, request: Request) -> JSONResponse:
    """Counts primes below `limit` in a worker's child process (CPU-heavy work)."""
    job = await count_primes.enqueue(body.limit)
    return accepted(job, request)


@app.post("/orders", status_code=202)
async def place_order(order: Order, request: Request) -> JSONResponse:
    """Places an order: the validated `Order` model itself is the job's argument."""
    job = await ship_order.enqueue(order)
    return accepted(job, request)


# -- report schedules managed at run time (what APScheduler's add_job/get_jobs/remove_job do)


class ReportSchedule(BaseModel):
    cron: str = Field(examples=["0 6 * * 1"])
    tz: str = Field(default="UTC", examples=["Europe/Berlin"])
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-10"])


class ScheduleOut(BaseModel):
    name: str
    paused: bool
    next_runs: list[datetime]


@app.put("/report-schedules/{name}")
async def set_report_schedule(name: str, body: ReportSchedule) -> ScheduleOut:
    """Adds or replaces a report schedule; answers with its next run times."""
    try:
        schedule = await wh.set_schedule(
            f"report:{name}", task=generate_report, cron=body.cron, tz=body.tz, args=[body.month]
        )
    except ApiError as error:  # a bad cron or time zone: the message names the field
        raise HTTPException(status_code=422, detail=str(error)) from None
    return ScheduleOut(name=name, paused=schedule.paused, next_runs=schedule.next_fires)


@app.get("/report-schedules")
async def list_report_schedules() -> list[ScheduleOut]:
    schedules = [s for s in await wh.list_schedules() if s.name.startswith("report:")]
    return [
        ScheduleOut(
            name=s.name.removeprefix("report:"),
            paused=s.paused,
            next_runs=[s.next_fire_at] if s.next_fire_at else [],
        )
        for s in schedules
    ]


@app.delete("/report-schedules/{name}", status_code=204)
async def delete_report_schedule(name: str) -> None:
    try:
        await wh.delete_schedule(f"report:{name}")
    except ApiError as error:
        if error.status == 404:
            raise HTTPException(status_code=404, detail=f"no report schedule {name!r}") from None
        raise


# -- an admin endpoint: dead letters back to work ------------------------------------


@app.post("/admin/dead-letters/redrive")
async def redrive_dead_letters(
    queue: Literal["emails", "reports", "payments", "orders"] | None = None,
) -> dict[str, int]:
    """Runs the dead jobs (of one queue, or all) again, with fresh attempts."""
    return {"redriven": await wh.redrive(queue=queue)}
