//! The conformance suite: the behaviour every [`crate::Store`] must show.
//!
//! Each case is an `async fn(&dyn Store)` given a fresh, empty store. A store crate runs
//! them all with [`crate::conformance_tests!`]. Where a backend differs, the case says so.
