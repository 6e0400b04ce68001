// Starting a conversation from the directory: pick one person for a direct message, or several
// (and a name) for a group.
import { h, debounce, replaceChildren } from '../dom.js';
import * as api from '../api.js';
import * as chat from '../chat.js';
import { store } from '../store.js';
import { avatar, openDialog, presenceText } from './common.js';
import { field, errorLine, busy } from './forms.js';

export function openNewConversation({ onCreated }) {
  const { body, close } = openDialog('New conversation', { labelId: 'new-conversation-title' });
  const chosen = new Map(); // id → user
  const search = field('Find people', { type: 'search', autocomplete: 'off', placeholder: 'Name or username', id: 'directory-search' });
  const list = h('ul', { class: 'people', 'aria-label': 'People' });
  const chips = h('div', { class: 'chips', 'aria-live': 'polite' });
  const groupName = field('Group name', { maxlength: 100, placeholder: 'e.g. Lab team' });
  groupName.hidden = true;
  const error = errorLine();
  const create = h('button', { type: 'button', class: 'button primary', text: 'Start chat', disabled: true });

  body.append(search, chips, list, groupName, error,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'button', text: 'Cancel', onclick: close }), create));

  function drawChosen() {
    replaceChildren(chips, [...chosen.values()].map((u) => h('span', { class: 'chip' }, u.displayName)));
    const n = chosen.size;
    create.disabled = n === 0;
    groupName.hidden = n < 2;
    create.textContent = n < 2 ? 'Start chat' : `Create group (${n + 1} people)`;
  }

  let token = 0;
  const load = debounce(async () => {
    const mine = ++token;
    const q = search.input.value.trim();
    try {
      const page = await api.get('/users', { query: { q: q || undefined, limit: 50 } });
      if (mine !== token) return;
      const people = page.items.filter((u) => u.id !== store.me.id && !u.deleted);
      for (const u of people) {
        store.users.set(u.id, { ...store.users.get(u.id), ...u });
        store.presence.set(u.id, u.presence);
      }
      replaceChildren(list, people.length ? people.map((u) => {
        const id = `pick-${u.id}`;
        const box = h('input', { type: 'checkbox', id, checked: chosen.has(u.id) });
        box.addEventListener('change', () => {
          if (box.checked) chosen.set(u.id, u); else chosen.delete(u.id);
          drawChosen();
        });
        return h('li', { class: 'person' },
          box,
          h('label', { for: id },
            avatar({ id: u.id, name: u.displayName, avatarMediaId: u.avatarMediaId, presence: true }),
            h('span', { class: 'person-text' },
              h('span', { class: 'person-name', text: u.displayName }),
              h('span', { class: 'person-sub', text: `@${u.username} · ${presenceText[u.presence] || 'Offline'}${u.statusText ? ` · ${u.statusText}` : ''}` }))));
      }) : [h('li', { class: 'muted', text: q ? 'Nobody by that name.' : 'Nobody else is here yet.' })]);
    } catch (failure) {
      if (mine === token) replaceChildren(list, h('li', { class: 'muted', role: 'alert', text: failure.friendly }));
    }
  }, 200);

  search.input.addEventListener('input', load);
  // Enter in the search picks the only match: keyboard users need not tab through the list.
  search.input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    const boxes = list.querySelectorAll('input[type=checkbox]');
    if (boxes.length === 1 && !boxes[0].checked) boxes[0].click();
    else if (!create.disabled) create.click();
  });

  create.addEventListener('click', async () => {
    const memberIds = [...chosen.keys()];
    const type = memberIds.length === 1 ? 'dm' : 'group';
    try {
      const conversation = await busy(create, error, () => chat.startConversation({ type, memberIds, name: groupName.input.value.trim() }));
      close();
      onCreated(conversation.id);
    } catch { /* shown in the error line */ }
  });

  load();
  search.input.focus();
}
