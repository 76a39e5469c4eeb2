//! Auth: for every route (from a table checked against the `OpenAPI` document, plus the
//! WebSocket upgrade), a missing, a wrong and an under-privileged token are refused with
//! 401/403 and change nothing; the right roles get through.

mod common;

use common::{Server, start_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use workhorse_core::Timestamp;
use workhorse_engine::EngineConfig;
use workhorse_server::ServerConfig;
use workhorse_server::auth::{Role, Tokens, create_token, tokens_path};

/// Who may call a route: `None` is public.
type Need = Option<Role>;

/// Every documented route and the role it needs. A route added to the API without a line
/// here fails `the_table_covers_every_documented_route`.
const TABLE: &[(&str, &str, Need)] = &[
    ("POST", "/v1/jobs", Some(Role::Producer)),
    ("GET", "/v1/jobs", Some(Role::Viewer)),
    ("POST", "/v1/jobs/batch", Some(Role::Producer)),
    ("POST", "/v1/jobs/redrive", Some(Role::Producer)),
    ("POST", "/v1/jobs/cancel", Some(Role::Producer)),
    ("GET", "/v1/jobs/{id}", Some(Role::Viewer)),
    ("GET", "/v1/jobs/{id}/result", Some(Role::Viewer)),
    ("POST", "/v1/jobs/{id}/cancel", Some(Role::Producer)),
    ("POST", "/v1/jobs/{id}/retry", Some(Role::Producer)),
    ("POST", "/v1/jobs/{id}/heartbeat", Some(Role::Worker)),
    ("POST", "/v1/jobs/{id}/complete", Some(Role::Worker)),
    ("POST", "/v1/jobs/{id}/fail", Some(Role::Worker)),
    ("POST", "/v1/fetch", Some(Role::Worker)),
    ("POST", "/v1/ack", Some(Role::Worker)),
    ("GET", "/v1/queues", Some(Role::Viewer)),
    ("PATCH", "/v1/queues/{name}", Some(Role::Admin)),
    // In this order: the first creates the schedule the others use, the last deletes it.
    ("PUT", "/v1/schedules/{name}", Some(Role::Worker)),
    ("GET", "/v1/schedules", Some(Role::Viewer)),
    ("GET", "/v1/schedules/{name}", Some(Role::Viewer)),
    ("POST", "/v1/schedules/{name}/pause", Some(Role::Admin)),
    ("POST", "/v1/schedules/{name}/resume", Some(Role::Admin)),
    ("POST", "/v1/schedules/{name}/trigger", Some(Role::Producer)),
    ("DELETE", "/v1/schedules/{name}", Some(Role::Admin)),
    ("PUT", "/v1/schedule-sets/{owner}", Some(Role::Worker)),
    ("POST", "/v1/workflows", Some(Role::Producer)),
    ("GET", "/v1/workflows/{id}", Some(Role::Viewer)),
    ("POST", "/v1/workflows/{id}/cancel", Some(Role::Producer)),
    ("GET", "/v1/workers/connect", Some(Role::Worker)),
    ("GET", "/v1/workers", Some(Role::Viewer)),
    ("GET", "/v1/events", Some(Role::Viewer)),
    ("GET", "/metrics", Some(Role::Viewer)),
    ("GET", "/healthz", None),
    ("GET", "/readyz", Some(Role::Viewer)),
    ("GET", "/openapi.json", Some(Role::Viewer)),
];

/// A token of each role, and one that was never issued.
struct Keys {
    admin: String,
    producer: String,
    worker: String,
    viewer: String,
}

impl Keys {
    fn of(&self, role: Role) -> &str {
        match role {
            Role::Admin => &self.admin,
            Role::Producer => &self.producer,
            Role::Worker => &self.worker,
            Role::Viewer => &self.viewer,
        }
    }
}

const WRONG: &str = "wh_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn issue(path: &Path) -> Keys {
    let token = |role| {
        create_token(path, role, None, Timestamp::UNIX_EPOCH)
            .expect("create")
            .token
            .expose()
            .to_owned()
    };
    Keys {
        admin: token(Role::Admin),
        producer: token(Role::Producer),
        worker: token(Role::Worker),
        viewer: token(Role::Viewer),
    }
}

