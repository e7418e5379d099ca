// Hardening of the transport (issue 12): a client that stops reading is cut and cannot
// make the server hold its replies; binary attachments are refused before anything is
// buffered; with JWT, the socket over the per-user cap is refused at the handshake and
// a socket ends when its token expires. Raw WebSocket clients (the `ws` package) play
// the misbehaving clients; memory is read from /proc/<pid>/status of the server.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import WebSocket from 'ws';
import {
  Server, test, uid, sleep, makeContacts, send, openSocket, ackOk, nextChatzz, registerOffline,
} from './harness.mjs';

function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
  return kb * 1024;
}

async function metric(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** A raw engine.io v4 WebSocket that joined the default namespace. */
async function rawSocket(server, { auth } = {}) {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const frames = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    if (text === '2') ws.send('3');
    frames.push(text);
    for (const w of [...waiters]) w();
  });
  ws.closed = new Promise((resolve) => ws.once('close', resolve));
  ws.on('error', () => {});
  const next = (pred, ms = 5000) => new Promise((resolve, reject) => {
    const check = () => {
      const i = frames.findIndex((f) => f !== null && pred(f));
      if (i >= 0) {
        const [f] = frames.splice(i, 1);
        waiters.splice(waiters.indexOf(check), 1);
        clearTimeout(timer);
        resolve(f);
      }
    };
    const timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(check), 1);
      reject(new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(frames.slice(-5))}`));
    }, ms);
    waiters.push(check);
    check();
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  await next((f) => f.startsWith('0{'));
  ws.send(auth ? `40${JSON.stringify(auth)}` : '40');
  ws.next = next;
  ws.frames = frames;
  return ws;
}

function isClosed(ws, ms) {
  return Promise.race([ws.closed.then(() => true), sleep(ms).then(() => false)]);
}

test('a client that stops reading but keeps asking for history is cut, and the server does not grow', async () => {
  const server = new Server({ args: ['--slow-consumer-timeout', '3'] });
  await server.start();
  try {
    const { a, b, sa } = await makeContacts(server, { prefix: 'slow' });
    // 200 messages of 4096 control characters: about 24 KiB of JSON each once escaped.
    const text = '\u0001'.repeat(4096);
    for (let i = 0; i < 200; i += 1) await send(sa, b, text, { clientMessageId: `slow-${i}` });

    const reader = await rawSocket(server);
    await reader.next((f) => f.startsWith('40'));
    reader.send(`420${JSON.stringify(['connect-user', { userId: b }])}`);
    await reader.next((f) => f.startsWith('430'), 10000);
    const before = rssBytes(server.child.pid);
    // Stop reading: the kernel buffers fill and the server's writes block.
    reader._socket.pause();
    let asked = 0;
    const started = Date.now();
    while (Date.now() - started < 8000) {
      if (reader.readyState !== WebSocket.OPEN) break;
      reader.send(`42${asked + 1}${JSON.stringify(['get-old-messages', { userId: a, limit: 500 }])}`);
      reader.send('3');
      asked += 1;
      await sleep(40);
    }
    const grown = rssBytes(server.child.pid) - before;
    assert.ok(asked > 20, `asked ${asked} pages`);
    assert.ok(grown < 48 * 1024 * 1024, `the server grew by ${(grown / 1048576).toFixed(1)} MiB`);
    assert.ok(await metric(server, 'chatzz_slow_consumers_cut_total') >= 1, 'the slow consumer was cut');
    assert.ok(await metric(server, 'chatzz_outbound_budget_refusals_total') >= 1, 'pages beyond the budget were refused');
    // Everyone else is served as before.
    const m = await send(sa, b, 'still here');
    assert.equal(m.message, 'still here');
    reader.terminate();
  } finally {
    await server.stop();
  }
});

/** A raw engine.io v4 long-polling session: `post(packet)` and `get()` by hand. */
async function rawPolling(server) {
  const base = `${server.url}/socket.io/?EIO=4&transport=polling`;
  const open = await (await fetch(`${base}&t=open`)).text();
  const { sid } = JSON.parse(open.slice(1));
  const url = `${base}&sid=${sid}`;
  return {
    post: async (packet) => (await fetch(url, { method: 'POST', body: packet })).status,
    get: async () => (await fetch(url)).text(),
  };
}

test('a long-polling client that stops fetching but keeps asking is refused, then cut', async () => {
  const server = new Server({ args: ['--ping-interval', '2', '--ping-timeout', '3'] });
  await server.start();
  try {
    const { a, b, sa } = await makeContacts(server, { prefix: 'pollslow' });
    const text = '\u0001'.repeat(4096);
    for (let i = 0; i < 100; i += 1) await send(sa, b, text, { clientMessageId: `ps-${i}` });

    const reader = await rawPolling(server);
    assert.equal(await reader.post('40'), 200);
    assert.match(await reader.get(), /(^|\x1e)40/);
    assert.equal(await reader.post(`420${JSON.stringify(['connect-user', { userId: b }])}`), 200);
    const before = rssBytes(server.child.pid);
    // From now on it never fetches: it only posts pongs and page requests.
    const statuses = [];
    const started = Date.now();
    while (Date.now() - started < 10000) {
      statuses.push(await reader.post(`3\x1e42${JSON.stringify(['get-old-messages', { userId: a, limit: 500 }])}`));
      if (statuses.at(-1) !== 200) break;
      await sleep(100);
    }
    const grown = rssBytes(server.child.pid) - before;
    assert.notEqual(statuses.at(-1), 200, `its posts are refused once it stops fetching: ${statuses.length} posts`);
    assert.ok(Date.now() - started < 8000, 'within the fetch deadline (the ping timeout) and a little');
    assert.ok(grown < 48 * 1024 * 1024, `the server grew by ${(grown / 1048576).toFixed(1)} MiB`);
    // A polling client that reads is never refused.
    const good = await server.connectUser(uid('pollgood'), { transport: 'polling' });
    await sleep(5000);
    const contact = await ackOk(good, 'add-chat-user', { userToAdd: a });
    assert.ok(contact.chatRoomId);
  } finally {
    await server.stop();
  }
});

test('history pages beyond the outbound budget fail with rate-limited and change nothing', async () => {
  const server = new Server();
  await server.start();
  try {
    const { a, b, sa } = await makeContacts(server, { prefix: 'budget' });
    // 260 messages of about 4 KiB of JSON: a page of 500 is cut to the 1 MiB reply bound.
    const text = 'x'.repeat(4000);
    for (let i = 0; i < 260; i += 1) await send(sa, b, text, { clientMessageId: `budget-${i}` });
    const sb = await server.connectUser(b);
    // The 4 MiB budget holds about four such pages; more at once are refused.
    const results = await Promise.all(
      Array.from({ length: 10 }, () => new Promise((resolve) => {
        sb.timeout(10000).emit('get-old-messages', { userId: a, limit: 500 }, (timeoutErr, err, page) => resolve([timeoutErr || err, page]));
      })),
    );
    const served = results.filter(([err]) => err === null);
    const refused = results.filter(([err]) => err && err.code === 'rate-limited');
    assert.equal(served.length + refused.length, 10, JSON.stringify(results.map(([e]) => e)));
    assert.ok(served.length >= 3, `pages served: ${served.length}`);
    assert.ok(refused.length >= 1, 'pages beyond the budget are refused');
    for (const [, page] of served) {
      assert.ok(page.length >= 200 && page.length < 260, `a page is cut by bytes: ${page.length}`);
    }
    // Once the budget refills, pages are served again.
    await sleep(3000);
    const again = await ackOk(sb, 'get-old-messages', { userId: a, limit: 500 });
    assert.ok(again.length > 0);
  } finally {
    await server.stop();
  }
});

test('user-details carries at most 500 missed messages in all, the oldest, however many senders wrote', async () => {
  const server = new Server();
  await server.start();
  try {
    const reader = uid('busy');
    await registerOffline(server, reader);
    const senders = [];
    for (let k = 0; k < 3; k += 1) {
      const id = uid(`writer${k}`);
      const s = await server.connectUser(id);
      await ackOk(s, 'add-chat-user', { userToAdd: reader });
      senders.push({ id, s, sent: [] });
    }
    // 3 x 250 interleaved: each sender is under the per-sender bound, all together over.
    for (let i = 0; i < 250; i += 1) {
      for (const w of senders) w.sent.push((await send(w.s, reader, `${w.id} ${i}`))._id);
    }
    const r = await server.connectUser(reader);
    const missed = r.details.missedMessages;
    const total = Object.values(missed).reduce((n, list) => n + list.length, 0);
    assert.equal(total, 500, 'the total bound');
    for (const w of senders) {
      const got = (missed[w.id] || []).map((m) => m._id);
      assert.deepEqual(got, w.sent.slice(0, got.length), `${w.id}: its oldest, in order`);
    }
    // The rest is fetched with get-old-messages after the last one handed over.
    const w = senders[0];
    const last = missed[w.id].at(-1)._id;
    const rest = await ackOk(r, 'get-old-messages', { userId: w.id, after: last, limit: 500 });
    assert.deepEqual(rest.map((m) => m._id), w.sent.slice(missed[w.id].length));
  } finally {
    await server.stop();
  }
});

test('a packet that declares binary attachments closes its connection at once', async () => {
  const server = new Server();
  await server.start();
  try {
    const before = rssBytes(server.child.pid);
    const sockets = [];
    for (let i = 0; i < 20; i += 1) {
      const ws = await rawSocket(server);
      await ws.next((f) => f.startsWith('40'));
      ws.send(`451-${JSON.stringify(['send-message', { _placeholder: true, num: 0 }])}`);
      sockets.push(ws);
    }
    for (const ws of sockets) assert.ok(await isClosed(ws, 3000), 'closed by the server');
    // Before authentication too: a binary packet before joining the namespace.
    const early = new WebSocket(`${server.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
    early.on('error', () => {});
    const earlyClosed = new Promise((resolve) => early.once('close', resolve));
    await new Promise((resolve) => early.once('open', resolve));
    early.send(`451-${JSON.stringify(['x', { _placeholder: true, num: 0 }])}`);
    early.send(Buffer.alloc(1024 * 1024));
    assert.ok(await Promise.race([earlyClosed.then(() => true), sleep(3000).then(() => false)]));
    const grown = rssBytes(server.child.pid) - before;
    assert.ok(grown < 32 * 1024 * 1024, `the server grew by ${(grown / 1048576).toFixed(1)} MiB`);
    // A normal client still works.
    const s = await openSocket(server.url);
    await ackOk(s, 'connect-user', { userId: uid('after-binary') });
    s.close();
  } finally {
    await server.stop();
  }
});

