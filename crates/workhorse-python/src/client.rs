//! `Client`: the HTTP client of one server. Every call exists twice: as an awaitable, and as
//! a blocking `*_sync` twin that releases the GIL while it waits.

use crate::bridge::awaitable;
use crate::errors::{client_error, parse_job_id, parse_request};
use crate::runtime::{block_on, seconds};
use pyo3::prelude::*;
use serde::Serialize;
use std::future::Future;
use workhorse_client::{ClientError, ClientOptions, DEFAULT_URL, TOKEN_ENV, URL_ENV};
use workhorse_core::WorkflowId;
use workhorse_protocol::{EnqueueRequest, ScheduleRequest, ScheduleSetRequest, WorkflowRequest};

/// An HTTP client of one server. Cheap to share between threads and event loops.
#[pyclass(frozen, name = "Client", module = "workhorse._native")]
pub struct NativeClient {
    pub(crate) client: workhorse_client::Client,
}

/// What a call resolves to: the answer as JSON text.
pub(crate) type Answer = PyResult<String>;

#[pymethods]
impl NativeClient {
    #[new]
    #[pyo3(signature = (url=None, token=None, timeout=None, retries=None, ca_file=None))]
    fn new(
        url: Option<String>,
        token: Option<String>,
        timeout: Option<f64>,
        retries: Option<u32>,
        ca_file: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let url = url.or_else(|| env_var(URL_ENV));
        let mut options = ClientOptions::default();
        if let Some(timeout) = timeout {
            options = options.timeout(seconds("timeout", timeout)?);
        }
        if let Some(retries) = retries {
            options = options.retries(retries);
        }
        if let Some(ca_file) = ca_file {
            options = options.ca_file(ca_file);
        }
        let client =
            workhorse_client::Client::with_options(url.as_deref().unwrap_or(DEFAULT_URL), &options)
                .map_err(|e| client_error(&e))?;
        let client = match token.or_else(|| env_var(TOKEN_ENV)) {
            Some(token) => client.with_token(token.trim()),
            None => client,
        };
        Ok(NativeClient { client })
    }

    #[getter]
    fn url(&self) -> &str {
        self.client.url()
    }

