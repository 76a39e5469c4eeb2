//! Workhorse Rust SDK: Client (enqueue, status, result, cancel) and Worker (run typed tasks).
