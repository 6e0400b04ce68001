// The signed-in screen: the sidebar, the open conversation (or a welcome), the offline banner,
// and the keyboard shortcuts that tie them together.
import { h, svgIcon, replaceChildren, announce, toast } from '../dom.js';
import { icons } from '../icons.js';
import * as chat from '../chat.js';
import * as outbox from '../outbox.js';
import { store, subscribe, titleOf } from '../store.js';
import { renderSidebar } from './sidebar.js';
import { renderConversation } from './conversation.js';
import { openNewConversation } from './newchat.js';
import { openSettings } from './settings.js';

export function renderApp(root, { onSignOut }) {
  const banner = h('div', { class: 'offline-banner', role: 'status', hidden: true });
  const pane = h('div', { class: 'pane' });
  const main = h('main', { class: 'chat', id: 'main', 'aria-label': 'Conversation' }, banner, pane);
  let view = null;

  const sidebar = renderSidebar({
    onOpen: (id) => open(id),
    onNewConversation: () => openNewConversation({ onCreated: (id) => open(id, { focus: true }) }),
    onSettings: () => openSettings({ onSignOut }),
    onSearchResult: async (message) => {
      await open(message.conversationId);
      await view?.reveal(message.seq);
    },
  });

  const shell = h('div', { class: 'app' },
    h('a', {
      class: 'skip-link', href: '#composer-input', text: 'Skip to the message box',
      onclick: (event) => {
        const composer = document.getElementById('composer-input');
        if (composer) { event.preventDefault(); composer.focus(); } else { event.preventDefault(); sidebar.focusSearch(); }
      },
    }),
    sidebar.element, main);
  replaceChildren(root, shell);

  function welcome() {
    return h('div', { class: 'welcome' },
      h('img', { src: '/app/icons/logo.svg', alt: '', width: 64, height: 64 }),
      h('h2', { text: `Welcome${store.me ? `, ${store.me.displayName.split(' ')[0]}` : ''}` }),
      h('p', { text: 'Pick a conversation on the left, or start a new one with anyone in your workspace.' }),
      h('button', { type: 'button', class: 'button primary', onclick: () => openNewConversation({ onCreated: (id) => open(id, { focus: true }) }) },
        svgIcon(icons.plus, { size: 16 }), ' New conversation'));
  }

  async function open(id, { focus = true } = {}) {
    if (!store.conversations.has(id)) await chat.loadConversations().catch(() => {});
    if (!store.conversations.has(id)) { toast('That conversation is not available.', { kind: 'error' }); return; }
    view?.destroy();
    shell.classList.add('showing-chat');
    view = renderConversation(pane, id, { onBack: back });
    history.replaceState(null, '', `/?c=${encodeURIComponent(id)}`);
    document.title = `${titleOf(store.conversations.get(id))} · ChemChat`;
    if (focus) view.focusComposer();
    try {
      await chat.open(id);
    } catch (error) {
      toast(error.friendly || 'Could not load this conversation.', { kind: 'error' });
    }
  }

  /** The open conversation went away (left, removed): back to the welcome. */
  function closeView() {
    document.querySelector('dialog.group-details')?.close();
    view?.destroy();
    view = null;
    store.activeId = null;
    shell.classList.remove('showing-chat');
    replaceChildren(pane, welcome());
    history.replaceState(null, '', '/');
    document.title = 'ChemChat';
  }

  function back() {
    shell.classList.remove('showing-chat');
    sidebar.element.querySelector('.conv.active')?.focus();
  }

  // ---- the offline banner --------------------------------------------------------------------

  let countdown = null;
  let shownAt = 0;
  function drawBanner() {
    clearInterval(countdown);
    if (store.connected) {
      if (!banner.hidden) {
        banner.hidden = true;
        if (Date.now() - shownAt > 1500) announce('Back online');
      }
      return;
    }
    // A short blip is not worth a banner; a dead server or network is.
    setTimeout(() => {
      if (store.connected) return;
      const draw = () => {
        const queued = outbox.all().length;
        const seconds = store.nextRetryAt ? Math.max(0, Math.ceil((store.nextRetryAt - Date.now()) / 1000)) : 0;
        replaceChildren(banner,
          svgIcon(icons.wifiOff, { size: 18 }),
          h('span', { class: 'banner-text' },
            h('strong', { text: navigator.onLine ? 'Connection lost. ' : 'You are offline. ' }),
            queued ? `${queued} message${queued > 1 ? 's' : ''} will be sent when the connection is back. ` : 'Messages you send will go out when the connection is back. ',
            seconds ? `Reconnecting in ${seconds} s…` : 'Reconnecting…'),
          h('button', { type: 'button', class: 'button small', text: 'Retry now', onclick: () => chat.socket.retryNow() }));
      };
      if (banner.hidden) {
        shownAt = Date.now();
        banner.hidden = false;
        draw();
      } else draw();
      countdown = setInterval(draw, 1000);
    }, store.everConnected ? 1200 : 2500);
  }

  // ---- keyboard shortcuts --------------------------------------------------------------------

  const onKey = (event) => {
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key.toLowerCase() === 'k') {
      event.preventDefault();
      sidebar.focusSearch();
    } else if (event.altKey && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
      // Alt+↑/↓: previous or next conversation from anywhere.
      const buttons = [...sidebar.element.querySelectorAll('.conv')];
      const at = buttons.findIndex((b) => b.dataset.id === store.activeId);
      const next = buttons[at + (event.key === 'ArrowDown' ? 1 : -1)];
      if (next) { event.preventDefault(); open(next.dataset.id); }
    }
  };
  document.addEventListener('keydown', onKey);

  // The service worker asks us to open a conversation (a notification was clicked).
  const onWorkerMessage = (event) => {
    if (event.data?.type === 'open-conversation') open(event.data.conversationId);
  };
  navigator.serviceWorker?.addEventListener('message', onWorkerMessage);

  const cleanups = [
    subscribe('connection', drawBanner),
    subscribe('messages', (id) => { if (!store.connected && id) drawBanner(); }),
    subscribe('removed', ({ id, title, by }) => {
      if (id !== store.activeId) {
        if (by && by !== store.me?.id) toast(`You were removed from ${title}.`);
        return;
      }
      closeView();
      toast(by === store.me?.id ? `You left ${title}.` : `You are no longer in ${title}.`);
    }),
    subscribe('active', () => {
      if (store.activeId && !store.conversations.has(store.activeId)) closeView();
    }),
  ];

  replaceChildren(pane, welcome());
  return {
    open,
    destroy() {
      view?.destroy();
      sidebar.destroy();
      cleanups.forEach((f) => f());
      document.removeEventListener('keydown', onKey);
      navigator.serviceWorker?.removeEventListener('message', onWorkerMessage);
    },
  };
}
