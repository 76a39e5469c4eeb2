//! Test helpers shared by Workhorse's integration and end-to-end tests.
//!
//! - [`temp_sqlite`]: a fresh SQLite store in a temporary directory.
//! - [`ServerProcess`]: the real `workhorse` binary as a child process, on a fixed loopback
//!   port and data directory, that tests kill with `SIGKILL` and start again.
//! - [`free_port`]: a loopback port nobody listens on.
//! - [`wait_until`]: poll a condition until it holds or a deadline passes (never a bare sleep).
//! - [`FaultyStore`]: a real store whose writes fail (`Unavailable`) while a test says so.

mod faulty;
pub mod postgres;

pub use faulty::{FaultSwitch, FaultyStore};

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use workhorse_store_sqlite::SqliteStore;

/// A fresh SQLite store; keep the `TempDir` alive as long as the store.
pub fn temp_sqlite() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("workhorse.db")).expect("open sqlite store");
    (dir, store)
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// Polls `check` every few milliseconds until it returns `Some`, or panics with `what` after
/// `timeout`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
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

/// The real server binary, running as a child process.
pub struct ServerProcess {
    binary: PathBuf,
    data_dir: PathBuf,
    addr: SocketAddr,
    extra_args: Vec<String>,
    child: Option<Child>,
}

impl ServerProcess {
    /// Starts `binary serve` on a free loopback port with `data_dir`, and waits until it
    /// answers `/healthz`.
    pub async fn start(binary: &Path, data_dir: &Path, extra_args: &[&str]) -> ServerProcess {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let mut server = ServerProcess {
            binary: binary.to_owned(),
            data_dir: data_dir.to_owned(),
            addr,
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
        };
        server.restart().await;
        server
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the server again on the same port and data directory (after a kill).
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join("server.log"))
            .expect("open server log");
        let child = Command::new(&self.binary)
            .arg("serve")
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.extra_args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn workhorse serve");
        self.child = Some(child);
        self.wait_healthy(Duration::from_secs(20)).await;
    }

    async fn wait_healthy(&mut self, timeout: Duration) {
        let addr = self.addr;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "workhorse serve exited early with {status}; see {}/server.log",
                    self.data_dir.display()
                );
            }
            if healthz(addr).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server on {addr} not healthy after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `kill -9`: no shutdown hooks, no flush, exactly as a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
            child.wait().expect("reap killed server");
        }
    }

    /// `SIGTERM`, then waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        child.wait().expect("wait for server")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A bare HTTP/1.1 `GET /healthz` so this crate needs no HTTP client.
async fn healthz(addr: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await
    else {
        return false;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut response = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(1), stream.read_to_end(&mut response)).await;
    read.is_ok() && response.starts_with(b"HTTP/1.1 200")
}
