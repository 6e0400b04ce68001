// What the chat does, apart from drawing it: loading conversations and history, applying live
// events and `sync` replays to the store, sending through the outbox, receipts and typing.
// Views call these functions and redraw on the store's topics.
import * as api from './api.js';
import * as session from './session.js';
import * as outbox from './outbox.js';
import * as cache from './cache.js';
import { Socket } from './socket.js';
import { store, publish, subscribe, timeline, newestSeq, oldestSeq, titleOf } from './store.js';

export const socket = new Socket();

const PAGE = 50;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 6000;

function cursorKey() {
  return `chemchat.cursor.${session.tenant()}.${store.me?.id}`;
}

function cacheKey() {
  return `chemchat.cache.${session.tenant()}.${session.userId()}`;
}

/** Starts the signed-in app: who we are, the conversation list, the socket. */
export async function start() {
  try {
    store.me = await api.get('/auth/me');
  } catch (error) {
    // Offline at start (the shell came from the service worker): draw the last known list
    // and let the socket keep trying; its first connection catches up.
    const cached = error.status === 0 && JSON.parse(localStorage.getItem(cacheKey()) || 'null');
    if (!cached) throw error;
    store.me = cached.me;
    for (const c of cached.conversations) store.conversations.set(c.id, c);
    publish('me');
    publish('conversations');
    socket.start();
    return;
  }
  publish('me');
  // Take the sync cursor before the list: whatever happens in between is replayed, never lost.
  if (!localStorage.getItem(cursorKey())) {
    const { cursor } = await api.get('/sync');
    localStorage.setItem(cursorKey(), cursor);
  }
  await loadConversations();
  socket.start();
}

export function stop() {
  socket.stop();
}

export async function loadConversations() {
  const seen = new Set();
  let cursor;
  do {
    const page = await api.get('/conversations', { query: { limit: 100, cursor } });
    for (const item of page.conversations) {
      seen.add(item.id);
      store.conversations.set(item.id, item);
      rememberMembers(item);
    }
    cursor = page.nextCursor;
  } while (cursor);
  for (const id of [...store.conversations.keys()]) if (!seen.has(id)) store.conversations.delete(id);
  publish('conversations');
  try {
    localStorage.setItem(cacheKey(), JSON.stringify({ me: store.me, conversations: [...store.conversations.values()].slice(0, 50) }));
  } catch { /* storage full: the cache is a convenience */ }
  loadPresence();
}

function rememberMembers(conversation) {
  for (const member of conversation.members || []) {
    const known = store.users.get(member.userId) || { id: member.userId };
    store.users.set(member.userId, { ...known, displayName: member.displayName, avatarMediaId: member.avatarMediaId });
  }
}

/** Presence of everyone we share a DM with, in one request (the dots of the list). */
async function loadPresence() {
  const ids = new Set();
  for (const c of store.conversations.values()) {
    for (const m of c.members || []) if (m.userId !== store.me.id) ids.add(m.userId);
  }
  const list = [...ids].slice(0, 100);
  if (!list.length) return;
  try {
    const { items } = await api.get('/users', { query: { ids: list.join(',') } });
    for (const user of items) {
      store.users.set(user.id, { ...store.users.get(user.id), ...user });
      store.presence.set(user.id, user.presence);
      publish('presence', user.id);
    }
  } catch { /* the dots stay grey */ }
}

// ---- the socket ----------------------------------------------------------------------------

socket.on('state', ({ connected, nextRetryAt }) => {
  store.connected = connected;
  store.nextRetryAt = nextRetryAt || null;
  publish('connection');
});

socket.on('open', async () => {
  store.everConnected = true;
  try {
    if (!localStorage.getItem(cursorKey())) {
      localStorage.setItem(cursorKey(), (await api.get('/sync')).cursor);
    }
    store.me = await api.get('/auth/me');
    publish('me');
    await catchUp();
    if (store.activeId) await joinActive();
  } catch (error) {
    console.warn('catching up failed', error);
  }
  flushOutbox();
});

/** Replays what happened while away (GET /sync, page by page), then refreshes the list. */
async function catchUp() {
  let since = localStorage.getItem(cursorKey());
  for (let page = 0; page < 50; page += 1) {
    const result = await api.get('/sync', { query: { since, limit: 500 } });
    for (const event of result.events) applyEvent(event.event, event.data, { replay: true });
    since = result.cursor;
    localStorage.setItem(cursorKey(), since);
    if (!result.hasMore) break;
  }
  await loadConversations();
}

