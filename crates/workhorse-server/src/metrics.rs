//! `GET /metrics`: the engine's metrics in the Prometheus text format, and the small
//! service that keeps the queue gauges fresh (the counters and histograms are counted by
//! the engine as transitions happen; see `workhorse_engine::metric_names`).

use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workhorse_engine::Engine;

/// How old the queue gauges may be when a scrape reads them; older ones are refreshed from
/// the store first. Only scrapes refresh them: counting every queue costs the store a
/// read, which a node nobody scrapes (or each of a cluster's nodes, on one database)
/// should not pay every few seconds.
pub(crate) const REFRESH: Duration = Duration::from_secs(2);
/// How often histogram samples are drained.
const UPKEEP: Duration = Duration::from_secs(5);

/// The Prometheus text exposition format, version 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Metrics in the Prometheus text format: job counters by queue and task, queue depth
/// and oldest-ready age, wait and run time histograms, workers, scheduler lag, store commits.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format (0.0.4)", content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let metrics = state.engine.metrics();
    metrics.set_workers_connected(state.workers.len());
    if metrics.queues_age().is_none_or(|age| age >= REFRESH) {
        refresh(&state.engine).await;
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}

async fn refresh(engine: &Engine) {
    if let Err(err) = engine.refresh_queue_metrics().await {
        tracing::warn!(error = %err, "queue metrics not refreshed");
    }
}

/// Drains histogram samples every [`UPKEEP`], until `shutdown`.
pub(crate) fn spawn_upkeep(engine: Engine, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            engine.metrics().run_upkeep();
        }
    });
}
