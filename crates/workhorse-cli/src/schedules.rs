//! `workhorse schedules list|get|set|delete|pause|resume|trigger|next`.

use crate::output::{self, Table};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use workhorse_client::Client;
use workhorse_core::{Json, Misfire, Overlap};
use workhorse_protocol::{ScheduleListResponse, ScheduleRequest, ScheduleView};

/// `workhorse schedules` subcommands.
#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// Every schedule: its timing, state and next fire.
    List,
    /// One schedule with its next fire times and recent fires.
    Get {
        name: String,
        /// How many next fire times to show.
        #[arg(long, default_value_t = 5)]
        count: u32,
    },
    /// Declare a schedule (create, or update when the definition changed).
    Set(Box<SetArgs>),
    /// Delete a schedule (the jobs it made stay).
    Delete { name: String },
    /// Stop firing until resumed.
    Pause { name: String },
    /// Fire again; missed fires follow the misfire policy.
    Resume { name: String },
    /// Fire now, by hand.
    Trigger { name: String },
    /// The next fire times.
    Next {
        name: String,
        #[arg(long, default_value_t = 5)]
        count: u32,
    },
}

/// `workhorse schedules set NAME TASK (--cron EXPR | --every-ms N | --at TIME) …`.
#[derive(Debug, Args)]
pub struct SetArgs {
    name: String,
    /// The task of the jobs it makes.
    task: String,
    /// Cron expression (5 fields, or 6 with seconds).
    #[arg(long, group = "when")]
    cron: Option<String>,
    /// Fixed interval in milliseconds.
    #[arg(long, group = "when")]
    every_ms: Option<u64>,
    /// One-off fire time (RFC 3339).
    #[arg(long, group = "when")]
    at: Option<String>,
    /// IANA time zone of --cron (default UTC).
    #[arg(long)]
    timezone: Option<String>,
    #[arg(long)]
    queue: Option<String>,
    /// JSON array of positional arguments.
    #[arg(long)]
    args: Option<String>,
    /// JSON object of keyword arguments.
    #[arg(long)]
    kwargs: Option<String>,
    #[arg(long)]
    priority: Option<u8>,
    #[arg(long)]
    max_attempts: Option<u32>,
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// `coalesce` (default), `skip`, or `all:N` (catch up at most N missed fires).
    #[arg(long, value_parser = parse_misfire)]
    misfire: Option<Misfire>,
    #[arg(long)]
    grace_ms: Option<u64>,
    /// `allow` (default) or `skip` (while the previous fire's job waits or runs).
    #[arg(long, value_parser = parse_overlap)]
    overlap: Option<Overlap>,
    /// Declare it paused.
    #[arg(long)]
    paused: bool,
}

fn parse_misfire(text: &str) -> Result<Misfire, String> {
    match text {
        "coalesce" => Ok(Misfire::Coalesce),
        "skip" => Ok(Misfire::Skip),
        _ => text
            .strip_prefix("all:")
            .and_then(|n| n.parse().ok())
            .map(|max| Misfire::All { max })
            .ok_or_else(|| format!("expected coalesce, skip or all:N, got {text:?}")),
    }
}

fn parse_overlap(text: &str) -> Result<Overlap, String> {
    match text {
        "allow" => Ok(Overlap::Allow),
        "skip" => Ok(Overlap::Skip),
        _ => Err(format!("expected allow or skip, got {text:?}")),
    }
}

fn json_arg(name: &str, text: Option<String>) -> anyhow::Result<Option<Json>> {
    text.map(|t| Json::from_raw(&t).with_context(|| format!("--{name} is not valid JSON")))
        .transpose()
}

impl SetArgs {
    fn request(self) -> anyhow::Result<(String, ScheduleRequest)> {
        let at = self
            .at
            .map(|t| {
                t.parse()
                    .with_context(|| format!("--at {t:?} is not an RFC 3339 time"))
            })
            .transpose()?;
        let request = ScheduleRequest {
            cron: self.cron,
            every_ms: self.every_ms,
            at,
            timezone: self.timezone,
            task: self.task,
            queue: self.queue,
            args: json_arg("args", self.args)?,
            kwargs: json_arg("kwargs", self.kwargs)?,
            priority: self.priority,
            max_attempts: self.max_attempts,
            timeout_ms: self.timeout_ms,
            misfire: self.misfire,
            grace_ms: self.grace_ms,
            overlap: self.overlap,
            paused: self.paused.then_some(true),
            ..ScheduleRequest::default()
        };
        Ok((self.name, request))
    }
}

