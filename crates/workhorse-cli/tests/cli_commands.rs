//! The `workhorse` binary's client commands against a real `workhorse serve` it started:
//! human and `--json` output, queue controls, the dead-letter flow, readable errors.

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use workhorse_client::Client;
use workhorse_protocol::{
    ErrorReport, FailRequest, FetchRequest, JobListResponse, JobView, QueueView, ScheduleRequest,
    ScheduleSetRequest,
};

const BIN: &str = env!("CARGO_BIN_EXE_workhorse");

/// `workhorse serve` on a free port in a temporary directory; killed when dropped.
struct Server {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Self::start_with_env(&[])
    }

    fn start_with_env(env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let port_file = dir.path().join("port");
        let child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--port-file"])
            .arg(&port_file)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn workhorse serve");
        let addr = wait_for_file(&port_file);
        Server {
            url: format!("http://{addr}"),
            child,
            _dir: dir,
        }
    }

    /// Runs `workhorse --url URL ARGS…`.
    fn run(&self, args: &[&str]) -> Output {
        cli(&self.url, args)
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "workhorse {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// Runs a `--json` command and parses its output.
    fn json<T: serde::de::DeserializeOwned>(&self, args: &[&str]) -> T {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        let text = self.ok(&with_json);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {text}"))
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--url")
        .arg(url)
        .args(args)
        .output()
        .expect("run workhorse")
}

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "server wrote no port file");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The one line a failed command printed, and checks it failed with status 1.
fn error_line(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected failure: {output:?}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error line expected: {stderr}");
    lines[0].to_owned()
}

