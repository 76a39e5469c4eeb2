//! Workhorse Rust SDK.
//!
//! - [`Client`]: enqueue jobs (one or a batch), read them, wait for their results, cancel
//!   and redrive them, list and control queues, declare and control schedules, enqueue and
//!   follow workflows; also the plain-HTTP worker calls.
//! - [`Workflow`]: chains, groups and chords of jobs, with results passed on.
//! - [`Task`]: a typed task (name, argument and output types, default options), enqueued
//!   with [`Client::enqueue_task`] and run by a [`Worker`].
//! - [`Worker`]: runs tasks for jobs pushed over a WebSocket session, with concurrency,
//!   heartbeats, progress, per-job cancellation and graceful shutdown.
//!
//! ```no_run
//! # async fn demo() -> Result<(), workhorse_client::ClientError> {
//! use workhorse_client::Client;
//! use workhorse_protocol::EnqueueRequest;
//!
//! let client = Client::from_env()?; // WORKHORSE_URL, default http://127.0.0.1:7431
//! let enqueued = client.enqueue(EnqueueRequest::new("reports.build")).await?;
//! let job = client
//!     .wait_for_result(enqueued.job.id, std::time::Duration::from_secs(30))
//!     .await?;
//! println!("{}", job.state);
//! # Ok(())
//! # }
//! ```

mod api;
mod client;
mod client_schedules;
mod client_workflows;
mod error;
#[cfg(feature = "otel")]
pub mod otel;
mod task;
mod tls;
pub mod worker;
mod worker_http;

pub use api::Enqueued;
pub use client::{
    Client, ClientOptions, DEFAULT_RETRIES, DEFAULT_TIMEOUT, DEFAULT_URL, TOKEN_ENV, URL_ENV,
};
pub use client_workflows::Workflow;
pub use error::ClientError;
pub use task::{Task, TaskOptions, output, request};
pub use tls::CA_FILE_ENV;
pub use worker::{
    JobContext, RawArgs, StopReason, TaskError, TaskHandler, TraceParent, Worker, WorkerBuilder,
};
