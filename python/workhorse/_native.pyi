"""The native module: Workhorse's Rust client, worker session, embedded server and CLI.

Python never speaks the protocol itself: every request, session, heartbeat and ack goes
through this module. Payloads cross as JSON text (the documented HTTP API's documents):
requests in, job views out. Blocking (`*_sync`) calls release the GIL while they wait.

The `async def` methods return asyncio futures of the running event loop (call them from a
coroutine and await them; wrap them in a coroutine to hand them to `asyncio.create_task`).
"""

from collections.abc import Sequence

__version__: str

class WorkhorseError(Exception):
    """Base of every error raised by Workhorse. `str(e)` is a message meant for people."""

class ServerUnavailable(WorkhorseError):
    """No connection could be made, or the exchange broke off. The message names the URL."""

class WorkhorseTimeout(WorkhorseError, TimeoutError):
    """The server did not answer within the client's timeout (plus the wait of a long
    poll). The message names the URL, the path and the time waited. The request may or
    may not have taken effect."""

class ApiError(WorkhorseError):
    """The server refused the request (problem+json).

    `args == (message, status, problem)`: `status` the HTTP status, `problem` the
    problem+json document as JSON text (its `detail`, and `field` for bad input).
    """

    @property
    def status(self) -> int: ...
    @property
    def problem(self) -> str: ...

class InvalidRequest(WorkhorseError):
    """A request document was refused before it was sent (bad JSON, unknown field,
    bad URL): nothing was sent and nothing changed."""

