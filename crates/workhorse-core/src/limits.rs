//! Every named limit on input. Each is enforced at the boundary and tested.

use crate::job::InvalidJob;

/// Highest priority; priorities run 0 (lowest) to 9.
pub const MAX_PRIORITY: u8 = 9;
/// Priority when none is given.
pub const DEFAULT_PRIORITY: u8 = 0;
/// Attempts when none is given: the first run and 24 retries, as Sidekiq does.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 25;
/// Most attempts a job may ask for.
pub const MAX_ATTEMPTS: u32 = 1_000;
/// Longest task or queue name, in bytes.
pub const MAX_NAME_LEN: usize = 200;
/// Longest unique or concurrency key, in bytes.
pub const MAX_KEY_LEN: usize = 1_000;
/// Longest `key_window` a job may ask for: 365 days, the longest retention of finished
/// jobs a deployment is expected to keep (a longer window would outlive the job holding it).
/// The bound also keeps `finished_at + key_window` inside the timestamp range: past it the
/// sum overflowed, and the key was released at once.
pub const MAX_KEY_WINDOW_MS: u64 = 365 * 24 * 60 * 60 * 1_000;
/// Most jobs in one batch enqueue.
pub const MAX_BATCH: usize = 10_000;
/// Most jobs one cancel by filter changes, in one transaction: a bigger backlog is
/// cancelled by calling again.
pub const MAX_CANCEL_BATCH: usize = 10_000;
/// Most jobs one fetch may lease.
pub const MAX_FETCH: u32 = 1_000;
/// Default largest request body, in bytes (configurable on the server).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest a fetch or result request may wait.
pub const MAX_WAIT_MS: u64 = 60_000;
/// Most jobs one list page returns.
pub const MAX_PAGE: u32 = 1_000;
/// Most jobs one workflow holds (every task of every chain, group and chord in it).
pub const MAX_WORKFLOW_JOBS: usize = 10_000;
/// Most dependency edges one workflow holds. A chain from a group of N jobs to a group of M
/// jobs makes N × M edges; this bounds the fan-in work one enqueue can ask for.
pub const MAX_WORKFLOW_EDGES: usize = 100_000;

/// Task names: non-empty, at most [`MAX_NAME_LEN`] bytes, no control characters.
pub fn check_name(field: &'static str, name: &str) -> Result<(), InvalidJob> {
    let message = if name.is_empty() {
        format!("{field} must not be empty")
    } else if name.len() > MAX_NAME_LEN {
        format!(
            "{field} is {} bytes long; the limit is {MAX_NAME_LEN}",
            name.len()
        )
    } else if name.chars().any(char::is_control) {
        format!("{field} must not contain control characters")
    } else {
        return Ok(());
    };
    Err(InvalidJob { field, message })
}

/// Keys: non-empty, at most [`MAX_KEY_LEN`] bytes.
pub fn check_key(field: &'static str, key: &str) -> Result<(), InvalidJob> {
    let message = if key.is_empty() {
        format!("{field} must not be empty")
    } else if key.len() > MAX_KEY_LEN {
        format!(
            "{field} is {} bytes long; the limit is {MAX_KEY_LEN}",
            key.len()
        )
    } else {
        return Ok(());
    };
    Err(InvalidJob { field, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_at_the_limit_pass_one_over_fails() {
        assert!(check_name("task", &"a".repeat(MAX_NAME_LEN)).is_ok());
        let err = check_name("task", &"a".repeat(MAX_NAME_LEN + 1)).unwrap_err();
        assert!(err.message.contains("limit is 200"), "{err}");
        assert!(check_name("task", "a\nb").is_err());
        assert!(check_key("key", &"k".repeat(MAX_KEY_LEN)).is_ok());
        assert!(check_key("key", &"k".repeat(MAX_KEY_LEN + 1)).is_err());
    }
}
