// get-old-messages
import assert from 'node:assert/strict';
import {
  test,
  useServer,
  uid,
  ackOk,
  ackError,
  errorEvent,
  emitAck,
  nextChatzz,
  noChatzz,
  drain,
  received,
  goOffline,
  makeContacts,
  send,
  assertMessage,
  byteCompare,
  sleep,
  NO_PAYLOAD,
} from './harness.mjs';

const server = useServer();

/** Contacts a and b with six messages m0..m5 (alternating senders, distinct createdAt). */
async function withHistory() {
  const c = await makeContacts(server);
  const msgs = [];
  for (let i = 0; i < 6; i += 1) {
    const from = i % 2 ? c.sb : c.sa;
    const to = i % 2 ? c.a : c.b;
    msgs.push(await send(from, to, `m${i}`));
    await sleep(3);
  }
  for (let i = 1; i < msgs.length; i += 1) {
    assert.ok(msgs[i - 1].createdAt < msgs[i].createdAt, 'fixture needs increasing createdAt');
  }
  drain(c.sa);
  drain(c.sb);
  return { ...c, msgs };
}

const texts = (list) => list.map((m) => m.message);

test('get-old-messages without callback replies with an old-messages event, oldest first', async () => {
  const { a, b, sa, msgs, room } = await withHistory();
  sa.emit('get-old-messages', { userId: b });
  const list = await nextChatzz(sa, 'old-messages');
  assert.ok(Array.isArray(list));
  assert.deepEqual(texts(list), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
  list.forEach((m, i) => {
    assertMessage(m, { _id: msgs[i]._id, chatRoomId: room, status: 'sent', from: i % 2 ? b : a, to: i % 2 ? a : b });
    assert.deepEqual(m, msgs[i]);
  });
});

test('get-old-messages with callback returns the array and emits no old-messages event', async () => {
  const { a, sb, msgs } = await withHistory();
  const [err, list] = await emitAck(sb, 'get-old-messages', { userId: a });
  assert.equal(err, null);
  assert.deepEqual(list, msgs);
  await noChatzz(sb, 'old-messages');
});

test('get-old-messages of a chat without messages is an empty array', async () => {
  const { b, sa } = await makeContacts(server);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), []);
});

test('limit keeps the newest messages', async () => {
  const { b, sa } = await withHistory();
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, limit: 2 })), ['m4', 'm5']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, limit: 1 })), ['m5']);
  assert.equal((await ackOk(sa, 'get-old-messages', { userId: b, limit: 500 })).length, 6);
});

test('before pages back: messages older than it, limit keeps the newest of them', async () => {
  const { b, sa, msgs } = await withHistory();
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, before: msgs[4]._id })), ['m0', 'm1', 'm2', 'm3']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, before: msgs[4]._id, limit: 2 })), ['m2', 'm3']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, before: msgs[0]._id })), []);
});

test('after catches up: messages newer than it, limit keeps the oldest of them', async () => {
  const { b, sa, msgs } = await withHistory();
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, after: msgs[1]._id })), ['m2', 'm3', 'm4', 'm5']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, after: msgs[1]._id, limit: 2 })), ['m2', 'm3']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, after: msgs[5]._id })), []);
});

test('before and after combined give the messages strictly between, limit keeps the oldest', async () => {
  const { b, sa, msgs } = await withHistory();
  const args = { userId: b, after: msgs[1]._id, before: msgs[5]._id };
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', args)), ['m2', 'm3', 'm4']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { ...args, limit: 2 })), ['m2', 'm3']);
});

test('before and after accept any id string, compared as strings', async () => {
  const { b, sa, msgs } = await withHistory();
  for (const m of msgs) assert.ok(byteCompare(m._id, '~') < 0 && byteCompare('!', m._id) < 0, `id ${m._id} expected between "!" and "~"`);
  assert.equal((await ackOk(sa, 'get-old-messages', { userId: b, before: '~' })).length, 6);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b, after: '~' }), []);
  assert.equal((await ackOk(sa, 'get-old-messages', { userId: b, after: '!' })).length, 6);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b, before: '!' }), []);
});

test('date (ISO string or epoch ms) and its alias fromDate keep messages created at or after it', async () => {
  const { b, sa, msgs } = await withHistory();
  const iso = msgs[3].createdAt;
  const ms = Date.parse(iso);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, date: iso })), ['m3', 'm4', 'm5']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, date: ms })), ['m3', 'm4', 'm5']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, fromDate: iso })), ['m3', 'm4', 'm5']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, fromDate: ms })), ['m3', 'm4', 'm5']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, date: ms + 1 })), ['m4', 'm5']);
  assert.deepEqual(texts(await ackOk(sa, 'get-old-messages', { userId: b, date: iso, limit: 1 })), ['m5']);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b, date: Date.now() + 3_600_000 }), []);
  assert.equal((await ackOk(sa, 'get-old-messages', { userId: b, date: 0 })).length, 6);
  assert.equal((await ackOk(sa, 'get-old-messages', { userId: b, date: '2000-01-01T00:00:00.000Z' })).length, 6);
});

test('an unparsable date fails with invalid-argument', async () => {
  const { b, sa } = await withHistory();
  for (const date of ['yesterday', '', '2026-13-45T99:99:99.000Z', true, ['2026-01-01T00:00:00.000Z'], { $gt: '' }]) {
    await ackError(sa, 'get-old-messages', { userId: b, date }, 'invalid-argument');
  }
  await ackError(sa, 'get-old-messages', { userId: b, fromDate: 'not a date' }, 'invalid-argument');
  await errorEvent(sa, 'get-old-messages', { userId: b, date: 'yesterday' }, 'invalid-argument');
});

