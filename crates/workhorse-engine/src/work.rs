//! The worker's side of the engine: fetch (long-poll), heartbeats, acks, releases, and
//! waiting for a job to finish.

use crate::error::invalid;
use crate::signal::FinishWaiters;
use crate::{Engine, EngineError};
use rand::Rng;
use std::time::Duration;
use tokio::time::Instant;
use workhorse_core::queue::{DEFAULT_QUEUE, validate_queue_name};
use workhorse_core::retry::{Jitter, MAX_BACKOFF_MS};
use workhorse_core::{Job, JobId, LeaseId, Progress, limits};
use workhorse_store::{
    Ack, AckKind, AckOutcome, AckRefusal, Beat, HeartbeatOutcome, JobAckManyParams, JobFetchParams,
    JobHeartbeatManyParams, JobReleaseManyParams, JobRescueParams,
};

struct PruneOnDrop<'a>(&'a FinishWaiters, JobId);

impl Drop for PruneOnDrop<'_> {
    fn drop(&mut self) {
        self.0.prune(self.1);
    }
}

/// Who takes work and from where, as checked once for every way a worker asks: an HTTP
/// fetch ([`FetchSpec`]) and a WebSocket session's `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSpec {
    /// The worker's name, recorded on its leases.
    pub name: String,
    /// The queues it takes jobs from: valid names, sorted, each once; never empty.
    pub queues: Vec<String>,
}

impl WorkerSpec {
    /// Checks the worker name and the queue names; no queue means `default`.
    pub fn validated(name: String, mut queues: Vec<String>) -> Result<Self, EngineError> {
        limits::check_name("worker", &name)?;
        if queues.is_empty() {
            queues.push(DEFAULT_QUEUE.to_owned());
        }
        for queue in &queues {
            validate_queue_name(queue)?;
        }
        queues.sort();
        queues.dedup();
        Ok(WorkerSpec { name, queues })
    }
}

/// What a worker asks of [`Engine::fetch`].
#[derive(Debug, Clone)]
pub struct FetchSpec {
    /// The worker's name, recorded on its leases.
    pub worker: String,
    /// Queues to take jobs from; empty means `default`.
    pub queues: Vec<String>,
    /// At most this many jobs (1 to [`limits::MAX_FETCH`]).
    pub max: u32,
    /// How long to wait for a job when none is ready (at most [`limits::MAX_WAIT_MS`]).
    pub wait: Duration,
}

impl FetchSpec {
    /// Checks the worker (see [`WorkerSpec::validated`]) and the limits.
    fn validated(self) -> Result<(WorkerSpec, u32, Duration), EngineError> {
        let worker = WorkerSpec::validated(self.worker, self.queues)?;
        if !(1..=limits::MAX_FETCH).contains(&self.max) {
            return Err(invalid(
                "max",
                format!("max must be between 1 and {}", limits::MAX_FETCH),
            ));
        }
        check_wait("wait_ms", self.wait)?;
        Ok((worker, self.max, self.wait))
    }
}

/// A wait longer than [`limits::MAX_WAIT_MS`] is refused rather than cut short silently.
pub(crate) fn check_wait(field: &'static str, wait: Duration) -> Result<(), EngineError> {
    if wait > Duration::from_millis(limits::MAX_WAIT_MS) {
        return Err(invalid(
            field,
            format!("{field} must be at most {}", limits::MAX_WAIT_MS),
        ));
    }
    Ok(())
}

/// Pairs each failure with a jitter drawn uniformly (full jitter: a retry after the backoff
/// waits anywhere from nothing to the whole ceiling, so failed jobs spread out instead of
/// retrying in step); a completion gets [`Jitter::NONE`], which it does not use.
fn with_jitter(acks: Vec<Ack>, rng: &mut impl Rng) -> Vec<(Ack, Jitter)> {
    acks.into_iter()
        .map(|ack| {
            let jitter = match ack.kind {
                AckKind::Fail(_) => Jitter(rng.random()),
                AckKind::Complete { .. } => Jitter::NONE,
            };
            (ack, jitter)
        })
        .collect()
}

fn check_progress(progress: Option<&Progress>) -> Result<(), EngineError> {
    match progress {
        Some(p) if !(0.0..=1.0).contains(&p.fraction) => Err(invalid(
            "progress",
            "progress.fraction must be between 0.0 and 1.0",
        )),
        _ => Ok(()),
    }
}