    fn health<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.health_call())
    }

    fn health_sync(&self, py: Python<'_>) -> PyResult<()> {
        block_on(py, self.health_call())
    }

    fn enqueue<'py>(&self, py: Python<'py>, request: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.enqueue_call(request)?)
    }

    fn enqueue_sync(&self, py: Python<'_>, request: &str) -> Answer {
        block_on(py, self.enqueue_call(request)?)
    }

    fn enqueue_many<'py>(&self, py: Python<'py>, requests: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.enqueue_many_call(requests)?)
    }

    fn enqueue_many_sync(&self, py: Python<'_>, requests: &str) -> Answer {
        block_on(py, self.enqueue_many_call(requests)?)
    }

    fn get_job<'py>(&self, py: Python<'py>, job_id: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.get_job_call(job_id)?)
    }

    fn get_job_sync(&self, py: Python<'_>, job_id: &str) -> Answer {
        block_on(py, self.get_job_call(job_id)?)
    }

    fn cancel_job<'py>(&self, py: Python<'py>, job_id: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.cancel_job_call(job_id)?)
    }

    fn cancel_job_sync(&self, py: Python<'_>, job_id: &str) -> Answer {
        block_on(py, self.cancel_job_call(job_id)?)
    }

    fn retry_job<'py>(&self, py: Python<'py>, job_id: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.retry_job_call(job_id)?)
    }

    fn retry_job_sync(&self, py: Python<'_>, job_id: &str) -> Answer {
        block_on(py, self.retry_job_call(job_id)?)
    }

    fn wait_for_job<'py>(
        &self,
        py: Python<'py>,
        job_id: &str,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.wait_for_job_call(job_id, timeout)?)
    }

    fn wait_for_job_sync(&self, py: Python<'_>, job_id: &str, timeout: f64) -> Answer {
        block_on(py, self.wait_for_job_call(job_id, timeout)?)
    }

    fn upsert_schedule<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        definition: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.upsert_schedule_call(name, definition)?)
    }

    fn upsert_schedule_sync(&self, py: Python<'_>, name: &str, definition: &str) -> Answer {
        block_on(py, self.upsert_schedule_call(name, definition)?)
    }

    fn declare_schedule_set<'py>(
        &self,
        py: Python<'py>,
        owner: &str,
        request: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.declare_schedule_set_call(owner, request)?)
    }

    fn declare_schedule_set_sync(&self, py: Python<'_>, owner: &str, request: &str) -> Answer {
        block_on(py, self.declare_schedule_set_call(owner, request)?)
    }

    fn list_queues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.list_queues_call())
    }

    fn list_queues_sync(&self, py: Python<'_>) -> Answer {
        block_on(py, self.list_queues_call())
    }

    fn enqueue_workflow<'py>(&self, py: Python<'py>, request: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.enqueue_workflow_call(request)?)
    }

    fn enqueue_workflow_sync(&self, py: Python<'_>, request: &str) -> Answer {
        block_on(py, self.enqueue_workflow_call(request)?)
    }

    fn get_workflow<'py>(&self, py: Python<'py>, workflow_id: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.get_workflow_call(workflow_id)?)
    }

    fn get_workflow_sync(&self, py: Python<'_>, workflow_id: &str) -> Answer {
        block_on(py, self.get_workflow_call(workflow_id)?)
    }

    fn cancel_workflow<'py>(
        &self,
        py: Python<'py>,
        workflow_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.cancel_workflow_call(workflow_id)?)
    }

    fn cancel_workflow_sync(&self, py: Python<'_>, workflow_id: &str) -> Answer {
        block_on(py, self.cancel_workflow_call(workflow_id)?)
    }

    fn wait_for_workflow<'py>(
        &self,
        py: Python<'py>,
        workflow_id: &str,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.wait_for_workflow_call(workflow_id, timeout)?)
    }

    fn wait_for_workflow_sync(&self, py: Python<'_>, workflow_id: &str, timeout: f64) -> Answer {
        block_on(py, self.wait_for_workflow_call(workflow_id, timeout)?)
    }

    fn list_schedules<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.list_schedules_call())
    }

    fn list_schedules_sync(&self, py: Python<'_>) -> Answer {
        block_on(py, self.list_schedules_call())
    }

    fn get_schedule<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.get_schedule_call(name))
    }

    fn get_schedule_sync(&self, py: Python<'_>, name: &str) -> Answer {
        block_on(py, self.get_schedule_call(name))
    }

    fn delete_schedule<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.delete_schedule_call(name))
    }

    fn delete_schedule_sync(&self, py: Python<'_>, name: &str) -> Answer {
        block_on(py, self.delete_schedule_call(name))
    }

    fn pause_schedule<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        paused: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.pause_schedule_call(name, paused))
    }

    fn pause_schedule_sync(&self, py: Python<'_>, name: &str, paused: bool) -> Answer {
        block_on(py, self.pause_schedule_call(name, paused))
    }

    fn trigger_schedule<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.trigger_schedule_call(name))
    }

    fn trigger_schedule_sync(&self, py: Python<'_>, name: &str) -> Answer {
        block_on(py, self.trigger_schedule_call(name))
    }

    fn list_jobs<'py>(&self, py: Python<'py>, query: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.list_jobs_call(query)?)
    }

    fn list_jobs_sync(&self, py: Python<'_>, query: &str) -> Answer {
        block_on(py, self.list_jobs_call(query)?)
    }

    fn redrive<'py>(&self, py: Python<'py>, request: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.redrive_call(request)?)
    }

    fn redrive_sync(&self, py: Python<'_>, request: &str) -> Answer {
        block_on(py, self.redrive_call(request)?)
    }

    fn cancel_jobs<'py>(&self, py: Python<'py>, request: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.cancel_jobs_call(request)?)
    }

    fn cancel_jobs_sync(&self, py: Python<'_>, request: &str) -> Answer {
        block_on(py, self.cancel_jobs_call(request)?)
    }

    fn update_queue<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        patch: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.update_queue_call(name, patch)?)
    }

    fn update_queue_sync(&self, py: Python<'_>, name: &str, patch: &str) -> Answer {
        block_on(py, self.update_queue_call(name, patch)?)
    }

    fn __repr__(&self) -> String {
        format!("Client({:?})", self.client.url())
    }
}

