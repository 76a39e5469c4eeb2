//! `GET /v1/workers`: the worker sessions connected to this server right now.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use workhorse_core::{JobId, Timestamp};

/// One connected WebSocket worker session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerView {
    /// The session's id (`welcome.worker_id`), also the `worker` of the jobs it holds.
    pub worker_id: String,
    /// The name the worker gave in `hello`.
    pub name: String,
    pub queues: Vec<String>,
    /// How many jobs the worker may hold at once.
    pub credit: u32,
    /// Jobs pushed to the worker and not yet acked or released.
    #[schema(value_type = Vec<String>)]
    pub in_flight: Vec<JobId>,
    #[schema(value_type = String, format = DateTime)]
    pub connected_at: Timestamp,
    /// The last heartbeat frame (or `hello`, before the first heartbeat).
    #[schema(value_type = String, format = DateTime)]
    pub last_heartbeat_at: Timestamp,
    /// Milliseconds since `last_heartbeat_at`, by the server's clock.
    pub heartbeat_age_ms: u64,
}

/// `GET /v1/workers`, sorted by `worker_id`. Only this server's sessions: in a cluster,
/// each node lists the workers connected to it. HTTP fetch clients are not sessions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkerListResponse {
    pub workers: Vec<WorkerView>,
}
