//! `workhorse bench`: the `workhorse-bench` crate's measurements, printed as a table and
//! written as JSON when asked. Without the `bench` feature (the Python package), a stand-in
//! that tells the user where the command is instead of a bare "unrecognized subcommand".

use workhorse_client::Client;

#[cfg(feature = "bench")]
pub use workhorse_bench::BenchArgs;

/// Runs the bench against the server `client` talks to, prints the results, and writes
/// the JSON report when asked.
#[cfg(feature = "bench")]
pub async fn run(client: &Client, args: BenchArgs) -> anyhow::Result<()> {
    use crate::output::Table;
    use workhorse_bench::Report;

    let report = workhorse_bench::run(client, &args).await?;
    let mut table = Table::new(Report::COLUMNS.to_vec());
    for row in report.rows() {
        table.row(row);
    }
    println!("{}", table.render());
    if let Some(path) = &args.json_out {
        report.write_json(path)?;
    }
    Ok(())
}

/// Whatever was asked of the absent command, taken as is so that clap does not refuse it.
#[cfg(not(feature = "bench"))]
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _ignored: Vec<std::ffi::OsString>,
}

/// Refuses, saying how to get a `workhorse` binary that has the bench.
#[cfg(not(feature = "bench"))]
#[expect(
    clippy::unused_async,
    reason = "the signature of the real command's `run`, so the dispatch is the same in both builds"
)]
pub async fn run(_client: &Client, _args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "`workhorse bench` is not in this build (the Python package leaves it out); build the \
         binary with `cargo build --release -p workhorse-cli` and run `target/release/workhorse bench`"
    )
}