test('limit must be an integer from 1 to 500', async () => {
  const { b, sa } = await withHistory();
  for (const limit of [0, 501, 'x', '5', -1, 1.5, true, [5], { $gt: 0 }]) {
    await ackError(sa, 'get-old-messages', { userId: b, limit }, 'invalid-argument');
  }
  await errorEvent(sa, 'get-old-messages', { userId: b, limit: 0 }, 'invalid-argument');
  await errorEvent(sa, 'get-old-messages', { userId: b, limit: 501 }, 'invalid-argument');
  await noChatzz(sa, 'old-messages', undefined, 0);
});

test('get-old-messages with a non-contact fails with not-a-contact', async () => {
  const a = uid('a');
  const n = uid('n');
  const sa = await server.connectUser(a);
  await server.connectUser(n);
  await ackError(sa, 'get-old-messages', { userId: n }, 'not-a-contact');
  await errorEvent(sa, 'get-old-messages', { userId: n }, 'not-a-contact');
  await ackError(sa, 'get-old-messages', { userId: uid('ghost') }, 'not-a-contact');
  await noChatzz(sa, 'old-messages', undefined, 0);
});

test('get-old-messages with yourself or without a valid userId fails with invalid-argument', async () => {
  const { a, sa } = await makeContacts(server);
  await ackError(sa, 'get-old-messages', { userId: a }, 'invalid-argument');
  await ackError(sa, 'get-old-messages', {}, 'invalid-argument');
  await ackError(sa, 'get-old-messages', { userId: '' }, 'invalid-argument');
  await ackError(sa, 'get-old-messages', { userId: 3 }, 'invalid-argument');
  await ackError(sa, 'get-old-messages', NO_PAYLOAD, 'invalid-argument');
  await errorEvent(sa, 'get-old-messages', { userId: a }, 'invalid-argument');
});

// Messages beyond the missedMessages cap (default 500 per sender) stay not_sent
// after connect-user; fetching them with get-old-messages marks them sent.
test('history marks not_sent messages addressed to the requester as sent and notifies the sender', async () => {
  const CAP = 500;
  const EXTRA = 2;
  const { a, b, sa, sb } = await makeContacts(server);
  const sa2 = await server.connectUser(a);
  await goOffline(sb, sa);
  const sent = [];
  for (let i = 0; i < CAP + EXTRA; i += 1) {
    sent.push(await sendRetrying(sa, b, `bulk ${i}`, `bulk-${b}-${i}`));
  }
  for (const m of sent) assert.equal(m.status, 'not_sent');
  drain(sa);
  drain(sa2);

  const sb2 = await server.connectUser(b);
  const missed = sb2.details.missedMessages[a];
  assert.ok(Array.isArray(missed), 'missedMessages must hold the sender');
  assert.equal(missed.length, CAP, `missedMessages[${a}] must hold at most ${CAP}`);
  assert.deepEqual(missed.map((m) => m._id), sent.slice(0, CAP).map((m) => m._id), 'the oldest ones, oldest first');
  for (const s of [sa, sa2]) {
    await expectStatusEvents(s, sent.slice(0, CAP).map((m) => m._id), 'sent');
  }
  drain(sa);
  drain(sa2);

  // The rest are still not_sent: b catches up with `after`.
  const rest = sent.slice(CAP);
  const tail = await ackOk(sb2, 'get-old-messages', { userId: a, after: missed[missed.length - 1]._id });
  assert.deepEqual(tail.map((m) => m._id), rest.map((m) => m._id));
  for (const m of tail) assertMessage(m, { from: a, to: b, status: ['not_sent', 'sent'] });
  for (const s of [sa, sa2]) {
    for (const m of rest) {
      const ev = await nextChatzz(s, 'message-status-changed', (d) => d._id === m._id);
      assertMessage(ev, { _id: m._id, from: a, to: b, status: 'sent' });
    }
  }
  const again = await ackOk(sb2, 'get-old-messages', { userId: a, limit: EXTRA });
  assert.deepEqual(again.map((m) => m.status), Array(EXTRA).fill('sent'));
  await noChatzz(sa, 'message-status-changed');
});

/** Wait until `socket` got message-status-changed with `status` for every id; report how many are missing. */
async function expectStatusEvents(socket, ids, status, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  let missing;
  for (;;) {
    const got = new Set(
      received(socket)
        .filter((e) => e.type === 'message-status-changed' && e.data && e.data.status === status)
        .map((e) => e.data._id),
    );
    missing = ids.filter((id) => !got.has(id));
    if (missing.length === 0 || Date.now() > deadline) break;
    await sleep(50);
  }
  assert.equal(
    missing.length,
    0,
    `socket of ${socket.userId} got message-status-changed (${status}) for ${ids.length - missing.length} of ${ids.length} messages; missing e.g. ${JSON.stringify(missing.slice(0, 3))}`,
  );
}

/** send-message with a clientMessageId, retrying on rate-limited (as a client should). */
async function sendRetrying(socket, to, text, clientMessageId) {
  for (let attempt = 0; ; attempt += 1) {
    const [err, result] = await emitAck(socket, 'send-message', { userId: to, message: text, clientMessageId });
    if (err === null) return result;
    if (err && err.code === 'rate-limited' && attempt < 200) {
      await sleep(100);
      continue;
    }
    assert.fail(`send-message failed: ${JSON.stringify(err)}`);
  }
}
