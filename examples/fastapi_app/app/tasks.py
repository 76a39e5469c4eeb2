"""The Workhorse app and its tasks. Run them with `workhorse worker app.tasks:wh`."""

from __future__ import annotations

import asyncio
import calendar
import json
import logging
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi import Depends
from pydantic import BaseModel, Field
from workhorse import Abort, JobContext, Resources, Workhorse

from app import db, payments

wh = Workhorse()  # WORKHORSE_URL, default http://127.0.0.1:7431

log = logging.getLogger(__name__)

REPORT_RETENTION = timedelta(days=30)


@dataclass
class Mailer:
    """Stands in for an email API client; keeps what it sent."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, to: str, subject: str) -> None:
        await asyncio.sleep(0)  # the HTTP call to the email provider
        self.sent.append((to, subject))
        log.info("sent %r to %s", subject, to)


@wh.on_startup
def open_resources(resources: Resources) -> None:
    """Runs once per worker, before its first job: what tasks share."""
    resources["mailer"] = Mailer()


# -- signup: a welcome email, once per address ---------------------------------------


@wh.task(
    queue="emails",
    retries=5,
    timeout=30,
    key=lambda email: f"welcome:{email}",
    key_window=timedelta(days=1),
)
async def send_welcome_email(ctx: JobContext, email: str) -> dict[str, str]:
    """Sends the welcome email. The key makes a second signup with the same address within
    a day return the first job instead of sending again."""
    mailer: Mailer = ctx.resources["mailer"]
    await mailer.send(email, "Welcome!")
    return {"sent_to": email}


# -- orders: Pydantic in, Pydantic out, with the app's own database dependency -------


class OrderLine(BaseModel):
    sku: str = Field(min_length=1, max_length=50)
    quantity: int = Field(gt=0)
    unit_price: Decimal = Field(gt=0, decimal_places=2)


class Order(BaseModel):
    order_id: UUID
    customer: str = Field(min_length=1, max_length=100)
    lines: list[OrderLine] = Field(min_length=1)
    placed_at: datetime


class Shipment(BaseModel):
    order_id: UUID
    total: Decimal
    shipped_at: datetime


@wh.task(queue="orders", retries=5)
def ship_order(order: Order, connection: sqlite3.Connection = Depends(db.get_db)) -> Shipment:
    """Ships an order: the worker hands it over as the `Order` the endpoint enqueued, and
    a database connection from the same dependency the endpoints use (committed after the
    job, rolled back if it fails). The caller reads the `Shipment` back, typed."""
    total = sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))
    shipment = Shipment(order_id=order.order_id, total=total, shipped_at=datetime.now(timezone.utc))
    connection.execute(
        "INSERT OR IGNORE INTO orders VALUES (?, ?, ?, ?)",
        (str(order.order_id), order.customer, str(total), shipment.shipped_at.isoformat()),
    )
    return shipment


# -- reports: slow, with progress, cancellable ---------------------------------------


@wh.task(queue="reports", retries=3, timeout=600)
async def generate_report(ctx: JobContext, month: str) -> dict[str, Any]:
    """Sums the month's payments day by day, reporting progress after each day. Cancel
    reaches it as `asyncio.CancelledError` at its next `await`."""
    days = _days_in(month)
    total_cents = charges = 0
    for day in range(1, days + 1):
        await asyncio.sleep(_seconds_per_day())  # stands in for a slow query
        day_cents, day_charges = await asyncio.to_thread(_payments_on, f"{month}-{day:02d}")
        total_cents, charges = total_cents + day_cents, charges + day_charges
        ctx.progress(day / days, f"{month}-{day:02d} done")
    report = {"month": month, "charges": charges, "total_cents": total_cents}
    await asyncio.to_thread(_store_report, ctx.job_id, month, report)
    return report


def _days_in(month: str) -> int:
    try:
        moment = datetime.strptime(month, "%Y-%m")
    except ValueError:
        # No retry can fix bad input: fail for good, straight to the dead-letter set.
        raise Abort(f"month must look like 2026-10, got {month!r}") from None
    return calendar.monthrange(moment.year, moment.month)[1]


def _seconds_per_day() -> float:
    return float(os.environ.get("REPORT_SECONDS_PER_DAY", "0.2"))


def _payments_on(day: str) -> tuple[int, int]:
    with db.connect() as connection:
        row = connection.execute(
            "SELECT coalesce(sum(amount_cents), 0), count(*) FROM payments"
            " WHERE substr(charged_at, 1, 10) = ?",
            (day,),
        ).fetchone()
    return int(row[0]), int(row[1])


def _store_report(job_id: str, month: str, report: dict[str, Any]) -> None:
    with db.connect() as connection:
        connection.execute(
            "INSERT OR REPLACE INTO reports VALUES (?, ?, ?, ?)",
            (job_id, month, json.dumps(report), datetime.now(timezone.utc).isoformat()),
        )


# -- nightly cleanup: a cron schedule that fires once, however many workers run ------


@wh.cron("0 3 * * *", tz="Europe/Berlin")
@wh.task(queue="maintenance", retries=2)
def nightly_cleanup() -> dict[str, int]:
    """Deletes reports older than 30 days, at 03:00 Berlin time every night. A plain
    function: it runs in the worker's thread pool, never blocking the event loop."""
    cutoff = (datetime.now(timezone.utc) - REPORT_RETENTION).isoformat()
    with db.connect() as connection:
        deleted = connection.execute("DELETE FROM reports WHERE created_at < ?", (cutoff,))
    return {"deleted_reports": deleted.rowcount}


# -- payments: must never charge twice ------------------------------------------------


@wh.task(
    queue="payments",
    retries=8,
    key=lambda charge_id, customer, amount_cents: f"charge:{charge_id}",
    key_window=timedelta(days=1),
)
def charge_payment(charge_id: str, customer: str, amount_cents: int) -> dict[str, Any]:
    """Charges a customer once per `charge_id`, however often the job runs (see
    `app.payments`): retrying after any failure is safe."""
    return payments.charge_once(charge_id, customer, amount_cents).as_dict()


# -- CPU-heavy work: in its own process, so it never stalls the event loop -----------


@wh.task(queue="cpu", isolation="process", timeout=120)
def count_primes(limit: int) -> int:
    """Counts the primes below `limit` with a sieve: pure CPU. `isolation="process"` runs
    each job in its own process, killed if it passes its time limit."""
    if limit < 3:
        return 0
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for n in range(2, int(limit**0.5) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytes(len(range(n * n, limit, n)))
    return sum(sieve)
