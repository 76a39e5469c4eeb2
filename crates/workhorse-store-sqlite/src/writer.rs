//! The one writer: a thread that owns the write connection and group-commits.
//!
//! Every mutating call becomes a [`Command`] sent over a channel. The thread blocks for the
//! first command, drains every command already queued (up to `max_group`), runs them all in
//! one `BEGIN IMMEDIATE` transaction, each inside its own `SAVEPOINT` so that a failing
//! command rolls back alone, commits once, and only then answers every caller. Many
//! concurrent requests therefore cost one fsync between them. Commands run on the group's
//! [`WriteTx`], so the job counts per queue and state change in that same transaction (see
//! `counts.rs`).

use crate::counts::WriteTx;
use crate::error::{Error, duplicate};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};
use workhorse_store::StoreError;

/// Commands that may wait in the channel before callers have to wait to send.
const CHANNEL: usize = 4_096;

/// Counters of the writer, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Commands run (each mutating store call is one).
    pub commands: u64,
    /// Transactions committed; fewer than `commands` when calls were grouped.
    pub commits: u64,
}

/// One mutating call, as the writer thread sees it.
trait Command: Send {
    /// Runs inside the group's transaction; `false` if it failed (its savepoint is then
    /// rolled back).
    fn run(&mut self, tx: &mut WriteTx<'_>) -> bool;
    /// Answers the caller once the group committed (or failed to).
    fn answer(self: Box<Self>, group: Result<(), &StoreError>);
}

struct Op<F, T> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Command for Op<F, T>
where
    F: FnOnce(&mut WriteTx<'_>) -> Result<T, Error> + Send,
    T: Send,
{
    fn run(&mut self, tx: &mut WriteTx<'_>) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(tx).map_err(StoreError::from);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, group: Result<(), &StoreError>) {
        let answer = match (self.result, group) {
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(duplicate(e)),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => Err(StoreError::Internal(
                "the store operation panicked; see the log".to_owned(),
            )),
        };
        // The caller may have stopped waiting; the write stands either way.
        let _ = self.reply.send(answer);
    }
}

enum Message {
    Run(Box<dyn Command>),
    Stop(oneshot::Sender<()>),
}

#[derive(Default)]
struct Counters {
    commands: AtomicU64,
    commits: AtomicU64,
}

/// The handle callers use to reach the writer thread.
pub(crate) struct Writer {
    sender: mpsc::Sender<Message>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub fn spawn(conn: Connection, max_group: usize) -> Result<Writer, StoreError> {
        let (sender, receiver) = mpsc::channel(CHANNEL);
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("workhorse-sqlite-writer".to_owned())
            .spawn(move || run(conn, receiver, max_group.max(1), &thread_counters))
            .map_err(|e| StoreError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { sender, counters })
    }

    /// Runs `op` in the next group transaction; answers after that transaction committed.
    pub async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut WriteTx<'_>) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let command = Box::new(Op {
            work: Some(op),
            result: None,
            reply,
        });
        self.sender
            .send(Message::Run(command))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Lets the writer finish what is queued before this call, then stops it and closes the
    /// write connection. Later writes fail with `Unavailable`.
    pub async fn close(&self) {
        let (done, stopped) = oneshot::channel();
        if self.sender.send(Message::Stop(done)).await.is_ok() {
            // An error means the thread already ended: closed either way.
            let _ = stopped.await;
        }
    }

    pub fn stats(&self) -> WriterStats {
        WriterStats {
            commands: self.counters.commands.load(Ordering::Relaxed),
            commits: self.counters.commits.load(Ordering::Relaxed),
        }
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the SQLite store is closed".to_owned())
}

fn run(
    conn: Connection,
    mut receiver: mpsc::Receiver<Message>,
    max_group: usize,
    counters: &Counters,
) {
    let mut group: Vec<Box<dyn Command>> = Vec::with_capacity(max_group);
    let mut stop = None;
    while stop.is_none() {
        let Some(first) = receiver.blocking_recv() else {
            break; // every handle is gone
        };
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Run(command) => group.push(command),
                Message::Stop(done) => {
                    stop = Some(done);
                    break;
                }
            }
            if group.len() < max_group {
                next = receiver.try_recv().ok();
            }
        }
        if !group.is_empty() {
            run_group(&conn, &mut group, counters);
        }
    }
    // Commands still queued are dropped unanswered: their callers see `Unavailable`.
    drop(receiver);
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the SQLite write connection failed");
    }
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

fn run_group(conn: &Connection, group: &mut Vec<Box<dyn Command>>, counters: &Counters) {
    let outcome = execute(conn, group).map_err(StoreError::from);
    match &outcome {
        Ok(()) => {
            counters.commits.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            tracing::error!(error = %e, commands = group.len(), "group transaction failed");
            if !conn.is_autocommit()
                && let Err(e) = conn.execute_batch("ROLLBACK")
            {
                tracing::error!(error = %e, "rolling back the group transaction failed");
            }
        }
    }
    counters
        .commands
        .fetch_add(group.len() as u64, Ordering::Relaxed);
    for command in group.drain(..) {
        command.answer(outcome.as_ref().copied());
    }
}

fn execute(conn: &Connection, group: &mut [Box<dyn Command>]) -> Result<(), Error> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let mut tx = WriteTx::new(conn);
    for command in group.iter_mut() {
        conn.prepare_cached("SAVEPOINT command")?.execute([])?;
        // A panicking command is answered with an error; the others still commit.
        let ok = catch_unwind(AssertUnwindSafe(|| command.run(&mut tx))).unwrap_or(false);
        if ok {
            tx.keep_command();
        } else {
            tx.drop_command();
            conn.prepare_cached("ROLLBACK TO command")?.execute([])?;
        }
        conn.prepare_cached("RELEASE command")?.execute([])?;
    }
    // The job counts per queue and state change in the same transaction as the jobs.
    tx.write_counts()?;
    // THE DURABILITY BOUNDARY. With `synchronous=FULL` this COMMIT returns only after the WAL
    // is fsynced; no command of the group has been answered before this point, and each is
    // answered right after it (see `run_group`). An error here answers every command with it.
    conn.prepare_cached("COMMIT")?.execute([])?;
    Ok(())
}
