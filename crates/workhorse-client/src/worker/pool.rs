//! The worker's own record of what it holds, kept across sessions: jobs received but not
//! started, started jobs whose task has not exited, outcomes not yet sent, and jobs to hand
//! back.
//!
//! Credit is per session: a session's server-side window counts only the jobs that session
//! pushed. When a session drops, its running tasks go on (their leases may still hold, e.g.
//! across a server restart; if not, the next session's heartbeat says so and they stop)
//! but leave the window: the next session's hello grants credit only for free slots, and
//! each such task's exit grants one more. Its unstarted jobs are handed back by the next
//! session; outcomes not sent yet are sent there (the server refuses those whose lease is
//! gone, and they are dropped).
//!
//! Outcomes and releases are kept until the server answers them: a batch the server could
//! not record for a moment (a retryable `error`) is sent again, and so is every batch a
//! lost session left unanswered.

use super::context::{JobContext, StopReason};
use std::collections::{HashMap, VecDeque};
use std::mem;
use workhorse_core::JobId;
use workhorse_protocol::{AckItem, FetchedJob, JobLeaseRef, WsBeat, WsBeatResult};

/// A started job.
#[derive(Debug)]
struct Started {
    ctx: JobContext,
    /// Pushed by the current session, so it counts in that session's credit window.
    in_window: bool,
    /// Its outcome is known; heartbeats no longer concern it.
    settled: bool,
}

/// The jobs and outcomes a worker holds.
#[derive(Debug)]
pub(crate) struct Pool {
    concurrency: usize,
    queued: VecDeque<JobContext>,
    started: HashMap<JobId, Started>,
    acks: Vec<AckItem>,
    /// Progress a task reported after the last heartbeat and before it finished: sent
    /// just ahead of its ack, so the job keeps the task's last word (`1.0, "done"`).
    final_beats: Vec<WsBeat>,
    to_release: Vec<JobLeaseRef>,
    /// Ack batches sent and not yet answered, oldest first (the server answers in order).
    acks_sent: VecDeque<Vec<AckItem>>,
    /// Release batches sent and not yet answered, oldest first.
    releases_sent: VecDeque<Vec<JobLeaseRef>>,
    /// Releases the server could not record for a moment, to send again.
    release_retry: Vec<JobLeaseRef>,
}

/// Whose slot a task that exited freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// One of the current session's window: its ack freed the slot server-side.
    InWindow,
    /// A task carried over from an earlier session: grant its slot as credit.
    Carried,
    /// Not a job this pool knows.
    Unknown,
}

fn lease_ref(ctx: &JobContext) -> JobLeaseRef {
    JobLeaseRef {
        id: ctx.id(),
        lease_id: ctx.lease_id(),
    }
}

impl Pool {
    /// An empty pool running at most `concurrency` tasks at once.
    pub(crate) fn new(concurrency: usize) -> Self {
        Pool {
            concurrency: concurrency.max(1),
            queued: VecDeque::new(),
            started: HashMap::new(),
            acks: Vec::new(),
            final_beats: Vec::new(),
            to_release: Vec::new(),
            acks_sent: VecDeque::new(),
            releases_sent: VecDeque::new(),
            release_retry: Vec::new(),
        }
    }

    /// Jobs the current session pushed, to start in order.
    pub(crate) fn push(&mut self, jobs: Vec<FetchedJob>) {
        self.queued.extend(jobs.into_iter().map(JobContext::new));
    }

    /// The next job to start, if a slot is free; it counts as started from now on.
    pub(crate) fn start_next(&mut self) -> Option<JobContext> {
        if self.started.len() >= self.concurrency {
            return None;
        }
        let ctx = self.queued.pop_front()?;
        let started = Started {
            ctx: ctx.clone(),
            in_window: true,
            settled: false,
        };
        self.started.insert(ctx.id(), started);
        Some(ctx)
    }

    /// Slots taken by started tasks.
    pub(crate) fn busy(&self) -> usize {
        self.started.len()
    }

    /// No job queued or running, nothing left to send.
    pub(crate) fn is_idle(&self) -> bool {
        self.queued.is_empty()
            && self.started.is_empty()
            && self.acks.is_empty()
            && self.final_beats.is_empty()
            && self.to_release.is_empty()
            && self.unanswered() == 0
            && self.release_retry.is_empty()
    }

    /// A heartbeat for every lease held, with fresh progress.
    pub(crate) fn beats(&self) -> Vec<WsBeat> {
        let started = self.started.values().filter(|s| !s.settled).map(|s| &s.ctx);
        started
            .chain(self.queued.iter())
            .map(|ctx| WsBeat {
                id: ctx.id(),
                lease_id: ctx.lease_id(),
                progress: ctx.take_progress(),
            })
            .collect()
    }

