// Protocol 1.1, delete-message: only the sender, no time limit; the message becomes a
// tombstone (text "", deletedAt set; _id, chatRoomId, createdAt, from, to, status,
// readAt and editedAt kept); both users' sockets get message-updated; deleting a
// tombstone again succeeds and emits nothing; tombstones stay in history, in
// missedMessages and as lastMessage, in place.
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
  take,
  drain,
  goOffline,
  makeContacts,
  send,
  settle,
  getContacts,
  assertMessage,
  assertContact,
  assertUserDetails,
  sleep,
  QUIET_MS,
  NO_PAYLOAD,
} from './harness.mjs';

const server = useServer();

async function exactlyUpdated(sockets, expected) {
  await sleep(QUIET_MS);
  for (const s of sockets) {
    assert.deepEqual(take(s, 'message-updated'), expected, `message-updated on a socket of ${s.userId}`);
  }
}

/** The tombstone `m` must become: text "", deletedAt set, everything else kept. */
function assertTombstoneOf(tomb, m) {
  assertMessage(tomb, { _id: m._id, text: '', deletedAt: 'timestamp' });
  const { message: _t, deletedAt: _d, ...kept } = tomb;
  const { message: _t2, deletedAt: _d2, ...was } = m;
  assert.deepEqual(kept, was, 'a tombstone keeps _id, chatRoomId, createdAt, from, to, status, readAt and editedAt');
}

test('delete-message: the tombstone in the callback and in message-updated to every socket of both users', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'del' });
  const sa2 = await server.connectUser(a);
  const sb2 = await server.connectUser(b);
  const all = [sa, sa2, sb, sb2];
  const m = await send(sa, b, 'regrettable');
  await settle(all, [m]);
  const t0 = Date.now();
  const tomb = await ackOk(sa, 'delete-message', { messageId: m._id });
  const t1 = Date.now();
  assertTombstoneOf(tomb, m);
  assertMessage(tomb, { status: 'sent', readAt: null, editedAt: null });
  const at = Date.parse(tomb.deletedAt);
  assert.ok(at >= t0 - 50 && at <= t1 + 50, `deletedAt ${tomb.deletedAt} must be about now`);
  for (const s of all) assert.deepEqual(await nextChatzz(s, 'message-updated'), tomb);
  await exactlyUpdated(all, []);
  for (const s of all) {
    await noChatzz(s, 'new-message', undefined, 0);
    await noChatzz(s, 'message-status-changed', undefined, 0);
  }
  assert.deepEqual(await ackOk(sb, 'get-old-messages', { userId: a }), [tomb]);
});

test('a tombstone keeps status, readAt and editedAt', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'keep' });
  const m = await send(sa, b, 'will be edited, read, deleted');
  await settle([sa, sb], [m]);
  const edited = await ackOk(sa, 'edit-message', { messageId: m._id, message: 'edited' });
  const read = await ackOk(sb, 'message-read', { messageId: m._id });
  assertMessage(read, { status: 'read', editedAt: edited.editedAt, text: 'edited' });
  await sleep(QUIET_MS);
  drain(sa);
  drain(sb);
  const tomb = await ackOk(sa, 'delete-message', { messageId: m._id });
  assertTombstoneOf(tomb, read);
  assertMessage(tomb, { status: 'read', readAt: read.readAt, editedAt: edited.editedAt });
  assert.deepEqual(await nextChatzz(sb, 'message-updated'), tomb);
  assert.deepEqual(await ackOk(sb, 'get-old-messages', { userId: a }), [tomb]);
});

test('deleting a tombstone again succeeds with the tombstone and emits nothing', async () => {
  const { b, sa, sb } = await makeContacts(server, { prefix: 'again' });
  const sa2 = await server.connectUser(sa.userId);
  const m = await send(sa, b, 'twice');
  await settle([sa, sa2, sb], [m]);
  const tomb = await ackOk(sa, 'delete-message', { messageId: m._id });
  await exactlyUpdated([sa, sa2, sb], [tomb]);
  await sleep(10);
  assert.deepEqual(await ackOk(sa, 'delete-message', { messageId: m._id }), tomb, 'deletedAt does not move');
  assert.deepEqual(await ackOk(sa2, 'delete-message', { messageId: m._id }), tomb);
  sa.emit('delete-message', { messageId: m._id });
  await exactlyUpdated([sa, sa2, sb], []);
  await noChatzz(sa, 'error', undefined, 0);
});

