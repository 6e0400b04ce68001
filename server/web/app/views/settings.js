// Settings: profile, password, two-factor authentication, notifications, appearance, and
// signing out. One dialog with tabs (arrow keys move between them).
import { h, replaceChildren, toast, svgIcon } from '../dom.js';
import { icons } from '../icons.js';
import * as api from '../api.js';
import * as theme from '../theme.js';
import * as push from '../push.js';
import { store, publish } from '../store.js';
import { avatar, openDialog } from './common.js';
import { field, checkbox, errorLine, busy, focusField } from './forms.js';

export function openSettings({ onSignOut, tab = 'profile' } = {}) {
  const { body } = openDialog('Settings', { wide: true, labelId: 'settings-title' });
  const tabs = [
    ['profile', 'Profile', profilePanel],
    ['password', 'Password', passwordPanel],
    ['security', 'Two-factor', securityPanel],
    ['notifications', 'Notifications', notificationsPanel],
    ['appearance', 'Appearance', appearancePanel],
    ['account', 'Sessions', (panel) => accountPanel(panel, onSignOut)],
  ];
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Settings sections', 'aria-orientation': 'vertical' });
  const panel = h('div', { class: 'tab-panel', role: 'tabpanel', tabindex: '0' });
  const buttons = tabs.map(([key, label, draw]) => {
    const button = h('button', {
      type: 'button', role: 'tab', id: `tab-${key}`, class: 'tab', 'aria-controls': 'settings-panel', text: label,
      onclick: () => select(key),
    });
    button.draw = draw;
    button.key = key;
    return button;
  });
  panel.id = 'settings-panel';
  tablist.append(...buttons);
  tablist.addEventListener('keydown', (event) => {
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const next = buttons[(at + step + buttons.length) % buttons.length];
    select(next.key);
    next.focus();
  });
  body.append(h('div', { class: 'settings' }, tablist, panel));

  function select(key) {
    for (const button of buttons) {
      const on = button.key === key;
      button.setAttribute('aria-selected', String(on));
      button.tabIndex = on ? 0 : -1;
      if (on) {
        panel.setAttribute('aria-labelledby', button.id);
        panel.replaceChildren();
        button.draw(panel);
      }
    }
  }
  select(tab);
  buttons.find((b) => b.key === tab).focus();
}

function section(title, ...children) {
  return h('section', { class: 'settings-section' }, h('h3', { text: title }), ...children);
}

function profilePanel(panel) {
  const me = store.me;
  const name = field('Display name', { value: me.displayName, maxlength: 64, autocomplete: 'name' });
  const status = field('Status', { value: me.statusText || '', maxlength: 140, placeholder: 'What are you up to?' }, 'Shown beside your name; leave empty for none.');
  const picture = h('span', { class: 'profile-avatar' }, avatar({ id: me.id, name: me.displayName, avatarMediaId: me.avatarMediaId, size: 'lg' }));
  const file = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/gif,image/webp', class: 'visually-hidden', id: 'avatar-file' });
  const progress = h('progress', { max: 100, value: 0, hidden: true, 'aria-label': 'Uploading picture' });
  const error = errorLine();
  const save = h('button', { type: 'submit', class: 'button primary', text: 'Save profile' });
  const form = h('form', { class: 'form', novalidate: true },
    h('div', { class: 'profile-row' }, picture,
      h('div', {},
        h('label', { class: 'button', for: 'avatar-file', tabindex: '0', role: 'button', text: 'Change picture',
          onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); file.click(); } } }),
        me.avatarMediaId ? h('button', { type: 'button', class: 'link', text: 'Remove', onclick: () => change({ avatarMediaId: null }) }) : null,
        file, progress)),
    name, status, error, save,
    h('p', { class: 'hint' }, `Signed in as @${me.username} · ${me.email}${me.emailVerified ? ' (confirmed)' : ''}`),
    me.emailVerified ? null : h('button', {
      type: 'button', class: 'link', text: 'Send me a confirmation mail',
      onclick: async (event) => {
        try { await api.post('/auth/email/verification'); toast('A confirmation link is on its way.'); } catch (e) {
          toast(e.code === 'mail_not_configured' ? 'This server does not send mail.' : e.friendly, { kind: 'error' });
        }
        event.target.blur();
      },
    }));

  async function change(body) {
    try {
      store.me = await busy(save, error, () => api.patch('/auth/me', body));
      publish('me');
      toast('Profile saved.');
      panel.replaceChildren();
      profilePanel(panel);
    } catch (failure) {
      focusField(form, failure, { displayName: name, statusText: status });
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    change({ displayName: name.input.value.trim(), statusText: status.input.value.trim() });
  });
  file.addEventListener('change', async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    progress.hidden = false;
    try {
      const item = await api.upload(chosen, { onProgress: (f) => { progress.value = Math.round(f * 100); } });
      // The picture must be processed before it can be an avatar.
      await api.waitUntilReady(item.id);
      await change({ avatarMediaId: item.id });
    } catch (failure) {
      error.textContent = failure.friendly || failure.message;
    } finally {
      progress.hidden = true;
    }
  });
  panel.append(section('Profile', form));
}

