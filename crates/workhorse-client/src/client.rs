//! The HTTP client: one pooled connection set per [`Client`], shared by its clones.

use crate::error::{ClientError, Failure};
use crate::worker::{TraceParent, outgoing_traceparent};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::ClientConfig;
use workhorse_core::retry::{Backoff, Jitter};
use workhorse_protocol::Problem;

/// Where [`Client::from_env`] looks when `WORKHORSE_URL` is not set.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7431";

/// The environment variable naming the server.
pub const URL_ENV: &str = "WORKHORSE_URL";

/// The environment variable holding the API token, for servers that require one.
pub const TOKEN_ENV: &str = "WORKHORSE_TOKEN";

/// The W3C trace context header.
const TRACEPARENT: &str = "traceparent";

/// How long a connection attempt may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle keep-alive connections kept per host: enough for many concurrent producers to
/// reuse warm connections instead of paying a TCP handshake per enqueue.
const POOL_IDLE_PER_HOST: usize = 256;

/// How long a request may take by default before it fails with [`ClientError::Timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times a call that is safe to repeat is retried by default.
pub const DEFAULT_RETRIES: u32 = 3;

/// The wait before the n-th retry: up to 100 ms, doubling, at most 2 s, with full jitter
/// (a uniform draw below that ceiling), so many clients cut off at once do not come back
/// in step.
const RETRY_BACKOFF: Backoff = Backoff {
    base_ms: 100,
    max_ms: 2_000,
};

/// How a [`Client`] talks to its server: the request timeout, the retries, and the extra
/// roots it trusts. Start from [`ClientOptions::default`] and change what you need:
///
/// ```
/// # use std::time::Duration;
/// let options = workhorse_client::ClientOptions::default()
///     .timeout(Duration::from_secs(3))
///     .retries(5);
/// let client = workhorse_client::Client::with_options("http://127.0.0.1:7431", &options);
/// # drop(client);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// How long one request may take, answer included ([`DEFAULT_TIMEOUT`]). Long polls
    /// (waiting for a result) get their wait on top. The worker's WebSocket session has
    /// no request timeout: heartbeats tell whether it is alive.
    pub timeout: Duration,
    /// How many times a call that is safe to repeat is retried after a dropped connection
    /// or a 502, 503 or 504 ([`DEFAULT_RETRIES`]; 0: never). Reads, cancels and enqueues
    /// (which carry a client-chosen job id, so a repeat makes no second job) are safe;
    /// other calls are retried only when the connection was refused, before they were
    /// sent.
    pub retries: u32,
    /// A PEM bundle of extra roots to trust (an internal CA), beside the bundled web roots
    /// and the system's. Default: the file named by `WORKHORSE_CA_FILE`, if set.
    pub ca_file: Option<PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            ca_file: None,
        }
    }
}

impl ClientOptions {
    /// Sets [`ClientOptions::timeout`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`ClientOptions::retries`].
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets [`ClientOptions::ca_file`].
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }
}

/// What one call may count on beyond the client's options.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallOptions {
    /// The server may hold the answer this long (a long poll), on top of the timeout.
    pub wait: Duration,
    /// A POST that is safe to send twice (a cancel, an enqueue with its job id).
    pub repeatable: bool,
}

impl CallOptions {
    /// A POST that is safe to send twice.
    pub(crate) fn repeatable() -> Self {
        CallOptions {
            repeatable: true,
            ..CallOptions::default()
        }
    }

    /// A long poll: the server may hold the answer for `wait`.
    pub(crate) fn waiting(wait: Duration) -> Self {
        CallOptions {
            wait,
            ..CallOptions::default()
        }
    }
}

/// A handle on a Workhorse server. Cheap to clone: clones share one connection pool
/// (HTTP/1.1 keep-alive), so make one and pass it around.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The server's base URL without a trailing slash, e.g. `http://127.0.0.1:7431`.
    base: Arc<str>,
    /// Sent as `Authorization: Bearer <token>` when set.
    token: Option<Arc<str>>,
    /// Sent as the `traceparent` header when set; else a job run's own trace context.
    traceparent: Option<Arc<str>>,
    timeout: Duration,
    retries: u32,
    /// The extra roots trusted, for the worker's WebSocket of [`crate::Worker::builder_for`].
    ca_file: Option<Arc<Path>>,
}

