// blocking (protocol 1.1) across a cluster of three chatzz servers on one PostgreSQL
// database and one Redis (the setup of cluster.test.mjs). Sends and adds ask the store,
// so a block made through one server holds at once on the others; typing uses what its
// server cached, and the server that stores a block tells the others (the cluster's
// news over Redis) before it acks, so typing stops at once there too (without that news
// it would pass for the 5 s a cache is trusted while news may be missed); the blocked user hears nothing of the
// blocker's presence on any server, including when the blocker's server dies.
// docs/protocol.md, `block-user` / `unblock-user`, `typing` and "Several servers".
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
  ackError,
  emitAck,
  errorEvent,
  send,
  nextChatzz,
  noChatzz,
  closeSocket,
  take,
  settle,
  getContacts,
  assertContact,
  assertMessage,
  assertStatusChange,
  sleep,
  QUIET_MS,
} from '../e2e/harness.mjs';
import { STORE, freshDatabase } from '../e2e/stores.mjs';

assert.ok(['postgres', 'mongodb'].includes(STORE), `the cluster needs a shared store, not ${STORE}`);

const REDIS = process.env.CHATZZ_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
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

/** How long a server trusts its last read of a pair's blocks while it may miss news. */
const TYPING_CACHE_MS = 5000;
/** A block's news reaches the other servers before the blocker's ack, give or take a hop. */
const NEWS_MS = 1000;
/** Long enough for an event to cross servers through Redis. */
const CROSS_MS = 2 * QUIET_MS;

const isOnline = (id) => (d) => d.user && d.user._id === id && d.status === 'online';
const isOffline = (id) => (d) => d.user && d.user._id === id && d.status === 'offline';
const isTyping = (from) => (d) => d.userId === from;

async function setBlocked(socket, other, blocked) {
  const event = blocked ? 'block-user' : 'unblock-user';
  const args = await emitAck(socket, event, { userId: other });
  assert.deepEqual(args, [null, { userId: other, blocked }], `${event}: callback must be (null, {userId, blocked}), got ${JSON.stringify(args)}`);
}

async function entry(socket, other) {
  const c = (await getContacts(socket)).find((x) => x._id === other);
  assert.ok(c, `${other} must be a contact of ${socket.userId}`);
  return c;
}

/**
 * Emit typing from `socket` to `to` every 250 ms (the typing rate allows 5 a second) until it fails with forbidden; returns
 * the milliseconds since `since`. Every call before that must succeed (null, null).
 */
async function typingUntilForbidden(socket, to, since, limitMs) {
  for (;;) {
    const args = await emitAck(socket, 'typing', { userId: to, typing: true });
    const elapsed = Date.now() - since;
    if (args[0] !== null) {
      assert.equal(args[0].code, 'forbidden', `typing must fail forbidden once blocked, got ${JSON.stringify(args)}`);
      return elapsed;
    }
    assert.deepEqual(args, [null, null]);
    assert.ok(elapsed < limitMs, `typing through another server still passes ${elapsed} ms after the block`);
    await sleep(250);
  }
}

/** As typingUntilForbidden, the other way: until typing passes again. */
async function typingUntilAllowed(socket, to, since, limitMs) {
  for (;;) {
    const args = await emitAck(socket, 'typing', { userId: to, typing: true });
    const elapsed = Date.now() - since;
    if (args[0] === null) {
      assert.deepEqual(args, [null, null]);
      return elapsed;
    }
    assert.equal(args[0].code, 'forbidden', JSON.stringify(args));
    assert.ok(elapsed < limitMs, `typing through another server still forbidden ${elapsed} ms after the unblock`);
    await sleep(250);
  }
}

/** a on n1 (and n3), b on n2 (and n1), contacts, plus c on n3, a contact of both. */
async function spread(prefix) {
  const [a, b, c] = ['a', 'b', 'c'].map((x) => uid(`${prefix}${x}`));
  const sa1 = await n1.connectUser(a);
  const sb2 = await n2.connectUser(b);
  const sc3 = await n3.connectUser(c);
  const ab = (await ackOk(sa1, 'add-chat-user', { userToAdd: b })).chatRoomId;
  await ackOk(sa1, 'add-chat-user', { userToAdd: c });
  await ackOk(sb2, 'add-chat-user', { userToAdd: c });
  await nextChatzz(sb2, 'chat-user-added', (d) => d._id === a);
  await nextChatzz(sc3, 'chat-user-added', (d) => d._id === a);
  await nextChatzz(sc3, 'chat-user-added', (d) => d._id === b);
  // Sockets connected once they are contacts: their servers read the pair's blocks now.
  const sa3 = await n3.connectUser(a);
  const sb1 = await n1.connectUser(b);
  return { a, b, c, sa1, sa3, sb1, sb2, sc3, ab };
}

