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
def connect() -> Iterator[sqlite3.Connection]:
    """A connection in one transaction: committed when the block ends, rolled back if it
    raises. Creates the tables on first use."""
    connection = sqlite3.connect(path(), timeout=10)
    connection.row_factory = sqlite3.Row
    try:
        # WAL: the web process and the workers read while another one writes.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
        with connection:
            yield connection
    finally:
        connection.close()
