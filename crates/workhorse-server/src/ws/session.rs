//! One worker's WebSocket session: credit-based push of ready jobs, heartbeats, acks and
//! releases, and the rescue of its jobs when the socket goes away.

use super::registry::{NewSession, Registration};
use crate::AppState;
use crate::routes::worker::ack_items;
use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashSet;
use std::time::Duration;
use workhorse_core::queue::{DEFAULT_QUEUE, validate_queue_name};
use workhorse_core::{JobId, limits};
use workhorse_engine::Beat;
use workhorse_engine::{Engine, ReadyWaiter};
use workhorse_protocol::{
    ClientMessage, FetchedJob, JobLeaseRef, ServerMessage, WsBeat, WsBeatResult,
};

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

/// A worker that connects but says nothing is dropped after this long.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Most jobs one session may hold at once, however much credit it grants.
const MAX_CREDIT: u32 = limits::MAX_BATCH as u32;

/// Why a session ended.
enum End {
    /// The socket closed or failed: the worker is gone, its jobs run again elsewhere.
    Gone,
    /// The server shuts down: leases stay (the worker may ack after reconnecting; the
    /// rescuer takes back what it does not).
    Shutdown,
    /// The worker broke the protocol: told why, then treated as gone.
    Refused(String),
}

/// Runs a session from the first frame to the last.
pub(super) async fn run(socket: WebSocket, state: AppState) {
    let (mut sink, mut stream) = socket.split();
    let mut session = match open(&state, &mut stream).await {
        Ok(session) => session,
        Err(message) => {
            refuse(&mut sink, message).await;
            return;
        }
    };
    let welcome = ServerMessage::Welcome {
        worker_id: session.worker_id.clone(),
        lease_ms: millis(state.engine.config().lease),
        heartbeat_ms: millis(state.engine.config().heartbeat),
    };
    tracing::info!(worker_id = %session.worker_id, queues = ?session.queues, credit = session.capacity, "worker connected");
    let end = match send(&mut sink, &welcome).await {
        Ok(()) => session.serve(&mut sink, &mut stream).await,
        Err(end) => end,
    };
    session.end(&mut sink, end).await;
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Waits for `hello` and checks it.
async fn open(state: &AppState, stream: &mut Stream) -> Result<Session, String> {
    let hello = tokio::time::timeout(HELLO_TIMEOUT, next_message(stream))
        .await
        .map_err(|_| format!("no hello within {} s", HELLO_TIMEOUT.as_secs()))?;
    let Some(ClientMessage::Hello {
        worker,
        mut queues,
        credit,
    }) = hello?
    else {
        return Err("the first message must be hello".to_owned());
    };
    limits::check_name("worker", &worker).map_err(|err| err.to_string())?;
    if queues.is_empty() {
        queues.push(DEFAULT_QUEUE.to_owned());
    }
    for queue in &queues {
        validate_queue_name(queue).map_err(|err| err.to_string())?;
    }
    let short = uuid::Uuid::new_v4().simple().to_string();
    let worker_id = format!("{worker}-{}", &short[..8]);
    let capacity = credit.min(MAX_CREDIT);
    let registration = state.workers.register(&NewSession {
        worker_id: &worker_id,
        name: &worker,
        queues: &queues,
        credit: capacity,
        now: state.engine.now(),
    });
    Ok(Session {
        engine: state.engine.clone(),
        shutdown: state.shutdown.clone(),
        worker_id,
        waiter: state.engine.ready_waiter(&queues),
        queues,
        capacity,
        registration,
        held: HashSet::new(),
        want_fetch: true,
    })
}

/// The next protocol message, skipping pings; `None` when the socket closed.
async fn next_message(stream: &mut Stream) -> Result<Option<ClientMessage>, String> {
    loop {
        match stream.next().await {
            None | Some(Err(_) | Ok(Message::Close(_))) => return Ok(None),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Binary(_))) => {
                return Err("binary frames are not part of the protocol; send JSON text".to_owned());
            }
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(text.as_str())
                    .map(Some)
                    .map_err(|err| format!("not a valid message: {err}"));
            }
        }
    }
}

