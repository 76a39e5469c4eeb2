//! `<data-dir>/tokens.json`: the API tokens a server accepts, stored hashed.
//!
//! The file is a JSON array of `{name, role, sha256, created_at}`; `sha256` is the hex
//! SHA-256 of the whole token. A token itself is shown once, when created, and never
//! stored. The file is written atomically (temp file, then rename) with mode 0600.

use super::Role;
use super::tokens::{Secret, hash_hex};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use workhorse_core::Timestamp;

/// The file name inside the data directory.
pub const TOKENS_FILE: &str = "tokens.json";
/// Every token starts with this, so leaked ones are easy to find (e.g. by secret scanners).
pub const TOKEN_PREFIX: &str = "wh_";
/// Random bytes in a token: 256 bits.
const TOKEN_BYTES: usize = 32;
/// Longest token name.
const MAX_NAME: usize = 64;

/// One stored token: never the token itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Unique; `tokens revoke NAME` removes it.
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    pub created_at: Timestamp,
}

/// A token just created: shown once, then only its record remains.
#[derive(Debug)]
pub struct NewToken {
    pub token: Secret,
    pub record: TokenRecord,
}

/// Why the token file could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// Reading or writing failed; `context` says which file.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid token list.
    #[error("{path} is not a valid token file: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    /// `create --name` with a name already in the file.
    #[error("a token named {0:?} exists already; pick another --name or revoke it first")]
    NameTaken(String),
    /// `revoke` of a name not in the file.
    #[error("no token named {0:?} (see `workhorse tokens list`)")]
    UnknownName(String),
    /// A name with characters outside `A-Z a-z 0-9 _ . -`, empty, or too long.
    #[error("token name {0:?} must be 1-64 characters of A-Z, a-z, 0-9, '_', '.', '-'")]
    InvalidName(String),
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> TokenFileError {
    move |source| TokenFileError::Io { context, source }
}

/// `<data_dir>/tokens.json`.
pub fn tokens_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKENS_FILE)
}

/// The records in `path`; none when the file does not exist.
pub fn read_records(path: &Path) -> Result<Vec<TokenRecord>, TokenFileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io(format!("reading {}", path.display()))(err)),
    };
    serde_json::from_slice(&bytes).map_err(|source| TokenFileError::Parse {
        path: path.display().to_string(),
        source,
    })
}

/// Creates a token of `role`, appends its record to `path` (created with its directory if
/// missing) and returns the token, the only time it is shown. Without a name, the token
/// is named `<role>-<n>`.
pub fn create_token(
    path: &Path,
    role: Role,
    name: Option<&str>,
    now: Timestamp,
) -> Result<NewToken, TokenFileError> {
    let mut records = read_records(path)?;
    let name = match name {
        Some(name) => checked_name(name, &records)?,
        None => default_name(role, &records),
    };
    let token = generate();
    let record = TokenRecord {
        name,
        role,
        sha256: hash_hex(token.expose()),
        created_at: now,
    };
    records.push(record.clone());
    write_records(path, &records)?;
    Ok(NewToken { token, record })
}

/// Removes the token named `name` from `path`; returns its record.
pub fn revoke_token(path: &Path, name: &str) -> Result<TokenRecord, TokenFileError> {
    let mut records = read_records(path)?;
    let at = records
        .iter()
        .position(|record| record.name == name)
        .ok_or_else(|| TokenFileError::UnknownName(name.to_owned()))?;
    let removed = records.remove(at);
    write_records(path, &records)?;
    Ok(removed)
}

fn checked_name(name: &str, records: &[TokenRecord]) -> Result<String, TokenFileError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !valid {
        return Err(TokenFileError::InvalidName(name.to_owned()));
    }
    if records.iter().any(|record| record.name == name) {
        return Err(TokenFileError::NameTaken(name.to_owned()));
    }
    Ok(name.to_owned())
}

fn default_name(role: Role, records: &[TokenRecord]) -> String {
    // n records take at most n names: one of n + 1 candidates is free.
    (1..=records.len() + 1)
        .map(|n| format!("{role}-{n}"))
        .find(|name| records.iter().all(|record| &record.name != name))
        .unwrap_or_else(|| unreachable!("one of n + 1 names is free"))
}

/// `wh_` and 43 base64url characters of 32 random bytes from the OS-seeded CSPRNG.
fn generate() -> Secret {
    let mut bytes = [0_u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Writes atomically: a reader (the server reloading) never sees half a file.
fn write_records(path: &Path, records: &[TokenRecord]) -> Result<(), TokenFileError> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    let mut bytes = serde_json::to_vec_pretty(records).unwrap_or_default();
    bytes.push(b'\n');
    let temp = path.with_extension("json.tmp");
    let context = format!("writing {}", temp.display());
    let mut file = private_file(&temp).map_err(io(context.clone()))?;
    file.write_all(&bytes).map_err(io(context.clone()))?;
    file.sync_all().map_err(io(context))?;
    std::fs::rename(&temp, path).map_err(io(format!("writing {}", path.display())))
}

/// A file only its owner may read or write (0600), even if it existed before.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_created_hashed_listed_and_revoked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = tokens_path(&dir.path().join("data"));
        let now = Timestamp::UNIX_EPOCH;
        let first = create_token(&path, Role::Admin, None, now).expect("create");
        let token = first.token.expose();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 43);
        assert!(
            token[3..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(first.record.name, "admin-1");
        assert_eq!(first.record.sha256, hash_hex(token));
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains(token), "the token itself is never stored");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = create_token(&path, Role::Viewer, Some("ci"), now).expect("create");
        assert_ne!(second.token.expose(), token);
        assert!(matches!(
            create_token(&path, Role::Viewer, Some("ci"), now),
            Err(TokenFileError::NameTaken(_))
        ));
        assert!(matches!(
            create_token(&path, Role::Viewer, Some("a b"), now),
            Err(TokenFileError::InvalidName(_))
        ));
        let names: Vec<_> = read_records(&path)
            .expect("read")
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["admin-1", "ci"]);
        revoke_token(&path, "admin-1").expect("revoke");
        assert!(matches!(
            revoke_token(&path, "admin-1"),
            Err(TokenFileError::UnknownName(_))
        ));
        assert_eq!(read_records(&path).expect("read").len(), 1);
    }
}
