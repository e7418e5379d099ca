// send-message: delivery, status, missed messages, clientMessageId, id order.
import assert from 'node:assert/strict';
import {
  test,
  useServer,
  uid,
  ackOk,
  ackError,
  errorEvent,
  nextChatzz,
  nextChatzzEntry,
  noChatzz,
  drain,
  received,
  goOffline,
  makeContacts,
  registerOffline,
  send,
  assertMessage,
  assertUserDetails,
  byteCompare,
  sleep,
} from './harness.mjs';

const server = useServer();

test('send-message: new-message then message-status-changed to both users, sender tabs included', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server);
  const sa2 = await server.connectUser(a);
  const sb2 = await server.connectUser(b);
  const text = 'hello there';
  const m = await send(sa, b, text);
  assertMessage(m, { from: a, to: b, text, status: 'sent', chatRoomId: room });

  for (const s of [sa, sa2, sb, sb2]) {
    const nm = await nextChatzzEntry(s, 'new-message', (d) => d._id === m._id);
    assertMessage(nm.env.data, { _id: m._id, from: a, to: b, text, status: 'not_sent', chatRoomId: room });
    assert.equal(nm.env.data.createdAt, m.createdAt);
    const sc = await nextChatzzEntry(s, 'message-status-changed', (d) => d._id === m._id);
    assertMessage(sc.env.data, { _id: m._id, from: a, to: b, text, status: 'sent', chatRoomId: room });
    assert.deepEqual(sc.env.data, m, 'message-status-changed carries the stored message');
    assert.ok(nm.seq < sc.seq, `on socket of ${s.userId}: new-message must come before message-status-changed`);
  }
  for (const s of [sa, sa2, sb, sb2]) {
    await noChatzz(s, 'new-message', undefined, 0);
    await noChatzz(s, 'message-status-changed', undefined, 0);
  }
});

test('send-message to an offline contact stays not_sent and emits no status change', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server);
  const sa2 = await server.connectUser(a);
  await goOffline(sb, sa);
  const m = await send(sa, b, 'are you there?');
  assertMessage(m, { from: a, to: b, text: 'are you there?', status: 'not_sent', chatRoomId: room });
  for (const s of [sa, sa2]) {
    const nm = await nextChatzz(s, 'new-message', (d) => d._id === m._id);
    assertMessage(nm, { _id: m._id, status: 'not_sent' });
  }
  await noChatzz(sa, 'message-status-changed');
  await noChatzz(sa2, 'message-status-changed', undefined, 0);
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.equal(hist.length, 1);
  assertMessage(hist[0], { _id: m._id, status: 'not_sent' });
});

test('missed messages arrive grouped by sender, oldest first, and senders get message-status-changed', async () => {
  const b = uid('b');
  const c = uid('c');
  const sb = await server.connectUser(b);
  const sc = await server.connectUser(c);
  const a = uid('a');
  const sa = await server.connectUser(a);
  const sa2 = await server.connectUser(a);
  await ackOk(sa, 'add-chat-user', { userToAdd: b });
  await ackOk(sc, 'add-chat-user', { userToAdd: b });
  await goOffline(sb, sa);
  await nextChatzz(sc, 'chat-user-status-changed', (d) => d.user._id === b && d.status === 'offline');

  const fromA = [];
  const fromC = [];
  for (let i = 0; i < 3; i += 1) {
    fromA.push(await send(sa, b, `a${i}`));
    await sleep(2);
    if (i < 2) fromC.push(await send(sc, b, `c${i}`));
    await sleep(2);
  }
  for (const m of [...fromA, ...fromC]) assert.equal(m.status, 'not_sent');
  drain(sa);
  drain(sa2);
  drain(sc);

  const sb2 = await server.connectUser(b);
  const d = sb2.details;
  assertUserDetails(d, { id: b, lastOnline: 'timestamp' });
  assert.deepEqual(Object.keys(d.missedMessages).sort(), [a, c].sort());
  assert.deepEqual(d.missedMessages[a].map((m) => m._id), fromA.map((m) => m._id));
  assert.deepEqual(d.missedMessages[c].map((m) => m._id), fromC.map((m) => m._id));
  for (const [sender, list] of [[a, fromA], [c, fromC]]) {
    d.missedMessages[sender].forEach((m, i) => {
      assertMessage(m, { ...list[i], from: sender, to: b, text: list[i].message, status: ['not_sent', 'sent'] });
      assert.equal(m.createdAt, list[i].createdAt);
    });
  }

  // Every sender socket gets message-status-changed (sent) for each of its messages.
  for (const [s, list] of [[sa, fromA], [sa2, fromA], [sc, fromC]]) {
    for (const m of list) {
      const ev = await nextChatzz(s, 'message-status-changed', (x) => x._id === m._id);
      assertMessage(ev, { _id: m._id, from: m.from._id, to: b, status: 'sent' });
    }
  }
  // Delivered now: a new connection has nothing missed, history shows them sent.
  const sb3 = await server.connectUser(b);
  assert.deepEqual(sb3.details.missedMessages, {});
  const hist = await ackOk(sb3, 'get-old-messages', { userId: a });
  assert.deepEqual(hist.map((m) => m.status), ['sent', 'sent', 'sent']);
  await noChatzz(sa, 'message-status-changed');
});