async fn send(sink: &mut Sink, message: &ServerMessage) -> Result<(), End> {
    let text = serde_json::to_string(message).map_err(|err| End::Refused(err.to_string()))?;
    sink.send(Message::Text(text.into()))
        .await
        .map_err(|_| End::Gone)
}

/// Tells the worker why, then closes.
async fn refuse(sink: &mut Sink, message: String) {
    tracing::info!(%message, "worker session refused");
    let _ = send(sink, &ServerMessage::Error { message }).await;
    let _ = sink.send(Message::Close(None)).await;
}

struct Session {
    engine: Engine,
    shutdown: tokio_util::sync::CancellationToken,
    worker_id: String,
    queues: Vec<String>,
    waiter: ReadyWaiter,
    /// How many jobs the worker may hold at once.
    capacity: u32,
    /// Pushed jobs not yet acked or released.
    held: HashSet<JobId>,
    /// A fetch may find work (set by signals, acks and credit; cleared by a short fetch).
    want_fetch: bool,
    /// This session's entry in `GET /v1/workers`; dropped with the session.
    registration: Registration,
}

/// What woke the session loop.
enum Wake {
    Shutdown,
    Frame(Result<Option<ClientMessage>, String>),
    Ready,
}

impl Session {
    fn free(&self) -> u32 {
        self.capacity.saturating_sub(self.held.len() as u32)
    }

    async fn serve(&mut self, sink: &mut Sink, stream: &mut Stream) -> End {
        let recheck = self.engine.config().recheck;
        loop {
            if self.want_fetch && self.free() > 0 {
                if let Err(end) = self.push(sink).await {
                    return end;
                }
                continue;
            }
            let free = self.free() > 0;
            let wake = tokio::select! {
                () = self.shutdown.cancelled() => Wake::Shutdown,
                frame = next_message(stream) => Wake::Frame(frame),
                () = self.waiter.changed(), if free => Wake::Ready,
                () = tokio::time::sleep(recheck), if free => Wake::Ready,
            };
            let reply = match wake {
                Wake::Shutdown => return End::Shutdown,
                Wake::Ready => {
                    self.want_fetch = true;
                    continue;
                }
                Wake::Frame(Ok(None)) => return End::Gone,
                Wake::Frame(Err(message)) => return End::Refused(message),
                Wake::Frame(Ok(Some(message))) => self.handle(message).await,
            };
            match reply {
                Ok(Some(reply)) => {
                    if let Err(end) = send(sink, &reply).await {
                        return end;
                    }
                }
                Ok(None) => {}
                Err(message) => return End::Refused(message),
            }
        }
    }

    /// Leases as many ready jobs as free slots allow and pushes them.
    async fn push(&mut self, sink: &mut Sink) -> Result<(), End> {
        let want = self.free().min(limits::MAX_FETCH);
        // Before the fetch: a job readied while it runs then wakes us again at once.
        self.waiter.mark_seen();
        let jobs = match self
            .engine
            .fetch_now(&self.worker_id, &self.queues, want)
            .await
        {
            Ok(jobs) => jobs,
            Err(err) => {
                // Retried on the next signal or re-check, not in a tight loop.
                tracing::warn!(worker_id = %self.worker_id, error = %err, "session fetch failed");
                self.want_fetch = false;
                return Ok(());
            }
        };
        if jobs.len() < want as usize {
            self.want_fetch = false;
        }
        if jobs.is_empty() {
            return Ok(());
        }
        self.held.extend(jobs.iter().map(|job| job.id));
        self.registration.pushed(jobs.iter().map(|job| job.id));
        let jobs = jobs.into_iter().filter_map(FetchedJob::from_job).collect();
        send(sink, &ServerMessage::Jobs { jobs }).await
    }

