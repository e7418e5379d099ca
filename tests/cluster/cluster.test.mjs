// Three chatzz servers as one cluster: one PostgreSQL database, one Redis (the
// machine's), each server on its own port, clients spread over them. Everything in
// docs/protocol.md must hold across servers, and a server killed with SIGKILL must
// lose nothing acked while its users go offline within the presence lease.
//
// Run with CHATZZ_E2E_STORE=postgres (a shared store) and a server built with the
// `redis` and `postgres` features. CHATZZ_TEST_REDIS_URL overrides the Redis URL.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import {
  Server,
  test,
  uid,
  ackOk,
  emitAck,
  send,
  nextChatzz,
  noChatzz,
  closeSocket,
  drain,
  take,
  settle,
  getContacts,
  assertMessage,
  assertMessagesRead,
  assertStatusChange,
  byteCompare,
  sleep,
  QUIET_MS,
} from '../e2e/harness.mjs';
import { STORE, freshDatabase } from '../e2e/stores.mjs';

assert.ok(['postgres', 'mongodb'].includes(STORE), `the cluster needs a shared store, not ${STORE}`);

const REDIS = process.env.CHATZZ_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
/** Seconds a dead server's users stay online: short, so the kill test is quick. */
const LEASE_S = 2;
/** A dead server's users must be offline within the lease plus a sweep, and slack. */
const OFFLINE_WITHIN_MS = LEASE_S * 1000 * 2 + 3000;

const database = freshDatabase();
// One cluster per run: its own key prefix and channels in the shared Redis.
const clusterArgs = ['--redis', REDIS, '--cluster-prefix', uid('cluster'), '--presence-lease', String(LEASE_S)];
const nodes = [1, 2, 3].map(() => new Server({ database, args: clusterArgs }));
const [n1, n2, n3] = nodes;

before(async () => {
  for (const node of nodes) await node.start();
});
after(async () => {
  for (const node of nodes) await node.stop();
  database.cleanup();
});

/** `a` on node `na`, `b` on node `nb`, made contacts by `a`. */
async function contactsAcross(na, nb, prefix) {
  const a = uid(`${prefix}a`);
  const b = uid(`${prefix}b`);
  const sa = await na.connectUser(a);
  const sb = await nb.connectUser(b);
  const contact = await ackOk(sa, 'add-chat-user', { userToAdd: b });
  const added = await nextChatzz(sb, 'chat-user-added', (d) => d._id === a);
  assert.equal(added.status, 'online', 'a is online, though on another server');
  assert.equal(contact.status, 'online', 'b is online, though on another server');
  return { a, b, sa, sb, room: contact.chatRoomId };
}

test('a message sent through one server reaches the recipient on another, with receipts', async () => {
  const { a, b, sa, sb } = await contactsAcross(n1, n2, 'msg');
  const sent = await send(sa, b, 'across servers');
  assertMessage(sent, { from: a, to: b, text: 'across servers', status: 'sent' });
  const arrived = await nextChatzz(sb, 'new-message', (m) => m._id === sent._id);
  assertMessage(arrived, { from: a, to: b, text: 'across servers' });
  const delivered = await nextChatzz(sb, 'message-status-changed', (m) => m._id === sent._id);
  assert.equal(delivered.status, 'sent');

  const read = await ackOk(sb, 'message-read', { messageId: sent._id });
  assert.equal(read.status, 'read');
  const receipt = await nextChatzz(sa, 'message-status-changed', (m) => m._id === sent._id && m.status === 'read');
  assertMessage(receipt, { _id: sent._id, status: 'read' });
});

test('presence is cluster-wide: tabs on two servers, one online and one offline event', async () => {
  const { a, b, sa, sb } = await contactsAcross(n1, n2, 'tabs');
  // a's second tab, on a third server: no news for b.
  const sa3 = await n3.connectUser(a);
  await noChatzz(sb, 'chat-user-status-changed', (d) => d.user._id === a);
  await closeSocket(sa);
  await noChatzz(sb, 'chat-user-status-changed', (d) => d.user._id === a, 500);
  await closeSocket(sa3);
  const offline = await nextChatzz(sb, 'chat-user-status-changed', (d) => d.user._id === a);
  assertStatusChange(offline, { id: a, status: 'offline' });
  await noChatzz(sb, 'chat-user-status-changed', (d) => d.user._id === a, 500);

  // Back on server 1: b on server 2 hears it once, and sees a online in its contacts.
  await n1.connectUser(a);
  const online = await nextChatzz(sb, 'chat-user-status-changed', (d) => d.user._id === a);
  assertStatusChange(online, { id: a, status: 'online' });
  const sb3 = await n3.connectUser(b);
  const contact = sb3.details.connectedUsers.find((c) => c._id === a);
  assert.equal(contact.status, 'online');
});

