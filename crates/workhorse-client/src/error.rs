//! What can go wrong talking to a Workhorse server.

use workhorse_core::{JobId, JobState};
use workhorse_protocol::Problem;

/// An error from [`crate::Client`] or [`crate::Worker`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL given for the server is not a usable `http://` or `https://` URL.
    #[error("invalid Workhorse URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// No connection could be made (server down, wrong port, DNS, connect timeout).
    #[error("cannot reach Workhorse at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// A connection was made but the exchange broke off (reset, timeout mid-response).
    #[error("request to Workhorse at {url} failed: {reason}")]
    Transport { url: String, reason: String },
    /// The server refused the request with problem details (RFC 9457).
    /// Displays as the problem's `detail`, the message meant for people.
    #[error("{}", problem.detail)]
    Api { status: u16, problem: Problem },
    /// The server answered with something that is neither the expected body nor a problem.
    #[error("unexpected answer from Workhorse at {url} (HTTP {status}): {message}")]
    Unexpected {
        url: String,
        status: u16,
        message: String,
    },
    /// A payload could not be turned into JSON or back (typed args, results).
    #[error("cannot encode or decode {what}: {source}")]
    Payload {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A job waited on did not succeed, so it has no output.
    #[error("job {id} is {state}{}", last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    NotSucceeded {
        id: JobId,
        state: JobState,
        /// The last attempt's error, `type: message`, if it has one.
        last_error: Option<String>,
    },
    /// The worker's WebSocket session broke a rule or could not be opened.
    #[error("worker session with Workhorse at {url}: {reason}")]
    Session { url: String, reason: String },
}

impl ClientError {
    /// The HTTP status of an [`ClientError::Api`] error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Unexpected { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// Whether retrying the same call later may succeed (the server was unreachable or
    /// answered with a 5xx, 408 or 429).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } | ClientError::Transport { .. } => true,
            ClientError::Api { status, .. } | ClientError::Unexpected { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            _ => false,
        }
    }

    /// Classifies a reqwest error for the server at `url`.
    pub(crate) fn from_reqwest(url: &str, error: &reqwest::Error) -> Self {
        let reason = root_cause(error);
        if error.is_connect() {
            ClientError::Unreachable {
                url: url.to_owned(),
                reason,
            }
        } else {
            ClientError::Transport {
                url: url.to_owned(),
                reason,
            }
        }
    }
}

/// The innermost cause of an error, phrased for people: hyper and reqwest wrap the
/// operating system's error in layers whose own messages ("error sending request") say
/// nothing about what happened.
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    if let Some(io) = current.downcast_ref::<std::io::Error>() {
        use std::io::ErrorKind;
        let phrase = match io.kind() {
            ErrorKind::ConnectionRefused => Some("connection refused"),
            ErrorKind::ConnectionReset => Some("connection reset"),
            ErrorKind::ConnectionAborted => Some("connection aborted"),
            ErrorKind::TimedOut => Some("timed out"),
            ErrorKind::UnexpectedEof => Some("connection closed unexpectedly"),
            _ => None,
        };
        if let Some(phrase) = phrase {
            return phrase.to_owned();
        }
    }
    let text = current.to_string();
    if text.is_empty() {
        error.to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_displays_the_problem_detail() {
        let err = ClientError::Api {
            status: 404,
            problem: Problem {
                kind: "about:blank".into(),
                title: "Not Found".into(),
                status: 404,
                detail: "no job 42".into(),
                field: None,
            },
        };
        assert_eq!(err.to_string(), "no job 42");
        assert_eq!(err.status(), Some(404));
        assert!(!err.is_transient());
    }

    #[test]
    fn root_cause_names_a_refused_connection() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(root_cause(&io), "connection refused");
    }
}
