// Protocol 1.1, "Reading up to a message": message-read marks the named message and
// every earlier message of the room addressed to the reader, with one readAt; the
// sender's sockets and the reader's other sockets get message-status-changed (the named
// message) and one messages-read; the read position only moves forward; unreadCount
// follows it; tombstones count in `count` but not in unreadCount.
import assert from 'node:assert/strict';
import {
  test,
  useServer,
  uid,
  ackOk,
  ackError,
  errorEvent,
  nextChatzz,
  nextChatzzEntry,
  noChatzz,
  drain,
  take,
  makeContacts,
  send,
  getContacts,
  settle,
  assertMessagesRead,
  assertMessage,
  assertContact,
  assertTimestamp,
  sleep,
  QUIET_MS,
} from './harness.mjs';

const server = useServer();

/** After a quiet period: the socket got exactly these (unconsumed) events of the two kinds. */
async function exactlyReadEvents(socket, { statusChanged, messagesRead }) {
  await sleep(QUIET_MS);
  assert.deepEqual(take(socket, 'message-status-changed'), statusChanged, `message-status-changed on a socket of ${socket.userId}`);
  assert.deepEqual(take(socket, 'messages-read'), messagesRead, `messages-read on a socket of ${socket.userId}`);
}

const contactOf = (list, id) => {
  const found = list.filter((c) => c._id === id);
  assert.equal(found.length, 1, `exactly one contact ${id} in ${JSON.stringify(list)}`);
  return found[0];
};

test('message-read marks the named message and every earlier one addressed to the reader, with one readAt', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server, { prefix: 'upto' });
  const sa2 = await server.connectUser(a);
  const sb2 = await server.connectUser(b);
  const m1 = await send(sa, b, 'one');
  const x1 = await send(sb, a, 'from the reader');
  const m2 = await send(sa, b, 'two');
  const m3 = await send(sa, b, 'three');
  const m4 = await send(sa, b, 'four, later');
  await settle([sa, sa2, sb, sb2], [m1, x1, m2, m3, m4]);
  assert.equal(contactOf(await getContacts(sb), a).unreadCount, 4);

  const t0 = Date.now();
  const r = await ackOk(sb, 'message-read', { messageId: m3._id });
  const t1 = Date.now();
  // The callback gets the named message.
  assertMessage(r, { _id: m3._id, from: a, to: b, text: 'three', status: 'read', chatRoomId: room, editedAt: null, deletedAt: null });
  assert.equal(r.createdAt, m3.createdAt);
  const at = Date.parse(r.readAt);
  assert.ok(at >= t0 - 50 && at <= t1 + 50, `readAt ${r.readAt} must be about now`);

  // History: m1..m3 read with the same readAt; the reader's own message and m4 untouched.
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.deepEqual(hist.map((m) => m._id), [m1._id, x1._id, m2._id, m3._id, m4._id]);
  for (const m of [hist[0], hist[2], hist[3]]) {
    assertMessage(m, { from: a, to: b, status: 'read', readAt: r.readAt });
  }
  assert.deepEqual(hist[3], r);
  assertMessage(hist[1], { from: b, to: a, status: 'sent', readAt: null });
  assertMessage(hist[4], { from: a, to: b, status: 'sent', readAt: null });

  // The sender's sockets and the reader's other socket: the named message and one messages-read.
  const range = { chatRoomId: room, readerId: b, upTo: m3._id, readAt: r.readAt, count: 3 };
  for (const s of [sa, sa2, sb2]) {
    const range1 = await nextChatzzEntry(s, 'messages-read');
    const named = await nextChatzzEntry(s, 'message-status-changed');
    assertMessagesRead(range1.env.data, range);
    assert.deepEqual(named.env.data, r);
    // docs/protocol.md: the named message first, then messages-read.
    assert.ok(named.seq < range1.seq, `on a socket of ${s.userId}: message-status-changed before messages-read`);
  }
  for (const s of [sa, sa2, sb2]) await exactlyReadEvents(s, { statusChanged: [], messagesRead: [] });
  // The reading socket itself gets neither.
  await exactlyReadEvents(sb, { statusChanged: [], messagesRead: [] });

  // unreadCount follows: b has m4 unread; a has x1 (from b) unread, a read nothing.
  assertContact(contactOf(await getContacts(sb), a), { unreadCount: 1, lastMessage: hist[4] });
  assertContact(contactOf(await getContacts(sa), b), { unreadCount: 1, lastMessage: hist[4] });
});

