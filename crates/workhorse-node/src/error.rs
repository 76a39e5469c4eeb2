//! Why a node could not start, or stopped with an error.

use std::path::PathBuf;
use workhorse_engine::StoreError;
use workhorse_server::ServerError;
use workhorse_server::auth::TokenFileError;

/// Why a node could not start or stopped with an error. The messages are what
/// `workhorse serve` prints.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A file or socket operation failed; `context` says which.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token file could not be read.
    #[error(transparent)]
    Tokens(#[from] TokenFileError),
    /// Auth is on but no token would be accepted: nobody could use the server.
    #[error(
        "auth is on (it is by default when --listen is not a loopback address) but no API token is configured: \
         create one with `workhorse tokens create --role admin --data-dir {}`, \
         or set WORKHORSE_ADMIN_TOKEN (or pass --auth=false to serve without tokens)",
        data_dir.display()
    )]
    NoTokens { data_dir: PathBuf },
    /// The HTTP server could not start (e.g. unusable TLS files) or failed while serving.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// Maps an I/O error to [`NodeError::Io`] with `context`.
pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> NodeError {
    let context = context.into();
    move |source| NodeError::Io { context, source }
}
