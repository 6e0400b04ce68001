// One message of the log: text (links made clickable, safely), attachments, edits, deletions,
// reactions, the time and — for your own — whether it was sent, delivered and read.
import { h, svgIcon } from '../dom.js';
import { icons } from '../icons.js';
import { clock, fullTimestamp, bytes } from '../format.js';
import * as api from '../api.js';
import { store, nameOf } from '../store.js';
import { avatar } from './common.js';

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

/** Text with its web addresses as links; everything else stays text nodes. */
export function richText(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(h('a', { href: match[0], target: '_blank', rel: 'noopener noreferrer', text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

/** Where a message of mine has got to, from the other members' pointers. */
export function deliveryState(message, conversation) {
  const others = (conversation?.members || []).filter((m) => m.userId !== store.me?.id);
  if (!others.length) return 'sent';
  if (others.every((m) => (m.lastReadSeq || 0) >= message.seq)) return 'read';
  if (others.every((m) => Math.max(m.lastDeliveredSeq || 0, m.lastReadSeq || 0) >= message.seq)) return 'delivered';
  return 'sent';
}

const STATE_LABEL = { pending: 'Sending', failed: 'Not sent', sent: 'Sent', delivered: 'Delivered', read: 'Read' };

function ticks(state) {
  const icon = { pending: icons.clock, failed: icons.alert, sent: icons.check, delivered: icons.checks, read: icons.checks }[state];
  return h('span', { class: `ticks ticks-${state}`, title: STATE_LABEL[state] },
    svgIcon(icon, { size: 16 }),
    h('span', { class: 'visually-hidden', text: STATE_LABEL[state] }));
}

/**
 * The key that changes whenever the message must be drawn again (the log reuses the element
 * otherwise, so a screen reader hears only what is new).
 */
export function signature(message, { state, grouped, conversation }) {
  return JSON.stringify([message.version, message.deleted, message.content, message.reactions,
    (message.attachments || []).map((a) => a.id + a.status), state, grouped,
    nameOf(message.senderId, conversation)]);
}

/**
 * Draws a message. `pending` messages come from the outbox (state pending/failed);
 * `actions` has the callbacks (react, edit, remove, retry, discard, openImage).
 */
export function renderMessage(message, { conversation, grouped, state, actions }) {
  const mine = message.senderId === store.me?.id;
  const name = nameOf(message.senderId, conversation);
  const classes = ['msg', mine ? 'mine' : 'theirs', grouped ? 'grouped' : 'first'];
  if (message.deleted) classes.push('deleted');
  if (state === 'pending' || state === 'failed') classes.push(`is-${state}`);

  const body = [];
  if (message.deleted) {
    body.push(h('p', { class: 'text tombstone' }, svgIcon(icons.trash, { size: 14 }), ' This message was deleted'));
  } else {
    if (message.content) body.push(h('p', { class: 'text' }, richText(message.content)));
    const files = message.attachments || [];
    if (files.length) body.push(h('div', { class: 'attachments' }, files.map((item) => attachment(item, actions))));
  }

  const meta = h('span', { class: 'msg-meta' },
    message.editedAt && !message.deleted ? h('span', { class: 'edited', title: `Edited ${fullTimestamp(message.editedAt)}`, text: 'edited' }) : null,
    h('time', { datetime: message.timestamp, title: fullTimestamp(message.timestamp), text: clock(message.timestamp) }),
    mine ? ticks(state) : null);

  const reactions = (message.reactions || []).length && !message.deleted
    ? h('div', { class: 'reactions' }, message.reactions.map((r) => {
      const reacted = r.userIds.includes(store.me?.id);
      const who = r.userIds.map((id) => nameOf(id, conversation)).join(', ');
      return h('button', {
        type: 'button', class: `reaction${reacted ? ' reacted' : ''}`, 'aria-pressed': String(reacted),
        title: who, 'aria-label': `${r.emoji} ${r.count}, by ${who}${reacted ? ' (you reacted)' : ''}`,
        onclick: () => actions.react(message, r.emoji),
      }, h('span', { class: 'emoji', text: r.emoji }), h('span', { text: String(r.count) }));
    }))
    : null;

  const failed = state === 'failed'
    ? h('div', { class: 'failed-row', role: 'alert' },
      h('span', { text: message.error || 'Not sent.' }),
      h('button', { type: 'button', class: 'link', text: 'Retry', onclick: () => actions.retry(message.clientMessageId) }),
      h('button', { type: 'button', class: 'link', text: 'Discard', onclick: () => actions.discard(message.clientMessageId) }))
    : null;

  const toolbar = !message.deleted && state !== 'pending' && state !== 'failed'
    ? h('div', { class: 'msg-actions', role: 'toolbar', 'aria-label': 'Message actions' },
      h('button', { type: 'button', class: 'icon-button small', 'aria-label': 'Add reaction', title: 'Add reaction', 'aria-haspopup': 'true', onclick: (event) => actions.pickReaction(message, event.currentTarget) }, svgIcon(icons.smile, { size: 16 })),
      mine && message.content !== null ? h('button', { type: 'button', class: 'icon-button small', 'aria-label': 'Edit message', title: 'Edit', onclick: () => actions.edit(message) }, svgIcon(icons.edit, { size: 16 })) : null,
      mine ? h('button', { type: 'button', class: 'icon-button small', 'aria-label': 'Delete message', title: 'Delete', onclick: () => actions.remove(message) }, svgIcon(icons.trash, { size: 16 })) : null)
    : null;

  const article = h('article', {
    class: classes.join(' '), tabindex: '-1',
    dataset: { seq: message.seq ?? '', id: message.id || '', clientId: message.clientMessageId || '', status: mine ? state : '' },
    'aria-label': `${mine ? 'You' : name}, ${clock(message.timestamp)}`,
  },
  mine ? null : h('div', { class: 'msg-avatar' }, grouped ? null : avatar({ id: message.senderId, name, avatarMediaId: store.users.get(message.senderId)?.avatarMediaId, size: 'sm' })),
  h('div', { class: 'msg-body' },
    !grouped && !mine ? h('div', { class: 'msg-author', text: name }) : null,
    h('div', { class: 'bubble' }, body, meta),
    reactions,
    failed,
    toolbar));
  // Out of the Tab order until the message has focus (see the log's keyboard handling).
  for (const control of article.querySelectorAll('button, a')) {
    control.tabIndex = -1;
    control.dataset.inner = '';
  }
  return article;
}

function attachment(item, actions) {
  const isImage = item.contentType?.startsWith('image/') && item.status !== 'failed';
  if (isImage) {
    const thumb = item.variants?.find((v) => v.name === 'thumb');
    const width = thumb?.width || Math.min(item.width || 240, 320);
    const height = thumb?.height || Math.round(width * ((item.height || 180) / (item.width || 240)));
    const img = h('img', { class: 'thumb', alt: item.filename, width, height, loading: 'lazy', decoding: 'async' });
    img.style.aspectRatio = `${width} / ${height}`;
    const button = h('button', { type: 'button', class: 'image-button loading', 'aria-label': `Open image ${item.filename}`, onclick: () => actions.openImage(item) }, img);
    if (item.local) {
      img.src = item.local;
      button.classList.remove('loading');
    } else {
      const pending = item.status !== 'ready';
      api.mediaBlobUrl(item.id, thumb || pending ? 'thumb' : undefined, { pending })
        .then((url) => { img.src = url; button.classList.remove('loading'); })
        .catch(() => { button.classList.remove('loading'); button.classList.add('broken'); });
    }
    return button;
  }
  return h('div', { class: 'file-card' },
    h('span', { class: 'file-icon' }, svgIcon(icons.file)),
    h('span', { class: 'file-info' },
      h('span', { class: 'file-name', text: item.filename }),
      h('span', { class: 'file-size', text: item.status === 'failed' ? 'Could not be processed' : bytes(item.size) })),
    item.status !== 'failed' && !item.local
      ? h('button', { type: 'button', class: 'icon-button', 'aria-label': `Download ${item.filename}`, title: 'Download', onclick: () => download(item) }, svgIcon(icons.download))
      : null);
}

/** Saves a file: fetched with the bearer token, then handed to the browser as a download. */
export async function download(item) {
  const url = await api.mediaBlobUrl(item.id);
  const link = h('a', { href: url, download: item.filename });
  document.body.appendChild(link);
  link.click();
  link.remove();
}
