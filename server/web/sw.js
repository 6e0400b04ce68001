// The service worker: the app shell from its cache when the network is away (so ChemChat opens
// offline), and push notifications. It never caches the API: answers there are per user and
// must be fresh.
const CACHE = 'chemchat-shell-v2';
const SHELL = [
  '/',
  '/manifest.webmanifest',
  '/app/main.js', '/app/api.js', '/app/session.js', '/app/socket.js', '/app/store.js',
  '/app/outbox.js', '/app/chat.js', '/app/dom.js', '/app/icons.js', '/app/format.js',
  '/app/theme.js', '/app/push.js', '/app/styles.css', '/app/icons/logo.svg',
  '/app/views/app.js', '/app/views/auth.js', '/app/views/common.js', '/app/views/composer.js',
  '/app/views/conversation.js', '/app/views/forms.js', '/app/views/message.js',
  '/app/views/newchat.js', '/app/views/settings.js', '/app/views/sidebar.js',
  '/app/views/details.js', '/app/cache.js',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

function isShell(url) {
  return url.origin === self.location.origin
    && (url.pathname.startsWith('/app/') || url.pathname === '/' || url.pathname === '/manifest.webmanifest'
      || url.pathname === '/reset-password' || url.pathname === '/verify-email');
}

// Network first (the server answers 304 to an unchanged file, so this is cheap), the cache when
// the network fails: an upgraded server is never hidden behind an old copy.
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || !isShell(url)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) cache.put(event.request.mode === 'navigate' ? '/' : event.request, response.clone());
      return response;
    } catch (error) {
      const cached = await cache.match(event.request.mode === 'navigate' ? '/' : event.request, { ignoreSearch: event.request.mode === 'navigate' });
      if (cached) return cached;
      throw error;
    }
  })());
});

self.addEventListener('push', (event) => {
  let notice = {};
  try { notice = event.data ? event.data.json() : {}; } catch { notice = { body: event.data?.text() }; }
  const title = notice.title || 'ChemChat';
  const body = notice.count > 1 ? `${notice.body} (+${notice.count - 1} more)` : notice.body || 'New message';
  event.waitUntil((async () => {
    // A visible tab already showing the conversation needs no notification.
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const looking = windows.some((w) => w.visibilityState === 'visible' && new URL(w.url).searchParams.get('c') === notice.conversationId);
    if (looking) return;
    await self.registration.showNotification(title, {
      body,
      tag: notice.conversationId || 'chemchat',
      renotify: true,
      icon: '/app/icons/logo.svg',
      data: { conversationId: notice.conversationId },
    });
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const conversationId = event.notification.data?.conversationId;
  const target = conversationId ? `/?c=${encodeURIComponent(conversationId)}` : '/';
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
    if (open) {
      await open.focus();
      if (conversationId) open.postMessage({ type: 'open-conversation', conversationId });
      return;
    }
    await self.clients.openWindow(target);
  })());
});
