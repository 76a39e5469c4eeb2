//! The dashboard in real headless Chromium, against the real server: live numbers while
//! jobs flow, redrive of a dead job from the UI, cancel of a running job from the UI, cancel
//! of every job a filter matches.

use serde_json::json;
use workhorse_browser_tests::{Browser, DEADLINE, TestServer};
use workhorse_testing::wait_until;

/// The cell of `field` in the overview row of `queue`.
fn queue_cell(queue: &str, field: &str) -> String {
    format!(r#"#queue-table tr[data-queue="{queue}"] td[data-field="{field}"]"#)
}

fn tile(stat: &str) -> String {
    format!(r#".tile [data-value="{stat}"]"#)
}

async fn enqueue_emails(server: &TestServer, n: usize) {
    for i in 0..n {
        server
            .enqueue(json!({"task": "send_welcome_email", "queue": "emails", "args": [format!("user{i}@example.com")]}))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_live_numbers_while_jobs_flow() {
    overview_follows_jobs(Updates::Stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_live_numbers_by_polling_without_the_event_stream() {
    overview_follows_jobs(Updates::Polling).await;
}

enum Updates {
    Stream,
    Polling,
}

async fn overview_follows_jobs(updates: Updates) {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    browser.open(&server.page("/")).await;
    let badge = match updates {
        Updates::Stream => "live",
        Updates::Polling => {
            let off = "localStorage.setItem('workhorse.live', 'poll');";
            browser.run_js(off, vec![]).await;
            browser.reload().await;
            "polling every 2 s"
        }
    };
    browser.wait_text("#live-status .label", badge).await;
    browser
        .wait_text("#view .empty strong", "No queues yet")
        .await;

    enqueue_emails(&server, 5).await;
    browser.wait_text(&queue_cell("emails", "ready"), "5").await;
    browser.wait_text(&tile("ready"), "5").await;

    let leased = server.fetch("w1", "emails", 3).await;
    assert_eq!(leased.len(), 3);
    browser
        .wait_text(&queue_cell("emails", "running"), "3")
        .await;
    browser.wait_text(&queue_cell("emails", "ready"), "2").await;

    server.complete(&leased[0], json!({"sent": true})).await;
    server.complete(&leased[1], json!({"sent": true})).await;
    browser
        .wait_text(&queue_cell("emails", "succeeded"), "2")
        .await;
    browser
        .wait_text(&queue_cell("emails", "running"), "1")
        .await;
    // Throughput is computed in the page, from events or from count growth.
    browser.wait_text(&tile("succeeded-rate"), "2").await;
    browser
        .wait_text(&queue_cell("emails", "ok-rate"), "2")
        .await;

    let error = json!({"type": "SMTPError", "message": "mailbox unavailable"});
    server.fail(&leased[2], error, false).await;
    browser.wait_text(&queue_cell("emails", "dead"), "1").await;
    browser.wait_text(&tile("dead"), "1").await;
    browser.wait_text(&tile("failed-rate"), "1").await;
    browser.wait_text(&tile("running"), "0").await;

    browser.assert_no_page_errors().await;
    browser.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_job_is_redriven_from_the_ui_and_then_succeeds() {
    let server = TestServer::start().await;
    let job = server
        .enqueue(json!({"task": "charge_card", "queue": "billing", "max_attempts": 1}))
        .await;
    let id = job["id"].as_str().expect("id").to_owned();
    let leased = server.fetch("w1", "billing", 1).await;
    let error = json!({"type": "CardDeclined", "message": "insufficient funds", "traceback": "Traceback (most recent call last):\n  ..."});
    let dead = server.fail(&leased[0], error, true).await;
    assert_eq!(dead["state"], "dead");

    let browser = Browser::start().await;
    browser.open(&server.page("/dead")).await;
    browser
        .click(&format!(r#"button[data-action="redrive"][data-id="{id}"]"#))
        .await;
    wait_until("the job to be ready again", DEADLINE, || async {
        (server.job(&id).await["state"] == "ready").then_some(())
    })
    .await;
    browser
        .wait_text("#view .empty strong", "No dead letters")
        .await;

    let leased = server.fetch("w2", "billing", 1).await;
    assert_eq!(leased.len(), 1);
    let done = server.complete(&leased[0], json!({"charged": 1999})).await;
    assert_eq!(done["state"], "succeeded");

    browser.open(&server.page(&format!("/jobs/{id}"))).await;
    browser.wait_text("h1 [data-state]", "succeeded").await;
    browser
        .wait_text_matching("#attempts h3", |t| t.contains("(1)"))
        .await;

    browser.assert_no_page_errors().await;
    browser.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_is_cancelled_from_the_ui_and_its_heartbeat_says_so() {
    let server = TestServer::start().await;
    let job = server
        .enqueue(json!({"task": "build_report", "queue": "reports"}))
        .await;
    let id = job["id"].as_str().expect("id").to_owned();
    let leased = server.fetch("w1", "reports", 1).await;
    let beat = server.heartbeat(&leased[0], None).await;
    assert_eq!(beat["cancel_requested"], false);

    let browser = Browser::start().await;
    browser.open(&server.page(&format!("/jobs/{id}"))).await;
    browser.wait_text("h1 [data-state]", "running").await;
    browser.click(r#"button[data-action="cancel"]"#).await;
    browser.wait_for(r#"[data-field="cancel-requested"]"#).await;
    browser.wait_text("h1 [data-state]", "cancelling").await;

    let beat = server.heartbeat(&leased[0], None).await;
    assert_eq!(beat["cancel_requested"], true);
    assert_eq!(server.job(&id).await["cancel_requested"], true);

    browser.assert_no_page_errors().await;
    browser.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_a_filter_matches_are_cancelled_from_the_ui_after_a_second_click() {
    let server = TestServer::start().await;
    let mut wrong = Vec::new();
    for row in 0..3 {
        let job = server
            .enqueue(json!({"task": "import_row", "queue": "imports", "args": [row]}))
            .await;
        wrong.push(job["id"].as_str().expect("id").to_owned());
    }
    let kept = server
        .enqueue(json!({"task": "import_done", "queue": "imports"}))
        .await;
    let running = server.fetch("w1", "imports", 1).await;
    let running_id = running[0]["id"].as_str().expect("id").to_owned();
    assert!(
        wrong.contains(&running_id),
        "the oldest import_row job runs"
    );

    let browser = Browser::start().await;
    browser
        .open(&server.page("/jobs?queue=imports&task=import_row"))
        .await;
    let button = r#"button[data-action="cancel-matching"]"#;
    browser.click(button).await;
    browser
        .wait_text(button, "Click again to cancel all matching")
        .await;
    browser.click(button).await;
    wait_until("the matching jobs to be cancelled", DEADLINE, || async {
        for id in wrong.iter().filter(|id| **id != running_id) {
            if server.job(id).await["state"] != "cancelled" {
                return None;
            }
        }
        Some(())
    })
    .await;
    let flagged = server.job(&running_id).await;
    assert_eq!(flagged["state"], "running");
    assert_eq!(
        flagged["cancel_requested"], true,
        "told on its next heartbeat"
    );
    let kept = server.job(kept["id"].as_str().expect("id")).await;
    assert_eq!(kept["state"], "ready", "another task is left alone");
    browser
        .wait_text_matching("#toasts .toast", |t| {
            t == "Cancelled 2 jobs; 1 job told to stop."
        })
        .await;
    browser
        .wait_text_matching("#job-table tbody", |t| !t.contains("ready"))
        .await;

    browser.assert_no_page_errors().await;
    browser.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_on_the_page_asks_for_a_token_and_then_shows_live_numbers() {
    let token = "wh_browser-test-admin-token-0123456789abcdefghij";
    let server = TestServer::start_with_admin_token(token).await;
    let browser = Browser::start().await;
    browser.open(&server.page("/")).await;
    browser.wait_for("dialog#login[open]").await;

    browser.type_into("#login-token", "wh_not-a-token").await;
    browser.click("#login-form button[type=submit]").await;
    browser
        .wait_text("#login-error", "That token was refused. Try another.")
        .await;

    browser.type_into("#login-token", token).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for("dialog#login:not([open])").await;
    browser
        .wait_text("#view .empty strong", "No queues yet")
        .await;
    browser.wait_for("#sign-out:not([hidden])").await;
    // The event stream opens with the token in its query: live, not polling.
    browser.wait_text("#live-status .label", "live").await;

    enqueue_emails(&server, 2).await;
    browser.wait_text(&queue_cell("emails", "ready"), "2").await;
    browser.assert_no_page_errors().await;
    browser.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_shows_its_graph_live_and_is_cancelled_from_the_ui() {
    let server = TestServer::start().await;
    let member = json!({"job": {"task": "resize", "queue": "images"}});
    let flow = server
        .post(
            "/v1/workflows",
            json!({"workflow": {"chord": {
                "group": [member, member],
                "callback": {"job": {"task": "bill", "queue": "images"}},
            }}}),
        )
        .await;
    let id = flow["id"].as_str().expect("workflow id").to_owned();

    let browser = Browser::start().await;
    browser
        .open(&server.page(&format!("/workflows/{id}")))
        .await;
    let callback = r#"#workflow-graph .wf-column[data-depth="1"] a.wf-node"#;
    browser
        .wait_for(&format!(r#"{callback}[data-state="waiting"]"#))
        .await;
    browser
        .wait_text(r#"[data-field="workflow-state"]"#, "running")
        .await;

    // A member finishes: the page follows without a reload.
    let leased = server.fetch("w1", "images", 1).await;
    server.complete(&leased[0], json!(1)).await;
    browser
        .wait_for(r#"#workflow-graph .wf-column[data-depth="0"] a.wf-node[data-state="succeeded"]"#)
        .await;

    browser
        .click(r#"button[data-action="cancel-workflow"]"#)
        .await;
    browser
        .wait_for(&format!(r#"{callback}[data-state="cancelled"]"#))
        .await;
    let after = server.get(&format!("/v1/workflows/{id}")).await;
    let states: Vec<&str> = after["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|job| job["state"].as_str().expect("state"))
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "cancelled").count(),
        2,
        "{states:?}"
    );
    assert!(states.contains(&"succeeded"), "{states:?}");

    // The job page links back to its workflow.
    let member_id = leased[0]["id"].as_str().expect("id");
    browser
        .open(&server.page(&format!("/jobs/{member_id}")))
        .await;
    browser.click(r#"[data-field="workflow"]"#).await;
    browser.wait_for("#workflow-graph").await;
    browser.assert_no_page_errors().await;
    browser.quit().await;
    server.stop().await;
}