impl Engine {
    /// Leases up to `max` ready jobs of the spec's queues, waiting up to `wait` for one.
    /// The wait ends the moment a job becomes ready on one of the queues; a re-check every
    /// [`crate::EngineConfig::recheck`] covers what no signal announces (rate-limit windows).
    pub async fn fetch(&self, spec: FetchSpec) -> Result<Vec<Job>, EngineError> {
        let (worker, max, wait) = spec.validated()?;
        let deadline = Instant::now() + wait;
        let mut waiter = self.ready_waiter(&worker.queues);
        loop {
            waiter.mark_seen();
            let jobs = self.fetch_now(&worker.name, &worker.queues, max).await?;
            let now = Instant::now();
            if !jobs.is_empty() || now >= deadline {
                return Ok(jobs);
            }
            let recheck = deadline.min(now + self.config().recheck);
            tokio::select! {
                () = waiter.changed() => {}
                () = tokio::time::sleep_until(recheck) => {}
            }
        }
    }

    /// Leases up to `max` ready jobs of `queues` without waiting. The caller has validated
    /// the names ([`WorkerSpec::validated`]); worker sessions call this when their
    /// [`crate::ReadyWaiter`] fires.
    pub async fn fetch_now(
        &self,
        worker: &str,
        queues: &[String],
        max: u32,
    ) -> Result<Vec<Job>, EngineError> {
        let params = JobFetchParams {
            now: self.now(),
            worker: worker.to_owned(),
            queues: queues.to_vec(),
            max,
            lease: self.config().lease,
        };
        let jobs = self
            .write(self.inner.store.job_fetch_available(params))
            .await?;
        for job in &jobs {
            self.inner.metrics.started(job);
        }
        self.observe(&jobs);
        Ok(jobs)
    }

    /// Extends leases and records progress; `None` for a beat whose lease is lost.
    pub async fn heartbeat_many(
        &self,
        beats: Vec<Beat>,
    ) -> Result<Vec<Option<HeartbeatOutcome>>, EngineError> {
        if beats.len() > limits::MAX_BATCH {
            return Err(EngineError::TooMany {
                what: "the heartbeat",
                size: beats.len(),
                limit: limits::MAX_BATCH,
            });
        }
        for beat in &beats {
            check_progress(beat.progress.as_ref())?;
        }
        let params = JobHeartbeatManyParams {
            now: self.now(),
            lease: self.config().lease,
            beats,
        };
        Ok(self
            .write(self.inner.store.job_heartbeat_many(params))
            .await?)
    }

    /// One heartbeat; a lost lease or an unknown job is an error.
    pub async fn heartbeat(
        &self,
        id: JobId,
        lease_id: LeaseId,
        progress: Option<Progress>,
    ) -> Result<HeartbeatOutcome, EngineError> {
        let beat = Beat {
            id,
            lease_id,
            progress,
        };
        match self.heartbeat_many(vec![beat]).await?.pop().flatten() {
            Some(outcome) => Ok(outcome),
            None => Err(self.refusal(id).await),
        }
    }

    /// Why a lease-guarded call on `id` was refused: the job is unknown, or its lease lost.
    async fn refusal(&self, id: JobId) -> EngineError {
        match self.inner.store.job_get(id).await {
            Ok(Some(_)) => EngineError::LeaseLost(id),
            Ok(None) => EngineError::UnknownJob(id),
            Err(err) => err.into(),
        }
    }

    /// Completions and failures, each settled on its own under its lease. Durable when
    /// answered.
    pub async fn ack_many(&self, acks: Vec<Ack>) -> Result<Vec<AckOutcome>, EngineError> {
        if acks.len() > limits::MAX_BATCH {
            return Err(EngineError::TooMany {
                what: "the ack",
                size: acks.len(),
                limit: limits::MAX_BATCH,
            });
        }
        for ack in &acks {
            if let AckKind::Fail(report) = &ack.kind {
                limits::check_name("error.type", &report.kind)?;
                let longest = Duration::from_millis(MAX_BACKOFF_MS);
                if report.retry_in.is_some_and(|wait| wait > longest) {
                    return Err(invalid(
                        "retry_in_ms",
                        format!("retry_in_ms must be at most {MAX_BACKOFF_MS} (7 days)"),
                    ));
                }
            }
        }
        if acks.is_empty() {
            return Ok(Vec::new());
        }
        let failed: Vec<bool> = acks
            .iter()
            .map(|ack| matches!(ack.kind, AckKind::Fail(_)))
            .collect();
        let now = self.now();
        let params = JobAckManyParams {
            now,
            acks: with_jitter(acks, &mut rand::rng()),
        };
        let acked = self.write(self.inner.store.job_ack_many(params)).await?;
        for (outcome, failed) in acked.outcomes.iter().zip(failed) {
            if let AckOutcome::Applied(job) = outcome {
                self.inner.metrics.acked(job, failed, now);
            }
        }
        let applied = acked.outcomes.iter().filter_map(|outcome| match outcome {
            AckOutcome::Applied(job) => Some(job),
            AckOutcome::Refused(_) => None,
        });
        // The workflow jobs the same transaction unblocked or cancelled, as it reported them.
        self.observe(applied.chain(&acked.dependants));
        Ok(acked.outcomes)
    }

