// typing (protocol 1.1) across a cluster of three chatzz servers on one PostgreSQL
// database and one Redis (the setup of cluster.test.mjs): a typing event said through
// one server reaches the contact's sockets on every server, once; the server's own
// typing: false (before the typer's message, and when its last socket goes) crosses
// servers too. docs/protocol.md, `typing` and "Several servers".
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
  nextChatzzEntry,
  noChatzz,
  closeSocket,
  take,
  assertMessage,
  assertStatusChange,
  sleep,
  QUIET_MS,
} from '../e2e/harness.mjs';
import { STORE, freshDatabase } from '../e2e/stores.mjs';

assert.ok(['postgres', 'mongodb'].includes(STORE), `the cluster needs a shared store, not ${STORE}`);

const REDIS = process.env.CHATZZ_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const LEASE_S = 2;

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

const TTL_MS = 6000;
/** Long enough for an event to cross servers through Redis. */
const CROSS_MS = 2 * QUIET_MS;

const isTyping = (from, typing) => (d) => d.userId === from && (typing === undefined || d.typing === typing);
const isOffline = (id) => (d) => d.user && d.user._id === id && d.status === 'offline';

function assertTyping(d, { from, room, typing }) {
  const ctx = `typing ${JSON.stringify(d)}: `;
  assert.deepEqual(Object.keys(d).sort(), ['chatRoomId', 'expiresInMs', 'typing', 'userId'], `${ctx}must be {userId, chatRoomId, typing, expiresInMs}`);
  assert.deepEqual(d, { userId: from, chatRoomId: room, typing, expiresInMs: typing ? TTL_MS : 0 }, ctx);
}

async function typing(socket, to, value) {
  const args = await emitAck(socket, 'typing', { userId: to, typing: value });
  assert.deepEqual(args, [null, null], `typing callback must be (null, null), got ${JSON.stringify(args)}`);
}

/** After cross-server fan-out had time, each socket holds exactly `expected` (typing data) from `from`. */
async function exactlyTyping(sockets, from, expected) {
  await sleep(CROSS_MS);
  for (const s of sockets) assert.deepEqual(take(s, 'typing', isTyping(from)), expected, `typing from ${from} on a socket of ${s.userId}`);
}

/**
 * a with sockets on n1 and n2 (the n2 one connected before a and b became contacts, so
 * n2 learns their room only at a's first typing through it); b with sockets on n1, n2
 * and n3; c on n3, a contact of both. a adds b and c through n1, b adds c through n2.
 */
async function spread(prefix) {
  const [a, b, c] = ['a', 'b', 'c'].map((x) => uid(`${prefix}${x}`));
  const sa1 = await n1.connectUser(a);
  const sa2 = await n2.connectUser(a);
  const sb1 = await n1.connectUser(b);
  const sb2 = await n2.connectUser(b);
  const sb3 = await n3.connectUser(b);
  const sc3 = await n3.connectUser(c);
  const ab = (await ackOk(sa1, 'add-chat-user', { userToAdd: b })).chatRoomId;
  const ac = (await ackOk(sa1, 'add-chat-user', { userToAdd: c })).chatRoomId;
  const bc = (await ackOk(sb2, 'add-chat-user', { userToAdd: c })).chatRoomId;
  for (const s of [sb1, sb2, sb3]) await nextChatzz(s, 'chat-user-added', (d) => d._id === a);
  await nextChatzz(sc3, 'chat-user-added', (d) => d._id === a);
  await nextChatzz(sc3, 'chat-user-added', (d) => d._id === b);
  return { a, b, c, sa1, sa2, sb1, sb2, sb3, sc3, ab, ac, bc };
}

test('typing through one server reaches every socket of the contact on every server, once; not the typer\'s other sockets nor third users', async () => {
  const { a, b, sa1, sa2, sb1, sb2, sb3, sc3, ab } = await spread('ty');
  const bs = [sb1, sb2, sb3];

  await typing(sa1, b, true);
  for (const s of bs) assertTyping(await nextChatzz(s, 'typing'), { from: a, room: ab, typing: true });
  await exactlyTyping([...bs, sa1, sa2, sc3], a, []);

  await typing(sa1, b, false);
  for (const s of bs) assertTyping(await nextChatzz(s, 'typing'), { from: a, room: ab, typing: false });
  await exactlyTyping([...bs, sa1, sa2, sc3], a, []);

  // Through n2, which learns the room at this first typing.
  await typing(sa2, b, true);
  for (const s of bs) assertTyping(await nextChatzz(s, 'typing'), { from: a, room: ab, typing: true });
  await exactlyTyping([...bs, sa1, sa2, sc3], a, []);

  // The other way, from n3: both of a's sockets (n1, n2), not b's others.
  await typing(sb3, a, true);
  for (const s of [sa1, sa2]) assertTyping(await nextChatzz(s, 'typing'), { from: b, room: ab, typing: true });
  await exactlyTyping([sa1, sa2, sb1, sb2, sb3, sc3], b, []);
});

