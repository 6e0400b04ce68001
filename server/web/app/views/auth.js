// Signing in (with the MFA step and "remember this device"), creating an account, and asking
// for a password reset mail.
import { h, replaceChildren } from '../dom.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { field, checkbox, errorLine, busy, focusField } from './forms.js';

function card(...children) {
  return h('main', { class: 'auth', id: 'main' },
    h('div', { class: 'auth-card' },
      h('div', { class: 'auth-brand' },
        h('img', { src: '/app/icons/logo.svg', alt: '', width: 40, height: 40 }),
        h('span', { text: 'ChemChat' })),
      ...children),
    h('p', { class: 'auth-foot', text: 'Messages, files and search for your team.' }));
}

/** The sign-in screen; `onSignedIn` runs once tokens are stored. */
export function renderSignIn(root, { onSignedIn, notice } = {}) {
  const login = field('Username or email', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = field('Password', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const code = field('Authentication code', { name: 'mfa', autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9 ]{6,8}', maxlength: 8 },
    'Open your authenticator app and enter the 6-digit code for ChemChat.');
  code.hidden = true;
  const remember = checkbox('Remember this device', { name: 'remember', checked: true });
  const workspace = field('Workspace', { name: 'tenant', value: session.tenant(), autocomplete: 'organization', autocapitalize: 'none', spellcheck: 'false' },
    'Leave as it is unless your administrator gave you another.');
  const error = errorLine();
  const submit = h('button', { type: 'submit', class: 'button primary wide', text: 'Sign in' });
  const form = h('form', { class: 'form', novalidate: true, 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', text: 'Sign in' }),
    notice ? h('p', { class: 'notice', role: 'status', text: notice }) : null,
    login, password, code,
    h('div', { class: 'row-between' }, remember,
      h('button', { type: 'button', class: 'link', text: 'Forgot password?', onclick: () => renderForgot(root, { onSignedIn }) })),
    h('details', { class: 'advanced' }, h('summary', { text: 'Workspace' }), workspace),
    error, submit);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!login.input.value.trim() || !password.input.value) {
      error.textContent = 'Enter your username (or email) and password.';
      (login.input.value.trim() ? password : login).input.focus();
      return;
    }
    try {
      const tokens = await busy(submit, error, () => api.login({
        login: login.input.value.trim(),
        password: password.input.value,
        mfaToken: code.hidden ? undefined : code.input.value.replace(/\s/g, ''),
        tenantId: workspace.input.value.trim() || session.DEFAULT_TENANT,
        remember: remember.input.checked,
      }));
      onSignedIn(tokens);
    } catch (failure) {
      if (failure.code === 'mfa_required') {
        error.textContent = '';
        code.hidden = false;
        submit.textContent = 'Verify and sign in';
        code.input.focus();
      } else if (failure.code === 'invalid_mfa_token') {
        code.input.select();
      } else {
        focusField(form, failure, { username: login, password });
      }
    }
  });

  replaceChildren(root, card(form,
    h('p', { class: 'switch' }, 'New to ChemChat? ',
      h('button', { type: 'button', class: 'link', text: 'Create an account', onclick: () => renderRegister(root, { onSignedIn }) }))));
  login.input.focus();
}

export function renderRegister(root, { onSignedIn }) {
  const fields = {
    displayName: field('Your name', { name: 'displayName', autocomplete: 'name', required: true, maxlength: 64 }),
    username: field('Username', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false', maxlength: 32 },
      '3–32 characters: letters, digits, “_”, “.” and “-”.'),
    email: field('Email', { type: 'email', name: 'email', autocomplete: 'email', required: true }),
    password: field('Password', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 12 },
      'At least 12 characters.'),
  };
  const workspace = field('Workspace', { name: 'tenant', value: session.tenant(), autocapitalize: 'none', spellcheck: 'false' });
  const invite = field('Invitation code', { name: 'inviteCode', autocomplete: 'off', spellcheck: 'false' },
    'Only needed when your workspace is invitation-only.');
  const remember = checkbox('Remember this device', { checked: true });
  const error = errorLine();
  const submit = h('button', { type: 'submit', class: 'button primary wide', text: 'Create account' });
  const form = h('form', { class: 'form', novalidate: true, 'aria-labelledby': 'register-title' },
    h('h1', { id: 'register-title', text: 'Create your account' }),
    fields.displayName, fields.username, fields.email, fields.password, remember,
    h('details', { class: 'advanced' }, h('summary', { text: 'Workspace and invitation' }), workspace, invite),
    error, submit);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const tenantId = workspace.input.value.trim() || session.DEFAULT_TENANT;
    const body = {
      displayName: fields.displayName.input.value.trim(),
      username: fields.username.input.value.trim().toLowerCase(),
      email: fields.email.input.value.trim(),
      password: fields.password.input.value,
      inviteCode: invite.input.value.trim() || undefined,
    };
    const missing = Object.entries(fields).find(([name]) => !body[name]);
    if (missing) {
      error.textContent = `Please fill in “${missing[1].querySelector('label').textContent}”.`;
      missing[1].input.focus();
      return;
    }
    try {
      const tokens = await busy(submit, error, async () => {
        await api.request('POST', '/auth/register', { auth: false, tenant: tenantId, body });
        return api.login({ login: body.username, password: body.password, tenantId, remember: remember.input.checked });
      });
      onSignedIn(tokens);
    } catch (failure) {
      if (failure.code === 'invite_required' || failure.code === 'invalid_invite') {
        form.querySelector('details').open = true;
        invite.input.focus();
      } else {
        focusField(form, failure, fields);
      }
    }
  });

  replaceChildren(root, card(form,
    h('p', { class: 'switch' }, 'Already have an account? ',
      h('button', { type: 'button', class: 'link', text: 'Sign in', onclick: () => renderSignIn(root, { onSignedIn }) }))));
  fields.displayName.input.focus();
}

