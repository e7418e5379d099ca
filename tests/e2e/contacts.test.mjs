// add-chat-user
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
  registerOffline,
  assertContact,
  assertTimestamp,
  NO_PAYLOAD,
} from './harness.mjs';

const server = useServer();

test('add-chat-user returns the Contact and notifies every socket of the added user', async () => {
  const a = uid('a');
  const b = uid('b');
  const sa = await server.connectUser(a);
  const sb1 = await server.connectUser(b);
  const sb2 = await server.connectUser(b);
  const contact = await ackOk(sa, 'add-chat-user', { userToAdd: b });
  assertContact(contact, { id: b, status: 'online', lastOnline: null });

  for (const sb of [sb1, sb2]) {
    const added = await nextChatzz(sb, 'chat-user-added');
    assertContact(added, { id: a, status: 'online', chatRoomId: contact.chatRoomId, lastOnline: null });
  }
});

test('add-chat-user is idempotent: same chatRoomId, no second chat-user-added', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server);
  const again = await ackOk(sa, 'add-chat-user', { userToAdd: b });
  assertContact(again, { id: b, chatRoomId: room, status: 'online' });
  await noChatzz(sb, 'chat-user-added');

  // Adding from the other side is the same room too.
  const reverse = await ackOk(sb, 'add-chat-user', { userToAdd: a });
  assertContact(reverse, { id: a, chatRoomId: room, status: 'online' });
  await noChatzz(sa, 'chat-user-added');

  // Still exactly one contact on each side.
  const da = await ackOk(sa, 'connect-user', { userId: a });
  assert.equal(da.connectedUsers.length, 1);
  assertContact(da.connectedUsers[0], { id: b, chatRoomId: room });
  const db = await ackOk(sb, 'connect-user', { userId: b });
  assert.equal(db.connectedUsers.length, 1);
  assertContact(db.connectedUsers[0], { id: a, chatRoomId: room });
});

test('add-chat-user of an offline user reports status offline and lastOnline of when it went offline', async () => {
  const b = uid('b');
  const w = uid('watch');
  const sw = await server.connectUser(w);
  const sb = await server.connectUser(b);
  await ackOk(sb, 'add-chat-user', { userToAdd: w });
  const off = await goOffline(sb, sw);

  const a = uid('a');
  const sa = await server.connectUser(a);
  const contact = await ackOk(sa, 'add-chat-user', { userToAdd: b });
  assertContact(contact, { id: b, status: 'offline', lastOnline: off.lastOnline });
  assertTimestamp(contact.lastOnline, 'lastOnline');
});

test('add-chat-user with a missing, empty, non-string or own id fails with invalid-argument', async () => {
  const a = uid('a');
  const sa = await server.connectUser(a);
  const bad = [
    {},
    { userToAdd: '' },
    { userToAdd: 42 },
    { userToAdd: null },
    { userToAdd: true },
    { userToAdd: ['x'] },
    { userToAdd: { _id: 'x' } },
    { userToAdd: a },
  ];
  for (const payload of bad) await ackError(sa, 'add-chat-user', payload, 'invalid-argument');
  await ackError(sa, 'add-chat-user', NO_PAYLOAD, 'invalid-argument');
  await errorEvent(sa, 'add-chat-user', { userToAdd: a }, 'invalid-argument');
  await errorEvent(sa, 'add-chat-user', { userToAdd: '' }, 'invalid-argument');
  const d = await ackOk(sa, 'connect-user', { userId: a });
  assert.deepEqual(d.connectedUsers, [], 'a failed add-chat-user must create nothing');
});

test('add-chat-user of a user who never connected fails with unknown-user', async () => {
  const a = uid('a');
  const sa = await server.connectUser(a);
  const ghost = uid('ghost');
  await ackError(sa, 'add-chat-user', { userToAdd: ghost }, 'unknown-user');
  await errorEvent(sa, 'add-chat-user', { userToAdd: ghost }, 'unknown-user');
  // Still nothing: the ghost connects later and has no contact, a can't message it.
  const sg = await server.connectUser(ghost);
  assert.deepEqual(sg.details.connectedUsers, []);
  await ackError(sa, 'send-message', { userId: ghost, message: 'hi' }, 'not-a-contact');
});

test('a user known from an earlier connection can be added while offline', async () => {
  const b = uid('b');
  const { offline } = await registerOffline(server, b);
  const a = uid('a');
  const sa = await server.connectUser(a);
  const contact = await ackOk(sa, 'add-chat-user', { userToAdd: b });
  assertContact(contact, { id: b, status: 'offline', lastOnline: offline.lastOnline });
  // b sees a as a contact when it comes back.
  const sb = await server.connectUser(b);
  const mine = sb.details.connectedUsers.filter((c) => c._id === a);
  assert.equal(mine.length, 1, `exactly one contact ${a} in ${JSON.stringify(sb.details.connectedUsers)}`);
  assertContact(mine[0], { id: a, chatRoomId: contact.chatRoomId, status: 'online', lastOnline: null });
});
