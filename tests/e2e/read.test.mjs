// message-read
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
  drain,
  makeContacts,
  send,
  assertMessage,
  assertTimestamp,
  NO_PAYLOAD,
} from './harness.mjs';

const server = useServer();

test('message-read by the recipient marks it read and notifies the sender and the other recipient tabs', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server);
  const sa2 = await server.connectUser(a);
  const sb2 = await server.connectUser(b);
  const m = await send(sa, b, 'read me');
  for (const s of [sa, sa2, sb, sb2]) {
    await nextChatzz(s, 'message-status-changed', (d) => d._id === m._id && d.status === 'sent');
    drain(s);
  }

  const t0 = Date.now();
  const r = await ackOk(sb, 'message-read', { messageId: m._id });
  const t1 = Date.now();
  assertMessage(r, { _id: m._id, from: a, to: b, text: 'read me', status: 'read', chatRoomId: room });
  assert.equal(r.createdAt, m.createdAt);
  assertTimestamp(r.readAt, 'readAt');
  const at = Date.parse(r.readAt);
  assert.ok(at >= t0 - 50 && at <= t1 + 50, `readAt ${r.readAt} must be about now`);

  for (const s of [sa, sa2, sb2]) {
    const ev = await nextChatzz(s, 'message-status-changed', (d) => d._id === m._id && d.status === 'read');
    assert.deepEqual(ev, r);
  }
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.deepEqual(hist, [r]);
});

test('reading an already read message succeeds and emits nothing', async () => {
  const { b, sa, sb } = await makeContacts(server);
  const sb2 = await server.connectUser(b);
  const m = await send(sa, b, 'twice');
  const r1 = await ackOk(sb, 'message-read', { messageId: m._id });
  await nextChatzz(sa, 'message-status-changed', (d) => d._id === m._id && d.status === 'read');
  await nextChatzz(sb2, 'message-status-changed', (d) => d._id === m._id && d.status === 'read');
  drain(sa);
  drain(sb);
  drain(sb2);

  const r2 = await ackOk(sb, 'message-read', { messageId: m._id });
  assert.deepEqual(r2, r1, 'readAt must not move');
  const r3 = await ackOk(sb2, 'message-read', { messageId: m._id });
  assert.deepEqual(r3, r1);
  sb.emit('message-read', { messageId: m._id });
  await noChatzz(sa, 'message-status-changed');
  await noChatzz(sb, 'message-status-changed', undefined, 0);
  await noChatzz(sb2, 'message-status-changed', undefined, 0);
  await noChatzz(sb, 'error', undefined, 0);
});

test('message-read by the sender fails with not-found', async () => {
  const { b, sa, sb } = await makeContacts(server);
  const m = await send(sa, b, 'mine');
  await nextChatzz(sb, 'message-status-changed', (d) => d._id === m._id);
  await ackError(sa, 'message-read', { messageId: m._id }, 'not-found');
  await errorEvent(sa, 'message-read', { messageId: m._id }, 'not-found');
  await noChatzz(sb, 'message-status-changed');
  const [h] = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.equal(h.status, 'sent');
  assert.equal(h.readAt, null);
});

test('message-read by a third user fails with not-found', async () => {
  const { b, sa, sb } = await makeContacts(server);
  const m = await send(sa, b, 'private');
  const sx = await server.connectUser(uid('x'));
  await ackError(sx, 'message-read', { messageId: m._id }, 'not-found');
  const [h] = await ackOk(sb, 'get-old-messages', { userId: sa.userId });
  assert.equal(h.status, 'sent');
});

test('message-read of an unknown id fails with not-found', async () => {
  const { sb } = await makeContacts(server);
  for (const messageId of ['nope', '00000000000000000000', '99999999999999999999', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '~']) {
    await ackError(sb, 'message-read', { messageId }, 'not-found');
  }
  await errorEvent(sb, 'message-read', { messageId: 'nope' }, 'not-found');
});

test('message-read with a missing or non-string id fails with invalid-argument', async () => {
  const { sb } = await makeContacts(server);
  for (const payload of [{}, { messageId: 1 }, { messageId: null }, { messageId: ['x'] }, { messageId: { $gt: '' } }]) {
    await ackError(sb, 'message-read', payload, 'invalid-argument');
  }
  await ackError(sb, 'message-read', NO_PAYLOAD, 'invalid-argument');
  await errorEvent(sb, 'message-read', { messageId: 5 }, 'invalid-argument');
});