/// A successful answer: the body and whether the server said `201 Created`.
pub(crate) struct Answer<T> {
    pub body: T,
    pub created: bool,
}

impl Client {
    /// A client for the server at `url` (`http://host:port`, optionally with a path
    /// prefix), with the default [`ClientOptions`].
    pub fn new(url: impl AsRef<str>) -> Result<Self, ClientError> {
        Self::with_options(url, &ClientOptions::default())
    }

    /// A client for the server at `url` with `options`. Fails when the URL is not usable
    /// or the CA file cannot be read.
    pub fn with_options(
        url: impl AsRef<str>,
        options: &ClientOptions,
    ) -> Result<Self, ClientError> {
        let base = normalize_url(url.as_ref())?;
        let ca_file = crate::tls::ca_file_or_env(options.ca_file.as_deref());
        let tls = crate::tls::client_config(ca_file.as_deref())?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(ClientConfig::clone(&tls))
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST)
            .tcp_nodelay(true)
            .http1_only()
            .build()
            .map_err(|e| ClientError::InvalidUrl {
                url: base.clone(),
                reason: crate::error::root_cause(&e),
            })?;
        Ok(Client {
            http,
            base: base.into(),
            token: None,
            traceparent: None,
            timeout: options.timeout,
            retries: options.retries,
            ca_file: ca_file.map(Arc::from),
        })
    }

    /// A client for `WORKHORSE_URL` (or [`DEFAULT_URL`] when it is unset or empty), with
    /// the API token of `WORKHORSE_TOKEN` if that is set.
    pub fn from_env() -> Result<Self, ClientError> {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        let client = Self::new(var(URL_ENV).as_deref().map_or(DEFAULT_URL, str::trim))?;
        Ok(match var(TOKEN_ENV) {
            Some(token) => client.with_token(token.trim()),
            None => client,
        })
    }

    /// The same client, sending `token` as `Authorization: Bearer <token>` (an empty token
    /// sends none).
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        let token: String = token.into();
        self.token = (!token.is_empty()).then(|| token.into());
        self
    }

    /// The same client, sending `traceparent` with its requests, so the jobs it enqueues
    /// continue that trace (the server stores it as `metadata.traceparent`). Without it, a
    /// client used inside a job run sends the run's trace context.
    #[must_use]
    pub fn with_traceparent(mut self, traceparent: TraceParent<'_>) -> Self {
        self.traceparent = Some(traceparent.as_str().into());
        self
    }

    /// The PEM bundle of extra roots this client trusts, if any.
    pub(crate) fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The API token this client sends, if any.
    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The server's base URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET /healthz`: `Ok` when the server answers 2xx.
    pub async fn health(&self) -> Result<(), ClientError> {
        let response = self
            .send(Method::GET, "/healthz", None, CallOptions::default())
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.error_of(response).await)
        }
    }

    /// Sends a request and decodes a 2xx JSON answer; anything else becomes an error.
    pub(crate) async fn call<B, T>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Answer<T>, ClientError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        self.call_with(method, path, body, CallOptions::default())
            .await
    }

    /// [`Client::call`] with the call's own wait and retry safety.
    pub(crate) async fn call_with<B, T>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        options: CallOptions,
    ) -> Result<Answer<T>, ClientError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let encoded = match body {
            Some(body) => {
                Some(
                    serde_json::to_vec(body).map_err(|source| ClientError::Payload {
                        what: "the request body",
                        source,
                    })?,
                )
            }
            None => None,
        };
        let response = self.send(method, path, encoded, options).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.error_of(response).await);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.request_error(path, options, &e))?;
        let body = serde_json::from_slice(&bytes).map_err(|e| ClientError::Unexpected {
            url: self.base.to_string(),
            status: status.as_u16(),
            message: format!("cannot read the answer: {e}"),
        })?;
        Ok(Answer {
            body,
            created: status == StatusCode::CREATED,
        })
    }

    /// Sends a request, retrying it after a dropped connection or a 502, 503 or 504 when
    /// that is safe (see [`ClientOptions::retries`]); returns the last answer or error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        options: CallOptions,
    ) -> Result<reqwest::Response, ClientError> {
        let repeatable = options.repeatable
            || matches!(
                method,
                Method::GET | Method::HEAD | Method::PUT | Method::DELETE
            );
        let mut retried = 0;
        loop {
            let sent = self
                .send_once(method.clone(), path, body.clone(), options)
                .await;
            let retry = match &sent {
                Ok(response) => repeatable && is_gateway_trouble(response.status()),
                Err(error) => match Failure::of(error) {
                    Failure::NeverSent => true,
                    Failure::Dropped => repeatable,
                    Failure::Other => false,
                },
            };
            if !retry || retried >= self.retries {
                return sent.map_err(|e| self.request_error(path, options, &e));
            }
            retried += 1;
            let wait = RETRY_BACKOFF.delay(retried, Jitter(rand::random()));
            tracing::debug!(path, retried, ?wait, "retrying a Workhorse request");
            tokio::time::sleep(wait).await;
        }
    }

    /// One try of a request, bounded by the timeout (plus the call's wait).
    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        options: CallOptions,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(self.timeout + options.wait);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(traceparent) = &self.traceparent {
            request = request.header(TRACEPARENT, &**traceparent);
        } else if let Some(traceparent) = outgoing_traceparent() {
            request = request.header(TRACEPARENT, traceparent);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body);
        }
        request.send().await
    }

    /// A failed request as an error: [`ClientError::Timeout`] when the time ran out.
    fn request_error(
        &self,
        path: &str,
        options: CallOptions,
        error: &reqwest::Error,
    ) -> ClientError {
        if error.is_timeout() && !error.is_connect() {
            return ClientError::Timeout {
                url: self.base.to_string(),
                path: path.split('?').next().unwrap_or(path).to_owned(),
                waited: self.timeout + options.wait,
            };
        }
        ClientError::from_reqwest(&self.base, error)
    }

    /// A non-2xx answer as an error: problem details when the server sent them.
    async fn error_of(&self, response: reqwest::Response) -> ClientError {
        let status = response.status().as_u16();
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) => return ClientError::from_reqwest(&self.base, &e),
        };
        match serde_json::from_str::<Problem>(&text) {
            Ok(problem) => ClientError::Api { status, problem },
            Err(_) => ClientError::Unexpected {
                url: self.base.to_string(),
                status,
                message: summarize(&text),
            },
        }
    }
}

