// Messages written but not yet acknowledged by the server, kept in localStorage so neither a
// dropped connection nor a closed tab loses them. Each keeps its clientMessageId for every
// retry: the server answers a repeated send with the message it already stored, so a send
// that went through before the connection dropped is never stored twice.
import * as session from './session.js';

function key() {
  return `chemchat.outbox.${session.tenant()}.${session.userId() || 'anonymous'}`;
}

export function all() {
  try {
    return JSON.parse(localStorage.getItem(key()) || '[]');
  } catch {
    return [];
  }
}

function save(items) {
  localStorage.setItem(key(), JSON.stringify(items));
}

/** Queues a message; answers the stored entry. */
export function add({ conversationId, content, attachments = [] }) {
  const entry = {
    clientMessageId: crypto.randomUUID(),
    conversationId,
    content,
    // Attachment ids for the request; their metadata to draw the pending message.
    attachmentIds: attachments.map((a) => a.id),
    attachments,
    createdAt: new Date().toISOString(),
    state: 'pending',
    error: null,
  };
  save([...all(), entry]);
  return entry;
}

export function update(clientMessageId, changes) {
  save(all().map((e) => (e.clientMessageId === clientMessageId ? { ...e, ...changes } : e)));
}

export function remove(clientMessageId) {
  save(all().filter((e) => e.clientMessageId !== clientMessageId));
}

export function forConversation(conversationId) {
  return all().filter((e) => e.conversationId === conversationId);
}
