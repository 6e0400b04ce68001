'use strict';
// The web client in a real Chromium, against a running server (CHEMCHAT_WEB_URL).
//
// Two people register in two browser contexts, start a DM from the directory and chat both
// ways (typing indicator, read ticks); one is cut off while the server restarts, sends, comes
// back, and nothing is lost or doubled; an image reaches the other as a thumbnail; search finds
// a message with a highlight; a message is sent with the keyboard alone; A makes a group with B
// and a third person (C, registered from node and driven over REST), renames it — B sees the
// name live — and removes C, whose conversation list loses it; the sidebar's filter finds a DM
// by username through the server; A's page reloads cut off and reads the DM from its offline
// copy. Screenshots of the main views go to CHEMCHAT_WEB_SHOTS.
//
// Line protocol with the harness (stdout/stdin, one JSON object per line):
//   → {"step": "…"}        progress
//   → {"need": "restart"}  restart the server on the same address and database, then
//   ← {"restarted": true}
// Exit 0 when every check passed; else a message on stderr, failure-*.png, exit 1.

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const readline = require('node:readline');
const { chromium } = require('playwright-core');
const { makePng } = require('./png.cjs');

const BASE = (process.env.CHEMCHAT_WEB_URL || 'http://127.0.0.1:3100').replace(/\/$/, '');
const SHOTS = process.env.CHEMCHAT_WEB_SHOTS || path.join(os.tmpdir(), 'chemchat-web-shots');
const CHROMIUM = process.env.CHEMCHAT_CHROMIUM || '/usr/bin/chromium';
const WAIT = 15_000;
const OVERALL = 240_000;

fs.mkdirSync(SHOTS, { recursive: true });

function say(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

function step(name) {
  say({ step: name });
}

// stdin, one line at a time (the harness answers "restart" this way).
const lines = [];
const waiters = [];
const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (waiters.length) waiters.shift()(line);
  else lines.push(line);
});
function nextLine(timeout) {
  if (lines.length) return Promise.resolve(lines.shift());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer from the harness on stdin')), timeout);
    waiters.push((line) => { clearTimeout(timer); resolve(line); });
  });
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const suffix = `${Date.now().toString(36).slice(-5)}${Math.floor(Math.random() * 1e4)}`;
const people = {
  a: { label: 'A', displayName: 'Ada Lovelace', username: `ada_${suffix}`, password: 'analytical-engine-1843' },
  b: { label: 'B', displayName: 'Charles Babbage', username: `charles_${suffix}`, password: 'difference-engine-1822' },
  c: { label: 'C', displayName: 'Mary Somerville', username: `mary_${suffix}`, password: 'connexion-of-sciences-1834' },
};

// Network failures while the server is down (or a context is cut off) are expected; anything
// else the browser logs as an error is a failure of the client.
let outage = false;
const problems = [];
function watch(page, who) {
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    const network = /ERR_CONNECTION_REFUSED|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|ERR_NETWORK_CHANGED|WebSocket connection to .* failed/.test(text);
    if (network && outage) return;
    problems.push(`${who} console error: ${text}`);
  });
  page.on('pageerror', (error) => problems.push(`${who} uncaught error: ${error.message}`));
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** The messages of the open conversation whose text is exactly `text`. */
function messagesWithText(page, text) {
  return page.locator('.log .msg').filter({ has: page.locator('.text', { hasText: text }) });
}

async function register(page, person) {
  await page.goto(`${BASE}/`, { waitUntil: 'load', timeout: WAIT });
  await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: WAIT });
  if (person.label === 'A') await shot(page, 'login');
  await page.getByRole('button', { name: 'Create an account' }).click({ timeout: WAIT });
  await page.getByLabel('Your name').fill(person.displayName, { timeout: WAIT });
  await page.getByLabel('Username').fill(person.username);
  await page.getByLabel('Email').fill(`${person.username}@example.com`);
  await page.getByLabel('Password').fill(person.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('.sidebar .me-name', { hasText: person.displayName }).waitFor({ timeout: WAIT });
  // Sign-in stored the session and the socket came up (the presence dot goes green).
  await page.locator('.sidebar-head .presence-online').waitFor({ timeout: WAIT });
}

