// Workers: the WebSocket sessions connected now, their queues, credit, the jobs they hold,
// and how long ago each sent a heartbeat.

import { h, mount, empty } from '../dom.js';
import { duration, num, relative, shortId } from '../format.js';

const SHOWN_JOBS = 6;

function heartbeat(worker, readAt) {
  const age = worker.heartbeat_age_ms + (Date.now() - readAt);
  const tone = age > 60_000 ? 'bad-text' : age > 20_000 ? 'warn-text' : 'ok-text';
  return h('span', { class: tone, dataset: { field: 'heartbeat' } }, `${duration(age)} ago`);
}

function load(worker) {
  const used = worker.in_flight.length;
  const bar = h('div', { class: 'bar small' }, h('div', { class: 'fill' }));
  bar.firstChild.style.width = `${worker.credit ? Math.min(100, (used / worker.credit) * 100) : 0}%`;
  return h('div', { class: 'credit' }, h('span', {}, `${num(used)} / ${num(worker.credit)}`), bar);
}

function jobs(worker) {
  if (!worker.in_flight.length) return h('span', { class: 'muted' }, 'idle');
  const links = worker.in_flight.slice(0, SHOWN_JOBS).map((id) => h('a', { href: `#/jobs/${id}`, class: 'chip mono' }, shortId(id)));
  const more = worker.in_flight.length - SHOWN_JOBS;
  return h('div', { class: 'chips' }, links, more > 0 ? h('span', { class: 'muted small' }, `+${num(more)} more`) : null);
}

function table(workers, readAt) {
  return h('table', { class: 'table', id: 'workers' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Worker'), h('th', {}, 'Queues'), h('th', {}, 'Holding / credit'),
      h('th', {}, 'Jobs'), h('th', {}, 'Last heartbeat'), h('th', {}, 'Connected'))),
    h('tbody', {}, workers.map((w) => h('tr', { dataset: { worker: w.worker_id } },
      h('td', {}, h('b', {}, w.name), h('div', { class: 'mono muted small' }, w.worker_id)),
      h('td', {}, h('div', { class: 'chips' }, w.queues.map((q) => h('span', { class: 'chip' }, q)))),
      h('td', {}, load(w)),
      h('td', {}, jobs(w)),
      h('td', {}, heartbeat(w, readAt)),
      h('td', { class: 'muted' }, relative(w.connected_at))))));
}

/** Renders the workers page. */
export function render(root, { shared }) {
  const body = h('div', { class: 'card table-card' }, h('div', { class: 'loading' }, 'Loading…'));
  mount(root, h('header', { class: 'page-head' }, h('h1', {}, 'Workers'),
    h('span', { class: 'muted' }, 'Workers connected over WebSocket to this server. HTTP fetch clients hold no session.')), body);
  let readAt = Date.now();
  let last = null;
  const draw = () => {
    if (!shared.loaded) return;
    if (shared.workers === null) {
      mount(body, empty('No workers endpoint', 'This server does not list its workers.'));
    } else if (!shared.workers.length) {
      mount(body, empty('No workers connected', 'Start one with `workhorse worker app.tasks:wh`.'));
    } else {
      mount(body, table(shared.workers, readAt));
    }
  };
  // Heartbeat ages tick between reads.
  const timer = setInterval(draw, 1000);
  return {
    refresh: () => { if (shared.workers !== last) { last = shared.workers; readAt = Date.now(); } draw(); },
    dispose: () => clearInterval(timer),
  };
}
