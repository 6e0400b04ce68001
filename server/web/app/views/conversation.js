// The open conversation: its header, the message log (infinite scroll back, day separators,
// one element per message kept across redraws), who is typing, and the composer.
import { h, svgIcon, announce, toast, replaceChildren } from '../dom.js';
import { icons } from '../icons.js';
import { dayKey, dayLabel } from '../format.js';
import * as chat from '../chat.js';
import * as api from '../api.js';
import * as outbox from '../outbox.js';
import { store, subscribe, timeline, titleOf, peerOf, nameOf } from '../store.js';
import { avatar, iconButton, presenceText, openDialog } from './common.js';
import { renderMessage, signature, deliveryState, QUICK_REACTIONS, download } from './message.js';
import { renderComposer } from './composer.js';
import { openGroupDetails } from './details.js';

const GROUP_GAP_MS = 5 * 60_000;

/** Draws the conversation `id` into `host`; answers a function that tears it down. */
export function renderConversation(host, id, { onBack }) {
  const conversation = () => store.conversations.get(id);
  const cleanups = [];

  const title = h('h2', { class: 'chat-title', id: 'chat-title' });
  const subtitle = h('p', { class: 'chat-subtitle' });
  const headAvatar = h('span', { class: 'chat-avatar' });
  const detailsButton = iconButton('info', 'Group details', { class: 'details-button', onclick: () => openGroupDetails(id) });
  const head = h('header', { class: 'chat-head' },
    iconButton('back', 'Back to conversations', { class: 'back-button', onclick: onBack }),
    headAvatar,
    h('div', { class: 'chat-heading' }, title, subtitle),
    detailsButton);

  const loader = h('div', { class: 'log-start', 'aria-hidden': 'true' });
  const list = h('div', { class: 'log-items' });
  const log = h('div', {
    class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
    'aria-labelledby': 'chat-title', tabindex: '0',
  }, loader, list);
  const typing = h('div', { class: 'typing', 'aria-live': 'polite' });
  const composer = renderComposer(id, { onEditLast: () => editLast() });

  replaceChildren(host, h('section', { class: 'conversation', 'aria-labelledby': 'chat-title' }, head, log, typing, composer.element));

  function drawHead() {
    const c = conversation();
    if (!c) return;
    const peer = peerOf(c);
    title.textContent = titleOf(c);
    headAvatar.replaceChildren(peer
      ? avatar({ id: peer.userId, name: titleOf(c), avatarMediaId: peer.avatarMediaId, presence: true })
      : avatar({ id: c.id, name: titleOf(c), group: true }));
    if (peer) {
      const status = store.presence.get(peer.userId) || 'offline';
      subtitle.textContent = presenceText[status];
    } else {
      const names = (c.members || []).map((m) => (m.userId === store.me?.id ? 'you' : m.displayName));
      subtitle.textContent = `${c.members?.length || 0} members · ${names.join(', ')}`;
    }
    detailsButton.hidden = c.type !== 'group';
    document.title = `${titleOf(c)} · ChemChat`;
    composer.update();
  }

  // ---- the log -------------------------------------------------------------------------------

  const elements = new Map(); // key → { element, signature }

  function items() {
    const c = conversation();
    const entry = timeline(id);
    const messages = [...entry.bySeq.values()].sort((a, b) => a.seq - b.seq);
    const confirmed = new Set(messages.map((m) => m.clientMessageId));
    const pending = outbox.forConversation(id)
      .filter((e) => !confirmed.has(e.clientMessageId))
      .map((e) => ({
        id: null, clientMessageId: e.clientMessageId, conversationId: id, senderId: store.me.id,
        content: e.content, timestamp: e.createdAt, attachments: e.attachments, reactions: [],
        pending: e.state, error: e.error,
      }));
    const out = [];
    let previous = null;
    for (const message of [...messages, ...pending]) {
      const day = dayKey(message.timestamp);
      if (!previous || dayKey(previous.timestamp) !== day) {
        out.push({ key: `day:${day}`, sig: dayLabel(message.timestamp), element: () => h('div', { class: 'day', role: 'separator' }, h('span', { text: dayLabel(message.timestamp) })) });
        previous = null;
      }
      const grouped = Boolean(previous && previous.senderId === message.senderId && !previous.deleted
        && new Date(message.timestamp) - new Date(previous.timestamp) < GROUP_GAP_MS);
      const mine = message.senderId === store.me.id;
      const state = message.pending || (mine ? deliveryState(message, c) : '');
      const key = message.clientMessageId ? `m:${message.clientMessageId}` : `s:${message.seq}`;
      out.push({
        key, sig: signature(message, { state, grouped, conversation: c }),
        element: () => renderMessage(message, { conversation: c, grouped, state, actions }),
      });
      previous = message;
    }
    return out;
  }

  let lastCount = 0;
  function drawLog({ keepBottom = false } = {}) {
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    const anchor = firstVisible();
    const wanted = items();
    const keys = new Set(wanted.map((i) => i.key));
    for (const [key, entry] of elements) {
      if (!keys.has(key)) { entry.element.remove(); elements.delete(key); }
    }
    let cursor = list.firstChild;
    for (const item of wanted) {
      let entry = elements.get(item.key);
      if (entry && entry.sig !== item.sig) {
        const fresh = item.element();
        if (cursor === entry.element) cursor = fresh;
        entry.element.replaceWith(fresh);
        entry.element = fresh;
        entry.sig = item.sig;
      } else if (!entry) {
        entry = { element: item.element(), sig: item.sig };
        elements.set(item.key, entry);
      }
      if (entry.element === cursor) cursor = cursor.nextSibling;
      else list.insertBefore(entry.element, cursor);
    }
    const entry = timeline(id);
    loader.textContent = entry.reachedStart ? '' : 'Loading earlier messages…';
    loader.classList.toggle('start', entry.reachedStart);
    if (entry.reachedStart) {
      loader.replaceChildren(h('p', { class: 'log-beginning', text: `This is the beginning of your conversation${peerOf(conversation()) ? ` with ${titleOf(conversation())}` : ''}.` }));
    }
    if (keepBottom || atBottom || lastCount === 0) {
      log.scrollTop = log.scrollHeight;
    } else if (anchor) {
      // History was added above: keep what the reader was looking at where it was.
      log.scrollTop += anchor.element.getBoundingClientRect().top - anchor.top;
    }
    lastCount = wanted.length;
  }

  function firstVisible() {
    const top = log.getBoundingClientRect().top;
    // Messages only: a day separator stays first when older messages of that day arrive.
    for (const child of list.querySelectorAll('.msg')) {
      const rect = child.getBoundingClientRect();
      if (rect.bottom > top) return { element: child, top: rect.top };
    }
    return null;
  }

  // Older history when the top comes into view.
  const observer = new IntersectionObserver(async (entries) => {
    if (!entries.some((e) => e.isIntersecting)) return;
    try {
      if (await chat.loadOlder(id)) {
        // Observing afresh reports the loader again if it is still in view (a short page).
        requestAnimationFrame(() => { observer.unobserve(loader); observer.observe(loader); });
      }
    } catch (error) {
      loader.textContent = 'Could not load earlier messages.';
    }
  }, { root: log, rootMargin: '200px 0px 0px 0px' });
  observer.observe(loader);
  cleanups.push(() => observer.disconnect());

  // Keyboard: the log is one Tab stop. Arrow keys move between messages; the controls of the
  // message in focus (reactions, actions, links) join the Tab order while it has focus.
  log.addEventListener('keydown', (event) => {
    if (!['ArrowUp', 'ArrowDown', 'Home', 'End'].includes(event.key)) return;
    if (event.target.closest('textarea, .reaction-picker')) return;
    const messages = [...list.querySelectorAll('.msg')];
    if (!messages.length) return;
    const current = event.target.closest('.msg');
    let at = current ? messages.indexOf(current) : messages.length;
    if (event.key === 'ArrowUp') at = Math.max(0, at - 1);
    if (event.key === 'ArrowDown') at = Math.min(messages.length - 1, at + 1);
    if (event.key === 'Home') at = 0;
    if (event.key === 'End') at = messages.length - 1;
    event.preventDefault();
    messages[at].focus();
  });
  log.addEventListener('focusin', (event) => {
    const message = event.target.closest('.msg');
    if (!message) return;
    for (const control of message.querySelectorAll('[data-inner]')) control.tabIndex = 0;
  });
  log.addEventListener('focusout', (event) => {
    const message = event.target.closest('.msg');
    if (!message || message.contains(event.relatedTarget)) return;
    for (const control of message.querySelectorAll('[data-inner]')) control.tabIndex = -1;
  });

  // ---- actions on messages -------------------------------------------------------------------

  const actions = {
    react: (message, emoji) => chat.toggleReaction(message, emoji).catch((e) => toast(e.friendly || e.message, { kind: 'error' })),
    pickReaction: (message, anchor) => pickReaction(message, anchor),
    edit: (message) => startEdit(message),
    remove: (message) => confirmDelete(message),
    retry: (clientMessageId) => chat.retry(clientMessageId),
    discard: (clientMessageId) => chat.discard(clientMessageId),
    openImage: (item) => openImage(item),
  };

  function pickReaction(message, anchor) {
    document.querySelector('.reaction-picker')?.remove();
    const close = () => { picker.remove(); anchor.focus(); };
    const picker = h('div', { class: 'reaction-picker', role: 'menu', 'aria-label': 'Pick a reaction' },
      QUICK_REACTIONS.map((emoji) => h('button', {
        type: 'button', role: 'menuitem', class: 'emoji-choice', 'aria-label': `React with ${emoji}`, text: emoji,
        onclick: () => { actions.react(message, emoji); close(); },
      })));
    picker.addEventListener('keydown', (event) => {
      const buttons = [...picker.querySelectorAll('button')];
      const at = buttons.indexOf(document.activeElement);
      if (event.key === 'Escape') { event.preventDefault(); close(); }
      if (event.key === 'ArrowRight') { event.preventDefault(); buttons[(at + 1) % buttons.length].focus(); }
      if (event.key === 'ArrowLeft') { event.preventDefault(); buttons[(at - 1 + buttons.length) % buttons.length].focus(); }
    });
    picker.addEventListener('focusout', (event) => { if (!picker.contains(event.relatedTarget)) picker.remove(); });
    anchor.closest('.msg-body').appendChild(picker);
    picker.querySelector('button').focus();
  }

  function startEdit(message) {
    const article = list.querySelector(`[data-seq="${message.seq}"]`);
    const bubble = article?.querySelector('.bubble');
    if (!bubble) return;
    const input = h('textarea', { class: 'edit-input', 'aria-label': 'Edit message', rows: 2 });
    input.value = message.content || '';
    const error = h('p', { class: 'form-error', role: 'alert' });
    const save = async () => {
      const content = input.value.trim();
      if (!content || content === message.content) { cancel(); return; }
      try {
        await chat.edit(message, content);
        invalidate(message);
        drawLog();
        composer.focus();
      } catch (failure) {
        error.textContent = failure.code === 'conflict' || failure.status === 409
          ? 'This message changed meanwhile; reopen it to edit the latest version.'
          : failure.friendly || failure.message;
      }
    };
    const cancel = () => { invalidate(message); drawLog(); composer.focus(); };
    const form = h('div', { class: 'edit-box' }, input, error,
      h('div', { class: 'edit-actions' },
        h('span', { class: 'hint', text: 'Enter to save · Esc to cancel' }),
        h('button', { type: 'button', class: 'button', text: 'Cancel', onclick: cancel }),
        h('button', { type: 'button', class: 'button primary', text: 'Save', onclick: save })));
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); save(); }
      if (event.key === 'Escape') { event.preventDefault(); event.stopPropagation(); cancel(); }
    });
    bubble.replaceWith(form);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  /** Forgets a message's element so the next draw makes it afresh (after editing in place). */
  function invalidate(message) {
    for (const key of [`s:${message.seq}`, `m:${message.clientMessageId}`]) {
      elements.get(key)?.element.remove();
      elements.delete(key);
    }
  }

  function editLast() {
    const mine = [...timeline(id).bySeq.values()]
      .filter((m) => m.senderId === store.me.id && !m.deleted && m.content)
      .sort((a, b) => b.seq - a.seq)[0];
    if (mine) startEdit(mine);
  }

  function confirmDelete(message) {
    const { body, close } = openDialog('Delete message?');
    const error = h('p', { class: 'form-error', role: 'alert' });
    const confirm = h('button', {
      type: 'button', class: 'button danger', text: 'Delete for everyone',
      onclick: async () => {
        try { await chat.remove(message); close(); announce('Message deleted'); } catch (e) { error.textContent = e.friendly || e.message; }
      },
    });
    body.append(
      h('p', { text: 'The message will be removed for everyone in this conversation. This cannot be undone.' }),
      error,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'button', text: 'Cancel', onclick: close }), confirm));
    confirm.focus();
  }

  async function openImage(item) {
    const { body, dialog } = openDialog(item.filename, { wide: true });
    dialog.classList.add('lightbox');
    const img = h('img', { alt: item.filename, class: 'lightbox-image' });
    body.append(img, h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'button', onclick: () => download(item) }, svgIcon(icons.download, { size: 16 }), ' Download')));
    const hasPreview = item.variants?.some((v) => v.name === 'preview');
    try {
      img.src = await api.mediaBlobUrl(item.id, hasPreview ? 'preview' : undefined);
    } catch {
      img.alt = 'The image could not be loaded.';
    }
  }

  // ---- typing --------------------------------------------------------------------------------

  function drawTyping() {
    const people = [...(store.typing.get(id)?.values() || [])].map((t) => t.name || 'Someone');
    if (!people.length) { typing.replaceChildren(); return; }
    const who = people.length === 1 ? `${people[0]} is typing`
      : people.length === 2 ? `${people[0]} and ${people[1]} are typing` : 'Several people are typing';
    typing.replaceChildren(h('span', { class: 'dots', 'aria-hidden': 'true' }, h('span'), h('span'), h('span')), h('span', { text: `${who}…` }));
  }

  // ---- wiring --------------------------------------------------------------------------------

  cleanups.push(subscribe('messages', (cid) => { if (cid === id) drawLog(); }));
  cleanups.push(subscribe('conversations', () => drawHead()));
  cleanups.push(subscribe('presence', () => drawHead()));
  cleanups.push(subscribe('typing', (cid) => { if (cid === id) drawTyping(); }));
  cleanups.push(subscribe('sent', (cid) => { if (cid === id) drawLog({ keepBottom: true }); }));
  cleanups.push(composer.destroy);

  drawHead();
  drawLog({ keepBottom: true });
  drawTyping();

  return {
    destroy: () => cleanups.forEach((fn) => fn()),
    focusComposer: () => composer.focus(),
    /** Scrolls to a message (from search), loading older pages until it is there. */
    async reveal(seq) {
      for (let i = 0; i < 30 && !timeline(id).bySeq.has(seq); i += 1) {
        if (!(await chat.loadOlder(id))) break;
      }
      const article = list.querySelector(`[data-seq="${seq}"]`);
      if (!article) return;
      article.scrollIntoView({ block: 'center' });
      article.classList.add('flash');
      setTimeout(() => article.classList.remove('flash'), 2500);
    },
  };
}
