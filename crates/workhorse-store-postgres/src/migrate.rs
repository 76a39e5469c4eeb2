//! Schema migrations: numbered SQL files in `migrations/`, applied in order, once.
//!
//! Several nodes may start at the same moment and all call [`migrate`]: each run takes a
//! transaction-level advisory lock first, so one node applies the missing migrations while
//! the others wait and then find nothing left to do. DDL is transactional in PostgreSQL, so
//! a migration that fails leaves nothing behind.

use crate::error::{Error, internal};
use sqlx::{AssertSqlSafe, PgPool};

/// Every migration, in order: (version, name, SQL). Versions only increase but may skip a
/// number (one reserved for work not merged yet); each is applied once, by its number.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "schedules",
        include_str!("../migrations/0002_schedules.sql"),
    ),
    (
        4,
        "workflows",
        include_str!("../migrations/0004_workflows.sql"),
    ),
    (
        5,
        "queue_counts",
        include_str!("../migrations/0005_queue_counts.sql"),
    ),
    (
        6,
        "schedule_sets",
        include_str!("../migrations/0006_schedule_sets.sql"),
    ),
];

/// The advisory lock key that serializes migrations within one database.
const MIGRATE_LOCK: &str = "workhorse:migrate";

/// Brings the schema up to date; idempotent. `schema` (already validated as a plain
/// identifier) is created first when given.
pub(crate) async fn migrate(pool: &PgPool, schema: Option<&str>) -> Result<Vec<i32>, Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(MIGRATE_LOCK)
        .execute(&mut *tx)
        .await?;
    if let Some(schema) = schema {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS workhorse_migrations (version integer PRIMARY KEY, \
         name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i32> = sqlx::query_scalar("SELECT version FROM workhorse_migrations")
        .fetch_all(&mut *tx)
        .await?;
    let known = MIGRATIONS.last().map_or(0, |(version, _, _)| *version);
    if let Some(newer) = applied.iter().find(|version| **version > known) {
        return Err(internal(format!(
            "the database schema is at version {newer}, newer than this binary knows ({known}); \
             upgrade Workhorse"
        )));
    }
    let mut newly = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO workhorse_migrations (version, name) VALUES ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        newly.push(*version);
    }
    tx.commit().await?;
    Ok(newly)
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_increase_from_one() {
        assert_eq!(super::MIGRATIONS.first().map(|m| m.0), Some(1));
        for pair in super::MIGRATIONS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} then {}", pair[0].0, pair[1].0);
        }
    }
}