test('clientMessageId makes a retry return the same message, create nothing and announce it again', async () => {
  const { a, b, sa, sb } = await makeContacts(server);
  const cmid = `cm-${uid('x')}`;
  const m1 = await send(sa, b, 'once only', { clientMessageId: cmid });
  await nextChatzz(sb, 'new-message', (d) => d._id === m1._id);
  await nextChatzz(sb, 'message-status-changed', (d) => d._id === m1._id);
  await nextChatzz(sa, 'message-status-changed', (d) => d._id === m1._id);
  drain(sa);
  drain(sb);

  const m2 = await send(sa, b, 'once only', { clientMessageId: cmid });
  assert.deepEqual(m2, m1);
  // Announced again as stored (the server cannot tell a lost ack from a first attempt
  // that failed between its write and its announcement); clients dedupe by _id.
  assert.deepEqual(await nextChatzz(sb, 'new-message', (d) => d._id === m1._id), m1);
  assert.deepEqual(await nextChatzz(sa, 'new-message', (d) => d._id === m1._id), m1);
  await noChatzz(sb, 'message-status-changed');
  await noChatzz(sa, 'message-status-changed', undefined, 0);

  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.equal(hist.length, 1);
  assert.equal(hist[0]._id, m1._id);
  assert.equal(hist[0].message, 'once only');
});

test('a clientMessageId retry with different text still returns the first stored message', async () => {
  const { b, sa, sb } = await makeContacts(server);
  const cmid = `cm-${uid('x')}`;
  const m1 = await send(sa, b, 'first', { clientMessageId: cmid });
  const m2 = await send(sa, b, 'second', { clientMessageId: cmid });
  assert.equal(m2._id, m1._id);
  assert.equal(m2.message, 'first');
  const hist = await ackOk(sb, 'get-old-messages', { userId: sa.userId });
  assert.deepEqual(hist.map((m) => m.message), ['first']);
});

test('a clientMessageId is scoped to its sender', async () => {
  const { a, b, sa, sb } = await makeContacts(server);
  const cmid = `cm-${uid('x')}`;
  const m1 = await send(sa, b, 'from a', { clientMessageId: cmid });
  const m2 = await send(sb, a, 'from b', { clientMessageId: cmid });
  assert.notEqual(m2._id, m1._id);
  assertMessage(m2, { from: b, to: a, text: 'from b' });
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.deepEqual(hist.map((m) => m.message), ['from a', 'from b']);
});

