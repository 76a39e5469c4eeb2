//! `workhorse._native`: the Python package's native module (its contract is
//! `python/workhorse/_native.pyi`).
//!
//! A thin layer over the Rust crates: [`workhorse_client`] for HTTP calls and worker
//! sessions, [`workhorse_node`] for the embedded server, [`workhorse_cli`] for the
//! command line. Python never speaks the protocol; documents cross as JSON text. Async
//! methods return asyncio awaitables driven by one tokio runtime; their `*_sync` twins
//! block with the GIL released.

mod bridge;
mod client;
mod client_admin;
mod errors;
mod job;
mod runtime;
mod server;
mod worker;

use pyo3::prelude::*;

/// Runs the Rust `workhorse` command line with `argv` (without the program name); returns
/// its exit status. Releases the GIL while it runs.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| workhorse_cli::run_from(std::iter::once("workhorse".to_owned()).chain(argv)))
}

/// Sends the native layer's logs to stderr (`RUST_LOG`-style filter; without one,
/// `RUST_LOG`, else `warn`). Does nothing if logging was already set up.
#[pyfunction]
#[pyo3(signature = (filter=None))]
fn init_logging(filter: Option<&str>) -> PyResult<()> {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(filter) => EnvFilter::try_new(filter).map_err(|e| {
            pyo3::exceptions::PyValueError::new_err(format!("invalid log filter {filter:?}: {e}"))
        })?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
    };
    // Already set up (by an earlier call, or the CLI): the first setup stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
    Ok(())
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(module)?;
    module.add_class::<client::NativeClient>()?;
    module.add_class::<job::NativeJob>()?;
    module.add_class::<worker::NativeWorker>()?;
    module.add_class::<server::EmbeddedServer>()?;
    module.add_function(wrap_pyfunction!(run_cli, module)?)?;
    module.add_function(wrap_pyfunction!(init_logging, module)?)?;
    Ok(())
}
