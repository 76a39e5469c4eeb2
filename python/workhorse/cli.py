"""The `workhorse` command: `workhorse worker ...` runs Python tasks; every other
subcommand (`serve`, `jobs`, `queues`, `schedules`, `dlq`...) is the Rust command line,
run from the native module, so `pip install` alone gives the server too."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from workhorse import _native
from workhorse.app import Workhorse
from workhorse.logs import configure_logging
from workhorse.worker import Worker, serve

__all__ = ["main"]

logger = logging.getLogger("workhorse.worker")

WORKER_HELP = "  worker     Run the Python tasks of an app: workhorse worker app.tasks:wh (see --help)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `workhorse` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "worker":
        return run_worker_command(args[1:])
    # The Rust command line never returns to Python while it runs, so Python's ctrl-c
    # handler (which only sets a flag) would leave it running: let ctrl-c end the process,
    # as it ends the `workhorse` binary (`serve` installs its own graceful handler).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    status = _native.run_cli(args)
    if not args or args[0] in ("-h", "--help", "help"):
        print(WORKER_HELP)
    return status


def worker_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workhorse worker",
        description="Run the tasks of a Workhorse app: async functions on one event loop, "
        "plain functions in threads, isolation='process' tasks in child processes.",
    )
    parser.add_argument(
        "app", help="the app object, as module:attribute (e.g. app.tasks:wh)"
    )
    parser.add_argument(
        "--queues",
        default=None,
        help="comma-separated queues to take jobs from (default: every queue the tasks use)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=100,
        help="jobs run at once (default 100)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=30.0,
        help="seconds in-flight jobs get to finish on SIGTERM/ctrl-c (default 30)",
    )
    parser.add_argument(
        "--processes",
        type=_positive_int,
        default=None,
        help='child processes for isolation="process" tasks (default: the CPU count)',
    )
    parser.add_argument(
        "--max-jobs-per-child",
        type=_positive_int,
        default=None,
        metavar="N",
        help='replace an isolation="process" child after it ran N jobs (default: never)',
    )
    parser.add_argument(
        "--max-memory-per-child",
        type=_positive_int,
        default=None,
        metavar="KIB",
        help='replace an isolation="process" child, between jobs, once its resident memory '
        "is over KIB kibibytes (default: never)",
    )
    parser.add_argument(
        "--name", default=None, help="worker name shown on the dashboard"
    )
    parser.add_argument(
        "--url",
        default=None,
        help="server URL (default: the app's, else WORKHORSE_URL)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level (default info)",
    )
    parser.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="format of the worker's log handler: text, or one JSON object per line "
        "(default text; not used when the app configured logging itself)",
    )
    parser.add_argument(
        "--log-config",
        default=None,
        metavar="FILE",
        help="logging configuration: a JSON file for logging.config.dictConfig, or an INI "
        "file for fileConfig (replaces --log-level and --log-format)",
    )
    return parser


def run_worker_command(argv: Sequence[str]) -> int:
    """`workhorse worker APP [options]`."""
    options = worker_parser().parse_args(argv)
    _native.init_logging("warn")
    try:
        app = load_app(options.app)
    except (ImportError, AttributeError, TypeError) as error:
        print(f"workhorse worker: {error}", file=sys.stderr)
        return 2
    # After the app's import, so that logging the app configured itself is kept.
    try:
        configure_logging(options.log_level, options.log_format, options.log_config)
    except (OSError, ValueError, KeyError) as error:
        print(
            f"workhorse worker: --log-config {options.log_config}: {error}",
            file=sys.stderr,
        )
        return 2
    if options.url:
        app.configure(url=options.url)
    worker = Worker(
        app,
        queues=options.queues.split(",") if options.queues else None,
        concurrency=options.concurrency,
        grace=options.grace,
        processes=options.processes,
        name=options.name,
        max_jobs_per_child=options.max_jobs_per_child,
        max_memory_per_child=options.max_memory_per_child,
    )
    try:
        asyncio.run(serve(worker))
    except _native.WorkhorseError as error:
        print(f"workhorse worker: {error}", file=sys.stderr)
        leave(1)
    blocked = worker.blocked_threads()
    if blocked:
        logger.warning("exiting with %d task thread(s) still blocked", blocked)
    leave(0)


def load_app(spec: str) -> Workhorse:
    """Imports `module:attribute` (the current directory is importable, as for uvicorn)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise TypeError(f"expected module:attribute (e.g. app.tasks:wh), got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    app = getattr(module, attribute, None)
    if not isinstance(app, Workhorse):
        found = "nothing" if app is None else type(app).__name__
        raise TypeError(f"{spec} is not a Workhorse app (found {found})")
    return app


def leave(status: int) -> NoReturn:
    """Ends the worker process without finalizing the interpreter.

    Two things make finalization unsafe once a worker ran: a plain function that
    ignored `ctx.cancelled` may still block its thread (its job was already handed
    back), and the interpreter would wait for it forever; and a native runtime thread
    may still be handing a last result to the (closed) event loop, which aborts the
    process if the interpreter is torn down under it. So run the `atexit` handlers
    (telemetry flushes and the like), flush the logs and streams, and exit.
    """
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value
