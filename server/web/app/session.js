// Where the client keeps who it is signed in as.
//
// - The access token lives in memory only: a script that can read storage cannot take it.
// - The refresh token goes to localStorage when "remember this device" is ticked (it survives
//   closing the browser), else to sessionStorage (gone with the tab).
// - The device id is stable per browser in localStorage: the server binds refresh tokens to it,
//   so "sign out this device" means this browser.

const KEYS = {
  device: 'chemchat.deviceId',
  refresh: 'chemchat.refreshToken',
  tenant: 'chemchat.tenant',
  user: 'chemchat.userId',
};

let accessToken = null;

export const DEFAULT_TENANT = 'default';

export function deviceId() {
  let id = localStorage.getItem(KEYS.device);
  if (!id) {
    id = `web-${crypto.randomUUID()}`;
    localStorage.setItem(KEYS.device, id);
  }
  return id;
}

export function tenant() {
  return localStorage.getItem(KEYS.tenant) || sessionStorage.getItem(KEYS.tenant) || DEFAULT_TENANT;
}

export function getAccessToken() {
  return accessToken;
}

export function setAccessToken(token) {
  accessToken = token || null;
}

/** The refresh token from whichever storage holds it. */
export function getRefreshToken() {
  return localStorage.getItem(KEYS.refresh) || sessionStorage.getItem(KEYS.refresh);
}

/** Whether the session was kept in localStorage ("remember this device"). */
export function isRemembered() {
  return localStorage.getItem(KEYS.refresh) !== null;
}

/** Stores a signed-in session. `remember` picks the storage; the other one is cleared. */
export function saveSession({ refreshToken, tenantId, userId, remember }) {
  const keep = remember ? localStorage : sessionStorage;
  const drop = remember ? sessionStorage : localStorage;
  drop.removeItem(KEYS.refresh);
  keep.setItem(KEYS.refresh, refreshToken);
  if (tenantId) {
    drop.removeItem(KEYS.tenant);
    keep.setItem(KEYS.tenant, tenantId);
  }
  if (userId) keep.setItem(KEYS.user, userId);
}

/** Keeps a rotated refresh token where the old one was. */
export function rotateRefreshToken(refreshToken) {
  const store = isRemembered() ? localStorage : sessionStorage;
  store.setItem(KEYS.refresh, refreshToken);
}

export function userId() {
  return localStorage.getItem(KEYS.user) || sessionStorage.getItem(KEYS.user);
}

export function clearSession() {
  accessToken = null;
  for (const store of [localStorage, sessionStorage]) {
    store.removeItem(KEYS.refresh);
    store.removeItem(KEYS.user);
    // The cached conversation list is this person's; the next one to sign in here must not see it.
    for (const key of Object.keys(store)) if (key.startsWith('chemchat.cache.')) store.removeItem(key);
  }
}

export function hasSession() {
  return Boolean(getRefreshToken());
}