function passwordPanel(panel) {
  const current = field('Current password', { type: 'password', autocomplete: 'current-password' });
  const next = field('New password', { type: 'password', autocomplete: 'new-password', minlength: 12 }, 'At least 12 characters. Your other devices will be signed out.');
  const repeat = field('Repeat the new password', { type: 'password', autocomplete: 'new-password' });
  const error = errorLine();
  const save = h('button', { type: 'submit', class: 'button primary', text: 'Change password' });
  const form = h('form', { class: 'form', novalidate: true }, h('input', { type: 'text', autocomplete: 'username', value: store.me.username, hidden: true, 'aria-hidden': 'true', tabindex: '-1' }), current, next, repeat, error, save);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (next.input.value !== repeat.input.value) { error.textContent = 'The new passwords differ.'; repeat.input.focus(); return; }
    try {
      await busy(save, error, () => api.post('/auth/password', { currentPassword: current.input.value, newPassword: next.input.value }));
      form.reset();
      toast('Password changed. Your other devices were signed out.');
    } catch (failure) {
      focusField(form, failure, { currentPassword: current, newPassword: next, password: next });
    }
  });
  panel.append(section('Change password', form));
}

function securityPanel(panel) {
  const me = store.me;
  if (me.mfaEnabled) {
    const password = field('Password', { type: 'password', autocomplete: 'current-password' });
    const code = field('Code from your app', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 8 });
    const error = errorLine();
    const off = h('button', { type: 'submit', class: 'button danger', text: 'Turn off two-factor' });
    const form = h('form', { class: 'form', novalidate: true }, password, code, error, off);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await busy(off, error, () => api.post('/auth/mfa/disable', { password: password.input.value, token: code.input.value.replace(/\s/g, '') }));
        store.me = await api.get('/auth/me');
        toast('Two-factor authentication is off.');
        panel.replaceChildren(); securityPanel(panel);
      } catch { /* shown */ }
    });
    panel.append(section('Two-factor authentication',
      h('p', { class: 'status-ok' }, svgIcon(icons.check, { size: 16 }), ' On: signing in asks for a code from your authenticator app.'),
      form));
    return;
  }
  const start = h('button', { type: 'button', class: 'button primary', text: 'Set up two-factor' });
  const area = h('div');
  const error = errorLine();
  start.addEventListener('click', async () => {
    try {
      const setup = await busy(start, error, () => api.post('/auth/mfa/setup'));
      const password = field('Password', { type: 'password', autocomplete: 'current-password' });
      const code = field('6-digit code', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 8 });
      const confirmError = errorLine();
      const confirm = h('button', { type: 'submit', class: 'button primary', text: 'Turn on' });
      const form = h('form', { class: 'form', novalidate: true },
        h('ol', { class: 'steps' },
          h('li', { text: 'Open your authenticator app (1Password, Google Authenticator, Aegis…) and add an account.' }),
          h('li', {}, 'Enter this key: ', h('code', { class: 'secret', text: setup.secret.replace(/(.{4})/g, '$1 ').trim() }),
            ' — or open ', h('a', { href: setup.otpauthUri, text: 'the setup link' }), ' on this device.'),
          h('li', { text: 'Confirm with your password and the code the app shows.' })),
        password, code, confirmError, confirm);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        try {
          await busy(confirm, confirmError, () => api.post('/auth/mfa/enable', { password: password.input.value, secret: setup.secret, token: code.input.value.replace(/\s/g, '') }));
          store.me = await api.get('/auth/me');
          toast('Two-factor authentication is on.');
          panel.replaceChildren(); securityPanel(panel);
        } catch { /* shown */ }
      });
      replaceChildren(area, form);
      start.hidden = true;
      password.input.focus();
    } catch { /* shown */ }
  });
  panel.append(section('Two-factor authentication',
    h('p', { text: 'Protect your account with a code from an authenticator app each time you sign in on a new device.' }),
    start, error, area));
}