function renderForgot(root, { onSignedIn }) {
  const email = field('Email', { type: 'email', autocomplete: 'email', required: true });
  const error = errorLine();
  const submit = h('button', { type: 'submit', class: 'button primary wide', text: 'Send reset link' });
  const form = h('form', { class: 'form', novalidate: true, 'aria-labelledby': 'forgot-title' },
    h('h1', { id: 'forgot-title', text: 'Reset your password' }),
    h('p', { class: 'lead', text: 'Enter the address of your account; we will mail you a link to choose a new password.' }),
    email, error, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!email.input.value.trim()) { email.input.focus(); return; }
    try {
      await busy(submit, error, () => api.request('POST', '/auth/password/forgot', { auth: false, body: { email: email.input.value.trim() } }));
      renderSignIn(root, { onSignedIn, notice: 'If that address belongs to an account, a reset link is on its way. It is good for 30 minutes.' });
    } catch (failure) {
      if (failure.code === 'mail_not_configured') {
        error.textContent = 'This server does not send mail. Ask your administrator to reset your password.';
      }
    }
  });
  replaceChildren(root, card(form,
    h('p', { class: 'switch' },
      h('button', { type: 'button', class: 'link', text: 'Back to sign in', onclick: () => renderSignIn(root, { onSignedIn }) }))));
  email.input.focus();
}

/** `/reset-password?tenant=…&token=…`: the page an emailed reset link opens. */
export function renderResetPassword(root, params) {
  const tenantId = params.get('tenant') || session.DEFAULT_TENANT;
  const token = params.get('token') || '';
  const password = field('New password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 12 }, 'At least 12 characters.');
  const confirm = field('Repeat the new password', { type: 'password', autocomplete: 'new-password', required: true });
  const error = errorLine();
  const submit = h('button', { type: 'submit', class: 'button primary wide', text: 'Set new password' });
  const form = h('form', { class: 'form', novalidate: true, 'aria-labelledby': 'reset-title' },
    h('h1', { id: 'reset-title', text: 'Choose a new password' }),
    h('p', { class: 'lead', text: 'Every device signed in to your account will be signed out.' }),
    password, confirm, error, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (password.input.value.length < 12) {
      error.textContent = 'The password needs at least 12 characters.';
      password.input.focus();
      return;
    }
    if (password.input.value !== confirm.input.value) {
      error.textContent = 'The two passwords differ.';
      confirm.input.focus();
      return;
    }
    try {
      await busy(submit, error, () => api.request('POST', '/auth/password/reset', {
        auth: false, tenant: tenantId, body: { token, newPassword: password.input.value },
      }));
      done(root, 'Password changed', 'Your new password is set. Sign in with it on each of your devices.');
    } catch (failure) {
      if (failure.code === 'invalid_token' || failure.field === 'token') {
        error.textContent = 'This link is no longer valid (it was used, expired, or a newer one was sent). Ask for another reset link.';
      }
    }
  });
  if (!token) {
    done(root, 'Link incomplete', 'This reset link is missing its token. Open the link from the mail again, or ask for a new one.', true);
    return;
  }
  replaceChildren(root, card(form));
  password.input.focus();
}

/** `/verify-email?tenant=…&token=…`: confirms the address as soon as the page opens. */
export async function renderVerifyEmail(root, params) {
  const tenantId = params.get('tenant') || session.DEFAULT_TENANT;
  const token = params.get('token') || '';
  replaceChildren(root, card(h('div', { class: 'form', role: 'status' },
    h('h1', { text: 'Confirming your address…' }))));
  try {
    if (!token) throw new api.ApiError(400, { error: { code: 'invalid_token', message: 'missing token' } });
    await api.request('POST', '/auth/email/verify', { auth: false, tenant: tenantId, body: { token } });
    done(root, 'Address confirmed', 'Thank you — your email address is confirmed.');
  } catch (failure) {
    done(root, 'This link did not work',
      failure.code === 'invalid_token' || failure.field === 'token'
        ? 'The link is used, expired or incomplete. Sign in and ask for a new confirmation mail from Settings.'
        : failure.friendly, true);
  }
}

function done(root, title, text, failed = false) {
  replaceChildren(root, card(h('div', { class: 'form' },
    h('h1', { text: title }),
    h('p', { class: failed ? 'lead error-text' : 'lead', role: failed ? 'alert' : 'status', text }),
    h('a', { class: 'button primary wide', href: '/', text: 'Open ChemChat' }))));
}
