// Jobs: filter by queue, state and task; search by id or key; paged with the API's cursor.
// Filtered by queue or task, every unfinished job matching can be cancelled (POST /v1/jobs/cancel).

import { get, post, query } from '../api.js';
import { actionButton, h, mount, empty, toast } from '../dom.js';
import { STATES, dateTime, isUuid, num, relative, shortId } from '../format.js';
import { requestRefresh } from '../live.js';

const PAGE = 50;
/** The states a cancel takes jobs from. */
const CANCELLABLE = ['scheduled', 'ready', 'waiting', 'running'];

/** A state badge, the same everywhere. */
export function stateBadge(job) {
  const label = job.state === 'running' && job.cancel_requested ? 'cancelling' : job.state;
  return h('span', { class: `badge state-${job.state}`, dataset: { state: job.state } }, label);
}

function when(job) {
  if (job.finished_at) return ['finished', job.finished_at];
  if (job.started_at) return ['started', job.started_at];
  return [job.state === 'scheduled' ? 'runs' : 'ready', job.run_at];
}

/** The table of `jobs`; `extra` adds leading cells (checkboxes on the dead-letter page). */
export function jobTable(jobs, { extraHead, extraCell, trailing } = {}) {
  const rows = jobs.map((job) => {
    const [label, ts] = when(job);
    const open = () => { location.hash = `#/jobs/${job.id}`; };
    const lastError = job.errors.length ? job.errors[job.errors.length - 1] : null;
    return h('tr', { class: 'clickable', dataset: { job: job.id }, onclick: open },
      extraCell ? extraCell(job) : null,
      h('td', { class: 'mono' }, h('a', { href: `#/jobs/${job.id}`, title: job.id }, shortId(job.id))),
      h('td', {}, h('span', { class: 'task' }, job.task),
        lastError && job.state === 'dead' ? h('div', { class: 'error-line', title: lastError.message }, `${lastError.type}: ${lastError.message}`) : null),
      h('td', {}, job.queue),
      h('td', {}, stateBadge(job)),
      h('td', { class: 'num' }, `${job.attempt}/${job.max_attempts}`),
      h('td', { class: 'muted', title: dateTime(job.created_at) }, relative(job.created_at)),
      h('td', { class: 'muted', title: dateTime(ts) }, `${label} ${relative(ts)}`),
      trailing ? trailing(job) : null);
  });
  return h('table', { class: 'table', id: 'job-table' },
    h('thead', {}, h('tr', {}, extraHead || null, h('th', {}, 'Job'), h('th', {}, 'Task'), h('th', {}, 'Queue'),
      h('th', {}, 'State'), h('th', { class: 'num' }, 'Attempt'), h('th', {}, 'Created'), h('th', {}, 'When'),
      trailing ? h('th', {}) : null)),
    h('tbody', {}, rows));
}

function select(name, label, options, value) {
  return h('label', { class: 'field' }, h('span', {}, label),
    h('select', { name }, h('option', { value: '' }, 'all'),
      options.map((o) => h('option', { value: o, selected: o === value }, o))));
}

/** The filter bar; calls `apply(filters)` on change. */
export function filterBar(filters, queues, apply, { states = true, search = true } = {}) {
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); apply(read()); } },
    select('queue', 'Queue', queues.map((q) => q.name), filters.queue),
    states ? select('state', 'State', STATES, filters.state) : null,
    h('label', { class: 'field' }, h('span', {}, 'Task'),
      h('input', { name: 'task', value: filters.task || '', placeholder: 'any task' })),
    search ? h('label', { class: 'field grow' }, h('span', {}, 'Id or key'),
      h('input', { name: 'q', value: filters.q || '', placeholder: 'job id or unique key', type: 'search' })) : null,
    h('button', { type: 'submit', class: 'primary' }, 'Apply'));
  function read() {
    const data = new FormData(form);
    return Object.fromEntries([...data.entries()].map(([k, v]) => [k, String(v).trim()]));
  }
  form.addEventListener('change', (e) => { if (e.target.tagName === 'SELECT') apply(read()); });
  return form;
}

