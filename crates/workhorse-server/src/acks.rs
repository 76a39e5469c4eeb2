//! The one translation between the worker protocol's wire types and the engine's, for the
//! HTTP routes and the WebSocket session alike: acks ([`AckItem`], the fail fields) into
//! engine [`Ack`]s and their outcomes into [`AckResult`]s, heartbeats ([`WsBeat`]) into
//! [`Beat`]s and their outcomes into [`WsBeatResult`]s.

use workhorse_core::{JobId, Json, LeaseId};
use workhorse_engine::{
    Ack, AckKind, AckOutcome, AckRefusal, Beat, Engine, EngineError, HeartbeatOutcome,
};
use workhorse_protocol::{AckItem, AckOutcomeView, AckResult, ErrorReport, WsBeat, WsBeatResult};

/// A completion of the job running under `lease_id`.
pub(crate) fn complete(id: JobId, lease_id: LeaseId, result: Option<Json>) -> Ack {
    Ack {
        id,
        lease_id,
        kind: AckKind::Complete { result },
    }
}

/// A failure of the job running under `lease_id`, from the wire's fail fields.
pub(crate) fn fail(
    id: JobId,
    lease_id: LeaseId,
    error: ErrorReport,
    retry_in_ms: Option<u64>,
    retryable: Option<bool>,
) -> Ack {
    Ack {
        id,
        lease_id,
        kind: AckKind::Fail(error.into_failure(retry_in_ms, retryable)),
    }
}

/// One ack of a batch, as the engine takes it.
fn ack_of(item: AckItem) -> Ack {
    match item {
        AckItem::Complete {
            id,
            lease_id,
            result,
        } => complete(id, lease_id, result),
        AckItem::Fail {
            id,
            lease_id,
            error,
            retry_in_ms,
            retryable,
        } => fail(id, lease_id, error, retry_in_ms, retryable),
    }
}

/// Settles a batch of acks in one engine call (one durable commit): one result per ack, in
/// order. A refused ack is a result, not an error; an error means none was recorded.
pub(crate) async fn settle(
    engine: &Engine,
    items: Vec<AckItem>,
) -> Result<Vec<AckResult>, EngineError> {
    let ids: Vec<JobId> = items.iter().map(AckItem::id).collect();
    let outcomes = engine
        .ack_many(items.into_iter().map(ack_of).collect())
        .await?;
    Ok(ids.into_iter().zip(outcomes).map(result_of).collect())
}

fn result_of((id, outcome): (JobId, AckOutcome)) -> AckResult {
    let (outcome, state) = match outcome {
        AckOutcome::Applied(job) => (AckOutcomeView::Applied, Some(job.state)),
        AckOutcome::Refused(AckRefusal::UnknownJob) => (AckOutcomeView::UnknownJob, None),
        AckOutcome::Refused(AckRefusal::LeaseLost) => (AckOutcomeView::LeaseLost, None),
    };
    AckResult { id, outcome, state }
}

/// One heartbeat of the WebSocket, as the engine takes it.
pub(crate) fn beat_of(beat: WsBeat) -> Beat {
    Beat {
        id: beat.id,
        lease_id: beat.lease_id,
        progress: beat.progress,
    }
}

/// The answer to job `id`'s heartbeat: `None` means its lease is lost.
pub(crate) fn beat_result(id: JobId, outcome: Option<HeartbeatOutcome>) -> WsBeatResult {
    WsBeatResult {
        id,
        lease_expires_at: outcome.map(|o| o.lease_expires_at),
        cancel_requested: outcome.is_some_and(|o| o.cancel_requested),
    }
}