test('a block through server 1: sends and adds through server 2 fail forbidden at once, either way; nothing stored or delivered on any server', async () => {
  const { a, b, sa1, sa3, sb1, sb2, sc3, ab } = await spread('now');
  const m0 = await send(sb2, a, 'before');
  assertMessage(m0, { status: 'sent' });
  for (const s of [sa1, sa3, sb1]) await nextChatzz(s, 'new-message', (d) => d._id === m0._id);
  await settle([sa1, sa3, sb1, sb2], [m0]);

  await setBlocked(sa1, b, true);
  // At once: no waiting between the block's ack and these.
  await ackError(sb2, 'send-message', { userId: a, message: 'through 2' }, 'forbidden');
  await ackError(sb2, 'add-chat-user', { userToAdd: a }, 'forbidden');
  await errorEvent(sb2, 'send-message', { userId: a, message: 'through 2, no callback' }, 'forbidden');
  await ackError(sa3, 'send-message', { userId: b, message: 'through 3' }, 'forbidden');
  await ackError(sa3, 'add-chat-user', { userToAdd: b }, 'forbidden');
  await ackError(sb1, 'send-message', { userId: a, message: 'through 1' }, 'forbidden');
  // Through server 1, typing stops at once too.
  await ackError(sa1, 'typing', { userId: b, typing: true }, 'forbidden');
  await ackError(sb1, 'typing', { userId: a, typing: true }, 'forbidden');

  await sleep(CROSS_MS);
  for (const s of [sa1, sa3, sb1, sb2, sc3]) {
    for (const type of ['new-message', 'chat-user-added', 'typing', 'chat-user-status-changed']) {
      assert.deepEqual(take(s, type), [], `${type} on a socket of ${s.userId}`);
    }
  }
  for (const [s, other] of [[sa3, b], [sb2, a]]) {
    assert.deepEqual((await ackOk(s, 'get-old-messages', { userId: other })).map((m) => m._id), [m0._id]);
  }
  assertContact(await entry(sa3, b), { id: b, chatRoomId: ab, blocked: true, status: 'online' });
  assertContact(await entry(sb2, a), { id: a, chatRoomId: ab, blocked: false, status: 'offline', lastOnline: null });

  // Unblock through server 3: sends through server 2 pass at once.
  await setBlocked(sa3, b, false);
  const m1 = await send(sb2, a, 'after unblock');
  assertMessage(m1, { from: b, to: a, chatRoomId: ab, status: 'sent' });
  for (const s of [sa1, sa3]) await nextChatzz(s, 'new-message', (d) => d._id === m1._id);
  assertContact(await entry(sb2, a), { id: a, status: 'online', blocked: false });
});

test('a block of a non-contact through server 1 holds at once for adds and sends through servers 2 and 3', async () => {
  const a = uid('ncA');
  const b = uid('ncB');
  const sa1 = await n1.connectUser(a);
  const sb2 = await n2.connectUser(b);
  const sa3 = await n3.connectUser(a);
  await setBlocked(sa1, b, true);
  await ackError(sb2, 'add-chat-user', { userToAdd: a }, 'forbidden');
  await ackError(sb2, 'send-message', { userId: a, message: 'x' }, 'forbidden');
  await ackError(sb2, 'typing', { userId: a, typing: true }, 'forbidden');
  await ackError(sa3, 'add-chat-user', { userToAdd: b }, 'forbidden');
  await sleep(CROSS_MS);
  for (const s of [sa1, sa3, sb2]) assert.deepEqual(take(s, 'chat-user-added'), []);
  assert.deepEqual((await getContacts(sb2)).map((x) => x._id), []);
  await setBlocked(sa3, b, false);
  const contact = await ackOk(sb2, 'add-chat-user', { userToAdd: a });
  assertContact(contact, { id: a, blocked: false, status: 'online' });
  for (const s of [sa1, sa3]) await nextChatzz(s, 'chat-user-added', (d) => d._id === b);
});

