// typing (protocol 1.1): typing { userId, typing } reaches every live socket of the
// contact (not the typer's other sockets, not third users) with expiresInMs; the
// server's own typing: false before the typer's message and when its last socket goes,
// only within the 6 s TTL; errors; rate limit; never stored. docs/protocol.md, `typing`.
import assert from 'node:assert/strict';
import {
  test,
  useServer,
  uid,
  ackOk,
  ackError,
  emitAck,
  errorEvent,
  nextChatzz,
  nextChatzzEntry,
  noChatzz,
  closeSocket,
  drain,
  received,
  take,
  send,
  getContacts,
  assertContact,
  assertMessage,
  assertStatusChange,
  sleep,
  QUIET_MS,
  NO_PAYLOAD,
} from './harness.mjs';

const server = useServer();

/** The contract's TTL of a `typing: true`. */
const TTL_MS = 6000;

const isTyping = (from, typing) => (d) => d.userId === from && (typing === undefined || d.typing === typing);
const isOffline = (id) => (d) => d.user && d.user._id === id && d.status === 'offline';

/** Assert the exact shape and values of typing data. */
function assertTyping(d, { from, room, typing }) {
  const ctx = `typing ${JSON.stringify(d)}: `;
  assert.deepEqual(Object.keys(d).sort(), ['chatRoomId', 'expiresInMs', 'typing', 'userId'], `${ctx}must be {userId, chatRoomId, typing, expiresInMs}`);
  assert.deepEqual(d, { userId: from, chatRoomId: room, typing, expiresInMs: typing ? TTL_MS : 0 }, ctx);
}

/** `typing` with a callback; asserts the callback gets exactly (null, null). */
async function typing(socket, to, value) {
  const args = await emitAck(socket, 'typing', { userId: to, typing: value });
  assert.deepEqual(args, [null, null], `typing ${JSON.stringify({ userId: to, typing: value })} callback must be (null, null), got ${JSON.stringify(args)}`);
}

/** Every Socket.IO event (any name) a socket receives from now on. */
function recordAll(socket) {
  const got = [];
  socket.onAny((event, ...args) => got.push({ event, args }));
  return got;
}

/** Users a, b, c, each online with one socket, all three contacts of each other. */
async function trio(prefix = 't') {
  const [a, b, c] = ['a', 'b', 'c'].map((x) => uid(`${prefix}${x}`));
  const sa = await server.connectUser(a);
  const sb = await server.connectUser(b);
  const sc = await server.connectUser(c);
  const ab = (await ackOk(sa, 'add-chat-user', { userToAdd: b })).chatRoomId;
  const ac = (await ackOk(sa, 'add-chat-user', { userToAdd: c })).chatRoomId;
  const bc = (await ackOk(sb, 'add-chat-user', { userToAdd: c })).chatRoomId;
  await nextChatzz(sb, 'chat-user-added', (d) => d._id === a);
  await nextChatzz(sc, 'chat-user-added', (d) => d._id === a);
  await nextChatzz(sc, 'chat-user-added', (d) => d._id === b);
  return { a, b, c, sa, sb, sc, ab, ac, bc };
}

// ---------------------------------------------------------------------------
// Delivery

test('typing true reaches every socket of the contact (websocket and polling) with expiresInMs 6000; not the typer\'s other sockets, not third users', async () => {
  const { a, b, c, sa, sb, sc, ab } = await trio('deliv');
  const sa2 = await server.connectUser(a);
  const sb2 = await server.connectUser(b);
  const sbPoll = await server.connectUser(b, { transport: 'polling' });
  const sc2 = await server.connectUser(c);

  await typing(sa, b, true);
  for (const s of [sb, sb2, sbPoll]) assertTyping(await nextChatzz(s, 'typing'), { from: a, room: ab, typing: true });
  await noChatzz(sa, 'typing');
  for (const s of [sa2, sc, sc2, sb, sb2, sbPoll]) await noChatzz(s, 'typing', undefined, 0);

  // From the other side too (b never added a; the room is the same).
  await typing(sb2, a, true);
  for (const s of [sa, sa2]) assertTyping(await nextChatzz(s, 'typing'), { from: b, room: ab, typing: true });
  await noChatzz(sb, 'typing');
  for (const s of [sb2, sbPoll, sc, sc2]) await noChatzz(s, 'typing', undefined, 0);
});

