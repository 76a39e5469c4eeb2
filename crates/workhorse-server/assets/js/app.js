// The dashboard's entry point: routing by URL fragment (#/jobs, #/jobs/<id>, ...), sign-in,
// the data every page shares (queues, workers), and dispatch of live signals to the page shown.

import { get, getOptional, setToken, setUnauthorizedHandler, token } from './api.js';
import { h, mount, toast } from './dom.js';
import { num } from './format.js';
import { liveMode, requestRefresh, startLive, subscribe } from './live.js';
import * as stats from './stats.js';
import * as overview from './views/overview.js';
import * as jobs from './views/jobs.js';
import * as job from './views/job.js';
import * as dead from './views/dead.js';
import * as queues from './views/queues.js';
import * as workers from './views/workers.js';
import * as schedules from './views/schedules.js';
import * as workflow from './views/workflow.js';

/** What several pages show, read once per refresh. */
export const shared = { queues: [], workers: null, loaded: false, error: null };

const routes = [
  { pattern: /^\/$/, nav: 'overview', view: overview },
  { pattern: /^\/jobs\/([0-9a-fA-F-]{36})$/, nav: 'jobs', view: job },
  { pattern: /^\/jobs$/, nav: 'jobs', view: jobs },
  { pattern: /^\/dead$/, nav: 'dead', view: dead },
  { pattern: /^\/queues$/, nav: 'queues', view: queues },
  { pattern: /^\/workers$/, nav: 'workers', view: workers },
  { pattern: /^\/schedules$/, nav: 'schedules', view: schedules },
  { pattern: /^\/workflows\/([0-9a-fA-F-]{36})$/, nav: 'jobs', view: workflow },
];

let current = null;
let latencyReadAt = 0;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = raw.split('?');
  return { path: path || '/', params: new URLSearchParams(search) };
}

function navigate() {
  const { path, params } = parseHash();
  const route = routes.find((r) => r.pattern.test(path));
  if (current && current.dispose) current.dispose();
  const root = document.getElementById('view');
  mount(root);
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('active', route && link.dataset.nav === route.nav);
  }
  if (!route) {
    mount(root, h('div', { class: 'empty' }, h('strong', {}, 'No such page'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview'))));
    current = null;
    return;
  }
  const match = path.match(route.pattern);
  current = route.view.render(root, { params, match, shared }) || {};
  if (shared.loaded && current.refresh) current.refresh();
}

function updateNav() {
  const deadCount = shared.queues.reduce((n, q) => n + (q.counts.dead || 0), 0);
  document.getElementById('nav-dead').textContent = deadCount ? num(deadCount) : '';
  const workerCount = shared.workers ? shared.workers.length : null;
  document.getElementById('nav-workers').textContent = workerCount === null ? '' : num(workerCount);
}

let refreshing = null;
let again = false;

/** Re-reads the shared data, then lets the page shown re-read its own; never two at once. */
async function refresh() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = readShared();
  await refreshing;
  refreshing = null;
  if (again) {
    again = false;
    refresh();
  }
}

async function readShared() {
  try {
    const [queueList, workerList] = await Promise.all([
      get('/v1/queues'),
      getOptional('/v1/workers', null),
    ]);
    shared.queues = queueList.queues;
    shared.workers = workerList ? workerList.workers : null;
    shared.loaded = true;
    shared.error = null;
    stats.recordCounts(shared.queues, liveMode() !== 'live');
    if (Date.now() - latencyReadAt > 2000) {
      latencyReadAt = Date.now();
      await stats.sampleLatency();
    }
  } catch (err) {
    shared.error = err;
    if (err.status === 401) return;
  }
  updateNav();
  if (current && current.refresh) current.refresh();
}

function showLogin(message) {
  const dialog = document.getElementById('login');
  document.getElementById('login-error').textContent = message || '';
  if (!dialog.open) dialog.showModal();
  document.getElementById('login-token').focus();
}

function setUpLogin() {
  setUnauthorizedHandler(() => showLogin(token() ? 'That token was refused. Try another.' : ''));
  document.getElementById('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = document.getElementById('login-token');
    setToken(input.value.trim());
    try {
      await get('/v1/queues');
    } catch (err) {
      if (err.status !== 401) toast(err.message, 'error');
      return;
    }
    input.value = '';
    document.getElementById('login').close();
    document.getElementById('sign-out').hidden = false;
    startLive();
    navigate();
  });
  const signOut = document.getElementById('sign-out');
  signOut.hidden = !token();
  signOut.addEventListener('click', () => {
    setToken(null);
    signOut.hidden = true;
    location.reload();
  });
}

subscribe((kind, payload) => {
  if (kind === 'event') {
    stats.recordEvent(payload);
    if (current && current.onEvent) current.onEvent(payload);
  } else if (kind === 'refresh') {
    refresh();
  }
});

// Kept for people and tests to inspect (`window.workhorseErrors`): a dashboard that fails
// quietly is worse than one that says so.
window.workhorseErrors = [];
window.addEventListener('error', (e) => window.workhorseErrors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.workhorseErrors.push(String(e.reason && e.reason.message || e.reason)));

setUpLogin();
window.addEventListener('hashchange', navigate);
navigate();
startLive();
requestRefresh();
