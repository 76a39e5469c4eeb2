//! The producer's side of the engine: enqueue, read, cancel (one or by filter), redrive,
//! queue controls.

use crate::error::invalid;
use crate::{Engine, EngineError};
use workhorse_core::queue::validate_queue_name;
use workhorse_core::{Job, JobId, JobState, NewJob, Transition, limits};
use workhorse_store::{
    CancelFilter, CancelManyOutcome, CancelOutcome, Inserted, JobCancelManyParams, JobCancelParams,
    JobInsertManyParams, JobListParams, JobPage, JobRedriveParams, QueueInfo, QueueListParams,
    QueueUpdateParams, RedriveSelector,
};

impl Engine {
    /// Enqueues jobs atomically, all or none (at most [`limits::MAX_BATCH`]). A job whose
    /// unique key is held comes back as the holder with `created: false`. Answered only
    /// after the store committed (durable).
    pub async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Inserted>, EngineError> {
        if jobs.len() > limits::MAX_BATCH {
            return Err(EngineError::TooMany {
                what: "the batch",
                size: jobs.len(),
                limit: limits::MAX_BATCH,
            });
        }
        for job in &jobs {
            job.validate()?;
        }
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let params = JobInsertManyParams {
            now: self.now(),
            jobs,
        };
        let inserted = self.write(self.inner.store.job_insert_many(params)).await?;
        for created in inserted.iter().filter(|i| i.created) {
            self.inner.metrics.enqueued(&created.job);
        }
        self.observe(inserted.iter().filter(|i| i.created).map(|i| &i.job));
        Ok(inserted)
    }

    /// One job, in any state.
    pub async fn get(&self, id: JobId) -> Result<Job, EngineError> {
        self.inner
            .store
            .job_get(id)
            .await?
            .ok_or(EngineError::UnknownJob(id))
    }

    /// A page of jobs matching the filters, newest first.
    pub async fn list(&self, params: JobListParams) -> Result<JobPage, EngineError> {
        if !(1..=limits::MAX_PAGE).contains(&params.limit) {
            return Err(invalid(
                "limit",
                format!("limit must be between 1 and {}", limits::MAX_PAGE),
            ));
        }
        if let Some(queue) = &params.queue {
            validate_queue_name(queue)?;
        }
        Ok(self.inner.store.job_list(params).await?)
    }

    /// Cancels a job: a waiting one at once, a running one on its worker's next heartbeat.
    /// A finished job comes back unchanged.
    pub async fn cancel(&self, id: JobId) -> Result<Job, EngineError> {
        let now = self.now();
        let params = JobCancelParams { now, id };
        let CancelOutcome { job, dependants } = self
            .write(self.inner.store.job_cancel(params))
            .await?
            .ok_or(EngineError::UnknownJob(id))?;
        // A finished job comes back unchanged: count only a job this call finished. (A
        // running one is counted when its worker stops it.)
        if job.state == JobState::Cancelled && job.finished_at == Some(now) {
            self.inner.metrics.cancelled(&job);
        }
        tracing::info!(job_id = %id, state = %job.state, "job cancel");
        // The workflow jobs the same transaction unblocked or cancelled, as it reported them.
        self.observe(std::iter::once(&job).chain(&dependants));
        Ok(job)
    }

    /// Runs one dead, cancelled or expired job again with a fresh set of attempts.
    pub async fn retry(&self, id: JobId) -> Result<Job, EngineError> {
        let current = self.get(id).await?;
        if !Transition::Redrive.allowed_from(current.state) {
            return Err(EngineError::NotRedrivable {
                id,
                state: current.state,
            });
        }
        let mut redriven = self.redrive(RedriveSelector::Ids(vec![id])).await?;
        match redriven.pop() {
            Some(job) => Ok(job),
            // Another call changed the job between the read and the redrive.
            None => Err(EngineError::NotRedrivable {
                id,
                state: self.get(id).await?.state,
            }),
        }
    }

    /// Runs dead (or cancelled, expired) jobs again, by ids or by filter.
    pub async fn redrive(&self, selector: RedriveSelector) -> Result<Vec<Job>, EngineError> {
        check_redrive(&selector)?;
        let params = JobRedriveParams {
            now: self.now(),
            selector,
        };
        let jobs = self.write(self.inner.store.job_redrive(params)).await?;
        tracing::info!(count = jobs.len(), "jobs redriven");
        self.observe(&jobs);
        Ok(jobs)
    }