/** Pager buttons over a cursor stack. */
export function pager(state, load) {
  return h('div', { class: 'pager' },
    h('button', { type: 'button', disabled: state.stack.length === 0, dataset: { action: 'prev' },
      onclick: () => { state.cursor = state.stack.pop() ?? null; load(); } }, '← Newer'),
    h('span', { class: 'muted' }, `page ${state.stack.length + 1}`),
    h('button', { type: 'button', disabled: !state.next, dataset: { action: 'next' },
      onclick: () => { state.stack.push(state.cursor); state.cursor = state.next; load(); } }, 'Older →'));
}

export function filtersFrom(params) {
  return Object.fromEntries(['queue', 'state', 'task', 'q'].map((k) => [k, params.get(k) || '']));
}

export function setHash(path, filters) {
  location.hash = `#${path}${query(filters)}`;
}

function plural(n) {
  return `${num(n)} job${n === 1 ? '' : 's'}`;
}

/**
 * "Cancel matching": shown when the filter names a queue or a task (never every job) and a
 * state a cancel takes, or none. Two clicks: a bulk cancel is not something to do by accident.
 */
function cancelMatching(filters, done) {
  const actions = h('div', { class: 'bulk' });
  const shown = (filters.queue || filters.task) && !filters.q
    && (!filters.state || CANCELLABLE.includes(filters.state));
  let armedUntil = 0;
  function draw() {
    const armed = Date.now() < armedUntil;
    const label = armed ? 'Click again to cancel all matching' : 'Cancel matching';
    mount(actions, actionButton(label, { class: armed ? 'danger' : 'secondary', dataset: { action: 'cancel-matching' } }, async () => {
      if (Date.now() >= armedUntil) {
        armedUntil = Date.now() + 4000;
        setTimeout(() => { if (actions.isConnected) draw(); }, 4100);
        draw();
        return;
      }
      armedUntil = 0;
      const answer = await post('/v1/jobs/cancel', {
        queue: filters.queue || undefined, task: filters.task || undefined, state: filters.state || undefined });
      const told = answer.cancel_requested ? `; ${plural(answer.cancel_requested)} told to stop` : '';
      toast(`Cancelled ${plural(answer.cancelled)}${told}${answer.more ? '. More match: cancel again.' : '.'}`);
      draw();
      requestRefresh();
      await done();
    }));
  }
  if (shown) draw();
  return actions;
}

/** Renders the jobs page. */
export function render(root, { params, shared }) {
  const filters = filtersFrom(params);
  const page = { cursor: null, stack: [], next: null };
  const bar = h('div');
  const list = h('div', { class: 'card table-card' }, h('div', { class: 'loading' }, 'Loading…'));
  mount(root, h('header', { class: 'page-head' }, h('h1', {}, 'Jobs')), bar,
    cancelMatching(filters, () => load()), list);

  let drawn = null;
  const drawBar = () => mount(bar, filterBar(filters, shared.queues, (f) => setHash('/jobs', f)));
  async function load() {
    if (filters.q && isUuid(filters.q)) {
      location.hash = `#/jobs/${filters.q.trim()}`;
      return;
    }
    const request = { queue: filters.queue, state: filters.state, task: filters.task, key: filters.q,
      limit: PAGE, cursor: page.cursor };
    try {
      const answer = await get(`/v1/jobs${query(request)}`);
      page.next = answer.next_cursor || null;
      // Unchanged rows are not redrawn: a redraw under the pointer can swallow a click.
      const text = JSON.stringify([answer, page.stack.length]);
      if (text === drawn) return;
      drawn = text;
      mount(list, answer.jobs.length
        ? [jobTable(answer.jobs), pager(page, load)]
        : empty('No jobs match', filters.q ? `No job holds the key “${filters.q}”.` : 'Try other filters.'));
    } catch (err) {
      drawn = null;
      mount(list, empty('Could not list jobs', err.message));
    }
  }
  drawBar();
  load();
  let queueCount = shared.queues.length;
  return {
    // Only the first page follows live changes: a deeper page would shift under the reader.
    refresh: () => {
      if (shared.queues.length !== queueCount) { queueCount = shared.queues.length; drawBar(); }
      if (page.stack.length === 0) load();
    },
  };
}

