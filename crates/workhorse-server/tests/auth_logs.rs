//! Tokens never reach the logs: every line the server writes (at TRACE, in the JSON format
//! of `--log-format json`) is captured while requests carry tokens — accepted, unknown,
//! under-privileged — and none holds a token.

mod common;

use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use workhorse_core::Timestamp;
use workhorse_engine::EngineConfig;
use workhorse_server::ServerConfig;
use workhorse_server::auth::{Role, Secret, Tokens, create_token, tokens_path};

/// Everything logged, shared with the subscriber's writer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test]
async fn no_token_appears_in_any_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // This test binary holds this one test: the global subscriber sees every thread.
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = tokens_path(dir.path());
    let now = Timestamp::UNIX_EPOCH;
    let producer = create_token(&path, Role::Producer, None, now).expect("create");
    let viewer = create_token(&path, Role::Viewer, None, now).expect("create");
    let bootstrap = Secret::new("bootstrap-admin-token-0123456789");
    let tokens = Tokens::load(Some(path), Some(&bootstrap)).expect("load");
    let config = ServerConfig {
        auth: Some(tokens),
        ..ServerConfig::default()
    };
    let server = common::start_with(EngineConfig::default(), config).await;
    let wrong = "wh_notissuednotissuednotissuednotissuednotiss";
    let producer = producer.token.expose().to_owned();
    let viewer = viewer.token.expose().to_owned();
    let admin = bootstrap.expose().to_owned();

    let url = |path: &str| format!("{}{path}", server.url);
    let enqueue = json!({"task": "t", "queue": "logs"});
    let requests = [
        (
            server.http.post(url("/v1/jobs")).json(&enqueue),
            &producer,
            201,
        ),
        (server.http.get(url("/v1/jobs")), &viewer, 200),
        (
            server.http.post(url("/v1/jobs")).json(&enqueue),
            &viewer,
            403,
        ),
        (server.http.get(url("/v1/queues")), &wrong.to_owned(), 401),
        (server.http.get(url("/v1/nope")), &admin, 404),
        // A token pasted into a query string (refused there: unknown field) is redacted from
        // the request log line.
        (
            server
                .http
                .get(url(&format!("/v1/jobs?limit=1&access_token={producer}"))),
            &viewer,
            422,
        ),
        (
            server.http.post(url("/v1/jobs")).body("{not json"),
            &producer,
            400,
        ),
        (
            server
                .http
                .patch(url("/v1/queues/logs"))
                .json(&json!({"paused": true})),
            &admin,
            200,
        ),
    ];
    for (request, token, status) in requests {
        let answer = server.send(request.bearer_auth(token)).await;
        assert_eq!(answer.status.as_u16(), status, "{:#}", answer.body);
    }
    server.stop().await;

    let logs = captured.text();
    assert!(logs.contains("job enqueued"), "the capture works: {logs}");
    assert!(logs.contains("/v1/queues"), "requests are logged: {logs}");
    for token in [&producer, &viewer, &admin, &wrong.to_owned()] {
        assert!(!logs.contains(token.as_str()), "a token reached the logs");
        // Not even a recognisable piece of one.
        assert!(
            !logs.contains(&token[..20]),
            "part of a token reached the logs"
        );
    }
    // The 401 message names the header (`Bearer <token>`); a logged header would hold one.
    let lower = logs.to_lowercase();
    if let Some(at) = lower
        .find("bearer wh_")
        .or_else(|| lower.find("bearer bootstrap"))
    {
        let context = &logs[at.saturating_sub(300)..(at + 100).min(logs.len())];
        panic!("an Authorization header was logged: {context}");
    }
}
