//! A throwaway Postgres cluster for tests.
//!
//! [`TempPostgres::start`] runs `initdb` and `pg_ctl` on a fresh temporary directory and a
//! free loopback port. Tests usually share one cluster per test binary through
//! [`TempPostgres::shared`] and take a database of their own with
//! [`TempPostgres::fresh_database`].
//!
//! Postgres refuses to run as root, and tests here run as root: the server binaries then
//! run as the `postgres` user (through `runuser`), on a directory owned by that user. When
//! `initdb` is missing the helper fails with a message naming the package to install; no test
//! is ever skipped for want of a database.
//!
//! A static cluster is never dropped, so each cluster also starts a small watchdog process
//! that stops it and removes its directory as soon as the test process exits, however it
//! exits: the watchdog waits for end-of-file on a pipe whose only writer is this process.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// What to tell a person whose machine has no Postgres server binaries.
const INSTALL_HINT: &str = "Postgres server binaries (initdb, pg_ctl) were not found on PATH \
     or under /usr/lib/postgresql/*/bin; install them with `apt-get install postgresql`";

/// How a [`TempPostgres`] is configured.
#[derive(Debug, Clone)]
pub struct TempPostgresOptions {
    /// `fsync` in postgresql.conf. Keep it on (the default) for anything that tests
    /// durability; turning it off only makes unit tests a little faster.
    pub fsync: bool,
    /// `max_connections`.
    pub max_connections: u32,
}

impl Default for TempPostgresOptions {
    fn default() -> Self {
        TempPostgresOptions {
            fsync: true,
            max_connections: 300,
        }
    }
}

/// A Postgres cluster in a temporary directory, stopped and removed on drop.
pub struct TempPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    /// Stops the cluster when this process exits; see the module docs.
    watchdog: Option<Child>,
}

impl TempPostgres {
    /// Starts a new cluster with the default options (fsync on).
    pub fn start() -> TempPostgres {
        Self::start_with(&TempPostgresOptions::default())
    }

    /// Starts a new cluster.
    pub fn start_with(options: &TempPostgresOptions) -> TempPostgres {
        let bin = find_bin_dir().unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("workhorse-pg-")
            .tempdir()
            .expect("create temp dir for Postgres")
            .keep();
        let mut cluster = TempPostgres {
            bin,
            dir,
            port: crate::free_port(),
            as_postgres,
            watchdog: None,
        };
        if as_postgres {
            run_checked(Command::new("chown").arg("postgres:").arg(&cluster.dir));
        }
        cluster.initdb(options);
        cluster.watchdog = Some(cluster.spawn_watchdog());
        cluster.pg_ctl_start();
        cluster
    }

    /// The cluster every test of this test binary shares (started on first use; stopped by
    /// its watchdog when the binary exits).
    pub fn shared() -> &'static TempPostgres {
        static SHARED: OnceLock<TempPostgres> = OnceLock::new();
        SHARED.get_or_init(TempPostgres::start)
    }

    /// The port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database`, as the `postgres` superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database.
    pub fn create_database(&self, name: &str) {
        run_checked(
            Command::new(self.bin.join("createdb"))
                .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
                .arg(self.port.to_string())
                .arg(name),
        );
    }

    /// Creates a database with a name no other call in this process got, and returns its
    /// URL.
    pub fn fresh_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.create_database(&name);
        self.url(&name)
    }

    /// Stops the server (fast shutdown: clients are disconnected, committed data is kept).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w"]);
    }

    /// Stops the server as a crash would (`immediate`: no checkpoint, recovery on start).
    pub fn stop_immediate(&self) {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }

    /// Starts the server again on the same port and data after [`TempPostgres::stop`].
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    /// Stops and starts the server on the same port and data.
    pub fn restart(&self) {
        self.stop();
        self.pg_ctl_start();
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn initdb(&self, options: &TempPostgresOptions) {
        self.run_as_server(
            Command::new(self.bin.join("initdb"))
                .arg("-D")
                .arg(self.data_dir())
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]),
        );
        let conf = format!(
            "\n# workhorse test cluster\nlisten_addresses = '127.0.0.1'\nport = {port}\n\
             unix_socket_directories = '{dir}'\nmax_connections = {max}\nfsync = {fsync}\n\
             shared_buffers = 128MB\nlog_min_messages = warning\n",
            port = self.port,
            dir = self.dir.display(),
            max = options.max_connections,
            fsync = if options.fsync { "on" } else { "off" },
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir().join("postgresql.conf"))
            .and_then(|mut file| file.write_all(conf.as_bytes()))
            .expect("write postgresql.conf");
    }

    fn pg_ctl_start(&self) {
        let log = self.dir.join("server.log");
        self.pg_ctl(&["start", "-w", "-t", "60", "-l", &log.to_string_lossy()]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        self.run_as_server(
            Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data_dir())
                .args(args),
        );
    }

    /// Runs a server binary, as the `postgres` user when this process is root.
    fn run_as_server(&self, command: &mut Command) {
        if self.as_postgres {
            let mut wrapped = Command::new("runuser");
            wrapped
                .args(["-u", "postgres", "--"])
                .arg(command.get_program())
                .args(command.get_args());
            run_checked(&mut wrapped);
        } else {
            run_checked(command);
        }
    }

    /// A shell that waits for end-of-file on its stdin (this process's end of the pipe
    /// closes when this process exits), then stops the cluster and removes its directory.
    fn spawn_watchdog(&self) -> Child {
        let script = format!(
            "cat >/dev/null; {sudo}'{pg_ctl}' -D '{data}' stop -m immediate -w >/dev/null 2>&1; \
             rm -rf '{dir}'",
            sudo = if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.data_dir().display(),
            dir = self.dir.display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn Postgres watchdog")
    }

    /// The server log so far, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// The temporary directory holding the cluster.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        // Closing the watchdog's stdin makes it stop the server and remove the directory.
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// The directory holding `initdb`, `pg_ctl` and `createdb`: from PATH, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find_map(|dir| server_bin_dir(&dir)));
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse().ok()?;
                Some((version, server_bin_dir(&entry.path().join("bin"))?))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    })
}

/// The real directory of `dir/initdb` if `pg_ctl` and `createdb` sit beside it. (`initdb`
/// on PATH is often a symlink into a versioned directory that holds the rest.)
fn server_bin_dir(dir: &Path) -> Option<PathBuf> {
    let real = dir.join("initdb").canonicalize().ok()?;
    let real_dir = real.parent()?;
    (real_dir.join("pg_ctl").exists() && real_dir.join("createdb").exists())
        .then(|| real_dir.to_path_buf())
}

fn run_checked(command: &mut Command) -> Output {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