test('a clientMessageId retry after delivery returns the message as now stored and announces it again', async () => {
  const { a, b, sa, sb } = await makeContacts(server);
  await goOffline(sb, sa);
  const cmid = `cm-${uid('x')}`;
  const m1 = await send(sa, b, 'retry me', { clientMessageId: cmid });
  assert.equal(m1.status, 'not_sent');
  // b comes back: the message is in missedMessages and becomes sent.
  const sb2 = await server.connectUser(b);
  assert.deepEqual(sb2.details.missedMessages[a].map((m) => m._id), [m1._id]);
  await nextChatzz(sa, 'message-status-changed', (d) => d._id === m1._id && d.status === 'sent');
  drain(sa);
  drain(sb2);
  const m2 = await send(sa, b, 'retry me', { clientMessageId: cmid });
  assert.equal(m2._id, m1._id);
  assert.equal(m2.status, 'sent');
  // The server cannot tell a lost ack from a first attempt that stored the message
  // `sent` and failed before announcing it: it announces it again, as stored, and
  // clients dedupe by _id. Nothing changes status.
  for (const socket of [sb2, sa]) {
    const again = await nextChatzz(socket, 'new-message', (d) => d._id === m1._id);
    assert.equal(again.status, 'sent');
  }
  await noChatzz(sb2, 'message-status-changed');
  await noChatzz(sa, 'message-status-changed', undefined, 0);
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.equal(hist.filter((m) => m.message === 'retry me').length, 1, 'stored once');
});

test('clientMessageId must be a string of at most 128 characters', async () => {
  const { b, sa } = await makeContacts(server);
  const ok = await send(sa, b, 'x', { clientMessageId: 'c'.repeat(128) });
  assertMessage(ok, { text: 'x' });
  for (const clientMessageId of ['c'.repeat(129), 42, true, ['c'], { $gt: '' }]) {
    await ackError(sa, 'send-message', { userId: b, message: 'x', clientMessageId }, 'invalid-argument');
  }
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.equal(hist.length, 1);
});

test('send-message to a non-contact fails with not-a-contact', async () => {
  const a = uid('a');
  const n = uid('n');
  const sa = await server.connectUser(a);
  const sn = await server.connectUser(n);
  await ackError(sa, 'send-message', { userId: n, message: 'hi' }, 'not-a-contact');
  await errorEvent(sa, 'send-message', { userId: n, message: 'hi' }, 'not-a-contact');
  await ackError(sa, 'send-message', { userId: uid('ghost'), message: 'hi' }, 'not-a-contact');
  await noChatzz(sn, 'new-message');
  await noChatzz(sa, 'new-message', undefined, 0);
});

test('send-message to yourself or without a valid userId fails with invalid-argument', async () => {
  const { a, b, sa } = await makeContacts(server);
  await ackError(sa, 'send-message', { userId: a, message: 'me' }, 'invalid-argument');
  await ackError(sa, 'send-message', { message: 'nobody' }, 'invalid-argument');
  await ackError(sa, 'send-message', { userId: '', message: 'nobody' }, 'invalid-argument');
  await ackError(sa, 'send-message', { userId: 7, message: 'nobody' }, 'invalid-argument');
  await errorEvent(sa, 'send-message', { userId: a, message: 'me' }, 'invalid-argument');
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.equal(hist.length, 0);
});

test('message ids compare in creation order as strings', async () => {
  const { a, b, sa, sb } = await makeContacts(server);
  const ids = [];
  for (let i = 0; i < 12; i += 1) {
    const m = await send(i % 2 ? sb : sa, i % 2 ? a : b, `m${i}`);
    ids.push(m._id);
  }
  assert.equal(new Set(ids).size, ids.length, 'ids must be unique');
  for (let i = 1; i < ids.length; i += 1) {
    assert.ok(byteCompare(ids[i - 1], ids[i]) < 0, `id ${JSON.stringify(ids[i - 1])} (m${i - 1}) must sort before ${JSON.stringify(ids[i])} (m${i})`);
  }
  const hist = await ackOk(sa, 'get-old-messages', { userId: b });
  assert.deepEqual(hist.map((m) => m._id), ids);
  // delivery order: new-message events arrive in creation order
  await nextChatzz(sb, 'new-message', (d) => d._id === ids[ids.length - 1]);
  const seen = received(sb).filter((e) => e.type === 'new-message').map((e) => e.data._id);
  assert.deepEqual(seen, ids);
});