for (const name of ['message.created', 'message.updated', 'message.deleted', 'reaction.added',
  'reaction.removed', 'receipt.read', 'receipt.delivered', 'conversation.created',
  'conversation.updated', 'member.added', 'member.removed', 'member.muted',
  'unread.updated', 'typing.started', 'typing.stopped', 'presence.updated']) {
  socket.on(name, (data) => applyEvent(name, data, { replay: false }));
}

socket.on('close', () => {});

/** One event, live or replayed. Every branch is idempotent: replays may repeat live events. */
export function applyEvent(name, data, { replay }) {
  switch (name) {
    case 'message.created':
    case 'message.updated':
    case 'message.deleted':
      return putMessage(data, { fresh: name === 'message.created' && !replay });
    case 'reaction.added':
    case 'reaction.removed':
      return changeReaction(data, name === 'reaction.added');
    case 'receipt.read':
    case 'receipt.delivered':
      return movePointer(data, name === 'receipt.read' ? 'lastReadSeq' : 'lastDeliveredSeq');
    case 'conversation.created': {
      const known = store.conversations.get(data.id);
      store.conversations.set(data.id, { unreadCount: 0, lastMessage: null, ...known, ...data });
      rememberMembers(data);
      publish('conversations');
      return loadPresence();
    }
    case 'conversation.updated': {
      const conversation = store.conversations.get(data.conversationId);
      if (conversation) {
        Object.assign(conversation, {
          name: data.name ?? conversation.name,
          readOnly: data.readOnly ?? conversation.readOnly,
          slowModeSeconds: data.slowModeSeconds ?? conversation.slowModeSeconds,
        });
        publish('conversations');
      }
      return undefined;
    }
    case 'member.removed':
      // This person left or was removed (here or on another device): the conversation goes.
      if (!replay && data.userId === store.me?.id) return forgetConversation(data.conversationId, { by: data.by });
      return refreshConversation(data.conversationId);
    case 'member.added':
    case 'member.muted':
      return refreshConversation(data.conversationId);
    case 'unread.updated':
      return updateUnread(data);
    case 'typing.started':
    case 'typing.stopped':
      return setTyping(data, name === 'typing.started');
    case 'presence.updated':
      store.presence.set(data.userId, data.status);
      return publish('presence', data.userId);
    default:
      return undefined;
  }
}

async function refreshConversation(id) {
  try {
    merge(await api.get(`/conversations/${id}`));
  } catch (error) {
    // Removed from it: it leaves the list.
    if (error.status === 404 || error.status === 403) {
      forgetConversation(id);
      return;
    }
  }
  publish('conversations');
  publish('active');
}

/** Takes a conversation as the server answered it (`ConversationView`) into the store. */
function merge(conversation) {
  const id = conversation.id;
  const known = store.conversations.get(id) || { unreadCount: 0, lastMessage: null };
  // Pointers only move forward: a receipt that arrived during the request is kept.
  for (const member of conversation.members || []) {
    const before = known.members?.find((m) => m.userId === member.userId);
    if (!before) continue;
    member.lastReadSeq = Math.max(member.lastReadSeq || 0, before.lastReadSeq || 0);
    member.lastDeliveredSeq = Math.max(member.lastDeliveredSeq || 0, before.lastDeliveredSeq || 0);
  }
  store.conversations.set(id, { ...known, ...conversation });
  rememberMembers(conversation);
  return store.conversations.get(id);
}

/**
 * A conversation this person is no longer in: out of the list, its messages and their offline
 * copy forgotten. Views hear `removed` ({id, title, by}) first, so the open one can close.
 */
function forgetConversation(id, { by } = {}) {
  const conversation = store.conversations.get(id);
  if (conversation) publish('removed', { id, title: titleOf(conversation), by });
  store.conversations.delete(id);
  store.messages.delete(id);
  store.typing.delete(id);
  cache.forget(id);
  publish('conversations');
  publish('active');
}

