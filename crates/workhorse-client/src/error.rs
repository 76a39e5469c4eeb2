//! What can go wrong talking to a Workhorse server.

use std::time::Duration;
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
    /// The server took longer than the client's timeout to answer (a stalled server, or
    /// one too busy to answer in time). The request may or may not have taken effect.
    #[error("request to Workhorse at {url}{path} timed out after {}", humanize(*waited))]
    Timeout {
        url: String,
        path: String,
        waited: Duration,
    },
    /// The PEM bundle of extra roots (`WORKHORSE_CA_FILE` or the `ca_file` option) cannot
    /// be used.
    #[error("cannot use the CA file {path}: {reason}")]
    CaFile { path: String, reason: String },
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
            ClientError::Unreachable { .. }
            | ClientError::Transport { .. }
            | ClientError::Timeout { .. } => true,
            ClientError::Api { status, .. } | ClientError::Unexpected { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            _ => false,
        }
    }

    /// Classifies a reqwest error for the server at `url`.
    pub(crate) fn from_reqwest(url: &str, error: &reqwest::Error) -> Self {
        let reason = with_ca_hint(root_cause(error));
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

/// Why a request failed, as far as retrying it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The connection was refused: the request never reached the server, so even a call
    /// that must not run twice can be sent again.
    NeverSent,
    /// The connection broke before an answer (reset, closed): the server may have acted.
    Dropped,
    /// Anything else (a timeout, a TLS or DNS error): retrying soon would not help.
    Other,
}

impl Failure {
    /// Classifies a reqwest error by its innermost cause.
    pub(crate) fn of(error: &reqwest::Error) -> Failure {
        use std::io::ErrorKind;
        if error.is_timeout() {
            return Failure::Other;
        }
        let mut current: &(dyn std::error::Error + 'static) = error;
        while let Some(next) = current.source() {
            current = next;
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                ErrorKind::ConnectionRefused => Failure::NeverSent,
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof => Failure::Dropped,
                _ => Failure::Other,
            };
        }
        // hyper's own error for a connection closed before the answer has no io cause.
        if current.to_string().contains("connection closed") {
            return Failure::Dropped;
        }
        Failure::Other
    }
}

/// `reason`, with a pointer to the CA option when a server's certificate was not trusted:
/// rustls's `UnknownIssuer` alone does not tell a person what to do.
pub(crate) fn with_ca_hint(mut reason: String) -> String {
    if reason.contains("invalid peer certificate") {
        reason.push_str(" (for a server whose certificate comes from an internal CA, set ");
        reason.push_str(crate::tls::CA_FILE_ENV);
        reason.push_str(" or the client's ca_file to that CA's PEM bundle)");
    }
    reason
}

/// A duration for people: `10s`, `1.5s`, `250ms`.
fn humanize(waited: Duration) -> String {
    if waited < Duration::from_secs(1) {
        format!("{}ms", waited.as_millis())
    } else {
        format!("{}s", waited.as_secs_f64())
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
    fn timeouts_name_the_request_and_the_wait() {
        let err = ClientError::Timeout {
            url: "http://127.0.0.1:7431".into(),
            path: "/v1/jobs".into(),
            waited: Duration::from_millis(1_500),
        };
        assert_eq!(
            err.to_string(),
            "request to Workhorse at http://127.0.0.1:7431/v1/jobs timed out after 1.5s"
        );
        assert!(err.is_transient());
    }

    #[test]
    fn root_cause_names_a_refused_connection() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(root_cause(&io), "connection refused");
    }
}
