// The same core flows over HTTP long-polling (and mixed with WebSocket).
import assert from 'node:assert/strict';
import {
  test,
  useServer,
  uid,
  ackOk,
  ackError,
  errorEvent,
  nextChatzz,
  noChatzz,
  goOffline,
  makeContacts,
  send,
  assertContact,
  assertMessage,
  assertUserDetails,
} from './harness.mjs';

const server = useServer();
const POLLING = { transport: 'polling' };

test('polling: connect-user by emit and by callback', async () => {
  const id = uid('poll');
  const s = await server.socket(POLLING);
  assert.equal(s.io.engine.transport.name, 'polling');
  s.emit('connect-user', { userId: id });
  assertUserDetails(await nextChatzz(s, 'user-details'), { id, lastOnline: null });
  const d = await ackOk(s, 'connect-user', { userId: id });
  assert.deepEqual(d, { user: { _id: id }, status: 'online', lastOnline: null, connectedUsers: [], missedMessages: {} });
});

test('polling: not-connected through the callback and the error event', async () => {
  const s = await server.socket(POLLING);
  await ackError(s, 'send-message', { userId: 'someone', message: 'hi' }, 'not-connected');
  await errorEvent(s, 'send-message', { userId: 'someone', message: 'hi' }, 'not-connected');
});

test('polling: add-chat-user, send, receive, ack and status change', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server, { transportA: 'polling', transportB: 'polling', prefix: 'p' });
  const m = await send(sa, b, 'over polling');
  assertMessage(m, { from: a, to: b, text: 'over polling', status: 'sent', chatRoomId: room });
  const got = await nextChatzz(sb, 'new-message', (d) => d._id === m._id);
  assertMessage(got, { _id: m._id, from: a, to: b, text: 'over polling' });
  await nextChatzz(sa, 'message-status-changed', (d) => d._id === m._id && d.status === 'sent');
  const r = await ackOk(sb, 'message-read', { messageId: m._id });
  assert.equal(r.status, 'read');
  const ev = await nextChatzz(sa, 'message-status-changed', (d) => d._id === m._id && d.status === 'read');
  assert.deepEqual(ev, r);
  const hist = await ackOk(sb, 'get-old-messages', { userId: a });
  assert.deepEqual(hist, [r]);
  sa.emit('get-old-messages', { userId: b });
  assert.deepEqual(await nextChatzz(sa, 'old-messages'), [r]);
});

test('polling and websocket clients talk to each other, presence included', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { transportA: 'polling', transportB: 'websocket', prefix: 'mix' });
  const m1 = await send(sa, b, 'from polling');
  assertMessage(await nextChatzz(sb, 'new-message', (d) => d._id === m1._id), { text: 'from polling', from: a });
  const m2 = await send(sb, a, 'from websocket');
  assertMessage(await nextChatzz(sa, 'new-message', (d) => d._id === m2._id), { text: 'from websocket', from: b });
  const off = await goOffline(sa, sb);
  assert.equal(off.status, 'offline');
  const sa2 = await server.connectUser(a, POLLING);
  await nextChatzz(sb, 'chat-user-status-changed', (d) => d.user._id === a && d.status === 'online');
  assert.equal(sa2.details.connectedUsers.length, 1);
  assertContact(sa2.details.connectedUsers[0], { id: b, status: 'online' });
  await noChatzz(sb, 'chat-user-status-changed');
});

test('polling and websocket: protocol 1.1 events (get-contacts, read-up-to, edit, delete)', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server, { transportA: 'polling', transportB: 'websocket', prefix: 'p11' });
  const sb2 = await server.connectUser(b, POLLING);
  const m1 = await send(sa, b, 'one');
  const m2 = await send(sa, b, 'two');
  await nextChatzz(sb2, 'message-status-changed', (d) => d._id === m2._id && d.status === 'sent');
  const list = await ackOk(sb2, 'get-contacts', {});
  assertContact(list[0], { id: a, chatRoomId: room, unreadCount: 2, lastMessage: m2._id, blocked: false });
  sb2.emit('get-contacts', {});
  assert.deepEqual(await nextChatzz(sb2, 'contacts'), list);

  const r = await ackOk(sb, 'message-read', { messageId: m2._id });
  for (const s of [sa, sb2]) {
    assert.deepEqual(await nextChatzz(s, 'messages-read'), { chatRoomId: room, readerId: b, upTo: m2._id, readAt: r.readAt, count: 2 });
  }
  const edited = await ackOk(sa, 'edit-message', { messageId: m1._id, message: 'one, edited' });
  assertMessage(edited, { _id: m1._id, text: 'one, edited', status: 'read', editedAt: 'timestamp' });
  for (const s of [sa, sb, sb2]) assert.deepEqual(await nextChatzz(s, 'message-updated', (d) => d.deletedAt === null), edited);
  const tomb = await ackOk(sa, 'delete-message', { messageId: m2._id });
  for (const s of [sa, sb, sb2]) assert.deepEqual(await nextChatzz(s, 'message-updated', (d) => d.deletedAt !== null), tomb);
  await errorEvent(sa, 'edit-message', { messageId: m2._id, message: 'revive' }, 'not-found');
  await ackError(sb2, 'delete-message', { messageId: m1._id }, 'not-found');
  assert.deepEqual(await ackOk(sb2, 'get-old-messages', { userId: a }), [{ ...edited }, tomb]);
});

/** Resolves once the client's connection has been upgraded to WebSocket. */
async function upgraded(s) {
  const deadline = Date.now() + 5000;
  while (s.io.engine.transport.name !== 'websocket') {
    if (Date.now() > deadline) throw new Error('no upgrade to websocket within 5000 ms');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a client that starts on polling is upgraded to websocket and keeps its session', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server, { transportA: 'upgrade', transportB: 'upgrade', prefix: 'up' });
  await upgraded(sa);
  await upgraded(sb);
  const m1 = await send(sa, b, 'after the upgrade');
  assertMessage(m1, { from: a, to: b, text: 'after the upgrade', status: 'sent', chatRoomId: room });
  assertMessage(await nextChatzz(sb, 'new-message', (d) => d._id === m1._id), { text: 'after the upgrade', from: a });
  const m2 = await send(sb, a, 'and back');
  assertMessage(await nextChatzz(sa, 'new-message', (d) => d._id === m2._id), { text: 'and back', from: b });
  // Still the session of the connect-user made over polling: no second registration.
  const r = await ackOk(sb, 'message-read', { messageId: m1._id });
  assert.equal(r.status, 'read');
  await nextChatzz(sa, 'message-status-changed', (d) => d._id === m1._id && d.status === 'read');
  assert.equal(sa.io.engine.transport.name, 'websocket');
  assert.equal(sb.io.engine.transport.name, 'websocket');
});

