// blocking (protocol 1.1): block-user / unblock-user { userId } and what a block changes.
// The acks `(null, { userId, blocked })`, idempotent, nothing emitted to anyone; a block
// of a non-contact; while A blocks B: send-message, typing and add-chat-user between them
// either way fail with `forbidden` (contacts or not), nothing stored or delivered; B gets
// no chat-user-status-changed about A and sees A offline, never seen; A still sees B;
// `blocked` in each one's contact entry; history, message-read, edit-message and
// delete-message keep working; after unblock everything works again; errors.
// docs/protocol.md, `block-user` / `unblock-user` and `typing`.
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
  noChatzz,
  closeSocket,
  drain,
  take,
  send,
  settle,
  getContacts,
  assertContact,
  assertMessage,
  assertMessagesRead,
  assertStatusChange,
  registerOffline,
  sleep,
  QUIET_MS,
  NO_PAYLOAD,
} from './harness.mjs';

const server = useServer();

const isOnline = (id) => (d) => d.user && d.user._id === id && d.status === 'online';
const isOffline = (id) => (d) => d.user && d.user._id === id && d.status === 'offline';
const isTyping = (from, typing) => (d) => d.userId === from && (typing === undefined || d.typing === typing);

/** block-user / unblock-user with a callback; asserts exactly (null, { userId, blocked }). */
async function setBlocked(socket, other, blocked) {
  const event = blocked ? 'block-user' : 'unblock-user';
  const args = await emitAck(socket, event, { userId: other });
  assert.deepEqual(args, [null, { userId: other, blocked }], `${event} ${other}: callback must be (null, {userId, blocked: ${blocked}}), got ${JSON.stringify(args)}`);
}
const block = (socket, other) => setBlocked(socket, other, true);
const unblock = (socket, other) => setBlocked(socket, other, false);

/** typing with a callback; asserts (null, null). */
async function typing(socket, to, value) {
  const args = await emitAck(socket, 'typing', { userId: to, typing: value });
  assert.deepEqual(args, [null, null], `typing callback must be (null, null), got ${JSON.stringify(args)}`);
}

/** Every Socket.IO event (any name) a socket receives from now on. */
function recordAll(socket) {
  const got = [];
  socket.onAny((event, ...args) => got.push({ event, args }));
  return got;
}

/** The contact entry of `other` in `socket`'s get-contacts (must be there). */
async function entry(socket, other) {
  const c = (await getContacts(socket)).find((x) => x._id === other);
  assert.ok(c, `${other} must be a contact of ${socket.userId}`);
  return c;
}

async function history(socket, other) {
  return ackOk(socket, 'get-old-messages', { userId: other });
}

/** a, b (contacts, each one socket) and c, a contact of both (a watcher). */
async function trio(prefix) {
  const [a, b, c] = ['a', 'b', 'c'].map((x) => uid(`${prefix}${x}`));
  const sa = await server.connectUser(a);
  const sb = await server.connectUser(b);
  const sc = await server.connectUser(c);
  const ab = (await ackOk(sa, 'add-chat-user', { userToAdd: b })).chatRoomId;
  await ackOk(sa, 'add-chat-user', { userToAdd: c });
  await ackOk(sb, 'add-chat-user', { userToAdd: c });
  await nextChatzz(sb, 'chat-user-added', (d) => d._id === a);
  await nextChatzz(sc, 'chat-user-added', (d) => d._id === a);
  await nextChatzz(sc, 'chat-user-added', (d) => d._id === b);
  return { a, b, c, sa, sb, sc, ab };
}

