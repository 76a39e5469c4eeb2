//! One WebSocket session: receives pushed jobs, starts them within the concurrency, sends
//! heartbeats and batched acks, and drains gracefully on shutdown.

use super::Shared;
use super::context::StopReason;
use super::pool::{Exit, Pool};
use super::runner::{Runner, RunnerEvent, cancelled_ack};
use super::socket::Socket;
use super::stops::Stops;
use crate::error::ClientError;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::{Instant, MissedTickBehavior};
use workhorse_protocol::{
    AckOutcomeView, AckResult, ClientMessage, JobLeaseRef, ServerMessage, WsStep,
};

/// Acks sent in one message at most; a full batch goes out at once.
const ACK_BATCH: usize = 256;
/// Longest an ack waits for others to share its message.
const ACK_DELAY: Duration = Duration::from_millis(1);
/// First wait before sending again what the server could not record for a moment.
const RETRY_MIN: Duration = Duration::from_millis(50);
/// Longest wait between such retries.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// How a session ended.
pub(crate) enum End {
    /// Shutdown was asked for and the session drained (or gave up waiting).
    Shutdown,
    /// The socket broke or the server closed it.
    Dropped(ClientError),
}

/// What a session works with, lent by [`crate::Worker::run`].
pub(crate) struct Parts<'a> {
    pub shared: &'a Shared,
    pub pool: &'a mut Pool,
    pub events: &'a mut UnboundedReceiver<RunnerEvent>,
    pub sender: UnboundedSender<RunnerEvent>,
}

