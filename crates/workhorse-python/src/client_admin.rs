//! The managing calls of [`NativeClient`]: schedules (list, show, pause, resume, trigger,
//! delete), job lists, cancel by filter and redrive, queue controls. The twins live in `client.rs`; these
//! check their arguments before anything is sent.

use crate::client::{Answer, NativeClient, json};
use crate::errors::parse_request;
use pyo3::prelude::*;
use std::future::Future;
use workhorse_protocol::{CancelManyRequest, JobListQuery, QueuePatch, RedriveRequest};

/// Next fire times a schedule read shows.
const SCHEDULE_FIRES_SHOWN: u32 = 5;

impl NativeClient {
    pub(crate) fn list_schedules_call(&self) -> impl Future<Output = Answer> + Send + 'static {
        let client = self.client.clone();
        async move { json(client.schedules().await) }
    }

    pub(crate) fn get_schedule_call(&self, name: &str) -> impl Future<Output = Answer> + 'static {
        let (client, name) = (self.client.clone(), name.to_owned());
        async move { json(client.schedule(&name, SCHEDULE_FIRES_SHOWN).await) }
    }

    pub(crate) fn delete_schedule_call(
        &self,
        name: &str,
    ) -> impl Future<Output = Answer> + 'static {
        let (client, name) = (self.client.clone(), name.to_owned());
        async move { json(client.delete_schedule(&name).await) }
    }

    pub(crate) fn pause_schedule_call(
        &self,
        name: &str,
        paused: bool,
    ) -> impl Future<Output = Answer> + 'static {
        let (client, name) = (self.client.clone(), name.to_owned());
        async move { json(client.set_schedule_paused(&name, paused).await) }
    }

    pub(crate) fn trigger_schedule_call(
        &self,
        name: &str,
    ) -> impl Future<Output = Answer> + 'static {
        let (client, name) = (self.client.clone(), name.to_owned());
        async move { json(client.trigger_schedule(&name).await) }
    }

    pub(crate) fn list_jobs_call(
        &self,
        query: &str,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let query: JobListQuery = parse_request("job filter", query)?;
        let client = self.client.clone();
        Ok(async move { json(client.list(query).await) })
    }

    pub(crate) fn redrive_call(
        &self,
        request: &str,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let request: RedriveRequest = parse_request("redrive request", request)?;
        let client = self.client.clone();
        Ok(async move { json(client.redrive(request).await) })
    }

    pub(crate) fn cancel_jobs_call(
        &self,
        request: &str,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let request: CancelManyRequest = parse_request("cancel request", request)?;
        let client = self.client.clone();
        Ok(async move { json(client.cancel_many(request).await) })
    }

    pub(crate) fn update_queue_call(
        &self,
        name: &str,
        patch: &str,
    ) -> PyResult<impl Future<Output = Answer> + 'static> {
        let patch: QueuePatch = parse_request("queue settings", patch)?;
        let (client, name) = (self.client.clone(), name.to_owned());
        Ok(async move { json(client.update_queue(&name, patch).await) })
    }
}
