// A group's details, opened from the conversation's header: its name (owners and admins rename
// it), who may post (announcements only, slow mode), the members with their roles and presence,
// adding people from the directory, removing them, and leaving. The server holds the role
// rules; when it refuses (403) its message is shown as it is. Live changes redraw the dialog.
import { h, debounce, replaceChildren, announce } from '../dom.js';
import * as api from '../api.js';
import * as chat from '../chat.js';
import { store, subscribe, titleOf, nameOf } from '../store.js';
import { avatar, openDialog, presenceText } from './common.js';
import { field, errorLine, busy } from './forms.js';

const ROLE_NAMES = { owner: 'Owner', admin: 'Admin', member: 'Member' };
const ROLE_ORDER = { owner: 0, admin: 1, member: 2 };
const SLOW_MODES = [[0, 'Off'], [10, '10 seconds'], [30, '30 seconds'], [60, '1 minute'],
  [300, '5 minutes'], [900, '15 minutes'], [3600, '1 hour']];

export function slowModeText(seconds) {
  const known = SLOW_MODES.find(([value]) => value === seconds);
  if (known) return known[1];
  return seconds < 60 ? `${seconds} seconds` : `${Math.round(seconds / 60)} minutes`;
}

export function openGroupDetails(conversationId) {
  const conversation = () => store.conversations.get(conversationId);
  const myRole = () => conversation()?.members?.find((m) => m.userId === store.me?.id)?.role || 'member';
  const manages = () => ['owner', 'admin'].includes(myRole());

  const { dialog, body, close } = openDialog('Group details', { labelId: 'group-details-title' });
  dialog.classList.add('group-details');

  // ---- the name ------------------------------------------------------------------------------

  const heroAvatar = h('span', { class: 'details-avatar' });
  const heroName = h('h3', { class: 'details-name' });
  const heroSub = h('p', { class: 'details-sub muted' });
  const hero = h('div', { class: 'details-hero' }, heroAvatar, h('div', { class: 'details-hero-text' }, heroName, heroSub));

  const nameField = field('Group name', { maxlength: 100, autocomplete: 'off', id: 'group-name' });
  const nameError = errorLine();
  const saveName = h('button', { type: 'submit', class: 'button primary', text: 'Rename' });
  const renameForm = h('form', { class: 'rename' }, h('div', { class: 'rename-row' }, nameField, saveName), nameError);
  let nameDirty = false;
  nameField.input.addEventListener('input', () => { nameDirty = true; });
  renameForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = nameField.input.value.trim();
    if (!name) { nameError.textContent = 'A group needs a name.'; return; }
    if (name === conversation()?.name) return;
    try {
      await busy(saveName, nameError, () => chat.updateConversation(conversationId, { name }));
      nameDirty = false;
      announce(`Renamed to ${name}`);
      draw();
    } catch { /* shown in the error line */ }
  });

  // ---- who may post --------------------------------------------------------------------------

  const readOnlyBox = h('input', { type: 'checkbox', id: 'group-read-only' });
  const slowSelect = h('select', { id: 'group-slow-mode', class: 'select' });
  const floorError = errorLine();
  const floorControls = h('div', { class: 'floor' },
    h('div', { class: 'check' }, readOnlyBox,
      h('label', { for: 'group-read-only' },
        h('span', { class: 'check-title', text: 'Announcements only' }),
        h('span', { class: 'hint', text: 'Only owners and admins can post.' }))),
    h('div', { class: 'field slow-field' },
      h('label', { for: 'group-slow-mode', text: 'Slow mode' }),
      slowSelect,
      h('p', { class: 'hint', text: 'How often each member may post. Owners and admins are exempt.' })),
    floorError);
  const floorText = h('ul', { class: 'floor-text' });
  const floorSection = h('section', { class: 'details-section', 'aria-labelledby': 'group-floor-title' },
    h('h3', { class: 'section-title', id: 'group-floor-title', text: 'Who may post' }), floorControls, floorText);

  async function changeFloor(changes) {
    floorError.textContent = '';
    readOnlyBox.disabled = true;
    slowSelect.disabled = true;
    try {
      await chat.updateConversation(conversationId, changes);
      announce('Saved');
    } catch (error) {
      const text = error.friendly || error.message;
      floorError.textContent = text.charAt(0).toUpperCase() + text.slice(1);
    } finally {
      readOnlyBox.disabled = false;
      slowSelect.disabled = false;
      draw();
    }
  }
  readOnlyBox.addEventListener('change', () => changeFloor({ readOnly: readOnlyBox.checked }));
  slowSelect.addEventListener('change', () => changeFloor({ slowModeSeconds: Number(slowSelect.value) }));

  // ---- members -------------------------------------------------------------------------------

  const membersTitle = h('h3', { class: 'section-title', id: 'group-members-title' });
  const addButton = h('button', { type: 'button', class: 'button small', text: 'Add people', 'aria-expanded': 'false', 'aria-controls': 'group-add' });
  const memberList = h('ul', { class: 'members', 'aria-labelledby': 'group-members-title' });
  const memberError = errorLine();

  const addSearch = field('Find people to add', { type: 'search', autocomplete: 'off', placeholder: 'Name or username', id: 'group-add-search' });
  const addList = h('ul', { class: 'people add-people', 'aria-label': 'People to add' });
  const addPanel = h('div', { class: 'add-panel', id: 'group-add', hidden: true }, addSearch, addList);
  addButton.addEventListener('click', () => {
    addPanel.hidden = !addPanel.hidden;
    addButton.setAttribute('aria-expanded', String(!addPanel.hidden));
    addButton.textContent = addPanel.hidden ? 'Add people' : 'Done';
    if (!addPanel.hidden) { findPeople(); addSearch.input.focus(); }
  });

  let searchToken = 0;
  const findPeople = debounce(async () => {
    const mine = ++searchToken;
    const q = addSearch.input.value.trim();
    try {
      const page = await api.get('/users', { query: { q: q || undefined, limit: 30 } });
      if (mine !== searchToken) return;
      const members = new Set((conversation()?.members || []).map((m) => m.userId));
      const people = page.items.filter((u) => !members.has(u.id) && !u.deleted);
      for (const u of people) {
        store.users.set(u.id, { ...store.users.get(u.id), ...u });
        if (u.presence) store.presence.set(u.id, u.presence);
      }
      replaceChildren(addList, people.length ? people.map((u) => {
        const add = h('button', { type: 'button', class: 'button small primary', text: 'Add', 'aria-label': `Add ${u.displayName}` });
        add.addEventListener('click', async () => {
          try {
            await busy(add, memberError, () => chat.addMembers(conversationId, [u.id]));
            announce(`${u.displayName} added`);
            findPeople();
          } catch { /* shown in the error line */ }
        });
        return h('li', { class: 'person' },
          avatar({ id: u.id, name: u.displayName, avatarMediaId: u.avatarMediaId, presence: true }),
          h('span', { class: 'person-text' },
            h('span', { class: 'person-name', text: u.displayName }),
            h('span', { class: 'person-sub', text: `@${u.username} · ${presenceText[u.presence] || 'Offline'}` })),
          add);
      }) : [h('li', { class: 'muted', text: q ? 'Nobody by that name who is not here already.' : 'Everyone is here already.' })]);
    } catch (error) {
      if (mine === searchToken) replaceChildren(addList, h('li', { class: 'muted', role: 'alert', text: error.friendly }));
    }
  }, 200);
  addSearch.input.addEventListener('input', findPeople);

  async function act(button, task, done) {
    try {
      await busy(button, memberError, task);
      if (done) announce(done);
    } catch { /* shown in the error line */ }
  }

  function memberRow(member) {
    const c = conversation();
    const me = member.userId === store.me?.id;
    const name = me ? store.me.displayName : nameOf(member.userId, c);
    const user = store.users.get(member.userId);
    const status = store.presence.get(member.userId) || 'offline';
    const controls = [];
    if (!me && manages()) {
      if (myRole() === 'owner' && member.role !== 'owner') {
        const promote = member.role === 'admin';
        const roleButton = h('button', {
          type: 'button', class: 'button small', text: promote ? 'Remove admin' : 'Make admin',
          'aria-label': `${promote ? 'Remove admin role of' : 'Make admin:'} ${name}`,
        });
        roleButton.addEventListener('click', () => act(roleButton,
          () => chat.setRole(conversationId, member.userId, promote ? 'member' : 'admin'),
          `${name} is ${promote ? 'a member' : 'an admin'} now`));
        controls.push(roleButton);
      }
      const remove = h('button', { type: 'button', class: 'button small danger', text: 'Remove', 'aria-label': `Remove ${name}` });
      remove.addEventListener('click', () => act(remove,
        () => chat.removeMember(conversationId, member.userId), `${name} removed`));
      controls.push(remove);
    }
    return h('li', { class: 'person member', dataset: { userId: member.userId } },
      avatar({ id: member.userId, name, avatarMediaId: member.avatarMediaId, presence: true }),
      h('span', { class: 'person-text' },
        h('span', { class: 'person-name' }, name, me ? h('span', { class: 'you', text: ' (you)' }) : null),
        h('span', { class: 'person-sub', text: [presenceText[status], user?.username ? `@${user.username}` : null].filter(Boolean).join(' · ') })),
      member.role !== 'member' ? h('span', { class: `role role-${member.role}`, text: ROLE_NAMES[member.role] || member.role }) : null,
      controls.length ? h('span', { class: 'member-actions' }, controls) : null);
  }

  // ---- leaving -------------------------------------------------------------------------------

  const leaveError = errorLine();
  const leaveButton = h('button', { type: 'button', class: 'button danger', text: 'Leave group' });
  const leaveBox = h('div', { class: 'leave' }, leaveButton);
  leaveButton.addEventListener('click', () => {
    const confirm = h('button', { type: 'button', class: 'button danger', text: 'Leave' });
    const cancel = h('button', { type: 'button', class: 'button', text: 'Stay' });
    replaceChildren(leaveBox,
      h('p', { class: 'leave-question', text: 'Leave this group? You will stop receiving its messages; someone here can add you back.' }),
      h('div', { class: 'dialog-actions' }, cancel, confirm));
    cancel.addEventListener('click', () => { replaceChildren(leaveBox, leaveButton); leaveButton.focus(); });
    confirm.addEventListener('click', async () => {
      try {
        await busy(confirm, leaveError, () => chat.removeMember(conversationId, store.me.id));
        close();
      } catch { /* shown in the error line */ }
    });
    confirm.focus();
  });

  body.append(
    hero,
    renameForm,
    floorSection,
    h('section', { class: 'details-section', 'aria-labelledby': 'group-members-title' },
      h('div', { class: 'section-head' }, membersTitle, addButton),
      addPanel, memberError, memberList),
    h('section', { class: 'details-section leave-section' }, leaveBox, leaveError));

  // ---- drawing -------------------------------------------------------------------------------

  function draw() {
    const c = conversation();
    if (!c) { close(); return; }
    const members = [...(c.members || [])].sort((a, b) => (ROLE_ORDER[a.role] ?? 3) - (ROLE_ORDER[b.role] ?? 3)
      || nameOf(a.userId, c).localeCompare(nameOf(b.userId, c)));
    const title = titleOf(c);
    const online = members.filter((m) => store.presence.get(m.userId) === 'online').length;
    heroAvatar.replaceChildren(avatar({ id: c.id, name: title, group: true, size: 'lg' }));
    heroName.textContent = title;
    heroSub.textContent = `${members.length} member${members.length === 1 ? '' : 's'}${online ? ` · ${online} online` : ''} · you are ${myRole() === 'member' ? 'a member' : `an ${myRole()}`}`;

    renameForm.hidden = !manages();
    if (!nameDirty && document.activeElement !== nameField.input) nameField.input.value = c.name || '';

    const slow = c.slowModeSeconds || 0;
    floorControls.hidden = !manages();
    readOnlyBox.checked = Boolean(c.readOnly);
    const options = SLOW_MODES.some(([value]) => value === slow) ? SLOW_MODES : [...SLOW_MODES, [slow, slowModeText(slow)]];
    replaceChildren(slowSelect, options.map(([value, label]) => h('option', { value: String(value), text: label })));
    slowSelect.value = String(slow);
    replaceChildren(floorText, manages() ? [] : [
      h('li', { text: c.readOnly ? 'Announcements only: owners and admins post here.' : 'Everyone here can post.' }),
      slow ? h('li', { text: `Slow mode: members post once every ${slowModeText(slow)}.` }) : null,
    ]);

    membersTitle.textContent = `Members (${members.length})`;
    addButton.hidden = !manages();
    if (!manages()) addPanel.hidden = true;
    const focused = document.activeElement?.closest?.('.member')?.dataset.userId;
    replaceChildren(memberList, members.map(memberRow));
    if (focused) memberList.querySelector(`.member[data-user-id="${focused}"] button`)?.focus();
  }

  const cleanups = [
    subscribe('conversations', draw),
    subscribe('presence', draw),
  ];
  dialog.addEventListener('close', () => cleanups.forEach((f) => f()));
  draw();
  // Fresh roles and presence (the list's copy may be older).
  chat.refreshDetails(conversationId);
  (manages() ? nameField.input : dialog.querySelector('.dialog-head button')).focus();
}