/** Every way a and b could reach each other fails with forbidden; nothing reaches anyone. */
async function allForbidden({ a, b, sa, sb, watchers = [] }) {
  for (const [s, other] of [[sa, b], [sb, a]]) {
    await ackError(s, 'send-message', { userId: other, message: 'blocked?' }, 'forbidden');
    await ackError(s, 'send-message', { userId: other, message: 'blocked?', clientMessageId: `cm-${s.userId}` }, 'forbidden');
    await errorEvent(s, 'send-message', { userId: other, message: 'blocked? (no callback)' }, 'forbidden');
    await ackError(s, 'typing', { userId: other, typing: true }, 'forbidden');
    await ackError(s, 'typing', { userId: other, typing: false }, 'forbidden');
    await errorEvent(s, 'typing', { userId: other, typing: true }, 'forbidden');
    await ackError(s, 'add-chat-user', { userToAdd: other }, 'forbidden');
    await errorEvent(s, 'add-chat-user', { userToAdd: other }, 'forbidden');
  }
  for (const s of [sa, sb, ...watchers]) {
    await noChatzz(s, 'new-message', undefined, s === sa ? QUIET_MS : 0);
    for (const type of ['message-status-changed', 'typing', 'chat-user-added', 'chat-user-status-changed', 'error']) await noChatzz(s, type, undefined, 0);
  }
}

// ---------------------------------------------------------------------------
// The acks

test('block-user acks (null, {userId, blocked: true}) and unblock-user (null, {userId, blocked: false}); both idempotent; nothing emitted to anyone, on any socket', async () => {
  const { a, b, c, sa, sb, sc } = await trio('ack');
  const sa2 = await server.connectUser(a);
  const sb2 = await server.connectUser(b);
  const got = [sa, sa2, sb, sb2, sc].map((s) => recordAll(s));

  await block(sa, b);
  await block(sa, b);
  await block(sa2, b);
  assertContact(await entry(sa, b), { id: b, blocked: true });
  assertContact(await entry(sb, a), { id: a, blocked: false });
  await unblock(sa, b);
  await unblock(sa2, b);
  await unblock(sa, b);
  assertContact(await entry(sa2, b), { id: b, blocked: false, status: 'online' });
  assertContact(await entry(sb, a), { id: a, blocked: false, status: 'online' });
  // Unblocking someone never blocked: the same answer.
  await unblock(sa, c);
  await unblock(sb, a);

  await sleep(QUIET_MS);
  for (const [i, g] of got.entries()) assert.deepEqual(g, [], `socket #${i} must receive nothing at block/unblock, got ${JSON.stringify(g)}`);

  // Without a callback: nothing comes back either.
  sa.emit('block-user', { userId: b });
  sa.emit('unblock-user', { userId: b });
  await sleep(QUIET_MS);
  for (const [i, g] of got.entries()) assert.deepEqual(g, [], `socket #${i} must receive nothing, got ${JSON.stringify(g)}`);
  // Processed in order: b is unblocked.
  assertContact(await entry(sa, b), { id: b, blocked: false });
  const m = await send(sb, a, 'still fine');
  assertMessage(m, { from: b, to: a });
});

test('blocking a non-contact (online or offline, known) works; then nothing links them either way; after unblock they can become contacts', async () => {
  const a = uid('nca');
  const b = uid('ncb');
  const d = uid('ncd');
  const sa = await server.connectUser(a);
  const sb = await server.connectUser(b);
  await registerOffline(server, d);
  await block(sa, b);
  await block(sa, d);
  await allForbidden({ a, b, sa, sb });
  // Still no room between them: no contact entry, no history.
  assert.equal((await getContacts(sa)).find((x) => x._id === b), undefined);
  assert.deepEqual((await getContacts(sb)).map((x) => x._id), []);
  await ackError(sa, 'get-old-messages', { userId: b }, 'not-a-contact');
  await ackError(sb, 'get-old-messages', { userId: a }, 'not-a-contact');
  // d, offline, cannot be added either.
  await ackError(sa, 'add-chat-user', { userToAdd: d }, 'forbidden');
  await ackError(sa, 'send-message', { userId: d, message: 'x' }, 'forbidden');
  const sd = await server.connectUser(d);
  assert.deepEqual(sd.details.connectedUsers.map((x) => x._id).filter((x) => x === a), []);
  assert.deepEqual(sd.details.missedMessages, {});
  await ackError(sd, 'add-chat-user', { userToAdd: a }, 'forbidden');

  await unblock(sa, b);
  const contact = await ackOk(sb, 'add-chat-user', { userToAdd: a });
  assertContact(contact, { id: a, status: 'online', blocked: false, lastMessage: null, unreadCount: 0 });
  const added = await nextChatzz(sa, 'chat-user-added', (x) => x._id === b);
  assertContact(added, { id: b, chatRoomId: contact.chatRoomId, blocked: false });
  const m = await send(sa, b, 'hello after unblock');
  assertMessage(m, { from: a, to: b, chatRoomId: contact.chatRoomId });
  await nextChatzz(sb, 'new-message', (x) => x._id === m._id);
});

