//! The one tokio runtime of the process, and how Python blocks on it with the GIL released
//! (asyncio awaitables are in [`crate::bridge`]).

use pyo3::prelude::*;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::Runtime;

/// Two threads carry every client call, worker session and embedded server of the process:
/// the work is I/O, and Python's own thread does the rest.
const WORKER_THREADS: usize = 2;

/// How often a blocking call looks up from its wait to let Python handle a signal (ctrl-c).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The runtime, started on first use (not at import: a process that forks after importing
/// the module, as pre-fork servers do, has no threads to lose yet).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("workhorse")
            .enable_all()
            .build()
            .expect("cannot start the tokio runtime")
    })
}

/// Runs `future` to its end on the runtime, with the GIL released. Every 100 ms it lets
/// Python handle pending signals, so ctrl-c interrupts a long wait (dropping the future).
pub fn block_on<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send,
    T: Send,
{
    let mut future = std::pin::pin!(future);
    loop {
        // The timer must be made inside the runtime.
        let step = py.detach(|| {
            runtime().block_on(async { tokio::time::timeout(SIGNAL_CHECK, future.as_mut()).await })
        });
        match step {
            Ok(output) => return output,
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// Seconds from Python as a duration; refuses negative, infinite and NaN values.
pub fn seconds(what: &str, seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "{what} must be a finite number of seconds, at least 0 (got {seconds})"
        ))
    })
}
