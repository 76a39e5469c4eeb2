//! A real server, started in-process on a free port with a temporary data directory.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use workhorse_client::Client;
use workhorse_node::{NodeError, ServeOptions};

/// A running in-process server; stopped (gracefully) when dropped.
pub struct TestServer {
    pub url: String,
    pub addr: SocketAddr,
    dir: TempDir,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), NodeError>>>,
}

impl TestServer {
    /// Starts a server with the given lease (workers heartbeat every third of it).
    pub async fn start(lease: Duration) -> TestServer {
        Self::start_with(lease, |_| {}).await
    }

    /// Starts a server with the given lease and further options.
    pub async fn start_with(lease: Duration, configure: impl Fn(&mut ServeOptions)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let (addr, shutdown, task) = launch(dir.path(), listen, lease, &configure).await;
        TestServer {
            url: format!("http://{addr}"),
            addr,
            dir,
            shutdown,
            task: Some(task),
        }
    }

    /// A client of this server.
    pub fn client(&self) -> Client {
        Client::new(&self.url).expect("client")
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// Starts the server again on the same address and data directory.
    pub async fn restart(&mut self, lease: Duration) {
        assert!(self.task.is_none(), "stop the server first");
        let (_, shutdown, task) = launch(self.dir.path(), self.addr, lease, &|_| {}).await;
        self.shutdown = shutdown;
        self.task = Some(task);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn launch(
    dir: &Path,
    listen: SocketAddr,
    lease: Duration,
    configure: &dyn Fn(&mut ServeOptions),
) -> (
    SocketAddr,
    CancellationToken,
    JoinHandle<Result<(), NodeError>>,
) {
    let port_file: PathBuf = dir.join("port");
    let _ = std::fs::remove_file(&port_file);
    let mut options = ServeOptions {
        listen,
        data_dir: dir.join("data"),
        lease,
        port_file: Some(port_file.clone()),
        ..ServeOptions::default()
    };
    configure(&mut options);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(workhorse_node::serve(options, shutdown.clone()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            break text.trim().parse().expect("address in the port file");
        }
        assert!(!task.is_finished(), "the server stopped while starting");
        assert!(
            Instant::now() < deadline,
            "the server did not start in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    (addr, shutdown, task)
}

/// Polls `check` until it returns `Some`, or panics naming `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
