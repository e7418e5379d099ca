// Protocol 1.1, the inbox: Contact gains unreadCount, lastMessage and blocked;
// connectedUsers and get-contacts list contacts by last activity, newest first (a
// room's newest message, else its creation; edits and deletes are not activity).
import assert from 'node:assert/strict';
import {
  test,
  useServer,
  uid,
  ackOk,
  emitAck,
  nextChatzz,
  noChatzz,
  makeContacts,
  send,
  settle,
  getContacts,
  assertContact,
  assertMessage,
  sleep,
} from './harness.mjs';

const server = useServer();

const ids = (list) => list.map((c) => c._id);
const contactOf = (list, id) => {
  const found = list.filter((c) => c._id === id);
  assert.equal(found.length, 1, `exactly one contact ${id} in ${JSON.stringify(list)}`);
  return found[0];
};
/** A pause so that two timestamps (milliseconds) differ. */
const tick = () => sleep(15);

test('a new contact has unreadCount 0, lastMessage null and blocked false everywhere a Contact appears', async () => {
  const a = uid('a');
  const b = uid('b');
  const sa = await server.connectUser(a);
  const sb = await server.connectUser(b);
  const contact = await ackOk(sa, 'add-chat-user', { userToAdd: b });
  const fresh = { unreadCount: 0, lastMessage: null, blocked: false };
  assertContact(contact, { id: b, status: 'online', lastOnline: null, ...fresh });
  assertContact(await nextChatzz(sb, 'chat-user-added'), { id: a, chatRoomId: contact.chatRoomId, ...fresh });
  assertContact(contactOf(await getContacts(sa), b), { chatRoomId: contact.chatRoomId, ...fresh });
  assertContact(contactOf(await getContacts(sb), a), { chatRoomId: contact.chatRoomId, ...fresh });
  const again = await server.connectUser(a);
  assertContact(contactOf(again.details.connectedUsers, b), { chatRoomId: contact.chatRoomId, ...fresh });
});

test('get-contacts: callback with the list, or a contacts event without one; same shape and order as connectedUsers', async () => {
  const me = uid('me');
  const sMe = await server.connectUser(me);
  const others = [];
  for (let i = 0; i < 3; i += 1) {
    const o = uid(`c${i}`);
    others.push({ id: o, s: await server.connectUser(o) });
    await ackOk(sMe, 'add-chat-user', { userToAdd: o });
    await tick();
  }
  const m = await send(others[0].s, me, 'hello');
  await settle([sMe], [m]);

  const viaAck = await getContacts(sMe);
  assert.equal(viaAck.length, 3);
  const [err, list] = await emitAck(sMe, 'get-contacts', {});
  assert.equal(err, null);
  assert.deepEqual(list, viaAck);
  await noChatzz(sMe, 'contacts');

  const otherTab = await server.connectUser(me);
  sMe.emit('get-contacts', {});
  const viaEvent = await nextChatzz(sMe, 'contacts');
  assert.deepEqual(viaEvent, viaAck);
  await noChatzz(otherTab, 'contacts', undefined, 100);
  await noChatzz(others[0].s, 'contacts', undefined, 0);
  // Unknown fields are ignored, as in version 1.
  assert.deepEqual(await ackOk(sMe, 'get-contacts', { whatever: 1 }), viaAck);

  const reload = await server.connectUser(me);
  assert.deepEqual(reload.details.connectedUsers, viaAck, 'connectedUsers of a new connection: same list, same order');
  assert.deepEqual(ids(viaAck), [others[0].id, others[2].id, others[1].id]);
  // A user without contacts gets an empty list.
  const lonely = await server.connectUser(uid('lonely'));
  assert.deepEqual(await getContacts(lonely), []);
  lonely.emit('get-contacts', {});
  assert.deepEqual(await nextChatzz(lonely, 'contacts'), []);
});

