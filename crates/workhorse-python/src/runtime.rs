//! The one tokio runtime of the process, and the two ways Python waits on it: as an asyncio
//! awaitable, or blocking with the GIL released.

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

/// Hands our runtime to pyo3-async-runtimes, once, before its first use.
fn share_with_asyncio() {
    static SHARED: OnceLock<()> = OnceLock::new();
    SHARED.get_or_init(|| {
        // Fails only if it already has a runtime, which then is ours.
        let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime());
    });
}

/// `future` as an asyncio future of the running event loop; it runs on the runtime and is
/// dropped if the asyncio future is cancelled.
pub fn awaitable<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    share_with_asyncio();
    pyo3_async_runtimes::tokio::future_into_py(py, future)
}

/// `value` as an asyncio future of the running event loop that is already resolved:
/// awaiting it returns at once, with no thread to wake.
pub fn resolved<'py, T>(py: Python<'py>, value: T) -> PyResult<Bound<'py, PyAny>>
where
    T: IntoPyObject<'py>,
{
    let future = pyo3_async_runtimes::tokio::get_current_loop(py)?
        .call_method0(pyo3::intern!(py, "create_future"))?;
    future.call_method1(pyo3::intern!(py, "set_result"), (value,))?;
    Ok(future)
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
