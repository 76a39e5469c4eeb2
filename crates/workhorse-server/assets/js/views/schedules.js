// Schedules: each one's timing, next and last fire, and pause / resume / trigger now.
// A server without the schedules API (404) shows an empty page, not an error.
// `GET /v1/schedules` answers `{"schedules": [{name, definition: {cron | every_ms | at,
// timezone, task, queue, ...}, paused, next_fire_at, last_fire_at, last_job}]}`.

import { getOptional, post } from '../api.js';
import { actionButton, empty, h, mount, toast } from '../dom.js';
import { dateTime, duration, relative } from '../format.js';
import { requestRefresh } from '../live.js';

const READ_MS = 5000;

/** "every 5 min" for round intervals, else "every 1m 30s". */
function every(ms) {
  for (const [unit, size] of [['h', 3_600_000], ['min', 60_000], ['s', 1000]]) {
    if (ms % size === 0) return `every ${ms / size} ${unit}`;
  }
  return `every ${duration(ms)}`;
}

/** The definition: `schedule.definition` (the PUT body) or, flat, the schedule itself. */
function definition(schedule) {
  return schedule.definition || schedule;
}

/** "0 8 * * * (Europe/Berlin)", "every 1m 00s", "once at …" from the fields the API has. */
function spec(schedule) {
  if (schedule.cron) return h('span', {}, h('code', {}, schedule.cron), schedule.timezone ? h('span', { class: 'muted small' }, ` ${schedule.timezone}`) : null);
  if (schedule.every_ms) return every(schedule.every_ms);
  if (schedule.at) return `once at ${dateTime(schedule.at)}`;
  const kind = schedule.spec || schedule.kind;
  return kind ? h('code', {}, typeof kind === 'string' ? kind : JSON.stringify(kind)) : '—';
}

function act(schedule, verb, label, cls, reload) {
  return actionButton(label, { class: `small ${cls}`, dataset: { action: verb } }, async () => {
    await post(`/v1/schedules/${encodeURIComponent(schedule.name)}/${verb}`);
    toast(`${schedule.name}: ${verb === 'trigger' ? 'fired now' : `${verb}d`}.`);
    requestRefresh();
    await reload();
  });
}

function row(schedule, reload) {
  const def = definition(schedule);
  return h('tr', { dataset: { schedule: schedule.name } },
    h('td', {}, h('b', {}, schedule.name)),
    h('td', {}, spec(def)),
    h('td', {}, def.task ? h('span', { class: 'task' }, def.task) : '—',
      h('div', { class: 'muted small' }, def.queue || 'default')),
    h('td', { title: dateTime(schedule.next_fire_at) }, schedule.paused ? h('span', { class: 'muted' }, 'paused') : relative(schedule.next_fire_at)),
    h('td', { title: dateTime(schedule.last_fire_at) }, schedule.last_fire_at ? relative(schedule.last_fire_at) : 'never',
      schedule.last_job ? h('div', {}, h('a', { href: `#/jobs/${schedule.last_job}`, class: 'small' }, 'last job →')) : null),
    h('td', {}, schedule.paused ? h('span', { class: 'badge paused' }, 'paused') : h('span', { class: 'badge active' }, 'active')),
    h('td', { class: 'row-actions' },
      schedule.paused ? act(schedule, 'resume', 'Resume', 'primary', reload) : act(schedule, 'pause', 'Pause', 'secondary', reload),
      act(schedule, 'trigger', 'Trigger now', '', reload)));
}

/** Renders the schedules page. */
export function render(root) {
  const body = h('div', { class: 'card table-card' }, h('div', { class: 'loading' }, 'Loading…'));
  mount(root, h('header', { class: 'page-head' }, h('h1', {}, 'Schedules'),
    h('span', { class: 'muted' }, 'Cron, interval and one-off schedules; each fire makes one job, once.')), body);
  async function reload() {
    try {
      const answer = await getOptional('/v1/schedules', { schedules: [] });
      const list = answer.schedules || [];
      mount(body, list.length
        ? h('table', { class: 'table', id: 'schedules' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Schedule'), h('th', {}, 'When'), h('th', {}, 'Task'),
            h('th', {}, 'Next fire'), h('th', {}, 'Last fire'), h('th', {}, 'Status'), h('th', {}))),
          h('tbody', {}, list.map((s) => row(s, reload))))
        : empty('No schedules', 'Declare one in code with @wh.cron(...), or with `workhorse schedules set`.'));
    } catch (err) {
      mount(body, empty('Could not list schedules', err.message));
    }
  }
  reload();
  const timer = setInterval(reload, READ_MS);
  return { dispose: () => clearInterval(timer) };
}
