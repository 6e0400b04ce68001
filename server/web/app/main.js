// Starts the client: picks the page from the address (/, /reset-password, /verify-email),
// applies the theme, registers the service worker, and moves between signing in and the chat.
import * as api from './api.js';
import * as session from './session.js';
import * as theme from './theme.js';
import * as chat from './chat.js';
import * as push from './push.js';
import { reset } from './store.js';
import { toast } from './dom.js';
import { renderSignIn, renderResetPassword, renderVerifyEmail } from './views/auth.js';
import { renderApp } from './views/app.js';

const root = document.getElementById('root');
let app = null;

theme.apply();
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => theme.apply());

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((error) => {
    console.info('service worker not registered:', error.message);
  });
}

function signIn(notice) {
  app?.destroy();
  app = null;
  chat.stop();
  reset();
  document.title = 'Sign in · ChemChat';
  renderSignIn(root, { onSignedIn: () => startApp(), notice });
}

async function startApp() {
  document.title = 'ChemChat';
  try {
    await chat.start();
  } catch (error) {
    if (error.status === 401 || error.status === 403 || !session.hasSession()) {
      session.clearSession();
      signIn(error.status === 403 ? error.friendly : undefined);
      return;
    }
    // Offline at start: the shell came from the service worker's cache; keep trying.
    toast('Cannot reach the server — retrying…', { kind: 'error' });
    setTimeout(startApp, 3000);
    return;
  }
  app = renderApp(root, { onSignOut: signOut });
  const wanted = new URLSearchParams(location.search).get('c');
  if (wanted) app.open(wanted);
  push.refreshIfAllowed();
}

async function signOut(allDevices) {
  try {
    await api.logout(allDevices);
  } catch { /* the local session is gone either way */ }
  signIn(allDevices ? 'You were signed out on every device.' : 'You are signed out.');
}

api.setSignedOutHandler(() => signIn('Your session ended. Please sign in again.'));

const params = new URLSearchParams(location.search);
if (location.pathname === '/reset-password') {
  renderResetPassword(root, params);
} else if (location.pathname === '/verify-email') {
  renderVerifyEmail(root, params);
} else if (session.hasSession()) {
  startApp();
} else {
  signIn();
}