test('messages missed while offline are handed over by any server', async () => {
  const { a, b, sa, sb } = await contactsAcross(n1, n2, 'missed');
  await closeSocket(sb);
  await nextChatzz(sa, 'chat-user-status-changed', (d) => d.user._id === b && d.status === 'offline');
  const first = await send(sa, b, 'while you were away 1');
  const second = await send(sa, b, 'while you were away 2');
  assert.equal(first.status, 'not_sent');
  drain(sa, 'new-message');

  const sb3 = await n3.connectUser(b);
  const missed = sb3.details.missedMessages[a];
  assert.deepEqual(missed.map((m) => m._id), [first._id, second._id]);
  for (const id of [first._id, second._id]) {
    const change = await nextChatzz(sa, 'message-status-changed', (m) => m._id === id);
    assert.equal(change.status, 'sent', 'the sender on another server hears of the delivery');
  }
});

test('a clientMessageId retry through another server creates nothing new', async () => {
  const { a, b, sa } = await contactsAcross(n1, n2, 'retry');
  const clientMessageId = uid('cmid');
  const first = await send(sa, b, 'once only', { clientMessageId });
  const sa3 = await n3.connectUser(a);
  const again = await send(sa3, b, 'once only', { clientMessageId });
  assert.equal(again._id, first._id);
  const history = await ackOk(sa3, 'get-old-messages', { userId: b });
  assert.equal(history.filter((m) => m.message === 'once only').length, 1);
});

test('a room has one order, the store\'s, whichever server each message went through', async () => {
  const { a, b, sa, sb } = await contactsAcross(n1, n2, 'order');
  const sa3 = await n3.connectUser(a);
  const sends = [];
  for (let i = 0; i < 30; i += 1) {
    sends.push(send([sa, sb, sa3][i % 3], i % 3 === 1 ? a : b, `m${i}`));
  }
  const acked = await Promise.all(sends);
  const views = [];
  for (const [socket, other] of [[sa, b], [sb, a], [sa3, b]]) {
    views.push((await ackOk(socket, 'get-old-messages', { userId: other, limit: 100 })).map((m) => m._id));
  }
  assert.deepEqual(views[1], views[0], 'server 2 shows the order server 1 shows');
  assert.deepEqual(views[2], views[0], 'server 3 shows the order server 1 shows');
  const sorted = [...views[0]].sort(byteCompare);
  assert.deepEqual(views[0], sorted, 'history is in id order');
  assert.deepEqual([...acked.map((m) => m._id)].sort(byteCompare), sorted, 'every acked message, once');
});

/** After a quiet period (cross-server fan-out included), each socket holds exactly `expected` events of `type`. */
async function exactly(sockets, type, expected, quietMs = 2 * QUIET_MS) {
  await sleep(quietMs);
  for (const s of sockets) assert.deepEqual(take(s, type), expected, `${type} on a socket of ${s.userId}`);
}

test('edit-message and delete-message: message-updated reaches every socket of both users on every server, once', async () => {
  const { a, b, sa, sb } = await contactsAcross(n1, n2, 'upd');
  const sa3 = await n3.connectUser(a);
  const sb3 = await n3.connectUser(b);
  const all = [sa, sa3, sb, sb3];
  const m = await send(sa, b, 'to be corrected');
  await settle(all, [m]);

  const edited = await ackOk(sa3, 'edit-message', { messageId: m._id, message: 'corrected on server 3' });
  assertMessage(edited, { _id: m._id, text: 'corrected on server 3', editedAt: 'timestamp' });
  for (const s of all) assert.deepEqual(await nextChatzz(s, 'message-updated'), edited);
  await exactly(all, 'message-updated', []);
  // The same text again, through another server: nothing anywhere.
  assert.deepEqual(await ackOk(sa, 'edit-message', { messageId: m._id, message: 'corrected on server 3' }), edited);
  await exactly(all, 'message-updated', []);

  const tomb = await ackOk(sa, 'delete-message', { messageId: m._id });
  assertMessage(tomb, { _id: m._id, text: '', editedAt: edited.editedAt, deletedAt: 'timestamp' });
  for (const s of all) assert.deepEqual(await nextChatzz(s, 'message-updated'), tomb);
  await exactly(all, 'message-updated', []);
  assert.deepEqual(await ackOk(sa3, 'delete-message', { messageId: m._id }), tomb);
  await exactly(all, 'message-updated', []);
  for (const [s, other] of [[sb, a], [sb3, a], [sa, b]]) {
    assert.deepEqual(await ackOk(s, 'get-old-messages', { userId: other }), [tomb]);
  }
});

