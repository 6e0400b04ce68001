// Small DOM helpers. Every piece of text goes in through textContent or a text node, never
// through innerHTML: messages, names and file names are other people's input.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `on<Event>` (listeners), `dataset`,
 * booleans (set when true), everything else as an attribute. Children may be nodes, strings
 * (as text), arrays, or null/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const SVG = 'http://www.w3.org/2000/svg';

/** An inline SVG icon from path data (see icons.js); `currentColor` follows the text colour. */
export function svgIcon(paths, { size = 20, label } = {}) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  svg.setAttribute('class', 'icon');
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else {
    svg.setAttribute('aria-hidden', 'true');
  }
  svg.setAttribute('focusable', 'false');
  for (const d of [].concat(paths)) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.appendChild(path);
  }
  return svg;
}

/**
 * Turns the server's highlight fragments (escaped text with `<mark>…</mark>` as the only
 * markup) into nodes without parsing HTML: split on the two tags, decode the five entities.
 */
export function highlightNodes(fragment) {
  const nodes = [];
  const parts = String(fragment).split(/(<mark>|<\/mark>)/);
  let marked = false;
  for (const part of parts) {
    if (part === '<mark>') { marked = true; continue; }
    if (part === '</mark>') { marked = false; continue; }
    if (!part) continue;
    const text = decodeEntities(part);
    nodes.push(marked ? h('mark', { text }) : document.createTextNode(text));
  }
  return nodes;
}

function decodeEntities(text) {
  return text.replace(/&(amp|lt|gt|quot|#39|#x27|#x2F|#47);/g, (_, name) => ({
    amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", '#x2F': '/', '#47': '/',
  })[name]);
}

/** Marks every occurrence of `query`'s words in plain text (client-side, for local filters). */
export function markText(text, query) {
  const words = String(query || '').trim().split(/\s+/).filter(Boolean)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (!words.length) return [document.createTextNode(String(text))];
  // With one capturing group, split puts the matches at the odd indexes.
  return String(text).split(new RegExp(`(${words.join('|')})`, 'i'))
    .map((part, i) => (i % 2 ? h('mark', { text: part }) : document.createTextNode(part)));
}

/** A screen-reader announcement through the page's polite live region. */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A new text node in a later frame is announced even when the text repeats.
  requestAnimationFrame(() => { region.textContent = message; });
}

/** Shows a short, non-blocking notice at the bottom of the window. */
export function toast(message, { kind = 'info', timeout = 5000 } = {}) {
  const host = document.getElementById('toasts');
  if (!host) return;
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  host.appendChild(el);
  setTimeout(() => el.remove(), timeout);
}

/** Runs `fn` at most once per `ms`, trailing call included. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
