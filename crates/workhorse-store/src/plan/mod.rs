//! The decisions both stores make, made once: pure functions over what a store has read (a
//! job, a schedule, a queue's controls, the size of a request) that say what it must write
//! or answer. The SQL that reads and writes stays in each store crate; what follows from the
//! rows is decided here, so the SQLite and PostgreSQL stores cannot drift apart.
//!
//! - [`attempt`]: how a running attempt ends (a failure, a lost lease, a result).
//! - [`checks`]: the size and limit checks of requests.
//! - [`queue`]: a queue's room under `max_running` and its rate-limit window.
//! - [`schedule`]: a schedule upsert, and the fires a firer records.

pub mod attempt;
pub mod checks;
pub mod queue;
pub mod schedule;