// ---------------------------------------------------------------------------
// While A blocks B

test('while a blocks b (contacts): send-message, typing and add-chat-user fail forbidden both ways (callback and error event); nothing stored or delivered', async () => {
  const { a, b, c, sa, sb, sc, ab } = await trio('forb');
  const sb2 = await server.connectUser(b);
  const m1 = await send(sa, b, 'before the block');
  await settle([sa, sb, sb2], [m1]);
  const histA = await history(sa, b);
  const histB = await history(sb, a);
  assert.deepEqual(histA.map((m) => m._id), [m1._id]);

  await block(sa, b);
  await allForbidden({ a, b, sa, sb, watchers: [sb2, sc] });

  // Nothing stored: history and contact entries unchanged.
  assert.deepEqual(await history(sa, b), histA);
  assert.deepEqual(await history(sb, a), histB);
  assertContact(await entry(sa, b), { id: b, chatRoomId: ab, lastMessage: m1._id, unreadCount: 0, blocked: true });
  assertContact(await entry(sb, a), { id: a, chatRoomId: ab, lastMessage: m1._id, unreadCount: 1, blocked: false });

  // Both of them still talk to c.
  const mc = await send(sa, c, 'to c');
  await nextChatzz(sc, 'new-message', (x) => x._id === mc._id);
  const mc2 = await send(sb2, c, 'to c from b');
  await nextChatzz(sc, 'new-message', (x) => x._id === mc2._id);
  await typing(sb, c, true);
  await nextChatzz(sc, 'typing', isTyping(b, true));

  // After unblock, the clientMessageId refused above is free: it stores a new message.
  await unblock(sa, b);
  const retry = await send(sb, a, 'now it goes', { clientMessageId: `cm-${b}` });
  assertMessage(retry, { from: b, to: a, text: 'now it goes', chatRoomId: ab });
  await nextChatzz(sa, 'new-message', (x) => x._id === retry._id);
  const after = await history(sa, b);
  assert.deepEqual(after.map((m) => m._id), [m1._id, retry._id]);
});

test('b blocks a as well, or only b: forbidden either way; a unblocking alone is not enough while b blocks', async () => {
  const { a, b, sa, sb } = await trio('mut');
  await block(sb, a);
  await allForbidden({ a, b, sa, sb });
  // Refused typing draws on the typing rate (5, then 5 a second): let it refill.
  await sleep(1100);
  await block(sa, b);
  await allForbidden({ a, b, sa, sb });
  // Both block: each shows the other offline, never seen, blocked true.
  assertContact(await entry(sa, b), { id: b, blocked: true, status: 'offline', lastOnline: null });
  assertContact(await entry(sb, a), { id: a, blocked: true, status: 'offline', lastOnline: null });
  await unblock(sa, b);
  await sleep(1100);
  await allForbidden({ a, b, sa, sb });
  assertContact(await entry(sa, b), { id: b, blocked: false, status: 'offline', lastOnline: null });
  assertContact(await entry(sb, a), { id: a, blocked: true, status: 'online' });
  await unblock(sb, a);
  await sleep(1100);
  const m = await send(sa, b, 'both unblocked');
  await nextChatzz(sb, 'new-message', (x) => x._id === m._id);
  await typing(sb, a, true);
  await nextChatzz(sa, 'typing', isTyping(b, true));
});