/** Stores a message (new, edited or deleted) and everything that follows from it. */
function putMessage(message, { fresh }) {
  const id = message.conversationId;
  const entry = store.messages.get(id);
  const mine = message.senderId === store.me?.id;
  if (entry) {
    const previous = entry.bySeq.get(message.seq);
    // Events can arrive out of date (a replay after a live event): the higher version wins.
    if (!previous || (message.version ?? 0) >= (previous.version ?? 0) || message.deleted) {
      entry.bySeq.set(message.seq, message);
    }
  }
  if (mine && message.clientMessageId) {
    const pending = outbox.all().find((e) => e.clientMessageId === message.clientMessageId);
    if (pending) outbox.remove(message.clientMessageId);
  }
  const conversation = store.conversations.get(id);
  if (conversation) {
    if (!conversation.lastMessage || message.seq >= conversation.lastMessage.seq) {
      conversation.lastMessage = message;
      conversation.lastSeq = Math.max(conversation.lastSeq || 0, message.seq);
      conversation.lastActivityAt = message.timestamp;
    }
    if (fresh && !mine && !isReading(id)) {
      conversation.unreadCount = (conversation.unreadCount || 0) + 1;
    }
  } else if (fresh) {
    // A conversation we have not heard of yet (created while the list loaded).
    refreshConversation(id);
  }
  if (fresh && !mine) {
    socket.send('message.delivered', { conversationId: id, seq: message.seq });
    if (isReading(id)) markRead(id);
  }
  publish('messages', id);
  publish('conversations');
  // A gap in the open conversation (a lost frame): fetch what is missing.
  if (entry && store.activeId === id && entry.loaded) {
    const seqs = [...entry.bySeq.keys()].sort((a, b) => a - b);
    const newest = seqs[seqs.length - 1];
    if (newest - seqs[0] + 1 > seqs.length && entry.reachedStart === false) fillForward(id);
  }
}

function changeReaction({ messageId, conversationId, userId, emoji }, added) {
  const entry = store.messages.get(conversationId);
  if (!entry) return;
  for (const message of entry.bySeq.values()) {
    if (message.id !== messageId) continue;
    const reactions = (message.reactions || []).map((r) => ({ ...r, userIds: [...r.userIds] }));
    let reaction = reactions.find((r) => r.emoji === emoji);
    if (!reaction && added) {
      reaction = { emoji, count: 0, userIds: [] };
      reactions.push(reaction);
    }
    if (reaction) {
      const has = reaction.userIds.includes(userId);
      if (added && !has) reaction.userIds.push(userId);
      if (!added && has) reaction.userIds = reaction.userIds.filter((u) => u !== userId);
      reaction.count = reaction.userIds.length;
    }
    message.reactions = reactions.filter((r) => r.count > 0);
    publish('messages', conversationId);
    return;
  }
}

function movePointer({ conversationId, userId, seq }, field) {
  const conversation = store.conversations.get(conversationId);
  if (!conversation) return;
  const member = conversation.members?.find((m) => m.userId === userId);
  if (member && (member[field] || 0) < seq) {
    member[field] = seq;
    // A read implies delivery.
    if (field === 'lastReadSeq' && (member.lastDeliveredSeq || 0) < seq) member.lastDeliveredSeq = seq;
  }
  if (userId === store.me?.id && field === 'lastReadSeq') {
    // Read on another device: the badge follows.
    const lastSeq = conversation.lastSeq || 0;
    if (seq >= lastSeq) conversation.unreadCount = 0;
    publish('conversations');
  }
  publish('messages', conversationId);
}

function updateUnread(data) {
  const conversation = store.conversations.get(data.conversationId);
  if (!conversation) {
    // News of a conversation this client has not heard of yet: fetch it, then count.
    refreshConversation(data.conversationId).then(() => {
      if (store.conversations.has(data.conversationId)) updateUnread(data);
    });
    return;
  }
  conversation.unreadCount = isReading(data.conversationId) ? 0 : data.unreadCount;
  conversation.lastSeq = Math.max(conversation.lastSeq || 0, data.lastSeq || 0);
  if (data.lastMessage && (!conversation.lastMessage || data.lastMessage.seq >= conversation.lastMessage.seq)) {
    conversation.lastMessage = { ...data.lastMessage, conversationId: data.conversationId };
    conversation.lastActivityAt = data.lastMessage.timestamp;
  }
  if (data.lastMessage && data.lastMessage.senderId !== store.me?.id) {
    socket.send('message.delivered', { conversationId: data.conversationId, seq: data.lastMessage.seq });
  }
  publish('conversations');
}

