// Presence: chat-user-status-changed, multi-tab, connectedUsers.
import assert from 'node:assert/strict';
import {
  test,
  useServer,
  uid,
  ackOk,
  nextChatzz,
  noChatzz,
  closeSocket,
  goOffline,
  assertStatusChange,
  assertContact,
  assertTimestamp,
  sleep,
} from './harness.mjs';

const server = useServer();

const isStatus = (id, status) => (d) => d.user && d.user._id === id && d.status === status;

/** a (offline, known), b online with two tabs, b and a contacts; n a non-contact online. */
async function setup() {
  const a = uid('a');
  const b = uid('b');
  const n = uid('stranger');
  const sa = await server.connectUser(a);
  const sb1 = await server.connectUser(b);
  const sb2 = await server.connectUser(b);
  const sn = await server.connectUser(n);
  await ackOk(sb1, 'add-chat-user', { userToAdd: a });
  await goOffline(sa, sb1);
  await nextChatzz(sb2, 'chat-user-status-changed', isStatus(a, 'offline'));
  return { a, b, n, sb1, sb2, sn };
}

test('first socket of a user brings one online event to every socket of each contact, none to strangers', async () => {
  const { a, sb1, sb2, sn } = await setup();
  const sa = await server.connectUser(a);
  for (const s of [sb1, sb2]) {
    const ev = await nextChatzz(s, 'chat-user-status-changed', isStatus(a, 'online'));
    assertStatusChange(ev, { id: a, status: 'online' });
  }
  await noChatzz(sn, 'chat-user-status-changed');
  await noChatzz(sb1, 'chat-user-status-changed', isStatus(a, 'online'));
  await closeSocket(sa);
});

test('a second tab brings no online event; closing one of two tabs brings no offline event', async () => {
  const { a, sb1 } = await setup();
  const tab1 = await server.connectUser(a);
  await nextChatzz(sb1, 'chat-user-status-changed', isStatus(a, 'online'));
  const tab2 = await server.connectUser(a);
  await noChatzz(sb1, 'chat-user-status-changed');
  await closeSocket(tab1);
  await noChatzz(sb1, 'chat-user-status-changed');
  await closeSocket(tab2);
  await nextChatzz(sb1, 'chat-user-status-changed', isStatus(a, 'offline'));
});

test('closing the last tab brings exactly one offline event with lastOnline set to now', async () => {
  const { a, sb1, sb2, sn } = await setup();
  const tab1 = await server.connectUser(a);
  const tab2 = await server.connectUser(a);
  await nextChatzz(sb1, 'chat-user-status-changed', isStatus(a, 'online'));
  await nextChatzz(sb2, 'chat-user-status-changed', isStatus(a, 'online'));
  await closeSocket(tab1);
  await sleep(50);
  const t0 = Date.now();
  await closeSocket(tab2);
  const ev = await nextChatzz(sb1, 'chat-user-status-changed', isStatus(a, 'offline'));
  const t1 = Date.now();
  assertStatusChange(ev, { id: a, status: 'offline' });
  assertTimestamp(ev.lastOnline);
  const at = Date.parse(ev.lastOnline);
  assert.ok(at >= t0 - 50 && at <= t1 + 50, `lastOnline ${ev.lastOnline} must be between ${new Date(t0).toISOString()} and ${new Date(t1).toISOString()}`);
  const ev2 = await nextChatzz(sb2, 'chat-user-status-changed', isStatus(a, 'offline'));
  assert.deepEqual(ev2, ev);
  await noChatzz(sb1, 'chat-user-status-changed');
  await noChatzz(sb2, 'chat-user-status-changed', undefined, 0);
  await noChatzz(sn, 'chat-user-status-changed', undefined, 0);
});

test('an unregistered socket closing changes no presence', async () => {
  const { a, sb1 } = await setup();
  const tab = await server.connectUser(a);
  await nextChatzz(sb1, 'chat-user-status-changed', isStatus(a, 'online'));
  const anon = await server.socket();
  await closeSocket(anon);
  await noChatzz(sb1, 'chat-user-status-changed');
  await closeSocket(tab);
  await nextChatzz(sb1, 'chat-user-status-changed', isStatus(a, 'offline'));
});

test('contacts in connectedUsers carry status and lastOnline', async () => {
  const me = uid('me');
  const on = uid('on');
  const off = uid('off');
  const never = uid('never');
  const sOn = await server.connectUser(on);
  const sOff = await server.connectUser(off);
  const sNever = await server.connectUser(never);
  const sMe = await server.connectUser(me);
  const cOn = await ackOk(sMe, 'add-chat-user', { userToAdd: on });
  const cOff = await ackOk(sMe, 'add-chat-user', { userToAdd: off });
  const cNever = await ackOk(sMe, 'add-chat-user', { userToAdd: never });
  const offEv = await goOffline(sOff, sMe);
  // `never` goes offline too, then comes back: its lastOnline is its last offline time.
  const neverOff = await goOffline(sNever, sMe);
  const sNever2 = await server.connectUser(never);
  await nextChatzz(sMe, 'chat-user-status-changed', isStatus(never, 'online'));
  await closeSocket(sMe);
  await nextChatzz(sOn, 'chat-user-status-changed', isStatus(me, 'offline'));

  const sMe2 = await server.connectUser(me);
  const list = [...sMe2.details.connectedUsers].sort((x, y) => (x._id < y._id ? -1 : 1));
  assert.equal(list.length, 3, JSON.stringify(list));
  const byId = Object.fromEntries(list.map((c) => [c._id, c]));
  assertContact(byId[on], { id: on, chatRoomId: cOn.chatRoomId, status: 'online', lastOnline: null });
  assertContact(byId[off], { id: off, chatRoomId: cOff.chatRoomId, status: 'offline', lastOnline: offEv.lastOnline });
  assertContact(byId[never], { id: never, chatRoomId: cNever.chatRoomId, status: 'online', lastOnline: neverOff.lastOnline });
  await closeSocket(sNever2);
});