/// A proxy's word that the server is down or restarting: worth another try.
fn is_gateway_trouble(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The first line of a non-problem error body, shortened: enough to tell a proxy's error
/// page from an empty answer without flooding a terminal.
fn summarize(text: &str) -> String {
    const MAX: usize = 200;
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if line.is_empty() {
        return "empty body".to_owned();
    }
    let mut end = line.len().min(MAX);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].trim().to_owned()
}

/// Checks that `url` is an `http(s)://` URL with a host, and drops a trailing slash.
fn normalize_url(url: &str) -> Result<String, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| invalid("it must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("it names no host"));
    }
    if reqwest::Url::parse(url).is_err() {
        return Err(invalid("it is not a valid URL"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// `s` escaped for use as one URL path segment (job ids are UUIDs, queue names are ASCII,
/// but a queue name typed by a person may still hold a reserved character).
pub(crate) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_normalized() {
        assert_eq!(
            normalize_url("http://127.0.0.1:7431/").expect("valid"),
            "http://127.0.0.1:7431"
        );
        assert!(normalize_url("127.0.0.1:7431").is_err());
        assert!(normalize_url("http://").is_err());
        let err = normalize_url("ftp://x").expect_err("not http");
        assert!(err.to_string().contains("must start with http://"), "{err}");
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("emails:v2"), "emails:v2");
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn summaries_are_short() {
        assert_eq!(summarize(""), "empty body");
        assert_eq!(summarize("\n<html>\nx"), "<html>");
        assert_eq!(summarize(&"é".repeat(300)).len(), 200);
    }
}
