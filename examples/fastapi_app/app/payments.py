"""Charging a customer exactly once, however often the charge job runs.

Workhorse runs a job at least once: a worker killed after the charge went through but
before its acknowledgement reached the server makes the job run again, and a job whose
lease was lost may even run twice at the same time. Three layers keep the money side
exactly-once:

1. The job's idempotency key (`charge:<charge_id>`, declared on the task) makes a repeated
   request, such as a client retrying its POST, return the existing job instead of a new one.
2. The ledger (the `payments` table, keyed by charge id) records every completed charge;
   an attempt that finds its charge there returns the recorded outcome without charging.
3. The provider call carries an idempotency key too (as Stripe, Adyen and most payment
   APIs accept), so a crash between the provider call and the ledger write cannot charge
   twice: the next attempt gets the first charge back and records it.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from app import db


@dataclass(frozen=True)
class Charge:
    """A completed charge, as the ledger records it."""

    charge_id: str
    customer: str
    amount_cents: int
    provider_ref: str
    charged_at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def charge_once(charge_id: str, customer: str, amount_cents: int) -> Charge:
    """Charges `customer` for `charge_id` unless that charge already happened; returns the
    ledger's record either way. Safe to call again after a crash at any point."""
    recorded = find(charge_id)
    if recorded is not None:
        return recorded
    provider_ref = provider_charge(
        idempotency_key=f"charge:{charge_id}", customer=customer, amount_cents=amount_cents
    )
    return record(Charge(charge_id, customer, amount_cents, provider_ref, _now()))


def find(charge_id: str) -> Charge | None:
    """The ledger's record of `charge_id`, if it was charged."""
    with db.connect() as connection:
        row = connection.execute(
            "SELECT * FROM payments WHERE charge_id = ?", (charge_id,)
        ).fetchone()
    return Charge(**dict(row)) if row is not None else None


def record(charge: Charge) -> Charge:
    """Writes `charge` to the ledger unless an attempt running at the same time was first;
    returns what the ledger holds."""
    with db.connect() as connection:
        connection.execute(
            "INSERT OR IGNORE INTO payments VALUES (:charge_id, :customer, :amount_cents,"
            " :provider_ref, :charged_at)",
            charge.as_dict(),
        )
        row = connection.execute(
            "SELECT * FROM payments WHERE charge_id = ?", (charge.charge_id,)
        ).fetchone()
    return Charge(**dict(row))


def provider_charge(*, idempotency_key: str, customer: str, amount_cents: int) -> str:
    """Stands in for the payment provider's API (`POST /v1/charges` with an
    `Idempotency-Key` header), committed on its own as a remote call would be: the first
    call with a key charges; later calls with that key return the first charge's reference
    and charge nothing."""
    with db.connect() as connection:
        connection.execute(
            "INSERT OR IGNORE INTO provider_charges VALUES (?, ?, ?, ?)",
            (idempotency_key, f"ch_{uuid.uuid4().hex[:16]}", customer, amount_cents),
        )
        row = connection.execute(
            "SELECT provider_ref FROM provider_charges WHERE idempotency_key = ?",
            (idempotency_key,),
        ).fetchone()
    return str(row["provider_ref"])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