test('a block through the same server stops typing at once (the pair just typed), an unblock restores it at once', async () => {
  const { a, b, sa, sb, ab } = await trio('tyc');
  await typing(sa, b, true);
  await nextChatzz(sb, 'typing', isTyping(a, true));
  await typing(sb, a, true);
  await nextChatzz(sa, 'typing', isTyping(b, true));
  await block(sb, a);
  await ackError(sa, 'typing', { userId: b, typing: false }, 'forbidden');
  await ackError(sb, 'typing', { userId: a, typing: false }, 'forbidden');
  await noChatzz(sb, 'typing');
  await noChatzz(sa, 'typing', undefined, 0);
  await unblock(sb, a);
  await typing(sa, b, false);
  assert.deepEqual(await nextChatzz(sb, 'typing', isTyping(a)), { userId: a, chatRoomId: ab, typing: false, expiresInMs: 0 });
  await typing(sb, a, true);
  assert.deepEqual(await nextChatzz(sa, 'typing', isTyping(b)), { userId: b, chatRoomId: ab, typing: true, expiresInMs: 6000 });
});

test('contact entries: a\'s entry for b has blocked true and b\'s presence; b\'s entry for a has blocked false, offline, lastOnline null even while a is online (get-contacts and connectedUsers)', async () => {
  const { a, b, c, sa, sb, sc, ab } = await trio('ent');
  // Make a's and b's lastOnline known first.
  await closeSocket(sa);
  await nextChatzz(sc, 'chat-user-status-changed', isOffline(a));
  const sa1 = await server.connectUser(a);
  await nextChatzz(sb, 'chat-user-status-changed', isOnline(a));
  assertContact(await entry(sb, a), { id: a, status: 'online', lastOnline: 'timestamp', blocked: false });

  await block(sa1, b);
  assertContact(await entry(sa1, b), { id: b, chatRoomId: ab, status: 'online', blocked: true });
  assertContact(await entry(sb, a), { id: a, chatRoomId: ab, status: 'offline', lastOnline: null, blocked: false });
  const sb2 = await server.connectUser(b);
  assertContact(sb2.details.connectedUsers.find((x) => x._id === a), { id: a, chatRoomId: ab, status: 'offline', lastOnline: null, blocked: false });
  const sa2 = await server.connectUser(a);
  assertContact(sa2.details.connectedUsers.find((x) => x._id === b), { id: b, chatRoomId: ab, status: 'online', blocked: true });
  // c sees both as they are.
  for (const other of [a, b]) assertContact(await entry(sc, other), { id: other, status: 'online', blocked: false });
  // Over the callback-less path too.
  sb.emit('get-contacts', {});
  const list = await nextChatzz(sb, 'contacts');
  assertContact(list.find((x) => x._id === a), { id: a, status: 'offline', lastOnline: null, blocked: false });

  // b goes offline: a sees it, with b's lastOnline.
  await closeSocket(sb);
  await closeSocket(sb2);
  const off = await nextChatzz(sa1, 'chat-user-status-changed', isOffline(b));
  assertStatusChange(off, { id: b, status: 'offline' });
  assertContact(await entry(sa1, b), { id: b, status: 'offline', lastOnline: off.lastOnline, blocked: true });
  const sb3 = await server.connectUser(b);
  assertStatusChange(await nextChatzz(sa2, 'chat-user-status-changed', isOnline(b)), { id: b, status: 'online' });
  assertContact(sb3.details.connectedUsers.find((x) => x._id === a), { id: a, status: 'offline', lastOnline: null, blocked: false });

  // Unblocked: b sees a's real presence again (though nothing told it so).
  await unblock(sa2, b);
  await noChatzz(sb3, 'chat-user-status-changed');
  assertContact(await entry(sb3, a), { id: a, status: 'online', lastOnline: 'timestamp', blocked: false });
  assertContact(await entry(sa2, b), { id: b, status: 'online', blocked: false });
});