test('naming a message at or before the read position succeeds with it and emits nothing', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server, { prefix: 'pos' });
  const sb2 = await server.connectUser(b);
  const m1 = await send(sa, b, 'p1');
  const m2 = await send(sa, b, 'p2');
  const m3 = await send(sa, b, 'p3');
  await settle([sa, sb, sb2], [m1, m2, m3]);
  const r2 = await ackOk(sb, 'message-read', { messageId: m2._id });
  await nextChatzz(sa, 'messages-read', (d) => d.upTo === m2._id && d.count === 2);
  await nextChatzz(sb2, 'messages-read', (d) => d.upTo === m2._id && d.count === 2);
  await sleep(QUIET_MS);
  for (const s of [sa, sb, sb2]) drain(s);

  // Before the position, at it, from the other tab, without a callback: all no-ops.
  const again1 = await ackOk(sb, 'message-read', { messageId: m1._id });
  assertMessage(again1, { _id: m1._id, status: 'read', readAt: r2.readAt });
  assert.deepEqual(await ackOk(sb2, 'message-read', { messageId: m2._id }), r2);
  sb.emit('message-read', { messageId: m1._id });
  for (const s of [sa, sb, sb2]) await exactlyReadEvents(s, { statusChanged: [], messagesRead: [] });
  await noChatzz(sb, 'error', undefined, 0);
  assert.equal(contactOf(await getContacts(sb), a).unreadCount, 1);

  // Beyond it: moves again, counting only what changed.
  const r3 = await ackOk(sb2, 'message-read', { messageId: m3._id });
  assertMessage(r3, { _id: m3._id, status: 'read', readAt: 'timestamp' });
  for (const s of [sa, sb]) {
    assertMessagesRead(await nextChatzz(s, 'messages-read'), { chatRoomId: room, readerId: b, upTo: m3._id, readAt: r3.readAt, count: 1 });
    assert.deepEqual(await nextChatzz(s, 'message-status-changed'), r3);
  }
  await exactlyReadEvents(sb2, { statusChanged: [], messagesRead: [] });
  // m1 and m2 kept their first readAt.
  const hist = await ackOk(sb, 'get-old-messages', { userId: a });
  assert.deepEqual(hist.map((m) => m.readAt), [r2.readAt, r2.readAt, r3.readAt]);
  assert.equal(contactOf(await getContacts(sb), a).unreadCount, 0);
});

test('the read position never moves back: concurrent reads from two tabs end at the furthest', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server, { prefix: 'race' });
  const sb2 = await server.connectUser(b);
  const msgs = [];
  for (let i = 0; i < 6; i += 1) msgs.push(await send(sa, b, `r${i}`));
  await settle([sa, sb, sb2], msgs);
  const [r1, r2] = await Promise.all([
    ackOk(sb, 'message-read', { messageId: msgs[5]._id }),
    ackOk(sb2, 'message-read', { messageId: msgs[2]._id }),
  ]);
  assertMessage(r1, { _id: msgs[5]._id, status: 'read' });
  assertMessage(r2, { _id: msgs[2]._id, status: 'read' });
  await sleep(QUIET_MS);
  const reads = take(sa, 'messages-read');
  assert.ok(reads.length >= 1 && reads.length <= 2, `one or two messages-read: ${JSON.stringify(reads)}`);
  assert.equal(reads.reduce((n, d) => n + d.count, 0), 6, `each message read once: ${JSON.stringify(reads)}`);
  for (const d of reads) assert.equal(d.chatRoomId, room);
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.deepEqual(hist.map((m) => m.status), Array(6).fill('read'));
  assert.equal(contactOf(await getContacts(sb), a).unreadCount, 0);
});

test('unreadCount counts per contact and per direction; a reload shows the same counts', async () => {
  const me = uid('reader');
  const x = uid('x');
  const y = uid('y');
  const sMe = await server.connectUser(me);
  const sx = await server.connectUser(x);
  const sy = await server.connectUser(y);
  await ackOk(sMe, 'add-chat-user', { userToAdd: x });
  await ackOk(sMe, 'add-chat-user', { userToAdd: y });
  const fromX = [];
  for (let i = 0; i < 3; i += 1) fromX.push(await send(sx, me, `x${i}`));
  const fromY = [await send(sy, me, 'y0')];
  const mine = await send(sMe, x, 'mine to x');
  await settle([sMe, sx, sy], [...fromX, ...fromY, mine]);

  let list = await getContacts(sMe);
  assertContact(contactOf(list, x), { unreadCount: 3 });
  assertContact(contactOf(list, y), { unreadCount: 1 });
  assertContact(contactOf(await getContacts(sx), me), { unreadCount: 1 });

  await ackOk(sMe, 'message-read', { messageId: fromX[1]._id });
  list = await getContacts(sMe);
  assertContact(contactOf(list, x), { unreadCount: 1 });
  assertContact(contactOf(list, y), { unreadCount: 1 });
  // Reading does not touch the other direction.
  assertContact(contactOf(await getContacts(sx), me), { unreadCount: 1 });

  // A reload (a new connection) shows the same badges, on any socket.
  const reload = await server.connectUser(me);
  assertContact(contactOf(reload.details.connectedUsers, x), { unreadCount: 1 });
  assertContact(contactOf(reload.details.connectedUsers, y), { unreadCount: 1 });
  sMe.close();
  await sleep(100);
  const later = await server.connectUser(me);
  assertContact(contactOf(later.details.connectedUsers, x), { unreadCount: 1, lastMessage: mine._id });
  assertContact(contactOf(later.details.connectedUsers, y), { unreadCount: 1, lastMessage: fromY[0]._id });
});