/// The calls, shared by both twins. Arguments are checked here, before anything is sent,
/// so a bad one raises at the call rather than at the await.
impl NativeClient {
    fn health_call(&self) -> impl Future<Output = PyResult<()>> + Send + 'static {
        let client = self.client.clone();
        async move { client.health().await.map_err(|e| client_error(&e)) }
    }

    fn enqueue_call(&self, request: &str) -> PyResult<impl Future<Output = Answer> + 'static> {
        let request: EnqueueRequest = parse_request("enqueue request", request)?;
        let client = self.client.clone();
        Ok(async move { json(client.enqueue(request).await.map(|e| e.job)) })
    }

    fn enqueue_many_call(
        &self,
        requests: &str,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let requests: Vec<EnqueueRequest> = parse_request("enqueue requests", requests)?;
        let client = self.client.clone();
        Ok(async move { json(client.enqueue_many(requests).await) })
    }

    fn get_job_call(&self, job_id: &str) -> PyResult<impl Future<Output = Answer> + 'static> {
        let id = parse_job_id(job_id)?;
        let client = self.client.clone();
        Ok(async move { json(client.get(id).await) })
    }

    fn cancel_job_call(&self, job_id: &str) -> PyResult<impl Future<Output = Answer> + 'static> {
        let id = parse_job_id(job_id)?;
        let client = self.client.clone();
        Ok(async move { json(client.cancel(id).await) })
    }

    fn retry_job_call(&self, job_id: &str) -> PyResult<impl Future<Output = Answer> + 'static> {
        let id = parse_job_id(job_id)?;
        let client = self.client.clone();
        Ok(async move { json(client.retry(id).await) })
    }

    fn wait_for_job_call(
        &self,
        job_id: &str,
        timeout: f64,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let id = parse_job_id(job_id)?;
        let timeout = seconds("timeout", timeout)?;
        let client = self.client.clone();
        Ok(async move { json(client.wait_for_result(id, timeout).await) })
    }

    fn declare_schedule_set_call(
        &self,
        owner: &str,
        request: &str,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let request: ScheduleSetRequest = parse_request("schedule set", request)?;
        let (client, owner) = (self.client.clone(), owner.to_owned());
        Ok(async move { json(client.declare_schedule_set(&owner, &request).await) })
    }

    fn upsert_schedule_call(
        &self,
        name: &str,
        definition: &str,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let definition: ScheduleRequest = parse_request("schedule definition", definition)?;
        let (client, name) = (self.client.clone(), name.to_owned());
        Ok(async move {
            json(
                client
                    .upsert_schedule(&name, &definition)
                    .await
                    .map(|answer| answer.schedule),
            )
        })
    }

    fn enqueue_workflow_call(
        &self,
        request: &str,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let request: WorkflowRequest = parse_request("workflow request", request)?;
        let client = self.client.clone();
        Ok(async move { json(client.enqueue_workflow(request).await) })
    }

    fn get_workflow_call(
        &self,
        workflow_id: &str,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let id = parse_workflow_id(workflow_id)?;
        let client = self.client.clone();
        Ok(async move { json(client.workflow(id).await) })
    }

    fn cancel_workflow_call(
        &self,
        workflow_id: &str,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let id = parse_workflow_id(workflow_id)?;
        let client = self.client.clone();
        Ok(async move { json(client.cancel_workflow(id).await) })
    }

    fn wait_for_workflow_call(
        &self,
        workflow_id: &str,
        timeout: f64,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let id = parse_workflow_id(workflow_id)?;
        let timeout = seconds("timeout", timeout)?;
        let client = self.client.clone();
        Ok(async move { json(client.wait_for_workflow(id, timeout).await) })
    }

    fn list_queues_call(&self) -> impl Future<Output = Answer> + Send + 'static {
        let client = self.client.clone();
        async move { json(client.queues().await) }
    }
}

/// A client answer as JSON text, or its error as the matching exception.
pub(crate) fn json<T: Serialize>(answer: Result<T, ClientError>) -> Answer {
    let value = answer.map_err(|e| client_error(&e))?;
    serde_json::to_string(&value).map_err(|e| {
        crate::errors::WorkhorseError::new_err(format!("cannot encode the answer: {e}"))
    })
}

/// A workflow id given as text.
fn parse_workflow_id(text: &str) -> PyResult<WorkflowId> {
    text.parse().map_err(|e| {
        crate::errors::InvalidRequest::new_err(format!("invalid workflow id {text:?}: {e}"))
    })
}

/// An environment variable's value, unless it is unset or blank.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
