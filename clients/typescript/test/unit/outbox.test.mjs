import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatzzClient } from '../../dist/esm/index.js';
import { FakeSocket, fakeServer, until } from './fake-socket.mjs';

function setup(opts = {}) {
  const socket = new FakeSocket();
  const server = fakeServer(socket);
  const client = new ChatzzClient(socket, {
    userId: 'alice',
    ackTimeoutMs: 100,
    retry: { minDelayMs: 5, maxDelayMs: 20 },
    ...opts,
  });
  return { socket, server, client };
}

/** Counts how often each promise settles (a promise cannot settle twice; the hooks could). */
function track(queued) {
  const out = { value: undefined, error: undefined, settled: 0 };
  queued.sent.then(
    (v) => {
      out.value = v;
      out.settled += 1;
    },
    (e) => {
      out.error = e;
      out.settled += 1;
    },
  );
  return out;
}

test('a queued message shows at once as pending, then as the stored message', async () => {
  const { client, server } = setup();
  const q = client.send('bob', 'hello');
  assert.equal(q.pending.state, 'sending');
  assert.deepEqual(client.state.pendingFor('bob').map((p) => p.message), ['hello']);
  const m = await q.sent;
  assert.equal(m.message, 'hello');
  assert.equal(server.stored.length, 1);
  assert.deepEqual(client.state.pendingFor('bob'), []);
  assert.deepEqual(client.state.messagesWith('bob').map((x) => x._id), [m._id]);
});

test('every attempt of one message carries the same clientMessageId; retries store it once', async () => {
  const { client, server, socket } = setup();
  await client.whenReady();
  // Stored but the ack says unavailable; then no ack at all (timeout); then fine.
  server.plan.push('stored-unavailable', 'drop', 'rate-limited');
  const t = track(client.send('bob', 'once'));
  await until(() => t.settled === 1);
  const attempts = socket.emitted('send-message');
  assert.equal(attempts.length, 4);
  assert.equal(new Set(attempts.map((a) => a.payload.clientMessageId)).size, 1);
  assert.equal(server.stored.length, 1);
  assert.equal(t.value._id, server.stored[0]._id);
  assert.equal(t.value.message, 'once');
});

test('a refused message fails for good, the ones after it still go, in order', async () => {
  const { client, server } = setup();
  await client.whenReady();
  server.plan.push(undefined, 'not-a-contact');
  const results = ['a', 'b', 'c'].map((text) => track(client.send('bob', text)));
  await until(() => results.every((r) => r.settled === 1));
  assert.equal(results[0].value.message, 'a');
  assert.equal(results[1].error.code, 'not-a-contact');
  assert.equal(results[2].value.message, 'c');
  assert.deepEqual(server.stored.map((m) => m.message), ['a', 'c']);
  const failed = client.state.pendingFor('bob');
  assert.deepEqual(failed.map((p) => [p.message, p.state, p.error.code]), [['b', 'failed', 'not-a-contact']]);
});

test('a disconnect in the middle of a flush pauses it; the next session resumes it without duplicates', async () => {
  const { client, server, socket } = setup({ ackTimeoutMs: 5000 });
  await client.whenReady();
  // The fourth send is stored, then the connection drops before its ack.
  server.plan.push(undefined, undefined, undefined, 'stored-drop');
  const results = Array.from({ length: 10 }, (_, i) => track(client.send('bob', `m${i}`)));
  await until(() => server.stored.length === 4);
  socket.drop();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(results.filter((r) => r.settled).length, 3);
  socket.connect();
  await until(() => results.every((r) => r.settled === 1));
  assert.deepEqual(server.stored.map((m) => m.message), Array.from({ length: 10 }, (_, i) => `m${i}`));
  assert.deepEqual(results.map((r) => r.value._id), server.stored.map((m) => m._id));
  assert.equal(client.outgoing.length, 0);
});

test('messages queued while disconnected go out once a session is up', async () => {
  const socket = new FakeSocket({ connected: false });
  const server = fakeServer(socket);
  const client = new ChatzzClient(socket, { userId: 'alice' });
  const q = client.send('bob', 'later');
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(socket.sent.length, 0);
  socket.connect();
  assert.equal((await q.sent).message, 'later');
  assert.equal(server.stored.length, 1);
});

test('maxAttempts gives up on a message that keeps failing', async () => {
  const { client, server } = setup({ outbox: { maxAttempts: 2 } });
  server.plan.push('unavailable', 'unavailable');
  await assert.rejects(client.send('bob', 'x').sent, { code: 'unavailable' });
});

test('close() rejects what is still queued, once', async () => {
  const { client, server } = setup();
  await client.whenReady();
  server.plan.push('drop');
  const t = track(client.send('bob', 'x'));
  await new Promise((r) => setTimeout(r, 10));
  client.close();
  await until(() => t.settled === 1);
  assert.equal(t.error.code, 'closed');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(t.settled, 1);
});
