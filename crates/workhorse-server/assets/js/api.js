// The JSON API client: every call carries the signed-in token; a 401 opens the sign-in form.
// Errors are problem+json (RFC 9457), shown to people by their `detail`.

const TOKEN_KEY = 'workhorse.token';

/** An API answer that was not 2xx. */
export class ApiError extends Error {
  constructor(status, message, problem) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

let onUnauthorized = () => {};

/** Called with no argument whenever the server answers 401 (sign-in needed or token bad). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/** The token the user signed in with, or null. */
export function token() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Stores (or, with null, forgets) the token. */
export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

/** Calls the API; resolves with the parsed body (null when empty), throws ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const bearer = token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiError(0, `The server did not answer (${err.message}).`, null);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text };
    }
  }
  if (response.status === 401) onUnauthorized();
  if (!response.ok) {
    const detail = data && (data.detail || data.title);
    throw new ApiError(response.status, detail || `${method} ${path}: ${response.status}`, data);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => api('PATCH', path, body);

/** GET that answers `fallback` on 404 (an endpoint this server does not have yet). */
export async function getOptional(path, fallback) {
  try {
    return await get(path);
  } catch (err) {
    if (err.status === 404 || err.status === 405) return fallback;
    throw err;
  }
}

/** A query string from the non-empty entries of `params` ("" when none). */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * The event stream URL. EventSource cannot send headers, so the token travels as
 * `access_token` in the query (the server accepts it on this endpoint only).
 */
export function eventsUrl() {
  const bearer = token();
  return `/v1/events${bearer ? query({ access_token: bearer }) : ''}`;
}
