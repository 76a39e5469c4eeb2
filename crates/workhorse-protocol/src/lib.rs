//! Workhorse's wire types: the JSON bodies of the HTTP API under `/v1`, the worker
//! protocol messages (HTTP and WebSocket), and problem details for errors.
//!
//! Request bodies refuse unknown fields, so a typo is an error rather than a silently
//! ignored option.

mod enqueue;
mod jobs;
mod problem;
mod queues;
mod schedules;
mod sessions;
mod trace;
mod worker;
mod workflows;

pub use enqueue::{BatchEnqueueRequest, BatchEnqueueResponse, EnqueueRequest};
pub use jobs::{
    CancelManyRequest, CancelManyResponse, JobListQuery, JobListResponse, JobView, RedriveRequest,
    RedriveResponse, ResultQuery,
};
pub use problem::Problem;
pub use queues::{QueueListResponse, QueuePatch, QueueView};
pub use schedules::{
    FireView, ScheduleGetQuery, ScheduleListResponse, ScheduleRequest, ScheduleSetRequest,
    ScheduleSetResponse, ScheduleUpsertResponse, ScheduleView,
};
pub use sessions::{WorkerListResponse, WorkerView};
pub use trace::TraceParent;
pub use worker::{
    AckItem, AckOutcomeView, AckRequest, AckResponse, AckResult, ClientMessage, CompleteRequest,
    ErrorReport, FailRequest, FetchRequest, FetchResponse, FetchedJob, HeartbeatRequest,
    HeartbeatResponse, JobLeaseRef, ServerMessage, WsBeat, WsBeatResult, WsStep,
};
pub use workflows::{
    ChordStep, WorkflowJobView, WorkflowRequest, WorkflowState, WorkflowStep, WorkflowView,
};

/// `null` clears, absent leaves alone: `Option<Option<T>>` for PATCH bodies.
#[expect(
    clippy::option_option,
    reason = "absent, null and a value are three different PATCH intents"
)]
pub(crate) mod double_option_ser {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }

    #[expect(
        clippy::ref_option,
        reason = "serde's `with` passes the field by reference"
    )]
    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }
}

/// Milliseconds as a [`std::time::Duration`].
pub(crate) fn ms(ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(ms)
}