test('the server\'s own typing false before the typer\'s message crosses servers: b\'s sockets on every server get it just before the new-message', async () => {
  const { a, b, sa1, sa2, sb1, sb2, sb3, sc3, ab } = await spread('snd');
  const bs = [sb1, sb2, sb3];
  await typing(sa1, b, true);
  for (const s of bs) await nextChatzz(s, 'typing', isTyping(a, true));

  const m = await send(sa1, b, 'typed through server 1, sent through server 1');
  assertMessage(m, { from: a, to: b, chatRoomId: ab });
  for (const s of bs) {
    const stop = await nextChatzzEntry(s, 'typing', isTyping(a));
    assertTyping(stop.env.data, { from: a, room: ab, typing: false });
    const nm = await nextChatzzEntry(s, 'new-message', (d) => d._id === m._id);
    assert.ok(stop.seq < nm.seq, `typing false must come before the new-message on b's socket on server ${bs.indexOf(s) + 1}`);
  }
  for (const s of [sa1, sa2]) await nextChatzz(s, 'new-message', (d) => d._id === m._id);
  await exactlyTyping([...bs, sa1, sa2, sc3], a, []);

  // Said once: the next message brings no false.
  const m2 = await send(sa1, b, 'again');
  for (const s of bs) await nextChatzz(s, 'new-message', (d) => d._id === m2._id);
  await exactlyTyping(bs, a, []);
});

test('the typer\'s last socket going: contacts on other servers get typing false before the offline event; closing one of two sockets brings none', async () => {
  const { a, b, sa1, sa2, sb1, sb2, sb3, sc3, ab, ac } = await spread('lv');
  const bs = [sb1, sb2, sb3];
  // Both typed through server 1, where a's last socket will go.
  await typing(sa1, b, true);
  await typing(sa1, sc3.userId, true);
  for (const s of [...bs, sc3]) await nextChatzz(s, 'typing', isTyping(a, true));

  // a's socket on server 2 goes first: a is still online, nothing.
  await closeSocket(sa2);
  await exactlyTyping([...bs, sc3], a, []);
  for (const s of [...bs, sc3]) await noChatzz(s, 'chat-user-status-changed', isOffline(a), 0);

  await closeSocket(sa1);
  for (const [s, room] of [[sb1, ab], [sb2, ab], [sb3, ab], [sc3, ac]]) {
    const stop = await nextChatzzEntry(s, 'typing', isTyping(a));
    assertTyping(stop.env.data, { from: a, room, typing: false });
    const off = await nextChatzzEntry(s, 'chat-user-status-changed', isOffline(a));
    assertStatusChange(off.env.data, { id: a, status: 'offline' });
    assert.ok(stop.seq < off.seq, `typing false must come before the offline event on a socket of ${s.userId}`);
  }
  await exactlyTyping([...bs, sc3], a, []);
});

test('documented: a message sent through another server than the typing sends no false (the contact\'s 6 s run out)', async () => {
  const { a, b, sa1, sa2, sb1, sb2, sb3, ab } = await spread('oth');
  const bs = [sb1, sb2, sb3];
  await typing(sa1, b, true);
  for (const s of bs) await nextChatzz(s, 'typing', isTyping(a, true));
  const m = await send(sa2, b, 'typed through server 1, sent through server 2');
  assertMessage(m, { chatRoomId: ab });
  for (const s of bs) await nextChatzz(s, 'new-message', (d) => d._id === m._id);
  await exactlyTyping(bs, a, []);
  // Server 1 still remembers it: a message through server 1 now brings the false.
  const m2 = await send(sa1, b, 'and through server 1');
  for (const s of bs) {
    const stop = await nextChatzzEntry(s, 'typing', isTyping(a));
    assertTyping(stop.env.data, { from: a, room: ab, typing: false });
    const nm = await nextChatzzEntry(s, 'new-message', (d) => d._id === m2._id);
    assert.ok(stop.seq < nm.seq);
  }
});
