// The embed example: an existing axum app with its own users table gets chat; user
// details come from its table; its own routes keep working; its handlers use the handle.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, after } from 'node:test';
import { test, openSocket, ackOk, ackError, nextChatzz } from '../e2e/harness.mjs';
import { startExample } from './example.mjs';

let app;
let dir;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatzz-embed-'));
  app = await startExample('embed', { CHATZZ_EXAMPLE_DB: `sqlite://${path.join(dir, 'app.db')}` });
});
after(async () => {
  await app?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function connectAs(userId) {
  const socket = await openSocket(app.url);
  const details = await ackOk(socket, 'connect-user', { userId });
  return { socket, details };
}

test("the app's own routes still answer", async () => {
  const res = await fetch(`${app.url}/api/users`);
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).map((u) => u.id), ['alice', 'bob', 'carol']);
});

test("user details come from the app's users table", async () => {
  const { socket: alice, details } = await connectAs('alice');
  assert.deepEqual(details.user, { _id: 'alice', name: 'Alice Liddell', avatar: '/avatars/alice.png' });
  const { socket: bob } = await connectAs('bob');
  const contact = await ackOk(alice, 'add-chat-user', { userToAdd: 'bob' });
  assert.equal(contact.name, 'Bob Dylan');
  const added = await nextChatzz(bob, 'chat-user-added');
  assert.equal(added.name, 'Alice Liddell');
  const sent = await ackOk(alice, 'send-message', { userId: 'bob', message: 'hi Bob' });
  assert.deepEqual(sent.from, { _id: 'alice', name: 'Alice Liddell', avatar: '/avatars/alice.png' });
  assert.equal(sent.to.name, 'Bob Dylan');
  alice.close();
  bob.close();
});

test('users the app does not know cannot connect or be added', async () => {
  const socket = await openSocket(app.url);
  await ackError(socket, 'connect-user', { userId: 'mallory' }, 'unknown-user');
  const { socket: carol } = await connectAs('carol');
  await ackError(carol, 'add-chat-user', { userToAdd: 'mallory' }, 'unknown-user');
  socket.close();
  carol.close();
});

test("the app's handlers send messages and read contacts through the handle", async () => {
  const { socket: carol } = await connectAs('carol');
  const res = await fetch(`${app.url}/api/announce`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: 'alice', to: 'carol', text: 'from a background job' }),
  });
  assert.equal(res.status, 200);
  const message = await res.json();
  assert.equal(message.status, 'sent', 'carol is online, so the message is delivered');
  const received = await nextChatzz(carol, 'new-message', (m) => m._id === message._id);
  assert.equal(received.message, 'from a background job');
  assert.equal(received.from.name, 'Alice Liddell');
  const contacts = await (await fetch(`${app.url}/api/users/carol/contacts`)).json();
  assert.equal(contacts.online, true);
  assert.deepEqual(contacts.contacts.map((c) => [c._id, c.name]), [['alice', 'Alice Liddell']]);
  const bad = await fetch(`${app.url}/api/announce`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: 'alice', to: 'alice', text: 'self' }),
  });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).code, 'invalid-argument');
  carol.close();
});

test('protocol 1.1 with user details from the app: lastMessage, message-updated and messages-read', async () => {
  const { socket: bob } = await connectAs('bob');
  const { socket: carol } = await connectAs('carol');
  const contact = await ackOk(bob, 'add-chat-user', { userToAdd: 'carol' });
  assert.equal(contact.name, 'Carol Danvers');
  const sent = await ackOk(bob, 'send-message', { userId: 'carol', message: 'hi Carol' });
  const bobDetails = sent.from;
  assert.equal(bobDetails.name, 'Bob Dylan');
  const listed = (await ackOk(carol, 'get-contacts', {})).find((c) => c._id === 'bob');
  assert.equal(listed.name, 'Bob Dylan');
  assert.equal(listed.unreadCount, 1);
  assert.equal(listed.blocked, false);
  assert.deepEqual(listed.lastMessage.from, bobDetails, 'lastMessage carries the users\' details');
  assert.equal(listed.lastMessage.message, 'hi Carol');

  const edited = await ackOk(bob, 'edit-message', { messageId: sent._id, message: 'hi Carol!' });
  const update = await nextChatzz(carol, 'message-updated', (m) => m._id === sent._id);
  assert.deepEqual(update, edited);
  assert.deepEqual(update.from, bobDetails);
  assert.equal(update.to.name, contact.name);

  const read = await ackOk(carol, 'message-read', { messageId: sent._id });
  const range = await nextChatzz(bob, 'messages-read');
  assert.deepEqual(range, { chatRoomId: contact.chatRoomId, readerId: 'carol', upTo: sent._id, readAt: read.readAt, count: 1 });
  const tomb = await ackOk(bob, 'delete-message', { messageId: sent._id });
  assert.deepEqual((await nextChatzz(carol, 'message-updated', (m) => m._id === sent._id && m.deletedAt !== null)), tomb);
  assert.equal(tomb.message, '');
  assert.deepEqual(tomb.from, bobDetails);
  bob.close();
  carol.close();
});
