//! Ready-queue notifications across nodes: LISTEN/NOTIFY.
//!
//! Every transaction that makes jobs ready (insert, promote, rescue, release, redrive) also
//! runs `pg_notify(<channel>, <queue>)`; PostgreSQL delivers it to every listening session,
//! on any node, when — and only if — that transaction commits. [`ReadyListener`] holds one
//! dedicated connection that `LISTEN`s and fans each queue name out to subscribers through a
//! tokio broadcast channel.
//!
//! Notifications sent while the listening connection is down are lost. After it reconnects
//! (by itself, with backoff) the listener sends [`ANY_QUEUE`], meaning "anything may be
//! ready": subscribers should poll every queue they serve once. A subscriber that lags
//! behind the broadcast buffer should do the same.

use crate::error::Error;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use std::time::Duration;
use tokio::sync::{Mutex, broadcast};
use tokio::task::JoinHandle;

/// Sent instead of a queue name when notifications may have been missed (the listening
/// connection was lost and is back). Never a valid queue name.
pub const ANY_QUEUE: &str = "*";

/// Queue names buffered per subscriber before it lags.
const BUFFER: usize = 1024;

/// The `NOTIFY` channel: `workhorse_ready`, or `workhorse_ready_<schema>` for a store kept
/// in its own schema, so that deployments sharing a database do not wake each other.
pub(crate) fn channel(schema: Option<&str>) -> String {
    match schema {
        Some(schema) => format!("workhorse_ready_{schema}"),
        None => "workhorse_ready".to_owned(),
    }
}

/// The listening side: started on first subscription, stopped when dropped.
pub(crate) struct ReadyListener {
    channel: String,
    options: PgConnectOptions,
    sender: broadcast::Sender<String>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl ReadyListener {
    pub fn new(channel: String, options: PgConnectOptions) -> ReadyListener {
        ReadyListener {
            channel,
            options,
            sender: broadcast::channel(BUFFER).0,
            task: Mutex::new(None),
        }
    }

    /// A receiver of ready queue names. The first call connects and `LISTEN`s before it
    /// returns, so that every commit after it is heard.
    pub async fn subscribe(&self) -> Result<broadcast::Receiver<String>, Error> {
        let mut task = self.task.lock().await;
        let receiver = self.sender.subscribe();
        if task.is_none() {
            let listener = listen(&self.options, &self.channel).await?;
            let run = run(
                listener,
                self.options.clone(),
                self.channel.clone(),
                self.sender.clone(),
            );
            *task = Some(tokio::spawn(run));
        }
        Ok(receiver)
    }
}

impl Drop for ReadyListener {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().take() {
            task.abort();
        }
    }
}

/// A listener on its own one-connection pool (it never takes a connection from the store's
/// pool), `LISTEN`ing on `channel`.
async fn listen(options: &PgConnectOptions, channel: &str) -> Result<PgListener, Error> {
    let pool: PgPool = PgPoolOptions::new()
        .max_connections(1)
        // Fail fast while the server is down; `run`'s backoff paces the retries.
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.eager_reconnect(true);
    listener.listen(channel).await?;
    Ok(listener)
}

/// Forwards notifications until the listener is dropped; reconnects after any failure.
async fn run(
    mut listener: PgListener,
    options: PgConnectOptions,
    channel: String,
    sender: broadcast::Sender<String>,
) {
    let mut backoff = Backoff::default();
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                backoff = Backoff::default();
                // No subscriber at the moment is not an error.
                let _ = sender.send(notification.payload().to_owned());
            }
            // The connection dropped and was re-established: anything may have been missed.
            Ok(None) => {
                let _ = sender.send(ANY_QUEUE.to_owned());
            }
            Err(error) => {
                tracing::warn!(%error, "ready listener lost its connection; reconnecting");
                listener = loop {
                    tokio::time::sleep(backoff.next()).await;
                    match listen(&options, &channel).await {
                        Ok(listener) => break listener,
                        Err(error) => tracing::debug!(?error, "ready listener reconnect failed"),
                    }
                };
                let _ = sender.send(ANY_QUEUE.to_owned());
            }
        }
    }
}

/// Reconnect delays: 50 ms doubling to 1 s.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Duration::from_millis(50))
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let delay = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(1));
        delay
    }
}
