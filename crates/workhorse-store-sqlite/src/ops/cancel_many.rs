//! Cancel by filter: the unfinished jobs a filter matches, at most its limit, in one
//! transaction (the group's: a cancel of 10,000 jobs is one write).

use super::admin::request_cancel;
use super::list::{Filter, state_clause};
use super::{JobUpdate, fan_in};
use crate::counts::WriteTx;
use crate::error::Error;
use crate::row::{micros, uuid_blob};
use crate::sql::SQL;
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};
use workhorse_core::{JobId, JobState};
use workhorse_store::plan::checks::cancel_states;
use workhorse_store::{CancelFilter, CancelManyOutcome, JobCancelManyParams};

/// Cancels the waiting jobs the filter matches and flags the running ones; then the
/// dependants of the cancelled workflow jobs follow their policy (after every match moved,
/// as the PostgreSQL store does it, so a dependant the filter also matched is cancelled by
/// the filter, not released).
pub(crate) fn cancel_many(
    tx: &mut WriteTx<'_>,
    params: &JobCancelManyParams,
) -> Result<CancelManyOutcome, Error> {
    let filter = &params.filter;
    let limit = filter.limit as usize;
    let mut chosen = choose(tx.conn(), filter, cancel_states(filter)?)?;
    let mut outcome = CancelManyOutcome {
        more: chosen.len() > limit,
        ..CancelManyOutcome::default()
    };
    chosen.truncate(limit);
    let mut cancel = JobUpdate::new(tx, &SQL.cancel_waiting)?;
    for (id, state) in chosen {
        if state == JobState::Running {
            outcome
                .cancel_requested
                .extend(request_cancel(tx.conn(), id)?);
        } else {
            let now = micros(params.now);
            let job = cancel.run(tx, id, state, params![uuid_blob(&id.0), now])?;
            outcome.cancelled.extend(job);
        }
    }
    for job in &outcome.cancelled {
        let moved = fan_in::finished(tx, job, params.now)?;
        outcome.dependants.extend(moved);
    }
    Ok(outcome)
}

/// The matching jobs with their states, oldest first, one more than the limit (to learn
/// whether more match). One read per state: its literal lets SQLite use the state's index.
/// A running job already flagged does not match, so repeated calls end.
fn choose(
    conn: &Connection,
    filter: &CancelFilter,
    states: Vec<JobState>,
) -> Result<Vec<(JobId, JobState)>, Error> {
    let want = i64::from(filter.limit) + 1;
    let mut chosen = Vec::new();
    for state in states {
        let mut matching = Filter::default();
        matching
            .always(state_clause(state))
            .when("queue = ?", filter.queue.clone())
            .when("task = ?", filter.task.clone());
        if state == JobState::Running {
            matching.always("cancel_requested = 0".to_owned());
        }
        let sql = format!("SELECT id FROM jobs{} ORDER BY id LIMIT ?", matching.sql());
        let values = matching.values([Value::Integer(want)]);
        let mut stmt = conn.prepare_cached(&sql)?;
        let ids = stmt.query_map(params_from_iter(values), |row| {
            row.get::<_, [u8; 16]>(0)
                .map(|bytes| JobId(uuid::Uuid::from_bytes(bytes)))
        })?;
        for id in ids {
            chosen.push((id?, state));
        }
    }
    // Ids are UUID v7: in id order is in creation order.
    chosen.sort_by_key(|(id, _)| *id);
    chosen.truncate(usize::try_from(want).unwrap_or(usize::MAX));
    Ok(chosen)
}