/// Runs one `schedules` command.
pub async fn run(client: &Client, command: SchedulesCommand, json: bool) -> anyhow::Result<()> {
    let schedule = match command {
        SchedulesCommand::List => return print_list(client.schedules().await?, json),
        SchedulesCommand::Get { name, count } => client.schedule(&name, count).await?,
        SchedulesCommand::Next { name, count } => {
            let schedule = client.schedule(&name, count).await?;
            if json {
                return output::json(&schedule.next_fires);
            }
            for fire in &schedule.next_fires {
                println!("{fire}");
            }
            return Ok(());
        }
        SchedulesCommand::Set(args) => {
            let (name, request) = args.request()?;
            let answer = client.upsert_schedule(&name, &request).await?;
            if json {
                return output::json(&answer);
            }
            let what = match (answer.created, answer.changed) {
                (true, _) => "created",
                (false, true) => "updated",
                (false, false) => "unchanged",
            };
            println!("schedule {name}: {what}");
            answer.schedule
        }
        SchedulesCommand::Delete { name } => client.delete_schedule(&name).await?,
        SchedulesCommand::Pause { name } => client.set_schedule_paused(&name, true).await?,
        SchedulesCommand::Resume { name } => client.set_schedule_paused(&name, false).await?,
        SchedulesCommand::Trigger { name } => {
            let fire = client.trigger_schedule(&name).await?;
            if json {
                return output::json(&fire);
            }
            let job = fire
                .job_id
                .map_or_else(|| "-".to_owned(), |id| id.to_string());
            println!("schedule {name}: fired at {}, job {job}", fire.fire_at);
            return Ok(());
        }
    };
    if json {
        return output::json(&schedule);
    }
    print_one(&schedule);
    Ok(())
}

/// When a schedule fires, in one short phrase.
fn timing(schedule: &ScheduleView) -> String {
    let def = &schedule.definition;
    match (&def.cron, def.every_ms, def.at) {
        (Some(cron), _, _) => {
            format!("cron {cron} ({})", def.timezone.as_deref().unwrap_or("UTC"))
        }
        (_, Some(ms), _) => format!("every {ms} ms"),
        (_, _, Some(at)) => format!("at {at}"),
        _ => "-".to_owned(),
    }
}

fn state(schedule: &ScheduleView) -> &'static str {
    if schedule.paused { "paused" } else { "active" }
}

/// The app whose declared set holds the schedule; `-`: made at run time.
fn owner(schedule: &ScheduleView) -> &str {
    schedule.owner.as_deref().unwrap_or("-")
}

fn print_list(schedules: Vec<ScheduleView>, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(&ScheduleListResponse { schedules });
    }
    let mut table = Table::new(vec![
        "SCHEDULE",
        "WHEN",
        "TASK",
        "OWNER",
        "STATUS",
        "NEXT FIRE",
        "LAST FIRE",
    ]);
    for s in &schedules {
        table.row(vec![
            s.name.clone(),
            timing(s),
            s.definition.task.clone(),
            owner(s).to_owned(),
            state(s).to_owned(),
            output::time(s.next_fire_at),
            output::time(s.last_fire_at),
        ]);
    }
    table.print("no schedules");
    Ok(())
}

fn print_one(s: &ScheduleView) {
    println!(
        "schedule {}: {} → {}, {}",
        s.name,
        timing(s),
        s.definition.task,
        state(s)
    );
    println!("owner: {}", owner(s));
    println!("next fire: {}", output::time(s.next_fire_at));
    for fire in &s.next_fires {
        println!("  then {fire}");
    }
    if !s.history.is_empty() {
        let mut table = Table::new(vec!["FIRED FOR", "JOB", "TRIGGERED"]);
        for fire in &s.history {
            let job = fire
                .job_id
                .map(|id| id.to_string())
                .or_else(|| fire.skipped.clone())
                .unwrap_or_default();
            table.row(vec![
                fire.fire_at.to_string(),
                job,
                fire.triggered.to_string(),
            ]);
        }
        table.print("");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse() {
        assert_eq!(parse_misfire("coalesce"), Ok(Misfire::Coalesce));
        assert_eq!(parse_misfire("all:3"), Ok(Misfire::All { max: 3 }));
        assert!(parse_misfire("all").is_err());
        assert_eq!(parse_overlap("skip"), Ok(Overlap::Skip));
        assert!(parse_overlap("never").is_err());
    }
}