function setTyping({ conversationId, userId, displayName }, started) {
  if (userId === store.me?.id) return;
  if (!store.typing.has(conversationId)) store.typing.set(conversationId, new Map());
  const typing = store.typing.get(conversationId);
  if (started) {
    typing.set(userId, { name: displayName, until: Date.now() + TYPING_SHOW_MS });
    // The server expires typing after 5 s; so does the view, should `typing.stopped` be lost.
    setTimeout(() => {
      const current = typing.get(userId);
      if (current && current.until <= Date.now()) {
        typing.delete(userId);
        publish('typing', conversationId);
      }
    }, TYPING_SHOW_MS + 50);
  } else {
    typing.delete(userId);
  }
  publish('typing', conversationId);
}

// ---- opening a conversation ----------------------------------------------------------------

/** Whether the person is looking at this conversation right now (for read receipts). */
export function isReading(conversationId) {
  return store.activeId === conversationId && document.visibilityState === 'visible';
}

document.addEventListener('visibilitychange', () => {
  if (store.activeId && document.visibilityState === 'visible') markRead(store.activeId);
});

export async function open(conversationId) {
  const previous = store.activeId;
  if (previous && previous !== conversationId) socket.send('conversation.leave', { conversationId: previous });
  store.activeId = conversationId;
  const opened = store.conversations.get(conversationId);
  if (opened) opened.unreadCount = 0;
  publish('active');
  const entry = timeline(conversationId);
  // The members' read and delivered pointers (for the ticks) may have moved while away.
  const details = refreshConversation(conversationId);
  try {
    await catchUpTimeline(conversationId);
  } catch (error) {
    // Offline: what this browser kept of the conversation, until the connection is back
    // (joinActive then fetches what is new).
    if (error.status !== 0) throw error;
    if (!entry.loaded && !seedFromCache(conversationId)) throw error;
  }
  await details;
  await joinActive();
  markRead(conversationId);
}

async function joinActive() {
  const id = store.activeId;
  if (!id || !socket.connected) return;
  try {
    const presence = await socket.emit('conversation.join', { conversationId: id });
    for (const item of presence?.presence || presence?.members || (Array.isArray(presence) ? presence : [])) {
      if (item.userId && item.status) {
        store.presence.set(item.userId, item.status);
        publish('presence', item.userId);
      }
    }
  } catch (error) {
    console.warn('join failed', error.code);
  }
  // Joined: live events now come here; fetch what landed before the join took effect.
  await catchUpTimeline(id);
}

/** The latest page when nothing (or only the offline copy) is held, else what is newer. */
function catchUpTimeline(conversationId) {
  const entry = timeline(conversationId);
  return !entry.loaded || entry.fromCache ? loadLatest(conversationId) : fillForward(conversationId);
}

/** Draws a conversation from the offline copy; answers whether there was one. */
function seedFromCache(conversationId) {
  const messages = cache.recall(conversationId);
  if (!messages) return false;
  const entry = timeline(conversationId);
  for (const message of messages) entry.bySeq.set(message.seq, message);
  entry.loaded = true;
  entry.fromCache = true;
  entry.reachedStart = messages.some((m) => m.seq === 1);
  publish('messages', conversationId);
  return true;
}

async function loadLatest(conversationId) {
  const entry = timeline(conversationId);
  const page = await api.get(`/conversations/${conversationId}/messages`, { query: { limit: PAGE } });
  const messages = page.messages || page.items || page;
  // The offline copy may be far behind: the fresh page replaces it rather than leave a gap.
  if (entry.fromCache) entry.bySeq.clear();
  entry.fromCache = false;
  for (const message of messages) entry.bySeq.set(message.seq, message);
  entry.loaded = true;
  entry.reachedStart = messages.length < PAGE || messages.some((m) => m.seq === 1);
  publish('messages', conversationId);
}

/** Fetches messages newer than the newest one held (after a gap, or on reopening). */
export async function fillForward(conversationId) {
  const entry = timeline(conversationId);
  if (!entry.loaded) return;
  for (let round = 0; round < 20; round += 1) {
    const after = newestSeq(conversationId);
    const page = await api.get(`/conversations/${conversationId}/messages`, { query: { after, limit: 100 } });
    const messages = page.messages || page.items || page;
    for (const message of messages) putMessage(message, { fresh: false });
    if (messages.length < 100) break;
  }
  publish('messages', conversationId);
}