#[test]
fn enqueue_then_get_and_list_the_job() {
    let server = Server::start();
    let job: JobView = server.json(&[
        "enqueue",
        "emails.send",
        "--args",
        r#"["a@b.c"]"#,
        "--queue",
        "emails",
        "--priority",
        "3",
    ]);
    assert_eq!(
        (job.task.as_str(), job.queue.as_str(), job.priority),
        ("emails.send", "emails", 3)
    );
    assert_eq!(job.args.get(), r#"["a@b.c"]"#);
    let id = job.id.to_string();

    let shown = server.ok(&["jobs", "get", &id]);
    assert!(shown.contains(&format!("id:             {id}")), "{shown}");
    assert!(shown.contains("state:          ready"), "{shown}");

    let table = server.ok(&["jobs", "list", "--queue", "emails"]);
    let mut lines = table.lines();
    assert!(lines.next().expect("header").starts_with("ID"), "{table}");
    assert!(lines.next().expect("a row").starts_with(&id), "{table}");

    let page: JobListResponse =
        server.json(&["jobs", "list", "--queue", "emails", "--state", "ready"]);
    assert_eq!(page.jobs.len(), 1);

    let again = server.ok(&[
        "enqueue",
        "emails.send",
        "--key",
        "welcome:a",
        "--queue",
        "emails",
    ]);
    assert!(again.starts_with("enqueued job"), "{again}");
    let same = server.ok(&[
        "enqueue",
        "emails.send",
        "--key",
        "welcome:a",
        "--queue",
        "emails",
    ]);
    assert!(same.starts_with("existing job holds the key"), "{same}");
}

#[test]
fn paused_queues_show_as_paused_and_limits_can_be_set() {
    let server = Server::start();
    server.ok(&["enqueue", "t", "--queue", "reports"]);
    let paused = server.ok(&["queues", "pause", "reports"]);
    assert_eq!(
        paused.trim(),
        "queue reports: paused, max running none, rate limit none"
    );
    let table = server.ok(&["queues", "list"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("reports"))
        .expect("queue listed");
    assert!(row.contains("paused"), "{table}");

    let queue: QueueView = server.json(&[
        "queues",
        "set",
        "reports",
        "--max-running",
        "2",
        "--rate-limit",
        "5/1000",
    ]);
    assert_eq!(queue.max_running, Some(2));
    assert_eq!(
        queue.rate_limit.map(|r| (r.limit, r.period.as_millis())),
        Some((5, 1000))
    );
    let queue: QueueView = server.json(&["queues", "set", "reports", "--max-running", "none"]);
    assert_eq!(
        (queue.max_running, queue.rate_limit.is_some()),
        (None, true)
    );
    let resumed = server.ok(&["queues", "resume", "reports"]);
    assert!(resumed.contains("reports: active"), "{resumed}");
    let listed: Value = server.json(&["queues", "list"]);
    assert_eq!(listed["queues"][0]["paused"], false);
}

#[test]
fn dead_jobs_are_listed_and_redriven() {
    let server = Server::start();
    let job: JobView = server.json(&["enqueue", "flaky", "--queue", "dlq", "--max-attempts", "1"]);
    let client = Client::new(&server.url).expect("client");
    Server::runtime().block_on(async {
        let fetch = FetchRequest {
            worker: "test".into(),
            queues: vec!["dlq".into()],
            max: 1,
            wait_ms: 5_000,
        };
        let leased = client.fetch(fetch).await.expect("fetch").remove(0);
        let error = ErrorReport {
            kind: "ValueError".into(),
            message: "boom".into(),
            traceback: None,
        };
        let fail = FailRequest {
            lease_id: leased.lease_id,
            error,
            retry_in_ms: None,
            retryable: None,
        };
        client.fail(leased.id, fail).await.expect("fail");
    });
    let id = job.id.to_string();
    let dead = server.ok(&["dlq", "list", "--queue", "dlq"]);
    let row = dead
        .lines()
        .find(|l| l.starts_with(&id))
        .expect("dead job listed");
    assert!(row.contains("ValueError: boom"), "{dead}");

    let refused = error_line(&server.run(&["dlq", "redrive"]));
    assert_eq!(
        refused,
        "error: dlq redrive needs job ids, --queue, --task, or --all"
    );
    let redriven = server.ok(&["dlq", "redrive", "--queue", "dlq"]);
    assert!(redriven.starts_with("redrove 1 job(s)"), "{redriven}");
    let job: JobView = server.json(&["jobs", "get", &id]);
    assert_eq!(job.state.as_str(), "ready");
    assert_eq!(job.errors.len(), 1, "the error history is kept");
}

#[test]
fn waiting_jobs_are_cancelled_and_retried() {
    let server = Server::start();
    let job: JobView = server.json(&["enqueue", "later", "--delay-ms", "60000"]);
    assert_eq!(job.state.as_str(), "scheduled");
    let id = job.id.to_string();
    assert_eq!(
        server.ok(&["jobs", "cancel", &id]).trim(),
        format!("job {id} is cancelled")
    );
    assert_eq!(
        server.ok(&["jobs", "retry", &id]).trim(),
        format!("job {id} is ready")
    );
}

#[test]
fn jobs_are_cancelled_by_filter() {
    let server = Server::start();
    for task in ["wrong", "wrong", "wrong", "right"] {
        server.ok(&["enqueue", task, "--queue", "deploy", "--delay-ms", "60000"]);
    }
    let refused = error_line(&server.run(&["jobs", "cancel", "--state", "scheduled"]));
    assert_eq!(
        refused,
        "error: jobs cancel needs job ids, --queue, --task, or --all"
    );
    let first = server.ok(&["jobs", "cancel", "--task", "wrong", "--limit", "2"]);
    assert_eq!(
        first.lines().collect::<Vec<_>>(),
        [
            "cancelled 2 job(s); 0 running job(s) told to stop on their next heartbeat",
            "more jobs match: run the command again to cancel the next batch",
        ]
    );
    let rest: Value = server.json(&["jobs", "cancel", "--queue", "deploy", "--task", "wrong"]);
    assert_eq!(
        rest,
        serde_json::json!({"cancelled": 1, "cancel_requested": 0, "more": false})
    );
    let left: JobListResponse =
        server.json(&["jobs", "list", "--queue", "deploy", "--state", "scheduled"]);
    let tasks: Vec<&str> = left.jobs.iter().map(|j| j.task.as_str()).collect();
    assert_eq!(tasks, ["right"], "only the matching jobs are cancelled");
}

#[test]
fn errors_are_one_readable_line() {
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };
    let line = error_line(&cli(&down, &["jobs", "list"]));
    assert_eq!(
        line,
        format!("error: cannot reach Workhorse at {down}: connection refused")
    );

    let server = Server::start();
    let line = error_line(&server.run(&["enqueue", "t", "--args", "[1,"]));
    assert!(
        line.starts_with("error: --args is not valid JSON: "),
        "{line}"
    );
    let line = error_line(&server.run(&["enqueue", "t", "--args", "{}"]));
    assert_eq!(line, "error: args must be a JSON array");
    let line = error_line(&server.run(&["enqueue", "t", "--priority", "12"]));
    assert_eq!(line, "error: priority 12 is out of range 0-9");
    let unknown = "01900000-0000-7000-8000-000000000000";
    let line = error_line(&server.run(&["jobs", "get", unknown]));
    assert!(line.contains(unknown), "{line}");
}

#[test]
fn serve_shuts_down_gracefully_on_sigterm() {
    let mut server = Server::start();
    server.ok(&["queues", "list"]);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(server.child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn the_api_token_comes_from_the_flag_or_the_environment() {
    let token = "wh_cli-test-admin-token-0000000000000000000000";
    let server =
        Server::start_with_env(&[("WORKHORSE_AUTH", "true"), ("WORKHORSE_ADMIN_TOKEN", token)]);
    let line = error_line(&server.run(&["queues", "list"]));
    assert!(line.contains("requires an API token"), "{line}");
    server.ok(&["--token", token, "queues", "list"]);
    let output = Command::new(BIN)
        .args(["--url", &server.url, "queues", "list"])
        .env("WORKHORSE_TOKEN", token)
        .output()
        .expect("run workhorse");
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn schedules_list_shows_which_app_owns_each() {
    let server = Server::start();
    server.ok(&["schedules", "set", "by-hand", "t", "--cron", "0 3 * * *"]);
    let request = ScheduleSetRequest {
        schedules: [(
            "nightly".to_owned(),
            ScheduleRequest {
                cron: Some("0 4 * * *".to_owned()),
                task: "t".to_owned(),
                ..ScheduleRequest::default()
            },
        )]
        .into(),
    };
    let client = Client::new(&server.url).expect("client");
    Server::runtime()
        .block_on(client.declare_schedule_set("app.tasks", &request))
        .expect("declare set");
    let table = server.ok(&["schedules", "list"]);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} listed in {table}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert!(
        table.lines().next().is_some_and(|h| h.contains("OWNER")),
        "{table}"
    );
    assert!(row("nightly").contains(&"app.tasks"), "{table}");
    assert!(row("by-hand").contains(&"-"), "{table}");
    let shown = server.ok(&["schedules", "get", "nightly"]);
    assert!(shown.contains("owner: app.tasks"), "{shown}");
}
