//! `workhorse tokens`: create, list and revoke the API tokens of a data directory.
//!
//! Works on `<data-dir>/tokens.json` directly (no server needed); a running server picks
//! the change up within seconds, or at once on SIGHUP.

use crate::output::{self, Table};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::{Path, PathBuf};
use workhorse_core::{Clock as _, SystemClock};
use workhorse_server::auth::{
    Role, TokenRecord, create_token, read_records, revoke_token, tokens_path,
};

/// Where the token file lives.
#[derive(Debug, Args)]
pub struct DataDir {
    /// The server's data directory (the token file is `<data-dir>/tokens.json`).
    #[arg(long, env = "WORKHORSE_DATA_DIR", default_value = "./workhorse-data")]
    data_dir: PathBuf,
}

/// `workhorse tokens …`
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token and print it, once: only its SHA-256 is stored.
    Create {
        /// What the token may do.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// A unique name, to list and revoke it by (default `<role>-<n>`).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        dir: DataDir,
    },
    /// List tokens by name and role (never the tokens or their hashes).
    List {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Revoke the token named NAME.
    Revoke {
        name: String,
        #[command(flatten)]
        dir: DataDir,
    },
}

fn parse_role(raw: &str) -> Result<Role, String> {
    raw.parse()
        .map_err(|err: workhorse_server::auth::UnknownRole| err.to_string())
}

/// What `list` shows of a token.
#[derive(Debug, Serialize)]
struct Listed<'a> {
    name: &'a str,
    role: Role,
    created_at: workhorse_core::Timestamp,
}

impl<'a> From<&'a TokenRecord> for Listed<'a> {
    fn from(record: &'a TokenRecord) -> Self {
        Listed {
            name: &record.name,
            role: record.role,
            created_at: record.created_at,
        }
    }
}

/// Runs one `tokens` command.
pub fn run(command: TokensCommand, json: bool) -> anyhow::Result<()> {
    match command {
        TokensCommand::Create { role, name, dir } => {
            create(&tokens_path(&dir.data_dir), role, name.as_deref(), json)
        }
        TokensCommand::List { dir } => list(&tokens_path(&dir.data_dir), json),
        TokensCommand::Revoke { name, dir } => {
            let path = tokens_path(&dir.data_dir);
            let record = revoke_token(&path, &name)?;
            println!(
                "revoked {} ({}); a running server drops it within seconds",
                record.name, record.role
            );
            Ok(())
        }
    }
}

fn create(path: &Path, role: Role, name: Option<&str>, json: bool) -> anyhow::Result<()> {
    let created = create_token(path, role, name, SystemClock.now())
        .with_context(|| format!("creating a token in {}", path.display()))?;
    let token = created.token.expose();
    if json {
        let listed = Listed::from(&created.record);
        return output::json(
            &serde_json::json!({ "token": token, "name": listed.name, "role": listed.role }),
        );
    }
    println!("{token}");
    eprintln!(
        "created {role} token {:?} in {}; it is shown only now: store it (e.g. as WORKHORSE_TOKEN)",
        created.record.name,
        path.display()
    );
    Ok(())
}

fn list(path: &Path, json: bool) -> anyhow::Result<()> {
    let records = read_records(path)?;
    if json {
        let listed: Vec<Listed<'_>> = records.iter().map(Listed::from).collect();
        return output::json(&listed);
    }
    let mut table = Table::new(vec!["NAME", "ROLE", "CREATED"]);
    for record in &records {
        table.row(vec![
            record.name.clone(),
            record.role.to_string(),
            output::time(Some(record.created_at)),
        ]);
    }
    table.print(&format!("no tokens in {}", path.display()));
    Ok(())
}
