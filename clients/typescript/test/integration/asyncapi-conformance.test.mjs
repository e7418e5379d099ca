// The server against docs/asyncapi.yaml: one run that emits every client event (with and
// without a callback, succeeding and failing) from raw Socket.IO sockets against a real
// chatzz on the memory store, records every acknowledgement `[error, result]` and every
// `chatzz` event, and validates each against the document's schemas (its message
// payloads, $refs resolved by @asyncapi/parser) with ajv, and the keys of each against
// the package's field maps. A mismatch names the event, the path and the value.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import { io } from 'socket.io-client';
import { CLIENT_EVENTS, SERVER_EVENT_TYPES } from '../../dist/esm/index.js';
import { ACK_RESULTS, OBJECT_FIELDS, SERVER_DATA } from '@chatzz/client/fields';
import { ChatzzServer, FAST_RECONNECT, database, sleep, uid, until } from './server.mjs';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../docs/asyncapi.yaml');

/** `{ack: {event: validate}, server: {type: validate}}` compiled from the document. */
async function validators() {
  const { document, diagnostics } = await new Parser().parse(fs.readFileSync(DOC, 'utf8'), { source: DOC });
  assert.ok(document, `docs/asyncapi.yaml parses: ${JSON.stringify(diagnostics.filter((d) => d.severity === 0))}`);
  // The document's schemas are JSON Schema draft-07 with x-parser-* annotations and
  // draft-07 tuples (`items: [...]`): not ajv's strict mode.
  const ajv = new Ajv({ strict: false, allErrors: true });
  const ack = {};
  for (const m of document.channels().get('acks').messages().all()) ack[m.name().replace(/ ack$/, '')] = ajv.compile(m.payload().json());
  const server = {};
  for (const m of document.channels().get('serverEvents').messages().all()) server[m.title()] = ajv.compile(m.payload().json());
  return { ack, server };
}

const at = (value, pointer) =>
  pointer
    .split('/')
    .slice(1)
    .reduce((v, k) => (v == null ? v : v[k.replace(/~1/g, '/').replace(/~0/g, '~')]), value);

const describeErrors = (what, value, errors) =>
  `${what} does not match docs/asyncapi.yaml:\n` +
  errors
    .map((e) => `  at ${e.instancePath || '/'} ${e.message} (${e.schemaPath}${e.params ? ` ${JSON.stringify(e.params)}` : ''}); value: ${JSON.stringify(at(value, e.instancePath))}`)
    .join('\n') +
  `\n  whole value: ${JSON.stringify(value)}`;

/**
 * The package's side: `value` has the keys of `shape` (see `@chatzz/client/fields`), no
 * more on a closed object (the document allows extra keys, the types do not).
 */
function checkKeys(value, shape, where, problems) {
  if (shape === 'null') {
    if (value !== null) problems.push(`${where}: ${JSON.stringify(value)} where the package types say null`);
    return;
  }
  if (value === null) return; // nullable fields: the schemas check them
  const record = /^Record<(.+)>$/.exec(shape);
  if (record) {
    for (const [k, v] of Object.entries(value)) checkKeys(v, record[1], `${where}.${k}`, problems);
    return;
  }
  if (shape.endsWith('[]')) {
    if (!Array.isArray(value)) problems.push(`${where}: ${JSON.stringify(value)} where the package types say ${shape}`);
    else value.forEach((v, i) => checkKeys(v, shape.slice(0, -2), `${where}[${i}]`, problems));
    return;
  }
  const map = OBJECT_FIELDS[shape];
  for (const k of map.required) if (!(k in value)) problems.push(`${where}: ${shape} lacks ${k}: ${JSON.stringify(value)}`);
  for (const [k, v] of Object.entries(value)) {
    if (map.nested[k]) checkKeys(v, map.nested[k], `${where}.${k}`, problems);
    else if (!map.open && !map.required.includes(k) && !map.optional.includes(k)) {
      problems.push(`${where}.${k}: ${JSON.stringify(v)} is not a key of the package's ${shape}`);
    }
  }
}

const db = database('memory');
const server = new ChatzzServer(db);
const sockets = [];
/** Everything the server sent: `{kind: 'ack', event, args}` or `{kind: 'event', from, envelope}`. */
const seen = [];

function open(name) {
  const socket = io(server.url, { ...FAST_RECONNECT, reconnection: false });
  sockets.push(socket);
  socket.on('chatzz', (envelope) => seen.push({ kind: 'event', to: name, envelope }));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** Emits with a callback and records `[error, result]`. */
function call(socket, event, payload) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), 5000);
    socket.emit(event, payload, (...args) => {
      clearTimeout(timer);
      seen.push({ kind: 'ack', event, args });
      resolve(args);
    });
  });
}
const ok = async (socket, event, payload) => {
  const [err, result] = await call(socket, event, payload);
  assert.equal(err, null, `${event} ${JSON.stringify(payload)} failed: ${JSON.stringify(err)}`);
  return result;
};
const eventCount = (type) => seen.filter((s) => s.kind === 'event' && s.envelope?.type === type).length;

before(() => server.start());
after(async () => {
  for (const s of sockets) s.close();
  await server.stop();
  db.cleanup();
});

