// Browser test of the demo chat page served by chatzz (GET / and /assets/*).
// Run: cd tests && node --test --test-concurrency=1 browser/
// Needs /usr/bin/chromium and the server binary (CHATZZ_BIN, default ../target/debug/chatzz).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { io } from 'socket.io-client';

const here = path.dirname(fileURLToPath(import.meta.url));
const testsDir = path.resolve(here, '..');
const BIN = process.env.CHATZZ_BIN
  ? path.resolve(process.env.CHATZZ_BIN)
  : path.resolve(testsDir, '../target/debug/chatzz');
const SCREENSHOT = '/tmp/chatzz-demo.png';
const SCREENSHOT_NARROW = '/tmp/chatzz-demo-narrow.png';
const SCREENSHOT_TYPING = '/tmp/chatzz-demo-typing.png';
const WAIT_MS = 10000;

let server = null;
let serverLog = '';
let baseUrl = '';
let browser = null;
const pageErrors = [];

function startServer() {
  return new Promise((resolve, reject) => {
    if (!existsSync(BIN)) {
      reject(new Error(`server binary not found at ${BIN} (build it, or set CHATZZ_BIN)`));
      return;
    }
    const child = spawn(BIN, ['--listen', '127.0.0.1:0', '--database', 'memory:'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env },
    });
    server = child;
    let out = '';
    const timer = setTimeout(() => {
      reject(new Error(`server did not report readiness within 30 s; output:\n${serverLog}`));
    }, 30000);
    const keep = (chunk) => {
      serverLog = (serverLog + chunk).slice(-20000);
    };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', keep);
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      if (baseUrl) return;
      out += chunk;
      const m = out.match(/chatzz listening on (http:\/\/[^\s/]+)/);
      if (m) {
        baseUrl = m[1];
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      if (!baseUrl) {
        clearTimeout(timer);
        reject(new Error(`server exited early (code ${code}, signal ${signal}); output:\n${serverLog}`));
      }
      server = null;
    });
  });
}

