// The JSON WebSocket protocol (`/api/v1/ws`, docs/realtime.md): one envelope per text frame,
// answers matched by `ackId`, a heartbeat so presence stays true, and reconnection with
// exponential back-off. After every (re)connection the app calls `sync` for what it missed,
// so a dropped connection loses nothing.
import * as session from './session.js';
import { refresh, ApiError } from './api.js';

const HEARTBEAT_MS = 25_000; // the server times a socket out after 60 s without a ping
const ACK_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 15_000; // a restarted server is found again within seconds, not half a minute

/** A failed acknowledgement, shaped like ApiError so callers handle both alike. */
export class SocketError extends Error {
  constructor(error = {}) {
    super(error.message || 'The connection was lost.');
    this.code = error.code || 'network';
    this.field = error.field || null;
    this.retryAfter = error.retryAfterMs ? Math.ceil(error.retryAfterMs / 1000) : null;
    this.status = this.code === 'network' ? 0 : 400;
  }

  get retryable() {
    return ['network', 'rate_limited', 'slow_mode', 'busy', 'unavailable', 'internal'].includes(this.code);
  }
}

export class Socket {
  constructor() {
    this.ws = null;
    this.listeners = new Map();
    this.pending = new Map();
    this.nextAckId = 1;
    this.attempt = 0;
    this.connected = false;
    this.stopped = true;
    this.retryTimer = null;
    this.heartbeat = null;
    this.nextRetryAt = null;
    window.addEventListener('online', () => this.retryNow());
  }

  on(event, handler) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(handler);
    return () => this.listeners.get(event).delete(handler);
  }

  dispatch(event, data) {
    for (const handler of this.listeners.get(event) || []) {
      try { handler(data); } catch (error) { console.warn(`handler of ${event} failed`, error); }
    }
    for (const handler of this.listeners.get('*') || []) {
      try { handler(event, data); } catch (error) { console.warn('event handler failed', error); }
    }
  }

  start() {
    this.stopped = false;
    this.open();
  }

  /** Closes for good (sign-out). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.teardown();
    this.ws?.close(1000, 'signed out');
    this.ws = null;
  }

  /** Skips the back-off wait (the browser came back online, the user pressed "retry"). */
  retryNow() {
    if (this.stopped || this.connected || (this.ws && this.ws.readyState === WebSocket.CONNECTING)) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  async open() {
    if (this.stopped) return;
    this.nextRetryAt = null;
    try {
      if (!session.getAccessToken()) await refresh();
    } catch (error) {
      // Offline: try again later. Signed out: the API module has already left the app.
      if (error instanceof ApiError && error.status === 0) this.scheduleRetry();
      return;
    }
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const params = new URLSearchParams({ token: session.getAccessToken(), tenant: session.tenant() });
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws?${params}`);
    this.ws = ws;
    ws.onmessage = (frame) => this.receive(frame.data);
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.onClosed(event.code);
    };
    ws.onerror = () => { /* onclose follows with the code */ };
  }

  receive(text) {
    let envelope;
    try { envelope = JSON.parse(text); } catch { return; }
    const { event, data } = envelope;
    if (event === 'ack') {
      const waiter = this.pending.get(data.ackId);
      if (!waiter) return;
      this.pending.delete(data.ackId);
      clearTimeout(waiter.timer);
      if (data.ok) waiter.resolve(data.result);
      else waiter.reject(new SocketError(data.error));
      return;
    }
    if (event === 'authenticated') {
      this.connected = true;
      this.attempt = 0;
      this.startHeartbeat();
      this.dispatch('state', { connected: true });
      this.dispatch('open', data);
      return;
    }
    if (event === 'reconnect') {
      // The instance is draining: come back after the delay it asks for.
      this.ws?.close(1000, 'reconnect requested');
      this.scheduleRetry(data?.afterMs ?? 1000);
      return;
    }
    this.dispatch(event, data);
  }

  /** Sends an event and answers its acknowledgement's result (rejects with SocketError). */
  emit(event, data = {}) {
    return new Promise((resolve, reject) => {
      if (!this.connected || this.ws?.readyState !== WebSocket.OPEN) {
        reject(new SocketError());
        return;
      }
      const ackId = this.nextAckId++;
      const timer = setTimeout(() => {
        this.pending.delete(ackId);
        reject(new SocketError({ code: 'network', message: 'No answer from the server.' }));
      }, ACK_TIMEOUT_MS);
      this.pending.set(ackId, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ event, data, ackId }));
    });
  }

  /** Sends without waiting for an answer (typing, receipts): losing one is harmless. */
  send(event, data = {}) {
    if (this.connected && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ event, data }));
    }
  }

  startHeartbeat() {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.send('ping'), HEARTBEAT_MS);
  }

  teardown() {
    clearInterval(this.heartbeat);
    const wasConnected = this.connected;
    this.connected = false;
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new SocketError());
    }
    this.pending.clear();
    return wasConnected;
  }

  async onClosed(code) {
    this.teardown();
    this.ws = null;
    this.dispatch('state', { connected: false, code });
    if (this.stopped) return;
    if (code === 4401) {
      // The token expired or the session ended: a refresh tells which.
      session.setAccessToken(null);
      try {
        await refresh();
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 0) return; // signed out
      }
    }
    this.scheduleRetry(code === 4429 ? 15_000 : undefined);
  }

  scheduleRetry(delay) {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    // 0.5 s, 1 s, 2 s … 15 s, with jitter so a restarted server is not met by every client at once.
    const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    const wait = delay ?? Math.round(backoff * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.nextRetryAt = Date.now() + wait;
    this.dispatch('state', { connected: false, nextRetryAt: this.nextRetryAt });
    this.retryTimer = setTimeout(() => this.open(), wait);
  }
}
