// Workflow detail: every job of a chain, group or chord laid out by depth (a job sits one
// column right of its deepest parent), each with its state, linked to the job page; the
// workflow's state and result; a cancel button.

import { get, post } from '../api.js';
import { actionButton, empty, h, mount, toast } from '../dom.js';
import { dateTime, json } from '../format.js';
import { requestRefresh } from '../live.js';
import { stateBadge } from './jobs.js';

/** Columns of jobs: column k holds the jobs whose longest path from a root has k edges. */
function columns(jobs) {
  const byId = new Map(jobs.map((job) => [job.id, job]));
  const depth = new Map();
  const depthOf = (id) => {
    if (depth.has(id)) return depth.get(id);
    depth.set(id, 0); // a tree has no cycle; this only guards against a malformed answer
    const parents = byId.get(id)?.parents || [];
    const d = parents.length ? 1 + Math.max(...parents.map(depthOf)) : 0;
    depth.set(id, d);
    return d;
  };
  const cols = [];
  for (const job of jobs) {
    (cols[depthOf(job.id)] ||= []).push(job);
  }
  return cols;
}

/** One job (a job view with its `parents`). */
function node(job) {
  const { parents } = job;
  return h('a', { class: 'card pad wf-node', href: `#/jobs/${job.id}`, dataset: { job: job.id, state: job.state } },
    h('div', {}, h('span', { class: 'task' }, job.task), ' ', stateBadge(job)),
    h('div', { class: 'mono muted small' }, job.id.slice(0, 8)),
    parents.length ? h('div', { class: 'muted small' }, `after ${parents.length} job${parents.length > 1 ? 's' : ''}`) : null);
}

function graph(workflow) {
  return h('section', { class: 'wf-graph', id: 'workflow-graph' },
    columns(workflow.jobs).map((col, i) => h('div', { class: 'wf-column', dataset: { depth: i } }, col.map(node))));
}

function page(workflow, reload) {
  const unfinished = workflow.jobs.some((job) => ['waiting', 'scheduled', 'ready', 'running'].includes(job.state));
  const cancel = unfinished
    ? actionButton('Cancel workflow', { class: 'danger', dataset: { action: 'cancel-workflow' } }, async () => {
      await post(`/v1/workflows/${workflow.id}/cancel`);
      toast('Workflow cancelled: waiting jobs at once, running ones on their next heartbeat.');
      requestRefresh();
      await reload();
    }) : null;
  return [
    h('header', { class: 'page-head' },
      h('div', {}, h('a', { href: '#/jobs', class: 'muted small' }, '← Jobs'),
        h('h1', {}, 'Workflow ', h('span', { class: `badge state-${workflow.state}`, dataset: { field: 'workflow-state' } }, workflow.state)),
        h('div', { class: 'mono muted', id: 'workflow-id' }, workflow.id),
        h('div', { class: 'muted small' }, `${workflow.jobs.length} jobs · created ${dateTime(workflow.created_at)} · on parent failure: ${workflow.on_parent_failure}`)),
      h('div', { class: 'head-actions' }, cancel)),
    graph(workflow),
    workflow.result !== undefined && workflow.result !== null
      ? h('section', { class: 'card pad code-card' }, h('h3', {}, 'Result'), h('pre', { class: 'code' }, json(workflow.result)))
      : null,
  ];
}

/** Renders one workflow. */
export function render(root, { match }) {
  const id = match[1];
  let shown = null;
  let disposed = false;
  let jobIds = new Set();
  async function reload() {
    let view;
    try {
      const workflow = await get(`/v1/workflows/${id}`);
      jobIds = new Set(workflow.jobs.map((job) => job.id));
      const text = JSON.stringify(workflow);
      view = text === shown ? null : page(workflow, reload);
      shown = text;
    } catch (err) {
      shown = null;
      view = empty(err.status === 404 ? 'No such workflow' : 'Could not load the workflow', err.message);
    }
    if (!disposed && view) mount(root, view);
  }
  reload();
  return {
    onEvent: (event) => { if (jobIds.has(event.id)) reload(); },
    refresh: () => reload(),
    dispose: () => { disposed = true; },
  };
}
