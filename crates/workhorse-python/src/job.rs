//! `NativeJob`: one job handed to Python, and the way its outcome gets back to the Rust
//! worker that holds its lease.

use crate::runtime::seconds;
use pyo3::prelude::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;
use workhorse_client::{JobContext, StopReason, TaskError};

/// What the Python side decided for an attempt.
pub type Outcome = Result<Value, TaskError>;

/// What a job and the stop notices about it share.
pub struct HandedJob {
    pub context: JobContext,
    /// Set once the job is in a batch given to Python: notices about a job Python never
    /// saw are not sent (the job is skipped instead, see `worker::Batch`).
    handed_out: AtomicBool,
}

impl HandedJob {
    pub fn new(context: JobContext) -> Arc<Self> {
        Arc::new(HandedJob {
            context,
            handed_out: AtomicBool::new(false),
        })
    }

    pub fn mark_handed_out(&self) {
        self.handed_out.store(true, Ordering::Release);
    }

    pub fn is_handed_out(&self) -> bool {
        self.handed_out.load(Ordering::Acquire)
    }
}

/// One job handed to Python by a `NativeWorker`. Its lease is kept alive by the worker's
/// heartbeats until an outcome is given.
///
/// Dropping it without an outcome fails the attempt (`WorkerError`): the Rust side never
/// waits on a job Python forgot.
#[pyclass(frozen, module = "workhorse._native")]
pub struct NativeJob {
    job: Arc<HandedJob>,
    outcome: Mutex<Option<oneshot::Sender<Outcome>>>,
}

impl NativeJob {
    pub fn new(job: Arc<HandedJob>, outcome: oneshot::Sender<Outcome>) -> Self {
        NativeJob {
            job,
            outcome: Mutex::new(Some(outcome)),
        }
    }

    pub fn handed(&self) -> &HandedJob {
        &self.job
    }

    fn context(&self) -> &JobContext {
        &self.job.context
    }

    /// Gives the outcome, if none was given yet. When the worker already gave up on the
    /// job (stopped it, or shut down), nobody listens any more and the send is a no-op.
    fn settle(&self, outcome: Outcome) {
        let sender = self
            .outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(outcome);
        }
    }
}

#[pymethods]
impl NativeJob {
    #[getter]
    fn id(&self) -> String {
        self.context().id().to_string()
    }

    #[getter]
    fn task(&self) -> &str {
        self.context().task()
    }

    #[getter]
    fn queue(&self) -> &str {
        self.context().queue()
    }

    #[getter]
    fn attempt(&self) -> u32 {
        self.context().attempt()
    }

    #[getter]
    fn max_attempts(&self) -> u32 {
        self.context().max_attempts()
    }

    #[getter]
    fn args(&self) -> &str {
        self.context().args().get()
    }

    #[getter]
    fn kwargs(&self) -> &str {
        self.context().kwargs().get()
    }

    #[getter]
    fn metadata(&self) -> Option<&str> {
        self.context().metadata().map(workhorse_core::Json::get)
    }

    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.context().timeout().map(|t| t.as_secs_f64())
    }

    #[getter]
    fn stop_reason(&self) -> Option<&'static str> {
        self.context().stop_reason().map(StopReason::kind)
    }

    #[getter]
    fn cancelled(&self) -> bool {
        self.context().is_cancelled()
    }

    #[pyo3(signature = (fraction, message=None))]
    fn progress(&self, fraction: f64, message: Option<String>) {
        self.context()
            .progress(fraction, message.unwrap_or_default());
    }

    fn complete(&self, result: &str) {
        let outcome = serde_json::from_str(result).map_err(|e| {
            TaskError::fatal(format!("the task's result is not valid JSON: {e}"))
                .with_kind("InvalidResult")
        });
        self.settle(outcome);
    }

    #[pyo3(signature = (kind, message, traceback=None, retry_in=None, fatal=false))]
    fn fail(
        &self,
        kind: &str,
        message: &str,
        traceback: Option<String>,
        retry_in: Option<f64>,
        fatal: bool,
    ) -> PyResult<()> {
        let retry_in = retry_in.map(|s| seconds("retry_in", s)).transpose()?;
        let error = match retry_in {
            _ if fatal => TaskError::fatal(message),
            Some(delay) => TaskError::retry_after(delay).with_message(message),
            None => TaskError::new(kind, message),
        };
        let error = error.with_kind(kind);
        self.settle(Err(match traceback {
            Some(traceback) => error.with_traceback(traceback),
            None => error,
        }));
        Ok(())
    }

    fn __repr__(&self) -> String {
        let ctx = self.context();
        format!(
            "NativeJob(id={:?}, task={:?}, attempt={})",
            ctx.id().to_string(),
            ctx.task(),
            ctx.attempt()
        )
    }
}
