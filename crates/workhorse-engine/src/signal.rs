//! In-process wake-ups, so nothing on the hot path waits on a timer:
//!
//! - [`ReadySignal`]: a job became fetchable on a queue → every waiting fetcher of that queue
//!   (HTTP long-poll or WebSocket session) tries again at once.
//! - [`ScheduleHint`]: a job was scheduled earlier than the scheduler planned to wake.
//! - [`FinishWaiters`]: a job reached a terminal state → its result long-polls return.
//!
//! In a cluster, jobs also become ready through other nodes' commits: [`forward_feed`]
//! turns a feed of queue names heard from the database (PostgreSQL `NOTIFY`) into the
//! same [`ReadySignal`] wake-ups.

use futures_util::future::select_all;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Notify, broadcast, oneshot, watch};
use workhorse_core::{JobId, Timestamp};

/// The name a ready feed sends when any queue may have gained work (its source may have
/// missed notifications, e.g. while reconnecting): every waiter polls again. Never a valid
/// queue name.
pub const ANY_QUEUE: &str = "*";

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain maps behind: still usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One watch channel per queue; its version moves whenever the queue may have work.
#[derive(Debug, Default)]
pub(crate) struct ReadySignal {
    queues: Mutex<HashMap<String, watch::Sender<()>>>,
}

impl ReadySignal {
    /// A waiter on `queues`, with everything signalled so far already seen.
    pub(crate) fn waiter(&self, queues: &[String]) -> ReadyWaiter {
        let mut map = lock(&self.queues);
        let receivers = queues
            .iter()
            .map(|queue| {
                map.entry(queue.clone())
                    .or_insert_with(|| watch::channel(()).0)
                    .subscribe()
            })
            .collect();
        ReadyWaiter { receivers }
    }

    /// Wakes every waiter of `queue`.
    pub(crate) fn notify(&self, queue: &str) {
        if let Some(sender) = lock(&self.queues).get(queue) {
            sender.send_replace(());
        }
    }

    /// Wakes every waiter of every queue.
    pub(crate) fn notify_all(&self) {
        for sender in lock(&self.queues).values() {
            sender.send_replace(());
        }
    }

    /// How many waiters watch `queue` now (for tests and metrics).
    pub(crate) fn waiters(&self, queue: &str) -> usize {
        lock(&self.queues)
            .get(queue)
            .map_or(0, watch::Sender::receiver_count)
    }
}