/// A live session.
pub(crate) struct Session<'a> {
    parts: Parts<'a>,
    socket: Socket,
    heartbeat: Duration,
    ack_due: Option<Instant>,
    /// Outcomes and releases wait until then after the server could not record them.
    retry_at: Option<Instant>,
    /// The wait before the next such retry (doubles up to [`RETRY_MAX`]).
    retry_delay: Duration,
    /// Slots freed by tasks carried over from earlier sessions, to grant as credit.
    credit_owed: u32,
    draining: bool,
    /// The remaining tasks were told to stop (grace period over).
    stopped: bool,
    /// Every task is over and the jobs held unstarted were handed back.
    final_release: bool,
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl<'a> Session<'a> {
    /// A session over `socket`; `deferred_credit` is granted once the jobs an earlier
    /// session left are handed back.
    pub(crate) fn new(
        parts: Parts<'a>,
        socket: Socket,
        heartbeat: Duration,
        deferred_credit: u32,
    ) -> Self {
        Session {
            parts,
            socket,
            heartbeat,
            ack_due: None,
            retry_at: None,
            retry_delay: RETRY_MIN,
            credit_owed: deferred_credit,
            draining: false,
            stopped: false,
            final_release: false,
        }
    }

    /// Runs until the session drops or, after shutdown, has drained.
    pub(crate) async fn run(mut self, stops: &Stops) -> End {
        let mut beat = tokio::time::interval_at(Instant::now() + self.heartbeat, self.heartbeat);
        beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // What an earlier session left: outcomes to send, unstarted jobs to hand back.
        if let Err(error) = self.catch_up().await {
            return End::Dropped(error);
        }
        loop {
            if self.draining {
                match self.final_release().await {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(error) => return End::Dropped(error),
                }
            }
            let ack_due = self.ack_due;
            let step = tokio::select! {
                () = stops.shutdown.cancelled(), if !self.draining => self.begin_drain().await,
                () = stops.hard_stop.cancelled(), if self.draining && !self.stopped => {
                    self.stopped = true;
                    self.parts.pool.stop_all(StopReason::Shutdown);
                    Ok(())
                }
                () = stops.give_up.cancelled() => {
                    tracing::warn!(unanswered = self.parts.pool.unanswered(), "closing without the server's last answers");
                    break;
                }
                Some(event) = self.parts.events.recv() => self.on_events(event, stops).await,
                message = self.socket.recv() => self.on_message(message),
                () = sleep_until(ack_due) => self.flush_acks().await,
                _ = beat.tick() => self.send_beats().await,
            };
            if let Err(error) = step {
                return End::Dropped(error);
            }
        }
        self.socket.close().await;
        End::Shutdown
    }

    /// Sends what an earlier session left and heartbeats the carried tasks at once, so
    /// their leases are extended (or found lost) without waiting for the first tick.
    async fn catch_up(&mut self) -> Result<(), ClientError> {
        self.flush_acks().await?;
        let carried = self.parts.pool.take_releases();
        self.release(carried).await?;
        if self.credit_owed > 0 {
            let n = std::mem::take(&mut self.credit_owed);
            self.socket.send(&ClientMessage::Credit { n }).await?;
        }
        self.send_beats().await
    }

    /// Runner events: this one and every other already waiting, then one flush decision.
    async fn on_events(&mut self, first: RunnerEvent, stops: &Stops) -> Result<(), ClientError> {
        // `select!` may pick a finished task over a shutdown that is also ready: drain
        // first, so the freed slot does not start a queued job.
        if stops.shutdown.is_cancelled() && !self.draining {
            self.begin_drain().await?;
        }
        self.on_event(first);
        while let Ok(event) = self.parts.events.try_recv() {
            self.on_event(event);
        }
        self.start_ready();
        if self.credit_owed > 0 && !self.draining {
            let n = std::mem::take(&mut self.credit_owed);
            self.socket.send(&ClientMessage::Credit { n }).await?;
        }
        if self.parts.pool.unsent_acks() >= ACK_BATCH || self.draining {
            self.flush_acks().await?;
        }
        Ok(())
    }

    fn on_event(&mut self, event: RunnerEvent) {
        match event {
            RunnerEvent::Settled { id, ack } => {
                self.parts.pool.settle(id, ack);
                self.ack_due
                    .get_or_insert_with(|| Instant::now() + ACK_DELAY);
            }
            RunnerEvent::Exited { id } => {
                if self.parts.pool.exit(id) == Exit::Carried {
                    self.credit_owed += 1;
                }
            }
        }
    }

    async fn flush_acks(&mut self) -> Result<(), ClientError> {
        self.ack_due = None;
        if let Some(at) = self.retry_at {
            if Instant::now() < at {
                self.ack_due = Some(at);
                return Ok(());
            }
            self.retry_at = None;
            let jobs = self.parts.pool.take_release_retry();
            self.release(jobs).await?;
        }
        // The server handles a session's messages in order: this progress is stored
        // before the acks below finish the jobs.
        let beats = self.parts.pool.take_final_beats();
        if !beats.is_empty() {
            self.socket
                .send(&ClientMessage::Heartbeat { beats })
                .await?;
        }
        loop {
            let acks = self.parts.pool.take_acks(ACK_BATCH);
            if acks.is_empty() {
                return Ok(());
            }
            // Sent by reference and then kept, without a copy, until answered.
            let message = ClientMessage::Ack { acks };
            let sent = self.socket.send(&message).await;
            if let ClientMessage::Ack { acks } = message {
                self.parts.pool.sent_acks(acks);
            }
            sent?;
        }
    }

    /// Starts queued jobs while slots are free (never while draining).
    fn start_ready(&mut self) {
        if self.draining {
            return;
        }
        let shared = self.parts.shared;
        while let Some(ctx) = self.parts.pool.start_next() {
            let runner = Runner {
                handler: shared.handlers.get(ctx.task()).cloned(),
                events: self.parts.sender.clone(),
                cancel_grace: shared.cancel_grace,
            };
            tokio::spawn(runner.run(ctx));
        }
    }

    fn on_message(
        &mut self,
        message: Result<Option<ServerMessage>, ClientError>,
    ) -> Result<(), ClientError> {
        let message = message?.ok_or_else(|| ClientError::Session {
            url: self.parts.shared.url.clone(),
            reason: "the server closed the session".to_owned(),
        })?;
        match message {
            // While draining, pushed jobs are only held (heartbeated) until the final
            // release: releasing each at once would free its slot for another push.
            ServerMessage::Jobs { jobs } => {
                self.parts.pool.push(jobs);
                self.start_ready();
            }
            ServerMessage::Heartbeat { results } => {
                for result in &results {
                    if let Some(ctx) = self.parts.pool.apply_beat(result) {
                        self.parts.pool.push_ack(cancelled_ack(&ctx));
                        self.ack_due
                            .get_or_insert_with(|| Instant::now() + ACK_DELAY);
                    }
                }
            }
            ServerMessage::Acked { results } => self.on_acked(&results),
            ServerMessage::Released { .. } => self.parts.pool.release_answered(),
            ServerMessage::Welcome { .. } => {}
            ServerMessage::Error {
                problem,
                retryable: true,
                failed,
                jobs,
            } => {
                tracing::warn!(step = ?failed, jobs = jobs.len(), problem = %problem.detail, "the server could not record a step; sending it again");
                self.retry_later(failed);
            }
            ServerMessage::Error { problem, .. } => {
                return Err(ClientError::Api {
                    status: problem.status,
                    problem,
                });
            }
        }
        Ok(())
    }

    /// The server could not record `step` for a moment: its acks or releases go out again
    /// after a backoff; a heartbeat goes out again on the next tick anyway, and the server
    /// retries its own push.
    fn retry_later(&mut self, step: Option<WsStep>) {
        match step {
            Some(WsStep::Ack) => self.parts.pool.acks_failed(),
            Some(WsStep::Release) => self.parts.pool.release_failed(),
            Some(WsStep::Heartbeat | WsStep::Push) | None => return,
        }
        let at = Instant::now() + self.retry_delay;
        self.retry_delay = (self.retry_delay * 2).min(RETRY_MAX);
        self.retry_at = Some(at);
        self.ack_due = Some(at);
    }

    fn on_acked(&mut self, results: &[AckResult]) {
        self.parts.pool.acks_answered();
        self.retry_delay = RETRY_MIN;
        for result in results {
            if result.outcome != AckOutcomeView::Applied {
                // Expected after a lost lease: the job already runs again elsewhere.
                tracing::debug!(job_id = %result.id, outcome = ?result.outcome, "ack refused; result dropped");
            }
        }
    }

    async fn send_beats(&mut self) -> Result<(), ClientError> {
        let beats = self.parts.pool.beats();
        if beats.is_empty() {
            return Ok(());
        }
        self.socket.send(&ClientMessage::Heartbeat { beats }).await
    }

    async fn release(&mut self, jobs: Vec<JobLeaseRef>) -> Result<(), ClientError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let message = ClientMessage::Release { jobs };
        let sent = self.socket.send(&message).await;
        if let ClientMessage::Release { jobs } = message {
            self.parts.pool.sent_release(jobs);
        }
        sent
    }

    /// Stops taking jobs: hands back the queued ones, lets running ones finish.
    async fn begin_drain(&mut self) -> Result<(), ClientError> {
        tracing::info!(
            running = self.parts.pool.busy(),
            grace = ?self.parts.shared.grace,
            "worker shutting down: handing back queued jobs, finishing running ones"
        );
        self.draining = true;
        let queued = self.parts.pool.take_releases();
        self.release(queued).await?;
        self.flush_acks().await
    }

    /// Once every task is over, hands back the jobs held unstarted; whether the session
    /// has drained (every ack and release answered). Jobs the server pushes after this
    /// release are taken back by the server when the session closes.
    async fn final_release(&mut self) -> Result<bool, ClientError> {
        if !self.final_release && self.parts.pool.busy() == 0 {
            self.final_release = true;
            self.flush_acks().await?;
            let held = self.parts.pool.take_releases();
            self.release(held).await?;
        }
        let pool = &self.parts.pool;
        let delivered = pool.unsent_acks() == 0 && pool.unanswered() == 0 && !pool.has_retries();
        Ok(self.final_release && delivered)
    }
}
