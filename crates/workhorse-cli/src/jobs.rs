//! `workhorse jobs list|get|cancel|retry`.

use crate::output::{self, Table};
use clap::{Args, Subcommand};
use workhorse_client::Client;
use workhorse_core::{JobId, JobState};
use workhorse_protocol::{CancelManyRequest, JobListQuery, JobListResponse, JobView};

/// `workhorse jobs` subcommands.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs matching filters, newest first.
    List(ListArgs),
    /// One job in full: arguments, progress, result, every attempt's error.
    Get { id: JobId },
    /// Cancel jobs, by id or by filter: at once if they wait, on their next heartbeat if
    /// they run.
    Cancel(CancelArgs),
    /// Run a dead, cancelled or expired job again.
    Retry { id: JobId },
}

/// Filters of `jobs list` (and `dlq list`).
#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    queue: Option<String>,
    /// scheduled, ready, running, succeeded, dead, cancelled or expired.
    #[arg(long)]
    state: Option<JobState>,
    #[arg(long)]
    task: Option<String>,
    /// The unique key.
    #[arg(long)]
    key: Option<String>,
    /// Page size, 1–1000.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Continue after a previous page (its `next` cursor).
    #[arg(long)]
    cursor: Option<String>,
}

/// What `jobs cancel` selects: ids, or a filter, or `--all`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Job ids to cancel (each on its own; a finished job is left as it is).
    ids: Vec<JobId>,
    #[arg(long)]
    queue: Option<String>,
    #[arg(long)]
    task: Option<String>,
    /// Only jobs in this state: scheduled, ready, waiting or running (default: all four).
    #[arg(long)]
    state: Option<JobState>,
    /// Every unfinished job (up to --limit): required when no id, --queue or --task is
    /// given, so a bare `jobs cancel` never cancels everything by accident.
    #[arg(long)]
    all: bool,
    /// At most this many jobs in one call (server default and maximum 10,000).
    #[arg(long)]
    limit: Option<u32>,
}

impl CancelArgs {
    fn has_filter(&self) -> bool {
        self.queue.is_some() || self.task.is_some() || self.state.is_some()
    }

    fn request(self) -> CancelManyRequest {
        CancelManyRequest {
            queue: self.queue,
            task: self.task,
            state: self.state,
            all: self.all,
            limit: self.limit,
        }
    }
}

impl ListArgs {
    fn query(&self) -> JobListQuery {
        JobListQuery {
            queue: self.queue.clone(),
            state: self.state.map(|s| s.as_str().to_owned()),
            task: self.task.clone(),
            key: self.key.clone(),
            limit: Some(self.limit),
            cursor: self.cursor.clone(),
        }
    }
}

/// Runs one `jobs` command.
pub async fn run(client: &Client, command: JobsCommand, json: bool) -> anyhow::Result<()> {
    match command {
        JobsCommand::List(args) => {
            let page = client.list(args.query()).await?;
            print_page(&page, json)
        }
        JobsCommand::Get { id } => {
            let job = client.get(id).await?;
            if json {
                output::json(&job)
            } else {
                print_job(&job);
                Ok(())
            }
        }
        JobsCommand::Cancel(args) => cancel(client, args, json).await,
        JobsCommand::Retry { id } => print_action(&client.retry(id).await?, json, ""),
    }
}

async fn cancel(client: &Client, args: CancelArgs, json: bool) -> anyhow::Result<()> {
    if args.ids.is_empty() {
        return cancel_matching(client, args, json).await;
    }
    if args.has_filter() || args.all || args.limit.is_some() {
        anyhow::bail!("jobs cancel takes job ids or a filter (--queue, --task, --state), not both");
    }
    for id in args.ids {
        let job = client.cancel(id).await?;
        let note = if job.state == JobState::Running {
            " (cancel requested: it stops on its next heartbeat)"
        } else {
            ""
        };
        print_action(&job, json, note)?;
    }
    Ok(())
}