const SECRET = 'hardening test secret, at least 32 bytes long';

function sign(claims) {
  const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const sig = crypto.createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

test('with JWT, the socket over the per-user cap is refused at the handshake', async () => {
  const server = new Server({ args: ['--jwt-secret', SECRET, '--max-sockets-per-user', '2'] });
  await server.start();
  try {
    const user = uid('capped');
    const token = sign({ sub: user, exp: Math.floor(Date.now() / 1000) + 600 });
    const first = await openSocket(server.url, { auth: { token } });
    const second = await openSocket(server.url, { auth: { token } });
    await assert.rejects(openSocket(server.url, { auth: { token } }), /too many live connections/);
    // Another user is not affected; a closed socket gives its place back.
    const other = await openSocket(server.url, { auth: { token: sign({ sub: uid('other'), exp: Math.floor(Date.now() / 1000) + 600 }) } });
    first.close();
    await sleep(300);
    const third = await openSocket(server.url, { auth: { token } });
    for (const s of [second, other, third]) s.close();
  } finally {
    await server.stop();
  }
});

test('with JWT, a socket is told and disconnected when its token expires', async () => {
  const server = new Server({ args: ['--jwt-secret', SECRET] });
  await server.start();
  try {
    const user = uid('expiring');
    const token = sign({ sub: user, exp: Math.floor(Date.now() / 1000) + 3 });
    const s = await openSocket(server.url, { auth: { token } });
    s.userId = user;
    await ackOk(s, 'connect-user', { userId: user });
    const disconnected = new Promise((resolve) => s.once('disconnect', resolve));
    const error = await nextChatzz(s, 'error', null, 6000);
    assert.equal(error.code, 'forbidden');
    assert.match(error.message, /expired/);
    assert.equal(await Promise.race([disconnected, sleep(3000).then(() => 'still connected')]), 'io server disconnect');
  } finally {
    await server.stop();
  }
});
