"""The web service: answers at once and hands the work to Workhorse.

Run it with `uvicorn app.main:app`; run the tasks with `workhorse worker app.tasks:wh`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from workhorse.fastapi import DurableBackgroundTasks, accepted, install_exception_handlers

from app.tasks import charge_payment, count_primes, generate_report, send_welcome_email, wh

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
