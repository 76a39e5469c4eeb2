"""Job ids on log records.

While a job runs, every record logged from its task — through `ctx.logger` or any other
logger, on the event loop, in a worker thread or in a task's own process — carries two
attributes: `job_id` and `task` (both `None` outside a job). JSON log formatters pick them
up as they are; the worker's own format shows them as `[job <id> <task>]`.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import Any

__all__ = ["JobLogFormatter", "configure_logging", "current_job", "install_job_records"]

current_job: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "workhorse_current_job", default=None
)
"""`(job id, task name)` of the job running in this context, if any."""

_installed = False


def install_job_records() -> None:
    """Makes every log record carry `job_id` and `task` (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        job = current_job.get()
        record.job_id, record.task = job if job is not None else (None, None)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


class JobLogFormatter(logging.Formatter):
    """`time level logger [job <id> <task>]: message`, the job part only inside a job."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(job)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        job_id = getattr(record, "job_id", None)
        record.job = f" [job {job_id} {getattr(record, 'task', '')}]" if job_id else ""
        return super().format(record)


def configure_logging(level: str) -> None:
    """The worker command's logging: `level` and above to stderr, with job ids."""
    install_job_records()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JobLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