async function send(page, text) {
  const composer = page.locator('#composer-input');
  await composer.click({ timeout: WAIT });
  await composer.fill(text);
  await composer.press('Enter');
}

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const contexts = {};
  const pages = {};
  const guard = setTimeout(() => fail(new Error(`the scenario took longer than ${OVERALL / 1000} s`)), OVERALL);

  async function fail(error) {
    process.stderr.write(`web client scenario failed: ${error.stack || error.message}\n`);
    if (problems.length) process.stderr.write(`browser errors:\n  ${problems.join('\n  ')}\n`);
    for (const [who, page] of Object.entries(pages)) {
      await page.screenshot({ path: path.join(SHOTS, `failure-${who}.png`) }).catch(() => {});
    }
    await browser.close().catch(() => {});
    process.exit(1);
  }

  try {
    for (const key of ['a', 'b']) {
      contexts[key] = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', locale: 'en-GB' });
      // Every CSP violation is recorded, whether or not the browser also logs it.
      await contexts[key].addInitScript(() => {
        window.__csp = [];
        document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
      });
      // The socket goes through a route the scenario can cut. (Chromium's offline emulation
      // is no use here: it holds WebSocket frames, close included, instead of failing them.)
      contexts[key].cutOff = false;
      await contexts[key].routeWebSocket(/\/api\/v1\/ws/, (ws) => {
        if (contexts[key].cutOff) ws.close({ code: 1001, reason: 'offline' });
        else ws.connectToServer();
      });
      pages[key] = await contexts[key].newPage();
      watch(pages[key], people[key].label);
    }
    const { a, b } = pages;

    step('register');
    await register(a, people.a);
    await register(b, people.b);

    step('start a DM from the directory');
    await a.getByRole('button', { name: 'New conversation' }).first().click();
    const dialog = a.getByRole('dialog', { name: 'New conversation' });
    await dialog.getByLabel('Find people').fill(people.b.username.slice(0, 9));
    await dialog.getByLabel(new RegExp(people.b.displayName)).check({ timeout: WAIT });
    await dialog.getByRole('button', { name: 'Start chat' }).click();
    await a.locator('.chat-title', { hasText: people.b.displayName }).waitFor({ timeout: WAIT });

    step('A writes first; B sees the conversation appear with an unread badge');
    await send(a, 'Hello Charles! Did the quasar calculations finish?');
    const bConversation = b.locator('.conv', { hasText: people.a.displayName });
    await bConversation.locator('.badge', { hasText: '1' }).waitFor({ timeout: WAIT });
    await bConversation.locator('.conv-preview', { hasText: 'quasar' }).waitFor({ timeout: WAIT });
    await bConversation.click();
    await messagesWithText(b, 'Hello Charles!').waitFor({ timeout: WAIT });
    await bConversation.locator('.badge').waitFor({ state: 'detached', timeout: WAIT });

    step('read ticks: B opened the conversation, A sees "read"');
    await messagesWithText(a, 'Hello Charles!').and(a.locator('[data-status="read"]')).waitFor({ timeout: WAIT });

    step('typing indicator both ways');
    await a.locator('#composer-input').click();
    await a.keyboard.type('Almost done', { delay: 40 });
    await b.locator('.typing', { hasText: `${people.a.displayName} is typing` }).waitFor({ timeout: WAIT });
    await a.keyboard.press('Enter');
    await messagesWithText(b, 'Almost done').waitFor({ timeout: WAIT });
    await b.locator('.typing', { hasText: 'is typing' }).waitFor({ state: 'hidden', timeout: WAIT });
    await b.locator('#composer-input').click();
    await b.keyboard.type('Yes, the engine printed every table.', { delay: 30 });
    await a.locator('.typing', { hasText: `${people.b.displayName} is typing` }).waitFor({ timeout: WAIT });
    await b.keyboard.press('Enter');
    await messagesWithText(a, 'Yes, the engine printed every table.').waitFor({ timeout: WAIT });
    await messagesWithText(b, 'Yes, the engine printed every table.').and(b.locator('[data-status="read"]')).waitFor({ timeout: WAIT });

    step('a reaction');
    const bMessage = messagesWithText(a, 'Yes, the engine printed every table.');
    await bMessage.hover();
    await bMessage.getByRole('button', { name: 'Add reaction' }).click();
    await a.getByRole('menuitem', { name: 'React with 🎉' }).click();
    await messagesWithText(b, 'Yes, the engine printed every table.').locator('.reaction', { hasText: '🎉' }).waitFor({ timeout: WAIT });

    step('screenshots: chat view, light and dark');
    await a.mouse.move(5, 790);
    await a.evaluate(() => document.activeElement?.blur());
    await a.waitForTimeout(200); // let the hover styles settle before the picture
    await shot(a, 'chat-light');
    await a.getByRole('button', { name: 'Switch to dark theme' }).click();
    await a.waitForFunction(() => document.documentElement.dataset.theme === 'dark', null, { timeout: WAIT });
    await shot(a, 'chat-dark');
    await a.getByRole('button', { name: 'Switch to light theme' }).click();

    step('offline: A is cut off while the server restarts');
    outage = true;
    contexts.a.cutOff = true;
    const refuse = (route) => route.abort('internetdisconnected');
    await contexts.a.route('**/api/**', refuse);
    say({ need: 'restart' });
    const answer = JSON.parse(await nextLine(60_000));
    check(answer.restarted === true, `the harness answered ${JSON.stringify(answer)}`);
    await a.locator('.offline-banner').waitFor({ state: 'visible', timeout: WAIT });
    await shot(a, 'offline');
    await send(a, 'Written while offline — deliver me once');
    await messagesWithText(a, 'Written while offline').and(a.locator('[data-status="pending"]')).waitFor({ timeout: WAIT });
    // B is online again after the restart: one message from its page, one straight over REST.
    await b.locator('.offline-banner').waitFor({ state: 'hidden', timeout: WAIT });
    await b.locator('.sidebar-head .presence-online').waitFor({ timeout: WAIT });
    await send(b, 'Sent from the page during the outage');
    await messagesWithText(b, 'Sent from the page during the outage').and(b.locator('[data-status="sent"], [data-status="delivered"]')).first().waitFor({ timeout: WAIT });
    await sendOverRest(people.b, 'Sent over REST during the outage');
    step('back online: A reconnects, syncs and delivers its queued message');
    contexts.a.cutOff = false;
    await contexts.a.unroute('**/api/**', refuse);
    await a.locator('.offline-banner').getByRole('button', { name: 'Retry now' }).click();
    await a.locator('.offline-banner').waitFor({ state: 'hidden', timeout: WAIT });
    outage = false;
    await messagesWithText(b, 'Written while offline — deliver me once').waitFor({ timeout: WAIT });
    await messagesWithText(a, 'Sent from the page during the outage').waitFor({ timeout: WAIT });
    await messagesWithText(a, 'Sent over REST during the outage').waitFor({ timeout: WAIT });
    await messagesWithText(a, 'Written while offline').and(a.locator('[data-status="read"]')).waitFor({ timeout: WAIT });
    await a.waitForTimeout(1500); // late duplicates would have arrived by now
    for (const [page, text] of [[b, 'Written while offline — deliver me once'], [a, 'Written while offline — deliver me once'],
      [a, 'Sent from the page during the outage'], [a, 'Sent over REST during the outage'], [b, 'Sent over REST during the outage']]) {
      const count = await messagesWithText(page, text).count();
      check(count === 1, `"${text}" shows ${count} times`);
    }
    const seqs = await b.locator('.log .msg').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
    check(new Set(seqs).size === seqs.length, `B shows a seq twice: ${seqs}`);

    step('image upload: the thumbnail reaches B');
    await a.locator('#file-input').setInputFiles({ name: 'orbit.png', mimeType: 'image/png', buffer: makePng(160, 120) });
    await a.locator('.upload.done').waitFor({ timeout: WAIT });
    await a.locator('#composer-input').fill('The orbit plot');
    await a.locator('#composer-input').press('Enter');
    const thumb = b.locator('.msg img.thumb[alt="orbit.png"]');
    await thumb.waitFor({ timeout: WAIT });
    await b.waitForFunction(() => {
      const img = document.querySelector('.msg img.thumb[alt="orbit.png"]');
      return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;
    }, null, { timeout: WAIT });

    step('search finds a message, with the match highlighted');
    await a.getByLabel('Search conversations and messages').fill('quasar');
    await a.locator('.hits mark', { hasText: /quasar/i }).first().waitFor({ timeout: WAIT });
    await shot(a, 'search');
    await a.locator('.hits .hit').first().click();
    await a.locator('.msg.flash', { hasText: 'quasar' }).waitFor({ timeout: WAIT });
    await a.getByLabel('Search conversations and messages').fill('');

    step('keyboard only: Tab to the message box, type, Enter');
    await b.bringToFront();
    await b.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
    let reached = false;
    for (let i = 0; i < 40 && !reached; i += 1) {
      await b.keyboard.press('Tab');
      reached = await b.evaluate(() => document.activeElement?.id === 'composer-input');
    }
    check(reached, 'Tab never reached the message box');
    await b.keyboard.type('Typed without a mouse');
    await b.keyboard.press('Enter');
    await messagesWithText(a, 'Typed without a mouse').waitFor({ timeout: WAIT });

    step('settings');
    await a.locator('.sidebar .me').click();
    await a.getByRole('dialog', { name: 'Settings' }).waitFor({ timeout: WAIT });
    await shot(a, 'settings');
    await a.keyboard.press('Escape');
    await a.getByRole('dialog', { name: 'Settings' }).waitFor({ state: 'hidden', timeout: WAIT });

    step('a group: A creates it with B and C, renames it, B sees the name live');
    const c = await restSession(people.c, { register: true });
    await a.getByRole('button', { name: 'New conversation' }).first().click();
    const picker = a.getByRole('dialog', { name: 'New conversation' });
    await picker.getByLabel('Find people').fill(people.b.username);
    await picker.getByLabel(new RegExp(people.b.displayName)).check({ timeout: WAIT });
    await picker.getByLabel('Find people').fill(people.c.username);
    await picker.getByLabel(new RegExp(people.c.displayName)).check({ timeout: WAIT });
    await picker.getByLabel('Group name').fill('Analytical society');
    await picker.getByRole('button', { name: 'Create group (3 people)' }).click();
    await a.locator('.chat-title', { hasText: 'Analytical society' }).waitFor({ timeout: WAIT });
    await send(a, 'Welcome to the society, both of you.');
    await b.locator('.conv', { hasText: 'Analytical society' }).waitFor({ timeout: WAIT });
    await a.getByRole('button', { name: 'Group details' }).click();
    const details = a.getByRole('dialog', { name: 'Group details' });
    await details.locator('.member').nth(2).waitFor({ timeout: WAIT });
    await details.getByLabel('Group name').fill('Difference engine crew');
    await details.getByRole('button', { name: 'Rename' }).click();
    await a.locator('.chat-title', { hasText: 'Difference engine crew' }).waitFor({ timeout: WAIT });
    await b.locator('.conv', { hasText: 'Difference engine crew' }).waitFor({ timeout: WAIT });
    check(await b.locator('.conv', { hasText: 'Analytical society' }).count() === 0, 'B still shows the old group name');

    step('A removes C: the group leaves C\'s conversation list');
    const groupId = await a.evaluate(() => new URLSearchParams(location.search).get('c'));
    check(groupId && (await c.conversations()).some((x) => x.id === groupId), 'C does not have the group');
    await details.getByRole('button', { name: `Remove ${people.c.displayName}` }).click();
    await details.locator('.member', { hasText: people.c.displayName }).waitFor({ state: 'detached', timeout: WAIT });
    await details.getByRole('heading', { name: 'Members (2)' }).waitFor({ timeout: WAIT });
    await a.mouse.move(5, 790);
    await a.waitForTimeout(200);
    await shot(a, 'group-details');
    const deadline = Date.now() + WAIT;
    while ((await c.conversations()).some((x) => x.id === groupId)) {
      check(Date.now() < deadline, 'the group is still in C\'s conversation list');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await a.keyboard.press('Escape');
    await details.waitFor({ state: 'hidden', timeout: WAIT });

    step('the sidebar filter asks the server: a DM found by username');
    const filter = a.getByLabel('Search conversations and messages');
    await filter.fill(people.b.username);
    await a.locator('.conversation-list .conv', { hasText: people.b.displayName }).waitFor({ timeout: WAIT });
    await filter.fill('');

    step('offline reading: A reloads cut off and reads the DM from its copy');
    await a.locator('.conv', { hasText: people.b.displayName }).click();
    await messagesWithText(a, 'Typed without a mouse').waitFor({ timeout: WAIT });
    await a.waitForTimeout(1200); // the copy is written shortly after the messages change
    outage = true;
    contexts.a.cutOff = true;
    await contexts.a.route('**/api/**', refuse);
    await a.reload({ waitUntil: 'load', timeout: WAIT });
    await a.locator('.offline-banner').waitFor({ state: 'visible', timeout: WAIT });
    await messagesWithText(a, 'Hello Charles! Did the quasar calculations finish?').waitFor({ timeout: WAIT });
    await messagesWithText(a, 'Typed without a mouse').waitFor({ timeout: WAIT });
    contexts.a.cutOff = false;
    await contexts.a.unroute('**/api/**', refuse);
    await a.locator('.offline-banner').getByRole('button', { name: 'Retry now' }).click();
    await a.locator('.offline-banner').waitFor({ state: 'hidden', timeout: WAIT });
    await a.locator('.sidebar-head .presence-online').waitFor({ timeout: WAIT });
    outage = false;

    step('no console errors, no CSP violations');
    for (const [who, page] of Object.entries(pages)) {
      const violations = await page.evaluate(() => window.__csp || []);
      check(!violations.length, `${who}: CSP violations: ${violations.join('; ')}`);
    }
    check(!problems.length, `browser errors:\n  ${problems.join('\n  ')}`);

    clearTimeout(guard);
    await browser.close();
    input.close();
    step('passed');
    process.exit(0);
  } catch (error) {
    await fail(error);
  }
}

