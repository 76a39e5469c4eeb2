//! Exact job counts per (queue, state), kept in the `queue_counts` table (migration 0003) so
//! that the dashboard's overview and the queue gauges read a few rows instead of counting
//! every job.
//!
//! Every statement that inserts, deletes or moves a job between states notes the change here
//! ([`inserted`], [`moved`], [`deleted`]) once SQLite reports that it changed the row. The
//! writer keeps a command's notes only if the command succeeded (a failed command's savepoint
//! is rolled back, and its notes with it) and, just before the group's `COMMIT`, adds the
//! group's net changes to `queue_counts` in that same transaction: a reader always sees counts
//! and jobs of the same commit. The notes live in the writer thread, where every command runs.
//!
//! Why not triggers on `jobs`, which could not be forgotten: measured with callgrind on
//! `store_bench`, a trigger firing costs SQLite about 14,000 instructions (a sub-program
//! frame per row even for one `UPDATE` of a cached row, plus a statement journal per
//! statement unless every statement says `OR FAIL`): +21% per insert, +31% per start, +27%
//! per ack. SQLite's pre-update hook would see every change too, but rusqlite exposes it only
//! with bindgen, which needs libclang wherever the crate is built. Instead, the store's tests
//! recount `jobs` after every conformance case and compare (see `tests/conformance.rs`).

use crate::error::Error;
use rusqlite::{Connection, OptionalExtension};
use std::cell::RefCell;
use workhorse_core::JobState;

/// Adds a group's net change to one (queue, state) count.
const ADD: &str = "INSERT INTO queue_counts (queue, state, jobs) VALUES (?1, ?2, ?3) \
    ON CONFLICT (queue, state) DO UPDATE SET jobs = jobs + excluded.jobs";

/// One stored count.
const STORED: &str = "SELECT jobs FROM queue_counts WHERE queue = ?1 AND state = ?2";

/// Net changes to counts, by (queue, state). A group touches few pairs, so a list searched
/// in place beats hashing (and allocates only for a pair not seen yet).
#[derive(Debug, Default)]
struct Changes(Vec<(String, JobState, i64)>);

impl Changes {
    fn add(&mut self, queue: &str, state: JobState, by: i64) {
        match self
            .0
            .iter_mut()
            .find(|(q, s, _)| *s == state && q == queue)
        {
            Some((_, _, jobs)) => *jobs += by,
            None => self.0.push((queue.to_owned(), state, by)),
        }
    }

    fn of(&self, queue: &str, state: JobState) -> i64 {
        self.0
            .iter()
            .find(|(q, s, _)| *s == state && q == queue)
            .map_or(0, |(_, _, jobs)| *jobs)
    }

    fn absorb(&mut self, other: &mut Changes) {
        for (queue, state, by) in other.0.drain(..) {
            self.add(&queue, state, by);
        }
    }
}

/// What this thread noted and has not written yet.
#[derive(Debug, Default)]
struct Notes {
    /// Changes made by the group's commands that succeeded.
    group: Changes,
    /// Changes made so far by the command that is running.
    command: Changes,
}

thread_local! {
    static NOTES: RefCell<Notes> = RefCell::default();
}

fn note(queue: &str, state: JobState, by: i64) {
    NOTES.with_borrow_mut(|notes| notes.command.add(queue, state, by));
}

/// A job of `queue` was inserted in `state`.
pub(crate) fn inserted(queue: &str, state: JobState) {
    note(queue, state, 1);
}

/// A job of `queue` moved from `from` to `to` (nothing if they are the same state).
pub(crate) fn moved(queue: &str, from: JobState, to: JobState) {
    if from != to {
        note(queue, from, -1);
        note(queue, to, 1);
    }
}

/// A job of `queue` in `state` was deleted.
pub(crate) fn deleted(queue: &str, state: JobState) {
    note(queue, state, -1);
}

/// How many jobs of `queue` are in `state` in the writer's transaction, changes noted but
/// not yet written included. Only meaningful on the writer thread, inside a command.
pub(crate) fn current(conn: &Connection, queue: &str, state: JobState) -> Result<u64, Error> {
    let stored: i64 = conn
        .prepare_cached(STORED)?
        .query_row(rusqlite::params![queue, state.as_str()], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let unwritten =
        NOTES.with_borrow(|notes| notes.group.of(queue, state) + notes.command.of(queue, state));
    Ok(u64::try_from(stored + unwritten).unwrap_or(0))
}

/// The writer's side: group and command boundaries, and the write before `COMMIT`.
pub(crate) mod writer {
    use super::{ADD, Connection, Error, NOTES, Notes};

    /// A group starts: nothing noted yet (whatever a failed group left is dropped).
    pub fn begin_group() {
        NOTES.set(Notes::default());
    }

    /// The command that just ran succeeded: its changes count.
    pub fn keep_command() {
        NOTES.with_borrow_mut(|notes| notes.group.absorb(&mut notes.command));
    }

    /// The command that just ran failed and its savepoint is rolled back: its changes do
    /// not count.
    pub fn drop_command() {
        NOTES.with_borrow_mut(|notes| notes.command.0.clear());
    }

    /// Adds the group's net changes to `queue_counts`, inside the group's transaction.
    pub fn write(conn: &Connection) -> Result<(), Error> {
        let changes = NOTES.take().group;
        let mut add = conn.prepare_cached(ADD)?;
        for (queue, state, by) in changes.0 {
            if by != 0 {
                add.execute(rusqlite::params![queue, state.as_str(), by])?;
            }
        }
        Ok(())
    }
}