test('presence: b gets no chat-user-status-changed about a (offline nor online) while a blocks b; a sees b\'s; after unblock b hears a again', async () => {
  const { a, b, c, sa, sb, sc } = await trio('pres');
  const sb2 = await server.connectUser(b, { transport: 'polling' });
  await block(sa, b);

  // a leaves (last socket) and comes back: c hears both, b nothing.
  await closeSocket(sa);
  await nextChatzz(sc, 'chat-user-status-changed', isOffline(a));
  const sa2 = await server.connectUser(a);
  await nextChatzz(sc, 'chat-user-status-changed', isOnline(a));
  const sa3 = await server.connectUser(a);
  await closeSocket(sa3);
  await closeSocket(sa2);
  await nextChatzz(sc, 'chat-user-status-changed', isOffline(a));
  const sa4 = await server.connectUser(a);
  await nextChatzz(sc, 'chat-user-status-changed', isOnline(a));
  await noChatzz(sb, 'chat-user-status-changed');
  await noChatzz(sb2, 'chat-user-status-changed', undefined, 0);

  // b leaves and comes back: a sees both.
  await closeSocket(sb);
  await closeSocket(sb2);
  assertStatusChange(await nextChatzz(sa4, 'chat-user-status-changed', isOffline(b)), { id: b, status: 'offline' });
  const sb3 = await server.connectUser(b);
  assertStatusChange(await nextChatzz(sa4, 'chat-user-status-changed', isOnline(b)), { id: b, status: 'online' });
  await nextChatzz(sc, 'chat-user-status-changed', isOffline(b));
  await nextChatzz(sc, 'chat-user-status-changed', isOnline(b));

  // Unblocked: nothing at the moment, then b hears a go and come.
  await unblock(sa4, b);
  await noChatzz(sb3, 'chat-user-status-changed');
  await closeSocket(sa4);
  assertStatusChange(await nextChatzz(sb3, 'chat-user-status-changed', isOffline(a)), { id: a, status: 'offline' });
  const sa5 = await server.connectUser(a);
  assertStatusChange(await nextChatzz(sb3, 'chat-user-status-changed', isOnline(a)), { id: a, status: 'online' });
  await nextChatzz(sc, 'chat-user-status-changed', isOffline(a));
  await nextChatzz(sc, 'chat-user-status-changed', isOnline(a));
  assert.ok(sa5.connected);
});

// A block drops what a and b said about typing: the server's own `typing: false` at
// a's departure would tell b the moment a left, which the block hides.
test('a typed to b, then blocks b and leaves within 6 s: b hears no typing false, no offline (a\'s departure is hidden)', async () => {
  const { a, b, sa, sb, sc } = await trio('tyl');
  await typing(sa, b, true);
  await nextChatzz(sb, 'typing', isTyping(a, true));
  await block(sa, b);
  await closeSocket(sa);
  await nextChatzz(sc, 'chat-user-status-changed', isOffline(a));
  await noChatzz(sb, 'chat-user-status-changed');
  await noChatzz(sb, 'typing', undefined, 0);
});

