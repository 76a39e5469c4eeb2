"""The service's own database: a small SQLite file (`APP_DB`, default `./app.db`).

It holds what the tasks must remember across attempts: the payments ledger, what the
stand-in payment provider charged, and the generated reports. Tasks open a connection per
job (SQLite connections must not cross threads or processes).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    charge_id    TEXT PRIMARY KEY,
    customer     TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    provider_ref TEXT NOT NULL,
    charged_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS provider_charges (
    idempotency_key TEXT PRIMARY KEY,
    provider_ref    TEXT NOT NULL,
    customer        TEXT NOT NULL,
    amount_cents    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    order_id    TEXT PRIMARY KEY,
    customer    TEXT NOT NULL,
    total       TEXT NOT NULL,
    shipped_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    job_id     TEXT PRIMARY KEY,
    month      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


def path() -> str:
    """Where the database lives; read on every use so tests can point it elsewhere."""
    return os.environ.get("APP_DB", "app.db")


@contextmanager
def connect(*, any_thread: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection in one transaction: committed when the block ends, rolled back if it
    raises. Creates the tables on first use. `any_thread`: the connection may be used from
    another thread than the one opening it, one at a time (what a dependency needs)."""
    connection = sqlite3.connect(path(), timeout=10, check_same_thread=not any_thread)
    connection.row_factory = sqlite3.Row
    try:
        # WAL: the web process and the workers read while another one writes.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
        with connection:
            yield connection
    finally:
        connection.close()


def get_db() -> Iterator[sqlite3.Connection]:
    """A FastAPI dependency: one connection in one transaction per request, or per job
    when a task declares it (`db: sqlite3.Connection = Depends(get_db)`). Committed after
    success, rolled back when the endpoint or the task raised. As in FastAPI, a plain
    generator dependency runs in a thread of its own, so the connection crosses threads."""
    with connect(any_thread=True) as connection:
        yield connection
