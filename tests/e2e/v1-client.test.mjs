// Protocol 1.1 keeps version 1 clients working: a client that knows only the events and
// fields of version 1 (and ignores every other field and event type) goes through
// a whole chat and sees exactly what version 1 promises.
import assert from 'node:assert/strict';
import {
  test,
  useServer,
  uid,
  ackOk,
  nextChatzz,
  noChatzz,
  drain,
  goOffline,
  send,
  v1Message,
  v1Contact,
  V1_MESSAGE_KEYS,
  V1_CONTACT_KEYS,
  assertTimestamp,
  TS_RE,
} from './harness.mjs';

const server = useServer();

/** Check a message as a version 1 client does: its fields are there, with version 1 values. */
function v1Check(m, { from, to, text, status }) {
  for (const k of V1_MESSAGE_KEYS) assert.ok(k in m, `message has ${k}: ${JSON.stringify(m)}`);
  const v = v1Message(m);
  assert.deepEqual(v.from, { _id: from });
  assert.deepEqual(v.to, { _id: to });
  assert.equal(v.message, text);
  assert.equal(v.status, status);
  assert.match(v.createdAt, TS_RE);
  if (status === 'read') assertTimestamp(v.readAt, 'readAt');
  else assert.equal(v.readAt, null);
  return v;
}

function v1ContactCheck(c, expected) {
  for (const k of V1_CONTACT_KEYS) assert.ok(k in c, `contact has ${k}: ${JSON.stringify(c)}`);
  const v = v1Contact(c);
  for (const [k, val] of Object.entries(expected)) assert.deepEqual(v[k], val, `contact ${k}`);
  return v;
}

test('a version 1 client that ignores the new fields and events still works', async () => {
  const alice = uid('v1alice');
  const bob = uid('v1bob');
  const sa = await server.connectUser(alice);
  const sb = await server.connectUser(bob);
  assert.deepEqual(sa.details.connectedUsers, []);

  // add-chat-user: the Contact's version 1 fields.
  const contact = await ackOk(sa, 'add-chat-user', { userToAdd: bob });
  v1ContactCheck(contact, { _id: bob, status: 'online', lastOnline: null });
  const added = await nextChatzz(sb, 'chat-user-added');
  v1ContactCheck(added, { _id: alice, chatRoomId: contact.chatRoomId, status: 'online', lastOnline: null });

  // send-message: new-message then message-status-changed (sent), on both sides.
  const sent = [];
  for (let i = 0; i < 3; i += 1) {
    const m = await send(sa, bob, `hello ${i}`);
    v1Check(m, { from: alice, to: bob, text: `hello ${i}`, status: 'sent' });
    for (const s of [sa, sb]) {
      v1Check(await nextChatzz(s, 'new-message', (d) => d._id === m._id), { from: alice, to: bob, text: `hello ${i}`, status: 'not_sent' });
      v1Check(await nextChatzz(s, 'message-status-changed', (d) => d._id === m._id), { from: alice, to: bob, text: `hello ${i}`, status: 'sent' });
    }
    sent.push(m);
  }

  // message-read, one message at a time as a version 1 client does: each brings alice
  // its message-status-changed (read).
  for (const m of sent) {
    const r = await ackOk(sb, 'message-read', { messageId: m._id });
    const v = v1Check(r, { from: alice, to: bob, text: m.message, status: 'read' });
    const ev = await nextChatzz(sa, 'message-status-changed', (d) => d._id === m._id && d.status === 'read');
    assert.deepEqual(v1Message(ev), v);
  }
  // Reading an already read message succeeds and emits nothing (version 1 said so too).
  const again = await ackOk(sb, 'message-read', { messageId: sent[0]._id });
  assert.equal(again.status, 'read');
  await noChatzz(sa, 'message-status-changed');

  // History, oldest first, with version 1 values.
  const hist = await ackOk(sa, 'get-old-messages', { userId: bob });
  assert.deepEqual(hist.map((m) => m._id), sent.map((m) => m._id));
  hist.forEach((m, i) => v1Check(m, { from: alice, to: bob, text: `hello ${i}`, status: 'read' }));
  sa.emit('get-old-messages', { userId: bob, limit: 2 });
  assert.deepEqual((await nextChatzz(sa, 'old-messages')).map(v1Message), hist.slice(1).map(v1Message));

  // Missed messages while bob is away, and presence.
  const off = await goOffline(sb, sa);
  assert.equal(off.status, 'offline');
  const away = [await send(sa, bob, 'while away 1'), await send(sa, bob, 'while away 2')];
  for (const m of away) v1Check(m, { from: alice, to: bob, text: m.message, status: 'not_sent' });
  drain(sa);
  const sb2 = await server.connectUser(bob);
  const d = sb2.details;
  assert.deepEqual(Object.keys(d).sort(), ['connectedUsers', 'lastOnline', 'missedMessages', 'status', 'user']);
  assert.equal(d.lastOnline, off.lastOnline);
  assert.deepEqual(Object.keys(d.missedMessages), [alice]);
  d.missedMessages[alice].forEach((m, i) => v1Check(m, { from: alice, to: bob, text: `while away ${i + 1}`, status: m.status }));
  assert.equal(d.connectedUsers.length, 1);
  v1ContactCheck(d.connectedUsers[0], { _id: alice, chatRoomId: contact.chatRoomId, status: 'online', lastOnline: null });
  const online = await nextChatzz(sa, 'chat-user-status-changed', (x) => x.user._id === bob && x.status === 'online');
  assert.deepEqual(online.user, { _id: bob });
  for (const m of away) {
    v1Check(await nextChatzz(sa, 'message-status-changed', (x) => x._id === m._id), { from: alice, to: bob, text: m.message, status: 'sent' });
  }

  // Bob answers, alice reads it; bob hears of it.
  const reply = await send(sb2, alice, 'back');
  await nextChatzz(sa, 'new-message', (x) => x._id === reply._id);
  const read = await ackOk(sa, 'message-read', { messageId: reply._id });
  v1Check(read, { from: bob, to: alice, text: 'back', status: 'read' });
  const receipt = await nextChatzz(sb2, 'message-status-changed', (x) => x._id === reply._id && x.status === 'read');
  assert.deepEqual(v1Message(receipt), v1Message(read));
});
