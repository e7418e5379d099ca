// connect-user, user-details, not-connected, forbidden, health check.
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
  closeSocket,
  goOffline,
  makeContacts,
  assertUserDetails,
  assertContact,
  assertStatusChange,
  assertTimestamp,
  NO_PAYLOAD,
  sleep,
} from './harness.mjs';

const server = useServer();

test('GET /healthz answers 200', async () => {
  const res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
});

test('connect-user without callback replies with a user-details event', async () => {
  const id = uid('emit');
  const s = await server.socket();
  s.emit('connect-user', { userId: id });
  const d = await nextChatzz(s, 'user-details');
  assertUserDetails(d, { id, lastOnline: null });
  assert.deepEqual(d, { user: { _id: id }, status: 'online', lastOnline: null, connectedUsers: [], missedMessages: {} });
});

test('connect-user with callback returns the user-details data', async () => {
  const id = uid('ack');
  const s = await server.socket();
  const [err, d] = await emitAck(s, 'connect-user', { userId: id });
  assert.equal(err, null);
  assertUserDetails(d, { id, lastOnline: null });
  assert.deepEqual(d, { user: { _id: id }, status: 'online', lastOnline: null, connectedUsers: [], missedMessages: {} });
});

test('user-details lastOnline is when the user last went offline', async () => {
  const { b, sa, sb } = await makeContacts(server);
  const off = await goOffline(sb, sa);
  assertTimestamp(off.lastOnline, 'lastOnline of offline event');
  const again = await server.connectUser(b);
  assertUserDetails(again.details, { id: b, lastOnline: off.lastOnline });
});

test('every event before connect-user fails with not-connected (callback path)', async () => {
  const other = uid('other');
  await server.connectUser(other);
  const s = await server.socket();
  await ackError(s, 'add-chat-user', { userToAdd: other }, 'not-connected');
  await ackError(s, 'get-old-messages', { userId: other }, 'not-connected');
  await ackError(s, 'send-message', { userId: other, message: 'hello' }, 'not-connected');
  await ackError(s, 'message-read', { messageId: '00000000000000000001' }, 'not-connected');
  // Version 1.1
  await ackError(s, 'get-contacts', {}, 'not-connected');
  await ackError(s, 'edit-message', { messageId: '00000000000000000001', message: 'hello' }, 'not-connected');
  await ackError(s, 'delete-message', { messageId: '00000000000000000001' }, 'not-connected');
});

test('every event before connect-user fails with not-connected (error event path)', async () => {
  const other = uid('other');
  await server.connectUser(other);
  const s = await server.socket();
  await errorEvent(s, 'add-chat-user', { userToAdd: other }, 'not-connected');
  await errorEvent(s, 'get-old-messages', { userId: other }, 'not-connected');
  await errorEvent(s, 'send-message', { userId: other, message: 'hello' }, 'not-connected');
  await errorEvent(s, 'message-read', { messageId: '00000000000000000001' }, 'not-connected');
  // Version 1.1
  await errorEvent(s, 'get-contacts', {}, 'not-connected');
  await noChatzz(s, 'contacts', undefined, 0);
  await errorEvent(s, 'edit-message', { messageId: '00000000000000000001', message: 'hello' }, 'not-connected');
  await errorEvent(s, 'delete-message', { messageId: '00000000000000000001' }, 'not-connected');
});

test('connect-user with an invalid user id fails with invalid-argument and leaves the socket unregistered', async () => {
  const s = await server.socket();
  const bad = [
    {},
    { userId: '' },
    { userId: 'x'.repeat(129) },
    { userId: 'a\u0000b' },
    { userId: 42 },
    { userId: null },
    { userId: true },
    { userId: ['a'] },
    { userId: { $gt: '' } },
    { userId: { $ne: null } },
  ];
  for (const payload of bad) await ackError(s, 'connect-user', payload, 'invalid-argument');
  await ackError(s, 'connect-user', NO_PAYLOAD, 'invalid-argument');
  await errorEvent(s, 'connect-user', { userId: '' }, 'invalid-argument');
  // A failed event changes nothing: the socket is still not registered.
  const other = uid('other');
  await server.connectUser(other);
  await ackError(s, 'send-message', { userId: other, message: 'hi' }, 'not-connected');
});

