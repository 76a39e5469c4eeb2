//! Every statement whose guard or target comes from the state machine, built once from
//! [`Transition::rule`] so that the SQL cannot drift from the one table in core. Those that
//! change jobs are [`JobSql`]: they run only through a [`crate::counts::WriteTx`].

use crate::counts::JobSql;
use crate::row::JOB_COLUMNS;
use std::sync::LazyLock;
use workhorse_core::{JobState, Outcome, Transition};

/// The statements, built on first use.
pub(crate) static SQL: LazyLock<Sql> = LazyLock::new(Sql::build);

/// Guarded statements. Parameters are documented per field.
pub(crate) struct Sql {
    /// Start: `?1` seq, `?2` lease id, `?3` worker, `?4` lease deadline, `?5` now.
    pub start: JobSql,
    /// Expire one waiting job: `?1` seq, `?2` now.
    pub expire_one: JobSql,
    /// Promote due scheduled jobs: `?1` now, `?2` limit. Returns each job's queue.
    pub promote_due: JobSql,
    /// Complete: `?1` id, `?2` lease id, `?3` result, `?4` now.
    pub complete: JobSql,
    /// Settling a running job: one statement per [`Outcome`], see [`Sql::settle`].
    retry: JobSql,
    rescue: JobSql,
    bury: JobSql,
    cancel: JobSql,
    /// Release: `?1` id, `?2` lease id, `?3` now.
    pub release: JobSql,
    /// Cancel a waiting job at once: `?1` id, `?2` now.
    pub cancel_waiting: JobSql,
    /// Flag a running job for cancellation (it stays `running`): `?1` id.
    pub request_cancel: String,
    /// Redrive: `?1` id, `?2` now.
    pub redrive: JobSql,
    /// Heartbeat: `?1` id, `?2` lease id, `?3` new deadline, `?4` progress or NULL.
    pub heartbeat: String,
    /// Jobs that may hold a unique key, newest first: `?1` key.
    pub key_candidates: String,
}

impl Sql {
    fn build() -> Sql {
        let lease_cleared = "lease_id = NULL, lease_worker = NULL, lease_expires_at = NULL";
        Sql {
            start: JobSql::new(format!(
                "UPDATE jobs SET state = {}, attempt = attempt + 1, lease_id = ?2, \
                 lease_worker = ?3, lease_expires_at = ?4, started_at = ?5, progress = NULL \
                 WHERE seq = ?1 AND {}",
                target(Transition::Start),
                guard(Transition::Start)
            )),
            expire_one: JobSql::new(format!(
                "UPDATE jobs SET state = {}, finished_at = ?2 WHERE seq = ?1 AND {}",
                target(Transition::Expire),
                guard(Transition::Expire)
            )),
            promote_due: JobSql::new(format!(
                "UPDATE jobs SET state = {t} WHERE seq IN (SELECT seq FROM jobs \
                 WHERE {g} AND run_at <= ?1 ORDER BY run_at LIMIT ?2) AND {g} RETURNING queue",
                t = target(Transition::Promote),
                g = guard(Transition::Promote)
            )),
            complete: JobSql::new(format!(
                "UPDATE jobs SET state = {}, result = ?3, finished_at = ?4, {lease_cleared} \
                 WHERE id = ?1 AND {} AND lease_id = ?2",
                target(Transition::Complete),
                guard(Transition::Complete)
            )),
            retry: settle_sql(Transition::Retry, lease_cleared),
            rescue: settle_sql(Transition::Rescue, lease_cleared),
            bury: settle_sql(Transition::Bury, lease_cleared),
            cancel: settle_sql(Transition::Cancel, lease_cleared),
            release: JobSql::new(format!(
                "UPDATE jobs SET state = {}, attempt = attempt - 1, run_at = ?3, {lease_cleared} \
                 WHERE id = ?1 AND {} AND lease_id = ?2",
                target(Transition::Release),
                guard(Transition::Release)
            )),
            cancel_waiting: JobSql::new(format!(
                "UPDATE jobs SET state = {}, finished_at = ?2 WHERE id = ?1 AND {}",
                target(Transition::Cancel),
                state_in(Transition::Cancel.sources(), |s| *s != JobState::Running)
            )),
            request_cancel: format!(
                "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND state = {}",
                quote(JobState::Running)
            ),
            redrive: JobSql::new(format!(
                "UPDATE jobs SET state = {}, attempt = 0, run_at = ?2, finished_at = NULL, \
                 cancel_requested = 0, progress = NULL, \
                 expires_at = CASE WHEN expires_at <= ?2 THEN NULL ELSE expires_at END \
                 WHERE id = ?1 AND {}",
                target(Transition::Redrive),
                guard(Transition::Redrive)
            )),
            heartbeat: format!(
                "UPDATE jobs SET lease_expires_at = ?3, progress = coalesce(?4, progress) \
                 WHERE id = ?1 AND state = {} AND lease_id = ?2",
                quote(JobState::Running)
            ),
            key_candidates: format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE key = ?1 \
                 AND ({} OR (state = {} AND key_window_us IS NULL) OR key_window_us > 0) \
                 ORDER BY seq DESC",
                state_in(&JobState::ALL, |s| s.is_live()),
                quote(JobState::Succeeded)
            ),
        }
    }

    /// Carries out `outcome` (from `workhorse_core::retry`) on a running job under its
    /// lease: `?1` id, `?2` lease id, `?3` `run_at`, `?4` errors, `?5` `finished_at`.
    pub fn settle(&self, outcome: Outcome) -> &JobSql {
        match outcome {
            Outcome::Retry { .. } => &self.retry,
            Outcome::Rescue => &self.rescue,
            Outcome::Bury => &self.bury,
            Outcome::Cancel => &self.cancel,
        }
    }
}