class Client:
    """An HTTP client of one server. Cheap to share between threads and event loops."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        ca_file: str | None = None,
    ) -> None:
        """`url` default: `WORKHORSE_URL`, else `http://127.0.0.1:7431`; `token` default:
        `WORKHORSE_TOKEN`. `timeout`: seconds a request may take (default 10), after which
        it raises `WorkhorseTimeout`; `retries`: how often a call safe to repeat is
        retried after a dropped connection or a 502/503/504 (default 3; 0: never);
        `ca_file`: a PEM bundle of extra roots (default `WORKHORSE_CA_FILE`). Raises
        `InvalidRequest` for a URL that is not http(s) or an unusable CA file."""
    @property
    def url(self) -> str: ...
    # Each coroutine has a blocking twin named `<name>_sync`.
    async def health(self) -> None: ...
    def health_sync(self) -> None: ...
    async def enqueue(self, request: str) -> str:
        """`request`: an EnqueueRequest document (`{"task": ..., "args": [...], ...}`).
        Returns the job view (JSON text) once the job is committed."""
    def enqueue_sync(self, request: str) -> str: ...
    async def enqueue_many(self, requests: str) -> str:
        """`requests`: a JSON array of EnqueueRequest documents, committed together.
        Returns a JSON array of job views, in order."""
    def enqueue_many_sync(self, requests: str) -> str: ...
    async def get_job(self, job_id: str) -> str: ...
    def get_job_sync(self, job_id: str) -> str: ...
    async def cancel_job(self, job_id: str) -> str: ...
    def cancel_job_sync(self, job_id: str) -> str: ...
    async def retry_job(self, job_id: str) -> str: ...
    def retry_job_sync(self, job_id: str) -> str: ...
    async def wait_for_job(self, job_id: str, timeout: float) -> str:
        """Long-polls until the job is finished or `timeout` seconds pass; returns the
        job view as it then stands (check its `state`)."""
    def wait_for_job_sync(self, job_id: str, timeout: float) -> str: ...
    async def upsert_schedule(self, name: str, definition: str) -> str:
        """`definition`: the `PUT /v1/schedules/{name}` document. Returns the schedule view."""
    def upsert_schedule_sync(self, name: str, definition: str) -> str: ...
    async def declare_schedule_set(self, owner: str, request: str) -> str:
        """`request`: the `PUT /v1/schedule-sets/{owner}` document (`{"schedules": {name:
        definition}}`). Declares the owner's whole set; returns `{"schedules": [...],
        "deleted": [...]}`."""
    def declare_schedule_set_sync(self, owner: str, request: str) -> str: ...
    async def list_queues(self) -> str: ...
    def list_queues_sync(self) -> str: ...
    async def list_schedules(self) -> str:
        """`GET /v1/schedules`: every schedule (JSON text)."""
    def list_schedules_sync(self) -> str: ...
    async def get_schedule(self, name: str) -> str:
        """One schedule with its next fire times and recent fires."""
    def get_schedule_sync(self, name: str) -> str: ...
    async def delete_schedule(self, name: str) -> str: ...
    def delete_schedule_sync(self, name: str) -> str: ...
    async def pause_schedule(self, name: str, paused: bool) -> str:
        """Pauses (`paused=True`) or resumes the schedule; returns it."""
    def pause_schedule_sync(self, name: str, paused: bool) -> str: ...
    async def trigger_schedule(self, name: str) -> str:
        """Fires the schedule now; returns the fire (JSON text)."""
    def trigger_schedule_sync(self, name: str) -> str: ...
    async def list_jobs(self, query: str) -> str:
        """`query`: the `GET /v1/jobs` filters as a JSON object. Returns one page."""
    def list_jobs_sync(self, query: str) -> str: ...
    async def redrive(self, request: str) -> str:
        """`request`: a `POST /v1/jobs/redrive` document. Returns `{count, jobs}`."""
    def redrive_sync(self, request: str) -> str: ...
    async def cancel_jobs(self, request: str) -> str:
        """`request`: a `POST /v1/jobs/cancel` document. Returns
        `{cancelled, cancel_requested, more}`."""
    def cancel_jobs_sync(self, request: str) -> str: ...
    async def update_queue(self, name: str, patch: str) -> str:
        """`patch`: a `PATCH /v1/queues/{name}` document. Returns the queue."""
    def update_queue_sync(self, name: str, patch: str) -> str: ...
    async def enqueue_workflow(self, request: str) -> str:
        """`request`: a `POST /v1/workflows` document (`{"workflow": step, ...}`). Returns
        the workflow view (JSON text) once every job is committed."""
    def enqueue_workflow_sync(self, request: str) -> str: ...
    async def get_workflow(self, workflow_id: str) -> str: ...
    def get_workflow_sync(self, workflow_id: str) -> str: ...
    async def cancel_workflow(self, workflow_id: str) -> str:
        """Cancels every unfinished job of the workflow; returns the workflow view."""
    def cancel_workflow_sync(self, workflow_id: str) -> str: ...
    async def wait_for_workflow(self, workflow_id: str, timeout: float) -> str:
        """Reads the workflow until every job finished or `timeout` seconds pass; returns
        the workflow view as it then stands (check its `state`)."""
    def wait_for_workflow_sync(self, workflow_id: str, timeout: float) -> str: ...

class NativeJob:
    """One job handed to Python by a `NativeWorker`. Its lease is kept alive by the
    worker's heartbeats until an outcome is given."""

    @property
    def id(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def args(self) -> str:
        """Positional arguments, a JSON array as text."""
    @property
    def kwargs(self) -> str:
        """Keyword arguments, a JSON object as text."""
    @property
    def metadata(self) -> str | None: ...
    @property
    def timeout(self) -> float | None:
        """The attempt's time limit in seconds, if any."""
    @property
    def stop_reason(self) -> str | None:
        """Why the job was told to stop, once it was: `"Cancelled"`, `"LeaseLost"`,
        `"TimeLimitExceeded"` or `"WorkerShutdown"`."""
    @property
    def cancelled(self) -> bool:
        """Whether the job was told to stop (any reason)."""
    def progress(self, fraction: float, message: str | None = None) -> None:
        """Sent with the next heartbeat; a later report replaces one not yet sent."""
    def complete(self, result: str) -> None:
        """The attempt succeeded with `result` (JSON text). The first outcome wins; later
        ones, and outcomes after the worker gave up on the job, are ignored."""
    def fail(
        self,
        kind: str,
        message: str,
        traceback: str | None = None,
        retry_in: float | None = None,
        fatal: bool = False,
    ) -> None:
        """The attempt failed. `retry_in` (seconds) asks for a retry after that delay
        (counted as an attempt); `fatal` skips remaining retries."""

class NativeWorker:
    """A worker session (over WebSocket) that hands jobs of the registered task names to
    Python and sends back their outcomes, with heartbeats, batched acks, reconnects and
    graceful shutdown done in Rust."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        tasks: Sequence[str],
        queues: Sequence[str],
        concurrency: int = 10,
        prefetch: int | None = None,
        grace: float = 30.0,
        cancel_grace: float = 1.0,
        name: str | None = None,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    def start(self) -> None:
        """Connects and starts taking jobs (in the background). Call once."""
    async def next_batch(
        self, max_jobs: int
    ) -> tuple[list[NativeJob], list[tuple[str, str]]]:
        """Waits until there is something to do, then returns at most `max_jobs` new jobs
        and every pending stop notice `(job_id, reason)` for jobs already handed out
        (in this batch or an earlier one; a job told to stop before it was handed out is
        never handed out). Returns `([], [])` once the worker has finished (after
        `shutdown`)."""
    def shutdown(self) -> None:
        """Stop taking jobs; jobs not yet started are handed back; running ones get the
        grace period, then stop notices with reason `"WorkerShutdown"`."""
    async def wait_closed(self) -> None:
        """Resolves when the worker has stopped and every outcome was answered. Raises
        `ApiError` if the server refused the session (bad token or queue name)."""

class EmbeddedServer:
    """A real Workhorse server (engine + HTTP API + worker sessions) running inside this
    process on its own threads, on an SQLite store in `data_dir`. For tests and scripts."""

    def __init__(
        self, data_dir: str, port: int = 0, lease: float | None = None
    ) -> None:
        """Starts listening on 127.0.0.1:`port` (0: a free port) before returning."""
    @property
    def url(self) -> str: ...
    def stop(self) -> None:
        """Stops the server gracefully and waits for it (idempotent)."""

def run_cli(argv: Sequence[str]) -> int:
    """Runs the Rust `workhorse` command line with `argv` (without the program name);
    returns its exit status. Releases the GIL while it runs."""

def init_logging(filter: str | None = None) -> None:
    """Sends the native layer's logs to stderr (`RUST_LOG`-style filter, default `warn`)."""