test('history stays readable by both; message-read, edit-message and delete-message on shared messages keep working, their events reaching both', async () => {
  const { a, b, sa, sb, ab } = await trio('hist');
  const sa2 = await server.connectUser(a);
  const sb2 = await server.connectUser(b);
  const fromB1 = await send(sb, a, 'b one');
  const fromB2 = await send(sb, a, 'b two');
  const fromA = await send(sa, b, 'a one');
  await settle([sa, sa2, sb, sb2], [fromB1, fromB2, fromA]);

  await block(sa, b);
  const ids = [fromB1._id, fromB2._id, fromA._id];
  assert.deepEqual((await history(sa, b)).map((m) => m._id), ids);
  assert.deepEqual((await history(sb2, a)).map((m) => m._id), ids);
  sb.emit('get-old-messages', { userId: a, limit: 2 });
  assert.deepEqual((await nextChatzz(sb, 'old-messages')).map((m) => m._id), ids.slice(1));

  // The blocker reads b's messages: b (both sockets) and a's other socket hear it.
  const read = await ackOk(sa, 'message-read', { messageId: fromB2._id });
  assertMessage(read, { _id: fromB2._id, status: 'read', readAt: 'timestamp' });
  for (const s of [sb, sb2, sa2]) {
    const changed = await nextChatzz(s, 'message-status-changed', (x) => x._id === fromB2._id);
    assert.equal(changed.status, 'read');
    assertMessagesRead(await nextChatzz(s, 'messages-read'), { chatRoomId: ab, readerId: a, upTo: fromB2._id, readAt: read.readAt, count: 2 });
  }
  // The blocked one reads a's message.
  const read2 = await ackOk(sb, 'message-read', { messageId: fromA._id });
  for (const s of [sa, sa2, sb2]) {
    await nextChatzz(s, 'message-status-changed', (x) => x._id === fromA._id && x.status === 'read');
    assertMessagesRead(await nextChatzz(s, 'messages-read'), { chatRoomId: ab, readerId: b, upTo: fromA._id, readAt: read2.readAt, count: 1 });
  }

  // Edits, both ways.
  const editedB = await ackOk(sb, 'edit-message', { messageId: fromB1._id, message: 'b one, edited' });
  assertMessage(editedB, { _id: fromB1._id, text: 'b one, edited', editedAt: 'timestamp' });
  for (const s of [sa, sa2, sb, sb2]) assert.deepEqual(await nextChatzz(s, 'message-updated', (x) => x._id === fromB1._id), editedB);
  const editedA = await ackOk(sa2, 'edit-message', { messageId: fromA._id, message: 'a one, edited' });
  for (const s of [sa, sa2, sb, sb2]) assert.deepEqual(await nextChatzz(s, 'message-updated', (x) => x._id === fromA._id), editedA);

  // Deletes, both ways.
  const tombA = await ackOk(sa, 'delete-message', { messageId: fromA._id });
  assertMessage(tombA, { _id: fromA._id, text: '', deletedAt: 'timestamp' });
  for (const s of [sa, sa2, sb, sb2]) assert.deepEqual(await nextChatzz(s, 'message-updated', (x) => x._id === fromA._id), tombA);
  const tombB = await ackOk(sb2, 'delete-message', { messageId: fromB2._id });
  for (const s of [sa, sa2, sb, sb2]) assert.deepEqual(await nextChatzz(s, 'message-updated', (x) => x._id === fromB2._id), tombB);

  // Both histories show the same, still three messages.
  const hA = await history(sa, b);
  const hB = await history(sb, a);
  assert.deepEqual(hA, hB);
  assert.deepEqual(hA.map((m) => [m._id, m.message, m.deletedAt !== null]), [
    [fromB1._id, 'b one, edited', false],
    [fromB2._id, '', true],
    [fromA._id, '', true],
  ]);
  await noChatzz(sb, 'new-message');
  for (const s of [sa, sa2, sb2]) await noChatzz(s, 'new-message', undefined, 0);
});

test('after unblock everything works again: send both ways (delivered and sent), typing both ways, add-chat-user idempotent, presence', async () => {
  const { a, b, c, sa, sb, sc, ab } = await trio('unb');
  await block(sa, b);
  await ackError(sb, 'send-message', { userId: a, message: 'x' }, 'forbidden');
  await unblock(sa, b);

  const m1 = await send(sa, b, 'a to b');
  assertMessage(m1, { from: a, to: b, chatRoomId: ab, status: ['not_sent', 'sent'] });
  assertMessage(await nextChatzz(sb, 'new-message', (x) => x._id === m1._id), { _id: m1._id });
  await nextChatzz(sb, 'message-status-changed', (x) => x._id === m1._id && x.status === 'sent');
  const m2 = await send(sb, a, 'b to a');
  await nextChatzz(sa, 'new-message', (x) => x._id === m2._id);
  await nextChatzz(sa, 'message-status-changed', (x) => x._id === m2._id && x.status === 'sent');

  await typing(sa, b, true);
  assert.deepEqual(await nextChatzz(sb, 'typing'), { userId: a, chatRoomId: ab, typing: true, expiresInMs: 6000 });
  await typing(sb, a, true);
  assert.deepEqual(await nextChatzz(sa, 'typing'), { userId: b, chatRoomId: ab, typing: true, expiresInMs: 6000 });

  const again = await ackOk(sb, 'add-chat-user', { userToAdd: a });
  assertContact(again, { id: a, chatRoomId: ab, blocked: false, status: 'online' });
  await noChatzz(sa, 'chat-user-added');

  // a typed to b: leaving now brings typing false, then offline.
  await closeSocket(sa);
  assert.equal((await nextChatzz(sb, 'typing', isTyping(a))).typing, false);
  assertStatusChange(await nextChatzz(sb, 'chat-user-status-changed', isOffline(a)), { id: a, status: 'offline' });
  await nextChatzz(sc, 'chat-user-status-changed', isOffline(a));
  const sa2 = await server.connectUser(a);
  await nextChatzz(sb, 'chat-user-status-changed', isOnline(a));
  assertContact(sa2.details.connectedUsers.find((x) => x._id === b), { id: b, status: 'online', blocked: false });
  assert.ok(c);
});

