//! The producer side of the HTTP API: enqueue, read, wait for, cancel (one or by filter)
//! and redrive jobs;
//! list and control queues.

use crate::client::{CallOptions, Client, path_segment};
use crate::error::ClientError;
use reqwest::Method;
use std::borrow::{Borrow, Cow};
use std::time::{Duration, Instant};
use workhorse_core::JobId;
use workhorse_core::limits::MAX_WAIT_MS;
use workhorse_protocol::{
    BatchEnqueueResponse, CancelManyRequest, CancelManyResponse, EnqueueRequest, JobListQuery,
    JobListResponse, JobView, QueueListResponse, QueuePatch, QueueView, RedriveRequest,
    RedriveResponse,
};

/// The answer to an enqueue: the job, and whether it is new (`false`: its unique key was
/// held by this existing job, which is returned instead).
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    pub job: JobView,
    pub created: bool,
}

/// The body of `POST /v1/jobs/batch`, borrowing the caller's requests.
#[derive(serde::Serialize)]
struct BatchBody<'a> {
    jobs: &'a [EnqueueRequest],
}

/// The empty JSON object sent as the body of action endpoints (`cancel`, `retry`).
#[derive(serde::Serialize)]
struct Empty {}

impl Client {
    /// `POST /v1/jobs`: enqueues one job. Returns once the job is durable.
    ///
    /// A request without an `id` gets a fresh UUID v7 here, so that a retry after a
    /// dropped connection answers the job the first try made instead of making another.
    pub async fn enqueue(
        &self,
        request: impl Borrow<EnqueueRequest>,
    ) -> Result<Enqueued, ClientError> {
        let request = with_id(request.borrow());
        let answer = self
            .call_with(
                Method::POST,
                "/v1/jobs",
                Some(&*request),
                CallOptions::repeatable(),
            )
            .await?;
        Ok(Enqueued {
            job: answer.body,
            created: answer.created,
        })
    }