test('typing true again renews it and is sent on every time; typing false is sent on with expiresInMs 0', async () => {
  const { a, b, sa, sb, sc, ab } = await trio('renew');
  const sb2 = await server.connectUser(b);
  for (let i = 0; i < 3; i += 1) {
    await typing(sa, b, true);
    for (const s of [sb, sb2]) assertTyping(await nextChatzz(s, 'typing'), { from: a, room: ab, typing: true });
  }
  await typing(sa, b, false);
  for (const s of [sb, sb2]) assertTyping(await nextChatzz(s, 'typing'), { from: a, room: ab, typing: false });
  // false without a true before it: sent on as well.
  await typing(sa, b, false);
  for (const s of [sb, sb2]) assertTyping(await nextChatzz(s, 'typing'), { from: a, room: ab, typing: false });
  await noChatzz(sb, 'typing');
  for (const s of [sb2, sa, sc]) await noChatzz(s, 'typing', undefined, 0);
});

test('unknown fields are ignored: the sender, room and expiry come from the server', async () => {
  const { a, b, c, sa, sb, ab } = await trio('extra');
  await typing(sa, b, true);
  assertTyping(await nextChatzz(sb, 'typing'), { from: a, room: ab, typing: true });
  const args = await emitAck(sa, 'typing', { userId: b, typing: true, from: c, chatRoomId: 'other-room', expiresInMs: 1, extra: { $gt: '' } });
  assert.deepEqual(args, [null, null]);
  assertTyping(await nextChatzz(sb, 'typing'), { from: a, room: ab, typing: true });
});

test('typing to an offline contact succeeds and reaches nobody', async () => {
  const { a, b, sa, sb, sc } = await trio('off');
  await closeSocket(sb);
  await nextChatzz(sa, 'chat-user-status-changed', isOffline(b));
  await typing(sa, b, true);
  await typing(sa, b, false);
  await noChatzz(sa, 'typing');
  await noChatzz(sc, 'typing', undefined, 0);
});

test('without a callback, nothing comes back to the typer on success', async () => {
  const { a, b, sa, sb, ab } = await trio('nocb');
  const sa2 = await server.connectUser(a);
  const got = recordAll(sa);
  const got2 = recordAll(sa2);
  sa.emit('typing', { userId: b, typing: true });
  assertTyping(await nextChatzz(sb, 'typing'), { from: a, room: ab, typing: true });
  sa.emit('typing', { userId: b, typing: false });
  assertTyping(await nextChatzz(sb, 'typing'), { from: a, room: ab, typing: false });
  await sleep(QUIET_MS);
  assert.deepEqual(got, [], `the typer's socket must receive nothing, got ${JSON.stringify(got)}`);
  assert.deepEqual(got2, [], `the typer's other socket must receive nothing, got ${JSON.stringify(got2)}`);
});

// ---------------------------------------------------------------------------
// Errors

test('invalid-argument (callback): own id, bad ids, operator-shaped ids, non-boolean typing, missing fields, non-object payloads', async () => {
  const { a, b, sa, sb, sc } = await trio('inval');
  const bad = [
    // own id
    { userId: a, typing: true },
    { userId: a, typing: false },
    // bad ids
    { userId: '', typing: true },
    { userId: 'x'.repeat(129), typing: true },
    { userId: 'nul\u0000id', typing: true },
    { userId: 'zero\u200bwidth', typing: true },
    { userId: 'line\nbreak', typing: true },
    { userId: 'sep\u2028arator', typing: true },
    // operator-shaped or non-string ids
    { userId: { $gt: '' }, typing: true },
    { userId: { $ne: null }, typing: true },
    { userId: 42, typing: true },
    { userId: [b], typing: true },
    { userId: null, typing: true },
    { userId: true, typing: true },
    // typing not a boolean
    { userId: b, typing: 'true' },
    { userId: b, typing: 'false' },
    { userId: b, typing: 1 },
    { userId: b, typing: 0 },
    { userId: b, typing: null },
    { userId: b, typing: {} },
    { userId: b, typing: [true] },
    { userId: b, typing: { $gt: '' } },
    // missing fields
    { userId: b },
    { typing: true },
    {},
  ];
  for (const payload of bad) await ackError(sa, 'typing', payload, 'invalid-argument');
  for (const payload of [NO_PAYLOAD, null, 'text', JSON.stringify({ userId: b, typing: true }), 42, true, [], [{ userId: b, typing: true }]]) {
    await ackError(sa, 'typing', payload, 'invalid-argument');
  }
  await noChatzz(sb, 'typing');
  await noChatzz(sc, 'typing', undefined, 0);
  await noChatzz(sa, 'typing', undefined, 0);
  // Rejected calls did not use up the rate: five good ones still pass.
  for (let i = 0; i < 5; i += 1) await typing(sa, b, i % 2 === 0);
  await sleep(QUIET_MS);
  assert.deepEqual(take(sb, 'typing').map((d) => d.typing), [true, false, true, false, true]);
});

