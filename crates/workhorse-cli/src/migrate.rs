//! `workhorse migrate`: brings a database's schema up to date, then exits.
//!
//! `workhorse serve` migrates at start too; this command lets a deployment do it as a
//! separate step (a Kubernetes Job or init container before a rolling upgrade). Both are
//! safe while other nodes run or migrate at the same moment: PostgreSQL migrations take
//! turns on an advisory lock, and each runs in one transaction.

use crate::output;
use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use workhorse_store_postgres::{PgOptions, PgStore};
use workhorse_store_sqlite::SqliteStore;

/// `workhorse migrate` options.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database to migrate (`postgres://…`). When given, --data-dir is
    /// ignored.
    #[arg(long, env = "WORKHORSE_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// Directory of the SQLite database to migrate (`<data-dir>/workhorse.db`), when no
    /// --database is given; created if missing.
    #[arg(long, env = "WORKHORSE_DATA_DIR", default_value = "./workhorse-data")]
    data_dir: PathBuf,
}

/// What was migrated, for `--json`.
#[derive(Debug, Serialize)]
struct Migrated {
    store: &'static str,
    /// Migration versions applied by this run (PostgreSQL; empty when up to date).
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<Vec<i32>>,
    /// The SQLite database file.
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
}

/// Migrates the database the options name and reports what was done.
pub async fn run(args: MigrateArgs, json: bool) -> anyhow::Result<()> {
    let migrated = match args.database {
        Some(url) => migrate_postgres(&url).await?,
        None => migrate_sqlite(args.data_dir).await?,
    };
    if json {
        return output::json(&migrated);
    }
    match (&migrated.applied, &migrated.path) {
        (Some(applied), _) if applied.is_empty() => {
            println!("PostgreSQL schema already up to date");
        }
        (Some(applied), _) => println!("PostgreSQL schema migrated: applied {applied:?}"),
        (None, Some(path)) => println!("SQLite database {} up to date", path.display()),
        (None, None) => {}
    }
    Ok(())
}

async fn migrate_postgres(url: &str) -> anyhow::Result<Migrated> {
    let options = PgOptions {
        max_connections: 1,
        ..PgOptions::default()
    };
    let store = PgStore::connect_with(url, options)
        .await
        .context("connecting to PostgreSQL")?;
    let applied = store.migrate().await.context("migrating PostgreSQL")?;
    store.close().await;
    Ok(Migrated {
        store: "postgres",
        applied: Some(applied),
        path: None,
    })
}

async fn migrate_sqlite(data_dir: PathBuf) -> anyhow::Result<Migrated> {
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let path = data_dir.join("workhorse.db");
    // Opening migrates; closing waits for the writer to finish.
    let store = SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?;
    store.close().await;
    Ok(Migrated {
        store: "sqlite",
        applied: None,
        path: Some(path),
    })
}
