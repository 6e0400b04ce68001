// Writing a message: Enter sends, Shift+Enter starts a new line, ↑ in an empty box edits your
// last message. Files are uploaded as soon as they are picked (with a progress bar) and go out
// with the next message.
import { h, svgIcon, toast } from '../dom.js';
import { icons } from '../icons.js';
import { bytes } from '../format.js';
import * as api from '../api.js';
import * as chat from '../chat.js';
import { store, titleOf, publish } from '../store.js';
import { slowModeText } from './details.js';

const MAX_ROWS_PX = 200;
const drafts = new Map();

export function renderComposer(conversationId, { onEditLast }) {
  const uploads = []; // { file, item, progress, error, controller, element }
  const name = titleOf(store.conversations.get(conversationId));

  const tray = h('ul', { class: 'upload-tray', 'aria-label': 'Files to send' });
  const fileInput = h('input', { type: 'file', multiple: true, class: 'visually-hidden', id: 'file-input', tabindex: '-1', 'aria-hidden': 'true' });
  const attach = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Attach files', title: 'Attach files', onclick: () => fileInput.click() }, svgIcon(icons.attach));
  const input = h('textarea', {
    id: 'composer-input', class: 'composer-input', rows: 1, placeholder: `Message ${name}`,
    'aria-label': `Message ${name}`, autocomplete: 'off', enterkeyhint: 'send',
  });
  input.value = drafts.get(conversationId) || '';
  const sendButton = h('button', { type: 'submit', class: 'icon-button send', 'aria-label': 'Send message', title: 'Send (Enter)' }, svgIcon(icons.send));
  const form = h('form', { class: 'composer', 'aria-label': 'Write a message' },
    tray,
    h('div', { class: 'composer-row' }, attach, fileInput, input, sendButton),
    h('p', { class: 'composer-hint', id: 'composer-hint', text: 'Enter to send · Shift+Enter for a new line' }));
  input.setAttribute('aria-describedby', 'composer-hint');

  function resize() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, MAX_ROWS_PX)}px`;
  }

  function refreshButton() {
    const busy = uploads.some((u) => !u.item && !u.error);
    const ready = uploads.some((u) => u.item);
    sendButton.disabled = busy || (!input.value.trim() && !ready);
    sendButton.setAttribute('aria-disabled', String(sendButton.disabled));
  }

  function submit() {
    const content = input.value.trim();
    if (uploads.some((u) => !u.item && !u.error)) {
      toast('Wait for the upload to finish.', { kind: 'info', timeout: 2500 });
      return;
    }
    const attachments = uploads.filter((u) => u.item).map((u) => ({ ...u.item, local: u.local }));
    if (!content && !attachments.length) return;
    chat.send(conversationId, content, attachments);
    publish('sent', conversationId);
    input.value = '';
    drafts.delete(conversationId);
    for (const u of [...uploads]) removeUpload(u, { keepPreview: true });
    resize();
    refreshButton();
  }

  form.addEventListener('submit', (event) => { event.preventDefault(); submit(); });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === 'ArrowUp' && !input.value) {
      event.preventDefault();
      onEditLast();
    }
  });
  input.addEventListener('input', () => {
    drafts.set(conversationId, input.value);
    resize();
    refreshButton();
    if (input.value.trim()) chat.typing(conversationId);
    else chat.stopTyping(conversationId);
  });
  input.addEventListener('blur', () => chat.stopTyping(conversationId));

  fileInput.addEventListener('change', () => {
    for (const file of fileInput.files) startUpload(file);
    fileInput.value = '';
  });
  // Pasting or dropping files attaches them too.
  input.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) { event.preventDefault(); files.forEach(startUpload); }
  });
  form.addEventListener('dragover', (event) => { event.preventDefault(); form.classList.add('dropping'); });
  form.addEventListener('dragleave', () => form.classList.remove('dropping'));
  form.addEventListener('drop', (event) => {
    event.preventDefault();
    form.classList.remove('dropping');
    [...(event.dataTransfer?.files || [])].forEach(startUpload);
  });

  function startUpload(file) {
    const upload = { file, item: null, error: null, controller: new AbortController() };
    upload.local = file.type.startsWith('image/') ? URL.createObjectURL(file) : null;
    const progress = h('progress', { max: 100, value: 0, 'aria-label': `Uploading ${file.name}` });
    const status = h('span', { class: 'upload-status', text: bytes(file.size) });
    const remove = h('button', { type: 'button', class: 'icon-button small', 'aria-label': `Remove ${file.name}`, title: 'Remove', onclick: () => removeUpload(upload) }, svgIcon(icons.close, { size: 14 }));
    upload.element = h('li', { class: 'upload' },
      upload.local ? h('img', { src: upload.local, alt: '', class: 'upload-thumb' }) : h('span', { class: 'upload-thumb file' }, svgIcon(icons.file)),
      h('span', { class: 'upload-info' }, h('span', { class: 'upload-name', text: file.name }), progress, status),
      remove);
    tray.appendChild(upload.element);
    uploads.push(upload);
    refreshButton();
    api.upload(file, {
      signal: upload.controller.signal,
      onProgress: (fraction) => { progress.value = Math.round(fraction * 100); },
    }).then((item) => {
      upload.item = item;
      progress.value = 100;
      status.textContent = `${bytes(item.size)} · ready`;
      upload.element.classList.add('done');
    }).catch((error) => {
      if (error.code === 'aborted') return;
      upload.error = error;
      upload.element.classList.add('error');
      status.textContent = error.status === 413 ? 'Too large for this workspace'
        : error.status === 415 ? 'This type of file is not accepted' : error.friendly;
      status.setAttribute('role', 'alert');
    }).finally(refreshButton);
  }

  function removeUpload(upload, { keepPreview = false } = {}) {
    if (!upload.item && !upload.error) upload.controller.abort();
    if (upload.local && !keepPreview) URL.revokeObjectURL(upload.local);
    upload.element.remove();
    uploads.splice(uploads.indexOf(upload), 1);
    refreshButton();
    input.focus();
  }

  const hint = form.querySelector('.composer-hint');
  /** Read-only and slow mode as the conversation has them now (they change live). */
  function update() {
    const conversation = store.conversations.get(conversationId);
    const me = conversation?.members?.find((m) => m.userId === store.me?.id);
    const exempt = !me || me.role !== 'member';
    const silenced = Boolean(conversation?.readOnly && !exempt);
    input.disabled = silenced;
    attach.disabled = silenced;
    input.placeholder = silenced ? 'Only owners and admins can post here' : `Message ${titleOf(conversation) || name}`;
    const slow = conversation?.slowModeSeconds || 0;
    hint.textContent = silenced ? 'This group is for announcements.'
      : slow && !exempt ? `Slow mode: one message every ${slowModeText(slow)} · Enter to send`
        : 'Enter to send · Shift+Enter for a new line';
    if (silenced) sendButton.disabled = true; else refreshButton();
  }

  requestAnimationFrame(resize);
  refreshButton();
  update();
  return {
    element: form,
    update,
    focus: () => input.focus(),
    destroy: () => chat.stopTyping(conversationId),
  };
}
