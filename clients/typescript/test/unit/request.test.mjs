import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatzzClient } from '../../dist/esm/index.js';
import { FakeSocket, details, until } from './fake-socket.mjs';

function setup({ ackTimeoutMs = 200, respond } = {}) {
  const socket = new FakeSocket();
  socket.respond = (event, payload, entry) =>
    event === 'connect-user' ? [null, details('alice')] : respond?.(event, payload, entry);
  const client = new ChatzzClient(socket, { userId: 'alice', ackTimeoutMs, retry: { minDelayMs: 5, maxDelayMs: 20 } });
  return { socket, client };
}

test('each method emits its event with the protocol payload and resolves with the ack result', async () => {
  const results = {
    'add-chat-user': { _id: 'bob', chatRoomId: 'r1', status: 'online', lastOnline: null },
    'get-contacts': [],
    'get-old-messages': [],
    typing: null,
    'block-user': { userId: 'bob', blocked: true },
    'unblock-user': { userId: 'bob', blocked: false },
  };
  const { socket, client } = setup({ respond: (event) => [null, results[event] ?? null] });
  await client.whenReady();
  assert.deepEqual(socket.emitted('connect-user')[0].payload, { userId: 'alice' });
  assert.deepEqual(await client.addChatUser('bob'), results['add-chat-user']);
  assert.deepEqual(await client.getContacts(), []);
  await client.getOldMessages({ userId: 'bob', before: '5', limit: 10 });
  await client.typing('bob', true);
  assert.deepEqual(await client.blockUser('bob'), { userId: 'bob', blocked: true });
  assert.deepEqual(await client.unblockUser('bob'), { userId: 'bob', blocked: false });
  assert.deepEqual(
    socket.sent.slice(1).map((e) => [e.event, e.payload]),
    [
      ['add-chat-user', { userToAdd: 'bob' }],
      ['get-contacts', {}],
      ['get-old-messages', { userId: 'bob', before: '5', limit: 10 }],
      ['typing', { userId: 'bob', typing: true }],
      ['block-user', { userId: 'bob' }],
      ['unblock-user', { userId: 'bob' }],
    ],
  );
  assert.equal(client.state.contact('bob').blocked, false);
});

test('an error-first ack rejects with a typed ChatzzError', async () => {
  const { client } = setup({ respond: () => [{ code: 'not-found', message: 'no such message' }, null] });
  await assert.rejects(client.markRead('m1'), { name: 'ChatzzError', code: 'not-found', event: 'message-read' });
  await assert.rejects(client.editMessage('m1', 'x'), { code: 'not-found', event: 'edit-message' });
  await assert.rejects(client.deleteMessage('m1'), { code: 'not-found', event: 'delete-message' });
});

test('no ack within the timeout rejects with `timeout`, and a late ack is ignored', async () => {
  const { socket, client } = setup({ ackTimeoutMs: 50, respond: () => undefined });
  await client.whenReady();
  await assert.rejects(client.getContacts(), { code: 'timeout' });
  socket.emitted('get-contacts')[0].ack(null, []); // too late: nothing happens
});

test('a disconnect rejects the requests waiting for an ack with `disconnected`', async () => {
  const { socket, client } = setup({ ackTimeoutMs: 5000, respond: () => undefined });
  await client.whenReady();
  const pending = client.getContacts();
  await until(() => socket.emitted('get-contacts').length === 1);
  socket.drop();
  await assert.rejects(pending, { code: 'disconnected' });
});

test('requests made while disconnected wait for the next session instead of being buffered', async () => {
  const { socket, client } = setup({ ackTimeoutMs: 1000, respond: () => [null, []] });
  await client.whenReady();
  socket.drop();
  const pending = client.getContacts();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(socket.emitted('get-contacts').length, 0);
  socket.connect();
  assert.deepEqual(await pending, []);
  // connect-user went first on the new connection.
  assert.deepEqual(socket.sent.map((e) => e.event), ['connect-user', 'connect-user', 'get-contacts']);
});

test('close() fails what is pending with `closed` and disconnects', async () => {
  const { socket, client } = setup({ respond: () => undefined });
  await client.whenReady();
  const pending = client.getContacts();
  client.close();
  await assert.rejects(pending, { code: 'closed' });
  await assert.rejects(client.getContacts(), { code: 'closed' });
  assert.equal(socket.connected, false);
});