test('invalid-argument (no callback): an error event {event, code, message}, nothing delivered', async () => {
  const { a, b, sa, sb } = await trio('invev');
  await errorEvent(sa, 'typing', { userId: a, typing: true }, 'invalid-argument');
  await errorEvent(sa, 'typing', { userId: '', typing: true }, 'invalid-argument');
  await errorEvent(sa, 'typing', { userId: 'x'.repeat(129), typing: true }, 'invalid-argument');
  await errorEvent(sa, 'typing', { userId: { $gt: '' }, typing: true }, 'invalid-argument');
  await errorEvent(sa, 'typing', { userId: b, typing: 'yes' }, 'invalid-argument');
  await errorEvent(sa, 'typing', { userId: b, typing: 1 }, 'invalid-argument');
  await errorEvent(sa, 'typing', { userId: b, typing: null }, 'invalid-argument');
  await errorEvent(sa, 'typing', { userId: b }, 'invalid-argument');
  await errorEvent(sa, 'typing', { typing: true }, 'invalid-argument');
  await errorEvent(sa, 'typing', {}, 'invalid-argument');
  await errorEvent(sa, 'typing', NO_PAYLOAD, 'invalid-argument');
  await errorEvent(sa, 'typing', 42, 'invalid-argument');
  await noChatzz(sb, 'typing');
  await noChatzz(sa, 'typing', undefined, 0);
  await noChatzz(sa, 'error', undefined, 0);
});

test('not-a-contact: an online non-contact and an unknown user; nothing delivered', async () => {
  const a = uid('nca');
  const n = uid('ncn');
  const sa = await server.connectUser(a);
  const sn = await server.connectUser(n);
  await ackError(sa, 'typing', { userId: n, typing: true }, 'not-a-contact');
  await errorEvent(sa, 'typing', { userId: n, typing: false }, 'not-a-contact');
  await ackError(sa, 'typing', { userId: uid('nobody'), typing: true }, 'not-a-contact');
  // 128 characters is a valid id (129 is not, above): an unknown user, not a contact.
  await ackError(sa, 'typing', { userId: 'y'.repeat(128), typing: true }, 'not-a-contact');
  await ackError(sn, 'typing', { userId: a, typing: true }, 'not-a-contact');
  await noChatzz(sn, 'typing');
  await noChatzz(sa, 'typing', undefined, 0);
  // Once they are contacts, it works.
  const room = (await ackOk(sa, 'add-chat-user', { userToAdd: n })).chatRoomId;
  await typing(sa, n, true);
  assertTyping(await nextChatzz(sn, 'typing'), { from: a, room, typing: true });
});

test('not-connected before connect-user (callback and error event); nothing delivered', async () => {
  const { a, b, sb } = await trio('nconn');
  const s = await server.socket();
  await ackError(s, 'typing', { userId: b, typing: true }, 'not-connected');
  await errorEvent(s, 'typing', { userId: b, typing: true }, 'not-connected');
  await ackError(s, 'typing', { userId: a, typing: true }, 'not-connected');
  await noChatzz(sb, 'typing');
});

