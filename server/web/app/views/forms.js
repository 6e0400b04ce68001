// Form pieces shared by every screen: a labelled field, an error line, a busy submit button.
import { h } from '../dom.js';

let fieldCount = 0;

/** A labelled input; answers the wrapper, with `.input` for the control itself. */
export function field(label, attrs = {}, hint) {
  fieldCount += 1;
  const id = attrs.id || `field-${fieldCount}`;
  const hintId = hint ? `${id}-hint` : undefined;
  const control = attrs.multiline
    ? h('textarea', { ...attrs, multiline: undefined, id, 'aria-describedby': hintId })
    : h('input', { type: 'text', ...attrs, id, 'aria-describedby': hintId });
  const wrapper = h('div', { class: 'field' },
    h('label', { for: id, text: label }),
    control,
    hint ? h('p', { class: 'hint', id: hintId, text: hint }) : null);
  wrapper.input = control;
  return wrapper;
}

export function checkbox(label, attrs = {}) {
  fieldCount += 1;
  const id = attrs.id || `check-${fieldCount}`;
  const control = h('input', { type: 'checkbox', ...attrs, id });
  const wrapper = h('div', { class: 'check' }, control, h('label', { for: id, text: label }));
  wrapper.input = control;
  return wrapper;
}

/** The line under a form where its errors are read out (role=alert). */
export function errorLine() {
  return h('p', { class: 'form-error', role: 'alert' });
}

/** Runs `task` with the button busy and shows its error in `line`; answers the task's result. */
export async function busy(button, line, task) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  if (line) line.textContent = '';
  try {
    return await task();
  } catch (error) {
    if (line) line.textContent = sentence(error.friendly || error.message || 'Something went wrong.');
    throw error;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = label;
  }
}

/** The server's messages start in lower case; a line on its own starts with a capital. */
function sentence(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Focuses the field the server named in a 400 (`field`), when the form has it. */
export function focusField(form, error, fields) {
  const name = error?.field;
  if (name && fields[name]) fields[name].input.focus();
}
