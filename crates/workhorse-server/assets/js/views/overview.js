// Overview: totals, throughput and latency charts, and one row per queue; all live.

import { h, mount, empty } from '../dom.js';
import { duration, ms, num, per, rate } from '../format.js';
import { lineChart } from '../chart.js';
import * as stats from '../stats.js';

function total(queues, state) {
  return queues.reduce((n, q) => n + (q.counts[state] || 0), 0);
}

function oldestWait(queue, now) {
  const t = ms(queue.oldest_ready_at);
  return t === null ? null : Math.max(0, now - t);
}

function tile(key, label, value, hint, tone) {
  return h('div', { class: `tile ${tone || ''}`, dataset: { stat: key } },
    h('span', { class: 'tile-label' }, label),
    h('span', { class: 'tile-value', dataset: { value: key } }, value),
    h('span', { class: 'tile-hint' }, hint || '\u00a0'));
}

function tiles(queues, workers, now) {
  const waits = queues.map((q) => oldestWait(q, now)).filter((w) => w !== null);
  const oldest = waits.length ? Math.max(...waits) : null;
  const failed = stats.perMinute('failed');
  return h('section', { class: 'tiles' },
    tile('ready', 'Ready', num(total(queues, 'ready')), 'waiting'),
    tile('scheduled', 'Scheduled', num(total(queues, 'scheduled')), 'delay or backoff'),
    tile('running', 'Running', num(total(queues, 'running')), 'on workers', 'running'),
    tile('succeeded-rate', 'Succeeded / min', rate(stats.perMinute('ok')),
      `${num(total(queues, 'succeeded'))} kept`, 'ok'),
    tile('failed-rate', 'Failed / min', rate(failed), 'failed attempts', failed ? 'bad' : ''),
    tile('dead', 'Dead', num(total(queues, 'dead')), h('a', { href: '#/dead' }, 'dead letters →'),
      total(queues, 'dead') ? 'bad' : ''),
    tile('workers', 'Workers', workers === null ? '–' : num(workers.length),
      workers === null ? 'no workers endpoint' : h('a', { href: '#/workers' }, 'connected →')),
    tile('oldest', 'Oldest wait', oldest === null ? '–' : duration(oldest), 'oldest ready job',
      oldest !== null && oldest > 60_000 ? 'warn' : ''));
}

function charts() {
  const through = stats.throughputSeries();
  const latency = stats.latencySeries();
  const summary = stats.latencySummary();
  return h('section', { class: 'charts' },
    lineChart({
      title: 'Throughput (jobs / min)',
      rows: through,
      format: (v) => rate(v),
      series: [
        { key: 'ok', className: 'ok', area: true },
        { key: 'failed', className: 'bad', area: true },
      ],
      legend: [
        { className: 'ok', label: 'succeeded', value: rate(stats.perMinute('ok')) },
        { className: 'bad', label: 'failed', value: rate(stats.perMinute('failed')) },
      ],
    }),
    lineChart({
      title: 'Latency (p95)',
      rows: latency,
      format: (v) => duration(v),
      series: [
        { key: 'waitP95', className: 'wait' },
        { key: 'runP95', className: 'run' },
      ],
      legend: [
        { className: 'wait', label: 'wait p50/p95', value: `${duration(summary.waitP50)} / ${duration(summary.waitP95)}` },
        { className: 'run', label: 'run p50/p95', value: `${duration(summary.runP50)} / ${duration(summary.runP95)}` },
      ],
    }));
}

function cell(field, value, className) {
  return h('td', { class: `num ${className || ''}`, dataset: { field } }, value);
}

function queueRow(queue, now) {
  const wait = oldestWait(queue, now);
  const c = queue.counts;
  const limits = [
    queue.max_running ? `≤ ${queue.max_running} running` : null,
    queue.rate_limit ? `${queue.rate_limit.limit} / ${per(queue.rate_limit.period_ms)}` : null,
  ].filter(Boolean).join(' · ');
  return h('tr', { dataset: { queue: queue.name } },
    h('td', {}, h('a', { href: `#/jobs?queue=${encodeURIComponent(queue.name)}`, class: 'queue-name' }, queue.name),
      queue.paused ? h('span', { class: 'badge paused' }, 'paused') : null),
    cell('ready', num(c.ready || 0)),
    cell('scheduled', num(c.scheduled || 0)),
    cell('running', num(c.running || 0)),
    cell('ok-rate', rate(stats.perMinute('ok', queue.name)), 'ok-text'),
    cell('failed-rate', rate(stats.perMinute('failed', queue.name)), stats.perMinute('failed', queue.name) ? 'bad-text' : ''),
    cell('succeeded', num(c.succeeded || 0)),
    cell('dead', c.dead ? h('a', { href: `#/dead?queue=${encodeURIComponent(queue.name)}` }, num(c.dead)) : '0',
      c.dead ? 'bad-text' : ''),
    cell('oldest', wait === null ? '–' : duration(wait), wait !== null && wait > 60_000 ? 'warn-text' : ''),
    h('td', { class: 'muted small' }, limits || '—'));
}

function queueTable(queues, now) {
  if (!queues.length) {
    return empty('No queues yet', 'A queue appears when the first job is enqueued into it.');
  }
  return h('div', { class: 'card table-card' },
    h('table', { class: 'table', id: 'queue-table' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'Queue'), h('th', { class: 'num' }, 'Ready'), h('th', { class: 'num' }, 'Scheduled'),
        h('th', { class: 'num' }, 'Running'), h('th', { class: 'num' }, 'Succeeded/min'),
        h('th', { class: 'num' }, 'Failed/min'), h('th', { class: 'num' }, 'Succeeded'),
        h('th', { class: 'num' }, 'Dead'), h('th', { class: 'num' }, 'Oldest wait'), h('th', {}, 'Limits'))),
      h('tbody', {}, queues.map((q) => queueRow(q, now)))));
}

/** Renders the overview into `root`. */
export function render(root, { shared }) {
  const body = h('div', { class: 'overview' }, h('div', { class: 'loading' }, 'Loading…'));
  mount(root,
    h('header', { class: 'page-head' }, h('h1', {}, 'Overview'),
      h('span', { class: 'muted', id: 'updated' })),
    body);
  const refresh = () => {
    if (shared.error && !shared.loaded) {
      mount(body, empty('Cannot reach the API', shared.error.message));
      return;
    }
    const now = Date.now();
    mount(body, tiles(shared.queues, shared.workers, now), charts(),
      h('h2', {}, 'Queues'), queueTable(shared.queues, now));
    document.getElementById('updated').textContent = `updated ${new Date(now).toLocaleTimeString()}`;
  };
  // The charts move with time even when nothing happens.
  const timer = setInterval(() => shared.loaded && refresh(), 5000);
  return { refresh, dispose: () => clearInterval(timer) };
}
