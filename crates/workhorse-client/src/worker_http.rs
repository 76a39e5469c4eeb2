//! The plain-HTTP worker calls: fetch (long-poll), heartbeat, complete, fail and batched
//! acks. The [`crate::Worker`] uses the WebSocket session instead; these serve simple
//! workers and tools.

use crate::client::Client;
use crate::error::ClientError;
use reqwest::Method;
use std::borrow::Borrow;
use workhorse_core::JobId;
use workhorse_protocol::{
    AckItem, AckResponse, AckResult, CompleteRequest, FailRequest, FetchRequest, FetchResponse,
    FetchedJob, HeartbeatRequest, HeartbeatResponse, JobView,
};

/// The body of `POST /v1/ack`, borrowing the caller's acks.
#[derive(serde::Serialize)]
struct AckBody<'a> {
    acks: &'a [AckItem],
}

impl Client {
    /// `POST /v1/fetch`: leases up to `max` ready jobs, waiting up to `wait_ms` for one.
    pub async fn fetch(
        &self,
        request: impl Borrow<FetchRequest>,
    ) -> Result<Vec<FetchedJob>, ClientError> {
        let answer: FetchResponse = self
            .call(Method::POST, "/v1/fetch", Some(request.borrow()))
            .await?
            .body;
        Ok(answer.jobs)
    }

    /// `POST /v1/jobs/{id}/heartbeat`: extends the lease and records progress.
    pub async fn heartbeat(
        &self,
        id: JobId,
        request: impl Borrow<HeartbeatRequest>,
    ) -> Result<HeartbeatResponse, ClientError> {
        let path = format!("/v1/jobs/{id}/heartbeat");
        Ok(self
            .call(Method::POST, &path, Some(request.borrow()))
            .await?
            .body)
    }

    /// `POST /v1/jobs/{id}/complete`: the job succeeded with a result.
    pub async fn complete(
        &self,
        id: JobId,
        request: impl Borrow<CompleteRequest>,
    ) -> Result<JobView, ClientError> {
        let path = format!("/v1/jobs/{id}/complete");
        Ok(self
            .call(Method::POST, &path, Some(request.borrow()))
            .await?
            .body)
    }

    /// `POST /v1/jobs/{id}/fail`: the attempt failed; the server retries or dead-letters.
    pub async fn fail(
        &self,
        id: JobId,
        request: impl Borrow<FailRequest>,
    ) -> Result<JobView, ClientError> {
        let path = format!("/v1/jobs/{id}/fail");
        Ok(self
            .call(Method::POST, &path, Some(request.borrow()))
            .await?
            .body)
    }

    /// `POST /v1/ack`: many completions and failures at once, each settled on its own;
    /// one result per ack, in order.
    pub async fn ack(&self, acks: impl Borrow<[AckItem]>) -> Result<Vec<AckResult>, ClientError> {
        let body = AckBody {
            acks: acks.borrow(),
        };
        let answer: AckResponse = self.call(Method::POST, "/v1/ack", Some(&body)).await?.body;
        Ok(answer.results)
    }
}
