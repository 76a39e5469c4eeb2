//! Schedules over HTTP: declare one or an owner's set, list, show, delete, pause, resume,
//! trigger.

use crate::client::{Client, path_segment};
use crate::error::ClientError;
use reqwest::Method;
use workhorse_protocol::{
    FireView, ScheduleListResponse, ScheduleRequest, ScheduleSetRequest, ScheduleSetResponse,
    ScheduleUpsertResponse, ScheduleView,
};

/// The empty JSON object sent as the body of action endpoints.
#[derive(serde::Serialize)]
struct Empty {}

impl Client {
    /// `PUT /v1/schedules/{name}`: declares a schedule. Declaring the same definition again
    /// changes nothing (`changed: false`), so every replica may declare it at start-up.
    pub async fn upsert_schedule(
        &self,
        name: &str,
        request: &ScheduleRequest,
    ) -> Result<ScheduleUpsertResponse, ClientError> {
        let path = format!("/v1/schedules/{}", path_segment(name));
        Ok(self.call(Method::PUT, &path, Some(request)).await?.body)
    }

    /// `PUT /v1/schedule-sets/{owner}`: declares `owner`'s whole set of schedules in one
    /// transaction; the owner's schedules missing from it are deleted. A name held by another
    /// owner, or by a schedule made at run time, is refused (409) and nothing changes.
    pub async fn declare_schedule_set(
        &self,
        owner: &str,
        request: &ScheduleSetRequest,
    ) -> Result<ScheduleSetResponse, ClientError> {
        let path = format!("/v1/schedule-sets/{}", path_segment(owner));
        Ok(self.call(Method::PUT, &path, Some(request)).await?.body)
    }

    /// `GET /v1/schedules`: every schedule, by name.
    pub async fn schedules(&self) -> Result<Vec<ScheduleView>, ClientError> {
        let answer: ScheduleListResponse = self
            .call::<Empty, _>(Method::GET, "/v1/schedules", None)
            .await?
            .body;
        Ok(answer.schedules)
    }

    /// `GET /v1/schedules/{name}?count=N`: one schedule with its next `count` fire times
    /// and its recent fires.
    pub async fn schedule(&self, name: &str, count: u32) -> Result<ScheduleView, ClientError> {
        let path = format!("/v1/schedules/{}?count={count}", path_segment(name));
        Ok(self.call::<Empty, _>(Method::GET, &path, None).await?.body)
    }

    /// `DELETE /v1/schedules/{name}`: the schedule as it was.
    pub async fn delete_schedule(&self, name: &str) -> Result<ScheduleView, ClientError> {
        let path = format!("/v1/schedules/{}", path_segment(name));
        Ok(self
            .call::<Empty, _>(Method::DELETE, &path, None)
            .await?
            .body)
    }

    /// `POST /v1/schedules/{name}/pause` (`paused: true`) or `/resume`.
    pub async fn set_schedule_paused(
        &self,
        name: &str,
        paused: bool,
    ) -> Result<ScheduleView, ClientError> {
        let action = if paused { "pause" } else { "resume" };
        let path = format!("/v1/schedules/{}/{action}", path_segment(name));
        Ok(self.call(Method::POST, &path, Some(&Empty {})).await?.body)
    }

    /// `POST /v1/schedules/{name}/trigger`: fires it now; the fire and its job.
    pub async fn trigger_schedule(&self, name: &str) -> Result<FireView, ClientError> {
        let path = format!("/v1/schedules/{}/trigger", path_segment(name));
        Ok(self.call(Method::POST, &path, Some(&Empty {})).await?.body)
    }
}