test('read-up-to: messages-read reaches the sender\'s sockets and the reader\'s other sockets on every server, not the reading one', async () => {
  const { a, b, sa, sb, room } = await contactsAcross(n1, n2, 'rd');
  const sa3 = await n3.connectUser(a);
  const sb1 = await n1.connectUser(b);
  const sb3 = await n3.connectUser(b);
  const all = [sa, sa3, sb, sb1, sb3];
  const msgs = [];
  for (let i = 0; i < 3; i += 1) msgs.push(await send(sa, b, `rd${i}`));
  await settle(all, msgs);

  const r = await ackOk(sb, 'message-read', { messageId: msgs[1]._id });
  assertMessage(r, { _id: msgs[1]._id, status: 'read' });
  const range = { chatRoomId: room, readerId: b, upTo: msgs[1]._id, readAt: r.readAt, count: 2 };
  const told = [sa, sa3, sb1, sb3];
  for (const s of told) {
    assertMessagesRead(await nextChatzz(s, 'messages-read'), range);
    assert.deepEqual(await nextChatzz(s, 'message-status-changed'), r);
  }
  await exactly(all, 'messages-read', []);
  await exactly(all, 'message-status-changed', [], 0);

  // At or before the position, through other servers: nothing anywhere.
  await ackOk(sb3, 'message-read', { messageId: msgs[0]._id });
  await ackOk(sb1, 'message-read', { messageId: msgs[1]._id });
  await exactly(all, 'messages-read', []);
  await exactly(all, 'message-status-changed', [], 0);

  // Further, from server 1: the reader's socket on server 2 is told now.
  const r2 = await ackOk(sb1, 'message-read', { messageId: msgs[2]._id });
  for (const s of [sa, sa3, sb, sb3]) {
    assertMessagesRead(await nextChatzz(s, 'messages-read'), { ...range, upTo: msgs[2]._id, readAt: r2.readAt, count: 1 });
  }
  await exactly(all, 'messages-read', []);
  const hist = await ackOk(sa3, 'get-old-messages', { userId: b });
  assert.deepEqual(hist.map((m) => m.readAt), [r.readAt, r.readAt, r2.readAt]);
});

test('get-contacts and connectedUsers are the same through every server', async () => {
  const me = uid('inbox');
  const sMe1 = await n1.connectUser(me);
  const sMe2 = await n2.connectUser(me);
  const sMe3 = await n3.connectUser(me);
  const others = [];
  for (const [i, node] of [n1, n2, n3].entries()) {
    const id = uid(`c${i}`);
    const s = await node.connectUser(id);
    others.push({ id, s });
    await ackOk([sMe1, sMe2, sMe3][i], 'add-chat-user', { userToAdd: id });
    await sleep(15);
  }
  const m0 = await send(others[0].s, me, 'unread from c0');
  await sleep(15);
  const m2 = await send(others[2].s, me, 'from c2, read');
  await sleep(15);
  const mine = await send(sMe2, others[1].id, 'mine to c1, deleted');
  await ackOk(sMe3, 'message-read', { messageId: m2._id });
  await ackOk(sMe1, 'delete-message', { messageId: mine._id });

  const lists = [];
  for (const s of [sMe1, sMe2, sMe3]) lists.push(await getContacts(s));
  assert.deepEqual(lists[1], lists[0], 'server 2 lists what server 1 lists');
  assert.deepEqual(lists[2], lists[0], 'server 3 lists what server 1 lists');
  assert.deepEqual(lists[0].map((c) => c._id), [others[1].id, others[2].id, others[0].id]);
  assert.deepEqual(lists[0].map((c) => c.unreadCount), [0, 0, 1]);
  assert.deepEqual(lists[0].map((c) => c.lastMessage._id), [mine._id, m2._id, m0._id]);
  assert.equal(lists[0][0].lastMessage.deletedAt !== null, true);
  const fresh = await n2.connectUser(me);
  assert.deepEqual(fresh.details.connectedUsers, lists[0]);
});