    /// Cancels the unfinished jobs a filter matches, at most its `limit` in one transaction
    /// (all or none): waiting ones at once, running ones on their worker's next heartbeat.
    /// A filter naming neither a queue nor a task is refused unless `all` is set; the
    /// outcome's `more` says to call again for the jobs past the limit.
    pub async fn cancel_many(
        &self,
        filter: CancelFilter,
    ) -> Result<CancelManyOutcome, EngineError> {
        check_cancel(&filter)?;
        let params = JobCancelManyParams {
            now: self.now(),
            filter,
        };
        let outcome = self.write(self.inner.store.job_cancel_many(params)).await?;
        // A running one is counted when its worker stops it.
        for job in &outcome.cancelled {
            self.inner.metrics.cancelled(job);
        }
        tracing::info!(
            cancelled = outcome.cancelled.len(),
            cancel_requested = outcome.cancel_requested.len(),
            more = outcome.more,
            "jobs cancelled by filter"
        );
        // The workflow jobs the same transaction unblocked or cancelled, as it reported them.
        self.observe(
            outcome
                .cancelled
                .iter()
                .chain(&outcome.cancel_requested)
                .chain(&outcome.dependants),
        );
        Ok(outcome)
    }

    /// Whether the store answers (a cheap read), for readiness probes.
    pub async fn ping(&self) -> Result<(), EngineError> {
        self.inner.store.job_next_due().await?;
        Ok(())
    }

    /// Every known queue with its controls and counts.
    pub async fn queues(&self) -> Result<Vec<QueueInfo>, EngineError> {
        let params = QueueListParams { now: self.now() };
        let queues = self.inner.store.queue_list(params).await?;
        for queue in &queues {
            self.set_limited(&queue.config.name, queue.config.max_running.is_some());
        }
        Ok(queues)
    }

    /// Changes a queue's controls (creating it if needed). Resuming or raising a limit
    /// wakes the queue's waiting workers.
    pub async fn queue_update(&self, params: QueueUpdateParams) -> Result<QueueInfo, EngineError> {
        validate_queue_name(&params.name)?;
        if let Some(Some(rate)) = &params.rate_limit {
            rate.validate()?;
        }
        if params.max_running == Some(Some(0)) {
            return Err(invalid(
                "max_running",
                "max_running must be at least 1 (pause the queue to stop it instead)",
            ));
        }
        let queue = self.write(self.inner.store.queue_update(params)).await?;
        let name = &queue.config.name;
        tracing::info!(queue = %name, paused = queue.config.paused, "queue updated");
        self.set_limited(name, queue.config.max_running.is_some());
        self.inner.ready.notify(name);
        Ok(queue)
    }
}

/// The checks of [`workhorse_store::plan::checks::cancel_states`], each naming its field.
fn check_cancel(filter: &CancelFilter) -> Result<(), EngineError> {
    if let Some(queue) = &filter.queue {
        validate_queue_name(queue)?;
    }
    if filter.queue.is_none() && filter.task.is_none() && !filter.all {
        return Err(invalid(
            "all",
            "give a queue or a task to cancel by, or all: true to cancel every unfinished job",
        ));
    }
    if let Some(state) = filter.state
        && !Transition::Cancel.allowed_from(state)
    {
        return Err(invalid(
            "state",
            format!("cannot cancel {state} jobs; only scheduled, ready, waiting or running"),
        ));
    }
    if !(1..=limits::MAX_CANCEL_BATCH).contains(&(filter.limit as usize)) {
        return Err(invalid(
            "limit",
            format!("limit must be between 1 and {}", limits::MAX_CANCEL_BATCH),
        ));
    }
    Ok(())
}

fn check_redrive(selector: &RedriveSelector) -> Result<(), EngineError> {
    match selector {
        RedriveSelector::Ids(ids) if ids.len() > limits::MAX_BATCH => Err(EngineError::TooMany {
            what: "ids",
            size: ids.len(),
            limit: limits::MAX_BATCH,
        }),
        RedriveSelector::Ids(_) => Ok(()),
        RedriveSelector::Filter {
            queue,
            task: _,
            state,
            limit,
        } => {
            if let Some(queue) = queue {
                validate_queue_name(queue)?;
            }
            if let Some(state) = state
                && !Transition::Redrive.allowed_from(*state)
            {
                return Err(invalid(
                    "state",
                    format!("cannot redrive {state} jobs; only dead, cancelled or expired"),
                ));
            }
            if !(1..=limits::MAX_BATCH as u32).contains(limit) {
                return Err(invalid(
                    "limit",
                    format!("limit must be between 1 and {}", limits::MAX_BATCH),
                ));
            }
            Ok(())
        }
    }
}
