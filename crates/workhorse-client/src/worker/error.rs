//! How a task says it failed, and what should happen next.

use std::fmt;
use std::time::Duration;
use workhorse_protocol::ErrorReport;

/// A failed attempt, as a task returns it. By default the server retries it after the job's
/// backoff (while attempts are left).
///
/// Any `std::error::Error` converts into a retryable `TaskError` (so `?` works in handlers);
/// [`TaskError::retry_after`] asks for a retry after an exact delay, and
/// [`TaskError::fatal`] sends the job to the dead-letter set at once.
///
/// `TaskError` deliberately does not implement `std::error::Error`, which would conflict
/// with that blanket conversion (as with `anyhow::Error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    kind: String,
    message: String,
    traceback: Option<String>,
    retry_in: Option<Duration>,
    retryable: bool,
}

impl TaskError {
    /// A retryable error of type `kind` (e.g. `RateLimited`) with a message for people.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        TaskError {
            kind: kind.into(),
            message: message.into(),
            traceback: None,
            retry_in: None,
            retryable: true,
        }
    }

    /// Retry after exactly `delay` instead of the backoff (still bounded by max attempts).
    pub fn retry_after(delay: Duration) -> Self {
        TaskError {
            retry_in: Some(delay),
            ..Self::new(
                "RetryRequested",
                format!("the task asked to be retried in {} ms", delay.as_millis()),
            )
        }
    }

    /// Not worth retrying: the job goes to the dead-letter set now.
    pub fn fatal(message: impl Into<String>) -> Self {
        TaskError {
            retryable: false,
            ..Self::new("FatalError", message)
        }
    }

    /// Replaces the message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Replaces the error type.
    #[must_use]
    pub fn with_kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }

    /// Attaches a traceback or backtrace text, kept with the attempt's error.
    #[must_use]
    pub fn with_traceback(mut self, traceback: impl Into<String>) -> Self {
        self.traceback = Some(traceback.into());
        self
    }

    /// The error type.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The exact retry delay asked for, if any.
    pub fn retry_in(&self) -> Option<Duration> {
        self.retry_in
    }

    /// Whether the server may retry the job.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The error as the wire protocol reports it: (error, `retry_in_ms`, `retryable`).
    pub(crate) fn into_report(self) -> (ErrorReport, Option<u64>, Option<bool>) {
        let report = ErrorReport {
            kind: self.kind,
            message: self.message,
            traceback: self.traceback,
        };
        let retry_in_ms = self.retry_in.map(|d| d.as_millis() as u64);
        (report, retry_in_ms, (!self.retryable).then_some(false))
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl<E: std::error::Error> From<E> for TaskError {
    fn from(error: E) -> Self {
        let mut chain = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push(format!("caused by: {cause}"));
            source = cause.source();
        }
        let error = TaskError::new(short_type_name::<E>(), error.to_string());
        if chain.is_empty() {
            error
        } else {
            error.with_traceback(chain.join("\n"))
        }
    }
}

/// `E`'s type name without its module path or generic parameters, e.g. `ParseIntError`;
/// a bare `Error` keeps its module (`io::Error`) to stay recognizable.
fn short_type_name<E>() -> String {
    let full = std::any::type_name::<E>();
    let plain = full.split('<').next().unwrap_or(full);
    let mut segments = plain.rsplit("::");
    let last = segments.next().unwrap_or(plain);
    if last != "Error" {
        return last.to_owned();
    }
    // `std::io::error::Error` → `io::Error`: skip a module named like the type.
    let module = segments.find(|s| *s != "error").unwrap_or("");
    if module.is_empty() {
        last.to_owned()
    } else {
        format!("{module}::{last}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_errors_become_retryable_task_errors() {
        let err: TaskError = "x".parse::<i32>().expect_err("not a number").into();
        assert_eq!(err.kind(), "ParseIntError");
        assert!(err.is_retryable());
        let err: TaskError = std::io::Error::other("disk full").into();
        assert_eq!(err.kind(), "io::Error");
        assert_eq!(err.to_string(), "io::Error: disk full");
    }

    #[test]
    fn retry_after_and_fatal_report_their_wishes() {
        let (report, retry_in, retryable) =
            TaskError::retry_after(Duration::from_millis(250)).into_report();
        assert_eq!(
            (report.kind.as_str(), retry_in, retryable),
            ("RetryRequested", Some(250), None)
        );
        let (report, retry_in, retryable) = TaskError::fatal("bad input").into_report();
        assert_eq!(
            (report.message.as_str(), retry_in, retryable),
            ("bad input", None, Some(false))
        );
    }
}
