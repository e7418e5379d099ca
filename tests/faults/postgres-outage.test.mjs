// PostgreSQL goes away and comes back while a user keeps sending: the server answers
// `unavailable` (promptly, not `internal`, not silence), serves again without a restart
// once the database is back, and the retries with the same clientMessageId leave every
// acked message in history exactly once, announced to the recipient.
//
// The server reaches PostgreSQL through a TCP proxy inside this test, which can cut
// every connection (and refuse new ones) and let them through again.
//
//   cd tests && CHATZZ_E2E_STORE=postgres node --test --test-concurrency=1 faults/
//
// Needs a PostgreSQL at 127.0.0.1:5432 (or CHATZZ_TEST_POSTGRES_URL, see e2e/stores.mjs).

import assert from 'node:assert/strict';
import net from 'node:net';
import { after } from 'node:test';
import {
  Server,
  test,
  uid,
  sleep,
  makeContacts,
  emitAck,
  ackOk,
  assertError,
  assertMessage,
  received,
  byteCompare,
  openSocket,
  closeSocket,
} from '../e2e/harness.mjs';
import { STORE, freshDatabase } from '../e2e/stores.mjs';

assert.equal(STORE, 'postgres', `this test cuts a PostgreSQL connection: run it with CHATZZ_E2E_STORE=postgres, not ${STORE}`);

/** How long one attempt may wait for its answer: the pool's acquire timeout (5 s) and slack. */
const ANSWER_MS = 8000;
/** A send still failing this long after the sender started is given up. */
const GIVE_UP_MS = 45000;
/** The sender's tabs (sockets), and concurrent send loops on each: a socket's events are
 * handled one after another, so several tabs keep several store calls in flight. */
const SENDER_SOCKETS = 3;
const WORKERS_PER_SOCKET = 2;
const PACE_MS = 5;
const FIRST_CUT_MS = 3000;
const SECOND_CUT_MS = 800;

// ---------------------------------------------------------------------------
// A TCP proxy that can cut the database off.
//
// It also reads the frontend side of the PostgreSQL wire protocol (message type and
// statement text and parameters only) so that it can cut at the worst moment for a
// send: right after PostgreSQL committed a message's INSERT (a transaction's COMMIT, or
// a group-commit batch run as one statement) and answered. The row is
// then committed but the server never hears so, reports `unavailable`, and the
// client's retry (same clientMessageId) must find the stored message instead of
// storing a second one.

/** ReadyForQuery, idle (no transaction open): PostgreSQL's answer after a commit. */
const READY_IDLE = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
/** Every message text this test sends starts so. */
const MESSAGE_MARK = Buffer.from('outage ');

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** Splits a connection's frontend byte stream into messages: calls onMessage(type, body). */
function frontendReader(onMessage) {
  let buf = Buffer.alloc(0);
  let typed = false; // SSLRequest / StartupMessage come first and carry no type byte
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (!typed) {
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        buf = buf.subarray(len);
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) typed = true;
        continue;
      }
      if (buf.length < 5) return;
      const len = buf.readInt32BE(1);
      if (buf.length < 1 + len) return;
      onMessage(String.fromCharCode(buf[0]), buf.subarray(5, 1 + len));
      buf = buf.subarray(1 + len);
    }
  };
}

const cstrings = (body, n) => {
  const out = [];
  let at = 0;
  for (let i = 0; i < n; i += 1) {
    const zero = body.indexOf(0, at);
    if (zero < 0) break;
    out.push(body.toString('utf8', at, zero));
    at = zero + 1;
  }
  return out;
};