test('tombstones are read like any other message: they count in count, not in unreadCount', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server, { prefix: 'tomb' });
  const m1 = await send(sa, b, 't1');
  const m2 = await send(sa, b, 't2, to be deleted');
  const m3 = await send(sa, b, 't3');
  await settle([sa, sb], [m1, m2, m3]);
  const tomb = await ackOk(sa, 'delete-message', { messageId: m2._id });
  assertMessage(tomb, { _id: m2._id, text: '', status: 'sent', deletedAt: 'timestamp' });
  await nextChatzz(sb, 'message-updated', (d) => d._id === m2._id);
  drain(sa);
  drain(sb);
  assertContact(contactOf(await getContacts(sb), a), { unreadCount: 2 });

  const r = await ackOk(sb, 'message-read', { messageId: m3._id });
  assertMessagesRead(await nextChatzz(sa, 'messages-read'), { chatRoomId: room, readerId: b, upTo: m3._id, readAt: r.readAt, count: 3 });
  const hist = await ackOk(sb, 'get-old-messages', { userId: a });
  assertMessage(hist[1], { _id: m2._id, text: '', status: 'read', readAt: r.readAt, deletedAt: tomb.deletedAt });
  assertContact(contactOf(await getContacts(sb), a), { unreadCount: 0 });
});

test('a tombstone can be named: the room is read up to it', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server, { prefix: 'tname' });
  const m1 = await send(sa, b, 'n1');
  const m2 = await send(sa, b, 'n2');
  const m3 = await send(sa, b, 'n3');
  await settle([sa, sb], [m1, m2, m3]);
  await ackOk(sa, 'delete-message', { messageId: m2._id });
  await nextChatzz(sb, 'message-updated', (d) => d._id === m2._id);
  drain(sa);
  const r = await ackOk(sb, 'message-read', { messageId: m2._id });
  assertMessage(r, { _id: m2._id, text: '', status: 'read', deletedAt: 'timestamp' });
  assertMessagesRead(await nextChatzz(sa, 'messages-read'), { chatRoomId: room, readerId: b, upTo: m2._id, readAt: r.readAt, count: 2 });
  assert.deepEqual(await nextChatzz(sa, 'message-status-changed'), r);
  assertContact(contactOf(await getContacts(sb), a), { unreadCount: 1 });
});

test('only the recipient may read: the sender and a third user get not-found and nothing changes', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'who' });
  const x1 = await send(sb, a, 'from b');
  const m1 = await send(sa, b, 'from a');
  await settle([sa, sb], [x1, m1]);
  // a names its own message: it is not a's to read, even though x1 before it is.
  await ackError(sa, 'message-read', { messageId: m1._id }, 'not-found');
  await errorEvent(sa, 'message-read', { messageId: m1._id }, 'not-found');
  const sx = await server.connectUser(uid('third'));
  await ackError(sx, 'message-read', { messageId: m1._id }, 'not-found');
  await ackError(sx, 'message-read', { messageId: x1._id }, 'not-found');
  await noChatzz(sa, 'messages-read');
  await noChatzz(sb, 'messages-read', undefined, 0);
  await noChatzz(sb, 'message-status-changed', undefined, 0);
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.deepEqual(hist.map((m) => m.status), ['sent', 'sent']);
  assertContact(contactOf(await getContacts(sa), b), { unreadCount: 1 });
  assertContact(contactOf(await getContacts(sb), a), { unreadCount: 1 });
});

test('reading one room leaves the reader\'s other rooms alone', async () => {
  const me = uid('two-rooms');
  const x = uid('x');
  const y = uid('y');
  const sMe = await server.connectUser(me);
  const sx = await server.connectUser(x);
  const sy = await server.connectUser(y);
  await ackOk(sMe, 'add-chat-user', { userToAdd: x });
  await ackOk(sMe, 'add-chat-user', { userToAdd: y });
  const y0 = await send(sy, me, 'older, other room');
  const x0 = await send(sx, me, 'newer, this room');
  await settle([sMe, sx, sy], [y0, x0]);
  const r = await ackOk(sMe, 'message-read', { messageId: x0._id });
  assertMessagesRead(await nextChatzz(sx, 'messages-read'), { chatRoomId: x0.chatRoomId, readerId: me, upTo: x0._id, readAt: r.readAt, count: 1 });
  await noChatzz(sy, 'messages-read');
  await noChatzz(sy, 'message-status-changed', undefined, 0);
  const [h] = await ackOk(sMe, 'get-old-messages', { userId: y });
  assertMessage(h, { _id: y0._id, status: 'sent' });
  assertContact(contactOf(await getContacts(sMe), y), { unreadCount: 1 });
});
