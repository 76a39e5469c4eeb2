//! `EmbeddedServer`: the real server (engine, HTTP API, worker sessions) on the module's
//! runtime, on an SQLite store, listening on loopback. For tests and scripts.

use crate::errors::WorkhorseError;
use crate::runtime::{block_on, runtime, seconds};
use pyo3::prelude::*;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use workhorse_node::{NodeError, ServeOptions};

/// How long the server may take to open its store and answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Between two readiness checks while the server starts.
const START_POLL: Duration = Duration::from_millis(10);

type Serving = JoinHandle<Result<(), NodeError>>;

/// A Workhorse server running inside this process on its own threads.
#[pyclass(frozen, module = "workhorse._native")]
pub struct EmbeddedServer {
    url: String,
    shutdown: CancellationToken,
    /// Taken by the first `stop`.
    serving: Mutex<Option<Serving>>,
}

#[pymethods]
impl EmbeddedServer {
    #[new]
    #[pyo3(signature = (data_dir, port=0, lease=None))]
    fn new(py: Python<'_>, data_dir: PathBuf, port: u16, lease: Option<f64>) -> PyResult<Self> {
        let mut opts = ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            data_dir,
            // Loopback only: nobody else can reach it.
            auth: Some(false),
            ..ServeOptions::default()
        };
        if let Some(lease) = lease {
            opts.lease = seconds("lease", lease)?;
        }
        let shutdown = CancellationToken::new();
        let (url, serving) = block_on(py, start(opts, shutdown.clone()))?;
        Ok(EmbeddedServer {
            url,
            shutdown,
            serving: Mutex::new(Some(serving)),
        })
    }

    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        self.shutdown.cancel();
        let serving = self
            .serving
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match serving {
            Some(serving) => block_on(py, async move { finished(serving.await) }),
            None => Ok(()),
        }
    }

    fn __repr__(&self) -> String {
        format!("EmbeddedServer({:?})", self.url)
    }
}

impl Drop for EmbeddedServer {
    /// A server Python let go of stops (in the background) rather than running on unseen.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Binds, starts serving on the runtime, and returns once the server answers.
async fn start(opts: ServeOptions, shutdown: CancellationToken) -> PyResult<(String, Serving)> {
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| WorkhorseError::new_err(format!("cannot listen on {}: {e}", opts.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| WorkhorseError::new_err(format!("cannot read the bound address: {e}")))?;
    let url = format!("http://{addr}");
    let mut serving = runtime().spawn(workhorse_node::serve_listener(
        listener,
        opts,
        shutdown.clone(),
    ));
    let ready = tokio::time::timeout(START_TIMEOUT, async {
        let client =
            workhorse_client::Client::new(&url).map_err(|e| crate::errors::client_error(&e))?;
        loop {
            tokio::select! {
                ended = &mut serving => return finished(ended).and_then(|()| {
                    Err(WorkhorseError::new_err("the embedded server stopped as it started"))
                }),
                answered = client.health() => if answered.is_ok() {
                    return Ok(());
                },
            }
            tokio::time::sleep(START_POLL).await;
        }
    })
    .await;
    let started = ready.unwrap_or_else(|_| {
        Err(WorkhorseError::new_err(format!(
            "the embedded server did not answer within {} s",
            START_TIMEOUT.as_secs()
        )))
    });
    if let Err(e) = started {
        shutdown.cancel();
        return Err(e);
    }
    Ok((url, serving))
}

/// The end of a server's run as a Python result.
fn finished(ended: Result<Result<(), NodeError>, tokio::task::JoinError>) -> PyResult<()> {
    match ended {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(WorkhorseError::new_err(format!(
            "the embedded server failed: {e}"
        ))),
        Err(e) => Err(WorkhorseError::new_err(format!(
            "the embedded server crashed: {e}"
        ))),
    }
}
