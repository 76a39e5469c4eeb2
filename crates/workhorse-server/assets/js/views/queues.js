// Queues: pause and resume, the most jobs running at once, and the rate limit
// (PATCH /v1/queues/{name}; `null` clears a limit).

import { patch } from '../api.js';
import { actionButton, empty, h, mount, toast } from '../dom.js';
import { duration, num } from '../format.js';
import { requestRefresh } from '../live.js';

const PERIODS = [['1000', 'second'], ['60000', 'minute'], ['3600000', 'hour']];

async function update(queue, body, message) {
  await patch(`/v1/queues/${encodeURIComponent(queue.name)}`, body);
  toast(message);
  requestRefresh();
}

function pauseButton(queue) {
  return queue.paused
    ? actionButton('Resume', { class: 'primary small', dataset: { action: 'resume' } },
      () => update(queue, { paused: false }, `${queue.name} resumed.`))
    : actionButton('Pause', { class: 'secondary small', dataset: { action: 'pause' } },
      () => update(queue, { paused: true }, `${queue.name} paused: running jobs finish, no new ones start.`));
}

function maxRunningForm(queue) {
  const input = h('input', { type: 'number', min: 1, step: 1, name: 'max_running', value: queue.max_running ?? '', placeholder: 'no limit', class: 'narrow' });
  const save = actionButton('Set', { class: 'small', dataset: { action: 'set-max-running' } }, () => {
    const value = input.value.trim();
    return update(queue, { max_running: value === '' ? null : Number(value) },
      value === '' ? `${queue.name}: no running limit.` : `${queue.name}: at most ${value} running.`);
  });
  return h('div', { class: 'inline-form' }, input, save);
}

function rateForm(queue) {
  const current = queue.rate_limit;
  const limit = h('input', { type: 'number', min: 1, step: 1, name: 'rate_limit', value: current ? current.limit : '', placeholder: 'no limit', class: 'narrow' });
  const periodValue = current ? String(current.period_ms) : '1000';
  const known = PERIODS.some(([v]) => v === periodValue);
  const period = h('select', { name: 'period' },
    known ? null : h('option', { value: periodValue, selected: true }, `per ${duration(Number(periodValue))}`),
    PERIODS.map(([v, label]) => h('option', { value: v, selected: v === periodValue }, `per ${label}`)));
  const save = actionButton('Set', { class: 'small', dataset: { action: 'set-rate' } }, () => {
    const n = limit.value.trim();
    const body = n === '' ? { rate_limit: null } : { rate_limit: { limit: Number(n), period_ms: Number(period.value) } };
    return update(queue, body, n === '' ? `${queue.name}: no rate limit.` : `${queue.name}: at most ${n} starts per ${period.selectedOptions[0].textContent.replace('per ', '')}.`);
  });
  return h('div', { class: 'inline-form' }, limit, period, save);
}

function row(queue) {
  const c = queue.counts;
  return h('tr', { dataset: { queue: queue.name } },
    h('td', {}, h('a', { href: `#/jobs?queue=${encodeURIComponent(queue.name)}`, class: 'queue-name' }, queue.name)),
    h('td', {}, queue.paused ? h('span', { class: 'badge paused', dataset: { field: 'status' } }, 'paused')
      : h('span', { class: 'badge active', dataset: { field: 'status' } }, 'active')),
    h('td', { class: 'num' }, num(c.ready || 0)),
    h('td', { class: 'num' }, num(c.running || 0)),
    h('td', { class: 'num' }, num(c.scheduled || 0)),
    h('td', { class: 'num' }, num(c.dead || 0)),
    h('td', {}, maxRunningForm(queue)),
    h('td', {}, rateForm(queue)),
    h('td', { class: 'row-actions' }, pauseButton(queue)));
}

/** Renders the queues page. */
export function render(root, { shared }) {
  const body = h('div', { class: 'card table-card' }, h('div', { class: 'loading' }, 'Loading…'));
  mount(root, h('header', { class: 'page-head' }, h('h1', {}, 'Queues'),
    h('span', { class: 'muted' }, 'A paused queue keeps its jobs; running jobs finish, new ones wait.')), body);
  let drawn = null;
  const refresh = () => {
    // Forms are not redrawn while someone types in them.
    if (body.contains(document.activeElement) && document.activeElement.tagName !== 'BUTTON') return;
    const text = JSON.stringify(shared.queues);
    if (text === drawn) return;
    drawn = text;
    mount(body, shared.queues.length
      ? h('table', { class: 'table', id: 'queues' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Queue'), h('th', {}, 'Status'), h('th', { class: 'num' }, 'Ready'),
          h('th', { class: 'num' }, 'Running'), h('th', { class: 'num' }, 'Scheduled'), h('th', { class: 'num' }, 'Dead'),
          h('th', {}, 'Max running'), h('th', {}, 'Rate limit'), h('th', {}))),
        h('tbody', {}, shared.queues.map(row)))
      : empty('No queues yet', 'A queue appears when the first job is enqueued into it.'));
  };
  return { refresh };
}
