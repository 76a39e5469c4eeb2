//! Who is connected: one entry per open worker session, for `GET /v1/workers` (the
//! dashboard's workers page) and the `workhorse_workers_connected` gauge.
//!
//! A session registers after `hello` and holds a [`Registration`]; dropping it (however
//! the session ends, even by a panic) removes the entry, so the list never shows a ghost.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use workhorse_core::{JobId, Timestamp};
use workhorse_protocol::WorkerView;

/// The open worker sessions of this server. Cheap to clone; clones share the list.
#[derive(Debug, Clone, Default)]
pub struct WorkerRegistry {
    sessions: Arc<Mutex<BTreeMap<String, Entry>>>,
}

#[derive(Debug)]
struct Entry {
    name: String,
    queues: Vec<String>,
    credit: u32,
    in_flight: BTreeSet<JobId>,
    connected_at: Timestamp,
    last_heartbeat_at: Timestamp,
}

/// What a session knows about itself when it registers.
pub(crate) struct NewSession<'a> {
    pub(crate) worker_id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) queues: &'a [String],
    pub(crate) credit: u32,
    pub(crate) now: Timestamp,
}

impl WorkerRegistry {
    /// How many worker sessions are open.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Every open session as the API shows it, with heartbeat ages measured at `now`.
    pub fn list(&self, now: Timestamp) -> Vec<WorkerView> {
        self.lock()
            .iter()
            .map(|(worker_id, entry)| WorkerView {
                worker_id: worker_id.clone(),
                name: entry.name.clone(),
                queues: entry.queues.clone(),
                credit: entry.credit,
                in_flight: entry.in_flight.iter().copied().collect(),
                connected_at: entry.connected_at,
                last_heartbeat_at: entry.last_heartbeat_at,
                heartbeat_age_ms: age_ms(entry.last_heartbeat_at, now),
            })
            .collect()
    }

    /// Adds a session; it stays listed until the returned registration is dropped.
    pub(crate) fn register(&self, session: &NewSession<'_>) -> Registration {
        let entry = Entry {
            name: session.name.to_owned(),
            queues: session.queues.to_vec(),
            credit: session.credit,
            in_flight: BTreeSet::new(),
            connected_at: session.now,
            last_heartbeat_at: session.now,
        };
        self.lock().insert(session.worker_id.to_owned(), entry);
        Registration {
            registry: self.clone(),
            worker_id: session.worker_id.to_owned(),
        }
    }

    /// A panic elsewhere while the lock was held leaves a map that is still consistent
    /// (every update is a single insert, remove or field write), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn age_ms(then: Timestamp, now: Timestamp) -> u64 {
    let ms = now.as_millisecond().saturating_sub(then.as_millisecond());
    u64::try_from(ms).unwrap_or(0)
}

/// One session's entry in the registry, removed on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    registry: WorkerRegistry,
    worker_id: String,
}

impl Registration {
    fn update(&self, change: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self.registry.lock().get_mut(&self.worker_id) {
            change(entry);
        }
    }

    /// Jobs were pushed to the worker.
    pub(crate) fn pushed(&self, ids: impl IntoIterator<Item = JobId>) {
        self.update(|entry| entry.in_flight.extend(ids));
    }

    /// The worker is done with these jobs (acked, released, or their lease was lost).
    pub(crate) fn settled(&self, ids: &[JobId]) {
        self.update(|entry| {
            for id in ids {
                entry.in_flight.remove(id);
            }
        });
    }

    /// The worker's credit changed.
    pub(crate) fn credit(&self, credit: u32) {
        self.update(|entry| entry.credit = credit);
    }

    /// The worker sent a heartbeat frame.
    pub(crate) fn heartbeat(&self, now: Timestamp) {
        self.update(|entry| entry.last_heartbeat_at = now);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.worker_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid")
    }

    fn register(registry: &WorkerRegistry, id: &str) -> Registration {
        registry.register(&NewSession {
            worker_id: id,
            name: "w",
            queues: &["emails".to_owned()],
            credit: 4,
            now: at(100),
        })
    }

    #[test]
    fn a_session_is_listed_while_registered_and_tracks_its_jobs() {
        let registry = WorkerRegistry::default();
        let registration = register(&registry, "w-1");
        let (a, b) = (JobId::new(), JobId::new());
        registration.pushed([a, b]);
        registration.settled(&[a]);
        registration.credit(8);
        registration.heartbeat(at(103));

        let listed = registry.list(at(105));
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].worker_id, "w-1");
        assert_eq!(listed[0].in_flight, vec![b]);
        assert_eq!(listed[0].credit, 8);
        assert_eq!(listed[0].heartbeat_age_ms, 2_000);
        assert_eq!(listed[0].connected_at, at(100));

        drop(registration);
        assert!(registry.list(at(105)).is_empty());
    }

    #[test]
    fn sessions_are_listed_by_id() {
        let registry = WorkerRegistry::default();
        let _b = register(&registry, "b");
        let _a = register(&registry, "a");
        let ids: Vec<String> = registry
            .list(at(100))
            .into_iter()
            .map(|w| w.worker_id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
    }
}
