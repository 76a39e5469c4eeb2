// Throughput and latency over the last 10 minutes, computed in the browser.
//
// Outcomes (a job succeeded, an attempt failed) come from the event stream when it is live,
// and from the growth of the per-queue counts between two reads when polling. Latencies are
// sampled from recently succeeded jobs (wait = started - run_at, run = finished - started),
// read from the API, so they use the server's timestamps. History starts when the page
// opens, back-filled from the most recent finished jobs.

import { get, query } from './api.js';
import { ms } from './format.js';

export const BUCKET_MS = 10_000;
export const WINDOW_MS = 10 * 60_000;
const SAMPLE_LIMIT = 100;
const SEEN_MAX = 2000;

/** bucket start (ms) → { ok, failed, byQueue: {queue: {ok, failed}}, waits: [], runs: [] } */
const buckets = new Map();
/** Per-queue counts at the previous read, to turn growth into outcomes while polling. */
let lastCounts = null;
const seen = new Set();
let backfilled = false;

function bucket(t) {
  const start = Math.floor(t / BUCKET_MS) * BUCKET_MS;
  let b = buckets.get(start);
  if (!b) {
    b = { ok: 0, failed: 0, byQueue: {}, waits: [], runs: [] };
    buckets.set(start, b);
    const oldest = Date.now() - WINDOW_MS - BUCKET_MS;
    for (const key of buckets.keys()) if (key < oldest) buckets.delete(key);
  }
  return b;
}

function addOutcome(kind, queue, t, n = 1) {
  if (n <= 0 || t < Date.now() - WINDOW_MS) return;
  const b = bucket(t);
  b[kind] += n;
  const q = (b.byQueue[queue] ||= { ok: 0, failed: 0 });
  q[kind] += n;
}

/** A job event from the stream: counts succeeded jobs and failed attempts. */
export function recordEvent(event) {
  const t = ms(event.at) ?? Date.now();
  if (event.state === 'succeeded') addOutcome('ok', event.queue, t);
  else if (event.state === 'dead') addOutcome('failed', event.queue, t);
  else if (event.state === 'scheduled' && event.attempt > 0) addOutcome('failed', event.queue, t);
}

/**
 * New per-queue counts (`[{name, counts}]`). While polling (`countGrowth`), growth of
 * `succeeded` and `dead` since the last read is counted as outcomes now.
 */
export function recordCounts(queues, countGrowth) {
  const now = Date.now();
  const next = {};
  for (const queue of queues) {
    const ok = queue.counts.succeeded || 0;
    const dead = queue.counts.dead || 0;
    next[queue.name] = { ok, dead };
    const before = lastCounts && lastCounts[queue.name];
    if (countGrowth && before) {
      addOutcome('ok', queue.name, now, ok - before.ok);
      addOutcome('failed', queue.name, now, dead - before.dead);
    }
  }
  lastCounts = next;
}

function addLatency(job) {
  if (seen.has(job.id)) return;
  seen.add(job.id);
  if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value);
  const finished = ms(job.finished_at);
  const started = ms(job.started_at);
  const runAt = ms(job.run_at);
  if (finished === null || started === null || finished < Date.now() - WINDOW_MS) return;
  const b = bucket(finished);
  if (runAt !== null) b.waits.push(Math.max(0, started - runAt));
  b.runs.push(Math.max(0, finished - started));
}

/** Reads recently finished jobs: latency samples, and on the first call the history. */
export async function sampleLatency() {
  const page = await get(`/v1/jobs${query({ state: 'succeeded', limit: SAMPLE_LIMIT })}`);
  const first = !backfilled;
  for (const job of page.jobs) {
    if (first) addOutcome('ok', job.queue, ms(job.finished_at) ?? 0);
    addLatency(job);
  }
  if (first) {
    backfilled = true;
    const dead = await get(`/v1/jobs${query({ state: 'dead', limit: SAMPLE_LIMIT })}`);
    for (const job of dead.jobs) addOutcome('failed', job.queue, ms(job.finished_at) ?? 0);
  }
}

/** Outcomes per minute over the last minute, for one queue or (no argument) all. */
export function perMinute(kind, queue) {
  const since = Date.now() - 60_000;
  let n = 0;
  for (const [start, b] of buckets) {
    if (start + BUCKET_MS <= since) continue;
    n += queue === undefined ? b[kind] : (b.byQueue[queue]?.[kind] || 0);
  }
  return n;
}

function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Starts of the buckets in the window, up to the last complete one (a partial one would dip). */
function starts() {
  const now = Date.now();
  const last = Math.floor(now / BUCKET_MS) * BUCKET_MS - BUCKET_MS;
  const out = [];
  for (let t = last - WINDOW_MS + BUCKET_MS; t <= last; t += BUCKET_MS) out.push(t);
  return out;
}

/** Per-bucket rates scaled to per minute: `{t, ok, failed}`. */
export function throughputSeries() {
  const scale = 60_000 / BUCKET_MS;
  return starts().map((t) => {
    const b = buckets.get(t);
    return { t, ok: b ? b.ok * scale : 0, failed: b ? b.failed * scale : 0 };
  });
}

/** Per-bucket p50/p95 of wait and run (ms), null where no job finished. */
export function latencySeries() {
  return starts().map((t) => {
    const b = buckets.get(t);
    return {
      t,
      waitP95: b ? percentile(b.waits, 0.95) : null,
      runP95: b ? percentile(b.runs, 0.95) : null,
    };
  });
}

/** p50 and p95 of wait and run over the last `windowMs`. */
export function latencySummary(windowMs = 5 * 60_000) {
  const since = Date.now() - windowMs;
  const waits = [];
  const runs = [];
  for (const [start, b] of buckets) {
    if (start + BUCKET_MS <= since) continue;
    waits.push(...b.waits);
    runs.push(...b.runs);
  }
  return {
    waitP50: percentile(waits, 0.5),
    waitP95: percentile(waits, 0.95),
    runP50: percentile(runs, 0.5),
    runP95: percentile(runs, 0.95),
    samples: runs.length,
  };
}
