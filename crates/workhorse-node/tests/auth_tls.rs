//! `serve` with auth and TLS: auth on by default off loopback (and no start without a
//! token), the bootstrap admin token, and HTTPS with a self-signed certificate.

mod common;

use common::GUARD;
use std::net::SocketAddr;
use std::path::Path;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use workhorse_node::{NodeError, Secret, ServeOptions, TlsFiles, serve};

const ADMIN: &str = "bootstrap-admin-token-for-tests-0123456789";

struct Serving {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), NodeError>>,
}

async fn start(dir: &Path, options: ServeOptions) -> Serving {
    let port_file = dir.join("port");
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.join("data"),
        port_file: Some(port_file.clone()),
        ..options
    };
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(options, shutdown.clone()));
    let addr = common::announced_address(&port_file, &task)
        .await
        .parse()
        .expect("address");
    Serving {
        addr,
        shutdown,
        task,
    }
}

impl Serving {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(GUARD, self.task)
            .await
            .expect("stops")
            .expect("task")
            .expect("served");
    }
}

#[tokio::test]
async fn auth_is_on_off_loopback_and_serve_refuses_to_start_without_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = ServeOptions {
        listen: "0.0.0.0:0".parse().expect("addr"),
        data_dir: dir.path().to_owned(),
        ..ServeOptions::default()
    };
    assert!(options.auth_enabled());
    assert!(
        !ServeOptions::default().auth_enabled(),
        "loopback: off unless asked"
    );
    let refused = serve(options, CancellationToken::new()).await;
    let message = refused.expect_err("no token").to_string();
    assert!(
        message.contains("workhorse tokens create --role admin"),
        "{message}"
    );
    assert!(message.contains("WORKHORSE_ADMIN_TOKEN"), "{message}");
}

#[tokio::test]
async fn the_bootstrap_admin_token_opens_a_server_with_auth_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = ServeOptions {
        auth: Some(true),
        admin_token: Some(Secret::new(ADMIN)),
        ..ServeOptions::default()
    };
    let server = start(dir.path(), options).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{}{path}", server.addr);
    let health = http.get(url("/healthz")).send().await.expect("get");
    assert_eq!(health.status(), 200);
    let refused = http.get(url("/v1/queues")).send().await.expect("get");
    assert_eq!(refused.status(), 401);
    let admitted = http
        .get(url("/v1/queues"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("get");
    assert_eq!(admitted.status(), 200);
    server.stop().await;
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
fn self_signed(dir: &Path) -> (TlsFiles, String) {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
    let cert_pem = certified.cert.pem();
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, &cert_pem).expect("write cert");
    std::fs::write(&files.key, certified.signing_key.serialize_pem()).expect("write key");
    (files, cert_pem)
}

#[tokio::test]
async fn https_serves_the_api_to_a_client_that_trusts_the_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (tls, cert_pem) = self_signed(dir.path());
    let options = ServeOptions {
        auth: Some(true),
        admin_token: Some(Secret::new(ADMIN)),
        tls: Some(tls),
        ..ServeOptions::default()
    };
    let server = start(dir.path(), options).await;
    let trusted = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("pem"))
        .build()
        .expect("client");
    let url = |path: &str| format!("https://{}{path}", server.addr);
    let health = trusted.get(url("/healthz")).send().await.expect("https");
    assert_eq!(health.status(), 200);
    let body = serde_json::json!({"task": "over-tls"});
    let enqueued = trusted
        .post(url("/v1/jobs"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .expect("https");
    assert_eq!(enqueued.status(), 201);

    // A client that does not trust the certificate, or speaks plain HTTP, gets nothing.
    let untrusting = reqwest::Client::new();
    assert!(untrusting.get(url("/healthz")).send().await.is_err());
    let plain = format!("http://{}/healthz", server.addr);
    let answer = untrusting.get(plain).send().await;
    assert!(answer.is_err() || !answer.expect("answer").status().is_success());
    server.stop().await;
}

#[tokio::test]
async fn unusable_tls_files_stop_serve_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("empty.pem"), "").expect("write");
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().join("data"),
        tls: Some(TlsFiles {
            cert: dir.path().join("empty.pem"),
            key: dir.path().join("missing.pem"),
        }),
        ..ServeOptions::default()
    };
    let error = serve(options, CancellationToken::new())
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("empty.pem"), "{error}");
}