test('rate-limited: the 6th typing within a second fails (callback and error event), per user across sockets; refills', async () => {
  const { a, b, c, sa, sb, sc, ac } = await trio('rate');
  // Six at once: five pass, the sixth is refused.
  const acks = await Promise.all(Array.from({ length: 6 }, (_, i) => emitAck(sa, 'typing', { userId: b, typing: i % 2 === 0 })));
  for (const args of acks.slice(0, 5)) assert.deepEqual(args, [null, null]);
  assert.equal(acks[5][1], null);
  assert.equal(acks[5][0]?.code, 'rate-limited', `the 6th must be rate-limited, got ${JSON.stringify(acks[5])}`);
  await sleep(QUIET_MS);
  assert.deepEqual(take(sb, 'typing').map((d) => d.typing), [true, false, true, false, true], 'b gets the five that passed, in order');
  // Another user is not limited by a's bucket.
  await typing(sc, b, true);
  await nextChatzz(sb, 'typing', isTyping(c, true));

  // Refilled after a second; without a callback the 6th brings an error event.
  await sleep(1100);
  for (let i = 0; i < 5; i += 1) sa.emit('typing', { userId: b, typing: true });
  await errorEvent(sa, 'typing', { userId: b, typing: true }, 'rate-limited');
  await sleep(QUIET_MS);
  assert.equal(take(sb, 'typing', isTyping(a)).length, 5);

  // One user's sockets share the bucket: three on each of two sockets, one refused.
  await sleep(1100);
  const sa2 = await server.connectUser(a);
  const mixed = await Promise.all(
    Array.from({ length: 6 }, (_, i) => emitAck(i % 2 === 0 ? sa : sa2, 'typing', { userId: c, typing: true })),
  );
  const ok = mixed.filter((args) => args[0] === null);
  const limited = mixed.filter((args) => args[0]?.code === 'rate-limited');
  assert.equal(ok.length, 5, JSON.stringify(mixed));
  assert.equal(limited.length, 1, JSON.stringify(mixed));
  await sleep(QUIET_MS);
  const toC = take(sc, 'typing', isTyping(a));
  assert.equal(toC.length, 5);
  for (const d of toC) assertTyping(d, { from: a, room: ac, typing: true });
});

// ---------------------------------------------------------------------------
// The server's own typing: false

test('send within 6 s of typing true: the recipient\'s sockets get typing false just before the new-message; said once', async () => {
  const { a, b, c, sa, sb, sc, ab } = await trio('send');
  const sa2 = await server.connectUser(a);
  const sb2 = await server.connectUser(b);
  await typing(sa, b, true);
  await typing(sa, c, true);
  for (const s of [sb, sb2]) await nextChatzz(s, 'typing', isTyping(a, true));
  await nextChatzz(sc, 'typing', isTyping(a, true));

  // b's own message to a does not stop a's typing.
  const fromB = await send(sb, a, 'b writes first');
  for (const s of [sa, sa2]) await nextChatzz(s, 'new-message', (m) => m._id === fromB._id);
  await noChatzz(sb, 'typing');
  for (const s of [sb2, sa, sa2]) await noChatzz(s, 'typing', undefined, 0);

  // a's message (sent through its other socket): typing false first, then new-message.
  const m = await send(sa2, b, 'done typing');
  assertMessage(m, { from: a, to: b, text: 'done typing', chatRoomId: ab });
  for (const s of [sb, sb2]) {
    const stop = await nextChatzzEntry(s, 'typing', isTyping(a));
    assertTyping(stop.env.data, { from: a, room: ab, typing: false });
    const nm = await nextChatzzEntry(s, 'new-message', (d) => d._id === m._id);
    assert.ok(stop.seq < nm.seq, 'typing false must come before the new-message');
    const log = received(s);
    const at = log.findIndex((x) => x.seq === nm.seq);
    assert.equal(log[at - 1].seq, stop.seq, `typing false must come just before the new-message: ${JSON.stringify(log.slice(-4))}`);
  }
  // The typer's sockets see the message but no typing; c (still typed to) hears nothing.
  for (const s of [sa, sa2]) await nextChatzz(s, 'new-message', (d) => d._id === m._id);
  await noChatzz(sa, 'typing');
  for (const s of [sa2, sc]) await noChatzz(s, 'typing', undefined, 0);

  // A second message: no second false.
  const m2 = await send(sa, b, 'and more');
  for (const s of [sb, sb2]) await nextChatzz(s, 'new-message', (d) => d._id === m2._id);
  await noChatzz(sb, 'typing');
  await noChatzz(sb2, 'typing', undefined, 0);

  // c's false still comes when a leaves: the send to b only stopped the typing to b.
  await closeSocket(sa);
  await closeSocket(sa2);
  const stopC = await nextChatzzEntry(sc, 'typing', isTyping(a));
  assertTyping(stopC.env.data, { from: a, room: (await getRoom(sc, a)), typing: false });
  const offC = await nextChatzzEntry(sc, 'chat-user-status-changed', isOffline(a));
  assert.ok(stopC.seq < offC.seq);
  await nextChatzz(sb, 'chat-user-status-changed', isOffline(a));
  await noChatzz(sb, 'typing');
});

