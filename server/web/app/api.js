// The REST API (`/api/v1`): JSON in and out, the tenant header, the bearer token with one
// refresh on expiry, and the API's single error shape turned into ApiError.
import * as session from './session.js';

const BASE = '/api/v1';

/** A failed request: `status`, the API's stable `code`, `message`, `field`, `retryAfter` (s). */
export class ApiError extends Error {
  constructor(status, body = {}, retryAfter = null) {
    const error = body.error || {};
    super(error.message || (status === 0 ? 'The server cannot be reached.' : `Request failed (${status})`));
    this.status = status;
    this.code = error.code || (status === 0 ? 'network' : 'unknown');
    this.field = error.field || null;
    this.requestId = error.requestId || null;
    this.retryAfter = retryAfter;
  }

  /** Worth trying again later unchanged (offline, rate limited, server busy). */
  get retryable() {
    return this.status === 0 || this.status === 429 || this.status === 503 || this.status >= 500;
  }

  /** A sentence for people, with the wait when the server asked for one. */
  get friendly() {
    if (this.status === 0) return 'You are offline or the server cannot be reached.';
    if (this.status === 429 && this.retryAfter) {
      return `Too many attempts — please wait ${formatWait(this.retryAfter)} and try again.`;
    }
    return this.message;
  }
}

function formatWait(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.ceil(minutes / 60)} h`;
}

let onSignedOut = () => {};
/** Called when the session cannot be renewed: the app goes back to the sign-in screen. */
export function setSignedOutHandler(handler) {
  onSignedOut = handler;
}

function headers(extra = {}, tenantId = session.tenant()) {
  const out = { 'X-Tenant-ID': tenantId, ...extra };
  const token = session.getAccessToken();
  if (token && !out.Authorization) out.Authorization = `Bearer ${token}`;
  return out;
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('json')) return response.json();
  return response.text();
}

function retryAfterOf(response) {
  const value = Number(response.headers.get('Retry-After'));
  return Number.isFinite(value) && value > 0 ? value : null;
}

/**
 * One request. `auth: false` for the sign-in routes; `tenant` overrides the stored tenant (the
 * emailed links carry theirs). On 401 with a session, the token is refreshed once and the
 * request repeated; a second 401 ends the session.
 */
export async function request(method, path, { body, query, auth = true, tenant, raw = false } = {}) {
  let url = BASE + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, v);
    const text = params.toString();
    if (text) url += `?${text}`;
  }
  if (auth && !session.getAccessToken() && session.hasSession()) await refresh();
  const send = () => {
    const extra = body !== undefined ? { 'Content-Type': 'application/json' } : {};
    return fetch(url, {
      method,
      headers: auth ? headers(extra, tenant) : { 'X-Tenant-ID': tenant || session.tenant(), ...extra },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      cache: 'no-store',
    });
  };
  let response;
  try {
    response = await send();
    if (response.status === 401 && auth && session.hasSession()) {
      await refresh();
      response = await send();
      if (response.status === 401) {
        signOutLocally();
      }
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(0);
  }
  if (!response.ok) {
    let payload = {};
    try { payload = await response.json(); } catch { /* not JSON: keep the status */ }
    throw new ApiError(response.status, payload, retryAfterOf(response));
  }
  return raw ? response : parse(response);
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, body, options = {}) => request('POST', path, { ...options, body });
export const put = (path, body, options = {}) => request('PUT', path, { ...options, body });
export const patch = (path, body, options = {}) => request('PATCH', path, { ...options, body });
export const del = (path, body, options = {}) => request('DELETE', path, { ...options, body });

let refreshing = null;

/**
 * Trades the refresh token for new tokens. One refresh at a time in this tab, and across tabs
 * through a Web Lock: refresh tokens rotate and a reused one revokes the whole family, so two
 * tabs must never send the same one.
 */
export function refresh() {
  if (!refreshing) {
    const run = async () => {
      const token = session.getRefreshToken();
      if (!token) throw new ApiError(401, { error: { code: 'unauthenticated', message: 'Signed out.' } });
      let response;
      try {
        response = await fetch(`${BASE}/auth/refresh`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Tenant-ID': session.tenant() },
          body: JSON.stringify({ refreshToken: token }),
          cache: 'no-store',
        });
      } catch {
        throw new ApiError(0);
      }
      if (!response.ok) {
        let payload = {};
        try { payload = await response.json(); } catch { /* keep the status */ }
        const error = new ApiError(response.status, payload, retryAfterOf(response));
        if (response.status === 401 || response.status === 403) signOutLocally();
        throw error;
      }
      const tokens = await response.json();
      session.setAccessToken(tokens.accessToken);
      session.rotateRefreshToken(tokens.refreshToken);
      return tokens;
    };
    const locked = navigator.locks ? () => navigator.locks.request('chemchat-refresh', run) : run;
    refreshing = locked().finally(() => { refreshing = null; });
  }
  return refreshing;
}

function signOutLocally() {
  session.clearSession();
  onSignedOut();
}

/** Signs in; answers the token body (with `user`). Throws ApiError `mfa_required` for step two. */
export async function login({ login, password, mfaToken, tenantId, remember }) {
  const tokens = await request('POST', '/auth/login', {
    auth: false,
    tenant: tenantId,
    body: { username: login, password, mfaToken: mfaToken || undefined, deviceId: session.deviceId() },
  });
  session.setAccessToken(tokens.accessToken);
  session.saveSession({ refreshToken: tokens.refreshToken, tenantId, userId: tokens.user?.id, remember });
  return tokens;
}

export async function logout(allDevices = false) {
  try {
    await post('/auth/logout', allDevices ? { allDevices: true } : undefined);
  } finally {
    session.clearSession();
  }
}

/**
 * Uploads a file (multipart, field `file`) with progress: fetch cannot report upload progress,
 * XMLHttpRequest can. Answers the media item; `signal` aborts.
 */
export async function upload(file, { onProgress, signal } = {}) {
  if (!session.getAccessToken()) await refresh();
  const attempt = () => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${BASE}/media/upload`);
    xhr.setRequestHeader('X-Tenant-ID', session.tenant());
    xhr.setRequestHeader('Authorization', `Bearer ${session.getAccessToken()}`);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else {
        const retry = Number(xhr.getResponseHeader('Retry-After')) || null;
        reject(new ApiError(xhr.status, xhr.response || {}, retry));
      }
    };
    xhr.onerror = () => reject(new ApiError(0));
    xhr.onabort = () => reject(new ApiError(0, { error: { code: 'aborted', message: 'Upload cancelled.' } }));
    signal?.addEventListener('abort', () => xhr.abort());
    const form = new FormData();
    form.append('file', file, file.name || 'file');
    xhr.send(form);
  });
  try {
    return await attempt();
  } catch (error) {
    if (error.status !== 401) throw error;
    await refresh();
    return attempt();
  }
}

