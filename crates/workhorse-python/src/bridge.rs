//! Rust futures as asyncio futures, without a runtime thread ever taking the GIL.
//!
//! A future runs on the runtime. When it ends, the runtime thread puts its outcome in the
//! [`Inbox`] of the future's event loop and, if the inbox was empty, writes one byte to the
//! inbox's pipe; the loop, which watches the pipe with `add_reader`, drains every waiting
//! outcome in one callback on its own thread and settles the asyncio futures there.
//!
//! Why not `call_soon_threadsafe` from the runtime thread, once per future: that needs the
//! GIL on a runtime thread for every outcome. The runtime thread then waits for the loop's
//! thread to let go of the GIL (up to Python's switch interval, 5 ms) while it holds up the
//! other calls it carries, and each outcome costs a wake-up write to the loop's self-pipe
//! and a handle on the loop. Under a few thousand calls a second this was most of a
//! producer's CPU and its latency tail. It was also unsafe at exit: a thread that takes the
//! GIL while the interpreter finalizes aborts the process. Here no runtime thread touches
//! Python: outcomes are converted to Python objects on the loop's thread, and one wake-up
//! serves every outcome that arrives before the loop drains.

use crate::runtime::runtime;
use pyo3::IntoPyObjectExt as _;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;
use std::future::Future;
use std::io::{PipeReader, PipeWriter, Read as _, Write as _};
use std::os::fd::AsRawFd as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// `future` as an asyncio future of the running event loop; it runs on the runtime and is
/// aborted if the asyncio future is cancelled.
pub fn awaitable<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = running_loop(py)?;
    let inbox = inbox_of(&event_loop)?;
    let py_future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let settled = py_future.clone().unbind();
    let task = runtime().spawn(async move {
        let output = future.await;
        inbox.deliver(Outcome {
            future: settled,
            make: Box::new(move |py| output.and_then(|value| value.into_py_any(py))),
        });
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

/// A finished future's outcome on its way to the loop: the asyncio future, and how to make
/// its result (a Python object, so made on the loop's thread).
struct Outcome {
    future: Py<PyAny>,
    make: MakeResult,
}

type MakeResult = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// The outcomes waiting for one event loop.
#[pyclass(frozen)]
struct Inbox {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// The end the loop watches; read only under `state`'s lock.
    reader: Mutex<PipeReader>,
}

struct State {
    waiting: Vec<Outcome>,
    /// Whether a byte is in the pipe: written when the first outcome arrives, read by the
    /// drain that takes it, so the pipe holds at most one byte and no write ever blocks.
    signalled: bool,
    writer: PipeWriter,
}

/// A handle the runtime threads deliver through.
#[derive(Clone)]
struct Delivery(Arc<Shared>);

impl Delivery {
    fn deliver(&self, outcome: Outcome) {
        let mut state = self.0.lock();
        state.waiting.push(outcome);
        if !state.signalled {
            state.signalled = true;
            // A loop that is closed never reads the byte: the outcome waits, unread, until
            // the inbox goes away with the loop.
            if let Err(error) = state.writer.write_all(&[1]) {
                tracing::error!(%error, "cannot wake the asyncio loop");
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything waiting, taking the wake-up byte with it.
    fn take(&self) -> Vec<Outcome> {
        let mut state = self.lock();
        if state.signalled {
            state.signalled = false;
            let mut byte = [0_u8; 1];
            let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(error) = reader.read_exact(&mut byte) {
                tracing::error!(%error, "cannot read the asyncio loop's wake-up");
            }
        }
        std::mem::take(&mut state.waiting)
    }
}

#[pymethods]
impl Inbox {
    /// The loop's reader callback: settles every waiting future (those cancelled meanwhile
    /// are left as they are).
    fn drain(&self, py: Python<'_>) {
        for Outcome { future, make } in self.shared.take() {
            let future = future.into_bound(py);
            // One future that cannot be settled must not strand the others.
            if let Err(error) = settle(&future, make(py)) {
                error.write_unraisable(py, Some(&future));
            }
        }
    }
}

fn settle(future: &Bound<'_, PyAny>, outcome: PyResult<Py<PyAny>>) -> PyResult<()> {
    let py = future.py();
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
}

/// The inbox of `event_loop`, made and registered with the loop on first use. Inboxes are
/// kept in a `WeakKeyDictionary`, so each goes away with its loop.
fn inbox_of(event_loop: &Bound<'_, PyAny>) -> PyResult<Delivery> {
    static INBOXES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = event_loop.py();
    let inboxes = INBOXES
        .get_or_try_init(py, || {
            py.import("weakref")?
                .call_method0("WeakKeyDictionary")
                .map(Bound::unbind)
        })?
        .bind(py);
    let known = inboxes.call_method1(pyo3::intern!(py, "get"), (event_loop,))?;
    if let Ok(inbox) = known.cast_into::<Inbox>() {
        return Ok(Delivery(Arc::clone(&inbox.get().shared)));
    }
    let (reader, writer) = std::io::pipe()?;
    let fd = reader.as_raw_fd();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            waiting: Vec::new(),
            signalled: false,
            writer,
        }),
        reader: Mutex::new(reader),
    });
    let inbox = Bound::new(
        py,
        Inbox {
            shared: Arc::clone(&shared),
        },
    )?;
    let drain = inbox.getattr(pyo3::intern!(py, "drain"))?;
    event_loop.call_method1(pyo3::intern!(py, "add_reader"), (fd, drain))?;
    inboxes.set_item(event_loop, inbox)?;
    Ok(Delivery(shared))
}