test('reads racing sends through three servers: everything up to the furthest position is read, nothing after it', async () => {
  const { a, b, sb } = await contactsAcross(n1, n2, 'rvs');
  const tabs = [await n1.connectUser(a), await n2.connectUser(a), await n3.connectUser(a)];
  let furthest = null;
  let sending = true;
  const reader = (async () => {
    while (sending) {
      const seen = take(sb, 'new-message').map((m) => m._id).sort(byteCompare);
      const newest = seen[seen.length - 1];
      if (newest && (furthest === null || byteCompare(newest, furthest) > 0)) {
        await ackOk(sb, 'message-read', { messageId: newest });
        furthest = newest;
      } else {
        await sleep(1);
      }
    }
  })();
  const sent = await Promise.all(
    tabs.map(async (s, t) => {
      const mine = [];
      for (let i = 0; i < 60; i += 1) mine.push(await send(s, b, `server ${t + 1} #${i}`));
      return mine;
    }),
  );
  sending = false;
  await reader;
  assert.ok(furthest !== null, 'the reader read something');
  const hist = await ackOk(sb, 'get-old-messages', { userId: a, limit: 500 });
  assert.equal(hist.length, sent.flat().length);
  const wrong = hist.filter((m) => (byteCompare(m._id, furthest) <= 0) !== (m.status === 'read'));
  assert.deepEqual(wrong.map((m) => [m._id, m.status]), [], `read exactly the messages up to ${furthest}`);
  const contact = (await getContacts(sb)).find((c) => c._id === a);
  assert.equal(contact.unreadCount, hist.filter((m) => byteCompare(m._id, furthest) > 0).length);
});

test('kill -9 of a server: its users go offline within the lease, nothing acked is lost, clients catch up elsewhere', async () => {
  // A server of its own to kill, so the other tests keep three.
  // The whole burst may wait on the one connection: many sends in flight at the kill.
  const doomed = await new Server({ database, args: [...clusterArgs, '--max-queued-events', '1000'] }).start();
  const a = uid('k9a');
  const b = uid('k9b');
  const sa = await doomed.connectUser(a);
  const sb = await n2.connectUser(b);
  await ackOk(sa, 'add-chat-user', { userToAdd: b });
  await nextChatzz(sb, 'chat-user-added', (d) => d._id === a);

  // b has seen everything up to here; a bursts and the server dies mid-burst.
  const seenBefore = await send(sa, b, 'before the burst');
  await nextChatzz(sb, 'new-message', (m) => m._id === seenBefore._id);
  drain(sb);
  const acked = new Map();
  const burst = [];
  for (let i = 0; i < 200; i += 1) {
    burst.push(
      emitAck(sa, 'send-message', { userId: b, message: `burst ${i}`, clientMessageId: uid('cmid') }, 30000)
        .then(([err, m]) => {
          if (err === null) acked.set(m._id, m.message);
        })
        .catch(() => {}),
    );
    if (i === 120) {
      const deadline = Date.now() + 20000;
      while (acked.size < 50 && Date.now() < deadline) await sleep(5);
      break;
    }
  }
  const killedAt = Date.now();
  await doomed.kill9();
  await Promise.race([Promise.allSettled(burst), sleep(1000)]);
  assert.ok(acked.size >= 10, `only ${acked.size} sends were acked before the kill`);

  // Presence converges: b hears a go offline once, within the bound.
  const offline = await nextChatzz(sb, 'chat-user-status-changed', (d) => d.user._id === a, OFFLINE_WITHIN_MS);
  assertStatusChange(offline, { id: a, status: 'offline' });
  const tookMs = Date.now() - killedAt;
  assert.ok(tookMs <= OFFLINE_WITHIN_MS, `offline after ${tookMs} ms`);
  await noChatzz(sb, 'chat-user-status-changed', (d) => d.user._id === a, LEASE_S * 1000);

  // b catches up after the last message it had seen: every acked message is there.
  const caughtUp = await ackOk(sb, 'get-old-messages', { userId: a, after: seenBefore._id, limit: 500 });
  const stored = new Map(caughtUp.map((m) => [m._id, m.message]));
  const lost = [...acked.keys()].filter((id) => stored.get(id) !== acked.get(id));
  assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acked messages are gone`);
  const ids = caughtUp.map((m) => m._id);
  assert.deepEqual(ids, [...ids].sort(byteCompare), 'in id order');
  assert.equal(new Set(ids).size, ids.length, 'each once');

  // a reconnects to another server: online again for b, and its history is whole.
  const sa3 = await n3.connectUser(a);
  const back = await nextChatzz(sb, 'chat-user-status-changed', (d) => d.user._id === a);
  assertStatusChange(back, { id: a, status: 'online' });
  const mine = await ackOk(sa3, 'get-old-messages', { userId: b, after: seenBefore._id, limit: 500 });
  assert.deepEqual(mine.map((m) => m._id), ids);
});
