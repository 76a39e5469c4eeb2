//! The contract of leader election: where the nodes sharing one store decide which of them
//! runs the leader-only services (scheduler, rescuer, cleaner, schedule firer).
//!
//! The engine's elector calls [`LeaderBackend::attempt_elect`] every round and
//! [`LeaderBackend::resign`] at shutdown. A backend lives beside the store it uses (the
//! PostgreSQL store implements it with a session advisory lock), so no SQL reaches the
//! engine.

use crate::StoreError;
use async_trait::async_trait;

/// Where leadership is decided: something every node of one deployment shares.
///
/// What an implementation guarantees:
///
/// - **One holder.** At most one node sharing the backend holds leadership at a time, as
///   the backend sees it.
/// - **No orphaned leadership.** Leadership held by a node that went away (its process
///   died, its connection was cut) is freed without that node's help, so a survivor's next
///   [`attempt_elect`](LeaderBackend::attempt_elect) can win.
///
/// A former leader may believe it still leads until its own next call tells it otherwise;
/// that is safe because every leader-only service works through guarded store transitions
/// (two leaders for a moment duplicate work, never jobs).
#[async_trait]
pub trait LeaderBackend: Send + Sync + 'static {
    /// Tries to become the leader, or confirms still being it. `true`: this node holds
    /// leadership now. `false`: another node does, or this node lost its hold since its
    /// last call (e.g. its database session ended). Called every round, by the holder too:
    /// a call is how the holder learns it lost. An error means the backend could not
    /// answer; the caller then steps down.
    async fn attempt_elect(&self) -> Result<bool, StoreError>;

    /// Gives up leadership so another node can win at once (graceful shutdown). Does
    /// nothing when this node does not lead.
    async fn resign(&self) -> Result<(), StoreError>;
}

/// The backend of a node that is alone on its store (the embedded SQLite store): it
/// always leads, and resigning changes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleNode;

#[async_trait]
impl LeaderBackend for SingleNode {
    async fn attempt_elect(&self) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn resign(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
