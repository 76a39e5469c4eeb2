//! The client over real sockets when the network misbehaves: a server that never answers
//! (a timeout, not a hang), a connection cut before the answer (a retry that makes no
//! second job), a server that comes back (a retried read), and an HTTPS server whose
//! certificate comes from a CA the client is told to trust.

mod common;

use common::TestServer;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use workhorse_client::{Client, ClientError, ClientOptions, RawArgs, Worker};
use workhorse_core::JobState;
use workhorse_node::TlsFiles;
use workhorse_protocol::{EnqueueRequest, JobListQuery};

const LEASE: Duration = Duration::from_secs(5);

/// Slack for a loaded test machine on top of a timeout.
const MARGIN: Duration = Duration::from_secs(2);

fn client(url: &str, options: &ClientOptions) -> Client {
    Client::with_options(url, options).expect("client")
}

/// How many jobs the server holds.
async fn job_count(client: &Client) -> usize {
    client
        .list(JobListQuery::default())
        .await
        .expect("list")
        .jobs
        .len()
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Accepts and holds every connection, never writing a byte.
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let timeout = Duration::from_millis(300);
    let options = ClientOptions::default().timeout(timeout);
    let client = client(&format!("http://{addr}"), &options);
    let started = Instant::now();
    let err = client
        .get(workhorse_core::JobId::new())
        .await
        .expect_err("no answer");
    let waited = started.elapsed();
    assert!(
        matches!(&err, ClientError::Timeout { path, waited, .. }
            if path.starts_with("/v1/jobs/") && *waited == timeout),
        "{err:?}"
    );
    assert!(err.to_string().contains("timed out after 300ms"), "{err}");
    assert!(waited >= timeout && waited < timeout + MARGIN, "{waited:?}");
    silent.abort();
}

/// A TCP proxy to `upstream` that, on the first connection carrying `POST /v1/jobs`,
/// forwards the request, waits for the server's answer to begin (the job is committed),
/// then cuts both sides without relaying it. Every other connection is relayed as is.
async fn cutting_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let cut = Arc::new(AtomicBool::new(false));
    let cut_flag = Arc::clone(&cut);
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let cut = Arc::clone(&cut_flag);
            tokio::spawn(relay(inbound, upstream, cut));
        }
    });
    (addr, cut)
}

async fn relay(mut inbound: TcpStream, upstream: SocketAddr, cut: Arc<AtomicBool>) {
    let mut outbound = TcpStream::connect(upstream).await.expect("upstream");
    let mut first = vec![0; 64 * 1024];
    let n = inbound.read(&mut first).await.unwrap_or(0);
    outbound.write_all(&first[..n]).await.expect("forward");
    if first[..n].starts_with(b"POST /v1/jobs ") && !cut.swap(true, Ordering::SeqCst) {
        let mut answer = [0; 1];
        let _ = outbound.read(&mut answer).await;
        return; // Both sockets drop: the client sees the connection closed.
    }
    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_cut_before_its_answer_is_retried_into_one_job() {
    let server = TestServer::start(LEASE).await;
    let (proxy, cut) = cutting_proxy(server.addr).await;
    let client = client(&format!("http://{proxy}"), &ClientOptions::default());
    let enqueued = client
        .enqueue(EnqueueRequest::new("emails.send"))
        .await
        .expect("enqueue retried");
    assert!(cut.load(Ordering::SeqCst), "the proxy cut a connection");
    assert!(
        !enqueued.created,
        "the retry found the job of the first try"
    );
    assert_eq!(job_count(&server.client()).await, 1);
    assert_eq!(
        server
            .client()
            .get(enqueued.job.id)
            .await
            .expect("get")
            .task,
        "emails.send"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retries_a_cut_enqueue_fails_at_once() {
    let server = TestServer::start(LEASE).await;
    let (proxy, _) = cutting_proxy(server.addr).await;
    let client = client(
        &format!("http://{proxy}"),
        &ClientOptions::default().retries(0),
    );
    let err = client
        .enqueue(EnqueueRequest::new("emails.send"))
        .await
        .expect_err("no retry");
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
    assert_eq!(job_count(&server.client()).await, 1, "the first try's job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_is_retried_until_the_server_is_back() {
    let mut server = TestServer::start(LEASE).await;
    server.stop().await;
    let refused = client(&server.url, &ClientOptions::default().retries(0));
    let started = Instant::now();
    let err = refused.health().await.expect_err("down");
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    assert!(started.elapsed() < MARGIN, "retries(0) does not wait");

    // Enough retries that their backoff outlasts the restart, whatever the jitter draws.
    let patient = client(&server.url, &ClientOptions::default().retries(40));
    let ((), health) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            server.restart(LEASE).await;
        },
        patient.health()
    );
    health.expect("answered once the server was back");
}

/// A CA and a server certificate it signed for 127.0.0.1, as PEM files.
fn internal_ca(dir: &Path) -> (TlsFiles, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("params");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, cert.pem()).expect("write cert");
    std::fs::write(&files.key, key.serialize_pem()).expect("write key");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write ca");
    (files, ca_file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_opens_https_and_wss_to_a_server_of_an_internal_ca() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (tls, ca_file) = internal_ca(certs.path());
    let server = TestServer::start_with(LEASE, |options| options.tls = Some(tls.clone())).await;
    let url = server.url.replace("http://", "https://");

    let untrusting = client(&url, &ClientOptions::default().retries(0));
    let err = untrusting.health().await.expect_err("unknown CA");
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("WORKHORSE_CA_FILE"), "{err}");

    let trusting = client(&url, &ClientOptions::default().ca_file(&ca_file));
    trusting.health().await.expect("https with the CA");
    let enqueued = trusting
        .enqueue(EnqueueRequest::new("tls.ping"))
        .await
        .expect("enqueue");

    let worker = Worker::builder_for(&trusting)
        .raw_task("tls.ping", |_, _: RawArgs| async {
            Ok(serde_json::json!("pong"))
        })
        .build()
        .expect("worker");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { worker.run(shutdown).await }
    });
    let job = trusting
        .wait_for_result(enqueued.job.id, Duration::from_secs(20))
        .await
        .expect("wait");
    assert_eq!(
        job.state,
        JobState::Succeeded,
        "the worker ran it over wss://"
    );
    shutdown.cancel();
    running.await.expect("worker task").expect("worker stopped");
}
