// Pieces several views draw: avatars with presence, icon buttons, dialogs.
import { h, svgIcon } from '../dom.js';
import { icons } from '../icons.js';
import { initials, colourSlot } from '../format.js';
import { mediaBlobUrl } from '../api.js';
import { store } from '../store.js';

/** A round avatar: the person's picture when they have one, else initials on their colour. */
export function avatar({ id, name, avatarMediaId, size = 'md', presence = false, group = false }) {
  const el = h('span', { class: `avatar avatar-${size} c${colourSlot(id)}`, 'aria-hidden': 'true' },
    group ? svgIcon(icons.users, { size: size === 'sm' ? 14 : 18 }) : initials(name));
  if (avatarMediaId) {
    mediaBlobUrl(avatarMediaId, 'thumb').then((url) => {
      el.replaceChildren(h('img', { src: url, alt: '' }));
    }).catch(() => { /* initials stay */ });
  }
  if (presence) {
    const wrapper = h('span', { class: 'avatar-wrap' }, el, presenceDot(id));
    return wrapper;
  }
  return el;
}

export function presenceDot(userId) {
  const status = store.presence.get(userId) || 'offline';
  return h('span', { class: `presence presence-${status}`, dataset: { presenceOf: userId }, 'aria-hidden': 'true' });
}

export const presenceText = { online: 'Online', away: 'Away', offline: 'Offline' };

export function iconButton(icon, label, attrs = {}) {
  const { class: extra = '', ...rest } = attrs;
  return h('button', { type: 'button', 'aria-label': label, title: label, ...rest, class: `icon-button ${extra}`.trim() },
    svgIcon(icons[icon]));
}

/**
 * A modal dialog (<dialog> with showModal: focus stays inside and Escape closes it). Answers
 * `{ dialog, body, close }`; the dialog removes itself once closed.
 */
export function openDialog(title, { wide = false, onClose, labelId } = {}) {
  const id = labelId || `dialog-${Math.random().toString(36).slice(2)}`;
  const body = h('div', { class: 'dialog-body' });
  const dialog = h('dialog', { class: `dialog${wide ? ' dialog-wide' : ''}`, 'aria-labelledby': id },
    h('header', { class: 'dialog-head' },
      h('h2', { id, text: title }),
      iconButton('close', 'Close', { onclick: () => dialog.close() })),
    body);
  dialog.addEventListener('close', () => {
    dialog.remove();
    onClose?.();
  });
  // A click on the backdrop (the dialog element itself, outside its box) closes it too.
  dialog.addEventListener('mousedown', (event) => {
    if (event.target === dialog) {
      const box = dialog.getBoundingClientRect();
      const inside = event.clientX >= box.left && event.clientX <= box.right && event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) dialog.close();
    }
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  return { dialog, body, close: () => dialog.close() };
}