/** One page of older history; answers whether there was any. */
export async function loadOlder(conversationId) {
  const entry = timeline(conversationId);
  if (!entry.loaded || entry.fromCache || entry.reachedStart || entry.loadingOlder) return false;
  const before = oldestSeq(conversationId);
  if (before === null || before <= 1) {
    entry.reachedStart = true;
    return false;
  }
  entry.loadingOlder = true;
  try {
    const page = await api.get(`/conversations/${conversationId}/messages`, { query: { before, limit: PAGE } });
    const messages = page.messages || page.items || page;
    for (const message of messages) entry.bySeq.set(message.seq, message);
    if (messages.length < PAGE || messages.some((m) => m.seq === 1)) entry.reachedStart = true;
    publish('messages', conversationId);
    return messages.length > 0;
  } finally {
    entry.loadingOlder = false;
  }
}

let readTimer = null;
/** Moves the read pointer to the newest message (batched: one receipt per burst). */
export function markRead(conversationId) {
  const conversation = store.conversations.get(conversationId);
  if (conversation && conversation.unreadCount) {
    conversation.unreadCount = 0;
    publish('conversations');
  }
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const seq = newestSeq(conversationId);
    if (!seq) return;
    const me = conversation?.members?.find((m) => m.userId === store.me?.id);
    if (me && (me.lastReadSeq || 0) >= seq) return;
    if (me) me.lastReadSeq = seq;
    if (socket.connected) socket.send('message.read', { conversationId, seq });
    else api.post(`/conversations/${conversationId}/read`, { seq }).catch(() => {});
  }, 300);
}

// ---- sending -------------------------------------------------------------------------------

/** Queues a message and tries to deliver it at once; the view shows it straight away. */
export function send(conversationId, content, attachments = []) {
  const entry = outbox.add({ conversationId, content, attachments });
  publish('messages', conversationId);
  stopTyping(conversationId);
  flushOutbox();
  return entry;
}

let flushing = false;
let flushAgain = false;
/** Delivers queued messages in order, each with its own clientMessageId. */
export async function flushOutbox() {
  if (flushing) {
    // A message queued while a flush runs goes out when that flush ends.
    flushAgain = true;
    return;
  }
  flushing = true;
  flushAgain = false;
  let stalled = false;
  try {
    for (const entry of outbox.all()) {
      if (entry.state === 'failed') continue;
      const body = {
        conversationId: entry.conversationId,
        content: entry.content,
        clientMessageId: entry.clientMessageId,
        ...(entry.attachmentIds?.length ? { attachments: entry.attachmentIds } : {}),
      };
      try {
        const message = socket.connected
          ? await socket.emit('message.send', body)
          : await api.post(`/conversations/${entry.conversationId}/messages`, body);
        outbox.remove(entry.clientMessageId);
        putMessage(message, { fresh: false });
      } catch (error) {
        if (error.retryable || error.status === 0) {
          // Offline or rate limited: the next connection (or the wait asked for) tries again.
          if (error.retryAfter) setTimeout(flushOutbox, error.retryAfter * 1000);
          stalled = true;
          break;
        }
        outbox.update(entry.clientMessageId, { state: 'failed', error: error.message });
        publish('messages', entry.conversationId);
      }
    }
  } finally {
    flushing = false;
  }
  if (flushAgain && !stalled) flushOutbox();
}

export function retry(clientMessageId) {
  const entry = outbox.all().find((e) => e.clientMessageId === clientMessageId);
  outbox.update(clientMessageId, { state: 'pending', error: null });
  if (entry) publish('messages', entry.conversationId);
  flushOutbox();
}

export function discard(clientMessageId) {
  const entry = outbox.all().find((e) => e.clientMessageId === clientMessageId);
  outbox.remove(clientMessageId);
  if (entry) publish('messages', entry.conversationId);
}

const typingSentAt = new Map();
/** Called on every keystroke: one `typing.start` every few seconds while typing goes on. */
export function typing(conversationId) {
  const last = typingSentAt.get(conversationId) || 0;
  if (Date.now() - last > TYPING_SEND_EVERY_MS) {
    typingSentAt.set(conversationId, Date.now());
    socket.send('typing.start', { conversationId });
  }
}

