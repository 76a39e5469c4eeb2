//! Errors inside the store, and how they reach callers as [`StoreError`].

use workhorse_store::StoreError;

/// An error inside a store operation. `?` converts sqlx and JSON errors into it; every
/// [`workhorse_store::Store`] method turns it into a [`StoreError`] at its boundary.
#[derive(Debug)]
pub(crate) enum Error {
    Db(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
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
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e,
            Error::Db(e) => from_sqlx(&e),
        }
    }
}

/// Lost or refused connections, pool timeouts, a server shutting down or out of
/// connections, and transaction conflicts may pass if retried: `Unavailable`. Anything else
/// is a bug or a corrupt database: `Internal`.
pub(crate) fn from_sqlx(e: &sqlx::Error) -> StoreError {
    let transient = match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_sqlstate(&code)),
        _ => false,
    };
    if transient {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Internal(e.to_string())
    }
}

/// SQLSTATEs that say "try again": class 08 (connection exception), class 53 (insufficient
/// resources, e.g. too many connections), 57P01–57P03 (admin or crash shutdown, cannot
/// connect now), 40001 (serialization failure) and 40P01 (deadlock detected).
fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
}

/// `StoreError::Invalid` as an [`Error`].
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::Store(StoreError::Invalid(message.into()))
}

/// `StoreError::Internal` as an [`Error`].
pub(crate) fn internal(message: impl Into<String>) -> Error {
    Error::Store(StoreError::Internal(message.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_trouble_is_unavailable_the_rest_internal() {
        assert!(matches!(
            from_sqlx(&sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(matches!(
            from_sqlx(&sqlx::Error::Io(io)),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            from_sqlx(&sqlx::Error::RowNotFound),
            StoreError::Internal(_)
        ));
        assert!(transient_sqlstate("08006"));
        assert!(transient_sqlstate("57P01"));
        assert!(transient_sqlstate("53300"));
        assert!(!transient_sqlstate("23505"));
    }
}
