"""Workflows: jobs that wait for other jobs and receive their results (see docs/workflows.md).

```python
flow = wh.chain(fetch.s("s3://bucket/cat.png"), resize.s(128), notify.s())
await flow.enqueue()            # every job committed in one transaction
print(await flow.result(timeout=60))
```

A signature (`task.s(...)`) is one job of a workflow; it receives its parents' results
before its own arguments: the result of the step before it in a chain, or the list of a
group's results (in group order) after a group or as a chord's callback. `task.si(...)`
receives nothing. `chain`, `group` and `chord` nest freely.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from workhorse import _json
from workhorse._native import WorkhorseError
from workhorse.jobs import JobInfo, JobState

if TYPE_CHECKING:
    from workhorse._native import Client
    from workhorse.app import Workhorse
    from workhorse.tasks import Enqueueable

__all__ = [
    "Canvas",
    "Chain",
    "Chord",
    "Group",
    "OnParentFailure",
    "Signature",
    "Workflow",
    "WorkflowFailed",
    "WorkflowInfo",
    "WorkflowState",
    "chain",
    "chord",
    "group",
]

OnParentFailure = Literal["cancel", "run_anyway"]
"""What happens to the jobs waiting on a job that ends dead, cancelled or expired:
`"cancel"` them (default, transitively) or `"run_anyway"` (they receive `None` for its result)."""

# The server answers a wait within this many seconds; ask for less and wait again.
_LONGEST_WAIT = 50.0


class Canvas:
    """A step of a workflow: a `Signature`, `Chain`, `Group` or `Chord`."""

    def document(self, path: str, receives: bool) -> dict[str, Any]:
        """The step's JSON document. `path` names it in errors (`workflow.chain[1]`);
        `receives` says whether it gets its parents' results."""
        raise NotImplementedError

    def __or__(self, other: Canvas) -> Chain:
        """`a.s() | b.s()`: a chain of the two steps."""
        return chain(self, other)


@dataclass(frozen=True)
class Signature(Canvas):
    """One job of a workflow: a task, its arguments and its options (`task.s(...)`,
    `task.si(...)`, or `task.options(...).s(...)`)."""

    target: Enqueueable
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    immutable: bool = False
    """Receives nothing from its parents (Celery's `.si()`)."""

    @property
    def task(self) -> str:
        return self.target.name

    def document(self, path: str, receives: bool) -> dict[str, Any]:
        kind = "immutable" if self.immutable else "job"
        where = f"{path}.{kind} ({self.task})"
        gets_parent_results = receives and not self.immutable
        # The parents' results come first: check the call as the worker will make it.
        args = (None, *self.args) if gets_parent_results else self.args
        try:
            self.target.check_arguments(args, dict(self.kwargs))
        except TypeError as error:
            received = " (after its parents' results)" if gets_parent_results else ""
            raise TypeError(f"{where}{received}: {error}") from None
        _json.check_serializable(self._named_arguments(), where)
        request = self.target.defaults.request(
            self.task, list(self.args), dict(self.kwargs)
        )
        for option, request_field in (("key", "key"), ("expires", "expires_at")):
            if request_field in request:
                raise ValueError(
                    f"{where}: a workflow job cannot have the {option!r} option "
                    "(it is enqueued with its workflow, atomically)"
                )
        return {kind: request}

    def _named_arguments(self) -> Iterable[tuple[str, Any]]:
        for index, value in enumerate(self.args):
            yield f"positional argument {index}", value
        for name, value in self.kwargs.items():
            yield f"argument {name!r}", value

    def __repr__(self) -> str:
        call = ", ".join(
            [repr(a) for a in self.args]
            + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        )
        return f"{self.task}.{'si' if self.immutable else 's'}({call})"


@dataclass(frozen=True)
class Chain(Canvas):
    """Steps one after another; each receives the result of the one before it."""

    steps: tuple[Canvas, ...]

    def document(self, path: str, receives: bool) -> dict[str, Any]:
        here = f"{path}.chain"
        _require_steps(self.steps, here, "chain")
        return {
            "chain": [
                step.document(f"{here}[{i}]", receives or i > 0)
                for i, step in enumerate(self.steps)
            ]
        }


@dataclass(frozen=True)
class Group(Canvas):
    """Steps side by side; the group's result is the list of theirs, in group order."""

    members: tuple[Canvas, ...]

    def document(self, path: str, receives: bool) -> dict[str, Any]:
        here = f"{path}.group"
        _require_steps(self.members, here, "group")
        return {"group": self._member_documents(here, receives)}

    def _member_documents(self, path: str, receives: bool) -> list[dict[str, Any]]:
        return [
            m.document(f"{path}[{i}]", receives) for i, m in enumerate(self.members)
        ]


