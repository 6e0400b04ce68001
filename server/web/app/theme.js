// Light, dark, or whatever the system prefers; the choice is kept per browser.
const KEY = 'chemchat.theme';

export function current() {
  return localStorage.getItem(KEY) || 'system';
}

/** The theme in effect now (resolving `system`). */
export function effective() {
  const chosen = current();
  if (chosen !== 'system') return chosen;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function apply(theme = current()) {
  document.documentElement.dataset.theme = theme;
  const meta = document.querySelector('meta[name="theme-color"]');
  if (meta) meta.setAttribute('content', effective() === 'dark' ? '#0f1419' : '#ffffff');
}

export function set(theme) {
  localStorage.setItem(KEY, theme);
  apply(theme);
}

/** The header's toggle: flips between light and dark from whatever is showing. */
export function toggle() {
  set(effective() === 'dark' ? 'light' : 'dark');
}