function notificationsPanel(panel) {
  const state = h('p', { class: 'hint', role: 'status' });
  const enable = h('button', { type: 'button', class: 'button primary', text: 'Turn on browser notifications' });
  const disable = h('button', { type: 'button', class: 'button', text: 'Turn off on this browser' });
  function drawState() {
    const permission = push.permission();
    state.textContent = permission === 'unsupported' ? 'This browser cannot show notifications from the web.'
      : permission === 'granted' ? 'Notifications are allowed in this browser.'
        : permission === 'denied' ? 'Notifications are blocked for this site; allow them in the browser’s site settings.'
          : 'You have not decided yet.';
    enable.hidden = permission === 'granted' || permission === 'unsupported';
    disable.hidden = permission !== 'granted';
  }
  enable.addEventListener('click', async () => {
    try {
      await busy(enable, null, () => push.enable());
      toast('Notifications are on for this browser.');
    } catch (error) {
      toast(error.friendly || error.message, { kind: 'error' });
    }
    drawState();
  });
  disable.addEventListener('click', async () => {
    try { await push.disable(); toast('This browser will no longer be notified.'); } catch (e) { toast(e.message, { kind: 'error' }); }
    drawState();
  });
  drawState();

  const level = h('select', { id: 'notify-level' },
    h('option', { value: 'all', text: 'Every message' }),
    h('option', { value: 'mentions', text: 'Direct messages and mentions' }),
    h('option', { value: 'none', text: 'Nothing' }));
  const quiet = checkbox('Quiet hours');
  const from = field('From', { type: 'time', value: '22:00' });
  const to = field('Until', { type: 'time', value: '07:00' });
  const email = checkbox('Email me about messages I missed');
  const error = errorLine();
  const save = h('button', { type: 'submit', class: 'button primary', text: 'Save preferences' });
  const hours = h('div', { class: 'row' }, from, to);
  const form = h('form', { class: 'form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'notify-level', text: 'Notify me about' }), level),
    quiet, hours, email, error, save);
  quiet.input.addEventListener('change', () => { hours.hidden = !quiet.input.checked; });
  api.get('/notifications/preferences').then((prefs) => {
    level.value = prefs.level || 'all';
    email.input.checked = prefs.emailFallback !== false;
    quiet.input.checked = Boolean(prefs.quietHours);
    if (prefs.quietHours) { from.input.value = prefs.quietHours.start; to.input.value = prefs.quietHours.end; }
    hours.hidden = !quiet.input.checked;
  }).catch(() => { hours.hidden = true; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await busy(save, error, () => api.put('/notifications/preferences', {
        level: level.value,
        emailFallback: email.input.checked,
        quietHours: quiet.input.checked
          ? { start: from.input.value, end: to.input.value, timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone }
          : null,
      }));
      toast('Notification preferences saved.');
    } catch { /* shown */ }
  });
  panel.append(section('This browser', state, enable, disable), section('Preferences', form));
}

function appearancePanel(panel) {
  const current = theme.current();
  const options = [['system', 'Match the system'], ['light', 'Light'], ['dark', 'Dark']].map(([value, label]) => {
    const input = h('input', { type: 'radio', name: 'theme', id: `theme-${value}`, value, checked: current === value });
    input.addEventListener('change', () => { theme.set(value); publish('theme'); });
    return h('div', { class: 'check' }, input, h('label', { for: `theme-${value}`, text: label }));
  });
  panel.append(section('Theme', h('fieldset', { class: 'radio-group' }, h('legend', { class: 'visually-hidden', text: 'Theme' }), ...options)));
}

function accountPanel(panel, onSignOut) {
  const out = h('button', { type: 'button', class: 'button', onclick: () => onSignOut(false) }, svgIcon(icons.logout, { size: 16 }), ' Sign out');
  const all = h('button', { type: 'button', class: 'button danger', text: 'Sign out everywhere', onclick: () => onSignOut(true) });
  panel.append(
    section('This device', h('p', { text: 'Sign out of ChemChat in this browser. Messages not yet sent stay queued for your next sign-in here.' }), out),
    section('Every device', h('p', { text: 'Ends every session of your account, on phones and computers alike.' }), all));
}