async fn start_authed() -> (Server, Keys, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = tokens_path(dir.path());
    let keys = issue(&path);
    let tokens = Tokens::load(Some(path), None).expect("load");
    let config = ServerConfig {
        auth: Some(tokens),
        ..ServerConfig::default()
    };
    let engine = EngineConfig {
        recheck: common::SIGNAL_ONLY,
        ..EngineConfig::default()
    };
    (start_with(engine, config).await, keys, dir)
}

/// Jobs in every interesting state on a queue of their own: one ready, one running
/// (leased), one dead; and a workflow (a chain of two) on a queue beside it.
struct Seeded {
    queue: String,
    ready: String,
    running: Value,
    dead: String,
    workflow: String,
}

/// A two-step chain on `queue`.
fn chain_on(queue: &str) -> Value {
    json!({"workflow": {"chain": [
        {"job": {"task": "first", "queue": queue}},
        {"job": {"task": "second", "queue": queue}},
    ]}})
}

async fn call(
    server: &Server,
    method: Method,
    path: &str,
    body: &Value,
    token: Option<&str>,
) -> common::Answer {
    let mut request = server
        .http
        .request(method.clone(), format!("{}{path}", server.url));
    if method != Method::GET {
        request = request.json(body);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    server.send(request).await
}

async fn seed(server: &Server, admin: &str) -> Seeded {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let queue = format!(
        "q{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let enqueue = |task: &str| json!({"task": task, "queue": queue, "max_attempts": 1});
    let dead = call(
        server,
        Method::POST,
        "/v1/jobs",
        &enqueue("dies"),
        Some(admin),
    )
    .await
    .body;
    let fetch = json!({"worker": "w", "queues": [queue], "max": 1});
    let leased = call(server, Method::POST, "/v1/fetch", &fetch, Some(admin))
        .await
        .body["jobs"][0]
        .clone();
    let id = dead["id"].as_str().expect("id");
    let fail = json!({"lease_id": leased["lease_id"], "error": {"type": "E", "message": "m"}});
    let failed = call(
        server,
        Method::POST,
        &format!("/v1/jobs/{id}/fail"),
        &fail,
        Some(admin),
    )
    .await;
    assert_eq!(failed.body["state"], "dead");
    call(
        server,
        Method::POST,
        "/v1/jobs",
        &enqueue("runs"),
        Some(admin),
    )
    .await;
    let running = call(server, Method::POST, "/v1/fetch", &fetch, Some(admin))
        .await
        .body["jobs"][0]
        .clone();
    let ready = call(
        server,
        Method::POST,
        "/v1/jobs",
        &enqueue("waits"),
        Some(admin),
    )
    .await
    .body;
    let workflow = call(
        server,
        Method::POST,
        "/v1/workflows",
        &chain_on(&format!("wf-{queue}")),
        Some(admin),
    )
    .await;
    assert_eq!(workflow.status, StatusCode::CREATED, "{:#}", workflow.body);
    Seeded {
        ready: ready["id"].as_str().expect("id").to_owned(),
        running,
        dead: id.to_owned(),
        workflow: workflow.body["id"].as_str().expect("id").to_owned(),
        queue,
    }
}

/// A concrete request for a route: one that would change something if it got through.
fn request_for(route: &str, jobs: &Seeded) -> (String, Value) {
    let running = jobs.running["id"].as_str().expect("id");
    let lease = &jobs.running["lease_id"];
    let error = json!({"type": "E", "message": "m"});
    match route {
        "/v1/jobs" => (
            "/v1/jobs".into(),
            json!({"task": "new", "queue": jobs.queue}),
        ),
        "/v1/jobs/batch" => (route.into(), json!({"jobs": [{"task": "new"}]})),
        "/v1/jobs/redrive" => (route.into(), json!({})),
        "/v1/jobs/cancel" => (route.into(), json!({"queue": jobs.queue, "task": "waits"})),
        "/v1/jobs/{id}" => (format!("/v1/jobs/{running}"), Value::Null),
        "/v1/jobs/{id}/result" => (
            format!("/v1/jobs/{}/result?timeout_ms=0", jobs.dead),
            Value::Null,
        ),
        "/v1/jobs/{id}/cancel" => (format!("/v1/jobs/{}/cancel", jobs.ready), json!({})),
        "/v1/jobs/{id}/retry" => (format!("/v1/jobs/{}/retry", jobs.dead), json!({})),
        "/v1/jobs/{id}/heartbeat" => (
            format!("/v1/jobs/{running}/heartbeat"),
            json!({"lease_id": lease, "progress": {"fraction": 0.5}}),
        ),
        "/v1/jobs/{id}/complete" => (
            format!("/v1/jobs/{running}/complete"),
            json!({"lease_id": lease}),
        ),
        "/v1/jobs/{id}/fail" => (
            format!("/v1/jobs/{running}/fail"),
            json!({"lease_id": lease, "error": error}),
        ),
        "/v1/fetch" => (
            route.into(),
            json!({"worker": "w2", "queues": [jobs.queue]}),
        ),
        "/v1/ack" => (
            route.into(),
            json!({"acks": [{"outcome": "complete", "id": running, "lease_id": lease}]}),
        ),
        "/v1/queues/{name}" => (
            format!("/v1/queues/{}", jobs.queue),
            json!({"paused": true}),
        ),
        "/v1/schedules/{name}" => (
            "/v1/schedules/nightly".into(),
            json!({"every_ms": 60000, "task": "t"}),
        ),
        "/v1/schedule-sets/{owner}" => (
            "/v1/schedule-sets/app".into(),
            json!({"schedules": {"app-nightly": {"every_ms": 60000, "task": "t"}}}),
        ),
        "/v1/schedules/{name}/pause"
        | "/v1/schedules/{name}/resume"
        | "/v1/schedules/{name}/trigger" => (route.replace("{name}", "nightly"), json!({})),
        "/v1/workflows" => (route.into(), chain_on(&format!("wf-{}", jobs.queue))),
        "/v1/workflows/{id}" | "/v1/workflows/{id}/cancel" => {
            (route.replace("{id}", &jobs.workflow), json!({}))
        }
        other => (other.into(), Value::Null),
    }
}

/// Every job and queue, as an admin sees them.
async fn snapshot(server: &Server, admin: &str) -> (Value, Value) {
    let jobs = call(
        server,
        Method::GET,
        "/v1/jobs?limit=1000",
        &Value::Null,
        Some(admin),
    )
    .await;
    let queues = call(server, Method::GET, "/v1/queues", &Value::Null, Some(admin)).await;
    (jobs.body, queues.body)
}

fn assert_unauthorized(answer: &common::Answer, what: &str) {
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {:#}",
        answer.body
    );
    answer.problem(401);
}

/// A WebSocket upgrade with an optional token: the HTTP status of the answer.
async fn upgrade(server: &Server, token: Option<&str>) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = server
        .ws_url
        .as_str()
        .into_client_request()
        .expect("request");
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().expect("header");
        request.headers_mut().insert("authorization", value);
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut socket, response)) => {
            socket.close(None).await.ok();
            response.status().as_u16()
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(err) => panic!("upgrade failed: {err}"),
    }
}

