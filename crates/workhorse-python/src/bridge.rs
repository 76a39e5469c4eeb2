//! Rust futures as asyncio futures, safe at interpreter exit.
//!
//! A future runs on the runtime; when it ends, a runtime thread takes the GIL and hands the
//! outcome to the asyncio loop with `call_soon_threadsafe`. Two moments make that unsafe,
//! and both are closed here rather than left to chance (they aborted or crashed processes
//! that exited while calls were in flight):
//! - the loop is already closed (`asyncio.run` returned): the outcome is dropped quietly;
//! - the interpreter is exiting: a thread that takes the GIL while it finalizes aborts the
//!   process. The `atexit` hook [`before_exit`] closes a gate that every resolution passes
//!   (a read lock), waiting — with the GIL released — for those inside to leave; after it,
//!   no runtime thread touches Python again.

use crate::runtime::runtime;
use pyo3::IntoPyObjectExt as _;
use pyo3::prelude::*;
use pyo3::types::PyCFunction;
use std::future::Future;
use std::sync::{Mutex, PoisonError, RwLock};

/// `false` once the interpreter exits; read-locked by every resolution.
static GATE: RwLock<bool> = RwLock::new(true);

/// The `atexit` hook: closes the gate (see the module docs).
#[pyfunction]
pub fn before_exit(py: Python<'_>) {
    py.detach(|| *GATE.write().unwrap_or_else(PoisonError::into_inner) = false);
}

/// `future` as an asyncio future of the running event loop; it runs on the runtime and is
/// aborted if the asyncio future is cancelled.
pub fn awaitable<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = running_loop(py)?;
    let py_future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let target = (event_loop.unbind(), py_future.clone().unbind());
    let task = runtime().spawn(async move {
        let output = future.await;
        resolve(target, output);
    });
    let abort = task.abort_handle();
    let on_done = PyCFunction::new_closure(py, None, None, move |args, _kwargs| {
        let cancelled = args
            .get_item(0)?
            .call_method0(pyo3::intern!(args.py(), "cancelled"))?
            .is_truthy()?;
        if cancelled {
            abort.abort();
        }
        PyResult::Ok(())
    })?;
    py_future.call_method1(pyo3::intern!(py, "add_done_callback"), (on_done,))?;
    Ok(py_future)
}

/// `value` as an asyncio future of the running event loop that is already resolved:
/// awaiting it returns at once, with no thread to wake.
pub fn resolved<'py, T>(py: Python<'py>, value: T) -> PyResult<Bound<'py, PyAny>>
where
    T: IntoPyObject<'py>,
{
    let future = running_loop(py)?.call_method0(pyo3::intern!(py, "create_future"))?;
    future.call_method1(pyo3::intern!(py, "set_result"), (value,))?;
    Ok(future)
}

fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import(pyo3::intern!(py, "asyncio"))?
        .call_method0(pyo3::intern!(py, "get_running_loop"))
}

/// Hands `output` to the asyncio future, unless the loop is closed or Python is exiting.
fn resolve<T>(target: (Py<PyAny>, Py<PyAny>), output: PyResult<T>)
where
    T: for<'a> IntoPyObject<'a>,
{
    let open = GATE.read().unwrap_or_else(PoisonError::into_inner);
    if !*open {
        // Dropping Python objects needs the GIL; leak them rather than take it now.
        std::mem::forget(target);
        std::mem::forget(output);
        return;
    }
    Python::attach(|py| {
        let (event_loop, py_future) = target;
        let event_loop = event_loop.into_bound(py);
        if closed(&event_loop) {
            return;
        }
        let outcome = output.and_then(|value| value.into_py_any(py));
        if let Err(error) = schedule(&event_loop, py_future.into_bound(py), outcome) {
            // Closed between the check and the call: nobody waits for this outcome.
            if !closed(&event_loop) {
                error.print(py);
            }
        }
    });
    drop(open);
}

fn closed(event_loop: &Bound<'_, PyAny>) -> bool {
    event_loop
        .call_method0(pyo3::intern!(event_loop.py(), "is_closed"))
        .and_then(|closed| closed.is_truthy())
        .unwrap_or(true)
}

/// Sets the future's result or exception on the loop's thread, unless it is done already
/// (cancelled while the outcome travelled).
fn schedule(
    event_loop: &Bound<'_, PyAny>,
    py_future: Bound<'_, PyAny>,
    outcome: PyResult<Py<PyAny>>,
) -> PyResult<()> {
    let py = event_loop.py();
    let outcome = Mutex::new(Some(outcome));
    let settle = PyCFunction::new_closure(py, None, None, move |args, _kwargs| {
        let py = args.py();
        let future = args.get_item(0)?;
        let taken = outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(outcome) = taken else {
            return PyResult::Ok(());
        };
        if future
            .call_method0(pyo3::intern!(py, "done"))?
            .is_truthy()?
        {
            return Ok(());
        }
        match outcome {
            Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,))?,
            Err(error) => {
                future.call_method1(pyo3::intern!(py, "set_exception"), (error.into_value(py),))?
            }
        };
        Ok(())
    })?;
    event_loop.call_method1(
        pyo3::intern!(py, "call_soon_threadsafe"),
        (settle, py_future),
    )?;
    Ok(())
}