// ---------------------------------------------------------------------------
// Errors

test('invalid-argument (callback and error event): own id, bad ids, wrong types, operator-shaped ids, missing field, non-object payloads; nothing blocked', async () => {
  const { a, b, sa, sb } = await trio('inv');
  const bad = [
    { userId: a },
    { userId: '' },
    { userId: 'x'.repeat(129) },
    { userId: 'nul\u0000id' },
    { userId: 'zero\u200bwidth' },
    { userId: 'line\nbreak' },
    { userId: { $gt: '' } },
    { userId: { $ne: null } },
    { userId: 42 },
    { userId: [b] },
    { userId: null },
    { userId: true },
    {},
    { userToAdd: b },
  ];
  for (const event of ['block-user', 'unblock-user']) {
    for (const payload of bad) await ackError(sa, event, payload, 'invalid-argument');
    for (const payload of [NO_PAYLOAD, null, 'text', JSON.stringify({ userId: b }), 42, true, [], [{ userId: b }]]) {
      await ackError(sa, event, payload, 'invalid-argument');
    }
    await errorEvent(sa, event, { userId: a }, 'invalid-argument');
    await errorEvent(sa, event, { userId: { $gt: '' } }, 'invalid-argument');
    await errorEvent(sa, event, { userId: 42 }, 'invalid-argument');
    await errorEvent(sa, event, { userId: '' }, 'invalid-argument');
    await errorEvent(sa, event, NO_PAYLOAD, 'invalid-argument');
  }
  // Nothing was blocked: b can still write to a.
  assertContact(await entry(sa, b), { id: b, blocked: false });
  const m = await send(sb, a, 'not blocked');
  await nextChatzz(sa, 'new-message', (x) => x._id === m._id);
  drain(sa);
  await noChatzz(sa, 'error');
  await noChatzz(sb, 'error', undefined, 0);
});

test('unknown-user: a valid id nobody ever connected as (callback and error event), for block and unblock', async () => {
  const a = uid('unk');
  const sa = await server.connectUser(a);
  const nobody = uid('nobody');
  await ackError(sa, 'block-user', { userId: nobody }, 'unknown-user');
  await ackError(sa, 'unblock-user', { userId: nobody }, 'unknown-user');
  await ackError(sa, 'block-user', { userId: 'y'.repeat(128) }, 'unknown-user');
  await errorEvent(sa, 'block-user', { userId: nobody }, 'unknown-user');
  await errorEvent(sa, 'unblock-user', { userId: nobody }, 'unknown-user');
  // Not stored as a block either: once nobody exists, the two can link.
  const sn = await server.connectUser(nobody);
  await ackOk(sn, 'add-chat-user', { userToAdd: a });
  const m = await send(sa, nobody, 'hi');
  await nextChatzz(sn, 'new-message', (x) => x._id === m._id);
});

test('not-connected before connect-user (callback and error event)', async () => {
  const { a, b, sa, sb } = await trio('ncon');
  const s = await server.socket();
  await ackError(s, 'block-user', { userId: b }, 'not-connected');
  await ackError(s, 'unblock-user', { userId: b }, 'not-connected');
  await errorEvent(s, 'block-user', { userId: b }, 'not-connected');
  await errorEvent(s, 'unblock-user', { userId: a }, 'not-connected');
  // Nothing changed for a and b.
  assertContact(await entry(sb, a), { id: a, blocked: false, status: 'online' });
  assertContact(await entry(sa, b), { id: b, blocked: false });
  take(sb, 'error');
});