/** The chat room id of `socket`'s user with `other`, by get-contacts. */
async function getRoom(socket, other) {
  const contact = (await getContacts(socket)).find((x) => x._id === other);
  assert.ok(contact, `${other} must be a contact of ${socket.userId}`);
  return contact.chatRoomId;
}

test('typing false said by the typer before its message: the message brings no second false', async () => {
  const { a, b, sa, sb } = await trio('said');
  await typing(sa, b, true);
  await typing(sa, b, false);
  assert.deepEqual(
    [await nextChatzz(sb, 'typing'), await nextChatzz(sb, 'typing')].map((d) => d.typing),
    [true, false],
  );
  const m = await send(sa, b, 'hello');
  await nextChatzz(sb, 'new-message', (d) => d._id === m._id);
  await noChatzz(sb, 'typing');
  // And leaving brings none either.
  await closeSocket(sa);
  await nextChatzz(sb, 'chat-user-status-changed', isOffline(a));
  await noChatzz(sb, 'typing');
});

test('the typer\'s last socket going within 6 s: every contact typed to gets typing false before the offline event; closing one of two sockets brings none', async () => {
  const { a, b, c, sa, sb, sc, ab, ac, bc } = await trio('leave');
  const sa2 = await server.connectUser(a);
  const sb2 = await server.connectUser(b);
  await typing(sa, b, true);
  await typing(sa2, c, true);
  // b types to c too: a's leaving must not stop it.
  await typing(sb, c, true);
  for (const s of [sb, sb2]) await nextChatzz(s, 'typing', isTyping(a, true));
  await nextChatzz(sc, 'typing', isTyping(a, true));
  await nextChatzz(sc, 'typing', isTyping(b, true));

  // One of a's two sockets closes: a is still there, no false.
  await closeSocket(sa);
  await noChatzz(sb, 'typing', undefined, 2 * QUIET_MS);
  for (const s of [sb2, sc]) await noChatzz(s, 'typing', undefined, 0);
  for (const s of [sb, sb2, sc]) await noChatzz(s, 'chat-user-status-changed', isOffline(a), 0);

  // The last one: false to b (both sockets) and c, each before the offline event.
  await closeSocket(sa2);
  for (const [s, room] of [[sb, ab], [sb2, ab], [sc, ac]]) {
    const stop = await nextChatzzEntry(s, 'typing', isTyping(a));
    assertTyping(stop.env.data, { from: a, room, typing: false });
    const off = await nextChatzzEntry(s, 'chat-user-status-changed', isOffline(a));
    assertStatusChange(off.env.data, { id: a, status: 'offline' });
    assert.ok(stop.seq < off.seq, `typing false must come before the offline event on a socket of ${s.userId}`);
  }
  await noChatzz(sb, 'typing');
  for (const s of [sb2, sc]) await noChatzz(s, 'typing', undefined, 0);

  // b's typing to c was b's, not a's: b sending still stops it.
  const m = await send(sb, c, 'from b');
  const stopB = await nextChatzzEntry(sc, 'typing', isTyping(b));
  assertTyping(stopB.env.data, { from: b, room: bc, typing: false });
  const nm = await nextChatzzEntry(sc, 'new-message', (d) => d._id === m._id);
  assert.ok(stopB.seq < nm.seq);
});

