//! `workhorse enqueue TASK …`: one job.

use crate::output;
use anyhow::Context as _;
use clap::Args;
use std::time::Duration;
use workhorse_client::Client;
use workhorse_core::{Backoff, Json, Timestamp};
use workhorse_protocol::EnqueueRequest;

/// `workhorse enqueue` options.
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The task name, e.g. `emails.send_welcome`.
    task: String,
    /// Positional arguments, a JSON array, e.g. '["a@b.c", 3]'.
    #[arg(long)]
    args: Option<String>,
    /// Keyword arguments, a JSON object, e.g. '{"email": "a@b.c"}'.
    #[arg(long)]
    kwargs: Option<String>,
    /// Queue (default `default`).
    #[arg(long)]
    queue: Option<String>,
    /// 0–9, higher first.
    #[arg(long)]
    priority: Option<i64>,
    /// Run no sooner than this many milliseconds from now.
    #[arg(long, conflicts_with = "run_at")]
    delay_ms: Option<i64>,
    /// Run no sooner than this time (RFC 3339, e.g. 2030-01-01T08:00:00Z).
    #[arg(long)]
    run_at: Option<Timestamp>,
    /// Not started by then (RFC 3339): expire, never run.
    #[arg(long)]
    expires_at: Option<Timestamp>,
    /// Attempts in all, the first run included.
    #[arg(long)]
    max_attempts: Option<u32>,
    /// Backoff between attempts in milliseconds, as base,max (e.g. 1000,60000).
    #[arg(long, value_parser = parse_backoff)]
    backoff: Option<Backoff>,
    /// Time limit of one attempt, in milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Unique key: while a job holds it, that job is returned instead of a new one (held
    /// while live and, once succeeded, until retention deletes the job).
    #[arg(long)]
    key: Option<String>,
    /// Instead, keep the key held this long after the job finished, however it finished,
    /// in milliseconds (0: only while live; at most 365 days).
    #[arg(long, requires = "key")]
    key_window_ms: Option<u64>,
    /// Concurrency key: at most --concurrency-limit jobs with it run at once.
    #[arg(long)]
    concurrency_key: Option<String>,
    /// Running jobs allowed per concurrency key (default 1).
    #[arg(long, requires = "concurrency_key")]
    concurrency_limit: Option<u32>,
    /// Free-form JSON kept with the job.
    #[arg(long)]
    metadata: Option<String>,
    /// Wait up to this many seconds for the job to finish, then show it.
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u64>,
}

fn parse_backoff(text: &str) -> Result<Backoff, String> {
    let (base, max) = text
        .split_once(',')
        .ok_or("expected BASE_MS,MAX_MS, e.g. 1000,60000")?;
    let ms = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|e| format!("{s:?} is not a number of milliseconds: {e}"))
    };
    Ok(Backoff {
        base_ms: ms(base)?,
        max_ms: ms(max)?,
    })
}

/// JSON text given on the command line, checked here so a typo gets a clear message.
fn json_arg(flag: &str, text: Option<String>) -> anyhow::Result<Option<Json>> {
    text.map(|text| {
        Json::from_raw(text.trim()).with_context(|| format!("--{flag} is not valid JSON"))
    })
    .transpose()
}

impl EnqueueArgs {
    fn request(self) -> anyhow::Result<EnqueueRequest> {
        Ok(EnqueueRequest {
            args: json_arg("args", self.args)?,
            kwargs: json_arg("kwargs", self.kwargs)?,
            metadata: json_arg("metadata", self.metadata)?,
            queue: self.queue,
            priority: self.priority,
            delay_ms: self.delay_ms,
            run_at: self.run_at,
            expires_at: self.expires_at,
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            timeout_ms: self.timeout_ms,
            key: self.key,
            key_window_ms: self.key_window_ms,
            concurrency_key: self.concurrency_key,
            concurrency_limit: self.concurrency_limit,
            ..EnqueueRequest::new(self.task)
        })
    }
}

/// Enqueues the job and prints it (or, with `--wait`, the job once finished).
pub async fn run(client: &Client, args: EnqueueArgs, json: bool) -> anyhow::Result<()> {
    let wait = args.wait.map(Duration::from_secs);
    let enqueued = client.enqueue(args.request()?).await?;
    let job = match wait {
        Some(wait) => client.wait_for_result(enqueued.job.id, wait).await?,
        None => enqueued.job,
    };
    if json {
        return output::json(&job);
    }
    let verb = if enqueued.created {
        "enqueued"
    } else {
        "existing job holds the key:"
    };
    println!(
        "{verb} job {} (task {}, queue {}, state {})",
        job.id, job.task, job.queue, job.state
    );
    if wait.is_some() {
        if let Some(result) = &job.result {
            println!("result: {}", result.get());
        }
        if let Some(error) = job.errors.last() {
            println!("last error: {}: {}", error.kind, error.message);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_parses_base_and_max() {
        assert_eq!(
            parse_backoff("100, 5000"),
            Ok(Backoff {
                base_ms: 100,
                max_ms: 5000
            })
        );
        assert!(parse_backoff("100").is_err());
    }

    #[test]
    fn bad_json_names_the_flag() {
        let err = json_arg("args", Some("[1,".into())).expect_err("invalid");
        assert!(
            format!("{err:#}").starts_with("--args is not valid JSON"),
            "{err:#}"
        );
    }
}
