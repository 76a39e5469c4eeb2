"""Workhorse: durable background jobs and schedules for Python web services.

```python
from workhorse import Workhorse, Retry, JobContext

wh = Workhorse()  # WORKHORSE_URL, default http://127.0.0.1:7431

@wh.task(queue="emails", retries=5, timeout=30)
async def send_welcome_email(email: str) -> dict:
    ...

job = await send_welcome_email.enqueue("a@b.c")
print(await job.result(timeout=30))
```

Run the tasks with `workhorse worker app.tasks:wh`; FastAPI helpers are in
`workhorse.fastapi`, pytest fixtures in `workhorse.testing`.
"""

from workhorse._native import (
    ApiError,
    Client,
    EmbeddedServer,
    InvalidRequest,
    ServerUnavailable,
    WorkhorseError,
    WorkhorseTimeout,
    __version__,
)
from workhorse.app import Workhorse
from workhorse.context import JobContext, Resources
from workhorse.errors import (
    Abort,
    ArgumentInvalid,
    ArgumentNotSerializable,
    JobCancelled,
    JobExpired,
    JobFailed,
    Retry,
    UnknownTask,
)
from workhorse.jobs import AttemptError, Job, JobInfo, JobState, Progress
from workhorse.manage import CancelCounts, Fire, QueueInfo, RateLimit, ScheduleInfo
from workhorse.options import Backoff, EnqueueOptions
from workhorse.schedules import Schedule
from workhorse.tasks import AsyncTask, ConfiguredTask, RemoteTask, Task, TaskCall
from workhorse.workflows import (
    Signature,
    Workflow,
    WorkflowFailed,
    WorkflowInfo,
    WorkflowState,
    chain,
    chord,
    group,
)

__all__ = [
    "Abort",
    "ApiError",
    "ArgumentInvalid",
    "ArgumentNotSerializable",
    "AsyncTask",
    "AttemptError",
    "Backoff",
    "CancelCounts",
    "Client",
    "ConfiguredTask",
    "EmbeddedServer",
    "EnqueueOptions",
    "Fire",
    "InvalidRequest",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobExpired",
    "JobFailed",
    "JobInfo",
    "JobState",
    "Progress",
    "QueueInfo",
    "RateLimit",
    "RemoteTask",
    "Resources",
    "Retry",
    "Schedule",
    "ScheduleInfo",
    "ServerUnavailable",
    "Signature",
    "Task",
    "TaskCall",
    "UnknownTask",
    "Workflow",
    "WorkflowFailed",
    "WorkflowInfo",
    "WorkflowState",
    "Workhorse",
    "WorkhorseError",
    "WorkhorseTimeout",
    "__version__",
    "chain",
    "chord",
    "group",
]