test('only the sender may delete: not-found for the recipient, a third user and an unknown id', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'own' });
  const m = await send(sa, b, 'mine');
  await settle([sa, sb], [m]);
  await ackError(sb, 'delete-message', { messageId: m._id }, 'not-found');
  await errorEvent(sb, 'delete-message', { messageId: m._id }, 'not-found');
  const sx = await server.connectUser(uid('third'));
  await ackError(sx, 'delete-message', { messageId: m._id }, 'not-found');
  for (const messageId of ['nope', '00000000000000000000', '99999999999999999999', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '~']) {
    await ackError(sa, 'delete-message', { messageId }, 'not-found');
  }
  await errorEvent(sa, 'delete-message', { messageId: 'nope' }, 'not-found');
  await exactlyUpdated([sa, sb], []);
  assert.deepEqual(await ackOk(sb, 'get-old-messages', { userId: a }), [m]);
});

test('delete-message with a missing or wrongly typed id fails with invalid-argument and changes nothing', async () => {
  const { b, sa, sb } = await makeContacts(server, { prefix: 'delbad' });
  const m = await send(sa, b, 'stays');
  await settle([sa, sb], [m]);
  for (const payload of [{}, { messageId: null }, { messageId: 1 }, { messageId: ['x'] }, { messageId: { $gt: '' } }, { messageId: { $ne: null } }, { messageId: '' }]) {
    await ackError(sa, 'delete-message', payload, 'invalid-argument');
  }
  for (const payload of [NO_PAYLOAD, null, 'text', 42, [], [{ messageId: m._id }]]) {
    await ackError(sa, 'delete-message', payload, 'invalid-argument');
  }
  await errorEvent(sa, 'delete-message', { messageId: { $gt: '' } }, 'invalid-argument');
  await errorEvent(sa, 'delete-message', NO_PAYLOAD, 'invalid-argument');
  await exactlyUpdated([sa, sb], []);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b }), [m]);
});

test('a tombstone stays in history in its place: ids and order have no holes', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'hist' });
  const msgs = [];
  for (let i = 0; i < 5; i += 1) {
    msgs.push(await send(i % 2 ? sb : sa, i % 2 ? a : b, `h${i}`));
    await sleep(3);
  }
  await settle([sa, sb], msgs);
  const tomb = await ackOk(sa, 'delete-message', { messageId: msgs[2]._id });
  const expected = [msgs[0], msgs[1], tomb, msgs[3], msgs[4]];
  assert.deepEqual(await ackOk(sb, 'get-old-messages', { userId: a }), expected);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b, after: msgs[1]._id, limit: 2 }), [tomb, msgs[3]]);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b, before: msgs[3]._id, limit: 2 }), [msgs[1], tomb]);
  assert.deepEqual(await ackOk(sa, 'get-old-messages', { userId: b, date: msgs[2].createdAt }), expected.slice(2));
  sb.emit('get-old-messages', { userId: a, limit: 3 });
  assert.deepEqual(await nextChatzz(sb, 'old-messages'), expected.slice(2));
});

test('a message deleted before its recipient came back is handed over as a tombstone in missedMessages', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'miss' });
  await goOffline(sb, sa);
  const m1 = await send(sa, b, 'm1');
  const m2 = await send(sa, b, 'm2, deleted');
  const m3 = await send(sa, b, 'm3');
  const tomb = await ackOk(sa, 'delete-message', { messageId: m2._id });
  assertTombstoneOf(tomb, m2);
  assert.equal(tomb.status, 'not_sent');
  drain(sa);

  const sb2 = await server.connectUser(b);
  assertUserDetails(sb2.details, { id: b });
  const missed = sb2.details.missedMessages[a];
  assert.deepEqual(missed.map((m) => m._id), [m1._id, m2._id, m3._id], 'the tombstone in its place');
  assertMessage(missed[1], { _id: m2._id, text: '', deletedAt: tomb.deletedAt, status: ['not_sent', 'sent'] });
  assertMessage(missed[0], { text: 'm1', deletedAt: null });
  // The contact: the tombstone is not unread; the newest message is m3.
  assertContact(sb2.details.connectedUsers.find((c) => c._id === a), { unreadCount: 2, lastMessage: m3._id });
  // Delivered now, the tombstone too.
  const ev = await nextChatzz(sa, 'message-status-changed', (d) => d._id === m2._id);
  assertMessage(ev, { _id: m2._id, text: '', status: 'sent', deletedAt: tomb.deletedAt });
});

test('a deleted newest message shows as the tombstone in lastMessage on both sides', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'lastdel' });
  const m1 = await send(sb, a, 'older');
  const m2 = await send(sa, b, 'newest, deleted');
  await settle([sa, sb], [m1, m2]);
  const tomb = await ackOk(sa, 'delete-message', { messageId: m2._id });
  assertContact((await getContacts(sa)).find((c) => c._id === b), { lastMessage: tomb, unreadCount: 1 });
  assertContact((await getContacts(sb)).find((c) => c._id === a), { lastMessage: tomb, unreadCount: 0 });
  const reload = await server.connectUser(b);
  assertContact(reload.details.connectedUsers.find((c) => c._id === a), { lastMessage: tomb, unreadCount: 0 });
});