@dataclass(frozen=True)
class Chord(Canvas):
    """A group, then a callback that receives the list of the group's results."""

    group: Group
    callback: Canvas

    def document(self, path: str, receives: bool) -> dict[str, Any]:
        here = f"{path}.chord"
        _require_steps(self.group.members, f"{here}.group", "chord's group")
        return {
            "chord": {
                "group": self.group._member_documents(f"{here}.group", receives),
                "callback": self.callback.document(f"{here}.callback", True),
            }
        }


def chain(*steps: Canvas) -> Chain:
    """Steps one after another: `chain(a.s(1), b.s(), c.s())` runs `c(b(a(1)))`."""
    return Chain(tuple(_step(s) for s in steps))


def group(*members: Canvas | Iterable[Canvas]) -> Group:
    """Steps side by side: `group(a.s(1), a.s(2))`, or `group(a.s(i) for i in ...)`."""
    if len(members) == 1 and not isinstance(members[0], Canvas):
        members = tuple(members[0])
    return Group(tuple(_step(m) for m in members))


def chord(members: Canvas | Iterable[Canvas], callback: Canvas) -> Chord:
    """A group, then `callback` with the list of its results:
    `chord(group(a.s(1), a.s(2)), total.s())` (a list of steps works as the group too)."""
    first = _step(members) if isinstance(members, Canvas) else group(members)
    if not isinstance(first, Group):
        raise TypeError(f"a chord's first argument is a group (got {first!r})")
    return Chord(first, _step(callback))


def _step(step: object) -> Canvas:
    if isinstance(step, Workflow):
        return step.canvas
    if not isinstance(step, Canvas):
        raise TypeError(
            f"a workflow step is a signature (task.s(...)), chain, group or chord "
            f"(got {step!r})"
        )
    return step


def _require_steps(steps: tuple[Canvas, ...], path: str, what: str) -> None:
    if not steps:
        raise ValueError(f"{path}: an empty {what}: give it at least one step")


class WorkflowState(str, Enum):
    """Where a workflow is, taken together."""

    RUNNING = "running"
    """Some job has not finished."""
    SUCCEEDED = "succeeded"
    """Every job succeeded."""
    FAILED = "failed"
    """Every job finished and at least one did not succeed."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class WorkflowInfo:
    """A workflow as it stood when it was read (the `GET /v1/workflows/{id}` document)."""

    id: str
    state: WorkflowState
    on_parent_failure: OnParentFailure
    result: Any
    """The workflow's result once it succeeded: its last job's (a chain, a chord), or the
    list of its members' (a group)."""
    jobs: list[JobInfo]
    """Every job, parents before the jobs waiting on them."""
    parents: dict[str, list[str]]
    """Each job's parents (by job id), in the order their results are passed."""

    @property
    def finished(self) -> bool:
        return self.state is not WorkflowState.RUNNING

    @property
    def failed_jobs(self) -> list[JobInfo]:
        """The jobs that finished without succeeding (dead, cancelled or expired)."""
        return [
            j for j in self.jobs if j.finished and j.state is not JobState.SUCCEEDED
        ]

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> WorkflowInfo:
        """Reads a workflow view document."""
        return cls(
            id=view["id"],
            state=WorkflowState(view["state"]),
            on_parent_failure=view["on_parent_failure"],
            result=view.get("result"),
            jobs=[JobInfo.from_view(job) for job in view["jobs"]],
            parents={job["id"]: job["parents"] for job in view["jobs"]},
        )


class WorkflowFailed(WorkhorseError):
    """The workflow finished and some job did not succeed; `info` is the workflow as it
    then stood (`info.failed_jobs` says which)."""

    def __init__(self, info: WorkflowInfo) -> None:
        failed = ", ".join(f"{j.task} {j.id} ({j.state})" for j in info.failed_jobs)
        super().__init__(f"workflow {info.id} failed: {failed}")
        self.info = info


