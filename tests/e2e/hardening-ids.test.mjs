// Issue 12, findings 6 and 7: ids holding control or format characters are refused
// (a user id with "\n" used to write a forged line into the logs), and every event has
// a per-user rate, `add-chat-user` and `get-old-messages` far below `send-message`.
// The server runs with the default rates (the harness only lifts the send rate).

import assert from 'node:assert/strict';
import {
  test,
  useServer,
  uid,
  ackOk,
  ackError,
  emitAck,
  assertError,
  makeContacts,
  nextChatzz,
  noChatzz,
  send,
} from './harness.mjs';

const server = useServer();

/** A newline, a bell, a zero-width space, a right-to-left override. */
const HIDDEN = ['\n', '\u0007', '\u200b', '\u202e'];
const show = (s) => JSON.stringify(s);

test('user ids with control or format characters are refused on connect-user, and nothing is registered', async () => {
  for (const c of HIDDEN) {
    const s = await server.socket();
    const err = await ackError(s, 'connect-user', { userId: `forged${c}INFO admin logged in` }, 'invalid-argument');
    assert.match(err.message, /control or format characters/, `${show(c)}: the message names the rule`);
    // Still unregistered: the socket cannot act.
    await ackError(s, 'get-old-messages', { userId: 'anyone' }, 'not-connected');
    s.close();
  }
});

test('add-chat-user and send-message refuse such ids and change nothing', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'hid' });
  for (const c of HIDDEN) {
    await ackError(sa, 'add-chat-user', { userToAdd: `${b}${c}` }, 'invalid-argument');
    await ackError(sa, 'send-message', { userId: `${b}${c}`, message: 'to a forged id' }, 'invalid-argument');
    const err = await ackError(
      sa,
      'send-message',
      { userId: b, message: `with clientMessageId ${show(c)}`, clientMessageId: `retry${c}1` },
      'invalid-argument',
    );
    assert.match(err.message, /clientMessageId/);
  }
  await noChatzz(sb, 'new-message');
  await noChatzz(sb, 'chat-user-added');
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), [], 'no message stored');
  const again = await ackOk(sa, 'connect-user', { userId: a });
  assert.deepEqual(
    again.connectedUsers.map((u) => u._id),
    [b],
    'no contact added',
  );
  // The same send with a clean clientMessageId goes through.
  const m = await send(sa, b, 'clean', { clientMessageId: 'retry-1' });
  assert.equal(m.message, 'clean');
});

test('visible characters, backslashes included, still work end to end', async () => {
  // Logs escape a backslash as "\\": the users' rooms must still match their ids.
  const a = uid('名前-é-😀 \\u{a}');
  const b = uid('back\\slash\\n');
  const sa = await server.connectUser(a);
  const sb = await server.connectUser(b);
  const contact = await ackOk(sa, 'add-chat-user', { userToAdd: b });
  assert.equal(contact._id, b);
  await nextChatzz(sb, 'chat-user-added', (d) => d._id === a);
  const m = await send(sa, b, 'hello');
  const got = await nextChatzz(sb, 'new-message', (d) => d._id === m._id);
  assert.equal(got.from._id, a);
  assert.equal(got.to._id, b);
});

test('an add-chat-user flood is rate-limited per user beyond its burst (default 20, then 2/s); nothing else is', async () => {
  const BURST = 20;
  const PER_SECOND = 2;
  const TOTAL = 200;
  const EXISTING = BURST + 5;
  const a = uid('flooder');
  const sa = await server.connectUser(a);
  // Targets that exist; the rest never connected (unknown-user if a call got through).
  const targets = [];
  for (let i = 0; i < EXISTING; i += 1) {
    const t = uid(`target${i}`);
    await server.connectUser(t);
    targets.push(t);
  }
  while (targets.length < TOTAL) targets.push(uid('nobody'));

  // One at a time, each awaited: the connection's queue of waiting events (64) never
  // fills, so what refuses is the per-user event rate.
  const started = Date.now();
  const results = [];
  for (const t of targets) results.push(await emitAck(sa, 'add-chat-user', { userToAdd: t }));
  const seconds = (Date.now() - started) / 1000;

  for (let i = 0; i < BURST; i += 1) {
    const [err, contact] = results[i];
    assert.equal(err, null, `call ${i} of the burst must succeed, got ${show(err)}`);
    assert.equal(contact._id, targets[i]);
  }
  const served = results.filter(([err]) => err === null || err.code === 'unknown-user');
  const limited = results.filter(([err]) => err !== null && err.code === 'rate-limited');
  for (const [err, result] of limited) {
    assertError(err, 'rate-limited');
    assert.match(err.message, /add-chat-user/, 'the message names the event');
    assert.equal(result, null);
  }
  assert.equal(served.length + limited.length, TOTAL, 'every other answer is rate-limited');
  const allowed = BURST + Math.ceil(PER_SECOND * seconds) + 1;
  assert.ok(
    served.length <= allowed,
    `${served.length} of ${TOTAL} served in ${seconds.toFixed(2)} s; at most ${allowed} expected`,
  );
  assert.ok(limited.length >= TOTAL - allowed);

  // Refused adds linked nobody.
  const contacts = (await ackOk(sa, 'connect-user', { userId: a })).connectedUsers.map((u) => u._id);
  const linked = results.filter(([err]) => err === null).map(([, c]) => c._id);
  assert.deepEqual([...contacts].sort(), [...linked].sort());

  // Other events and other users have their own buckets.
  await ackOk(sa, 'get-old-messages', { userId: targets[0] });
  const other = await server.connectUser(uid('calm'));
  await ackOk(other, 'add-chat-user', { userToAdd: targets[0] });
  // And the bucket refills: one token every half second.
  await new Promise((r) => setTimeout(r, 1000 / PER_SECOND + 100));
  await ackOk(sa, 'add-chat-user', { userToAdd: targets[EXISTING - 1] });
});

test('a get-old-messages flood is rate-limited beyond its burst (default 20, then 5/s)', async () => {
  const BURST = 20;
  const { b, sa } = await makeContacts(server, { prefix: 'pager' });
  const results = [];
  const started = Date.now();
  for (let i = 0; i < 40; i += 1) results.push(await emitAck(sa, 'get-old-messages', { userId: b, limit: 1 }));
  const seconds = (Date.now() - started) / 1000;
  for (let i = 0; i < BURST; i += 1) assert.equal(results[i][0], null, `page ${i}: ${show(results[i][0])}`);
  const limited = results.filter(([err]) => err !== null);
  for (const [err] of limited) {
    assertError(err, 'rate-limited');
    assert.match(err.message, /get-old-messages/);
  }
  assert.ok(limited.length >= 40 - BURST - Math.ceil(5 * seconds) - 1, `${limited.length} refused in ${seconds.toFixed(2)} s`);
  // send-message is not touched by it.
  await send(sa, b, 'still sending');
});