#[tokio::test]
async fn the_table_covers_every_documented_route() {
    let (server, keys, _dir) = start_authed().await;
    let doc = call(
        &server,
        Method::GET,
        "/openapi.json",
        &Value::Null,
        Some(&keys.viewer),
    )
    .await
    .body;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let table: BTreeSet<_> = TABLE
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let missing: Vec<_> = documented.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "routes without an auth table entry: {missing:?}"
    );
    let stale: Vec<_> = table.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "table entries for routes that do not exist: {stale:?}"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    server.stop().await;
}

#[tokio::test]
async fn missing_wrong_and_underprivileged_tokens_are_refused_and_change_nothing() {
    let (server, keys, _dir) = start_authed().await;
    let jobs = seed(&server, &keys.admin).await;
    let before = snapshot(&server, &keys.admin).await;
    for (method, route, need) in TABLE {
        let Some(need) = need else { continue };
        let what = format!("{method} {route}");
        if *route == "/v1/workers/connect" {
            assert_eq!(upgrade(&server, None).await, 401, "{what}");
            assert_eq!(upgrade(&server, Some(WRONG)).await, 401, "{what}");
            for role in Role::ALL.into_iter().filter(|r| !r.allows(*need)) {
                assert_eq!(
                    upgrade(&server, Some(keys.of(role))).await,
                    403,
                    "{what} as {role}"
                );
            }
            continue;
        }
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let (path, body) = request_for(route, &jobs);
        let answer = call(&server, method.clone(), &path, &body, None).await;
        assert_unauthorized(&answer, &what);
        let response = server
            .http
            .request(method.clone(), format!("{}{path}", server.url))
            .send()
            .await
            .expect("send");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
        assert_unauthorized(
            &call(&server, method.clone(), &path, &body, Some(WRONG)).await,
            &what,
        );
        for role in Role::ALL.into_iter().filter(|r| !r.allows(*need)) {
            let answer = call(&server, method.clone(), &path, &body, Some(keys.of(role))).await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{what} as {role}: {:#}",
                answer.body
            );
            answer.problem(403);
        }
    }
    assert_eq!(
        snapshot(&server, &keys.admin).await,
        before,
        "a refused request changed something"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_right_roles_get_through() {
    let (server, keys, _dir) = start_authed().await;
    for (method, route, need) in TABLE {
        let allowed: Vec<Role> = match need {
            None => Vec::new(),
            Some(need) => Role::ALL.into_iter().filter(|r| r.allows(*need)).collect(),
        };
        for role in allowed {
            // Fresh jobs for every call: a call may use up the state it needs.
            let jobs = seed(&server, &keys.admin).await;
            let what = format!("{method} {route} as {role}");
            if *route == "/v1/workers/connect" {
                assert_eq!(upgrade(&server, Some(keys.of(role))).await, 101, "{what}");
                continue;
            }
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let (path, body) = request_for(route, &jobs);
            let mut request = server
                .http
                .request(method.clone(), format!("{}{path}", server.url))
                .bearer_auth(keys.of(role));
            if method != Method::GET {
                request = request.json(&body);
            }
            let status = request.send().await.expect("send").status();
            assert!(status.is_success(), "{what}: {status}");
        }
    }
    // Public: no token needed.
    assert_eq!(
        call(&server, Method::GET, "/healthz", &Value::Null, None)
            .await
            .status,
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_need_a_token_before_they_answer_404() {
    let (server, keys, _dir) = start_authed().await;
    assert_unauthorized(
        &call(&server, Method::GET, "/v1/nope", &Value::Null, None).await,
        "unknown",
    );
    let answer = call(
        &server,
        Method::GET,
        "/v1/nope",
        &Value::Null,
        Some(&keys.viewer),
    )
    .await;
    answer.problem(404);
    server.stop().await;
}

#[tokio::test]
async fn tokens_created_or_revoked_while_serving_take_effect_without_a_restart() {
    let (server, keys, dir) = start_authed().await;
    let path = tokens_path(dir.path());
    let late =
        create_token(&path, Role::Viewer, Some("late"), Timestamp::UNIX_EPOCH).expect("create");
    let late = late.token.expose().to_owned();
    let status = |token: String| {
        let server = &server;
        async move {
            call(
                server,
                Method::GET,
                "/v1/queues",
                &Value::Null,
                Some(&token),
            )
            .await
            .status
        }
    };
    let deadline = tokio::time::Instant::now() + common::GUARD;
    while status(late.clone()).await != StatusCode::OK {
        assert!(
            tokio::time::Instant::now() < deadline,
            "new token never accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    workhorse_server::auth::revoke_token(&path, "late").expect("revoke");
    while status(late.clone()).await != StatusCode::UNAUTHORIZED {
        assert!(
            tokio::time::Instant::now() < deadline,
            "revoked token still accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status(keys.viewer.clone()).await, StatusCode::OK);
    server.stop().await;
}

/// The status and content type of a request, without reading its (possibly endless) body.
async fn head_of(server: &Server, path_and_query: &str) -> (StatusCode, String) {
    let response = server
        .http
        .get(format!("{}{path_and_query}", server.url))
        .send()
        .await
        .expect("request");
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status(), content_type)
}

#[tokio::test]
async fn the_event_stream_takes_its_token_from_the_query_and_no_other_route_does() {
    let (server, keys, _dir) = start_authed().await;
    // A browser's EventSource cannot send headers: `?access_token=` opens the stream.
    let (status, content_type) =
        head_of(&server, &format!("/v1/events?access_token={}", keys.viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    // Filters beside the token still apply (the token is taken out, the rest kept).
    let (status, _) = head_of(
        &server,
        &format!("/v1/events?state=dead&access_token={}", keys.viewer),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a bad filter is still seen"
    );
    // A wrong or missing token in the query: 401, as with the header.
    let (status, _) = head_of(&server, "/v1/events?access_token=wh_wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = head_of(&server, "/v1/events?access_token=").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Every other route ignores a query token: it must come in the header.
    let (status, _) = head_of(&server, &format!("/v1/jobs?access_token={}", keys.admin)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}