    /// Acts on the server's answer to one heartbeat. A running job that lost its lease or
    /// was cancelled is told to stop. A queued one that lost its lease is dropped; one whose
    /// cancel was requested is returned, never to be started (the caller reports it).
    pub(crate) fn apply_beat(&mut self, result: &WsBeatResult) -> Option<JobContext> {
        let reason = if result.lease_expires_at.is_none() {
            StopReason::LeaseLost
        } else if result.cancel_requested {
            StopReason::Cancelled
        } else {
            return None;
        };
        if let Some(started) = self.started.get(&result.id) {
            started.ctx.stop(reason);
            return None;
        }
        let at = self.queued.iter().position(|ctx| ctx.id() == result.id)?;
        let ctx = self.queued.remove(at)?;
        ctx.stop(reason);
        (reason == StopReason::Cancelled).then_some(ctx)
    }

    /// The job's outcome is known: `ack` waits to be sent.
    pub(crate) fn settle(&mut self, id: JobId, ack: AckItem) {
        if let Some(started) = self.started.get_mut(&id) {
            started.settled = true;
            if let Some(progress) = started.ctx.take_progress() {
                self.final_beats.push(WsBeat {
                    id,
                    lease_id: started.ctx.lease_id(),
                    progress: Some(progress),
                });
            }
        }
        self.acks.push(ack);
    }

    /// Heartbeats carrying the last progress of settled jobs; send before their acks.
    pub(crate) fn take_final_beats(&mut self) -> Vec<WsBeat> {
        mem::take(&mut self.final_beats)
    }

    /// An outcome to send for a job that never started.
    pub(crate) fn push_ack(&mut self, ack: AckItem) {
        self.acks.push(ack);
    }

    /// Outcomes waiting to be sent.
    pub(crate) fn unsent_acks(&self) -> usize {
        self.acks.len()
    }

    /// Up to `max` outcomes to send, oldest first; hand them back with
    /// [`Pool::sent_acks`] once sent.
    pub(crate) fn take_acks(&mut self, max: usize) -> Vec<AckItem> {
        let take = self.acks.len().min(max);
        self.acks.drain(..take).collect()
    }

    /// An ack batch went out: kept until the server answers it.
    pub(crate) fn sent_acks(&mut self, acks: Vec<AckItem>) {
        self.acks_sent.push_back(acks);
    }

    /// The server answered the oldest ack batch (`acked`).
    pub(crate) fn acks_answered(&mut self) {
        self.acks_sent.pop_front();
    }

    /// The server could not record the oldest ack batch: it is sent again, ahead of newer
    /// outcomes.
    pub(crate) fn acks_failed(&mut self) {
        if let Some(batch) = self.acks_sent.pop_front() {
            self.acks.splice(0..0, batch);
        }
    }

    /// A release batch went out: kept until the server answers it.
    pub(crate) fn sent_release(&mut self, jobs: Vec<JobLeaseRef>) {
        self.releases_sent.push_back(jobs);
    }

    /// The server answered the oldest release batch (`released`).
    pub(crate) fn release_answered(&mut self) {
        self.releases_sent.pop_front();
    }

    /// The server could not record the oldest release batch: it is sent again.
    pub(crate) fn release_failed(&mut self) {
        if let Some(batch) = self.releases_sent.pop_front() {
            self.release_retry.extend(batch);
        }
    }

    /// Releases to send again after the server could not record them.
    pub(crate) fn take_release_retry(&mut self) -> Vec<JobLeaseRef> {
        mem::take(&mut self.release_retry)
    }

    /// Ack and release batches sent and not yet answered.
    pub(crate) fn unanswered(&self) -> usize {
        self.acks_sent.len() + self.releases_sent.len()
    }

    /// Whether anything waits to be sent again.
    pub(crate) fn has_retries(&self) -> bool {
        !self.release_retry.is_empty()
    }

    /// The job's task exited: its slot is free.
    pub(crate) fn exit(&mut self, id: JobId) -> Exit {
        match self.started.remove(&id) {
            Some(started) if started.in_window => Exit::InWindow,
            Some(_) => Exit::Carried,
            None => Exit::Unknown,
        }
    }

    /// Whether a lost session left unstarted jobs to hand back.
    pub(crate) fn has_carried_releases(&self) -> bool {
        !self.to_release.is_empty()
    }

    /// Every job held unstarted, and those a lost session left, to hand back.
    pub(crate) fn take_releases(&mut self) -> Vec<JobLeaseRef> {
        let mut jobs = mem::take(&mut self.to_release);
        jobs.extend(self.queued.drain(..).map(|ctx| lease_ref(&ctx)));
        jobs
    }

    /// Tells every running task to stop.
    pub(crate) fn stop_all(&self, reason: StopReason) {
        for started in self.started.values() {
            started.ctx.stop(reason);
        }
    }