    async fn handle(&mut self, message: ClientMessage) -> Result<Option<ServerMessage>, String> {
        match message {
            ClientMessage::Hello { .. } => Err("hello was already received".to_owned()),
            ClientMessage::Credit { n } => {
                self.capacity = self.capacity.saturating_add(n).min(MAX_CREDIT);
                self.registration.credit(self.capacity);
                self.want_fetch = true;
                Ok(None)
            }
            ClientMessage::Heartbeat { beats } => self.heartbeat(beats).await.map(Some),
            ClientMessage::Ack { acks } => {
                let results = ack_items(&self.engine, acks)
                    .await
                    .map_err(|e| e.to_string())?;
                self.settled(results.iter().map(|result| result.id));
                Ok(Some(ServerMessage::Acked { results }))
            }
            ClientMessage::Release { jobs } => self.release(jobs).await.map(Some),
        }
    }

    async fn heartbeat(&mut self, beats: Vec<WsBeat>) -> Result<ServerMessage, String> {
        self.registration.heartbeat(self.engine.now());
        let ids: Vec<JobId> = beats.iter().map(|beat| beat.id).collect();
        let beats = beats
            .into_iter()
            .map(|beat| Beat {
                id: beat.id,
                lease_id: beat.lease_id,
                progress: beat.progress,
            })
            .collect();
        let outcomes = self
            .engine
            .heartbeat_many(beats)
            .await
            .map_err(|err| err.to_string())?;
        let results: Vec<WsBeatResult> = ids
            .into_iter()
            .zip(outcomes)
            .map(|(id, outcome)| WsBeatResult {
                id,
                lease_expires_at: outcome.map(|o| o.lease_expires_at),
                cancel_requested: outcome.is_some_and(|o| o.cancel_requested),
            })
            .collect();
        // A lost lease frees its slot: the worker is told to stop that job.
        let lost = results.iter().filter(|r| r.lease_expires_at.is_none());
        self.settled(lost.map(|r| r.id));
        Ok(ServerMessage::Heartbeat { results })
    }

    async fn release(&mut self, jobs: Vec<JobLeaseRef>) -> Result<ServerMessage, String> {
        let ids: Vec<JobId> = jobs.iter().map(|job| job.id).collect();
        let pairs = jobs.into_iter().map(|job| (job.id, job.lease_id)).collect();
        let released = self
            .engine
            .release_many(pairs)
            .await
            .map_err(|err| err.to_string())?;
        self.settled(ids);
        // A worker hands jobs back when it stops taking work (shutdown, or leftovers of a
        // lost session): push nothing more until it grants credit again, or the jobs it
        // just released would bounce straight back to it.
        self.capacity = 0;
        self.registration.credit(0);
        Ok(ServerMessage::Released {
            count: released.len(),
        })
    }

    /// The worker is done with these jobs: their slots are free again.
    fn settled(&mut self, ids: impl IntoIterator<Item = JobId>) {
        let before = self.held.len();
        let ids: Vec<JobId> = ids.into_iter().collect();
        for id in &ids {
            self.held.remove(id);
        }
        self.registration.settled(&ids);
        if self.held.len() < before {
            self.want_fetch = true;
        }
    }

    async fn end(self, sink: &mut Sink, end: End) {
        match end {
            End::Shutdown => {
                let _ = sink.send(Message::Close(None)).await;
                tracing::info!(worker_id = %self.worker_id, "worker session closed by shutdown");
                return;
            }
            End::Refused(message) => refuse(sink, message).await,
            End::Gone => {}
        }
        tracing::info!(worker_id = %self.worker_id, held = self.held.len(), "worker disconnected");
        if let Err(err) = self.engine.rescue_worker(&self.worker_id).await {
            tracing::warn!(worker_id = %self.worker_id, error = %err, "could not rescue the jobs of a lost worker");
        }
    }
}
