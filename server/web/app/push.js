// Browser notifications through Web Push (docs/notifications.md): the service worker receives
// the server's notices even when no tab is open. The subscription is renewed when the
// server's key changed (a rotated secret), since the old one can no longer be delivered.
import * as api from './api.js';

const KEY_STORE = 'chemchat.push.key';

export function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

export function permission() {
  return 'Notification' in window ? Notification.permission : 'unsupported';
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(base64url.length / 4) * 4, '=');
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/** Asks for permission (from a click) and subscribes this browser; answers the server's row. */
export async function enable() {
  if (!supported()) throw new Error('This browser cannot show notifications from the web.');
  const granted = await Notification.requestPermission();
  if (granted !== 'granted') throw new Error('Notifications are blocked for this site in the browser settings.');
  return subscribe();
}

export async function subscribe() {
  const registration = await navigator.serviceWorker.ready;
  const { publicKey } = await api.get('/push/vapid-public-key');
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && localStorage.getItem(KEY_STORE) !== publicKey) {
    await subscription.unsubscribe();
    subscription = null;
  }
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
  }
  localStorage.setItem(KEY_STORE, publicKey);
  const json = subscription.toJSON();
  return api.post('/push/subscriptions', { endpoint: json.endpoint, keys: json.keys });
}

/** On start: a browser that allowed notifications keeps its subscription current. */
export async function refreshIfAllowed() {
  if (!supported() || Notification.permission !== 'granted') return;
  try { await subscribe(); } catch (error) { console.info('push subscription not renewed:', error.message); }
}

export async function disable() {
  if (!supported()) return;
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.getSubscription();
  if (!subscription) return;
  const { items = [] } = await api.get('/push/subscriptions').catch(() => ({}));
  const origin = new URL(subscription.endpoint).origin;
  await subscription.unsubscribe();
  // The server lists each subscription by its push service's origin; drop the ones of this browser.
  for (const row of items) {
    if (row.pushService === origin || row.deviceId === undefined) await api.del(`/push/subscriptions/${row.id}`).catch(() => {});
  }
  localStorage.removeItem(KEY_STORE);
}
