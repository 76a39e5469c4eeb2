// Dead letters: jobs that used up their attempts, with their last error. Redrive one, the
// selected ones, or every dead job matching the filter (POST /v1/jobs/redrive).

import { get, post, query } from '../api.js';
import { actionButton, empty, h, mount, toast } from '../dom.js';
import { num } from '../format.js';
import { requestRefresh } from '../live.js';
import { filterBar, filtersFrom, jobTable, pager, setHash } from './jobs.js';

const PAGE = 50;

function plural(n) {
  return `${num(n)} job${n === 1 ? '' : 's'}`;
}

/** Renders the dead-letter page. */
export function render(root, { params, shared }) {
  const filters = filtersFrom(params);
  const page = { cursor: null, stack: [], next: null };
  const selected = new Set();
  const bar = h('div');
  const actions = h('div', { class: 'bulk' });
  const list = h('div', { class: 'card table-card' }, h('div', { class: 'loading' }, 'Loading…'));
  mount(root, h('header', { class: 'page-head' }, h('h1', {}, 'Dead letters'),
    h('span', { class: 'muted' }, 'Jobs that failed their last attempt. Redriving runs them again from attempt 1.')),
  bar, actions, list);

  async function redrive(body, what) {
    const answer = await post('/v1/jobs/redrive', body);
    toast(`Redrove ${plural(answer.count)}${what ? ` (${what})` : ''}.`);
    for (const job of answer.jobs) selected.delete(job.id);
    requestRefresh();
    await load();
  }

  function matching() {
    const queue = shared.queues.find((q) => q.name === filters.queue);
    if (filters.task) return null;
    if (filters.queue) return queue ? queue.counts.dead || 0 : 0;
    return shared.queues.reduce((n, q) => n + (q.counts.dead || 0), 0);
  }

  let armedUntil = 0;
  let drawn = null;

  let actionsDrawn = null;

  function drawActions() {
    const count = matching();
    const armed = Date.now() < armedUntil;
    const key = JSON.stringify([count, armed, selected.size]);
    if (key === actionsDrawn && actions.firstChild) return;
    actionsDrawn = key;
    const label = armed ? 'Click again to redrive all matching'
      : count === null ? 'Redrive all matching' : `Redrive all matching (${num(count)})`;
    const all = actionButton(label, { class: armed ? 'danger' : 'secondary', dataset: { action: 'redrive-all' } }, async () => {
      // Two clicks: a bulk redrive is not something to do by accident.
      if (Date.now() >= armedUntil) {
        armedUntil = Date.now() + 4000;
        setTimeout(() => { if (actions.isConnected) drawActions(); }, 4100);
        drawActions();
        return;
      }
      armedUntil = 0;
      await redrive({ queue: filters.queue || undefined, task: filters.task || undefined, state: 'dead' }, 'all matching');
    });
    mount(actions,
      actionButton(`Redrive selected (${selected.size})`, { class: 'primary', disabled: selected.size === 0, dataset: { action: 'redrive-selected' } },
        () => redrive({ ids: [...selected] }, 'selected')),
      all);
  }

  function checkbox(job) {
    const box = h('input', { type: 'checkbox', checked: selected.has(job.id), dataset: { select: job.id },
      onclick: (e) => e.stopPropagation(),
      onchange: (e) => { if (e.target.checked) selected.add(job.id); else selected.delete(job.id); drawActions(); } });
    return h('td', { class: 'check' }, box);
  }

  function redriveOne(job) {
    return h('td', { class: 'row-actions' }, actionButton('Redrive', { class: 'small', dataset: { action: 'redrive', id: job.id } },
      () => redrive({ ids: [job.id] })));
  }

  async function load() {
    const request = { state: 'dead', queue: filters.queue, task: filters.task, limit: PAGE, cursor: page.cursor };
    try {
      const answer = await get(`/v1/jobs${query(request)}`);
      page.next = answer.next_cursor || null;
      // Unchanged rows are not redrawn: a redraw under the pointer can swallow a click.
      const text = JSON.stringify([answer, page.stack.length, [...selected]]);
      if (text === drawn) {
        drawActions();
        return;
      }
      drawn = text;
      const selectAll = h('input', { type: 'checkbox', title: 'Select this page',
        onchange: (e) => { for (const job of answer.jobs) { if (e.target.checked) selected.add(job.id); else selected.delete(job.id); } load(); drawActions(); } });
      mount(list, answer.jobs.length
        ? [jobTable(answer.jobs, { extraHead: h('th', { class: 'check' }, selectAll), extraCell: checkbox, trailing: redriveOne }), pager(page, load)]
        : empty('No dead letters', 'Every job either succeeded or still has attempts left.'));
    } catch (err) {
      drawn = null;
      mount(list, empty('Could not list dead letters', err.message));
    }
    drawActions();
  }

  mount(bar, filterBar(filters, shared.queues, (f) => setHash('/dead', f), { states: false, search: false }));
  load();
  return { refresh: () => { if (page.stack.length === 0) load(); } };
}
