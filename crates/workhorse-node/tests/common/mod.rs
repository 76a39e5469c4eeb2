//! What the node's tests share: waiting for a started node to announce its address.

use std::path::Path;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Longest a test waits for a node to start or stop.
pub const GUARD: Duration = Duration::from_secs(10);

/// The address a node started with `port_file` wrote there, once it did (within [`GUARD`];
/// the node's task must not have ended first).
pub async fn announced_address<T>(port_file: &Path, task: &JoinHandle<T>) -> String {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        if let Ok(addr) = std::fs::read_to_string(port_file) {
            return addr;
        }
        assert!(!task.is_finished(), "serve stopped while starting");
        assert!(tokio::time::Instant::now() < deadline, "no port file");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
