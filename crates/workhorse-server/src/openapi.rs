//! The `OpenAPI` document served at `/openapi.json`: every route and every wire type.

use crate::auth::BearerAuth;
use crate::routes::{health, jobs, queues, schedules, worker, workflows};
use crate::{events, metrics, ws};
use utoipa::OpenApi;
use workhorse_protocol::{
    AckItem, AckOutcomeView, AckRequest, AckResponse, AckResult, BatchEnqueueRequest,
    BatchEnqueueResponse, ClientMessage, CompleteRequest, EnqueueRequest, ErrorReport, FailRequest,
    FetchRequest, FetchResponse, FetchedJob, HeartbeatRequest, HeartbeatResponse, JobLeaseRef,
    JobListResponse, JobView, Problem, QueueListResponse, QueuePatch, QueueView, RedriveRequest,
    RedriveResponse, ServerMessage, WorkerListResponse, WorkerView, WsBeat, WsBeatResult, WsStep,
};
use workhorse_protocol::{CancelManyRequest, CancelManyResponse};
use workhorse_protocol::{
    ChordStep, WorkflowJobView, WorkflowRequest, WorkflowState, WorkflowStep, WorkflowView,
};
use workhorse_protocol::{
    FireView, ScheduleListResponse, ScheduleRequest, ScheduleSetRequest, ScheduleSetResponse,
    ScheduleUpsertResponse, ScheduleView,
};

/// The Workhorse HTTP API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Workhorse",
        description = "Durable background jobs over HTTP. Errors are `application/problem+json` (RFC 9457)."
    ),
    paths(
        jobs::enqueue, jobs::enqueue_batch, jobs::get, jobs::result, jobs::list, jobs::cancel,
        jobs::cancel_many, jobs::retry, jobs::redrive,
        worker::fetch, worker::heartbeat, worker::complete, worker::fail, worker::ack,
        queues::list, queues::update,
        schedules::upsert, schedules::list, schedules::get, schedules::delete,
        schedules::pause, schedules::resume, schedules::trigger, schedules::declare_set,
        workflows::enqueue, workflows::get, workflows::cancel,
        ws::connect, ws::list,
        health::healthz, health::readyz, health::openapi,
        metrics::metrics, events::events,
    ),
    components(schemas(
        EnqueueRequest, BatchEnqueueRequest, BatchEnqueueResponse, JobView, JobListResponse,
        CancelManyRequest, CancelManyResponse, RedriveRequest, RedriveResponse, FetchRequest, FetchResponse, FetchedJob,
        HeartbeatRequest, HeartbeatResponse, CompleteRequest, FailRequest, ErrorReport,
        AckItem, AckRequest, AckResponse, AckResult, AckOutcomeView, JobLeaseRef, WsBeat,
        WsBeatResult, WsStep, ClientMessage, ServerMessage, QueueView, QueueListResponse, QueuePatch,
        WorkerListResponse, WorkerView, Problem, ScheduleRequest, ScheduleView,
        ScheduleUpsertResponse, ScheduleListResponse, ScheduleSetRequest, ScheduleSetResponse,
        FireView, WorkflowRequest, WorkflowStep,
        ChordStep, WorkflowView, WorkflowJobView, WorkflowState,
    )),
    tags(
        (name = "jobs", description = "Enqueue, inspect, cancel and redrive jobs"),
        (name = "workers", description = "Lease and settle jobs: HTTP fetch/ack or the WebSocket session"),
        (name = "queues", description = "Queue controls and counts"),
        (name = "schedules", description = "Cron, interval and one-off schedules, each fire once"),
        (name = "workflows", description = "Chains, groups and chords of jobs, with results passed on"),
        (name = "health", description = "Probes and this document"),
        (name = "operations", description = "Metrics (Prometheus) and live job events (SSE)"),
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;