async function stopServer() {
  const child = server;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

before(async () => {
  await startServer();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await stopServer();
});

// ------------------------------------------------------------------ helpers

let uniq = 0;
function uid(name) {
  uniq += 1;
  return `${name}-${process.pid}-${uniq}`;
}

/**
 * Runs in the page before its scripts: wraps the socket.io global so that every event the
 * page emits is recorded in window.__emitted ({ event, payload }).
 */
function recordEmits() {
  window.__emitted = [];
  let real;
  Object.defineProperty(window, 'io', {
    configurable: true,
    get() {
      return real;
    },
    set(v) {
      if (typeof v !== 'function') {
        real = v;
        return;
      }
      const wrapped = function (...args) {
        const socket = v.apply(this, args);
        const emit = socket.emit;
        socket.emit = function (event, ...rest) {
          window.__emitted.push({ event, payload: rest[0] });
          return emit.call(this, event, ...rest);
        };
        return socket;
      };
      Object.assign(wrapped, v);
      real = wrapped;
    },
  });
}

async function openPage({ width = 1100, height = 720, recordEmitted = false } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  context.setDefaultTimeout(WAIT_MS);
  if (recordEmitted) await context.addInitScript(recordEmits);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  await page.goto(baseUrl + '/');
  await page.locator('#user-id').waitFor();
  return page;
}

async function signIn(page, userId) {
  await page.fill('#user-id', userId);
  await page.click('#sign-in');
  await page.locator('#connection[data-state="online"]').waitFor();
  await page.waitForFunction(
    (id) => document.querySelector('#me-id')?.textContent === id,
    userId,
  );
}

async function signOut(page) {
  await page.click('#sign-out');
  await page.locator('#sign-in').waitFor();
}

function contact(page, userId) {
  return page.locator(`.contact[data-user-id="${userId}"]`);
}

/** Polls the locator (not a fixed element: optimistic messages may be replaced). */
async function waitForAttr(locator, attr, value, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await locator.getAttribute(attr, { timeout: 1000 }).catch(() => undefined);
    if (last === value) return;
    if (Date.now() > deadline) {
      throw new Error(`${locator}: expected ${attr}="${value}", last seen ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function addContact(page, userId) {
  await page.fill('#contact-id', userId);
  await page.click('#add-contact');
  try {
    await contact(page, userId).waitFor({ state: 'attached' });
  } catch (err) {
    err.message += `\nstatus bar: ${await page.locator('#status-bar').textContent()}` +
      `\nadd-contact error: ${await page.locator('#add-contact-error').textContent()}`;
    throw err;
  }
}

async function sendFromPage(page, text) {
  await page.fill('#message-input', text);
  await page.click('#send');
}

function messageWithText(page, text) {
  return page.locator('.message', { has: page.locator('.text', { hasText: text }) });
}

function assertNoPageErrors() {
  assert.deepEqual(pageErrors, [], `page errors: ${pageErrors.join('\n')}`);
}

/** A plain socket.io-client, for seeding data the page then reads. */
async function nodeClient(userId) {
  const socket = io(baseUrl, { forceNew: true, reconnection: false, transports: ['websocket'] });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const call = (event, payload) =>
    new Promise((resolve, reject) => {
      socket.timeout(WAIT_MS).emit(event, payload, (timeoutErr, err, result) => {
        if (timeoutErr) reject(timeoutErr);
        else if (err) reject(Object.assign(new Error(`${event}: ${err.code}: ${err.message}`), err));
        else resolve(result);
      });
    });
  const events = [];
  socket.on('chatzz', (envelope) => events.push(envelope));
  await call('connect-user', { userId });
  /** Like call, retrying while the server says rate-limited (seeding many messages). */
  const callPatiently = async (event, payload) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call(event, payload);
      } catch (err) {
        if (err.code !== 'rate-limited' || attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  return { socket, call, callPatiently, events };
}

// ------------------------------------------------------------------ tests

test('the server serves the page and its assets', async () => {
  const cases = [
    ['/', 'text/html', 'id="message-input"'],
    ['/assets/app.js', 'javascript', 'send-message'],
    ['/assets/style.css', 'text/css', '.message'],
    ['/assets/socket.io.min.js', 'javascript', 'Socket.IO v4.8.4'],
  ];
  for (const [p, type, needle] of cases) {
    const res = await fetch(baseUrl + p);
    assert.equal(res.status, 200, `GET ${p}`);
    assert.match(res.headers.get('content-type') || '', new RegExp(type.replace('/', '\\/')), `content-type of ${p}`);
    const body = await res.text();
    assert.ok(body.includes(needle), `GET ${p} should contain ${needle}`);
  }
});

test('two users chat: presence, delivery, read ticks', async () => {
  const alice = uid('alice');
  const bob = uid('bob');
  const pageA = await openPage();
  const pageB = await openPage();

  // Both sign in (bob first: add-chat-user needs a known user).
  await signIn(pageB, bob);
  await signIn(pageA, alice);

  // Alice adds bob: bob shows up online on alice's page, alice shows up on bob's page.
  await addContact(pageA, bob);
  await waitForAttr(contact(pageA, bob), 'data-status', 'online');
  await contact(pageB, alice).waitFor();
  await waitForAttr(contact(pageB, alice), 'data-status', 'online');
  // Adding opens the chat.
  await pageA.locator('#chat-view').waitFor();
  assert.equal(await pageA.locator('#chat-title').textContent(), bob);

  // Presence flips: bob goes away (offline, "last seen"), then comes back (online).
  await signOut(pageB);
  await waitForAttr(contact(pageA, bob), 'data-status', 'offline');
  await pageA.waitForFunction(
    (id) =>
      /last seen/.test(document.querySelector(`.contact[data-user-id="${id}"] .presence-text`)?.textContent || ''),
    bob,
  );
  assert.equal(await contact(pageA, bob).locator('.presence-dot.online').count(), 0);
  assert.match(await pageA.locator('#chat-presence').textContent(), /last seen/);

  await signIn(pageB, bob);
  await waitForAttr(contact(pageA, bob), 'data-status', 'online');
  await contact(pageA, bob).locator('.presence-dot.online').waitFor();
  assert.equal((await contact(pageA, bob).locator('.presence-text').textContent()).trim(), 'online');
  assert.equal((await pageA.locator('#chat-presence').textContent()).trim(), 'online');
  // Bob's contact list comes back from connectedUsers.
  await contact(pageB, alice).waitFor();
  await waitForAttr(contact(pageB, alice), 'data-status', 'online');

  // Alice sends; bob has not opened the chat yet, so it is delivered (sent) but unread.
  const hello = 'Hello Bob \u{1F44B} <b>not bold</b>';
  await sendFromPage(pageA, hello);
  const sentA = messageWithText(pageA, hello);
  await sentA.waitFor();
  await pageA.waitForFunction(
    (t) => {
      const el = Array.from(document.querySelectorAll('.message')).find((m) => m.querySelector('.text')?.textContent === t);
      return el && el.dataset.messageId && ['sent', 'read'].includes(el.dataset.status);
    },
    hello,
  );
  await pageB.waitForFunction(
    (id) => document.querySelector(`.contact[data-user-id="${id}"] .unread-count`)?.textContent === '1',
    alice,
  );
  assert.equal(await contact(pageB, alice).locator('.unread-count').isVisible(), true);
  assert.equal(await sentA.getAttribute('data-status'), 'sent', 'unread message must not be read yet');
  assert.equal((await sentA.locator('.ticks').textContent()).trim(), '\u2713\u2713');

  // Bob opens the chat: the message is shown (as text, not HTML), then marked read.
  await contact(pageB, alice).click();
  const gotB = messageWithText(pageB, hello);
  await gotB.waitFor();
  assert.equal(await gotB.locator('b').count(), 0, 'message text must not be interpreted as HTML');
  assert.match(await gotB.getAttribute('class'), /incoming/);

  // Alice's page shows the read tick.
  await waitForAttr(sentA, 'data-status', 'read');
  assert.match(await sentA.locator('.ticks').getAttribute('class'), /\bread\b/);
  assert.equal((await sentA.locator('.ticks').textContent()).trim(), '\u2713\u2713');
  await pageB.waitForFunction(
    (id) => document.querySelector(`.contact[data-user-id="${id}"] .unread-count`)?.hidden === true,
    alice,
  );

  // Bob replies with Enter; alice has the chat open, so bob sees it read.
  const reply = 'Hi Alice!\nSecond line.';
  await pageB.fill('#message-input', reply);
  await pageB.press('#message-input', 'Enter');
  const replyB = pageB.locator('.message.outgoing', { hasText: 'Second line.' });
  await replyB.waitFor();
  await waitForAttr(replyB, 'data-status', 'read');
  const replyA = pageA.locator('.message.incoming', { hasText: 'Second line.' });
  await replyA.waitFor();
  assert.equal(await replyA.locator('.text').textContent(), reply);

  // Each message is shown once (dedupe by _id, optimistic copy retired).
  assert.equal(await pageA.locator('.message').count(), 2);
  assert.equal(await pageB.locator('.message').count(), 2);
  assert.equal(await pageA.locator('.message.pending').count(), 0);
  const ids = await pageA.locator('.message').evaluateAll((els) => els.map((e) => e.dataset.messageId));
  assert.equal(new Set(ids).size, 2);
  assert.ok(ids[0] < ids[1], 'messages are ordered by id');

  await pageA.screenshot({ path: SCREENSHOT });
  await pageB.screenshot({ path: '/tmp/chatzz-demo-receiver.png' });
  assertNoPageErrors();
  await pageA.context().close();
  await pageB.context().close();
});

test('messages sent while the contact is offline: one tick, missed messages, unread counter', async () => {
  const carol = uid('carol');
  const dave = uid('dave');
  const pageC = await openPage();
  const pageD = await openPage();

  await signIn(pageD, dave);
  await signIn(pageC, carol);
  await addContact(pageC, dave);
  await contact(pageD, carol).waitFor();
  await signOut(pageD);
  await waitForAttr(contact(pageC, dave), 'data-status', 'offline');

  const texts = ['Are you there?', 'Ping me when you are back.'];
  for (const t of texts) await sendFromPage(pageC, t);
  for (const t of texts) {
    const m = messageWithText(pageC, t);
    await waitForAttr(m, 'data-status', 'not_sent');
    assert.ok(await m.getAttribute('data-message-id'));
    assert.equal((await m.locator('.ticks').textContent()).trim(), '\u2713');
  }

  // Dave comes back: missedMessages land in the contact list with an unread counter,
  // and carol's messages become delivered.
  await signIn(pageD, dave);
  await pageD.waitForFunction(
    (id) => document.querySelector(`.contact[data-user-id="${id}"] .unread-count`)?.textContent === '2',
    carol,
  );
  for (const t of texts) await waitForAttr(messageWithText(pageC, t), 'data-status', 'sent');

  await contact(pageD, carol).click();
  for (const t of texts) await messageWithText(pageD, t).waitFor();
  for (const t of texts) await waitForAttr(messageWithText(pageC, t), 'data-status', 'read');
  assert.equal(await pageD.locator('.message').count(), 2, 'missed messages and history are deduplicated');
  assertNoPageErrors();
  await pageC.context().close();
  await pageD.context().close();
});

test('adding an unknown user or yourself shows the error code', async () => {
  const gina = uid('gina');
  const page = await openPage();
  await signIn(page, gina);

  const nobody = uid('nobody');
  await page.fill('#contact-id', nobody);
  await page.click('#add-contact');
  await page.locator('#add-contact-error').waitFor();
  assert.match(await page.locator('#add-contact-error').textContent(), /unknown-user/);
  assert.equal(await page.locator('#status-bar').getAttribute('data-error-code'), 'unknown-user');
  assert.equal(await page.locator('.contact').count(), 0);

  await page.fill('#contact-id', gina);
  await page.click('#add-contact');
  await page.waitForFunction(() => /invalid-argument/.test(document.querySelector('#add-contact-error')?.textContent || ''));
  assert.equal(await page.locator('#status-bar').getAttribute('data-error-code'), 'invalid-argument');
  assertNoPageErrors();
  await page.context().close();
});

test('history pages back with "load older"', async () => {
  const erin = uid('erin');
  const frank = uid('frank');
  const total = 60;
  const f = await nodeClient(frank); // connected, so erin's messages are delivered, not missed
  const e = await nodeClient(erin);
  try {
    await e.call('add-chat-user', { userToAdd: frank });
    for (let i = 1; i <= total; i++) {
      const payload = { userId: frank, message: `msg ${String(i).padStart(2, '0')}`, clientMessageId: `seed-${erin}-${i}` };
      for (let attempt = 0; ; attempt++) {
        try {
          await e.call('send-message', payload);
          break;
        } catch (err) {
          if (err.code !== 'rate-limited' || attempt > 50) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    }
  } finally {
    f.socket.disconnect();
    e.socket.disconnect();
  }

  const page = await openPage();
  await signIn(page, frank);
  await contact(page, erin).click();
  await page.waitForFunction(() => document.querySelectorAll('.message').length === 50);
  await page.locator('#load-older').waitFor();
  assert.equal(await page.locator('.message .text').first().textContent(), 'msg 11');
  assert.equal(await page.locator('.message .text').last().textContent(), `msg ${total}`);

  await page.click('#load-older');
  await page.waitForFunction((n) => document.querySelectorAll('.message').length === n, total);
  assert.equal(await page.locator('.message .text').first().textContent(), 'msg 01');
  await page.locator('#load-older').waitFor({ state: 'hidden' });
  const ids = await page.locator('.message').evaluateAll((els) => els.map((el) => el.dataset.messageId));
  assert.equal(new Set(ids).size, total);
  assert.deepEqual([...ids].sort(), ids, 'history is shown oldest first');
  assertNoPageErrors();
  await page.context().close();
});

test('narrow screens show one pane at a time', async () => {
  const ivy = uid('ivy');
  const jack = uid('jack');
  const pageJ = await openPage();
  await signIn(pageJ, jack);
  const page = await openPage({ width: 390, height: 760 });
  await signIn(page, ivy);
  await addContact(page, jack);
  // Adding opens the chat, which takes the whole width.
  await page.locator('#chat-view').waitFor();
  assert.equal(await page.locator('#sidebar').isVisible(), false);
  assert.equal(await page.locator('#back').isVisible(), true);
  await sendFromPage(page, 'Small screens work too. This line is long enough to wrap inside the bubble.');
  await waitForAttr(page.locator('.message.outgoing').first(), 'data-status', 'sent');
  const box = await page.locator('.message.outgoing .bubble').first().boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, 'bubble fits the viewport');
  await page.screenshot({ path: SCREENSHOT_NARROW });

  await page.click('#back');
  await contact(page, jack).waitFor();
  assert.equal(await page.locator('#chat-view').isVisible(), false);
  assertNoPageErrors();
  await page.context().close();
  await pageJ.context().close();
});

// ------------------------------------------------------------ protocol 1.1: the inbox, edits, deletes

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `read` until it deep-equals `expected`; fails with the last value seen. */
async function eventually(read, expected, what, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const last = await read();
    try {
      assert.deepEqual(last, expected);
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        err.message = `${what}: ${err.message}`;
        throw err;
      }
    }
    await sleep(50);
  }
}

/** The contact list as shown: order, unread badge (0 when hidden) and preview line (null when hidden). */
function contactSummary(page) {
  return page.locator('.contact').evaluateAll((els) =>
    els.map((e) => {
      const badge = e.querySelector('.unread-count');
      const preview = e.querySelector('.contact-preview');
      return {
        id: e.dataset.userId,
        unread: badge.hidden ? 0 : Number(badge.textContent),
        preview: preview.hidden ? null : preview.textContent,
      };
    }),
  );
}

function messageById(page, id) {
  return page.locator(`.message[data-message-id="${id}"]`);
}

async function messageState(page, id) {
  const m = messageById(page, id);
  return {
    text: await m.locator('.text').textContent(),
    edited: await m.locator('.edited').isVisible(),
    deleted: /\bdeleted\b/.test((await m.getAttribute('class')) || ''),
  };
}

test('the contact list comes from the server: unread badges, previews and order, after a reload too', async () => {
  const me = uid('mia');
  const [p1, p2, p3, p4] = ['pete', 'paula', 'paco', 'pia'].map(uid);
  const meNode = await nodeClient(me); // online: the messages below are delivered, not missed
  const nodes = [];
  const client = async (id) => {
    const n = await nodeClient(id);
    nodes.push(n);
    return n;
  };
  let cid = 0;
  const send = (n, to, message) =>
    n.callPatiently('send-message', { userId: to, message, clientMessageId: `seed-${me}-${++cid}` });
  try {
    const c1 = await client(p1);
    const c2 = await client(p2);
    const c3 = await client(p3);
    const c4 = await client(p4);
    // Rooms created in an order (p3, p2, p1, then p4) that is not the order of activity.
    for (const c of [c3, c2, c1]) await c.call('add-chat-user', { userToAdd: me });
    // Distinct milliseconds between conversations, so the order by last activity is certain.
    await send(c2, me, 'two-a');
    await send(c2, me, 'two-b');
    await sleep(20);
    await send(c1, me, 'one-a');
    const oneB = await send(c1, me, 'one-b');
    await c1.call('delete-message', { messageId: oneB._id });
    await sleep(20);
    for (const t of ['three-a', 'three-b', 'three-c']) await send(c3, me, t);
    const reply = await send(meNode, p3, 'my reply');
    await meNode.call('edit-message', { messageId: reply._id, message: 'my reply, edited' });
    await sleep(20);
    await c4.call('add-chat-user', { userToAdd: me }); // the newest room, no messages
    meNode.socket.disconnect();

    const fromServer = [
      { id: p4, unread: 0, preview: null },
      { id: p3, unread: 3, preview: 'You: my reply, edited' },
      { id: p1, unread: 1, preview: 'message deleted' },
      { id: p2, unread: 2, preview: 'two-b' },
    ];
    const page = await openPage();
    await signIn(page, me);
    await eventually(() => contactSummary(page), fromServer, 'contacts after sign-in');
    assert.equal(await page.title(), '(6) chatzz demo');
    assert.match(await contact(page, p1).locator('.contact-preview').getAttribute('class'), /\bdeleted\b/);

    // A reload shows the same badges, previews and order: they come from the server.
    await page.reload();
    await signIn(page, me);
    await eventually(() => contactSummary(page), fromServer, 'contacts after a reload');

    // A new message moves its conversation to the top, with its preview and one more unread.
    await send(c2, me, 'two-c');
    await eventually(
      () => contactSummary(page),
      [
        { id: p2, unread: 3, preview: 'two-c' },
        { id: p4, unread: 0, preview: null },
        { id: p3, unread: 3, preview: 'You: my reply, edited' },
        { id: p1, unread: 1, preview: 'message deleted' },
      ],
      'a new message moves its conversation to the top',
    );

    // Opening a chat reads it; sending moves it to the top.
    await contact(page, p1).click();
    await messageWithText(page, 'one-a').waitFor();
    await page.locator('.message.deleted', { hasText: 'message deleted' }).waitFor();
    await sendFromPage(page, 'hi pete');
    const after = [
      { id: p1, unread: 0, preview: 'You: hi pete' },
      { id: p2, unread: 3, preview: 'two-c' },
      { id: p4, unread: 0, preview: null },
      { id: p3, unread: 3, preview: 'You: my reply, edited' },
    ];
    await eventually(() => contactSummary(page), after, 'reading and sending');
    await waitForAttr(messageWithText(page, 'hi pete'), 'data-status', 'sent');

    await page.reload();
    await signIn(page, me);
    await eventually(() => contactSummary(page), after, 'contacts after the second reload');
    assertNoPageErrors();
    await page.context().close();
  } finally {
    meNode.socket.disconnect();
    for (const n of nodes) n.socket.disconnect();
  }
});

test('opening a conversation reads it up to its newest message with one message-read', async () => {
  const sender = uid('sam');
  const reader = uid('rita');
  const pageR = await openPage({ recordEmitted: true });
  await signIn(pageR, reader);
  const pageS = await openPage();
  await signIn(pageS, sender);
  await addContact(pageS, reader);
  const observer = await nodeClient(sender); // another socket of the sender: sees what the server emits
  try {
    const texts = ['first of three', 'second of three', 'third of three'];
    for (const t of texts) {
      await sendFromPage(pageS, t);
      await waitForAttr(messageWithText(pageS, t), 'data-status', 'sent');
    }
    const ids = [];
    for (const t of texts) ids.push(await messageWithText(pageS, t).getAttribute('data-message-id'));
    await pageR.waitForFunction(
      (id) => document.querySelector(`.contact[data-user-id="${id}"] .unread-count`)?.textContent === '3',
      sender,
    );
    await pageR.evaluate(() => {
      window.__emitted.length = 0;
    });

    await contact(pageR, sender).click();
    for (const t of texts) await messageWithText(pageR, t).waitFor();
    // Every message shows read on the sender's page: the two older ones through messages-read.
    for (const t of texts) await waitForAttr(messageWithText(pageS, t), 'data-status', 'read');
    await pageR.waitForFunction(
      (id) => document.querySelector(`.contact[data-user-id="${id}"] .unread-count`)?.hidden === true,
      sender,
    );
    await sleep(500); // anything else the page would send, it has sent by now

    const reads = await pageR.evaluate(() => window.__emitted.filter((e) => e.event === 'message-read'));
    assert.deepEqual(
      reads.map((e) => e.payload),
      [{ messageId: ids[2] }],
      'one message-read, naming the newest message',
    );
    const readEvents = observer.events.filter((e) => e.type === 'messages-read');
    assert.equal(readEvents.length, 1, `one messages-read: ${JSON.stringify(observer.events)}`);
    assert.equal(readEvents[0].data.readerId, reader);
    assert.equal(readEvents[0].data.upTo, ids[2]);
    assert.equal(readEvents[0].data.count, 3);
    const statusEvents = observer.events.filter((e) => e.type === 'message-status-changed');
    assert.deepEqual(statusEvents.map((e) => [e.data._id, e.data.status]).filter(([, s]) => s === 'read'), [[ids[2], 'read']]);

    // A reload of either page keeps it: nothing unread, every tick read.
    await pageR.reload();
    await signIn(pageR, reader);
    await contact(pageR, sender).waitFor();
    await eventually(() => contactSummary(pageR), [{ id: sender, unread: 0, preview: 'third of three' }], 'reader after a reload');
    await pageS.reload();
    await signIn(pageS, sender);
    await contact(pageS, reader).click();
    for (const t of texts) await waitForAttr(messageWithText(pageS, t), 'data-status', 'read');
    assertNoPageErrors();
  } finally {
    observer.socket.disconnect();
    await pageR.context().close();
    await pageS.context().close();
  }
});

test('editing and deleting my messages shows on both sides', async () => {
  const alice = uid('ann');
  const bob = uid('ben');
  const pageB = await openPage();
  await signIn(pageB, bob);
  const pageA = await openPage();
  await signIn(pageA, alice);
  await addContact(pageA, bob);

  await sendFromPage(pageA, 'helo, typo here');
  await waitForAttr(messageWithText(pageA, 'helo, typo here'), 'data-status', 'sent');
  await sendFromPage(pageA, 'this one goes away');
  await waitForAttr(messageWithText(pageA, 'this one goes away'), 'data-status', 'sent');
  const editId = await messageWithText(pageA, 'helo, typo here').getAttribute('data-message-id');
  const deleteId = await messageWithText(pageA, 'this one goes away').getAttribute('data-message-id');
  await contact(pageB, alice).click();
  await messageById(pageB, deleteId).waitFor();
  // Only my own messages have the menu.
  assert.equal(await pageB.locator('.message.incoming .message-menu-button').count(), 0);
  assert.equal(await pageA.locator('.message.outgoing .message-menu-button').count(), 2);

  // Edit with the mouse: menu, Edit, the inline editor, Enter.
  const mine = messageById(pageA, editId);
  await mine.hover();
  await mine.locator('.message-menu-button').click();
  assert.equal(await mine.locator('.message-menu-button').getAttribute('aria-expanded'), 'true');
  await mine.locator('[data-testid="message-edit"]').click();
  const input = mine.locator('.edit-input');
  await input.waitFor();
  assert.equal(await input.inputValue(), 'helo, typo here');
  await input.fill('hello, fixed <i>here</i>');
  await input.press('Enter');
  const edited = { text: 'hello, fixed <i>here</i>', edited: true, deleted: false };
  await eventually(() => messageState(pageA, editId), edited, 'the editor sees the edit');
  await eventually(() => messageState(pageB, editId), edited, 'the other side sees the edit');
  assert.equal(await messageById(pageB, editId).locator('i').count(), 0, 'edited text is not HTML');
  assert.equal(await mine.locator('.edit-form').isVisible(), false);

  // Delete with the keyboard: focus the menu button, Enter, ArrowDown to Delete, Enter, confirm.
  const doomed = messageById(pageA, deleteId);
  await doomed.locator('.message-menu-button').focus();
  await pageA.keyboard.press('Enter');
  await pageA.waitForFunction(() => document.activeElement?.dataset.testid === 'message-edit');
  await pageA.keyboard.press('ArrowDown');
  await pageA.waitForFunction(() => document.activeElement?.dataset.testid === 'message-delete');
  pageA.once('dialog', (dialog) => dialog.accept());
  await pageA.keyboard.press('Enter');
  const gone = { text: 'message deleted', edited: false, deleted: true };
  await eventually(() => messageState(pageA, deleteId), gone, 'the sender sees the tombstone');
  await eventually(() => messageState(pageB, deleteId), gone, 'the other side sees the tombstone');
  assert.equal(await doomed.locator('.message-menu-button').isVisible(), false, 'no menu on a tombstone');
  await eventually(() => contactSummary(pageB), [{ id: alice, unread: 0, preview: 'message deleted' }], "bob's preview");
  await eventually(() => contactSummary(pageA), [{ id: bob, unread: 0, preview: 'You: message deleted' }], "alice's preview");

  // Both stay that way after a reload (from history).
  await pageB.reload();
  await signIn(pageB, bob);
  await contact(pageB, alice).click();
  await messageById(pageB, deleteId).waitFor();
  assert.deepEqual(await messageState(pageB, editId), edited);
  assert.deepEqual(await messageState(pageB, deleteId), gone);
  await eventually(() => contactSummary(pageB), [{ id: alice, unread: 0, preview: 'message deleted' }], "bob's preview after a reload");
  assertNoPageErrors();
  await pageA.context().close();
  await pageB.context().close();
});

// ------------------------------------------------------------ protocol 1.1: typing

const TYPING = 'typing\u2026';

/** What the page shows of a contact's typing: the open chat's line, the contact row and its preview. */
function typingShown(page, contactId) {
  return page.evaluate((id) => {
    const row = document.querySelector(`.contact[data-user-id="${id}"]`);
    const typing = row && row.querySelector('.contact-typing');
    const preview = row && row.querySelector('.contact-preview');
    return {
      chat: document.querySelector('#typing-indicator').textContent,
      row: typing && !typing.hidden ? typing.textContent : null,
      preview: preview && !preview.hidden ? preview.textContent : null,
    };
  }, contactId);
}

/** Records the `typing` events a node client gets, with their arrival time, in order with its messages. */
function recordTyping(node) {
  const seen = [];
  node.socket.on('chatzz', (e) => {
    if (e.type === 'typing' || e.type === 'new-message') seen.push({ at: Date.now(), type: e.type, data: e.data });
  });
  return seen;
}

test('a contact typing shows "typing\u2026" in the chat and the contact list until false, a message, or 6 s', async () => {
  const me = uid('tess');
  const them = uid('theo');
  const other = uid('tara');
  const page = await openPage();
  await signIn(page, me);
  const node = await nodeClient(them);
  const node2 = await nodeClient(other);
  try {
    await node2.call('add-chat-user', { userToAdd: me });
    await node2.call('send-message', { userId: me, message: 'from tara', clientMessageId: `seed-${other}` });
    await addContact(page, them); // opens the chat with theo
    await node.call('send-message', { userId: me, message: 'earlier message', clientMessageId: `seed-${them}` });
    await messageWithText(page, 'earlier message').waitFor();
    const idle = { chat: '', row: null, preview: 'earlier message' };
    const typing = { chat: `${them} is ${TYPING}`, row: TYPING, preview: null };
    await eventually(() => typingShown(page, them), idle, 'nobody types yet');
    assert.equal(await page.locator('#typing-indicator').getAttribute('aria-live'), 'polite');

    // true shows it in the open chat and in the contact row (in place of the preview); false hides it.
    await node.call('typing', { userId: me, typing: true });
    await eventually(() => typingShown(page, them), typing, 'theo types');
    await page.screenshot({ path: SCREENSHOT_TYPING });
    await node.call('typing', { userId: me, typing: false });
    await eventually(() => typingShown(page, them), idle, 'theo stopped');

    // Another contact typing shows in its row only: its chat is not open.
    await node2.call('typing', { userId: me, typing: true });
    await eventually(() => typingShown(page, other), { chat: '', row: TYPING, preview: null }, 'tara types');
    await node2.call('typing', { userId: me, typing: false });
    await eventually(() => typingShown(page, other), { chat: '', row: null, preview: 'from tara' }, 'tara stopped');

    // Without renewal it goes after expiresInMs (6 s); a renewal restarts those 6 s.
    await node.call('typing', { userId: me, typing: true });
    await eventually(() => typingShown(page, them), typing, 'theo types again');
    await sleep(3000);
    await node.call('typing', { userId: me, typing: true });
    const renewedAt = Date.now();
    await sleep(4000); // 7 s after the first true, 4 s after the renewal
    assert.deepEqual(await typingShown(page, them), typing, 'a renewed indicator stays');
    await eventually(() => typingShown(page, them), idle, 'expired', 6000);
    const after = Date.now() - renewedAt;
    assert.ok(after >= 5500, `the indicator expired ${after} ms after the renewal, expected about 6000`);

    // The contact's message ends it (the server also says false just before the message).
    await node.call('typing', { userId: me, typing: true });
    await eventually(() => typingShown(page, them), typing, 'theo types a message');
    await node.call('send-message', { userId: me, message: 'here it is', clientMessageId: `seed-${them}-2` });
    await messageWithText(page, 'here it is').waitFor();
    await eventually(() => typingShown(page, them), { ...idle, preview: 'here it is' }, 'the message arrived');

    // The typer's last socket going away ends it at once (the server says false, then offline), not after 6 s.
    await node.call('typing', { userId: me, typing: true });
    await eventually(() => typingShown(page, them), { ...typing, preview: null }, 'theo types, then leaves');
    node.socket.disconnect();
    await eventually(() => typingShown(page, them), { ...idle, preview: 'here it is' }, 'theo left', 3000);
    await waitForAttr(contact(page, them), 'data-status', 'offline');
    assertNoPageErrors();
  } finally {
    node.socket.disconnect();
    node2.socket.disconnect();
    await page.context().close();
  }
});

test('typing in the composer tells the contact, throttled; sending, emptying, idling or switching ends it', async () => {
  const me = uid('ursa');
  const them = uid('vic');
  const other = uid('wes');
  const node = await nodeClient(them);
  const node2 = await nodeClient(other);
  const seen = recordTyping(node);
  const seen2 = recordTyping(node2);
  const page = await openPage({ recordEmitted: true });
  const mine = (list) => list.filter((e) => e.type === 'typing' && e.data.userId === me).map((e) => e.data.typing);
  try {
    await signIn(page, me);
    await node2.call('add-chat-user', { userToAdd: me });
    await contact(page, other).waitFor();
    await addContact(page, them); // opens the chat with vic
    const input = page.locator('#message-input');

    // The first keystroke says true; more typing within 2.5 s says nothing more.
    await input.pressSequentially('hello', { delay: 60 });
    await eventually(() => mine(seen), [true], 'the contact hears typing: true');
    const first = seen.find((e) => e.type === 'typing');
    assert.equal(typeof first.data.chatRoomId, 'string');
    assert.equal(first.data.expiresInMs, 6000);

    // Typing on for ~4 s: renewed every 2-3 s (before the 6 s run out), never stopped.
    await input.pressSequentially(' there, typing on and on', { delay: 170 });
    const trues = seen.filter((e) => e.type === 'typing' && e.data.typing);
    assert.deepEqual(mine(seen), trues.map(() => true), 'no typing: false while typing goes on');
    assert.ok(trues.length >= 2, `renewed while typing went on, got ${trues.length} typing: true`);
    for (let i = 1; i < trues.length; i++) {
      const gap = trues[i].at - trues[i - 1].at;
      assert.ok(gap >= 2000 && gap < 5000, `renewal gap ${gap} ms: every 2-3 s`);
    }

    // Sending: the contact sees typing: false before the message, once.
    await input.press('Enter');
    await messageWithText(page, 'hello there, typing on and on').waitFor();
    await eventually(() => seen.some((e) => e.type === 'new-message'), true, 'the message arrives');
    await sleep(300);
    const msgAt = seen.findIndex((e) => e.type === 'new-message');
    const falses = seen.filter((e) => e.type === 'typing' && !e.data.typing);
    assert.equal(falses.length, 1, `one typing: false: ${JSON.stringify(seen)}`);
    assert.ok(seen.indexOf(falses[0]) < msgAt, 'typing: false comes before the message');
    assert.equal(falses[0].data.expiresInMs, 0);

    // Emptying the composer says false.
    seen.length = 0;
    await input.pressSequentially('oops', { delay: 30 });
    await eventually(() => mine(seen), [true], 'typing again');
    await input.fill('');
    await eventually(() => mine(seen), [true, false], 'the composer was emptied');

    // No keystroke for ~4 s says false.
    seen.length = 0;
    await input.pressSequentially('x');
    await eventually(() => mine(seen), [true], 'one keystroke');
    await eventually(() => mine(seen), [true, false], 'idle', 7000);
    const idleMs = seen[1].at - seen[0].at;
    assert.ok(idleMs >= 3500 && idleMs < 6000, `typing: false ${idleMs} ms after the last keystroke`);

    // Switching conversations says false to the one left.
    seen.length = 0;
    await input.pressSequentially('draft');
    await eventually(() => mine(seen), [true], 'typing a draft');
    await contact(page, other).click();
    await eventually(() => mine(seen), [true, false], 'switched to another chat');
    assert.deepEqual(mine(seen2), [], 'the other contact heard nothing: no keystroke in its chat');

    const errors = await page.evaluate(() => document.querySelector('#status-bar').dataset.kind);
    assert.notEqual(errors, 'error', await page.locator('#status-bar').textContent());
    const emitted = await page.evaluate(() => window.__emitted.filter((e) => e.event === 'typing').map((e) => e.payload));
    assert.ok(emitted.every((p) => p.userId === them && typeof p.typing === 'boolean'), JSON.stringify(emitted));
    assertNoPageErrors();
  } finally {
    node.socket.disconnect();
    node2.socket.disconnect();
    await page.context().close();
  }
});

// ------------------------------------------------------------ protocol 1.1: blocking

/** What the page shows of blocking a contact: the row's label, the chat's button, note and composer. */
function blockShown(page, contactId) {
  return page.evaluate((id) => {
    const row = document.querySelector(`.contact[data-user-id="${id}"]`);
    const label = row && row.querySelector('.contact-blocked');
    const chatOpen = !document.querySelector('#chat-view').hidden && document.querySelector('#chat-view').dataset.userId === id;
    const note = document.querySelector('#blocked-note');
    return {
      row: row ? row.dataset.blocked : null,
      label: label && !label.hidden ? label.textContent : null,
      button: chatOpen ? document.querySelector('#block-toggle').textContent : null,
      pressed: chatOpen ? document.querySelector('#block-toggle').getAttribute('aria-pressed') : null,
      note: chatOpen && !note.hidden ? note.textContent : null,
      inputDisabled: chatOpen ? document.querySelector('#message-input').disabled : null,
      sendDisabled: chatOpen ? document.querySelector('#send').disabled : null,
    };
  }, contactId);
}

async function rejectionCode(promise) {
  try {
    await promise;
  } catch (err) {
    return err.code;
  }
  return 'resolved';
}

test('blocking a contact from the page: confirmed, told to nobody, composer disabled, after a reload too; unblocking', async () => {
  const me = uid('bea');
  const them = uid('bert');
  const node = await nodeClient(them);
  const page = await openPage({ recordEmitted: true });
  const blockEmits = () =>
    page.evaluate(() =>
      window.__emitted.filter((e) => e.event === 'block-user' || e.event === 'unblock-user').map((e) => [e.event, e.payload]),
    );
  try {
    await signIn(page, me);
    await addContact(page, them); // opens the chat with bert
    await node.call('send-message', { userId: me, message: 'before the block', clientMessageId: `seed-${them}-1` });
    await messageWithText(page, 'before the block').waitFor();
    await waitForAttr(contact(page, them), 'data-status', 'online');
    const open = { row: 'false', label: null, button: 'Block', pressed: 'false', note: null, inputDisabled: false, sendDisabled: false };
    await eventually(() => blockShown(page, them), open, 'not blocked yet');

    // Keyboard: focus Block, Enter; the confirmation is dismissed: nothing happens.
    const toggle = page.locator('#block-toggle');
    await toggle.focus();
    let asked = null;
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      dialog.dismiss();
    });
    await page.keyboard.press('Enter');
    await eventually(() => asked !== null, true, 'the page asks before blocking');
    assert.match(asked, new RegExp(`Block ${them}\\?`));
    await sleep(300);
    assert.deepEqual(await blockEmits(), [], 'no block-user without a confirmation');
    assert.deepEqual(await blockShown(page, them), open);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'block-toggle', 'focus stays on the button');

    // Confirmed: block-user, and the page shows the contact blocked with the composer disabled.
    const heardBefore = node.events.length;
    page.once('dialog', (dialog) => dialog.accept());
    await page.keyboard.press('Enter');
    const blocked = {
      row: 'true',
      label: 'blocked',
      button: 'Unblock',
      pressed: 'true',
      note: `You blocked ${them}. Unblock to send messages.`,
      inputDisabled: true,
      sendDisabled: true,
    };
    await eventually(() => blockShown(page, them), blocked, 'blocked');
    assert.deepEqual(await blockEmits(), [['block-user', { userId: them }]]);
    assert.equal(await contact(page, them).locator('.contact-blocked').isVisible(), true);
    assert.equal(await page.locator('#blocked-note').isVisible(), true);
    await page.screenshot({ path: '/tmp/chatzz-demo-blocked.png' });
    await sleep(500);
    assert.deepEqual(node.events.slice(heardBefore), [], 'the blocked contact is told nothing');

    // The contact can no longer send or type to me; I still see their presence.
    assert.equal(
      await rejectionCode(node.call('send-message', { userId: me, message: 'blocked?', clientMessageId: `seed-${them}-2` })),
      'forbidden',
    );
    assert.equal(await rejectionCode(node.call('typing', { userId: me, typing: true })), 'forbidden');
    assert.equal(await messageWithText(page, 'blocked?').count(), 0);
    assert.equal(await contact(page, them).getAttribute('data-status'), 'online');
    assert.notEqual(await page.locator('#status-bar').getAttribute('data-kind'), 'error', await page.locator('#status-text').textContent());

    // A reload shows it from Contact.blocked.
    await page.reload();
    await signIn(page, me);
    await contact(page, them).waitFor();
    await eventually(
      () => blockShown(page, them),
      { ...blocked, button: null, pressed: null, note: null, inputDisabled: null, sendDisabled: null },
      'blocked in the list after a reload',
    );
    await contact(page, them).click();
    await messageWithText(page, 'before the block').waitFor();
    await eventually(() => blockShown(page, them), blocked, 'blocked chat after a reload');
    await waitForAttr(contact(page, them), 'data-status', 'online');

    // Unblock (no confirmation): the composer works again, still told to nobody.
    const heardBeforeUnblock = node.events.length;
    page.once('dialog', (dialog) => {
      asked = `unexpected dialog: ${dialog.message()}`;
      dialog.dismiss();
    });
    await toggle.click();
    await eventually(() => blockShown(page, them), open, 'unblocked');
    page.removeAllListeners('dialog');
    assert.match(asked, /^Block /, 'unblocking asks nothing');
    assert.deepEqual(await blockEmits(), [['unblock-user', { userId: them }]], 'after the reload: only unblock-user');
    assert.equal(await contact(page, them).locator('.contact-blocked').isVisible(), false);
    await sleep(300);
    assert.deepEqual(node.events.slice(heardBeforeUnblock), [], 'unblocking is told to nobody');

    await sendFromPage(page, 'after the unblock');
    await waitForAttr(messageWithText(page, 'after the unblock'), 'data-status', 'sent');
    await eventually(
      () => node.events.filter((e) => e.type === 'new-message' && e.data.from._id === me).map((e) => e.data.message),
      ['after the unblock'],
      'the contact gets the message',
    );
    await node.call('send-message', { userId: me, message: 'welcome back', clientMessageId: `seed-${them}-3` });
    await messageWithText(page, 'welcome back').waitFor();
    assertNoPageErrors();
  } finally {
    node.socket.disconnect();
    await page.context().close();
  }
});

test('a contact who blocks me shows offline, and my message to them fails with forbidden (not a crash)', async () => {
  const me = uid('cleo');
  const them = uid('cole');
  const node = await nodeClient(them);
  const page = await openPage();
  try {
    await signIn(page, me);
    await addContact(page, them);
    await waitForAttr(contact(page, them), 'data-status', 'online');
    await sendFromPage(page, 'hello cole');
    await waitForAttr(messageWithText(page, 'hello cole'), 'data-status', 'sent');

    // The contact blocks me: the server tells me nothing at that moment.
    assert.deepEqual(await node.call('block-user', { userId: me }), { userId: me, blocked: true });

    // My next message fails with forbidden: a failed bubble saying why, the status bar too.
    await sendFromPage(page, 'are you there?');
    const failed = messageWithText(page, 'are you there?');
    await waitForAttr(failed, 'data-status', 'failed');
    assert.equal(await failed.getAttribute('data-error-code'), 'forbidden');
    assert.match(await failed.locator('.send-error').textContent(), /Not sent: .*\(forbidden\)/);
    assert.equal(await failed.locator('.send-error').isVisible(), true);
    assert.equal(await page.locator('#status-bar').getAttribute('data-kind'), 'error');
    assert.equal(await page.locator('#status-bar').getAttribute('data-error-code'), 'forbidden');
    assert.match(await page.locator('#status-text').textContent(), new RegExp(`not sent.*\\(forbidden\\)`));
    await page.screenshot({ path: '/tmp/chatzz-demo-forbidden.png' });
    // I do not block them: no label, the composer stays usable.
    assert.deepEqual(await blockShown(page, them), {
      row: 'false', label: null, button: 'Block', pressed: 'false', note: null, inputDisabled: false, sendDisabled: false,
    });
    // The page asked the contact list again: they show offline, never seen.
    await waitForAttr(contact(page, them), 'data-status', 'offline');
    assert.equal((await contact(page, them).locator('.presence-text').textContent()).trim(), 'offline');
    assert.equal((await page.locator('#chat-presence').textContent()).trim(), 'offline');
    assert.equal(node.events.filter((e) => e.type === 'new-message').length, 1, 'only the message before the block');

    // After a reload too (connectedUsers), though the contact is still connected.
    await page.reload();
    await signIn(page, me);
    await contact(page, them).waitFor();
    await waitForAttr(contact(page, them), 'data-status', 'offline');
    assert.equal((await contact(page, them).locator('.presence-text').textContent()).trim(), 'offline');
    assert.equal(await contact(page, them).getAttribute('data-blocked'), 'false');
    await contact(page, them).click();
    await messageWithText(page, 'hello cole').waitFor();
    await sendFromPage(page, 'still blocked?');
    const failed2 = messageWithText(page, 'still blocked?');
    await waitForAttr(failed2, 'data-status', 'failed');
    assert.equal(await failed2.getAttribute('data-error-code'), 'forbidden');

    // They unblock me: retrying the failed message (a click) sends it.
    assert.deepEqual(await node.call('unblock-user', { userId: me }), { userId: me, blocked: false });
    await failed2.click();
    await waitForAttr(messageWithText(page, 'still blocked?'), 'data-status', 'sent');
    assert.equal(await messageWithText(page, 'still blocked?').locator('.send-error').isVisible(), false);
    await eventually(
      () => node.events.filter((e) => e.type === 'new-message').map((e) => e.data.message),
      ['hello cole', 'still blocked?'],
      'the retried message arrives',
    );
    assertNoPageErrors();
  } finally {
    node.socket.disconnect();
    await page.context().close();
  }
});

// ------------------------------------------------------------ @chatzz/client (chatzz-client.js)

/** Runs in the page before its scripts: keeps every socket the page opens in window.__sockets. */
function keepSockets() {
  window.__sockets = [];
  let real;
  Object.defineProperty(window, 'io', {
    configurable: true,
    get() {
      return real;
    },
    set(v) {
      if (typeof v !== 'function') {
        real = v;
        return;
      }
      const wrapped = function (...args) {
        const socket = v.apply(this, args);
        window.__sockets.push(socket);
        return socket;
      };
      Object.assign(wrapped, v);
      real = wrapped;
    },
  });
}

test('the page runs on chatzz-client.js: messages sent while the server is unreachable are delivered once, in order (the outbox)', async () => {
  // The bundle of @chatzz/client is served like the other scripts.
  const res = await fetch(baseUrl + '/assets/chatzz-client.js');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /javascript/);
  assert.match(res.headers.get('content-security-policy') || '', /script-src 'self'/);
  assert.ok((await res.text()).includes('ChatzzClient'), 'the bundle holds ChatzzClient');

  const me = uid('olga');
  const them = uid('otto');
  const node = await nodeClient(them);
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  context.setDefaultTimeout(WAIT_MS);
  await context.addInitScript(keepSockets);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  const scripts = [];
  page.on('response', (r) => {
    if (r.request().resourceType() === 'script') scripts.push([new URL(r.url()).pathname, r.status()]);
  });
  const heard = () => node.events.filter((e) => e.type === 'new-message').map((e) => e.data.message);
  const route = '**/socket.io/**';
  try {
    await page.goto(baseUrl + '/');
    await signIn(page, me);
    assert.deepEqual(
      scripts.sort(),
      [['/assets/app.js', 200], ['/assets/chatzz-client.js', 200], ['/assets/socket.io.min.js', 200]],
      'the page loads socket.io, chatzz-client.js and app.js',
    );
    assert.equal(await page.evaluate(() => typeof window.chatzz?.ChatzzClient), 'function');
    await addContact(page, them);
    await sendFromPage(page, 'before the outage');
    await waitForAttr(messageWithText(page, 'before the outage'), 'data-status', 'sent');

    // The server becomes unreachable: the connection drops and every reconnect attempt fails.
    await page.route(route, (r) => r.abort());
    await page.evaluate(() => window.__sockets.at(-1).io.engine.close());
    await page.locator('#connection[data-state="offline"]').waitFor();
    const texts = ['while away 1', 'while away 2', 'while away 3'];
    for (const t of texts) await sendFromPage(page, t);
    for (const t of texts) assert.equal(await messageWithText(page, t).getAttribute('data-status'), 'pending');
    await sleep(1500);
    assert.equal(await page.locator('#connection').getAttribute('data-state'), 'offline');
    for (const t of texts) assert.equal(await messageWithText(page, t).getAttribute('data-status'), 'pending', t);
    assert.deepEqual(heard(), ['before the outage'], 'nothing got through during the outage');

    // Reachable again: socket.io reconnects, the client registers, the outbox sends each once, in order.
    await page.unroute(route);
    await page.locator('#connection[data-state="online"]').waitFor({ timeout: 20000 });
    for (const t of texts) await waitForAttr(messageWithText(page, t), 'data-status', 'sent');
    const all = ['before the outage', ...texts];
    await eventually(heard, all, 'the contact gets each message once, in order');
    await sleep(500);
    assert.deepEqual(heard(), all, 'and nothing more');
    assert.equal(await page.locator('.message').count(), 4);
    assert.equal(await page.locator('.message.pending').count(), 0);
    const ids = await page.locator('.message').evaluateAll((els) => els.map((el) => el.dataset.messageId));
    assert.equal(new Set(ids).size, 4);
    assert.deepEqual([...ids].sort(), ids, 'in order');

    // Stored once: the history after a reload shows the same four.
    await page.reload();
    await signIn(page, me);
    await contact(page, them).click();
    for (const t of all) await messageWithText(page, t).waitFor();
    assert.deepEqual(await page.locator('.message .text').allTextContents(), all);
    assertNoPageErrors();
  } finally {
    await page.unroute(route).catch(() => {});
    node.socket.disconnect();
    await context.close();
  }
});
