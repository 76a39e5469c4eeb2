//! W3C trace context through a worker, against a real server: a job enqueued with a
//! `traceparent` runs inside a `job` span carrying its trace, and a job its handler
//! enqueues continues the same trace. Span fields are read by a real `tracing` layer.

mod common;

use common::TestServer;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use workhorse_client::{Client, JobContext, RawArgs, TaskError, TraceParent, Worker};
use workhorse_core::{JobId, JobState};
use workhorse_protocol::EnqueueRequest;

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const WAIT: Duration = Duration::from_secs(20);

/// The fields of every open span, by span id: what a log line inside it would carry.
#[derive(Clone, Default)]
struct SpanFields(Arc<Mutex<HashMap<u64, HashMap<String, String>>>>);

impl SpanFields {
    fn of(&self, id: &Id) -> HashMap<String, String> {
        let spans = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        spans.get(&id.into_u64()).cloned().unwrap_or_default()
    }

    /// Records into span `id`'s fields; a new span starts from none (ids are reused).
    fn record(&self, id: &Id, new: bool, record: impl FnOnce(&mut FieldVisitor<'_>)) {
        let mut spans = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let fields = spans.entry(id.into_u64()).or_default();
        if new {
            fields.clear();
        }
        record(&mut FieldVisitor(fields));
    }
}

struct FieldVisitor<'a>(&'a mut HashMap<String, String>);

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for SpanFields {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        self.record(id, true, |visitor| {
            visitor
                .0
                .insert("name".to_owned(), attrs.metadata().name().to_owned());
            attrs.record(visitor);
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        self.record(id, false, |visitor| values.record(visitor));
    }
}

/// The handler: reports the fields of the span it runs in, and enqueues a follow-up job
/// with a client that was given no trace context of its own.
async fn traced(ctx: JobContext, fields: SpanFields, client: Client) -> Result<Value, TaskError> {
    let span = tracing::Span::current()
        .id()
        .ok_or_else(|| TaskError::fatal("the handler runs in no span"))?;
    let follow_up = client
        .enqueue(EnqueueRequest::new("test.follow_up"))
        .await
        .map_err(|e| TaskError::fatal(e.to_string()))?;
    assert_eq!(
        ctx.traceparent().map(|parent| parent.as_str()),
        Some(CALLER)
    );
    Ok(json!({"span": fields.of(&span), "follow_up": follow_up.job.id}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_in_its_trace_and_passes_it_on() {
    let fields = SpanFields::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(fields.clone()))
        .expect("the only subscriber of this test binary");
    let server = TestServer::start(Duration::from_secs(5)).await;
    let handler_client = server.client();
    let handler_fields = fields.clone();
    let worker = Worker::builder(&server.url)
        .raw_task("test.traced", move |ctx: JobContext, _: RawArgs| {
            traced(ctx, handler_fields.clone(), handler_client.clone())
        })
        .build()
        .expect("worker");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { worker.run(shutdown).await }
    });

    let caller = TraceParent::parse(CALLER).expect("valid traceparent");
    let producer = server.client().with_traceparent(caller);
    let enqueued = producer
        .enqueue(EnqueueRequest::new("test.traced"))
        .await
        .expect("enqueue");
    let job = producer
        .wait_for_result(enqueued.job.id, WAIT)
        .await
        .expect("wait");
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.errors);
    let result: Value = serde_json::from_str(job.result.expect("result").get()).expect("json");

    let span = &result["span"];
    assert_eq!(span["name"], "job");
    assert_eq!(span["job_id"], enqueued.job.id.to_string());
    assert_eq!(span["task"], "test.traced");
    assert_eq!(span["queue"], "default");
    assert_eq!(span["attempt"], "1");
    assert_eq!(span["trace_id"], caller.trace_id());
    assert_eq!(span["parent_span_id"], caller.parent_span_id());

    let follow_up: JobId = serde_json::from_value(result["follow_up"].clone()).expect("job id");
    let follow_up = server.client().get(follow_up).await.expect("follow-up job");
    let metadata: Value =
        serde_json::from_str(follow_up.metadata.expect("metadata").get()).expect("json");
    let carried = TraceParent::parse(metadata["traceparent"].as_str().expect("traceparent"))
        .expect("valid traceparent");
    assert_eq!(carried.trace_id(), caller.trace_id());

    shutdown.cancel();
    running.await.expect("worker task").expect("worker ran");
}
