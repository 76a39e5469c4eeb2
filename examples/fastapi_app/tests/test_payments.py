"""Payments: a charge happens once, however often it is requested or its job runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
from workhorse.testing import WorkhorseEnv

from app import payments
from app.tasks import charge_payment

CHARGE = {"charge_id": "order-1042", "customer": "cus_42", "amount_cents": 1999}


def charges_in(app_db: Path) -> tuple[int, int]:
    """(ledger rows, charges the provider made)."""
    with sqlite3.connect(app_db) as connection:
        ledger = connection.execute("SELECT count(*) FROM payments").fetchone()[0]
        provider = connection.execute("SELECT count(*) FROM provider_charges").fetchone()[0]
    return ledger, provider


async def test_charging_twice_charges_once(
    client: httpx.AsyncClient, workhorse_env: WorkhorseEnv, app_db: Path
) -> None:
    first = await client.post("/charges", json=CHARGE)
    second = await client.post("/charges", json=CHARGE)

    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]
    await workhorse_env.drain()
    status = (await client.get(first.headers["location"])).json()
    assert status["state"] == "succeeded"
    assert status["result"]["charge_id"] == "order-1042"
    assert status["result"]["provider_ref"].startswith("ch_")
    assert charges_in(app_db) == (1, 1)

    # Within the key window, asking again after it finished still finds the same job.
    third = await client.post("/charges", json=CHARGE)
    assert third.json()["job_id"] == first.json()["job_id"]
    await workhorse_env.drain()
    assert charges_in(app_db) == (1, 1)


def test_a_rerun_after_a_crash_charges_once(app_db: Path) -> None:
    # The first attempt's worker died after the provider charged, before the ledger write
    # and before its ack: the job runs the task again, possibly more than once.
    payments.provider_charge(idempotency_key="charge:order-7", customer="cus_7", amount_cents=500)

    rerun = charge_payment("order-7", "cus_7", 500)  # calling the task runs it here
    rerun_again = charge_payment("order-7", "cus_7", 500)

    assert rerun == rerun_again
    assert charges_in(app_db) == (1, 1)