export function stopTyping(conversationId) {
  if (typingSentAt.get(conversationId)) {
    typingSentAt.delete(conversationId);
    socket.send('typing.stop', { conversationId });
  }
}

// ---- the rest ------------------------------------------------------------------------------

async function viaSocketOrRest(event, data, rest) {
  if (socket.connected) return socket.emit(event, data);
  return rest();
}

export async function edit(message, content) {
  const updated = await viaSocketOrRest('message.edit',
    { messageId: message.id, content, expectedVersion: message.version },
    () => api.put(`/messages/${message.id}`, { content, expectedVersion: message.version }));
  if (updated?.id) putMessage(updated, { fresh: false });
}

export async function remove(message) {
  const tombstone = await viaSocketOrRest('message.delete', { messageId: message.id },
    () => api.del(`/messages/${message.id}`));
  if (tombstone?.id) putMessage(tombstone, { fresh: false });
}

export async function toggleReaction(message, emoji) {
  const mine = message.reactions?.find((r) => r.emoji === emoji)?.userIds.includes(store.me.id);
  const change = { messageId: message.id, conversationId: message.conversationId, userId: store.me.id, emoji };
  changeReaction(change, !mine);
  try {
    if (mine) {
      await viaSocketOrRest('reaction.remove', { messageId: message.id, emoji },
        () => api.del(`/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`));
    } else {
      await viaSocketOrRest('reaction.add', { messageId: message.id, emoji },
        () => api.post(`/messages/${message.id}/reactions`, { emoji }));
    }
  } catch (error) {
    changeReaction(change, mine);
    throw error;
  }
}

// ---- groups --------------------------------------------------------------------------------

/** Renames a group or changes its floor: `{name?, readOnly?, slowModeSeconds?}` (owners, admins). */
export async function updateConversation(id, changes) {
  const view = merge(await api.patch(`/conversations/${id}`, changes));
  publish('conversations');
  return view;
}

export async function addMembers(id, userIds) {
  const view = merge(await api.post(`/conversations/${id}/members`, { userIds }));
  publish('conversations');
  loadPresence();
  return view;
}

/** Gives a member another role (`member`, `admin`, `owner`; owners only). */
export async function setRole(id, userId, role) {
  const view = merge(await api.post(`/conversations/${id}/members`, { userId, role }));
  publish('conversations');
  return view;
}

/** Removes a member; removing yourself is leaving, and the conversation leaves the list. */
export async function removeMember(id, userId) {
  const view = await api.del(`/conversations/${id}/members/${userId}`);
  if (userId === store.me.id) {
    forgetConversation(id, { by: store.me.id });
    return null;
  }
  if (view?.id) merge(view);
  else await refreshConversation(id);
  publish('conversations');
  return store.conversations.get(id);
}

/** The server's search of the person's conversations by name (a DM: the other's name). */
export async function searchConversations(q) {
  const page = await api.get('/search/conversations', { query: { q, limit: 20 } });
  return page.items || [];
}

/** A conversation found by the server but not in the list yet (an older page): into the store. */
export function adopt(conversation) {
  if (!store.conversations.has(conversation.id)) {
    store.conversations.set(conversation.id, { unreadCount: 0, lastMessage: null, ...conversation });
    rememberMembers(conversation);
    publish('conversations');
  }
  return store.conversations.get(conversation.id);
}

// ---- the offline copy ----------------------------------------------------------------------

subscribe('messages', (id) => {
  const entry = id && store.messages.get(id);
  if (!entry?.loaded || entry.fromCache || !store.conversations.has(id)) return;
  cache.schedule(id, () => [...(store.messages.get(id)?.bySeq.values() || [])]);
});

/** Starts (or finds: the server never duplicates a DM) a conversation and opens it. */
export async function startConversation({ type, name, memberIds }) {
  const conversation = await api.post('/conversations', { type, name: name || undefined, memberIds });
  const known = store.conversations.get(conversation.id);
  store.conversations.set(conversation.id, { unreadCount: 0, lastMessage: null, ...known, ...conversation });
  rememberMembers(conversation);
  publish('conversations');
  loadPresence();
  return conversation;
}

/** A conversation's members afresh, with their presence (the details dialog). */
export async function refreshDetails(id) {
  await refreshConversation(id);
  await loadPresence();
}