/**
 * A media item's bytes as an object URL (thumbnails, avatars): `<img src>` cannot send the
 * bearer token, and blob: URLs are allowed by the page's CSP. Cached per id and variant.
 * An item still in the image pipeline (`pending`) is polled through its metadata until it is
 * ready, rather than answered 409 by the download route again and again.
 */
const blobCache = new Map();
export function mediaBlobUrl(id, variant, { pending = false } = {}) {
  const key = `${id}:${variant || 'original'}`;
  if (!blobCache.has(key)) {
    const load = async () => {
      if (pending) await waitUntilReady(id);
      const response = await request('GET', `/media/${encodeURIComponent(id)}/download`, {
        query: { variant }, raw: true,
      });
      return URL.createObjectURL(await response.blob());
    };
    const promise = load();
    promise.catch(() => blobCache.delete(key));
    blobCache.set(key, promise);
  }
  return blobCache.get(key);
}

/** Waits (up to about 30 s) for an uploaded item to leave `pending`; answers its metadata. */
export async function waitUntilReady(id) {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const item = await get(`/media/${encodeURIComponent(id)}`);
    if (item.status === 'ready') return item;
    if (item.status === 'failed') throw new ApiError(422, { error: { code: 'media_failed', message: item.failure || 'The file could not be processed.' } });
    await new Promise((r) => setTimeout(r, Math.min(250 * (attempt + 1), 1500)));
  }
  throw new ApiError(503, { error: { code: 'media_not_ready', message: 'The file is still being processed.' } });
}
