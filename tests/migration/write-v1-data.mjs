// Writes a small, known data set through a running chatzz server of protocol version 1
// (the main branch before protocol 1.1), so that a store's migration test can check
// that a database written by that version opens under the new code with nothing lost.
// How the fixtures were made: the previous main's server binary was started on a fresh
// database (`chatzz --listen 127.0.0.1:PORT --database sqlite:///tmp/v1.db`, then
// `--database postgres://postgres@127.0.0.1/chatzz_v1_fixture`; MongoDB likewise), this
// script was run against it (`node tests/migration/write-v1-data.mjs
// http://127.0.0.1:PORT expected.json`), the server was stopped, and the database was
// checked in beside the JSON summary the script wrote: the SQLite file as it is, and
// PostgreSQL as `pg_dump --no-owner --no-privileges --inserts` (plain SQL). It works on
// any store: it only speaks the wire protocol.
//
// Usage: node write-v1-data.mjs SERVER_URL [SUMMARY_JSON]
// The summary (also printed on stdout) lists users, rooms (pairs) and every message
// with its final id, text, status, readAt, createdAt and clientMessageId, read back
// from the server's own history replies.

import fs from 'node:fs';
import { io } from 'socket.io-client';

const [url, out] = process.argv.slice(2);
if (!url) {
  console.error('usage: node write-v1-data.mjs SERVER_URL [SUMMARY_JSON]');
  process.exit(2);
}

const TIMEOUT_MS = 5000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A connected socket of `userId`, with every `chatzz` event it got kept in `events`. */
async function connect(userId) {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  socket.events = [];
  socket.on('chatzz', (env) => socket.events.push(env));
  const details = await call(socket, 'connect-user', { userId });
  return { socket, details };
}

/** Emits `event` and resolves with the callback's result; rejects on an error reply. */
function call(socket, event, payload) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${event}: no reply within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    socket.emit(event, payload, (err, result) => {
      clearTimeout(timer);
      if (err) reject(new Error(`${event} ${JSON.stringify(payload)}: ${JSON.stringify(err)}`));
      else resolve(result);
    });
  });
}

/** Waits until `socket` got a `chatzz` event matching `predicate`. */
async function eventOn(socket, type, predicate = () => true) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (Date.now() < deadline) {
    const found = socket.events.find((e) => e.type === type && predicate(e.data));
    if (found) return found.data;
    await sleep(20);
  }
  throw new Error(`no ${type} event within ${TIMEOUT_MS} ms`);
}

/** Disconnects `user` and waits until `watcher` (a contact still online) sees it offline. */
async function goOffline(user, watcher) {
  user.socket.disconnect();
  if (watcher) {
    await eventOn(watcher.socket, 'chat-user-status-changed', (d) => d.user._id === user.id && d.status === 'offline');
  } else {
    await sleep(500);
  }
}

