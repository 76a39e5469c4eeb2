// Live updates: Server-Sent Events from /v1/events, falling back to polling every 2 s while
// the stream is unavailable (an older server, a proxy that buffers, a network hiccup).
//
// Views subscribe and get two kinds of signals: `event` (one job changed state, from SSE)
// and `refresh` (time to re-read what they show). Refreshes are throttled so a burst of
// thousands of events costs a few requests, not thousands.

import { eventsUrl } from './api.js';

const POLL_MS = 2000;
/** With a live stream, re-read anyway now and then: scheduled jobs become ready silently. */
const SAFETY_MS = 5000;
const THROTTLE_MS = 500;
const RETRY_SSE_MS = 15000;

const listeners = new Set();
let source = null;
let mode = 'connecting';
let pollTimer = null;
let retryTimer = null;
let refreshTimer = null;
let lastRefresh = 0;

/** `fn(kind, payload)`; returns the unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** 'live' (SSE), 'polling', or 'connecting'. */
export function liveMode() {
  return mode;
}

function emit(kind, payload) {
  for (const fn of [...listeners]) {
    try {
      fn(kind, payload);
    } catch (err) {
      console.error(err);
    }
  }
}

/** Asks every view to re-read, at most once per THROTTLE_MS. */
export function requestRefresh() {
  if (refreshTimer) return;
  const wait = Math.max(0, lastRefresh + THROTTLE_MS - Date.now());
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    lastRefresh = Date.now();
    emit('refresh');
  }, wait);
}

function setMode(next) {
  mode = next;
  const badge = document.getElementById('live-status');
  if (!badge) return;
  badge.dataset.mode = next;
  const labels = { live: 'live', polling: 'polling every 2 s', connecting: 'connecting' };
  badge.querySelector('.label').textContent = labels[next];
  emit('mode', next);
}

function startPolling() {
  if (pollTimer) return;
  pollTimer = setInterval(requestRefresh, POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

/**
 * `localStorage['workhorse.live'] = 'poll'` turns the stream off: for networks whose proxies
 * buffer event streams, and for tests of the fallback.
 */
function streamDisabled() {
  try {
    return localStorage.getItem('workhorse.live') === 'poll';
  } catch {
    return false;
  }
}

function openStream() {
  clearTimeout(retryTimer);
  if (typeof EventSource === 'undefined' || streamDisabled()) {
    setMode('polling');
    startPolling();
    return;
  }
  source = new EventSource(eventsUrl());
  source.addEventListener('open', () => {
    stopPolling();
    setMode('live');
    pollTimer = setInterval(requestRefresh, SAFETY_MS);
    requestRefresh();
  });
  source.addEventListener('job', (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    emit('event', event);
    requestRefresh();
  });
  // The server fell behind on our stream: some events are lost, so re-read everything.
  source.addEventListener('lagged', () => requestRefresh());
  source.addEventListener('error', () => {
    stopPolling();
    setMode('polling');
    startPolling();
    if (source.readyState === EventSource.CLOSED) {
      // Refused (404 on an older server, 401): try again later, poll meanwhile.
      source = null;
      retryTimer = setTimeout(openStream, RETRY_SSE_MS);
    }
  });
}

/** Starts (or, after signing in, restarts) the live connection. */
export function startLive() {
  if (source) source.close();
  source = null;
  stopPolling();
  setMode('connecting');
  openStream();
}