    /// One completion or failure; a refusal is an error.
    pub async fn ack(&self, ack: Ack) -> Result<Job, EngineError> {
        let id = ack.id;
        match self.ack_many(vec![ack]).await?.pop() {
            Some(AckOutcome::Applied(job)) => {
                tracing::debug!(job_id = %id, state = %job.state, "job acked");
                Ok(job)
            }
            Some(AckOutcome::Refused(AckRefusal::LeaseLost)) => Err(EngineError::LeaseLost(id)),
            Some(AckOutcome::Refused(AckRefusal::UnknownJob)) | None => {
                Err(EngineError::UnknownJob(id))
            }
        }
    }

    /// Jobs handed back unstarted (worker shutdown): ready again, attempt not counted.
    pub async fn release_many(
        &self,
        releases: Vec<(JobId, LeaseId)>,
    ) -> Result<Vec<Job>, EngineError> {
        if releases.is_empty() {
            return Ok(Vec::new());
        }
        let params = JobReleaseManyParams {
            now: self.now(),
            releases,
        };
        let jobs = self
            .write(self.inner.store.job_release_many(params))
            .await?;
        self.observe(&jobs);
        Ok(jobs)
    }

    /// Takes back every running job of `worker` at once (its session closed), so they run
    /// again elsewhere; each records a `WorkerLost` error.
    pub async fn rescue_worker(&self, worker: &str) -> Result<Vec<Job>, EngineError> {
        let batch = self.config().rescue_batch.max(1);
        let mut all = Vec::new();
        loop {
            let params = JobRescueParams {
                now: self.now(),
                worker: Some(worker.to_owned()),
                limit: batch,
            };
            let rescue = self
                .write(self.inner.store.job_rescue_expired(params))
                .await?;
            self.rescued(&rescue);
            let done = rescue.jobs.len() < batch as usize;
            all.extend(rescue.jobs);
            if done {
                break;
            }
        }
        if !all.is_empty() {
            tracing::info!(
                worker,
                count = all.len(),
                "rescued the jobs of a lost worker"
            );
        }
        Ok(all)
    }

    /// Waits up to `timeout` for job `id` to reach a terminal state and returns it as it
    /// is then (finished or not). Woken by the job finishing; a re-check every
    /// [`crate::EngineConfig::recheck`] covers changes no signal announces (expiry).
    pub async fn wait_finished(&self, id: JobId, timeout: Duration) -> Result<Job, EngineError> {
        check_wait("timeout_ms", timeout)?;
        let deadline = Instant::now() + timeout;
        // Declared first, dropped last: after every receiver is gone, so pruning sees them
        // closed even when the caller drops this future mid-wait.
        let _prune = PruneOnDrop(&self.inner.finished, id);
        loop {
            let finished = self.inner.finished.register(id);
            let job = self.get(id).await;
            let now = Instant::now();
            let done = match &job {
                Ok(job) => job.state.is_terminal() || now >= deadline,
                Err(_) => true,
            };
            if done {
                return job;
            }
            let recheck = deadline.min(now + self.config().recheck);
            let _ = tokio::time::timeout_at(recheck, finished).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use workhorse_core::retry::FailureReport;

    fn ack(kind: AckKind) -> Ack {
        Ack {
            id: JobId::new(),
            lease_id: LeaseId::new(),
            kind,
        }
    }

    fn failure() -> AckKind {
        AckKind::Fail(FailureReport {
            kind: "ValueError".to_owned(),
            message: "bad".to_owned(),
            traceback: None,
            retry_in: None,
            retryable: true,
        })
    }

    #[test]
    fn failures_get_jitter_spread_over_the_range() {
        for seed in 0..20 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let acks = (0..200).map(|_| ack(failure())).collect();
            let drawn: Vec<u32> = with_jitter(acks, &mut rng)
                .into_iter()
                .map(|(_, jitter)| jitter.0)
                .collect();
            assert!(drawn.iter().any(|&j| j < u32::MAX / 4), "seed {seed}");
            assert!(drawn.iter().any(|&j| j > u32::MAX / 4 * 3), "seed {seed}");
        }
    }

    #[test]
    fn completions_keep_their_order_and_need_no_jitter() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let acks = vec![ack(AckKind::Complete { result: None }), ack(failure())];
        let ids: Vec<JobId> = acks.iter().map(|a| a.id).collect();
        let paired = with_jitter(acks, &mut rng);
        assert_eq!(paired.iter().map(|(a, _)| a.id).collect::<Vec<_>>(), ids);
        assert_eq!(paired[0].1, Jitter::NONE);
    }
}
