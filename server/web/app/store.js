// The client's state, in one place, with a tiny publish/subscribe so views redraw what changed.
// Topics: `me`, `conversations`, `messages` (conversation id), `typing` (conversation id),
// `presence` (user id), `connection`, `active`.

const listeners = new Map();

export const store = {
  me: null,
  /** id → conversation (ConversationView + lastMessage + unreadCount). */
  conversations: new Map(),
  /** conversation id → { bySeq: Map<seq, message>, oldestSeq, reachedStart } */
  messages: new Map(),
  /** user id → user (directory view or a member's name). */
  users: new Map(),
  /** user id → 'online' | 'away' | 'offline' */
  presence: new Map(),
  /** conversation id → Map<user id, { name, until }> */
  typing: new Map(),
  activeId: null,
  connected: false,
  nextRetryAt: null,
  everConnected: false,
};

export function subscribe(topic, handler) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(handler);
  return () => listeners.get(topic)?.delete(handler);
}

export function publish(topic, detail) {
  for (const handler of listeners.get(topic) || []) {
    try { handler(detail); } catch (error) { console.warn(`view of ${topic} failed`, error); }
  }
}

export function reset() {
  store.me = null;
  store.conversations.clear();
  store.messages.clear();
  store.users.clear();
  store.presence.clear();
  store.typing.clear();
  store.activeId = null;
  store.connected = false;
  store.everConnected = false;
}

/** The message cache of a conversation, created empty. */
export function timeline(conversationId) {
  let entry = store.messages.get(conversationId);
  if (!entry) {
    entry = { bySeq: new Map(), reachedStart: false, loaded: false };
    store.messages.set(conversationId, entry);
  }
  return entry;
}

export function newestSeq(conversationId) {
  const entry = store.messages.get(conversationId);
  if (!entry || !entry.bySeq.size) return 0;
  return Math.max(...entry.bySeq.keys());
}

export function oldestSeq(conversationId) {
  const entry = store.messages.get(conversationId);
  if (!entry || !entry.bySeq.size) return null;
  return Math.min(...entry.bySeq.keys());
}

/** Someone's name as this client knows it. */
export function nameOf(userId, conversation) {
  if (store.me && userId === store.me.id) return store.me.displayName;
  const member = conversation?.members?.find((m) => m.userId === userId);
  if (member?.displayName) return member.displayName;
  const user = store.users.get(userId);
  return user?.displayName || user?.username || 'Someone';
}

/** The other person of a DM (or null for groups). */
export function peerOf(conversation) {
  if (!conversation || conversation.type !== 'dm' || !store.me) return null;
  return conversation.members?.find((m) => m.userId !== store.me.id) || null;
}

/** What a conversation is called in this client: the group's name, or the other person's. */
export function titleOf(conversation) {
  if (!conversation) return '';
  if (conversation.type === 'dm') {
    const peer = peerOf(conversation);
    return peer ? nameOf(peer.userId, conversation) : 'Just you';
  }
  if (conversation.name) return conversation.name;
  const others = (conversation.members || []).filter((m) => m.userId !== store.me?.id);
  return others.map((m) => m.displayName).slice(0, 3).join(', ') || 'Group';
}

/** Conversations, most recent activity first. */
export function sortedConversations() {
  return [...store.conversations.values()].sort((a, b) => {
    const at = a.lastMessage?.timestamp || a.lastActivityAt || a.createdAt || '';
    const bt = b.lastMessage?.timestamp || b.lastActivityAt || b.createdAt || '';
    return bt.localeCompare(at);
  });
}
