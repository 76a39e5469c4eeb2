//! OpenTelemetry export end to end (feature `otel`): the real `workhorse serve` binary and
//! an in-process Rust worker export to a real OTLP/HTTP receiver, and one trace shows the
//! caller → the server's enqueue request span → the worker's job span.
//!
//! Run with `cargo test -p workhorse-cli --features otel --test otel`.
#![cfg(feature = "otel")]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt as _;
use workhorse_client::{Client, JobContext, RawArgs, TaskError, TraceParent, Worker};
use workhorse_core::JobState;
use workhorse_protocol::EnqueueRequest;
use workhorse_testing::{free_port, wait_until};

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const WAIT: Duration = Duration::from_secs(30);

/// One span as the receiver got it, ids in hex.
#[derive(Debug, Clone)]
struct ReceivedSpan {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<ReceivedSpan>>>);

impl Receiver {
    /// Serves `POST /v1/traces` on a loopback port until `stop`; returns its base URL.
    async fn start(&self, stop: CancellationToken) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(receive))
            .with_state(self.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        });
        format!("http://{addr}")
    }

    fn find(&self, service: &str, name: &str, trace_id: &str) -> Option<ReceivedSpan> {
        let spans = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        spans
            .iter()
            .find(|s| s.service == service && s.name == name && s.trace_id == trace_id)
            .cloned()
    }
}

async fn receive(State(receiver): State<Receiver>, body: Bytes) -> impl IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut spans = receiver.0.lock().unwrap_or_else(PoisonError::into_inner);
    for resource_spans in request.resource_spans {
        let service = service_name(resource_spans.resource.as_ref());
        for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
            spans.push(ReceivedSpan {
                service: service.clone(),
                name: span.name,
                trace_id: hex::encode(&span.trace_id),
                span_id: hex::encode(&span.span_id),
                parent_span_id: hex::encode(&span.parent_span_id),
            });
        }
    }
    let answer = ExportTraceServiceResponse::default().encode_to_vec();
    ([(header::CONTENT_TYPE, "application/x-protobuf")], answer).into_response()
}

fn service_name(resource: Option<&Resource>) -> String {
    resource
        .into_iter()
        .flat_map(|r| &r.attributes)
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map_or_else(String::new, |value| match value {
            AnyValue::StringValue(name) => name.clone(),
            other => format!("{other:?}"),
        })
}

/// `workhorse serve` exporting to `collector`, with the default service name.
fn spawn_server(addr: SocketAddr, data_dir: &std::path::Path, collector: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_workhorse"))
        .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
        .arg(data_dir)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn workhorse serve")
}

/// `SIGTERM`, then waits for a clean exit: the exporter flushes on the way out.
fn terminate(mut child: Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let status = child.wait().expect("wait for the server");
    assert!(status.success(), "workhorse serve exited with {status}");
}

async fn succeed(_: JobContext, _: RawArgs) -> Result<serde_json::Value, TaskError> {
    tracing::info!("sending the report");
    Ok(serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_caller_through_the_server_to_the_job() {
    let receiver = Receiver::default();
    let stop_receiver = CancellationToken::new();
    let collector = receiver.start(stop_receiver.clone()).await;
    let (layer, telemetry) =
        workhorse_client::otel::layer_to(&format!("{collector}/v1/traces"), "test-worker")
            .expect("exporter");
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .expect("the only subscriber of this test binary");

    let dir = tempfile::tempdir().expect("temp dir");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = spawn_server(addr, dir.path(), &collector);
    let url = format!("http://{addr}");
    let client = Client::new(&url).expect("client");
    wait_until("the server to answer", WAIT, || async {
        client.health().await.ok()
    })
    .await;

    let shutdown = CancellationToken::new();
    let worker = Worker::builder(&url)
        .raw_task("reports.send", succeed)
        .build()
        .expect("worker");
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { worker.run(shutdown).await }
    });

    let caller = TraceParent::parse(CALLER).expect("valid traceparent");
    let enqueued = client
        .clone()
        .with_traceparent(caller)
        .enqueue(EnqueueRequest::new("reports.send"))
        .await
        .expect("enqueue");
    let job = client
        .wait_for_result(enqueued.job.id, WAIT)
        .await
        .expect("wait");
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.errors);
    let metadata: serde_json::Value =
        serde_json::from_str(job.metadata.expect("metadata").get()).expect("json");
    let stored = TraceParent::parse(metadata["traceparent"].as_str().expect("stored"))
        .expect("valid stored traceparent");
    assert_eq!(stored.trace_id(), caller.trace_id());

    shutdown.cancel();
    running.await.expect("worker task").expect("worker ran");
    telemetry.flush();
    terminate(server);

    // No waiting for the server: it must have flushed its spans before it exited.
    let request = receiver
        .find("workhorse", "request", caller.trace_id())
        .expect("the server exported the enqueue request's span");
    assert_eq!(request.parent_span_id, caller.parent_span_id());
    assert_eq!(request.span_id, stored.parent_span_id());
    let run = receiver
        .find("test-worker", "job", caller.trace_id())
        .expect("the worker exported the job's span");
    assert_eq!(run.parent_span_id, stored.parent_span_id());
    stop_receiver.cancel();
}
