//! The roots a client trusts, in one rustls config (ring, the tree's one crypto provider)
//! shared by HTTP and the worker's WebSocket: the bundled web roots, the operating
//! system's trust store, and an optional PEM bundle of internal CAs.

use crate::error::ClientError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

/// The environment variable naming a PEM bundle of extra roots (an internal CA), trusted
/// beside the web and system roots when no CA file is given in code.
pub const CA_FILE_ENV: &str = "WORKHORSE_CA_FILE";

/// The system's roots, read once: loading them walks a directory of certificates. A
/// machine without a readable store still has the bundled web roots.
static SYSTEM_ROOTS: LazyLock<Vec<CertificateDer<'static>>> =
    LazyLock::new(|| rustls_native_certs::load_native_certs().certs);

/// `ca_file`, or else `WORKHORSE_CA_FILE` when it is set and not empty.
pub(crate) fn ca_file_or_env(ca_file: Option<&Path>) -> Option<PathBuf> {
    ca_file.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(CA_FILE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// The TLS config trusting the web roots, the system's, and those of `ca_file`.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, ClientError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.add_parsable_certificates(SYSTEM_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        for cert in read_bundle(path)? {
            roots
                .add(cert)
                .map_err(|e| ca_error(path, &e.to_string()))?;
        }
    }
    let provider = Arc::new(crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ca_error(Path::new("(built-in)"), &e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of a PEM bundle; a file holding none is refused, since trusting
/// nothing extra is surely not what its author meant.
fn read_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let pem = std::fs::read(path).map_err(|e| ca_error(path, &e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_error(path, &format!("not a PEM bundle: {e}")))?;
    if certs.is_empty() {
        return Err(ca_error(path, "it holds no PEM certificate"));
    }
    Ok(certs)
}

fn ca_error(path: &Path, reason: &str) -> ClientError {
    ClientError::CaFile {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_bundle_is_refused() {
        let err = client_config(Some(Path::new("/nonexistent/ca.pem"))).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = client_config(Some(&empty)).expect_err("no certificate");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        assert!(client_config(None).is_ok());
    }
}
