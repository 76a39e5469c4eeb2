//! Errors inside the store, and how they reach callers as [`StoreError`].

use rusqlite::ErrorCode;
use workhorse_store::StoreError;

/// An error inside a store operation. `?` converts SQLite and JSON errors into it; the
/// boundary of every command turns it into a [`StoreError`].
#[derive(Debug)]
pub(crate) enum Error {
    Db(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Db(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Store(StoreError::Internal(format!("stored JSON: {e}")))
    }
}

impl From<Error> for StoreError {
    /// Busy, locked and I/O failures may pass if retried: `Unavailable`. Anything else is a
    /// bug or a corrupt database: `Internal`.
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e,
            Error::Db(e) => {
                let transient = e.sqlite_error_code().is_some_and(|code| {
                    matches!(
                        code,
                        ErrorCode::DatabaseBusy
                            | ErrorCode::DatabaseLocked
                            | ErrorCode::SystemIoFailure
                            | ErrorCode::DiskFull
                            | ErrorCode::CannotOpen
                            | ErrorCode::FileLockingProtocolFailed
                    )
                });
                if transient {
                    StoreError::Unavailable(e.to_string())
                } else {
                    StoreError::Internal(e.to_string())
                }
            }
        }
    }
}

/// A copy of `e`, for answering every command of a group whose commit failed.
pub(crate) fn duplicate(e: &StoreError) -> StoreError {
    match e {
        StoreError::Invalid(m) => StoreError::Invalid(m.clone()),
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Internal(m) => StoreError::Internal(m.clone()),
    }
}

/// `StoreError::Invalid` as an [`Error`].
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::Store(StoreError::Invalid(message.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_unavailable_constraint_is_internal() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(
            StoreError::from(Error::from(busy)),
            StoreError::Unavailable(_)
        ));
        let constraint = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            None,
        );
        assert!(matches!(
            StoreError::from(Error::from(constraint)),
            StoreError::Internal(_)
        ));
    }
}
