//! Exact job counts per (queue, state), kept in the `queue_counts` table (migration 0003) so
//! that the dashboard's overview and the queue gauges read a few rows instead of counting
//! every job.
//!
//! The writer runs each group in a [`WriteTx`]: the connection and the count changes of the
//! group's commands. SQL that inserts, deletes or moves jobs between states is a [`JobSql`],
//! which only [`WriteTx::prepare`] turns into a statement ([`JobStatement`]), and a
//! `JobStatement` runs only through a method of the `WriteTx` that takes the count change it
//! makes ([`WriteTx::insert_job`], [`WriteTx::move_job`], [`WriteTx::update_job`],
//! [`WriteTx::move_jobs`], [`WriteTx::delete_jobs`]): a statement that changes jobs without
//! saying how their counts change does not compile. Each method notes the change once SQLite
//! reports the rows it changed. Reads, and writes that move no job (settings, schedules,
//! edges, leases), take the plain connection ([`WriteTx::conn`]).
//!
//! The writer keeps a command's changes only if the command succeeded (a failed command's
//! savepoint is rolled back, and its changes with it) and, just before the group's `COMMIT`,
//! adds the group's net changes to `queue_counts` in that same transaction
//! ([`WriteTx::write_counts`]): a reader always sees counts and jobs of the same commit.
//!
//! Why not triggers on `jobs`, which could not be forgotten either: measured with callgrind
//! on `store_bench`, a trigger firing costs SQLite about 14,000 instructions (a sub-program
//! frame per row even for one `UPDATE` of a cached row, plus a statement journal per
//! statement unless every statement says `OR FAIL`): +21% per insert, +31% per start, +27%
//! per ack. Noting a change here costs a search of a short list. SQLite's pre-update hook
//! would see every change too, but rusqlite exposes it only with bindgen, which needs
//! libclang wherever the crate is built. The store's tests also recount `jobs` after every
//! conformance case and compare (see `tests/conformance.rs`).

use crate::error::Error;
use rusqlite::{CachedStatement, Connection, OptionalExtension, Params};
use workhorse_core::{Job, JobState};

/// Adds a group's net change to one (queue, state) count.
const ADD: &str = "INSERT INTO queue_counts (queue, state, jobs) VALUES (?1, ?2, ?3) \
    ON CONFLICT (queue, state) DO UPDATE SET jobs = jobs + excluded.jobs";

/// One stored count.
const STORED: &str = "SELECT jobs FROM queue_counts WHERE queue = ?1 AND state = ?2";

/// SQL that inserts, deletes or moves jobs between states: prepared only by
/// [`WriteTx::prepare`], run only by the `WriteTx` methods that count what it changes.
pub(crate) struct JobSql(String);

impl JobSql {
    pub fn new(sql: String) -> JobSql {
        JobSql(sql)
    }

    /// The SQL text, for tests of its query plan.
    #[cfg(test)]
    pub fn text(&self) -> &str {
        &self.0
    }
}