test('after the 6 s TTL, neither a send nor the last socket going brings typing false; a renewed typing still does', async () => {
  const { a, b, c, sa, sb, sc, ab } = await trio('ttl');
  const d = uid('ttld');
  const e = uid('ttle');
  const sd = await server.connectUser(d);
  const se = await server.connectUser(e);
  const de = (await ackOk(sd, 'add-chat-user', { userToAdd: e })).chatRoomId;

  await typing(sa, b, true);
  await typing(sa, c, true);
  await typing(sd, e, true);
  const t0 = Date.now();
  await nextChatzz(sb, 'typing', isTyping(a, true));
  await nextChatzz(sc, 'typing', isTyping(a, true));
  await nextChatzz(se, 'typing', isTyping(d, true));
  // d renews half way.
  await sleep(3500 - (Date.now() - t0));
  await typing(sd, e, true);
  await nextChatzz(se, 'typing', isTyping(d, true));
  await sleep(TTL_MS + 300 - (Date.now() - t0));

  // a's typing has run out: its message comes alone.
  const m = await send(sa, b, 'typed a while ago');
  assertMessage(m, { chatRoomId: ab });
  await nextChatzz(sb, 'new-message', (x) => x._id === m._id);
  await noChatzz(sb, 'typing');
  // d's renewed typing is 2.8 s old: false first.
  const md = await send(sd, e, 'renewed');
  const stop = await nextChatzzEntry(se, 'typing', isTyping(d));
  assertTyping(stop.env.data, { from: d, room: de, typing: false });
  const nm = await nextChatzzEntry(se, 'new-message', (x) => x._id === md._id);
  assert.ok(stop.seq < nm.seq);

  // a leaves: b and c get the offline event, no typing false.
  await closeSocket(sa);
  for (const s of [sb, sc]) await nextChatzz(s, 'chat-user-status-changed', isOffline(a));
  await noChatzz(sb, 'typing');
  await noChatzz(sc, 'typing', undefined, 0);
});

// ---------------------------------------------------------------------------
// Never stored

test('typing is never stored: no trace in history, contacts, user-details or for sockets that connect later', async () => {
  const { a, b, sa, sb, ab } = await trio('store');
  await typing(sa, b, true);
  await nextChatzz(sb, 'typing', isTyping(a, true));
  // b offline: typing to it succeeds and is not kept for later.
  await closeSocket(sb);
  await nextChatzz(sa, 'chat-user-status-changed', isOffline(b));
  await typing(sa, b, true);

  const sb2 = await server.connectUser(b);
  const details = sb2.details;
  assert.deepEqual(details.missedMessages, {}, 'no missed messages');
  const contact = details.connectedUsers.find((x) => x._id === a);
  assertContact(contact, { id: a, chatRoomId: ab, lastMessage: null, unreadCount: 0 });
  await noChatzz(sb2, 'typing');
  assert.deepEqual(await ackOk(sb2, 'get-old-messages', { userId: a }), []);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), []);
  for (const [s, other] of [[sb2, a], [sa, b]]) {
    const cs = await getContacts(s);
    assertContact(cs.find((x) => x._id === other), { id: other, chatRoomId: ab, lastMessage: null, unreadCount: 0 });
  }

  // A reconnecting typer: a's new socket, and a fresh connect of b, see nothing of it either.
  // (a typed to b less than 6 s ago, while b was away: b's new socket hears it stop as a leaves.)
  await closeSocket(sa);
  assertTyping(await nextChatzz(sb2, 'typing'), { from: a, room: ab, typing: false });
  await nextChatzz(sb2, 'chat-user-status-changed', isOffline(a));
  const sa2 = await server.connectUser(a);
  assert.deepEqual(sa2.details.missedMessages, {});
  assertContact(sa2.details.connectedUsers.find((x) => x._id === b), { id: b, lastMessage: null, unreadCount: 0 });
  const sb3 = await server.connectUser(b);
  await noChatzz(sa2, 'typing');
  await noChatzz(sb3, 'typing', undefined, 0);
  await noChatzz(sb2, 'typing', undefined, 0);
  drain(sb2);
});
