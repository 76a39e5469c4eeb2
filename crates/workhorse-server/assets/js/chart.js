// Line charts drawn as inline SVG: no library, crisp at any size, styled by app.css.

import { h, svg } from './dom.js';

const W = 560;
const H = 200;
const PAD = { top: 12, right: 12, bottom: 22, left: 46 };

/** A "nice" upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  // Quarters of these are round too: the grid has four steps.
  for (const step of [1, 2, 4, 6, 8, 10]) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

function path(points) {
  let d = '';
  let pen = false;
  for (const [x, y] of points) {
    if (y === null) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  }
  return d;
}

function grid(yMax, format, plotW, plotH) {
  const out = [];
  for (let i = 0; i <= 4; i += 1) {
    const y = PAD.top + plotH - (plotH * i) / 4;
    out.push(svg('line', { x1: PAD.left, x2: PAD.left + plotW, y1: y, y2: y, class: 'grid' }));
    out.push(svg('text', { x: PAD.left - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' },
      format((yMax * i) / 4)));
  }
  return out;
}

function timeAxis(t0, t1, plotW, plotH) {
  const out = [];
  const span = t1 - t0;
  for (let minutes = 10; minutes >= 0; minutes -= 2) {
    const t = t1 - minutes * 60_000;
    if (t < t0) continue;
    const x = PAD.left + ((t - t0) / span) * plotW;
    const label = minutes === 0 ? 'now' : `−${minutes}m`;
    out.push(svg('text', { x, y: PAD.top + plotH + 16, class: 'axis', 'text-anchor': 'middle' }, label));
  }
  return out;
}

/**
 * A chart of `series` ([{name, key, className}]) over `rows` ([{t, [key]: number|null}]).
 * `format` labels the y axis; the legend shows each series' `current` text.
 */
export function lineChart({ rows, series, format, title, legend }) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const t0 = rows.length ? rows[0].t : 0;
  const t1 = rows.length ? rows[rows.length - 1].t : 1;
  const span = Math.max(1, t1 - t0);
  const values = rows.flatMap((row) => series.map((s) => row[s.key])).filter((v) => v !== null);
  const yMax = niceMax(Math.max(0, ...values));
  const x = (t) => PAD.left + ((t - t0) / span) * plotW;
  const y = (v) => (v === null ? null : PAD.top + plotH - (v / yMax) * plotH);

  const lines = series.map((s) => {
    const points = rows.map((row) => [x(row.t), y(row[s.key])]);
    const line = svg('path', { d: path(points), class: `line ${s.className}` });
    if (!s.area) return line;
    const first = points.find((p) => p[1] !== null);
    const last = [...points].reverse().find((p) => p[1] !== null);
    const base = PAD.top + plotH;
    const area = first
      ? svg('path', { d: `${path(points)}L${last[0]},${base}L${first[0]},${base}Z`, class: `area ${s.className}` })
      : null;
    return [area, line];
  });

  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title },
    grid(yMax, format, plotW, plotH), timeAxis(t0, t1, plotW, plotH), lines);
  return h('div', { class: 'chart-card card' },
    h('div', { class: 'chart-head' },
      h('h3', {}, title),
      h('div', { class: 'legend' }, legend.map((item) => h('span', { class: `key ${item.className}` },
        h('i'), item.label, h('b', {}, item.value))))),
    chart);
}
