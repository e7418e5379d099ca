import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatzzClient } from '../../dist/esm/index.js';
import { FakeSocket, fakeServer, message, until } from './fake-socket.mjs';

test('after a reconnect, each room is fetched after its cursor up to its newest message, page by page, without duplicates', async () => {
  const socket = new FakeSocket();
  const server = fakeServer(socket, { me: 'alice', peer: 'bob' });
  const client = new ChatzzClient(socket, { userId: 'alice', catchUpPageSize: 2 });
  await client.whenReady();
  const first = message({ id: '00000000000000000001', from: 'bob', to: 'alice' });
  server.addStored(first);
  socket.push('new-message', first);
  socket.drop();
  // Missed while away: five messages from bob.
  const missed = [2, 3, 4, 5, 6].map((n) => message({ id: String(n).padStart(20, '0'), from: 'bob', to: 'alice', text: `m${n}` }));
  for (const m of missed) server.addStored(m);
  const caughtUp = new Promise((r) => client.on('caught-up', r));
  socket.connect();
  // One of them also arrives live during catch-up.
  socket.push('new-message', missed[3]);
  assert.deepEqual((await caughtUp).rooms, ['r1']);
  const pages = socket.emitted('get-old-messages').map((e) => e.payload.after);
  // Up to the newest message at the session's start, not beyond: later ones come live.
  assert.deepEqual(pages, [first._id, missed[1]._id, missed[3]._id]);
  assert.deepEqual(
    client.state.messagesWith('bob').map((m) => m._id),
    [first, ...missed].map((m) => m._id),
  );
  const room = client.state.roomWith('bob');
  assert.equal(room.cursor, missed[4]._id);
  assert.equal(room.live, true);
  // Live again: a new message moves the cursor.
  socket.push('new-message', message({ id: '00000000000000000007', from: 'bob', to: 'alice' }));
  assert.equal(room.cursor, '00000000000000000007');
});

test('a catch-up cut by a disconnect resumes from where it got to', async () => {
  const socket = new FakeSocket();
  const server = fakeServer(socket, { me: 'alice', peer: 'bob' });
  const client = new ChatzzClient(socket, { userId: 'alice', catchUpPageSize: 1, ackTimeoutMs: 5000 });
  await client.whenReady();
  socket.push('new-message', message({ id: '00000000000000000001', from: 'bob', to: 'alice' }));
  socket.drop();
  for (const n of [2, 3, 4]) server.addStored(message({ id: String(n).padStart(20, '0'), from: 'bob', to: 'alice' }));
  const respond = socket.respond;
  let pages = 0;
  socket.respond = (event, payload, entry) => {
    if (event === 'get-old-messages' && ++pages === 2) return undefined; // leave the second page unanswered
    return respond(event, payload, entry);
  };
  socket.connect();
  await until(() => pages === 2);
  socket.drop();
  socket.connect();
  await until(() => client.state.roomWith('bob').live);
  assert.deepEqual(client.state.messagesWith('bob').map((m) => Number(m._id)), [1, 2, 3, 4]);
  const afters = socket.emitted('get-old-messages').map((e) => Number(e.payload.after));
  assert.deepEqual(afters, [1, 2, 2, 3]);
});

test('against a version 1 server (no lastMessage), catch-up reads until an empty page', async () => {
  const socket = new FakeSocket();
  const v1Contact = { _id: 'bob', chatRoomId: 'r1', status: 'online', lastOnline: null };
  const server = fakeServer(socket, { me: 'alice', peer: 'bob', contacts: [v1Contact] });
  const client = new ChatzzClient(socket, { userId: 'alice', catchUpPageSize: 2 });
  await client.whenReady();
  socket.push('new-message', message({ id: '00000000000000000001', from: 'bob', to: 'alice' }));
  socket.drop();
  for (const n of [2, 3, 4]) server.addStored(message({ id: String(n).padStart(20, '0'), from: 'bob', to: 'alice' }));
  socket.connect();
  await until(() => client.state.roomWith('bob').live);
  assert.deepEqual(client.state.messagesWith('bob').map((m) => Number(m._id)), [1, 2, 3, 4]);
  assert.deepEqual(socket.emitted('get-old-messages').map((e) => Number(e.payload.after)), [1, 3, 4]);
});

test('a room refused for good (not-a-contact) is reported and goes live; a transient failure is retried', async () => {
  const socket = new FakeSocket();
  const server = fakeServer(socket, { me: 'alice', peer: 'bob' });
  const client = new ChatzzClient(socket, { userId: 'alice', retry: { minDelayMs: 5, maxDelayMs: 10 } });
  const errors = [];
  client.on('client-error', (e) => errors.push(e.code));
  await client.whenReady();
  socket.push('new-message', message({ id: '00000000000000000001', from: 'bob', to: 'alice' }));
  socket.drop();
  server.addStored(message({ id: '00000000000000000002', from: 'bob', to: 'alice' }));
  const respond = socket.respond;
  const answers = ['unavailable', 'not-a-contact'];
  socket.respond = (event, payload, entry) => {
    if (event === 'get-old-messages' && answers.length) return [{ code: answers.shift(), message: 'fake' }, null];
    return respond(event, payload, entry);
  };
  socket.connect();
  await until(() => client.state.roomWith('bob').live);
  assert.deepEqual(errors, ['unavailable', 'not-a-contact']);
  assert.equal(socket.emitted('get-old-messages').length, 2);
});