test('every acknowledgement and chatzz event of a run of all client events matches docs/asyncapi.yaml', async () => {
  const schemas = await validators();
  const a = uid('alice');
  const b = uid('bob');
  const c = uid('carol');

  let alice = await open('alice');
  let bob = await open('bob');
  const carol = await open('carol');
  await ok(alice, 'connect-user', { userId: a });
  await ok(bob, 'connect-user', { userId: b });
  await ok(carol, 'connect-user', { userId: c });

  // Failures, acknowledged and as error events.
  const early = await open('early');
  assert.equal((await call(early, 'get-contacts', {}))[0].code, 'not-connected');
  early.emit('get-contacts', {});
  await until(() => eventCount('error') >= 1, 'a not-connected error event');
  assert.equal((await call(alice, 'send-message', { userId: c, message: 'hi' }))[0].code, 'not-a-contact');
  assert.equal((await call(alice, 'add-chat-user', {}))[0].code, 'invalid-argument');
  alice.emit('message-read', { messageId: 'nope' });
  await until(() => eventCount('error') >= 2, 'an error event');

  const contact = await ok(alice, 'add-chat-user', { userToAdd: b });
  await ok(alice, 'add-chat-user', { userToAdd: c });
  await until(() => eventCount('chat-user-added') >= 2, 'chat-user-added');

  const m1 = await ok(alice, 'send-message', { userId: b, message: 'one', clientMessageId: uid('cm') });
  const m2 = await ok(alice, 'send-message', { userId: b, message: 'two' });
  await ok(bob, 'send-message', { userId: a, message: 'back' });
  await until(() => eventCount('new-message') >= 6, 'new-message events');

  await ok(alice, 'get-old-messages', { userId: b });
  await ok(alice, 'get-old-messages', { userId: b, limit: 1, before: m2._id });
  await ok(alice, 'get-old-messages', { userId: b, after: m1._id, date: m1.createdAt });
  await ok(alice, 'get-old-messages', { userId: b, fromDate: Date.parse(m1.createdAt) });
  alice.emit('get-old-messages', { userId: b });
  await until(() => eventCount('old-messages') >= 1, 'old-messages');

  await ok(bob, 'message-read', { messageId: m2._id });
  await until(() => eventCount('messages-read') >= 1, 'messages-read');

  await ok(alice, 'edit-message', { messageId: m1._id, message: 'one, edited' });
  await ok(alice, 'delete-message', { messageId: m2._id });
  await until(() => eventCount('message-updated') >= 2, 'message-updated');

  await ok(alice, 'typing', { userId: b, typing: true });
  await ok(alice, 'typing', { userId: b, typing: false });
  await until(() => eventCount('typing') >= 2, 'typing');

  await ok(alice, 'block-user', { userId: c });
  await ok(alice, 'get-contacts', {});
  alice.emit('get-contacts', {});
  await until(() => eventCount('contacts') >= 1, 'contacts');
  await ok(alice, 'unblock-user', { userId: c });

  // Bob goes away; alice writes to him; he comes back to missed messages, unread
  // counts and last messages, and alice sees him go offline and online.
  bob.close();
  await until(() => seen.some((s) => s.to === 'alice' && s.envelope?.type === 'chat-user-status-changed' && s.envelope.data.status === 'offline'), 'offline');
  await ok(alice, 'send-message', { userId: b, message: 'while you were away' });
  bob = await open('bob');
  const details = await ok(bob, 'connect-user', { userId: b });
  assert.ok(Object.keys(details.missedMessages).length > 0, 'bob has missed messages');
  assert.ok(details.connectedUsers.some((u) => u.lastMessage), 'a contact with its last message');
  await until(() => seen.some((s) => s.to === 'alice' && s.envelope?.type === 'chat-user-status-changed' && s.envelope.data.status === 'online'), 'online');
  await until(() => eventCount('message-status-changed') >= 1, 'message-status-changed');
  // Alice's own second session: user-details with contacts that have history.
  alice = await open('alice');
  await ok(alice, 'connect-user', { userId: a });
  await until(() => eventCount('user-details') >= 5, 'user-details');
  await sleep(100);

  // Everything the protocol can say was said at least once.
  const acked = new Set(seen.filter((s) => s.kind === 'ack').map((s) => s.event));
  assert.deepEqual([...CLIENT_EVENTS].filter((e) => !acked.has(e)), [], 'every client event was acknowledged');
  const types = new Set(seen.filter((s) => s.kind === 'event').map((s) => s.envelope?.type));
  assert.deepEqual([...SERVER_EVENT_TYPES].filter((t) => !types.has(t)), [], 'every chatzz event type was received');

  const problems = [];
  for (const s of seen) {
    if (s.kind === 'ack') {
      const validate = schemas.ack[s.event];
      if (!validate) problems.push(`${s.event}: no acknowledgement in the document`);
      else if (!validate(s.args)) problems.push(describeErrors(`the acknowledgement of ${s.event}`, s.args, validate.errors));
      else if (s.args[0] === null) checkKeys(s.args[1], ACK_RESULTS[s.event], `the result of ${s.event}`, problems);
    } else {
      const validate = schemas.server[s.envelope?.type];
      if (!validate) problems.push(`chatzz ${JSON.stringify(s.envelope)}: no such type in the document`);
      else if (!validate(s.envelope)) problems.push(describeErrors(`the chatzz event ${s.envelope.type} (to ${s.to})`, s.envelope, validate.errors));
      else checkKeys(s.envelope.data, SERVER_DATA[s.envelope.type], `the data of chatzz ${s.envelope.type} (to ${s.to})`, problems);
    }
  }
  assert.equal(problems.length, 0, `${problems.length} of ${seen.length} server messages do not match:\n${problems.join('\n')}`);
  void contact;
});
