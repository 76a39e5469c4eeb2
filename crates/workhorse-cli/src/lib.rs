//! The `workhorse` command line: `serve` runs the server; `enqueue`, `jobs`, `queues` and
//! `dlq` talk to a running one over HTTP; `bench` measures one (with the `bench` feature,
//! on by default: the `workhorse-bench` crate).
//!
//! Output is a human table by default and JSON with `--json`. Every error prints one line
//! on stderr (`error: …`) and exits with status 1.
//!
//! The binary is a thin wrapper over [`run_from`], which the Python package also calls.
#![expect(
    clippy::print_stdout,
    reason = "the command line's output is its interface"
)]

mod bench;
mod dlq;
mod enqueue;
mod jobs;
mod migrate;
mod output;
mod queues;
mod schedules;
mod serve;
mod shutdown;
mod tokens;

use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::io::IsTerminal as _;
use workhorse_client::Client;

/// Durable background jobs: the server and its command line.
#[derive(Debug, Parser)]
#[command(name = "workhorse", version, about)]
struct Cli {
    /// The server to talk to (client commands and bench).
    #[arg(long, global = true, env = "WORKHORSE_URL", default_value = workhorse_client::DEFAULT_URL)]
    url: String,
    /// API token, for servers that require one (client commands and bench).
    #[arg(long, global = true, env = "WORKHORSE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print JSON instead of human tables (client commands).
    #[arg(long, global = true)]
    json: bool,
    /// Log line format, on stderr.
    #[arg(long, global = true, value_enum, env = "WORKHORSE_LOG_FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Bring the database schema up to date (PostgreSQL with --database, else SQLite) and exit.
    Migrate(migrate::MigrateArgs),
    /// Enqueue one job.
    Enqueue(Box<enqueue::EnqueueArgs>),
    /// List, show, cancel and retry jobs.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// List queues, pause and resume them, set their limits.
    #[command(subcommand)]
    Queues(queues::QueuesCommand),
    /// Cron, interval and one-off schedules: list, show, declare, pause, trigger.
    #[command(subcommand)]
    Schedules(schedules::SchedulesCommand),
    /// The dead-letter set: list dead jobs, redrive them.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Measure a running server: enqueue throughput, end-to-end throughput, start latency.
    #[cfg_attr(not(feature = "bench"), command(hide = true, disable_help_flag = true))]
    Bench(bench::BenchArgs),
    /// API tokens of a data directory: create (printed once), list, revoke.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
}

/// Runs the command line on `args` (the program name first, as in `std::env::args_os`)
/// and returns its exit status: 0 on success, 1 on an error, 2 on a usage error. Help and
/// version requests print and return 0. Never exits the process, so a host (the Python
/// package's `workhorse` command) can call it.
pub fn run_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout, usage errors to stderr, as clap does.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let _telemetry = init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            // `{:#}` keeps the whole cause chain on one line.
            eprintln!("error: {e:#}");
            1
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Migrate(args) => migrate::run(args, json).await,
        Command::Enqueue(args) => {
            enqueue::run(&client(&cli.url, cli.token.as_deref())?, *args, json).await
        }
        Command::Jobs(command) => {
            jobs::run(&client(&cli.url, cli.token.as_deref())?, command, json).await
        }
        Command::Queues(command) => {
            queues::run(&client(&cli.url, cli.token.as_deref())?, command, json).await
        }
        Command::Schedules(command) => {
            schedules::run(&client(&cli.url, cli.token.as_deref())?, command, json).await
        }
        Command::Dlq(command) => {
            dlq::run(&client(&cli.url, cli.token.as_deref())?, command, json).await
        }
        Command::Bench(args) => bench::run(&client(&cli.url, cli.token.as_deref())?, args).await,
        Command::Tokens(command) => tokens::run(command, json),
    }
}

fn client(url: &str, token: Option<&str>) -> anyhow::Result<Client> {
    let client = Client::new(url)?;
    Ok(match token {
        Some(token) => client.with_token(token.trim()),
        None => client,
    })
}

/// What must live until the command ends: with `otel`, the span exporter, which flushes
/// the spans not yet sent when dropped.
#[derive(Default)]
struct TelemetryGuard {
    #[cfg(feature = "otel")]
    _exporter: Option<workhorse_client::otel::Telemetry>,
}

/// Logs go to stderr: `RUST_LOG` decides what, `--log-format` how. The server logs at
/// `info` by default; client commands only warn, so their output stays clean. With the
/// `otel` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported.
fn init_logging(cli: &Cli) -> TelemetryGuard {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let default = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colors only on a terminal: log files and CI output stay plain text.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let fmt = match cli.log_format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    #[cfg(feature = "otel")]
    let (otel, guard) = otel_layer();
    #[cfg(not(feature = "otel"))]
    let (otel, guard) = (
        None::<tracing_subscriber::layer::Identity>,
        TelemetryGuard::default(),
    );
    // A host that set up logging first (the Python package) keeps its own.
    let _ = tracing_subscriber::registry()
        .with(otel)
        .with(fmt.with_filter(filter))
        .try_init();
    guard
}

/// The OpenTelemetry layer when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: request spans (debug
/// level, so they need not be logged to be exported) and everything at `info` or above.
#[cfg(feature = "otel")]
fn otel_layer<S>() -> (Option<impl tracing_subscriber::Layer<S>>, TelemetryGuard)
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::{LevelFilter, Targets};

    match workhorse_client::otel::layer_from_env("workhorse") {
        Ok(Some((layer, telemetry))) => {
            let filter = Targets::new()
                .with_default(LevelFilter::INFO)
                .with_target("workhorse_server", LevelFilter::DEBUG);
            let guard = TelemetryGuard {
                _exporter: Some(telemetry),
            };
            (Some(layer.with_filter(filter)), guard)
        }
        Ok(None) => (None, TelemetryGuard::default()),
        Err(e) => {
            eprintln!("warning: {e}; spans are not exported");
            (None, TelemetryGuard::default())
        }
    }
}