    /// The session dropped (see the module docs).
    pub(crate) fn session_lost(&mut self) {
        // Unanswered batches may or may not have been recorded: the next session sends them
        // again (a recorded one is then refused and dropped).
        let unanswered: Vec<AckItem> = self.acks_sent.drain(..).flatten().collect();
        self.acks.splice(0..0, unanswered);
        let releases = self.releases_sent.drain(..).flatten();
        self.to_release.extend(releases);
        self.to_release.append(&mut self.release_retry);
        let queued = self.queued.drain(..).map(|ctx| lease_ref(&ctx));
        self.to_release.extend(queued);
        for started in self.started.values_mut() {
            started.in_window = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workhorse_core::{Json, LeaseId, Timestamp};

    fn job() -> FetchedJob {
        FetchedJob {
            id: JobId::new(),
            task: "t".into(),
            queue: "default".into(),
            args: Json::empty_array(),
            kwargs: Json::empty_object(),
            metadata: None,
            priority: 0,
            attempt: 1,
            max_attempts: 3,
            timeout_ms: None,
            lease_id: LeaseId::new(),
            lease_expires_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn beat(id: JobId, alive: bool, cancel: bool) -> WsBeatResult {
        WsBeatResult {
            id,
            lease_expires_at: alive.then_some(Timestamp::UNIX_EPOCH),
            cancel_requested: cancel,
        }
    }

    fn done(ctx: &JobContext) -> AckItem {
        AckItem::Complete {
            id: ctx.id(),
            lease_id: ctx.lease_id(),
            result: None,
        }
    }

    #[test]
    fn starts_at_most_concurrency_jobs() {
        let mut pool = Pool::new(2);
        pool.push(vec![job(), job(), job()]);
        let a = pool.start_next().expect("first");
        assert!(pool.start_next().is_some());
        assert!(pool.start_next().is_none(), "both slots taken");
        assert_eq!(pool.beats().len(), 3, "queued jobs hold leases too");
        pool.settle(a.id(), done(&a));
        assert_eq!(pool.beats().len(), 2, "a settled job needs no heartbeat");
        assert_eq!(pool.take_acks(10).len(), 1);
        assert_eq!(pool.exit(a.id()), Exit::InWindow);
        assert!(pool.start_next().is_some());
    }

    #[test]
    fn heartbeat_answers_stop_running_jobs_and_drop_queued_ones() {
        let mut pool = Pool::new(1);
        let (queued, cancelled) = (job(), job());
        let (queued_id, cancelled_id) = (queued.id, cancelled.id);
        pool.push(vec![job(), queued, cancelled]);
        let running = pool.start_next().expect("started");
        assert!(pool.apply_beat(&beat(running.id(), true, true)).is_none());
        assert_eq!(running.stop_reason(), Some(StopReason::Cancelled));
        assert!(pool.apply_beat(&beat(queued_id, false, false)).is_none());
        let to_report = pool
            .apply_beat(&beat(cancelled_id, true, true))
            .expect("cancelled");
        assert_eq!(to_report.id(), cancelled_id);
        assert!(pool.take_releases().is_empty(), "both left the queue");
    }

    #[test]
    fn a_lost_session_carries_its_tasks_and_hands_back_its_queue() {
        let mut pool = Pool::new(1);
        pool.push(vec![job(), job()]);
        let running = pool.start_next().expect("started");
        pool.session_lost();
        assert!(!running.is_cancelled(), "the task goes on");
        assert_eq!(pool.beats().len(), 1, "its lease is still heartbeated");
        pool.settle(running.id(), done(&running));
        assert_eq!(pool.exit(running.id()), Exit::Carried);
        assert_eq!(
            pool.take_releases().len(),
            1,
            "the unstarted job is handed back"
        );
        assert_eq!(pool.take_acks(10).len(), 1, "the outcome is still sent");
        assert!(pool.is_idle());
    }

    #[test]
    fn outcomes_are_kept_until_answered() {
        let mut pool = Pool::new(2);
        pool.push(vec![job(), job()]);
        let (a, b) = (pool.start_next().expect("a"), pool.start_next().expect("b"));
        pool.settle(a.id(), done(&a));
        let first = pool.take_acks(10);
        pool.sent_acks(first);
        pool.settle(b.id(), done(&b));
        pool.acks_failed();
        let again: Vec<JobId> = pool.take_acks(10).iter().map(AckItem::id).collect();
        assert_eq!(again, [a.id(), b.id()], "the failed batch goes first");
        pool.sent_acks(vec![done(&a), done(&b)]);
        pool.sent_release(vec![lease_ref(&a)]);
        pool.release_failed();
        assert_eq!(pool.take_release_retry().len(), 1);
        assert_eq!(pool.unanswered(), 1);
        pool.session_lost();
        assert_eq!(pool.unanswered(), 0);
        assert_eq!(
            pool.take_acks(10).len(),
            2,
            "a lost session's acks are sent again"
        );
        pool.acks_answered();
    }
}
