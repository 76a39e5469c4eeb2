// Formatting of numbers, times and states, in one place so every page says things the same way.

export const STATES = ['scheduled', 'ready', 'running', 'succeeded', 'dead', 'cancelled', 'expired'];

/** 1234 → "1,234". */
export function num(n) {
  return n === undefined || n === null ? '–' : Number(n).toLocaleString('en-US');
}

/** A rate with at most one decimal: 12.34 → "12.3". */
export function rate(n) {
  if (!Number.isFinite(n)) return '–';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : (Math.round(n * 10) / 10).toString();
}

/** Milliseconds as a short duration: "850 ms", "4.2 s", "3m 05s", "2h 10m", "3d 4h". */
export function duration(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '–';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < 10_000) return `${(abs / 1000).toFixed(1)} s`;
  const s = Math.round(abs / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
}

/** A rate limit's period: "s", "min", "h", or a duration. */
export function per(periodMs) {
  return { 1000: 's', 60000: 'min', 3600000: 'h' }[periodMs] || duration(periodMs);
}

/** Milliseconds since the epoch of an RFC 3339 timestamp, or null. */
export function ms(ts) {
  if (!ts) return null;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? null : t;
}

/** "12 s ago" / "in 3m 05s". */
export function relative(ts, now = Date.now()) {
  const t = ms(ts);
  if (t === null) return '–';
  const diff = now - t;
  if (Math.abs(diff) < 1000) return 'now';
  return diff > 0 ? `${duration(diff)} ago` : `in ${duration(-diff)}`;
}

/** Local date and time with seconds: "2024-05-01 14:03:07". */
export function dateTime(ts) {
  const t = ms(ts);
  if (t === null) return '–';
  const d = new Date(t);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `
    + `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local time of day: "14:03:07". */
export function clock(t) {
  const d = new Date(t);
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The last 8 hex digits of a job id: enough to tell jobs apart on screen. (Ids are UUID v7,
 * whose first digits are the creation time and so the same for jobs made together.)
 */
export function shortId(id) {
  return id ? String(id).slice(-8) : '–';
}

/** Pretty JSON for people. */
export function json(value) {
  return JSON.stringify(value, null, 2);
}

/** Looks like a job id (UUID)? */
export function isUuid(text) {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text.trim());
}