test('lastMessage is the newest message of the room in either direction, as history shows it', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server, { prefix: 'last' });
  const m1 = await send(sa, b, 'first, from a');
  await settle([sa, sb], [m1]);
  assertContact(contactOf(await getContacts(sb), a), { chatRoomId: room, lastMessage: m1, unreadCount: 1 });
  assertContact(contactOf(await getContacts(sa), b), { chatRoomId: room, lastMessage: m1, unreadCount: 0 });

  const m2 = await send(sb, a, 'second, from b');
  await settle([sa, sb], [m2]);
  assertContact(contactOf(await getContacts(sa), b), { lastMessage: m2, unreadCount: 1 });
  assertContact(contactOf(await getContacts(sb), a), { lastMessage: m2, unreadCount: 1 });

  // It is the message as now stored: read, edited, deleted.
  const read = await ackOk(sa, 'message-read', { messageId: m2._id });
  assertContact(contactOf(await getContacts(sb), a), { lastMessage: read, unreadCount: 1 });
  const edited = await ackOk(sb, 'edit-message', { messageId: m2._id, message: 'second, edited' });
  assertMessage(edited, { _id: m2._id, text: 'second, edited', status: 'read', readAt: read.readAt, editedAt: 'timestamp' });
  assertContact(contactOf(await getContacts(sa), b), { lastMessage: edited, unreadCount: 0 });
  const tomb = await ackOk(sb, 'delete-message', { messageId: m2._id });
  assertMessage(tomb, { _id: m2._id, text: '', editedAt: edited.editedAt, deletedAt: 'timestamp' });
  for (const [s, other] of [[sa, b], [sb, a]]) {
    const c = contactOf(await getContacts(s), other);
    assertContact(c, { lastMessage: tomb });
    const hist = await ackOk(s, 'get-old-messages', { userId: other });
    assert.deepEqual(c.lastMessage, hist[hist.length - 1]);
  }
  // The reload shows the same.
  const sb2 = await server.connectUser(b);
  assertContact(contactOf(sb2.details.connectedUsers, a), { lastMessage: tomb, unreadCount: 1 });
});

test('unreadCount counts messages from the contact not read, deleted ones excluded', async () => {
  const { a, b, sa, sb } = await makeContacts(server, { prefix: 'unread' });
  const msgs = [];
  for (let i = 0; i < 4; i += 1) msgs.push(await send(sa, b, `u${i}`));
  const mine = await send(sb, a, 'mine');
  await settle([sa, sb], [...msgs, mine]);
  assertContact(contactOf(await getContacts(sb), a), { unreadCount: 4 });
  await ackOk(sa, 'delete-message', { messageId: msgs[1]._id });
  assertContact(contactOf(await getContacts(sb), a), { unreadCount: 3 });
  await ackOk(sa, 'edit-message', { messageId: msgs[2]._id, message: 'u2, edited' });
  assertContact(contactOf(await getContacts(sb), a), { unreadCount: 3 });
  await ackOk(sb, 'message-read', { messageId: msgs[2]._id });
  assertContact(contactOf(await getContacts(sb), a), { unreadCount: 1 });
  const again = await server.connectUser(b);
  assertContact(contactOf(again.details.connectedUsers, a), { unreadCount: 1, lastMessage: mine._id });
});

test('adding an existing contact again reports where the conversation stands', async () => {
  const { a, b, sa, sb, room } = await makeContacts(server, { prefix: 'readd' });
  const m1 = await send(sb, a, 'unread one');
  const m2 = await send(sb, a, 'unread two');
  await settle([sa, sb], [m1, m2]);
  const again = await ackOk(sa, 'add-chat-user', { userToAdd: b });
  assertContact(again, { id: b, chatRoomId: room, unreadCount: 2, lastMessage: m2, blocked: false });
  assert.deepEqual(again, contactOf(await getContacts(sa), b));
  const reverse = await ackOk(sb, 'add-chat-user', { userToAdd: a });
  assertContact(reverse, { id: a, chatRoomId: room, unreadCount: 0, lastMessage: m2, blocked: false });
  await noChatzz(sa, 'chat-user-added');
});