/// A prepared [`JobSql`]; it runs only through a [`WriteTx`] method.
pub(crate) struct JobStatement<'c>(CachedStatement<'c>);

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

    fn moved(&mut self, queue: &str, from: JobState, to: JobState) {
        if from != to {
            self.add(queue, from, -1);
            self.add(queue, to, 1);
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

/// The writer's transaction for one group: the write connection and the count changes the
/// group's commands made. See the module docs.
pub(crate) struct WriteTx<'c> {
    conn: &'c Connection,
    /// Changes made by the group's commands that succeeded.
    group: Changes,
    /// Changes made so far by the command that is running.
    command: Changes,
}

impl<'c> WriteTx<'c> {
    /// A group's transaction on `conn`, nothing changed yet.
    pub fn new(conn: &'c Connection) -> WriteTx<'c> {
        WriteTx {
            conn,
            group: Changes::default(),
            command: Changes::default(),
        }
    }

    /// The connection, for reads and for writes that move no job between states.
    pub fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// Prepares (once per connection, then from the cache) SQL that changes jobs.
    pub fn prepare(&self, sql: &JobSql) -> Result<JobStatement<'c>, Error> {
        Ok(JobStatement(self.conn.prepare_cached(&sql.0)?))
    }

    /// Runs `stmt`, which inserts one job of `queue` in `state`.
    pub fn insert_job(
        &mut self,
        stmt: &mut JobStatement<'_>,
        params: impl Params,
        queue: &str,
        state: JobState,
    ) -> Result<(), Error> {
        if stmt.0.execute(params)? == 1 {
            self.command.add(queue, state, 1);
        }
        Ok(())
    }

    /// Runs `stmt`, which moves at most one job of `queue` from `from` to `to`; whether it
    /// did.
    pub fn move_job(
        &mut self,
        stmt: &mut JobStatement<'_>,
        params: impl Params,
        queue: &str,
        from: JobState,
        to: JobState,
    ) -> Result<bool, Error> {
        let moved = stmt.0.execute(params)? == 1;
        if moved {
            self.command.moved(queue, from, to);
        }
        Ok(moved)
    }

    /// Runs `stmt`, which changes at most one job, in state `from` before; when it did,
    /// `read_back` reads the job as it is now, and its move to its new state is counted.
    pub fn update_job(
        &mut self,
        stmt: &mut JobStatement<'_>,
        params: impl Params,
        from: JobState,
        read_back: impl FnOnce() -> Result<Option<Job>, Error>,
    ) -> Result<Option<Job>, Error> {
        if stmt.0.execute(params)? == 0 {
            return Ok(None);
        }
        let job = read_back()?;
        if let Some(job) = &job {
            self.command.moved(&job.queue, from, job.state);
        }
        Ok(job)
    }

    /// Runs `stmt`, a `… RETURNING queue` that moves every job it returns from `from` to
    /// `to`; the queue of each, in order.
    pub fn move_jobs(
        &mut self,
        stmt: &mut JobStatement<'_>,
        params: impl Params,
        from: JobState,
        to: JobState,
    ) -> Result<Vec<String>, Error> {
        let mut rows = stmt.0.query(params)?;
        let mut queues = Vec::new();
        while let Some(row) = rows.next()? {
            let queue: String = row.get(0)?;
            self.command.moved(&queue, from, to);
            queues.push(queue);
        }
        Ok(queues)
    }

    /// Runs `stmt`, a `DELETE … RETURNING queue, state`; how many jobs it deleted.
    pub fn delete_jobs(
        &mut self,
        stmt: &mut JobStatement<'_>,
        params: impl Params,
    ) -> Result<u64, Error> {
        let mut rows = stmt.0.query(params)?;
        let mut deleted = 0;
        while let Some(row) = rows.next()? {
            let queue: String = row.get(0)?;
            let crate::row::State(state) = row.get(1)?;
            self.command.add(&queue, state, -1);
            deleted += 1;
        }
        Ok(deleted)
    }

    /// How many jobs of `queue` are in `state` in this transaction, the changes not yet
    /// written included.
    pub fn count(&self, queue: &str, state: JobState) -> Result<u64, Error> {
        let stored: i64 = self
            .conn
            .prepare_cached(STORED)?
            .query_row(rusqlite::params![queue, state.as_str()], |row| row.get(0))
            .optional()?
            .unwrap_or(0);
        let unwritten = self.group.of(queue, state) + self.command.of(queue, state);
        Ok(u64::try_from(stored + unwritten).unwrap_or(0))
    }

    /// The command that just ran succeeded: its changes count.
    pub fn keep_command(&mut self) {
        self.group.absorb(&mut self.command);
    }

    /// The command that just ran failed and its savepoint is rolled back: its changes do
    /// not count.
    pub fn drop_command(&mut self) {
        self.command.0.clear();
    }

    /// Adds the group's net changes to `queue_counts`, inside the group's transaction.
    pub fn write_counts(self) -> Result<(), Error> {
        let mut add = self.conn.prepare_cached(ADD)?;
        for (queue, state, by) in self.group.0 {
            if by != 0 {
                add.execute(rusqlite::params![queue, state.as_str(), by])?;
            }
        }
        Ok(())
    }
}