/**
 * A person driven from node over REST (registered first when `register`): answers
 * `{ conversations() }`, their conversation list as the server has it.
 */
async function restSession(person, { register = false } = {}) {
  const headers = { 'Content-Type': 'application/json', 'X-Tenant-ID': 'default' };
  if (register) {
    const made = await fetch(`${BASE}/api/v1/auth/register`, {
      method: 'POST', headers,
      body: JSON.stringify({ displayName: person.displayName, username: person.username, email: `${person.username}@example.com`, password: person.password }),
    });
    check(made.ok, `REST register answered ${made.status}`);
  }
  const login = await fetch(`${BASE}/api/v1/auth/login`, {
    method: 'POST', headers, body: JSON.stringify({ username: person.username, password: person.password, deviceId: `scenario-${person.label}` }),
  });
  check(login.ok, `REST login answered ${login.status}`);
  const { accessToken } = await login.json();
  const auth = { ...headers, Authorization: `Bearer ${accessToken}` };
  return {
    async conversations() {
      const answer = await fetch(`${BASE}/api/v1/conversations?limit=100`, { headers: auth });
      check(answer.ok, `REST conversation list answered ${answer.status}`);
      return (await answer.json()).conversations;
    },
  };
}

/** Signs in from node (a second device of the same person) and posts one message over REST. */
async function sendOverRest(person, text) {
  const headers = { 'Content-Type': 'application/json', 'X-Tenant-ID': 'default' };
  const login = await fetch(`${BASE}/api/v1/auth/login`, {
    method: 'POST', headers, body: JSON.stringify({ username: person.username, password: person.password, deviceId: 'scenario-rest' }),
  });
  check(login.ok, `REST login answered ${login.status}`);
  const { accessToken } = await login.json();
  const auth = { ...headers, Authorization: `Bearer ${accessToken}` };
  const list = await (await fetch(`${BASE}/api/v1/conversations`, { headers: auth })).json();
  const dm = list.conversations.find((c) => c.type === 'dm');
  check(dm, 'REST: the DM is not in the conversation list');
  const sent = await fetch(`${BASE}/api/v1/conversations/${dm.id}/messages`, {
    method: 'POST', headers: auth, body: JSON.stringify({ content: text, clientMessageId: `rest-${suffix}` }),
  });
  check(sent.ok, `REST send answered ${sent.status}`);
}

main();
