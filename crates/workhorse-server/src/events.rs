//! `GET /v1/events`: job state changes as Server-Sent Events, filtered by queue, task or
//! job id.
//!
//! Each change is `event: job` with `data: {"id","queue","task","state","attempt","at"}`.
//! A subscriber that falls more than the engine's event capacity behind gets
//! `event: lagged` with `data: {"skipped": n}` and goes on from the newest events.
//! Comments keep idle connections open through proxies. The stream ends at shutdown.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt, stream};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::{Receiver, error::RecvError};
use workhorse_core::JobId;
use workhorse_engine::JobEvent;

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Which events a subscriber wants; an empty list matches everything.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Filter {
    queues: Vec<String>,
    tasks: Vec<String>,
    jobs: Vec<JobId>,
}

impl Filter {
    /// Reads `queue`, `task` and `job`, each repeatable and comma-separated.
    fn parse(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut filter = Filter::default();
        for (key, value) in pairs {
            let values = value.split(',').map(str::trim).filter(|v| !v.is_empty());
            match key.as_str() {
                "queue" => filter.queues.extend(values.map(str::to_owned)),
                "task" => filter.tasks.extend(values.map(str::to_owned)),
                "job" => {
                    for raw in values {
                        let id = raw.parse().map_err(|_| {
                            ApiError::invalid(format!("job {raw:?} is not a job id"))
                                .with_field("job")
                        })?;
                        filter.jobs.push(id);
                    }
                }
                other => {
                    return Err(ApiError::invalid(format!(
                        "unknown parameter {other:?}; filters are queue, task and job"
                    ))
                    .with_field(other));
                }
            }
        }
        Ok(filter)
    }

    fn matches(&self, event: &JobEvent) -> bool {
        (self.queues.is_empty() || self.queues.contains(&event.queue))
            && (self.tasks.is_empty() || self.tasks.contains(&event.task))
            && (self.jobs.is_empty() || self.jobs.contains(&event.id))
    }
}

/// Job state changes as they happen (Server-Sent Events).
#[utoipa::path(get, path = "/v1/events", tag = "operations",
    params(
        ("queue" = Option<String>, Query, description = "Only these queues (repeat or comma-separate)"),
        ("task" = Option<String>, Query, description = "Only these tasks (repeat or comma-separate)"),
        ("job" = Option<String>, Query, description = "Only these job ids (repeat or comma-separate)"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: `event: job` with `{id, queue, task, state, attempt, at}`; `event: lagged` with `{skipped}` when the subscriber fell behind", content_type = "text/event-stream"),
        (status = 422, description = "Unknown parameter or a job id that is not a UUID", body = workhorse_protocol::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn events(
    State(state): State<AppState>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let filter = Filter::parse(pairs)?;
    // Subscribed before the answer starts: a client that saw the headers misses nothing.
    let receiver = state.engine.subscribe();
    let stream = stream::unfold((receiver, filter), next_event)
        .take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

type Cursor = (Receiver<JobEvent>, Filter);

async fn next_event((mut receiver, filter): Cursor) -> Option<(Result<Event, Infallible>, Cursor)> {
    loop {
        let event = match receiver.recv().await {
            Ok(event) if filter.matches(&event) => job_event(&event),
            Ok(_) => continue,
            Err(RecvError::Lagged(skipped)) => Event::default()
                .event("lagged")
                .data(format!("{{\"skipped\":{skipped}}}")),
            Err(RecvError::Closed) => return None,
        };
        return Some((Ok(event), (receiver, filter)));
    }
}

fn job_event(event: &JobEvent) -> Event {
    let data = serde_json::to_string(event).unwrap_or_default();
    Event::default().event("job").data(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn filters_repeat_and_split_on_commas() {
        let filter = Filter::parse(pairs(&[("queue", "a,b"), ("queue", "c"), ("task", "t")]))
            .expect("parsed");
        assert_eq!(filter.queues, ["a", "b", "c"]);
        assert_eq!(filter.tasks, ["t"]);
        assert!(Filter::parse(pairs(&[("job", "nope")])).is_err());
        assert!(Filter::parse(pairs(&[("state", "dead")])).is_err());
    }
}
