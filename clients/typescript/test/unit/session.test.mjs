import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatzzClient } from '../../dist/esm/index.js';
import { FakeSocket, details, until } from './fake-socket.mjs';

test('connect-user is sent on every connect; the session event carries user-details', async () => {
  const socket = new FakeSocket({ connected: false });
  socket.respond = (event) => (event === 'connect-user' ? [null, details('alice')] : undefined);
  const client = new ChatzzClient(socket, { userId: 'alice' });
  const sessions = [];
  client.on('session', (d) => sessions.push(d));
  const lost = [];
  client.on('session-lost', (d) => lost.push(d.reason));
  assert.equal(client.ready, false);
  socket.connect();
  await client.whenReady();
  assert.equal(client.session.user._id, 'alice');
  socket.drop('transport close');
  assert.equal(client.ready, false);
  socket.connect();
  await until(() => sessions.length === 2);
  assert.deepEqual(lost, ['transport close']);
  assert.equal(socket.emitted('connect-user').length, 2);
});

test('without a userId (JWT servers) connect-user sends an empty object', async () => {
  const socket = new FakeSocket();
  socket.respond = (event) => (event === 'connect-user' ? [null, details('carol')] : undefined);
  const client = new ChatzzClient(socket);
  await client.whenReady();
  assert.deepEqual(socket.emitted('connect-user')[0].payload, {});
});

test('a transient connect-user failure is retried; a final one is reported', async () => {
  const socket = new FakeSocket();
  const answers = [
    [{ code: 'unavailable', message: 'store down' }, null],
    [null, details('alice')],
  ];
  socket.respond = () => answers.shift();
  const client = new ChatzzClient(socket, { userId: 'alice', retry: { minDelayMs: 5 } });
  const errors = [];
  client.on('client-error', (e) => errors.push(e.code));
  await client.whenReady();
  assert.deepEqual(errors, ['unavailable']);

  const other = new FakeSocket();
  other.respond = () => [{ code: 'forbidden', message: 'no' }, null];
  const refused = new ChatzzClient(other, { userId: 'mallory', retry: { minDelayMs: 5 } });
  const seen = [];
  refused.on('client-error', (e) => seen.push(e.code));
  await until(() => seen.length === 1);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(seen, ['forbidden']);
  assert.equal(other.emitted('connect-user').length, 1);
  assert.equal(refused.ready, false);
});

test('server events are re-emitted by type and applied to the state', async () => {
  const socket = new FakeSocket();
  socket.respond = () => [null, details('alice', { contacts: [{ _id: 'bob', chatRoomId: 'r1', status: 'offline', lastOnline: null }] })];
  const client = new ChatzzClient(socket, { userId: 'alice' });
  await client.whenReady();
  const got = [];
  client.on('chat-user-status-changed', (d) => got.push(d.status));
  client.on('error', (d) => got.push(d.code));
  socket.push('chat-user-status-changed', { user: { _id: 'bob' }, status: 'online', lastOnline: null });
  socket.push('error', { event: 'connect', code: 'forbidden', message: 'credential expired' });
  assert.deepEqual(got, ['online', 'forbidden']);
  assert.equal(client.state.contact('bob').status, 'online');
});