    /// `POST /v1/jobs/batch`: enqueues up to 10,000 jobs atomically; the jobs come back in
    /// request order (an existing job where a unique key or the job id matched). Like
    /// [`Client::enqueue`], every request without an `id` gets one, so a retry is safe.
    pub async fn enqueue_many(
        &self,
        requests: impl Borrow<[EnqueueRequest]>,
    ) -> Result<Vec<JobView>, ClientError> {
        let requests = requests.borrow();
        let jobs: Cow<'_, [EnqueueRequest]> = if requests.iter().all(|r| r.id.is_some()) {
            Cow::Borrowed(requests)
        } else {
            Cow::Owned(requests.iter().map(|r| with_id(r).into_owned()).collect())
        };
        let body = BatchBody { jobs: &jobs };
        let answer: BatchEnqueueResponse = self
            .call_with(
                Method::POST,
                "/v1/jobs/batch",
                Some(&body),
                CallOptions::repeatable(),
            )
            .await?
            .body;
        Ok(answer.jobs)
    }

    /// `GET /v1/jobs/{id}`.
    pub async fn get(&self, id: JobId) -> Result<JobView, ClientError> {
        let path = format!("/v1/jobs/{id}");
        Ok(self.call::<Empty, _>(Method::GET, &path, None).await?.body)
    }

    /// `GET /v1/jobs`: one page of jobs matching `query`, newest first.
    pub async fn list(
        &self,
        query: impl Borrow<JobListQuery>,
    ) -> Result<JobListResponse, ClientError> {
        let path = format!("/v1/jobs{}", list_query_string(query.borrow()));
        Ok(self.call::<Empty, _>(Method::GET, &path, None).await?.body)
    }

    /// Waits until the job is finished (succeeded, dead, cancelled or expired) or `timeout`
    /// passes, using the server's long-poll; returns the job as it then stands, so check
    /// its `state`.
    pub async fn wait_for_result(
        &self,
        id: JobId,
        timeout: Duration,
    ) -> Result<JobView, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Long polls are capped server-side; loop for longer waits.
            let wait_ms = (left.as_millis() as u64).min(MAX_WAIT_MS);
            let path = format!("/v1/jobs/{id}/result?timeout_ms={wait_ms}");
            let wait = CallOptions::waiting(Duration::from_millis(wait_ms));
            let job: JobView = self
                .call_with::<Empty, _>(Method::GET, &path, None, wait)
                .await?
                .body;
            if job.state.is_terminal() || Instant::now() >= deadline {
                return Ok(job);
            }
        }
    }

    /// `POST /v1/jobs/{id}/cancel`: a waiting job is cancelled at once; a running one is
    /// marked `cancel_requested` and stops when its worker next heartbeats.
    pub async fn cancel(&self, id: JobId) -> Result<JobView, ClientError> {
        let path = format!("/v1/jobs/{id}/cancel");
        let repeatable = CallOptions::repeatable();
        Ok(self
            .call_with(Method::POST, &path, Some(&Empty {}), repeatable)
            .await?
            .body)
    }

    /// `POST /v1/jobs/cancel`: cancels the unfinished jobs a filter matches, at most its
    /// `limit` in one transaction; `more` in the answer says to call again.
    pub async fn cancel_many(
        &self,
        request: impl Borrow<CancelManyRequest>,
    ) -> Result<CancelManyResponse, ClientError> {
        let body = request.borrow();
        Ok(self
            .call(Method::POST, "/v1/jobs/cancel", Some(body))
            .await?
            .body)
    }

    /// `POST /v1/jobs/{id}/retry`: runs a dead, cancelled or expired job again.
    pub async fn retry(&self, id: JobId) -> Result<JobView, ClientError> {
        let path = format!("/v1/jobs/{id}/retry");
        Ok(self.call(Method::POST, &path, Some(&Empty {})).await?.body)
    }

    /// `POST /v1/jobs/redrive`: runs again the finished jobs the request selects.
    pub async fn redrive(
        &self,
        request: impl Borrow<RedriveRequest>,
    ) -> Result<RedriveResponse, ClientError> {
        let body = request.borrow();
        Ok(self
            .call(Method::POST, "/v1/jobs/redrive", Some(body))
            .await?
            .body)
    }

    /// `GET /v1/queues`: every known queue with its controls and job counts.
    pub async fn queues(&self) -> Result<Vec<QueueView>, ClientError> {
        let answer: QueueListResponse = self
            .call::<Empty, _>(Method::GET, "/v1/queues", None)
            .await?
            .body;
        Ok(answer.queues)
    }

    /// `PATCH /v1/queues/{name}`: pause, resume, or change limits; returns the queue.
    pub async fn update_queue(
        &self,
        name: &str,
        patch: impl Borrow<QueuePatch>,
    ) -> Result<QueueView, ClientError> {
        let url_path = format!("/v1/queues/{}", path_segment(name));
        Ok(self
            .call(Method::PATCH, &url_path, Some(patch.borrow()))
            .await?
            .body)
    }
}

/// `request` with a job id: its own, or a fresh UUID v7 (time-ordered, as the server's).
fn with_id(request: &EnqueueRequest) -> Cow<'_, EnqueueRequest> {
    if request.id.is_some() {
        return Cow::Borrowed(request);
    }
    Cow::Owned(EnqueueRequest {
        id: Some(JobId::new()),
        ..request.clone()
    })
}

/// `?queue=…&state=…` for the filters that are set (empty when none is).
fn list_query_string(query: &JobListQuery) -> String {
    let limit = query.limit.map(|l| l.to_string());
    let pairs = [
        ("queue", query.queue.as_deref()),
        ("state", query.state.as_deref()),
        ("task", query.task.as_deref()),
        ("key", query.key.as_deref()),
        ("limit", limit.as_deref()),
        ("cursor", query.cursor.as_deref()),
    ];
    let mut out = String::new();
    for (name, value) in pairs {
        if let Some(value) = value {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(name);
            out.push('=');
            out.push_str(&path_segment(value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_string_has_only_set_filters() {
        assert_eq!(list_query_string(&JobListQuery::default()), "");
        let query = JobListQuery {
            queue: Some("emails".into()),
            key: Some("welcome:a@b.c".into()),
            limit: Some(10),
            ..JobListQuery::default()
        };
        assert_eq!(
            list_query_string(&query),
            "?queue=emails&key=welcome:a%40b.c&limit=10"
        );
    }
}
