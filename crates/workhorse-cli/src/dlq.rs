//! `workhorse dlq list|redrive`: the dead-letter set.

use crate::jobs::print_page;
use crate::output;
use clap::{Args, Subcommand};
use workhorse_client::Client;
use workhorse_core::{JobId, JobState};
use workhorse_protocol::{JobListQuery, RedriveRequest};

/// `workhorse dlq` subcommands.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead jobs, newest first, with their last error.
    List(DlqListArgs),
    /// Run dead jobs again with a fresh set of attempts (their errors are kept).
    Redrive(RedriveArgs),
}

/// `dlq list` filters.
#[derive(Debug, Args)]
pub struct DlqListArgs {
    #[arg(long)]
    queue: Option<String>,
    #[arg(long)]
    task: Option<String>,
    /// Page size, 1–1000.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Continue after a previous page.
    #[arg(long)]
    cursor: Option<String>,
}

/// What `dlq redrive` selects: ids, or a filter, or `--all`.
#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// Job ids to redrive.
    ids: Vec<JobId>,
    #[arg(long)]
    queue: Option<String>,
    #[arg(long)]
    task: Option<String>,
    /// Every dead job (up to --limit): required when no id or filter is given, so a bare
    /// `dlq redrive` never redrives everything by accident.
    #[arg(long)]
    all: bool,
    /// At most this many jobs (server default and maximum 10,000).
    #[arg(long)]
    limit: Option<u32>,
}

/// Runs one `dlq` command.
pub async fn run(client: &Client, command: DlqCommand, json: bool) -> anyhow::Result<()> {
    match command {
        DlqCommand::List(args) => {
            let query = JobListQuery {
                queue: args.queue,
                task: args.task,
                state: Some(JobState::Dead.as_str().to_owned()),
                limit: Some(args.limit),
                cursor: args.cursor,
                key: None,
            };
            print_page(&client.list(query).await?, json)
        }
        DlqCommand::Redrive(args) => redrive(client, args, json).await,
    }
}

async fn redrive(client: &Client, args: RedriveArgs, json: bool) -> anyhow::Result<()> {
    let filtered = args.queue.is_some() || args.task.is_some();
    if args.ids.is_empty() && !filtered && !args.all {
        anyhow::bail!("dlq redrive needs job ids, --queue, --task, or --all");
    }
    let request = RedriveRequest {
        ids: (!args.ids.is_empty()).then_some(args.ids),
        queue: args.queue,
        task: args.task,
        state: Some(JobState::Dead),
        limit: args.limit,
    };
    let redriven = client.redrive(request).await?;
    if json {
        return output::json(&redriven);
    }
    println!("redrove {} job(s)", redriven.count);
    for job in &redriven.jobs {
        println!("  {} {} ({})", job.id, job.task, job.queue);
    }
    Ok(())
}
