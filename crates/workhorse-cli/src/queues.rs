//! `workhorse queues list|pause|resume|set`.

use crate::output::{self, Table};
use clap::Subcommand;
use std::time::Duration;
use workhorse_client::Client;
use workhorse_core::RateLimit;
use workhorse_protocol::{QueueListResponse, QueuePatch, QueueView};

/// `workhorse queues` subcommands.
#[derive(Debug, Subcommand)]
pub enum QueuesCommand {
    /// Every known queue with its controls and job counts.
    List,
    /// Start no more jobs from a queue (running ones finish).
    Pause { name: String },
    /// Start jobs from a paused queue again.
    Resume { name: String },
    /// Change a queue's limits.
    Set {
        name: String,
        /// At most N of its jobs run at once, across all workers; `none` lifts the limit.
        #[arg(long, value_parser = parse_max_running)]
        max_running: Option<Limit<u32>>,
        /// At most N job starts per P milliseconds, as N/P (e.g. 100/1000); `none` lifts it.
        #[arg(long, value_parser = parse_rate_limit)]
        rate_limit: Option<Limit<RateLimit>>,
    },
}

/// A limit to set, or `none` to remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<T>(Option<T>);

fn parse_max_running(text: &str) -> Result<Limit<u32>, String> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(Limit(None));
    }
    text.parse::<u32>()
        .map(|n| Limit(Some(n)))
        .map_err(|_| format!("expected a number of jobs or `none`, got {text:?}"))
}

fn parse_rate_limit(text: &str) -> Result<Limit<RateLimit>, String> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(Limit(None));
    }
    let usage = || format!("expected N/PERIOD_MS (e.g. 100/1000) or `none`, got {text:?}");
    let (limit, period) = text.split_once('/').ok_or_else(usage)?;
    let limit = limit.trim().parse::<u32>().map_err(|_| usage())?;
    let period = period.trim().parse::<u64>().map_err(|_| usage())?;
    Ok(Limit(Some(RateLimit {
        limit,
        period: Duration::from_millis(period),
    })))
}

/// Runs one `queues` command.
pub async fn run(client: &Client, command: QueuesCommand, json: bool) -> anyhow::Result<()> {
    let (name, patch) = match command {
        QueuesCommand::List => return print_queues(client.queues().await?, json),
        QueuesCommand::Pause { name } => (name, paused(true)),
        QueuesCommand::Resume { name } => (name, paused(false)),
        QueuesCommand::Set {
            name,
            max_running,
            rate_limit,
        } => {
            if max_running.is_none() && rate_limit.is_none() {
                anyhow::bail!("queues set needs --max-running or --rate-limit");
            }
            let patch = QueuePatch {
                paused: None,
                max_running: max_running.map(|l| l.0),
                rate_limit: rate_limit.map(|l| l.0),
            };
            (name, patch)
        }
    };
    let queue = client.update_queue(&name, patch).await?;
    if json {
        return output::json(&queue);
    }
    println!(
        "queue {}: {}, max running {}, rate limit {}",
        queue.name,
        if queue.paused { "paused" } else { "active" },
        max_running(&queue),
        rate_limit(&queue)
    );
    Ok(())
}

fn paused(paused: bool) -> QueuePatch {
    QueuePatch {
        paused: Some(paused),
        ..QueuePatch::default()
    }
}

fn max_running(queue: &QueueView) -> String {
    queue
        .max_running
        .map_or_else(|| "none".to_owned(), |n| n.to_string())
}

fn rate_limit(queue: &QueueView) -> String {
    queue.rate_limit.map_or_else(
        || "none".to_owned(),
        |r| format!("{}/{}ms", r.limit, r.period.as_millis()),
    )
}

fn print_queues(queues: Vec<QueueView>, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(&QueueListResponse { queues });
    }
    let mut table = Table::new(vec![
        "QUEUE",
        "STATUS",
        "MAX RUNNING",
        "RATE LIMIT",
        "SCHEDULED",
        "READY",
        "RUNNING",
        "SUCCEEDED",
        "DEAD",
        "OLDEST READY",
    ]);
    for queue in &queues {
        let count = |state: &str| queue.counts.get(state).copied().unwrap_or(0).to_string();
        table.row(vec![
            queue.name.clone(),
            if queue.paused { "paused" } else { "active" }.to_owned(),
            max_running(queue),
            rate_limit(queue),
            count("scheduled"),
            count("ready"),
            count("running"),
            count("succeeded"),
            count("dead"),
            output::time(queue.oldest_ready_at),
        ]);
    }
    table.print("no queues");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_or_lift() {
        assert_eq!(parse_max_running("5"), Ok(Limit(Some(5))));
        assert_eq!(parse_max_running("none"), Ok(Limit(None)));
        assert!(parse_max_running("-1").is_err());
        let rate = parse_rate_limit("100/1000").expect("valid");
        assert_eq!(
            rate,
            Limit(Some(RateLimit {
                limit: 100,
                period: Duration::from_secs(1)
            }))
        );
        assert!(parse_rate_limit("100").is_err());
        assert_eq!(parse_rate_limit("None"), Ok(Limit(None)));
    }
}