fn settle_sql(t: Transition, lease_cleared: &str) -> JobSql {
    JobSql::new(format!(
        "UPDATE jobs SET state = {}, run_at = ?3, errors = ?4, finished_at = ?5, {lease_cleared} \
         WHERE id = ?1 AND {} AND lease_id = ?2",
        target(t),
        guard(t)
    ))
}

/// The transition's legal source states as a condition: `state = '…'`, or
/// `(state = '…' OR …)`.
pub(crate) fn guard(t: Transition) -> String {
    state_in(t.sources(), |_| true)
}

fn target(t: Transition) -> String {
    quote(t.target())
}

/// `'name'`: state names are fixed identifiers, safe to inline (and inlined literals let
/// SQLite match the partial indexes).
pub(crate) fn quote(state: JobState) -> String {
    format!("'{}'", state.as_str())
}

/// A condition that `state` is one of `states` (those `keep` keeps), written as equalities:
/// SQLite matches a partial index only when the query repeats its predicate's form, and
/// turns an `IN` list of three or more values into a temporary table at every execution.
fn state_in(states: &[JobState], keep: impl Fn(&JobState) -> bool) -> String {
    let terms: Vec<String> = states
        .iter()
        .filter(|s| keep(s))
        .map(|s| format!("state = {}", quote(*s)))
        .collect();
    match terms.as_slice() {
        [only] => only.clone(),
        _ => format!("({})", terms.join(" OR ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_follow_the_table() {
        assert_eq!(
            guard(Transition::Expire),
            "(state = 'scheduled' OR state = 'ready')"
        );
        assert_eq!(guard(Transition::Start), "state = 'ready'");
        assert!(SQL.start.text().contains("state = 'ready'"));
        let not_running = "(state = 'scheduled' OR state = 'ready' OR state = 'waiting')";
        assert!(
            SQL.cancel_waiting.text().contains(not_running),
            "running jobs are only flagged"
        );
        let redrivable = "(state = 'dead' OR state = 'cancelled' OR state = 'expired')";
        assert!(SQL.redrive.text().contains(redrivable));
        for outcome in [Outcome::Rescue, Outcome::Bury, Outcome::Cancel] {
            let sql = SQL.settle(outcome).text();
            let target = outcome.transition().target();
            assert!(sql.contains(&format!("state = '{target}'")), "{sql}");
            assert!(sql.contains(&guard(outcome.transition())), "{sql}");
        }
    }
}
