use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use workhorse_core::{RateLimit, Timestamp};

/// A queue: its controls and what it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueView {
    pub name: String,
    pub paused: bool,
    pub max_running: Option<u32>,
    #[schema(value_type = Option<Object>)]
    pub rate_limit: Option<RateLimit>,
    /// Jobs per state.
    pub counts: BTreeMap<String, u64>,
    /// When the oldest ready job became ready.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub oldest_ready_at: Option<Timestamp>,
}

/// `GET /v1/queues`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QueueListResponse {
    pub queues: Vec<QueueView>,
}

/// `PATCH /v1/queues/{name}`: absent fields stay as they are; `null` removes a limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueuePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    #[serde(
        default,
        with = "crate::double_option_ser",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>)]
    pub max_running: Option<Option<u32>>,
    /// `{"limit": N, "period_ms": P}`: at most N job starts per window of P ms.
    #[serde(
        default,
        with = "crate::double_option_ser",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Object>)]
    pub rate_limit: Option<Option<RateLimit>>,
}
