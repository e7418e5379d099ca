// Protocol 1.1 at a size where a store must batch: a user with 250 contacts gets every
// unreadCount, lastMessage and the order exact, from get-contacts and connect-user.
// A file of its own, so that its database holds only what this test writes.
import assert from 'node:assert/strict';
import { test, useServer, uid, ackOk, emitAck, send, assertContact, sleep } from './harness.mjs';

const server = useServer();

// Correctness at a size where a store must batch: the answer may take long on a slow
// store (the MongoDB stand-in counts by scanning), so this test waits up to a minute
// and reports how long the two lists took.
test('250 contacts: every unreadCount, lastMessage and the order are exact', async (t) => {
  const N = 250;
  const me = uid('crowd');
  const sMe = await server.connectUser(me);
  const expected = new Map(); // id -> { unread, last }
  const order = []; // newest activity first
  const touch = (id) => {
    const at = order.indexOf(id);
    if (at >= 0) order.splice(at, 1);
    order.unshift(id);
  };
  const others = [];
  for (let i = 0; i < N; i += 1) {
    const id = uid(`crowd${i}`);
    const s = await server.connectUser(id);
    others.push({ id, s });
    await ackOk(s, 'add-chat-user', { userToAdd: me });
    expected.set(id, { unread: 0, last: null });
    touch(id);
    await sleep(2);
    for (let j = 0; j < i % 4; j += 1) {
      const m = await send(s, me, `${i}.${j}`);
      expected.set(id, { unread: expected.get(id).unread + 1, last: m._id });
      touch(id);
      await sleep(2);
    }
    if (i % 5 === 0) {
      const m = await send(sMe, id, `reply ${i}`);
      expected.get(id).last = m._id;
      touch(id);
      await sleep(2);
    }
  }
  // Read some conversations, up to their newest message from the contact: not activity.
  for (const [i, { id }] of others.entries()) {
    if (i % 3 !== 0 || i % 4 === 0) continue;
    const hist = await ackOk(sMe, 'get-old-messages', { userId: id });
    const fromThem = hist.filter((m) => m.from._id === id);
    await ackOk(sMe, 'message-read', { messageId: fromThem[fromThem.length - 1]._id });
    expected.get(id).unread = 0;
    if (i > 60) break; // the history rate (burst 20) is per user
  }
  const check = (list, label) => {
    assert.equal(list.length, N, `${label}: ${N} contacts`);
    assert.deepEqual(list.map((c) => c._id), order, `${label}: by last activity, newest first`);
    for (const c of list) {
      const e = expected.get(c._id);
      assert.equal(c.unreadCount, e.unread, `${label}: unreadCount of ${c._id}`);
      assert.equal(c.lastMessage?._id ?? null, e.last, `${label}: lastMessage of ${c._id}`);
    }
  };
  const timed = async (socket, event, payload) => {
    const started = Date.now();
    const [err, result] = await emitAck(socket, event, payload, 60000);
    assert.equal(err, null, `${event}: ${JSON.stringify(err)}`);
    return { result, ms: Date.now() - started };
  };
  const viaGet = await timed(sMe, 'get-contacts', {});
  for (const c of viaGet.result) assertContact(c);
  check(viaGet.result, 'get-contacts');
  const viaConnect = await timed(await server.socket(), 'connect-user', { userId: me });
  check(viaConnect.result.connectedUsers, 'connectedUsers');
  t.diagnostic(`with ${N} contacts: get-contacts took ${viaGet.ms} ms, connect-user ${viaConnect.ms} ms`);
  // The crowd's sockets stay open until the server stops: 250 departures at once would
  // each list their user's contacts, which the MongoDB stand-in serves slowly.
});
