// Job detail: arguments, result, every attempt's error with its traceback, the timeline,
// live progress, and the cancel and retry buttons.

import { get, post } from '../api.js';
import { actionButton, empty, h, mount, toast } from '../dom.js';
import { dateTime, duration, json, ms, relative } from '../format.js';
import { requestRefresh } from '../live.js';
import { stateBadge } from './jobs.js';

const CANCELLABLE = ['scheduled', 'ready', 'running'];
const RETRYABLE = ['dead', 'cancelled', 'expired'];
/** Progress is not an event: while a job runs, re-read it this often. */
const RUNNING_POLL_MS = 1000;

function timeline(job) {
  const wait = ms(job.started_at) !== null ? ms(job.started_at) - ms(job.run_at) : null;
  const run = ms(job.finished_at) !== null && ms(job.started_at) !== null
    ? ms(job.finished_at) - ms(job.started_at) : null;
  const steps = [
    ['created', 'Created', job.created_at],
    ['run_at', 'Run at', job.run_at],
    ['started', 'Started', job.started_at, wait !== null ? `waited ${duration(Math.max(0, wait))}` : null],
    ['finished', 'Finished', job.finished_at, run !== null ? `ran ${duration(run)}` : null],
  ];
  if (job.expires_at) steps.push(['expires', 'Expires', job.expires_at]);
  if (job.lease_expires_at) steps.push(['lease', 'Lease ends', job.lease_expires_at]);
  return h('ol', { class: 'timeline' }, steps.map(([key, label, ts, note]) =>
    h('li', { class: ts ? 'done' : 'pending', dataset: { step: key } },
      h('span', { class: 'step-label' }, label),
      h('span', { class: 'step-time', title: ts || '' }, ts ? dateTime(ts) : '—'),
      h('span', { class: 'muted small' }, ts ? relative(ts) : ''),
      note ? h('span', { class: 'step-note' }, note) : null)));
}

function progress(job) {
  if (!job.progress) return null;
  const pct = Math.round(Math.min(1, Math.max(0, job.progress.fraction)) * 100);
  const bar = h('div', { class: 'bar' }, h('div', { class: 'fill' }));
  bar.firstChild.style.width = `${pct}%`;
  return h('section', { class: 'card pad', id: 'progress' },
    h('div', { class: 'progress-head' }, h('h3', {}, 'Progress'), h('b', { dataset: { field: 'progress' } }, `${pct}%`)),
    bar, job.progress.message ? h('p', { class: 'muted' }, job.progress.message) : null);
}

function code(title, value) {
  const absent = value === null || value === undefined
    || (Array.isArray(value) && !value.length) || (typeof value === 'object' && !Object.keys(value).length);
  return h('section', { class: 'card pad code-card' }, h('h3', {}, title),
    absent ? h('p', { class: 'muted' }, 'none') : h('pre', { class: 'code' }, json(value)));
}

function attempts(job) {
  if (!job.errors.length) return null;
  const items = [...job.errors].reverse().map((err, i) => h('details', { class: 'attempt', open: i === 0 },
    h('summary', {}, h('span', { class: 'badge state-dead' }, `attempt ${err.attempt}`),
      h('b', {}, err.type), h('span', { class: 'error-message' }, err.message),
      h('span', { class: 'muted small' }, dateTime(err.at))),
    err.traceback ? h('pre', { class: 'code traceback' }, err.traceback) : h('p', { class: 'muted' }, 'No traceback was sent.')));
  return h('section', { class: 'card pad', id: 'attempts' }, h('h3', {}, `Failed attempts (${job.errors.length})`), items);
}

function facts(job) {
  const rows = [
    ['Queue', h('a', { href: `#/jobs?queue=${encodeURIComponent(job.queue)}` }, job.queue)],
    ['Priority', job.priority],
    ['Attempt', `${job.attempt} of ${job.max_attempts}`],
    ['Timeout', job.timeout_ms ? duration(job.timeout_ms) : 'none'],
    ['Key', job.key || '—'],
    ['Concurrency key', job.concurrency_key || '—'],
    ['Worker', job.worker || '—'],
  ];
  if (job.workflow_id) {
    rows.push(['Workflow', h('a', { href: `#/workflows/${job.workflow_id}`, dataset: { field: 'workflow' } }, job.workflow_id.slice(0, 8))]);
  }
  return h('dl', { class: 'facts card pad' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function buttons(job, reload) {
  const cancel = CANCELLABLE.includes(job.state) && !job.cancel_requested
    ? actionButton('Cancel job', { class: 'danger', dataset: { action: 'cancel' } }, async () => {
      const after = await post(`/v1/jobs/${job.id}/cancel`);
      toast(after.state === 'cancelled' ? 'Job cancelled.' : 'Cancel requested: the worker is told on its next heartbeat.');
      requestRefresh();
      await reload();
    }) : null;
  const retry = RETRYABLE.includes(job.state)
    ? actionButton('Retry job', { class: 'primary', dataset: { action: 'retry' } }, async () => {
      await post(`/v1/jobs/${job.id}/retry`);
      toast('Job queued to run again.');
      requestRefresh();
      await reload();
    }) : null;
  return h('div', { class: 'head-actions' }, cancel, retry);
}

function page(job, reload) {
  return [
    h('header', { class: 'page-head' },
      h('div', {}, h('a', { href: '#/jobs', class: 'muted small' }, '← Jobs'),
        h('h1', {}, h('span', { class: 'task' }, job.task), ' ', stateBadge(job)),
        h('div', { class: 'mono muted', id: 'job-id' }, job.id),
        job.cancel_requested && job.state === 'running'
          ? h('div', { class: 'notice', dataset: { field: 'cancel-requested' } }, 'Cancel requested — the worker stops on its next heartbeat.') : null),
      buttons(job, reload)),
    h('div', { class: 'detail-grid' },
      h('div', { class: 'detail-main' }, progress(job), attempts(job),
        h('div', { class: 'two' }, code('Args', job.args), code('Kwargs', job.kwargs)),
        code('Result', job.result), job.metadata ? code('Metadata', job.metadata) : null),
      h('div', { class: 'detail-side' }, h('section', { class: 'card pad' }, h('h3', {}, 'Timeline'), timeline(job)), facts(job))),
  ];
}

/** Renders one job. */
export function render(root, { match }) {
  const id = match[1];
  let timer = null;
  let state = null;
  let shown = null;
  let disposed = false;
  async function reload() {
    let view;
    try {
      const job = await get(`/v1/jobs/${id}`);
      state = job.state;
      // Re-render only on change: a redraw would close the tracebacks the reader opened.
      const text = JSON.stringify(job);
      view = text === shown ? null : page(job, reload);
      shown = text;
    } catch (err) {
      shown = null;
      view = empty(err.status === 404 ? 'No such job' : 'Could not load the job', err.message);
    }
    if (disposed) return;
    if (view) mount(root, view);
    clearTimeout(timer);
    if (state === 'running') timer = setTimeout(reload, RUNNING_POLL_MS);
  }
  reload();
  return {
    onEvent: (event) => { if (event.id === id) reload(); },
    // Without a live stream, the refresh signal is the only news of a state change.
    refresh: () => { if (state !== 'running') reload(); },
    dispose: () => { disposed = true; clearTimeout(timer); },
  };
}
