//! The tokens a running server accepts: those in the token file (reloaded when the file
//! changes, checked every [`RELOAD_INTERVAL`], or at once on SIGHUP) and the bootstrap
//! admin token of `WORKHORSE_ADMIN_TOKEN`.
//!
//! Only SHA-256 hashes are kept. A presented token is hashed and compared with every
//! entry in constant time (subtle), always all of them: neither a prefix nor the position
//! of a match shows in the timing.

use super::Role;
use super::file::{TokenFileError, read_records};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

/// How often the token file is checked for changes.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// A token in memory. Its `Debug` never shows it, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Secret(token.into())
    }

    /// The token itself, for the one place that must show or send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// SHA-256 of a token.
fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Hex SHA-256 of a token, as `tokens.json` stores it.
pub fn hash_hex(token: &str) -> String {
    hex::encode(hash(token))
}

#[derive(Clone)]
struct Entry {
    hash: [u8; 32],
    role: Role,
}

/// What identifies one version of the file: the writer replaces it by rename, so a new
/// inode means new content even within the mtime's resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    modified: Option<SystemTime>,
    len: u64,
}

struct Loaded {
    entries: Vec<Entry>,
    stamp: Option<FileStamp>,
}

struct Inner {
    path: Option<PathBuf>,
    bootstrap: Option<Entry>,
    loaded: RwLock<Loaded>,
}

/// The accepted tokens. Cheap to clone; clones share one set.
#[derive(Clone)]
pub struct Tokens {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("path", &self.inner.path)
            .field("count", &self.len())
            .finish()
    }
}

fn stamp(path: &std::path::Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        inode,
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

impl Tokens {
    /// The tokens of the file at `path` (none if it does not exist) plus `admin_token`.
    pub fn load(
        path: Option<PathBuf>,
        admin_token: Option<&Secret>,
    ) -> Result<Self, TokenFileError> {
        let bootstrap = admin_token
            .filter(|token| !token.expose().is_empty())
            .map(|token| Entry {
                hash: hash(token.expose()),
                role: Role::Admin,
            });
        let tokens = Tokens {
            inner: Arc::new(Inner {
                path,
                bootstrap,
                loaded: RwLock::new(Loaded {
                    entries: Vec::new(),
                    stamp: None,
                }),
            }),
        };
        tokens.reload_now()?;
        Ok(tokens)
    }

    /// How many tokens are accepted (the bootstrap one included).
    pub fn len(&self) -> usize {
        let file = self.inner.loaded.read().map_or(0, |l| l.entries.len());
        file + usize::from(self.inner.bootstrap.is_some())
    }

    /// Whether no token at all is accepted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The role of `token`, or `None` if it is not accepted. Compares with every entry.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        let presented = hash(token);
        let Ok(loaded) = self.inner.loaded.read() else {
            return None;
        };
        let mut found = None;
        for entry in loaded.entries.iter().chain(&self.inner.bootstrap) {
            let equal: bool = entry.hash.ct_eq(&presented).into();
            // No early exit: the loop's length does not depend on where a match is.
            if equal && found.is_none() {
                found = Some(entry.role);
            }
        }
        found
    }

    /// Re-reads the file if it changed since the last read; `true` if it did.
    pub fn reload_if_changed(&self) -> Result<bool, TokenFileError> {
        let Some(path) = &self.inner.path else {
            return Ok(false);
        };
        let current = self.inner.loaded.read().ok().and_then(|l| l.stamp);
        if stamp(path) == current {
            return Ok(false);
        }
        self.reload_now()?;
        Ok(true)
    }

    /// Re-reads the file now. On error the tokens loaded before stay in force.
    pub fn reload_now(&self) -> Result<(), TokenFileError> {
        let Some(path) = &self.inner.path else {
            return Ok(());
        };
        let before = stamp(path);
        let entries = read_records(path)?
            .into_iter()
            .filter_map(|record| {
                let mut hash = [0_u8; 32];
                hex::decode_to_slice(&record.sha256, &mut hash).ok()?;
                Some(Entry {
                    hash,
                    role: record.role,
                })
            })
            .collect();
        if let Ok(mut loaded) = self.inner.loaded.write() {
            *loaded = Loaded {
                entries,
                stamp: before,
            };
        }
        Ok(())
    }

    /// Keeps the set current until `shutdown`: checks the file every [`RELOAD_INTERVAL`],
    /// and re-reads it at once on SIGHUP.
    pub fn watch(&self, shutdown: CancellationToken) {
        let tokens = self.clone();
        tokio::spawn(async move {
            let mut hangup = hangups();
            let mut tick = tokio::time::interval(RELOAD_INTERVAL);
            loop {
                let forced = tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = tick.tick() => false,
                    () = next_hangup(&mut hangup) => true,
                };
                let result = if forced {
                    tokens.reload_now().map(|()| true)
                } else {
                    tokens.reload_if_changed()
                };
                match result {
                    Ok(true) => tracing::info!(tokens = tokens.len(), "tokens reloaded"),
                    Ok(false) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, "tokens not reloaded; the previous set stays in force");
                    }
                }
            }
        });
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

fn hangups() -> Hangups {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::hangup())
            .inspect_err(|err| tracing::warn!(error = %err, "SIGHUP not watched"))
            .ok()
    }
    #[cfg(not(unix))]
    None
}

/// Resolves on the next SIGHUP; never when signals are not watched.
async fn next_hangup(hangups: &mut Hangups) {
    #[cfg(unix)]
    if let Some(signal) = hangups
        && signal.recv().await.is_some()
    {
        return;
    }
    #[cfg(not(unix))]
    let _ = hangups;
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::file::{create_token, revoke_token};
    use workhorse_core::Timestamp;

    #[test]
    fn secrets_never_show_in_debug() {
        let secret = Secret::new("wh_abc");
        assert!(!format!("{secret:?}").contains("wh_abc"));
    }

    #[test]
    fn tokens_are_found_by_hash_and_follow_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens.json");
        let admin = Secret::new("bootstrap-admin-token");
        let tokens = Tokens::load(Some(path.clone()), Some(&admin)).expect("load");
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens.role_of("bootstrap-admin-token"), Some(Role::Admin));
        let now = Timestamp::UNIX_EPOCH;
        let viewer = create_token(&path, Role::Viewer, Some("v"), now).expect("create");
        assert_eq!(tokens.role_of(viewer.token.expose()), None);
        assert!(tokens.reload_if_changed().expect("reload"));
        assert_eq!(tokens.role_of(viewer.token.expose()), Some(Role::Viewer));
        assert!(!tokens.reload_if_changed().expect("unchanged"));
        revoke_token(&path, "v").expect("revoke");
        assert!(tokens.reload_if_changed().expect("reload"));
        assert_eq!(tokens.role_of(viewer.token.expose()), None);
        assert_eq!(tokens.role_of(""), None);
    }
}