async function startProxy(target) {
  const pairs = new Set();
  let down = false;
  let armed = null; // { resolve } while waiting for an INSERT transaction's COMMIT reply
  const stats = { accepted: 0, refused: 0, cutConnections: 0, cutAtCommit: 0 };

  function cutAll() {
    down = true;
    for (const { client, upstream } of pairs) {
      stats.cutConnections += 1;
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  }

  const server = net.createServer((client) => {
    if (down) {
      stats.refused += 1;
      client.destroy();
      return;
    }
    stats.accepted += 1;
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }

    // What this connection runs: prepared statements by name, and whether the open
    // transaction inserted a message.
    const statements = new Map();
    let insertedMessage = false;
    let commitSent = false;
    // Group commit runs a batch as one statement outside BEGIN/COMMIT: it commits when
    // PostgreSQL reports itself idle again (ReadyForQuery 'I') after it.
    let inTransaction = false;
    let autocommitInsert = false;
    const ran = (sql, params) => {
      if (/^\s*(BEGIN|START TRANSACTION)\b/i.test(sql)) {
        inTransaction = true;
        insertedMessage = false;
      } else if (/\bINSERT\s+INTO\s+\S*messages\b/i.test(sql)) {
        // A lone insert, or a batch (`WITH ... INSERT INTO ..._messages`), which may
        // carry no message at all (status changes only): look for one of ours in its
        // parameters.
        if (inTransaction) insertedMessage = true;
        else if (armed && params?.includes(MESSAGE_MARK)) autocommitInsert = true;
      } else if (/^\s*(COMMIT|ROLLBACK)\b/i.test(sql)) {
        if (armed && insertedMessage && /^\s*COMMIT\b/i.test(sql)) commitSent = true;
        inTransaction = false;
        insertedMessage = false;
      }
    };
    const read = frontendReader((type, body) => {
      if (type === 'Q') ran(cstrings(body, 1)[0] ?? '');
      else if (type === 'P') {
        const [name, sql] = cstrings(body, 2);
        statements.set(name, sql ?? '');
      } else if (type === 'B') {
        const [, name] = cstrings(body, 2);
        ran(statements.get(name) ?? '', body);
      }
    });

    client.on('data', (chunk) => {
      read(chunk);
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk) => {
      if (armed && (commitSent || (autocommitInsert && chunk.includes(READY_IDLE)))) {
        // PostgreSQL has committed and answered: drop the answer and cut everything.
        stats.cutAtCommit += 1;
        const { resolve } = armed;
        armed = null;
        cutAll();
        resolve();
        return;
      }
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    stats,
    get down() {
      return down;
    },
    /** Destroy every current connection and refuse new ones (accept, then destroy). */
    cut: cutAll,
    /**
     * Cut (as `cut()`) once PostgreSQL answers the COMMIT of a transaction that inserted
     * a message, dropping that answer. Resolves when it happened.
     */
    cutAtNextMessageCommit() {
      return new Promise((resolve) => {
        armed = { resolve };
      });
    },
    restore() {
      down = false;
    },
    close() {
      armed = null;
      cutAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------

const database = freshDatabase();
const direct = new URL(database.url);
const proxy = await startProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
const proxied = new URL(database.url);
proxied.hostname = '127.0.0.1';
proxied.port = String(proxy.port);
// The proxy reads the protocol: keep it in plain text.
proxied.searchParams.set('sslmode', 'disable');
const server = new Server({ database: { url: proxied.toString(), cleanup() {} } });

after(async () => {
  // After the test has been counted, so the server's output is printed if it failed.
  await server.stop();
  await proxy.close();
  database.cleanup();
});

/** Format a list of attempts for an assertion message. */
function describeAttempts(list, max = 15) {
  const lines = list.slice(0, max).map(
    (a) =>
      `#${a.index} try ${a.attempt} sent ${a.sentAt - a.t0} ms (${a.sentDown ? 'cut' : 'up'}) ` +
      `-> ${a.outcome} after ${a.ms} ms${a.detail ? `: ${a.detail}` : ''}`,
  );
  if (list.length > max) lines.push(`(${list.length - max} more)`);
  return lines.join('\n  ');
}

test('a PostgreSQL outage: sends fail with unavailable, then the server serves again and retries store each message once', async (t) => {
  await server.start();
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'pgout' });
  const senders = [sa];
  while (senders.length < SENDER_SOCKETS) senders.push(await server.connectUser(a));
  const RUN = uid('run');

  // Windows in which the proxy was cut: [from, to] (Date.now()).
  const cuts = [];
  const attempts = []; // every send-message attempt and how it ended
  const acked = new Map(); // message _id -> text
  const ackedAt = []; // { at, sentAt } of each successful attempt
  const messages = []; // { index, text, cmid, id?, gaveUp? }
  const t0 = Date.now();
  let stopSending = false;
  let next = 0;

  async function sendUntilAcked(socket, entry) {
    for (let attempt = 1; ; attempt += 1) {
      const sentAt = Date.now();
      const sentDown = proxy.down;
      const rec = { index: entry.index, attempt, t0, sentAt, sentDown, outcome: '', ms: 0, detail: '' };
      attempts.push(rec);
      try {
        const ackArgs = await emitAck(
          socket,
          'send-message',
          { userId: b, message: entry.text, clientMessageId: entry.cmid },
          ANSWER_MS,
        );
        rec.ms = Date.now() - sentAt;
        const [err, message] = ackArgs;
        if (err === null) {
          rec.outcome = 'ok';
          assertMessage(message, { from: a, to: b, text: entry.text });
          entry.id = message._id;
          entry.createdAt = Date.parse(message.createdAt);
          entry.ackedBy = rec;
          acked.set(message._id, entry.text);
          ackedAt.push({ at: Date.now(), sentAt });
          return;
        }
        rec.outcome = err && typeof err === 'object' ? String(err.code) : `bad ack ${JSON.stringify(ackArgs)}`;
        rec.detail = err && err.message;
        rec.error = err;
        rec.result = message;
      } catch (e) {
        rec.ms = Date.now() - sentAt;
        rec.outcome = 'timeout';
        rec.detail = e.message;
      }
      // Retry (same clientMessageId) what a retry may fix; the rest is reported below.
      if (rec.outcome !== 'unavailable' && rec.outcome !== 'timeout') return;
      if (Date.now() - t0 > GIVE_UP_MS) {
        entry.gaveUp = true;
        return;
      }
      await sleep(Math.min(100 * attempt, 500));
    }
  }

  async function worker(socket) {
    while (!stopSending) {
      const index = next++;
      const cmid = uid('cmid');
      const entry = { index, cmid, text: `outage ${RUN} #${index}` };
      messages.push(entry);
      await sendUntilAcked(socket, entry);
      await sleep(PACE_MS);
    }
  }

  const okSince = (since) => ackedAt.filter((x) => x.sentAt >= since).length;
  async function waitFor(what, cond, ms) {
    const until = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > until) throw new Error(`waited ${ms} ms for ${what}: ${attempts.length} attempts, ${acked.size} acked`);
      await sleep(20);
    }
  }

  const workers = senders.flatMap((socket) => Array.from({ length: WORKERS_PER_SOCKET }, () => worker(socket)));
  let probe; // a socket that tries connect-user during the outage
  let probeAnswer;
  const probeUser = uid('pgout-probe');
  const restoredAt = [];
  try {
    await waitFor('20 sends acked before the outage', () => acked.size >= 20, 10000);

    // First outage, ~3 s.
    proxy.cut();
    cuts.push([Date.now(), null]);
    // A fresh user trying to connect while the database is gone.
    probe = await openSocket(server.url);
    server.sockets.add(probe);
    const probeStart = Date.now();
    probeAnswer = emitAck(probe, 'connect-user', { userId: probeUser }, ANSWER_MS).then(
      (args) => ({ args, ms: Date.now() - probeStart, down: proxy.down }),
      (e) => ({ timeout: e.message, ms: Date.now() - probeStart }),
    );
    await sleep(FIRST_CUT_MS);
    proxy.restore();
    cuts[0][1] = Date.now();
    restoredAt.push(Date.now());
    await waitFor('10 sends acked after the first restore', () => okSince(restoredAt[0]) >= 10, 15000);

    // Second, brief outage, starting right after a message's INSERT committed in
    // PostgreSQL but before the server heard so.
    const atCommit = proxy.cutAtNextMessageCommit();
    const cutInTime = await Promise.race([atCommit.then(() => true), sleep(3000).then(() => false)]);
    if (!cutInTime) proxy.cut(); // (asserted below)
    cuts.push([Date.now(), null]);
    await sleep(SECOND_CUT_MS);
    proxy.restore();
    cuts[1][1] = Date.now();
    restoredAt.push(Date.now());
    await waitFor('20 sends acked after the second restore', () => okSince(restoredAt[1]) >= 20, 15000);
  } finally {
    proxy.restore();
    stopSending = true;
    await Promise.all(workers);
  }

  const summary =
    `${messages.length} messages, ${attempts.length} attempts, ${acked.size} acked, ` +
    `${messages.filter((m) => m.gaveUp).length} given up; proxy ${JSON.stringify(proxy.stats)}`;
  t.diagnostic(summary);
  const failed = attempts.filter((x) => x.outcome !== 'ok');
  const byOutcome = {};
  for (const x of failed) byOutcome[x.outcome] = (byOutcome[x.outcome] ?? 0) + 1;
  t.diagnostic(`failed attempts by outcome: ${JSON.stringify(byOutcome)}`);
  if (failed.length > 0) t.diagnostic(`slowest failed answer: ${Math.max(...failed.map((x) => x.ms))} ms`);
  for (const [i, at] of restoredAt.entries()) {
    const first = ackedAt.filter((x) => x.sentAt >= at).sort((p, q) => p.at - q.at)[0];
    t.diagnostic(`restore ${i + 1}: first ack of a send made after it came ${first ? first.at - at : '(never)'} ms later`);
  }

  // 1. While the database was gone, sends failed with `unavailable`, answered in time.
  const other = failed.filter((x) => x.outcome !== 'unavailable');
  assert.deepEqual(
    other.map((x) => x.outcome),
    [],
    `every failed send must fail with unavailable (answered within ${ANSWER_MS} ms):\n  ${describeAttempts(other)}`,
  );
  for (const x of failed) assertError(x.error, 'unavailable', `attempt #${x.index}/${x.attempt}: `);
  for (const x of failed) assert.equal(x.result, null, `a failed send's callback gets (err, null), got ${JSON.stringify(x.result)}`);
  const duringFirstCut = failed.filter((x) => x.sentAt >= cuts[0][0] && x.sentAt <= cuts[0][1]);
  assert.ok(duringFirstCut.length > 0, `no send failed during the 3 s outage: ${summary}`);
  // A send made and answered while the proxy was cut cannot have reached the database.
  const impossible = attempts.filter(
    (x) => x.outcome === 'ok' && cuts.some(([from, to]) => x.sentAt >= from && x.sentAt + x.ms <= (to ?? Infinity)),
  );
  assert.deepEqual(impossible.map((x) => x.index), [], 'a send succeeded while the database was cut off');

  // The COMMIT whose answer the proxy dropped: that send failed, and its retry got the
  // message the first attempt had stored (created before the retry was made).
  assert.equal(
    proxy.stats.cutAtCommit,
    1,
    'the proxy saw no COMMIT of a message INSERT within 3 s to cut at (does the server still send ' +
      'an INSERT INTO ..._messages, in a transaction or alone, in plain text? see frontendReader)',
  );
  const storedEarlier = messages.filter((m) => m.ackedBy && m.ackedBy.attempt > 1 && m.createdAt < m.ackedBy.sentAt);
  t.diagnostic(
    `acked by a retry that found the message stored by an earlier attempt: ${storedEarlier.map((m) => `#${m.index} (try ${m.ackedBy.attempt})`).join(', ') || 'none'}`,
  );
  assert.ok(storedEarlier.length >= 1, 'no retry returned a message an earlier, failed attempt had stored');

  // 2. The server serves again without a restart.
  assert.ok(senders.every((s) => s.connected) && sb.connected, 'the sender and the recipient are still connected');
  const probed = await probeAnswer;
  t.diagnostic(`connect-user during the outage: ${JSON.stringify(probed)}`);
  assert.ok(!probed.timeout, `connect-user during the outage got no answer: ${probed.timeout}`);
  assertError(probed.args[0], 'unavailable', 'connect-user during the outage: ');
  // The same socket, and a fresh one, register now.
  const details = await ackOk(probe, 'connect-user', { userId: probeUser });
  assert.deepEqual(details.user, { _id: probeUser });
  await ackOk(probe, 'add-chat-user', { userToAdd: a });
  const sb2 = await server.connectUser(b);

  // 3. History: every acked message exactly once, in id order, no text twice.
  const LIMIT = 25; // several pages
  const pages = [];
  let before;
  for (;;) {
    const page = await ackOk(sb2, 'get-old-messages', { userId: a, limit: LIMIT, ...(before ? { before } : {}) });
    pages.unshift(page);
    if (page.length < LIMIT) break;
    before = page[0]._id;
  }
  const history = pages.flat();
  assert.ok(pages.length > 2, `history should take several pages of ${LIMIT}, got ${history.length} messages`);
  for (const m of history) assertMessage(m, { from: a, to: b });
  const ids = history.map((m) => m._id);
  assert.equal(new Set(ids).size, ids.length, 'no message appears twice in history');
  assert.deepEqual(ids, [...ids].sort(byteCompare), 'history is in id order');
  const stored = new Map(history.map((m) => [m._id, m.message]));
  const lost = [...acked].filter(([id, text]) => stored.get(id) !== text);
  assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acked messages are missing from history`);
  const texts = history.map((m) => m.message);
  const twice = texts.filter((x, i) => texts.indexOf(x) !== i);
  assert.deepEqual(twice, [], 'a send (clientMessageId retries included) was stored more than once');
  const sentTexts = new Set(messages.map((m) => m.text));
  const strangers = texts.filter((x) => !sentTexts.has(x));
  assert.deepEqual(strangers, [], 'history holds messages nobody sent');
  const unacked = messages.filter((m) => m.id === undefined);
  for (const m of unacked) {
    const n = texts.filter((x) => x === m.text).length;
    assert.ok(n <= 1, `never-acked send ${m.text} is in history ${n} times`);
  }
  t.diagnostic(`${history.length} messages in history; ${unacked.length} never acked, of them ${unacked.filter((m) => texts.includes(m.text)).length} stored`);

  // 4. The recipient, online throughout, got a new-message for every acked message.
  const announced = () => new Set(received(sb).filter((e) => e.type === 'new-message').map((e) => e.data._id));
  const missing = () => [...acked.keys()].filter((id) => !announced().has(id));
  const until = Date.now() + 3000;
  while (missing().length > 0 && Date.now() < until) await sleep(50);
  assert.deepEqual(missing(), [], `the recipient got no new-message for ${missing().length} of ${acked.size} acked messages`);
  const phantom = [...announced()].filter((id) => !stored.has(id));
  assert.deepEqual(phantom, [], 'the recipient was told of messages that are not in history');
  await closeSocket(sb2);
});
