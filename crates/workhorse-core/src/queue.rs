//! Queues: named, created on first use, with pause, max running and a rate limit.

use crate::job::InvalidJob;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The queue a job goes to when none is named.
pub const DEFAULT_QUEUE: &str = "default";

/// Queue names: 1–200 bytes of ASCII letters, digits, `_`, `-`, `.` and `:`.
pub fn validate_queue_name(name: &str) -> Result<(), InvalidJob> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    let message = if name.is_empty() {
        "queue must not be empty".to_owned()
    } else if name.len() > crate::limits::MAX_NAME_LEN {
        format!(
            "queue is {} bytes long; the limit is {}",
            name.len(),
            crate::limits::MAX_NAME_LEN
        )
    } else if !name.chars().all(ok_char) {
        format!("queue {name:?} may hold only ASCII letters, digits, '_', '-', '.' and ':'")
    } else {
        return Ok(());
    };
    Err(InvalidJob {
        field: "queue",
        message,
    })
}

/// At most `limit` jobs start per `period` (a fixed window, as the limiter of `BullMQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub limit: u32,
    #[serde(with = "duration_ms", rename = "period_ms")]
    pub period: Duration,
}

impl RateLimit {
    /// Both parts must be positive.
    pub fn validate(&self) -> Result<(), InvalidJob> {
        if self.limit == 0 || self.period.is_zero() {
            return Err(InvalidJob {
                field: "rate_limit",
                message: "rate_limit needs a positive limit and period_ms".to_owned(),
            });
        }
        Ok(())
    }
}

/// A queue's controls.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueConfig {
    pub name: String,
    /// No job starts from a paused queue; running ones finish.
    pub paused: bool,
    /// At most this many of the queue's jobs run at once, across all workers.
    pub max_running: Option<u32>,
    pub rate_limit: Option<RateLimit>,
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert!(validate_queue_name("emails").is_ok());
        assert!(validate_queue_name("tenant-1:reports.v2").is_ok());
        assert!(validate_queue_name("").is_err());
        assert!(validate_queue_name("has space").is_err());
        assert!(validate_queue_name(&"q".repeat(201)).is_err());
    }
}
