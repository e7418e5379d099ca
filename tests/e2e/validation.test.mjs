// Payload validation: operator-shaped ids, wrong JSON types, non-object payloads.
import assert from 'node:assert/strict';
import {
  test,
  useServer,
  ackOk,
  ackError,
  errorEvent,
  noChatzz,
  makeContacts,
  send,
  NO_PAYLOAD,
} from './harness.mjs';

const server = useServer();

const OPERATOR_SHAPED = [{ $gt: '' }, { $ne: null }, { $regex: '.*' }, 0, 42, -1, 1.5, true, false, [], ['x'], [{ $gt: '' }], {}];

test('operator-shaped or non-string ids fail with invalid-argument on every id field', async () => {
  const { a, b, sa, sb } = await makeContacts(server);
  const m = await send(sa, b, 'target');
  const fields = [
    ['add-chat-user', 'userToAdd', {}],
    ['get-old-messages', 'userId', {}],
    ['get-old-messages', 'before', { userId: b }],
    ['get-old-messages', 'after', { userId: b }],
    ['send-message', 'userId', { message: 'op' }],
    ['send-message', 'clientMessageId', { userId: b, message: 'op' }],
    ['message-read', 'messageId', {}],
    // Version 1.1
    ['edit-message', 'messageId', { message: 'op' }],
    ['edit-message', 'message', { messageId: m._id }],
    ['delete-message', 'messageId', {}],
  ];
  for (const [event, field, base] of fields) {
    for (const value of OPERATOR_SHAPED) {
      const socket = event === 'message-read' ? sb : sa;
      await ackError(socket, event, { ...base, [field]: value }, 'invalid-argument');
    }
    await errorEvent(event === 'message-read' ? sb : sa, event, { ...base, [field]: { $gt: '' } }, 'invalid-argument');
  }
  // Nothing happened: one message, still only sent, unedited, not deleted; one contact each.
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.equal(hist.length, 1);
  assert.equal(hist[0]._id, m._id);
  assert.equal(hist[0].status, 'sent');
  assert.equal(hist[0].message, 'target');
  assert.equal(hist[0].editedAt, null);
  assert.equal(hist[0].deletedAt, null);
  await noChatzz(sb, 'message-updated', undefined, 0);
  const d = await ackOk(sa, 'connect-user', { userId: a });
  assert.equal(d.connectedUsers.length, 1);
});

test('operator-shaped user ids fail with invalid-argument on connect-user', async () => {
  const s = await server.socket();
  for (const value of OPERATOR_SHAPED) {
    await ackError(s, 'connect-user', { userId: value }, 'invalid-argument');
  }
  await errorEvent(s, 'connect-user', { userId: { $ne: null } }, 'invalid-argument');
  // still unregistered
  await ackError(s, 'get-old-messages', { userId: 'anyone' }, 'not-connected');
});

const NON_OBJECTS = [NO_PAYLOAD, null, 'text', '{"userId":"x"}', 42, true, [], [{ userId: 'x' }]];

test('non-object payloads fail with invalid-argument on connect-user', async () => {
  const s = await server.socket();
  for (const payload of NON_OBJECTS) await ackError(s, 'connect-user', payload, 'invalid-argument');
  await errorEvent(s, 'connect-user', 'text', 'invalid-argument');
  await errorEvent(s, 'connect-user', NO_PAYLOAD, 'invalid-argument');
});

test('non-object payloads fail with invalid-argument on every other event', async () => {
  const { b, sa, sb } = await makeContacts(server);
  for (const event of ['add-chat-user', 'get-old-messages', 'send-message', 'message-read', 'get-contacts', 'edit-message', 'delete-message']) {
    for (const payload of NON_OBJECTS) await ackError(sa, event, payload, 'invalid-argument');
    await errorEvent(sa, event, 42, 'invalid-argument');
    await errorEvent(sa, event, NO_PAYLOAD, 'invalid-argument');
    await errorEvent(sa, event, [{ userId: b }], 'invalid-argument');
  }
  await noChatzz(sb, 'new-message', undefined, 0);
  await noChatzz(sa, 'old-messages', undefined, 0);
  await noChatzz(sa, 'contacts', undefined, 0);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), []);
});

test('unknown fields are ignored', async () => {
  const { a, b, sa, sb } = await makeContacts(server);
  const m = await ackOk(sa, 'send-message', { userId: b, message: 'extra', extra: { $gt: '' }, from: 'mallory', status: 'read' });
  assert.deepEqual(m.from, { _id: a });
  assert.equal(m.status, 'sent');
  const hist = await ackOk(sb, 'get-old-messages', { userId: a, whatever: 1 });
  assert.deepEqual(hist.map((h) => h._id), [m._id]);
});
