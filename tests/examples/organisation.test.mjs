// The organisation example: the host application's contact policy lets only users of
// one organisation become contacts; anything else fails with `forbidden` and links
// nothing.

import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { test, openSocket, ackOk, ackError, nextChatzz, noChatzz } from '../e2e/harness.mjs';
import { startExample } from './example.mjs';

let app;
before(async () => {
  app = await startExample('organisation');
});
after(async () => {
  await app?.stop();
});

async function connectAs(userId) {
  const socket = await openSocket(app.url);
  const details = await ackOk(socket, 'connect-user', { userId });
  return { socket, details };
}

test('colleagues become contacts', async () => {
  const { socket: alice } = await connectAs('alice');
  const { socket: bob } = await connectAs('bob');
  const contact = await ackOk(alice, 'add-chat-user', { userToAdd: 'bob' });
  assert.equal(contact._id, 'bob');
  assert.equal(contact.organisation, 'Acme');
  const added = await nextChatzz(bob, 'chat-user-added');
  assert.equal(added._id, 'alice');
  await ackOk(alice, 'send-message', { userId: 'bob', message: 'hi colleague' });
  alice.close();
  bob.close();
});

test('users of two organisations cannot become contacts, either way, and nothing is linked', async () => {
  const { socket: alice } = await connectAs('alice');
  const { socket: carol } = await connectAs('carol');
  await ackError(alice, 'add-chat-user', { userToAdd: 'carol' }, 'forbidden');
  await ackError(carol, 'add-chat-user', { userToAdd: 'alice' }, 'forbidden');
  await noChatzz(carol, 'chat-user-added');
  await noChatzz(alice, 'chat-user-added');
  // No room was made: they cannot message each other or read a history.
  await ackError(alice, 'send-message', { userId: 'carol', message: 'hello?' }, 'not-a-contact');
  await ackError(carol, 'get-old-messages', { userId: 'alice' }, 'not-a-contact');
  const contacts = await ackOk(carol, 'get-contacts', {});
  assert.deepEqual(contacts, []);
  alice.close();
  carol.close();
});

test('a user the application does not know is unknown before the policy is asked', async () => {
  const { socket: bob } = await connectAs('bob');
  await ackError(bob, 'add-chat-user', { userToAdd: 'mallory' }, 'unknown-user');
  bob.close();
});