async fn cancel_matching(client: &Client, args: CancelArgs, json: bool) -> anyhow::Result<()> {
    if args.queue.is_none() && args.task.is_none() && !args.all {
        anyhow::bail!("jobs cancel needs job ids, --queue, --task, or --all");
    }
    let outcome = client.cancel_many(args.request()).await?;
    if json {
        return output::json(&outcome);
    }
    println!(
        "cancelled {} job(s); {} running job(s) told to stop on their next heartbeat",
        outcome.cancelled, outcome.cancel_requested
    );
    if outcome.more {
        println!("more jobs match: run the command again to cancel the next batch");
    }
    Ok(())
}

/// One line about a job an action changed, or the job as JSON.
fn print_action(job: &JobView, json: bool, note: &str) -> anyhow::Result<()> {
    if json {
        return output::json(job);
    }
    println!("job {} is {}{note}", job.id, job.state);
    Ok(())
}

/// A page of jobs as a table (or JSON), with the cursor of the next page.
pub fn print_page(page: &JobListResponse, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(page);
    }
    let mut table = Table::new(vec![
        "ID",
        "TASK",
        "QUEUE",
        "STATE",
        "ATTEMPT",
        "CREATED",
        "LAST ERROR",
    ]);
    for job in &page.jobs {
        let error = job
            .errors
            .last()
            .map_or_else(String::new, |e| format!("{}: {}", e.kind, e.message));
        table.row(vec![
            job.id.to_string(),
            job.task.clone(),
            job.queue.clone(),
            job.state.to_string(),
            format!("{}/{}", job.attempt, job.max_attempts),
            output::time(Some(job.created_at)),
            output::truncate(&error, 60),
        ]);
    }
    table.print("no jobs");
    if let Some(next) = page.next_cursor {
        println!("more: --cursor {next}");
    }
    Ok(())
}

fn print_job(job: &JobView) {
    let mut fields = vec![
        ("id", job.id.to_string()),
        ("task", job.task.clone()),
        ("queue", job.queue.clone()),
        ("state", job.state.to_string()),
        ("priority", job.priority.to_string()),
        (
            "attempt",
            format!("{} of {}", job.attempt, job.max_attempts),
        ),
        ("args", job.args.get().to_owned()),
        ("kwargs", job.kwargs.get().to_owned()),
        ("created", output::time(Some(job.created_at))),
        ("run at", output::time(Some(job.run_at))),
        ("started", output::time(job.started_at)),
        ("finished", output::time(job.finished_at)),
    ];
    let optional = [
        ("key", job.key.clone()),
        ("concurrency key", job.concurrency_key.clone()),
        ("timeout", job.timeout_ms.map(|ms| format!("{ms} ms"))),
        ("expires", job.expires_at.map(|at| output::time(Some(at)))),
        ("worker", job.worker.clone()),
        (
            "metadata",
            job.metadata.as_ref().map(|m| m.get().to_owned()),
        ),
        (
            "progress",
            job.progress
                .as_ref()
                .map(|p| progress(p.fraction, p.message.as_deref())),
        ),
        ("result", job.result.as_ref().map(|r| r.get().to_owned())),
        (
            "cancel",
            job.cancel_requested.then(|| "requested".to_owned()),
        ),
    ];
    fields.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    for (name, value) in fields {
        println!("{:<16}{value}", format!("{name}:"));
    }
    for error in &job.errors {
        println!(
            "error (attempt {}, {}): {}: {}",
            error.attempt,
            output::time(Some(error.at)),
            error.kind,
            error.message
        );
        if let Some(traceback) = &error.traceback {
            for line in traceback.lines() {
                println!("    {line}");
            }
        }
    }
}

fn progress(fraction: f64, message: Option<&str>) -> String {
    let percent = (fraction * 100.0).round();
    match message {
        Some(message) => format!("{percent}% {message}"),
        None => format!("{percent}%"),
    }
}
