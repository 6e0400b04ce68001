// Offline reading: the latest messages of the conversations opened most recently, so a browser
// that starts without a network can still show them. They live beside the refresh token
// (localStorage when "remember this device" was ticked, else sessionStorage) under a
// `chemchat.cache.` key, which signing out removes (session.clearSession).
import * as session from './session.js';

const KEEP_CONVERSATIONS = 20;
const KEEP_MESSAGES = 50;
/** Characters of JSON at most (about 3 MB in UTF-16): older conversations make room. */
const MAX_CHARS = 1_500_000;
const WRITE_AFTER_MS = 800;

function storage() {
  return session.isRemembered() ? localStorage : sessionStorage;
}

function key() {
  return `chemchat.cache.messages.${session.tenant()}.${session.userId()}`;
}

function read() {
  try {
    const value = JSON.parse(storage().getItem(key()) || 'null');
    if (value && Array.isArray(value.order) && value.items) return value;
  } catch { /* a damaged cache is an empty one */ }
  return { order: [], items: {} };
}

function write(value) {
  let text = JSON.stringify(value);
  // Over the cap, or the browser's quota: drop the least recently opened conversations.
  while (value.order.length) {
    if (text.length <= MAX_CHARS) {
      try {
        storage().setItem(key(), text);
        return;
      } catch { /* quota: make room below */ }
    }
    const dropped = value.order.pop();
    delete value.items[dropped];
    text = JSON.stringify(value);
  }
  storage().removeItem(key());
}

/** The cached messages of a conversation, oldest first (or null). */
export function recall(conversationId) {
  const messages = read().items[conversationId];
  return Array.isArray(messages) && messages.length ? messages : null;
}

export function forget(conversationId) {
  pending.delete(conversationId);
  const value = read();
  if (!(conversationId in value.items)) return;
  delete value.items[conversationId];
  value.order = value.order.filter((id) => id !== conversationId);
  write(value);
}

const pending = new Map(); // conversation id → () => messages
let timer = null;

/** Remembers a conversation's latest messages soon (writes are batched). */
export function schedule(conversationId, messagesOf) {
  if (!session.hasSession()) return;
  pending.set(conversationId, messagesOf);
  clearTimeout(timer);
  timer = setTimeout(flush, WRITE_AFTER_MS);
}

export function flush() {
  clearTimeout(timer);
  if (!pending.size || !session.hasSession()) { pending.clear(); return; }
  const value = read();
  for (const [id, messagesOf] of pending) {
    const messages = messagesOf()
      .filter((m) => m && Number.isFinite(m.seq))
      .sort((a, b) => a.seq - b.seq)
      .slice(-KEEP_MESSAGES);
    value.items[id] = messages;
    value.order = [id, ...value.order.filter((other) => other !== id)];
  }
  pending.clear();
  for (const id of value.order.splice(KEEP_CONVERSATIONS)) delete value.items[id];
  write(value);
}

addEventListener('pagehide', flush);
