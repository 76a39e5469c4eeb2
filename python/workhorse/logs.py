"""Job ids on log records.

While a job runs, every record logged from its task — through `ctx.logger` or any other
logger, on the event loop, in a worker thread or in a task's own process — carries two
attributes: `job_id` and `task` (both `None` outside a job). JSON log formatters pick them
up as they are; the worker's own formats show them as `[job <id> <task>]` (text) or as the
`job_id` and `task` fields (`--log-format json`).
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import sys
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = [
    "JobJsonFormatter",
    "JobLogFormatter",
    "LogFormat",
    "configure_logging",
    "current_job",
    "install_job_records",
]

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


class JobJsonFormatter(logging.Formatter):
    """One JSON object per record: `time`, `level`, `logger`, `message`, `job_id` and
    `task` (`null` outside a job), `exception` when there is one, and any `extra=` fields
    that are JSON values."""

    _STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
        "message",
        "asctime",
        "job",
    }

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "job_id": getattr(record, "job_id", None),
            "task": getattr(record, "task", None),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        for name, value in record.__dict__.items():
            if name not in self._STANDARD and name not in document:
                document[name] = value
        return json.dumps(document, default=repr, ensure_ascii=False)


LogFormat = Literal["text", "json"]


def configure_logging(
    level: str, log_format: LogFormat = "text", config_file: str | None = None
) -> None:
    """The worker command's logging. Records carry job ids in every case.

    - `config_file`: the app's own configuration (`logging.config.dictConfig` of a JSON
      file, else `fileConfig` of an INI file); nothing else is changed.
    - otherwise, when the root logger has no handler yet (as `logging.basicConfig`): one
      handler to stderr, the root logger at `level`, in the text or JSON format. An app
      that configured logging itself (at import: the worker loads the app first) keeps its
      handlers and levels as they are.
    """
    install_job_records()
    if config_file is not None:
        _load_config(config_file)
        return
    root = logging.getLogger()
    if root.handlers:
        return
    root.setLevel(level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JobJsonFormatter() if log_format == "json" else JobLogFormatter()
    )
    root.addHandler(handler)


def _load_config(path: str) -> None:
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as file:
            logging.config.dictConfig(json.load(file))
    else:
        logging.config.fileConfig(path, disable_existing_loggers=False)
