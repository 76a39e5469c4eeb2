//! Takes the dashboard screenshots in `docs/img/`: runs a server with a realistic,
//! moving workload (producers, HTTP workers with failures and retries, a WebSocket worker
//! reporting progress), opens each page in headless Chromium at 1366×768 and saves it.
//!
//! `cargo run -p workhorse-browser-tests --example screenshots -- [OUT_DIR] [SECONDS]`
//! (default `docs/img`, 240 s of workload before the first picture).

use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep};
use workhorse_browser_tests::{Browser, SocketWorker, TestServer};

/// A small deterministic generator: the pictures look the same on every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TRACEBACK: &str = "Traceback (most recent call last):
  File \"/app/.venv/lib/python3.12/site-packages/workhorse/worker.py\", line 212, in _run
    result = await task.fn(*job.args, **job.kwargs)
  File \"/app/tasks/webhooks.py\", line 41, in deliver_webhook
    response.raise_for_status()
  File \"/app/.venv/lib/python3.12/site-packages/httpx/_models.py\", line 829, in raise_for_status
    raise HTTPStatusError(message, request=request, response=self)
httpx.HTTPStatusError: Server error '503 Service Unavailable' for url 'https://hooks.example.com/orders'";

const DECLINED: &str = "Traceback (most recent call last):
  File \"/app/tasks/billing.py\", line 57, in charge_card
    charge = await payments.charges.create(amount=amount, currency=\"eur\", customer=customer)
  File \"/app/.venv/lib/python3.12/site-packages/payments/client.py\", line 301, in create
    raise CardError(body[\"error\"][\"code\"], body[\"error\"][\"decline_code\"])
payments.errors.CardDeclined: card_declined: insufficient_funds";

struct Queue {
    name: &'static str,
    task: &'static str,
    run_ms: (u64, u64),
    fail_per_mille: u64,
}

const QUEUES: [Queue; 4] = [
    Queue {
        name: "emails",
        task: "send_welcome_email",
        run_ms: (30, 180),
        fail_per_mille: 8,
    },
    Queue {
        name: "webhooks",
        task: "deliver_webhook",
        run_ms: (80, 400),
        fail_per_mille: 120,
    },
    Queue {
        name: "reports",
        task: "build_monthly_report",
        run_ms: (700, 2400),
        fail_per_mille: 20,
    },
    Queue {
        name: "billing",
        task: "charge_card",
        run_ms: (120, 500),
        fail_per_mille: 40,
    },
];

async fn produce(server: Arc<TestServer>, until: Instant) {
    let mut dice = Dice(7);
    let started = Instant::now();
    while Instant::now() < until {
        // A rate that swells and ebbs, so the throughput chart has a shape.
        let phase = started.elapsed().as_secs_f64() / 40.0;
        let burst = (3.0 + 2.5 * phase.sin()).max(0.5) as u64;
        for _ in 0..burst {
            // emails 40 %, webhooks 30 %, reports 10 %, billing 20 %.
            let queue = &QUEUES[[0, 0, 0, 0, 1, 1, 1, 2, 3, 3][dice.below(10) as usize]];
            let n = dice.below(90_000);
            let body = json!({"task": queue.task, "queue": queue.name, "args": [format!("customer-{n}")],
                "kwargs": {"attempt_budget": "standard"}, "max_attempts": 3,
                "backoff": {"base_ms": 1500, "max_ms": 6000}});
            server.enqueue(body).await;
        }
        sleep(Duration::from_millis(350)).await;
    }
}

async fn work(server: Arc<TestServer>, queue: &'static Queue, seed: u64, until: Instant) {
    let mut dice = Dice(seed);
    let worker = format!("{}-worker-{seed}", queue.name);
    while Instant::now() < until {
        let jobs = server.fetch(&worker, queue.name, 2).await;
        if jobs.is_empty() {
            sleep(Duration::from_millis(200)).await;
            continue;
        }
        for job in jobs {
            let (low, high) = queue.run_ms;
            sleep(Duration::from_millis(low + dice.below(high - low))).await;
            if dice.below(1000) < queue.fail_per_mille {
                // A declined card is final; a flaky endpoint is worth retrying.
                let (error, retryable) = if queue.name == "billing" {
                    (
                        json!({"type": "CardDeclined", "message": "card_declined: insufficient_funds", "traceback": DECLINED}),
                        false,
                    )
                } else {
                    (
                        json!({"type": "HTTPStatusError", "message": "Server error '503 Service Unavailable' for url 'https://hooks.example.com/orders'", "traceback": TRACEBACK}),
                        true,
                    )
                };
                server.fail(&job, error, retryable).await;
            } else {
                server
                    .complete(&job, json!({"ok": true, "ms": dice.below(900)}))
                    .await;
            }
        }
    }
}

/// A report job that failed once, now held by a WebSocket worker that reports progress.
/// Returns the id of that job and the task that keeps heartbeating.
async fn pdf_worker(server: &TestServer) -> (tokio::task::JoinHandle<()>, String) {
    let mut first = String::new();
    for (i, customer) in ["acme", "globex", "initech"].iter().enumerate() {
        let job = server.enqueue(json!({"task": "render_invoice_pdf", "queue": "pdf",
            "args": [customer, "2024-05"], "kwargs": {"pages": 50, "locale": "en-GB"}, "priority": 5,
            "key": format!("invoice:{customer}:2024-05"), "timeout_ms": 600_000})).await;
        if i == 0 {
            first = job["id"].as_str().expect("id").to_owned();
            let leased = server.fetch("pdf-http", "pdf", 1).await;
            let error = json!({"type": "TimeoutError", "message": "font server did not answer within 30 s",
                "traceback": "Traceback (most recent call last):\n  File \"/app/tasks/pdf.py\", line 88, in render_invoice_pdf\n    fonts = await fonts_client.load(style)\n  File \"/app/fonts.py\", line 19, in load\n    async with asyncio.timeout(30):\nTimeoutError: font server did not answer within 30 s"});
            let body = json!({"lease_id": leased[0]["lease_id"], "error": error, "retry_in_ms": 0});
            server.post(&format!("/v1/jobs/{first}/fail"), body).await;
        }
    }
    let mut worker = SocketWorker::connect(server, "pdf-renderer", &["pdf"], 4).await;
    let mut held = Vec::new();
    while held.len() < 3 {
        held.extend(worker.jobs().await);
    }
    let beating = tokio::spawn(async move {
        for page in 12_u32.. {
            let progress = json!({"fraction": f64::from(page.min(49)) / 50.0,
                "message": format!("rendering page {} of 50", page.min(49))});
            worker.heartbeat(&held, &progress).await;
            sleep(Duration::from_secs(3)).await;
        }
    });
    (beating, first)
}

/// Schedules of every kind, one paused, one fired by hand.
async fn schedules(server: &TestServer) {
    let put = [
        (
            "daily-digest",
            json!({"cron": "0 8 * * *", "timezone": "Europe/Berlin", "task": "send_daily_digest", "queue": "emails"}),
        ),
        (
            "nightly-cleanup",
            json!({"cron": "30 2 * * *", "timezone": "UTC", "task": "purge_expired_sessions", "queue": "maintenance"}),
        ),
        (
            "sync-inventory",
            json!({"every_ms": 300_000, "task": "sync_inventory", "queue": "webhooks"}),
        ),
        (
            "weekly-report",
            json!({"cron": "0 9 * * 1", "timezone": "America/New_York", "task": "build_weekly_report", "queue": "reports"}),
        ),
    ];
    for (name, body) in put {
        let path = format!("/v1/schedules/{name}");
        server.call(reqwest::Method::PUT, &path, Some(body)).await;
    }
    server
        .post("/v1/schedules/sync-inventory/trigger", json!({}))
        .await;
    server
        .post("/v1/schedules/weekly-report/pause", json!({}))
        .await;
}

/// A connected worker with nothing to do yet, heartbeating like a live one.
async fn idle_worker(
    server: &TestServer,
    name: &str,
    queues: &[&str],
    credit: u32,
) -> tokio::task::JoinHandle<()> {
    let mut worker = SocketWorker::connect(server, name, queues, credit).await;
    tokio::spawn(async move {
        loop {
            worker.heartbeat(&[], &json!(null)).await;
            sleep(Duration::from_secs(4)).await;
        }
    })
}

async fn shoot(
    browser: &Browser,
    server: &TestServer,
    out: &std::path::Path,
    fragment: &str,
    ready: &str,
    name: &str,
) {
    browser.open(&server.page(fragment)).await;
    browser.wait_for(ready).await;
    // Let charts and counts settle after the first read (the page re-reads every 2 s).
    sleep(Duration::from_millis(2500)).await;
    browser.screenshot(&out.join(name)).await;
    eprintln!("wrote {}", out.join(name).display());
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "docs/img".to_owned()));
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(240);
    std::fs::create_dir_all(&out).expect("out dir");

    let server = Arc::new(TestServer::start().await);
    let browser = Browser::start().await;
    browser.open(&server.page("/")).await;
    let until = Instant::now() + Duration::from_secs(seconds + 60);
    let mut tasks = vec![tokio::spawn(produce(server.clone(), until))];
    for (i, queue) in QUEUES.iter().enumerate() {
        for seed in 0..2 {
            tasks.push(tokio::spawn(work(
                server.clone(),
                queue,
                11 + (i as u64) * 7 + seed,
                until,
            )));
        }
    }
    server
        .call(
            reqwest::Method::PATCH,
            "/v1/queues/emails",
            Some(json!({"rate_limit": {"limit": 600, "period_ms": 60_000}})),
        )
        .await;
    server
        .call(
            reqwest::Method::PATCH,
            "/v1/queues/reports",
            Some(json!({"max_running": 4})),
        )
        .await;
    for i in 0..4 {
        server
            .enqueue(
                json!({"task": "export_csv", "queue": "exports", "args": [format!("table-{i}")]}),
            )
            .await;
    }
    server
        .call(
            reqwest::Method::PATCH,
            "/v1/queues/exports",
            Some(json!({"paused": true})),
        )
        .await;
    let (beating, detail) = pdf_worker(&server).await;
    tasks.push(beating);
    tasks.push(idle_worker(&server, "thumbnailer", &["images", "thumbnails"], 16).await);
    tasks.push(idle_worker(&server, "exporter", &["exports"], 8).await);
    schedules(&server).await;
    eprintln!("workload running for {seconds} s");
    sleep(Duration::from_secs(seconds)).await;

    let detail_page = format!("/jobs/{detail}");
    let pages = [
        ("/", "#queue-table", "overview.png"),
        ("/jobs", "#job-table", "jobs.png"),
        (detail_page.as_str(), "#attempts", "job-detail.png"),
        ("/dead", "#view .table-card > *", "dead-letters.png"),
        ("/queues", "#queues", "queues.png"),
        ("/workers", "#workers", "workers.png"),
        ("/schedules", "#schedules", "schedules.png"),
    ];
    for (fragment, ready, name) in pages {
        shoot(&browser, &server, &out, fragment, ready, name).await;
    }

    for task in tasks {
        task.abort();
    }
    browser.quit().await;
}