async function main() {
  const ids = ['alice', 'bob', 'carol', 'dave'];
  const users = {};
  for (const id of ids) {
    users[id] = { id, ...(await connect(id)) };
  }
  const { alice, bob, carol, dave } = users;

  // Rooms: alice-bob, alice-carol, bob-carol (no messages ever), dave-alice.
  const rooms = {};
  for (const [a, b] of [['alice', 'bob'], ['alice', 'carol'], ['bob', 'carol'], ['dave', 'alice']]) {
    const contact = await call(users[a].socket, 'add-chat-user', { userToAdd: b });
    rooms[[a, b].sort().join('-')] = { users: [a, b].sort(), chatRoomId: contact.chatRoomId };
  }
  // Adding again changes nothing.
  const again = await call(bob.socket, 'add-chat-user', { userToAdd: 'alice' });
  if (again.chatRoomId !== rooms['alice-bob'].chatRoomId) throw new Error('add-chat-user not idempotent');

  // carol and dave go offline: messages to them stay not_sent.
  await goOffline(carol, alice);
  await goOffline(dave, alice);

  const sent = [];
  const send = async (from, to, message, clientMessageId) => {
    const payload = { userId: to, message, ...(clientMessageId ? { clientMessageId } : {}) };
    const stored = await call(users[from].socket, 'send-message', payload);
    sent.push({ id: stored._id, clientMessageId: clientMessageId ?? null });
    return stored;
  };
  const delivered = async (message) => {
    await eventOn(users[message.from._id].socket, 'message-status-changed', (d) => d._id === message._id && d.status !== 'not_sent');
  };

  const m1 = await send('alice', 'bob', 'Hello Bob 👋', 'v1-client-1');
  await delivered(m1);
  const m2 = await send('bob', 'alice', 'Hi!\nLine two\n\ttabbed — ünïcödé 🎉🇫🇷 e\u0301', null);
  await delivered(m2);
  await send('alice', 'carol', 'Carol, are you there? "double" \'single\' \\backslash %_ {"$gt": ""}', null);
  await send('alice', 'carol', '😀😃😄 only emoji, then a very long word: ' + 'x'.repeat(300), 'v1-client-2');
  await send('alice', 'dave', "'; DROP TABLE chatzz_messages; --", null);
  const m6 = await send('alice', 'bob', 'read me', null);
  await delivered(m6);
  const m7 = await send('bob', 'alice', 'an unread reply', null);
  await delivered(m7);
  const m8 = await send('bob', 'alice', 'read this one, not the one before', null);
  await delivered(m8);
  // A retried send (same clientMessageId) stores nothing new.
  const retried = await send('alice', 'bob', 'Hello Bob 👋', 'v1-client-1');
  sent.pop();
  if (retried._id !== m1._id) throw new Error('a retried send stored a second message');

  // Reads: bob reads m6, alice reads m8 and m2 (m7 stays sent, unread).
  await call(bob.socket, 'message-read', { messageId: m6._id });
  await call(alice.socket, 'message-read', { messageId: m8._id });
  await call(alice.socket, 'message-read', { messageId: m2._id });

  // The final state of every message, from the sender side (history marks only
  // messages addressed to the requester, and everything to alice is delivered).
  const messages = [];
  for (const other of ['bob', 'carol', 'dave']) {
    messages.push(...(await call(alice.socket, 'get-old-messages', { userId: other, limit: 500 })));
  }
  messages.sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
  const clientIds = new Map(sent.map((s) => [s.id, s.clientMessageId]));
  if (messages.length !== sent.length) throw new Error(`history has ${messages.length} messages, ${sent.length} were sent`);

  // Everyone goes offline; zed, who connects last, sees when each did.
  await goOffline(bob, alice);
  await goOffline(alice, null);
  const zed = { id: 'zed', ...(await connect('zed')) };
  const lastOnline = {};
  for (const id of ids) {
    const contact = await call(zed.socket, 'add-chat-user', { userToAdd: id });
    rooms[['zed', id].sort().join('-')] = { users: ['zed', id].sort(), chatRoomId: contact.chatRoomId };
    lastOnline[id] = contact.lastOnline;
  }
  zed.socket.disconnect();
  await sleep(500);

  const summary = {
    note: 'written by tests/migration/write-v1-data.mjs through a protocol 1 server',
    server: url,
    // Every user went offline once at least, so each has a lastOnline; zed's came at
    // its own disconnect, which nobody saw (lastOnlineObserved false: only "not null").
    users: [...ids, 'zed'].map((id) => ({ id, lastOnline: lastOnline[id] ?? null, lastOnlineObserved: id in lastOnline })),
    rooms: Object.values(rooms).sort((a, b) => Number(a.chatRoomId > b.chatRoomId) - Number(a.chatRoomId < b.chatRoomId)),
    messages: messages.map((m) => ({
      id: m._id,
      chatRoomId: m.chatRoomId,
      from: m.from._id,
      to: m.to._id,
      message: m.message,
      status: m.status,
      createdAt: m.createdAt,
      readAt: m.readAt,
      clientMessageId: clientIds.get(m._id) ?? null,
    })),
  };
  const json = JSON.stringify(summary, null, 2) + '\n';
  if (out) fs.writeFileSync(out, json);
  process.stdout.write(json);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