test('typing through another server stops at once after a block made through server 1 (well inside the 5 s cache), and comes back at once after the unblock', async (t) => {
  const { a, b, sa1, sa3, sb2 } = await spread('ty');
  // Both directions pass through servers 2 and 3 before the block.
  for (const [s, to, rx] of [[sb2, a, sa1], [sa3, b, sb2]]) {
    const args = await emitAck(s, 'typing', { userId: to, typing: true });
    assert.deepEqual(args, [null, null]);
    await nextChatzz(rx, 'typing', isTyping(s.userId));
  }

  await setBlocked(sa1, b, true);
  const blockedAt = Date.now();
  // Each server read the pair's blocks less than a second ago: only the news explains a
  // refusal within NEWS_MS.
  const limit = NEWS_MS;
  assert.ok(NEWS_MS < TYPING_CACHE_MS);
  const [tb, ta] = await Promise.all([
    typingUntilForbidden(sb2, a, blockedAt, limit),
    typingUntilForbidden(sa3, b, blockedAt, limit),
  ]);
  assert.ok(tb < limit && ta < limit, `stopped after ${tb} ms (b through 2) and ${ta} ms (a through 3)`);
  t.diagnostic(`typing forbidden ${tb} ms (b through server 2) and ${ta} ms (a through server 3) after the block`);
  // And it stays forbidden.
  await sleep(500);
  await ackError(sb2, 'typing', { userId: a, typing: false }, 'forbidden');
  await ackError(sa3, 'typing', { userId: b, typing: false }, 'forbidden');
  for (const s of [sa1, sa3, sb2]) take(s, 'typing');

  await sleep(1100);
  await setBlocked(sa1, b, false);
  const unblockedAt = Date.now();
  const [ub, ua] = await Promise.all([
    typingUntilAllowed(sb2, a, unblockedAt, limit),
    typingUntilAllowed(sa3, b, unblockedAt, limit),
  ]);
  assert.ok(ub < limit && ua < limit, `back after ${ub} ms and ${ua} ms`);
  t.diagnostic(`typing allowed again ${ub} ms (b through server 2) and ${ua} ms (a through server 3) after the unblock`);
  await nextChatzz(sa1, 'typing', isTyping(b));
  await nextChatzz(sb2, 'typing', isTyping(a));
});

test('presence: while a blocks b, b\'s sockets on every server hear nothing of a going or coming (through any server); a hears b', async () => {
  const { a, b, sa1, sa3, sb1, sb2, sc3 } = await spread('pr');
  await setBlocked(sa3, b, true);

  // a's sockets go (server 1, then server 3): c hears a offline, b nothing.
  await closeSocket(sa1);
  await closeSocket(sa3);
  assertStatusChange(await nextChatzz(sc3, 'chat-user-status-changed', isOffline(a)), { id: a, status: 'offline' });
  // a comes back through server 2, where b also is.
  const sa2 = await n2.connectUser(a);
  await nextChatzz(sc3, 'chat-user-status-changed', isOnline(a));
  assertContact(sa2.details.connectedUsers.find((x) => x._id === b), { id: b, status: 'online', blocked: true });
  await sleep(CROSS_MS);
  for (const s of [sb1, sb2]) assert.deepEqual(take(s, 'chat-user-status-changed'), [], `b's socket must hear nothing of a`);
  // b's views on every server: a offline, never seen.
  assertContact(await entry(sb1, a), { id: a, status: 'offline', lastOnline: null, blocked: false });
  const sb3 = await n3.connectUser(b);
  assertContact(sb3.details.connectedUsers.find((x) => x._id === a), { id: a, status: 'offline', lastOnline: null, blocked: false });

  // b goes and comes: a (server 2) hears both.
  await closeSocket(sb1);
  await closeSocket(sb2);
  await closeSocket(sb3);
  assertStatusChange(await nextChatzz(sa2, 'chat-user-status-changed', isOffline(b)), { id: b, status: 'offline' });
  const sb1b = await n1.connectUser(b);
  assertStatusChange(await nextChatzz(sa2, 'chat-user-status-changed', isOnline(b)), { id: b, status: 'online' });

  // Unblocked through server 2: b, on server 1, hears a from then on.
  await setBlocked(sa2, b, false);
  await noChatzz(sb1b, 'chat-user-status-changed', undefined, CROSS_MS);
  await closeSocket(sa2);
  assertStatusChange(await nextChatzz(sb1b, 'chat-user-status-changed', isOffline(a)), { id: a, status: 'offline' });
});

test('kill -9 of the blocker\'s server: its contacts hear it offline within the lease, the blocked user on another server does not', async () => {
  // A fourth server of the same cluster, killed in this test only.
  const doomed = new Server({ database, args: clusterArgs });
  await doomed.start();
  try {
    const [a, b, c] = ['a', 'b', 'c'].map((x) => uid(`k9${x}`));
    const sa = await doomed.connectUser(a);
    const sb = await n1.connectUser(b);
    const sc = await n2.connectUser(c);
    await ackOk(sa, 'add-chat-user', { userToAdd: b });
    await ackOk(sa, 'add-chat-user', { userToAdd: c });
    await nextChatzz(sb, 'chat-user-added', (d) => d._id === a);
    await nextChatzz(sc, 'chat-user-added', (d) => d._id === a);
    await setBlocked(sa, b, true);

    await doomed.kill9();
    const off = await nextChatzz(sc, 'chat-user-status-changed', isOffline(a), OFFLINE_WITHIN_MS);
    assertStatusChange(off, { id: a, status: 'offline' });
    await noChatzz(sb, 'chat-user-status-changed', undefined, CROSS_MS);
    assertContact(await entry(sb, a), { id: a, status: 'offline', lastOnline: null, blocked: false });
    // The block is still stored: b's sends fail.
    await ackError(sb, 'send-message', { userId: a, message: 'x' }, 'forbidden');
  } finally {
    await doomed.stop();
  }
});