/// Wakes the waiters of each queue named by `feed` ([`ANY_QUEUE`]: all waiters) until the
/// feed closes. A feed that lagged behind may have dropped names, so it wakes everyone.
pub(crate) async fn forward_feed(ready: Arc<ReadySignal>, mut feed: broadcast::Receiver<String>) {
    loop {
        match feed.recv().await {
            Ok(queue) if queue == ANY_QUEUE => ready.notify_all(),
            Ok(queue) => ready.notify(&queue),
            Err(RecvError::Lagged(skipped)) => {
                tracing::debug!(skipped, "ready feed lagged; waking every waiter");
                ready.notify_all();
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Waits until one of its queues may have work. Race-free: call [`ReadyWaiter::mark_seen`]
/// *before* trying to fetch; a signal that arrives during the fetch then makes the next
/// [`ReadyWaiter::changed`] return at once.
#[derive(Debug)]
pub struct ReadyWaiter {
    receivers: Vec<watch::Receiver<()>>,
}

impl ReadyWaiter {
    /// Forgets every signal received so far.
    pub fn mark_seen(&mut self) {
        for receiver in &mut self.receivers {
            receiver.mark_unchanged();
        }
    }

    /// Returns once a queue was signalled since the last [`ReadyWaiter::mark_seen`].
    /// Never returns for a waiter on no queue.
    pub async fn changed(&mut self) {
        if self.receivers.is_empty() {
            return std::future::pending().await;
        }
        // The senders live as long as the engine, so `changed` fails only at teardown;
        // returning then is harmless (the caller re-checks the store).
        let futures = self
            .receivers
            .iter_mut()
            .map(|receiver| Box::pin(receiver.changed()));
        let _ = select_all(futures).await;
    }
}

/// Tells the scheduler about a job due earlier than its planned wake-up.
#[derive(Debug, Default)]
pub(crate) struct ScheduleHint {
    planned: Mutex<Option<Timestamp>>,
    notify: Notify,
}

impl ScheduleHint {
    /// A job becomes due at `run_at`: wake the scheduler if that is before its plan.
    pub(crate) fn due_at(&self, run_at: Timestamp) {
        let mut planned = lock(&self.planned);
        if planned.is_none_or(|at| run_at < at) {
            *planned = Some(run_at);
            // `notify_one` keeps a permit when the scheduler is not waiting yet.
            self.notify.notify_one();
        }
    }

    /// The scheduler plans to wake at `at`.
    pub(crate) fn plan(&self, at: Timestamp) {
        *lock(&self.planned) = Some(at);
    }

    /// Resolves when an earlier job was hinted.
    pub(crate) async fn earlier(&self) {
        self.notify.notified().await;
    }
}

/// Result long-polls waiting for jobs to finish, by job id.
#[derive(Debug, Default)]
pub(crate) struct FinishWaiters {
    waiting: Mutex<HashMap<JobId, Vec<oneshot::Sender<()>>>>,
}

impl FinishWaiters {
    /// A receiver that resolves when `id` is reported finished.
    pub(crate) fn register(&self, id: JobId) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut waiting = lock(&self.waiting);
        let senders = waiting.entry(id).or_default();
        // Drop senders of waits that gave up, so a job that never finishes leaks nothing.
        senders.retain(|sender| !sender.is_closed());
        senders.push(tx);
        rx
    }

    /// Forgets the given-up waits on `id`.
    pub(crate) fn prune(&self, id: JobId) {
        let mut waiting = lock(&self.waiting);
        if let Some(senders) = waiting.get_mut(&id) {
            senders.retain(|sender| !sender.is_closed());
            if senders.is_empty() {
                waiting.remove(&id);
            }
        }
    }

    /// How many live waits on `id` there are.
    pub(crate) fn count(&self, id: JobId) -> usize {
        lock(&self.waiting).get(&id).map_or(0, |senders| {
            senders.iter().filter(|s| !s.is_closed()).count()
        })
    }

    /// `id` finished: wake its waiters.
    pub(crate) fn finished(&self, id: JobId) {
        let senders = lock(&self.waiting).remove(&id);
        for sender in senders.into_iter().flatten() {
            let _ = sender.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_during_a_fetch_is_not_lost() {
        let signal = ReadySignal::default();
        let mut waiter = signal.waiter(&["a".to_owned(), "b".to_owned()]);
        waiter.mark_seen();
        signal.notify("b");
        // `changed` must return at once: the signal came after `mark_seen`.
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter.changed())
            .await
            .expect("signal seen");
        assert_eq!(signal.waiters("a"), 1);
    }

    async fn woken(waiter: &mut ReadyWaiter) -> bool {
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_ready_feed_wakes_the_named_queue_and_any_wakes_all() {
        let signal = Arc::new(ReadySignal::default());
        let (feed, receiver) = broadcast::channel(16);
        let forwarder = tokio::spawn(forward_feed(Arc::clone(&signal), receiver));
        let mut emails = signal.waiter(&["emails".to_owned()]);
        let mut reports = signal.waiter(&["reports".to_owned()]);
        emails.mark_seen();
        reports.mark_seen();
        feed.send("reports".to_owned()).expect("send");
        assert!(woken(&mut reports).await);
        reports.mark_seen();
        feed.send(ANY_QUEUE.to_owned()).expect("send");
        assert!(woken(&mut emails).await, "`*` wakes every queue");
        assert!(woken(&mut reports).await);
        drop(feed);
        tokio::time::timeout(std::time::Duration::from_secs(5), forwarder)
            .await
            .expect("the forwarder ends with its feed")
            .expect("no panic");
    }

    #[tokio::test]
    async fn a_lagging_feed_wakes_every_waiter() {
        let signal = Arc::new(ReadySignal::default());
        let (feed, receiver) = broadcast::channel(1);
        let mut emails = signal.waiter(&["emails".to_owned()]);
        emails.mark_seen();
        // Two names into a buffer of one, before the forwarder reads: it lags.
        feed.send("a".to_owned()).expect("send");
        feed.send("b".to_owned()).expect("send");
        tokio::spawn(forward_feed(Arc::clone(&signal), receiver));
        assert!(woken(&mut emails).await);
    }

    #[tokio::test]
    async fn finish_waiters_are_woken_and_pruned() {
        let waiters = FinishWaiters::default();
        let id = JobId::new();
        let gone = waiters.register(id);
        drop(gone);
        waiters.prune(id);
        assert!(lock(&waiters.waiting).is_empty());
        let rx = waiters.register(id);
        waiters.finished(id);
        rx.await.expect("woken");
    }

    #[tokio::test]
    async fn schedule_hint_keeps_a_permit() {
        let hint = ScheduleHint::default();
        hint.plan(Timestamp::MAX);
        hint.due_at(Timestamp::UNIX_EPOCH);
        tokio::time::timeout(std::time::Duration::from_secs(5), hint.earlier())
            .await
            .expect("permit kept");
    }
}