class Workflow(Canvas):
    """A workflow of an app: `wh.chain(...)`, `wh.group(...)`, `wh.chord(...)`, or
    `wh.workflow(id)` for one already enqueued. `enqueue()` commits every job at once;
    then `status()`, `result()` and `cancel()` read and steer it. A workflow not yet
    enqueued nests in others like any step.

    Each coroutine has a blocking twin named `<name>_sync` for synchronous code.
    """

    def __init__(
        self,
        canvas: Canvas | None,
        app: Workhorse,
        *,
        on_parent_failure: OnParentFailure = "cancel",
        workflow_id: str | None = None,
    ) -> None:
        if on_parent_failure not in ("cancel", "run_anyway"):
            raise ValueError(
                f'on_parent_failure must be "cancel" or "run_anyway" (got {on_parent_failure!r})'
            )
        self._canvas = canvas
        self.app = app
        self.on_parent_failure: OnParentFailure = on_parent_failure
        self.id = workflow_id
        """The workflow's id, once it is enqueued."""
        self.enqueued: WorkflowInfo | None = None
        """The workflow as `enqueue()` committed it."""

    def __repr__(self) -> str:
        return f"<Workflow {self.id or 'not enqueued'}>"

    @property
    def canvas(self) -> Canvas:
        """The steps this workflow was built from."""
        if self._canvas is None:
            raise ValueError(f"workflow {self.id} was not built here: it has no steps")
        return self._canvas

    def document(self, path: str, receives: bool) -> dict[str, Any]:
        return self.canvas.document(path, receives)

    def request(self) -> str:
        """The `POST /v1/workflows` document, as JSON text. Raises before anything is
        sent for an empty chain or group, arguments that do not fit a task or do not
        serialize, or a job option a workflow cannot have (`key`, `expires`)."""
        body = {
            "workflow": self.canvas.document("workflow", False),
            "on_parent_failure": self.on_parent_failure,
        }
        return _json.dumps(body)

    async def enqueue(self) -> Workflow:
        """Enqueues every job of the workflow in one transaction; returns this handle
        once they are committed."""
        request = self._request_once()
        return self._enqueued(await self.app.client.enqueue_workflow(request))

    def enqueue_sync(self) -> Workflow:
        request = self._request_once()
        return self._enqueued(self.app.client.enqueue_workflow_sync(request))

    def _request_once(self) -> str:
        if self.id is not None:
            raise RuntimeError(f"workflow {self.id} is already enqueued")
        return self.request()

    def _enqueued(self, answer: str) -> Workflow:
        self.enqueued = _info(answer)
        self.id = self.enqueued.id
        return self

    async def status(self) -> WorkflowInfo:
        """Reads the workflow: every job's state, and the result once it succeeded."""
        return _info(await self._client.get_workflow(self._id))

    def status_sync(self) -> WorkflowInfo:
        return _info(self._client.get_workflow_sync(self._id))

    async def cancel(self) -> WorkflowInfo:
        """Cancels every unfinished job: waiting ones at once, running ones on their next
        heartbeat. Returns the workflow as it then stands."""
        return _info(await self._client.cancel_workflow(self._id))

    def cancel_sync(self) -> WorkflowInfo:
        return _info(self._client.cancel_workflow_sync(self._id))

    async def wait(self, timeout: float | None = None) -> WorkflowInfo:
        """Waits until every job has finished; `TimeoutError` after `timeout` seconds
        (`None`: as long as it takes)."""
        deadline = _deadline(timeout)
        while True:
            answer = await self._client.wait_for_workflow(
                self._id, _next_wait(deadline)
            )
            info = _info(answer)
            if info.finished:
                return info
            self._check_deadline(deadline, timeout)

    def wait_sync(self, timeout: float | None = None) -> WorkflowInfo:
        deadline = _deadline(timeout)
        while True:
            info = _info(
                self._client.wait_for_workflow_sync(self._id, _next_wait(deadline))
            )
            if info.finished:
                return info
            self._check_deadline(deadline, timeout)

    async def result(self, timeout: float | None = None) -> Any:
        """Waits for the workflow to finish and returns its result: its last job's (a
        chain, a chord) or the list of its members' (a group). Raises `WorkflowFailed`
        when some job did not succeed, `TimeoutError` after `timeout` seconds."""
        return _outcome(await self.wait(timeout))

    def result_sync(self, timeout: float | None = None) -> Any:
        return _outcome(self.wait_sync(timeout))

    @property
    def _id(self) -> str:
        if self.id is None:
            raise RuntimeError("the workflow is not enqueued yet: call enqueue() first")
        return self.id

    @property
    def _client(self) -> Client:
        return self.app.client

    def _check_deadline(self, deadline: float | None, timeout: float | None) -> None:
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"workflow {self.id} did not finish within {timeout} s")


def _outcome(info: WorkflowInfo) -> Any:
    if info.state is WorkflowState.SUCCEEDED:
        return info.result
    raise WorkflowFailed(info)


def _info(text: str) -> WorkflowInfo:
    return WorkflowInfo.from_view(json.loads(text))


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _next_wait(deadline: float | None) -> float:
    if deadline is None:
        return _LONGEST_WAIT
    return min(_LONGEST_WAIT, max(0.0, deadline - time.monotonic()))