test('connect-user accepts a user id of 128 characters', async () => {
  const id = `${uid('long')}-`.padEnd(128, 'x');
  assert.equal(id.length, 128);
  const s = await server.socket();
  const d = await ackOk(s, 'connect-user', { userId: id });
  assertUserDetails(d, { id, lastOnline: null });
});

test('connect-user again as the same user replies again and changes no presence', async () => {
  const { a, b, sa, sb } = await makeContacts(server);
  const d = await ackOk(sb, 'connect-user', { userId: b });
  assertUserDetails(d, { id: b });
  assert.equal(d.connectedUsers.length, 1);
  assertContact(d.connectedUsers[0], { id: a, status: 'online' });
  sb.emit('connect-user', { userId: b });
  assertUserDetails(await nextChatzz(sb, 'user-details'), { id: b });
  await noChatzz(sa, 'chat-user-status-changed');
});

test('connect-user as a different user on a registered socket fails with forbidden', async () => {
  const { a, b, sa, sb } = await makeContacts(server);
  await ackError(sa, 'connect-user', { userId: b }, 'forbidden');
  await errorEvent(sa, 'connect-user', { userId: uid('someone') }, 'forbidden');
  // The socket is still registered as a: a message from it comes from a.
  const m = await ackOk(sa, 'send-message', { userId: b, message: 'still me' });
  assert.deepEqual(m.from, { _id: a });
  const got = await nextChatzz(sb, 'new-message', (x) => x._id === m._id);
  assert.deepEqual(got.from, { _id: a });
});

test('unknown event names are ignored and the socket keeps working', async () => {
  const id = uid('unknown');
  const s = await server.connectUser(id);
  s.emit('no-such-event', { foo: 1 });
  let acked = false;
  s.emit('no-such-event-2', { foo: 1 }, () => {
    acked = true;
  });
  await noChatzz(s, 'error');
  assert.equal(acked, false, 'unknown events must not be acknowledged');
  assert.ok(s.connected, 'socket must stay connected');
  const d = await ackOk(s, 'connect-user', { userId: id });
  assertUserDetails(d, { id });
});

test('online status event on connect carries user, status and lastOnline', async () => {
  const { a, b, sa, sb } = await makeContacts(server);
  const off = await goOffline(sb, sa);
  await sleep(5);
  const sb2 = await server.connectUser(b);
  const on = await nextChatzz(sa, 'chat-user-status-changed', (d) => d.user._id === b && d.status === 'online');
  assertStatusChange(on, { id: b, status: 'online' });
  assertUserDetails(sb2.details, { id: b, lastOnline: off.lastOnline });
  assert.equal(sb2.details.connectedUsers.length, 1);
  assertContact(sb2.details.connectedUsers[0], { id: a, status: 'online', lastOnline: null });
  await closeSocket(sb2);
});

test('events emitted before or right at connect are all handled (usual client pattern)', async () => {
  // socket.io-client sends buffered emits right after the namespace CONNECT
  // packet; the server must already listen for them by then.
  const N = 40;
  const results = await Promise.allSettled(
    Array.from({ length: N }, async (_, i) => {
      const id = uid(`early${i}`);
      const s = server.socketNow();
      const d = await ackOk(s, 'connect-user', { userId: id });
      assertUserDetails(d, { id, lastOnline: null });
    }),
  );
  const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
  assert.deepEqual(failed, [], `${failed.length} of ${N} sockets got no answer to a connect-user emitted at connect`);
  const ready = [];
  for (let i = 0; i < N; i += 1) {
    const s = await server.socket();
    const id = uid(`onconnect${i}`);
    ready.push(emitAck(s, 'connect-user', { userId: id }).then(([err]) => err));
  }
  const errs = await Promise.allSettled(ready);
  const lost = errs.filter((r) => r.status === 'rejected' || r.value !== null);
  assert.equal(lost.length, 0, `${lost.length} of ${N} sockets got no answer to a connect-user emitted in the connect event: ${JSON.stringify(lost.map((r) => r.reason?.message ?? r.value))}`);
});