test('contacts are listed by last activity, newest first: the newest message, else the room\'s creation', async () => {
  const me = uid('inbox');
  const sMe = await server.connectUser(me);
  const c = [];
  for (let i = 0; i < 4; i += 1) {
    const id = uid(`c${i}`);
    c.push({ id, s: await server.connectUser(id) });
  }
  // Rooms created in order c0, c1, c2: no messages, newest room first.
  for (let i = 0; i < 3; i += 1) {
    await ackOk(sMe, 'add-chat-user', { userToAdd: c[i].id });
    await tick();
  }
  assert.deepEqual(ids(await getContacts(sMe)), [c[2].id, c[1].id, c[0].id]);

  // A message from me in c0's room, then one from c1 to me.
  const m0 = await send(sMe, c[0].id, 'to c0');
  await tick();
  assert.deepEqual(ids(await getContacts(sMe)), [c[0].id, c[2].id, c[1].id]);
  const m1 = await send(c[1].s, me, 'from c1');
  await tick();
  assert.deepEqual(ids(await getContacts(sMe)), [c[1].id, c[0].id, c[2].id]);

  // A room created by the other side, now: it is the newest activity.
  await ackOk(c[3].s, 'add-chat-user', { userToAdd: me });
  await nextChatzz(sMe, 'chat-user-added', (d) => d._id === c[3].id);
  await tick();
  const order = [c[3].id, c[1].id, c[0].id, c[2].id];
  assert.deepEqual(ids(await getContacts(sMe)), order);
  assert.deepEqual(ids((await server.connectUser(me)).details.connectedUsers), order, 'connectedUsers: the same order');

  // Each side sees its own order: c0's only contact is me; c1 sees the same room.
  assert.deepEqual(ids(await getContacts(c[0].s)), [me]);
  await settle([sMe, c[0].s, c[1].s], [m0, m1]);

  // A message in the oldest conversation brings it to the top.
  await send(c[2].s, me, 'from c2');
  await tick();
  assert.deepEqual(ids(await getContacts(sMe)), [c[2].id, c[3].id, c[1].id, c[0].id]);
});

test('edits and deletes are not activity: the order follows the newest message\'s creation only', async () => {
  const me = uid('quiet');
  const sMe = await server.connectUser(me);
  const x = uid('x');
  const y = uid('y');
  const sx = await server.connectUser(x);
  const sy = await server.connectUser(y);
  await ackOk(sMe, 'add-chat-user', { userToAdd: x });
  await ackOk(sMe, 'add-chat-user', { userToAdd: y });
  const mx = await send(sMe, x, 'to x, older');
  await tick();
  const my = await send(sMe, y, 'to y, newer');
  await tick();
  assert.deepEqual(ids(await getContacts(sMe)), [y, x]);

  const edited = await ackOk(sMe, 'edit-message', { messageId: mx._id, message: 'to x, edited later' });
  await tick();
  assert.deepEqual(ids(await getContacts(sMe)), [y, x], 'an edit does not move a conversation up');
  assert.deepEqual(ids(await getContacts(sx)), [me]);
  const read = await ackOk(sx, 'message-read', { messageId: mx._id });
  assert.equal(read.status, 'read');
  await tick();
  assert.deepEqual(ids(await getContacts(sMe)), [y, x], 'a read does not move a conversation up');
  const tomb = await ackOk(sMe, 'delete-message', { messageId: my._id });
  await tick();
  const list = await getContacts(sMe);
  assert.deepEqual(ids(list), [y, x], 'a deleted newest message still orders its room by its creation');
  assertContact(list[0], { lastMessage: tomb });
  assertContact(list[1], { lastMessage: { ...edited, status: 'read', readAt: read.readAt } });
  assert.deepEqual(ids((await server.connectUser(me)).details.connectedUsers), [y, x]);
  assert.ok(sy.connected);
});
