// The left column: who you are, the conversation list (live unread badges, last message,
// presence dots) and the search box, which filters the list and searches messages.
import { h, svgIcon, markText, highlightNodes, debounce, replaceChildren } from '../dom.js';
import { icons } from '../icons.js';
import { listTime, clock } from '../format.js';
import * as api from '../api.js';
import * as chat from '../chat.js';
import * as theme from '../theme.js';
import { store, subscribe, sortedConversations, titleOf, peerOf, nameOf } from '../store.js';
import { avatar, iconButton, presenceText } from './common.js';

export function renderSidebar({ onOpen, onNewConversation, onSettings, onSearchResult }) {
  const meButton = h('button', { type: 'button', class: 'me', onclick: onSettings });
  const themeButton = iconButton('moon', 'Switch to dark theme', { onclick: () => { theme.toggle(); drawTheme(); } });
  const newButton = iconButton('plus', 'New conversation', { class: 'accent', onclick: onNewConversation });
  const settingsButton = iconButton('settings', 'Settings', { onclick: onSettings });

  const search = h('input', {
    type: 'search', id: 'sidebar-search', class: 'search-input', placeholder: 'Search conversations and messages',
    autocomplete: 'off', 'aria-controls': 'sidebar-results',
  });
  const list = h('ul', { class: 'conversation-list', 'aria-label': 'Conversations' });
  const results = h('div', { class: 'search-results', id: 'sidebar-results', hidden: true, 'aria-live': 'polite' });

  const element = h('aside', { class: 'sidebar', 'aria-label': 'Conversations and search' },
    h('header', { class: 'sidebar-head' }, meButton, h('div', { class: 'head-actions' }, themeButton, settingsButton, newButton)),
    h('div', { class: 'search' },
      h('label', { for: 'sidebar-search', class: 'visually-hidden', text: 'Search conversations and messages' }),
      svgIcon(icons.search, { size: 16 }),
      search),
    h('nav', { class: 'conversations', 'aria-label': 'Conversation list' }, list, results));

  function drawMe() {
    const me = store.me;
    if (!me) return;
    meButton.setAttribute('aria-label', `${me.displayName} — open settings`);
    replaceChildren(meButton,
      h('span', { class: 'avatar-wrap' }, avatar({ id: me.id, name: me.displayName, avatarMediaId: me.avatarMediaId }),
        h('span', { class: `presence presence-${store.connected ? 'online' : 'offline'}`, 'aria-hidden': 'true' })),
      h('span', { class: 'me-text' },
        h('span', { class: 'me-name', text: me.displayName }),
        h('span', { class: 'me-status', text: me.statusText || (store.connected ? 'Online' : 'Connecting…') })));
  }

  function drawTheme() {
    const dark = theme.effective() === 'dark';
    themeButton.replaceChildren(svgIcon(dark ? icons.sun : icons.moon));
    themeButton.setAttribute('aria-label', dark ? 'Switch to light theme' : 'Switch to dark theme');
    themeButton.title = themeButton.getAttribute('aria-label');
  }

  function preview(conversation) {
    const last = conversation.lastMessage;
    if (!last) return conversation.type === 'dm' ? 'Say hello 👋' : 'No messages yet';
    const who = last.senderId === store.me?.id ? 'You: ' : conversation.type === 'group' ? `${nameOf(last.senderId, conversation)}: ` : '';
    if (last.deleted || last.deletedAt) return `${who}Message deleted`;
    const files = Array.isArray(last.attachments) ? last.attachments.length : last.attachments || 0;
    const text = last.content || (files ? `📎 ${files === 1 ? 'Attachment' : `${files} attachments`}` : '');
    return who + text;
  }

  // What the server found for the query (`GET /search/conversations`): conversations the list
  // has not loaded, and DMs whose username (not shown here) matches.
  let found = { query: '', items: [] };

  function drawList() {
    const query = search.value.trim().toLowerCase();
    const conversations = sortedConversations().filter((c) => !query || titleOf(c).toLowerCase().includes(query));
    if (query && found.query === query) {
      const shown = new Set(conversations.map((c) => c.id));
      for (const hit of found.items) {
        if (shown.has(hit.id)) continue;
        shown.add(hit.id);
        conversations.push(store.conversations.get(hit.id) || { ...hit, found: true });
      }
    }
    const items = conversations.map((c) => {
      const peer = peerOf(c);
      const title = titleOf(c);
      const unread = c.unreadCount || 0;
      const active = c.id === store.activeId;
      const status = peer ? store.presence.get(peer.userId) || 'offline' : null;
      const pic = peer
        ? avatar({ id: peer.userId, name: title, avatarMediaId: peer.avatarMediaId, presence: true })
        : avatar({ id: c.id, name: title, group: true });
      const button = h('button', {
        type: 'button', class: `conv${active ? ' active' : ''}${unread ? ' unread' : ''}${c.found ? ' conv-found' : ''}`,
        dataset: { id: c.id }, 'aria-current': active ? 'true' : null,
        onclick: () => {
          if (c.found) chat.adopt(c);
          onOpen(c.id);
        },
      },
      pic,
      h('span', { class: 'conv-main' },
        h('span', { class: 'conv-top' },
          h('span', { class: 'conv-title' }, markText(title, query)),
          h('time', { class: 'conv-time', datetime: c.lastMessage?.timestamp || '', text: listTime(c.lastMessage?.timestamp || c.lastActivityAt) })),
        h('span', { class: 'conv-bottom' },
          h('span', { class: 'conv-preview', text: c.found ? 'Found on the server' : preview(c) }),
          unread ? h('span', { class: 'badge', text: unread > 99 ? '99+' : String(unread) }) : null)),
      h('span', { class: 'visually-hidden', text: [status ? presenceText[status] : null, unread ? `${unread} unread` : null].filter(Boolean).join(', ') }));
      return h('li', {}, button);
    });
    if (!items.length) {
      items.push(h('li', { class: 'empty-list' }, query
        ? h('p', { text: found.query === query ? 'No conversation has that name.' : 'Looking for conversations…' })
        : h('div', {}, h('p', { text: 'No conversations yet.' }),
          h('button', { type: 'button', class: 'button primary', onclick: onNewConversation, text: 'Start a conversation' }))));
    }
    // Keep focus on the same conversation across redraws (keyboard users move through the list).
    const focusedId = document.activeElement?.closest?.('.conv')?.dataset.id;
    replaceChildren(list, items);
    if (focusedId) list.querySelector(`.conv[data-id="${focusedId}"]`)?.focus();
  }

  // Up and down arrows move through the list.
  list.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const buttons = [...list.querySelectorAll('.conv')];
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    event.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, at + (event.key === 'ArrowDown' ? 1 : -1)))].focus();
  });

  // ---- searching messages --------------------------------------------------------------------

  let searchToken = 0;
  const searchMessages = debounce(async (query) => {
    const token = ++searchToken;
    if (query.length < 2) { results.hidden = true; results.replaceChildren(); return; }
    results.hidden = false;
    replaceChildren(results, h('h3', { class: 'section-title', text: 'Messages' }), h('p', { class: 'muted', text: 'Searching…' }));
    try {
      const page = await api.get('/search/messages', { query: { q: query, limit: 20 } });
      if (token !== searchToken) return;
      const hits = page.items.map((hit) => {
        const m = hit.message;
        const c = store.conversations.get(m.conversationId);
        const fragments = hit.highlights?.length ? hit.highlights : [m.content || ''];
        return h('li', {}, h('button', {
          type: 'button', class: 'hit', onclick: () => onSearchResult(m),
        },
        h('span', { class: 'hit-top' },
          h('span', { class: 'hit-where', text: c ? titleOf(c) : 'Conversation' }),
          h('time', { datetime: m.timestamp, text: listTime(m.timestamp) === clock(m.timestamp) ? clock(m.timestamp) : `${listTime(m.timestamp)}, ${clock(m.timestamp)}` })),
        h('span', { class: 'hit-text' },
          h('span', { class: 'hit-who', text: `${m.senderId === store.me?.id ? 'You' : nameOf(m.senderId, c)}: ` }),
          fragments.flatMap((f, i) => [i ? ' … ' : null, ...highlightNodes(f)]).filter(Boolean))));
      });
      replaceChildren(results,
        h('h3', { class: 'section-title', text: `Messages (${page.items.length}${page.nextCursor ? '+' : ''})` }),
        hits.length ? h('ul', { class: 'hits' }, hits) : h('p', { class: 'muted', text: 'No messages match.' }));
    } catch (error) {
      if (token !== searchToken) return;
      replaceChildren(results, h('p', { class: 'muted', role: 'alert', text: error.friendly }));
    }
  }, 300);

  let findToken = 0;
  const searchConversations = debounce(async (query) => {
    const token = ++findToken;
    if (!query) { found = { query: '', items: [] }; return; }
    try {
      const items = await chat.searchConversations(query);
      if (token !== findToken) return;
      found = { query: query.toLowerCase(), items };
    } catch {
      // Offline or refused: the local filter is all there is.
      if (token !== findToken) return;
      found = { query: query.toLowerCase(), items: [] };
    }
    drawList();
  }, 250);

  search.addEventListener('input', () => {
    drawList();
    searchConversations(search.value.trim());
    searchMessages(search.value.trim());
  });
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && search.value) {
      event.preventDefault();
      search.value = '';
      drawList();
      searchConversations('');
      searchMessages('');
    }
  });

  const cleanups = [
    subscribe('me', drawMe),
    subscribe('connection', drawMe),
    subscribe('conversations', drawList),
    subscribe('active', drawList),
    subscribe('presence', () => {
      for (const dot of element.querySelectorAll('[data-presence-of]')) {
        const status = store.presence.get(dot.dataset.presenceOf) || 'offline';
        dot.className = `presence presence-${status}`;
      }
    }),
  ];
  drawMe();
  drawTheme();
  drawList();
  return { element, focusSearch: () => search.focus(), destroy: () => cleanups.forEach((f) => f()) };
}
