// Shared helpers for the chatzz end-to-end suite.
//
// Every test file starts its own chatzz process (`useServer()`), talks to it
// only through the official socket.io-client v4, and checks the behaviours
// promised by docs/protocol.md.
//
// Environment:
//   CHATZZ_BIN        path of the server binary (default: <repo>/target/debug/chatzz)
//   CHATZZ_E2E_STORE  memory (default), sqlite, postgres or mongodb (see stores.mjs)
//   CHATZZ_E2E_LOGS=1 always print the server's output when it stops
//                     (by default it is printed only when a test of the file failed
//                     or the server exited on its own).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { test as nodeTest, before, after } from 'node:test';
import { io } from 'socket.io-client';
import { freshDatabase } from './stores.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const TESTS_DIR = path.resolve(HERE, '..');
export const CHATZZ_BIN = process.env.CHATZZ_BIN
  ? path.resolve(process.env.CHATZZ_BIN)
  : path.resolve(TESTS_DIR, '../target/debug/chatzz');

export const ACK_TIMEOUT_MS = 3000;
export const EVENT_TIMEOUT_MS = 3000;
export const QUIET_MS = 300;
const START_TIMEOUT_MS = 15000;
const LOG_LIMIT = 256 * 1024;

export const TS_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Use as the payload to emit an event with no argument at all. */
export const NO_PAYLOAD = Symbol('no payload');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Failure tracking: `test` wraps node:test's `test` so the harness knows whether
// something failed in this file and can then print the server's output.

let failures = 0;
export function test(name, fn) {
  return nodeTest(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      failures += 1;
      throw e;
    }
  });
}

// ---------------------------------------------------------------------------
// Unique ids

let idCounter = 0;
const RUN = Math.random().toString(36).slice(2, 8);
export function uid(prefix = 'user') {
  idCounter += 1;
  return `${prefix}-${idCounter}-${RUN}${Math.random().toString(36).slice(2, 6)}`;
}

// ---------------------------------------------------------------------------
// Server process

export class Server {
  /**
   * `database`: run on this `{ url, cleanup }` (from stores.mjs) instead of a fresh one;
   * the caller then owns it, so a restarted server can find what the first one stored.
   * `env`: extra environment variables for the server process.
   */
  constructor({ maxMessageChars, args = [], database, env } = {}) {
    this.sharedDatabase = database;
    this.extraEnv = env;
    this.extraArgs = [...args];
    if (maxMessageChars !== undefined) this.extraArgs.push('--max-message-chars', String(maxMessageChars));
    this.url = null;
    this.child = null;
    this.output = '';
    this.sockets = new Set();
    this.stopping = false;
    this.exitedEarly = null;
  }

  appendLog(stream, chunk) {
    this.output += chunk
      .toString()
      .split('\n')
      .map((l, i, arr) => (i === arr.length - 1 && l === '' ? '' : `[${stream}] ${l}`))
      .join('\n');
    if (this.output.length > LOG_LIMIT) this.output = this.output.slice(-LOG_LIMIT);
  }

  async start() {
    if (!fs.existsSync(CHATZZ_BIN)) {
      throw new Error(`chatzz binary not found at ${CHATZZ_BIN}: build it (cargo build) or set CHATZZ_BIN`);
    }
    this.database = this.sharedDatabase ?? freshDatabase();
    // The suite sends bursts far beyond a person's pace: no send rate limit unless a
    // test asks for one (later flags win).
    const args = ['--listen', '127.0.0.1:0', '--database', this.database.url, '--send-rate', '0', ...this.extraArgs];
    this.args = args;
    const child = spawn(CHATZZ_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(this.extraEnv ? { env: { ...process.env, ...this.extraEnv } } : {}),
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stderr.on('data', (c) => this.appendLog('stderr', c));

    this.url = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => {
        reject(new Error(`chatzz did not print its listening line within ${START_TIMEOUT_MS} ms\n${this.output}`));
      }, START_TIMEOUT_MS);
      child.stdout.on('data', (chunk) => {
        this.appendLog('stdout', chunk);
        if (this.url) return;
        buf += chunk.toString();
        const m = /chatzz listening on (http:\/\/[^\s]+)/.exec(buf);
        if (m) {
          clearTimeout(timer);
          resolve(m[1].replace(/\/$/, ''));
        }
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`chatzz exited before listening (code ${code}, signal ${signal})\n${this.output}`));
      });
    });
    child.once('exit', (code, signal) => {
      if (!this.stopping) this.exitedEarly = { code, signal };
    });
    return this;
  }

  async stop() {
    for (const s of this.sockets) s.close();
    this.sockets.clear();
    if (!this.child) return;
    this.stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(killer);
    }
    if (!this.sharedDatabase) this.database?.cleanup();
    if (failures > 0 || this.exitedEarly || process.env.CHATZZ_E2E_LOGS === '1') {
      const why = this.exitedEarly
        ? `server exited on its own (${JSON.stringify(this.exitedEarly)})`
        : `${failures} failing test(s) in this file`;
      process.stderr.write(
        `\n----- chatzz output (${CHATZZ_BIN} ${this.args.join(' ')}; ${why}) -----\n` +
          `${this.output}\n----- end of chatzz output -----\n`,
      );
    }
  }

  /** Kill the server with SIGKILL: no shutdown, no flushing. */
  async kill9() {
    this.stopping = true;
    for (const s of this.sockets) s.close();
    this.sockets.clear();
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Open a Socket.IO connection (not yet registered with connect-user). */
  async socket({ transport = 'websocket' } = {}) {
    const s = await openSocket(this.url, { transport });
    this.sockets.add(s);
    s.once('disconnect', () => this.sockets.delete(s));
    return s;
  }

  /**
   * Create a socket without waiting for it to connect (the usual client pattern:
   * `const s = io(url); s.emit(...)`; socket.io-client buffers the emits until connected).
   */
  socketNow({ transport = 'websocket' } = {}) {
    const s = io(this.url, { transports: transportsFor(transport), forceNew: true, reconnection: false });
    attachRecorder(s);
    this.sockets.add(s);
    s.once('disconnect', () => this.sockets.delete(s));
    return s;
  }

  /** Open a socket and register it as `userId` (ack path). `socket.details` holds the user-details data. */
  async connectUser(userId, opts = {}) {
    const s = await this.socket(opts);
    s.userId = userId;
    s.details = await ackOk(s, 'connect-user', { userId });
    return s;
  }
}

/** Start a server for the current test file (before) and stop it (after). */
export function useServer(opts = {}) {
  const server = new Server(opts);
  before(async () => {
    await server.start();
  });
  after(async () => {
    await server.stop();
  });
  return server;
}

// ---------------------------------------------------------------------------
// Sockets and the `chatzz` event recorder

const REC = Symbol('chatzz recorder');
let globalSeq = 0;

function attachRecorder(socket) {
  const rec = { queue: [], log: [], waiters: new Set() };
  socket.on('chatzz', (...args) => {
    const env = args[0];
    const entry = { env, args, seq: ++globalSeq, at: Date.now() };
    rec.log.push(entry);
    for (const w of rec.waiters) {
      if (w.matches(env)) {
        rec.waiters.delete(w);
        w.resolve(entry);
        return;
      }
    }
    rec.queue.push(entry);
  });
  socket[REC] = rec;
}

/**
 * The client's transport list for `transport`: 'websocket' or 'polling' alone, or
 * 'upgrade' for the client's default (long-polling first, then upgraded to WebSocket).
 */
function transportsFor(transport) {
  return transport === 'upgrade' ? ['polling', 'websocket'] : [transport];
}

export function openSocket(url, { transport = 'websocket', auth } = {}) {
  const socket = io(url, { transports: transportsFor(transport), forceNew: true, reconnection: false, ...(auth ? { auth } : {}) });
  attachRecorder(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`socket (${transport}) did not connect to ${url} within 5000 ms`));
    }, 5000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('connect_error', (e) => {
      clearTimeout(timer);
      socket.close();
      reject(e);
    });
  });
}

function matcher(type, predicate) {
  return (env) => {
    if (!env || typeof env !== 'object' || env.type !== type) return false;
    try {
      return predicate ? Boolean(predicate(env.data)) : true;
    } catch {
      return false;
    }
  };
}

function assertEnvelope(entry) {
  assert.equal(entry.args.length, 1, `chatzz event must carry exactly one argument, got ${JSON.stringify(entry.args)}`);
  assert.deepEqual(Object.keys(entry.env).sort(), ['data', 'type'], `chatzz envelope must be {type, data}, got ${JSON.stringify(entry.env)}`);
}

function describeQueue(socket) {
  const rec = socket[REC];
  const MAX = 20;
  const lines = rec.log.slice(-MAX).map((e) => JSON.stringify(e.env));
  if (rec.log.length > MAX) lines.unshift(`(${rec.log.length - MAX} earlier events left out)`);
  return lines.join('\n    ') || '(none)';
}

/**
 * Wait for the next `chatzz` event of `type` (matching `predicate(data)`) on `socket`,
 * including one that already arrived and was not consumed yet. Resolves with the
 * whole entry {env, args, seq, at}.
 */
export function nextChatzzEntry(socket, type, predicate, timeoutMs = EVENT_TIMEOUT_MS) {
  const rec = socket[REC];
  const matches = matcher(type, predicate);
  const idx = rec.queue.findIndex((e) => matches(e.env));
  if (idx >= 0) {
    const [entry] = rec.queue.splice(idx, 1);
    assertEnvelope(entry);
    return Promise.resolve(entry);
  }
  return new Promise((resolve, reject) => {
    const w = {
      matches,
      resolve: (entry) => {
        clearTimeout(timer);
        try {
          assertEnvelope(entry);
          resolve(entry);
        } catch (e) {
          reject(e);
        }
      },
    };
    const timer = setTimeout(() => {
      rec.waiters.delete(w);
      reject(
        new Error(
          `no chatzz "${type}" event${predicate ? ' matching the predicate' : ''} on socket of ${socket.userId ?? '(unregistered)'} within ${timeoutMs} ms; what it received:\n    ${describeQueue(socket)}`,
        ),
      );
    }, timeoutMs);
    rec.waiters.add(w);
  });
}

/** Like nextChatzzEntry, resolving with the event's `data`. */
export async function nextChatzz(socket, type, predicate, timeoutMs = EVENT_TIMEOUT_MS) {
  return (await nextChatzzEntry(socket, type, predicate, timeoutMs)).env.data;
}

/** Assert that no (unconsumed) `chatzz` event of `type` matching `predicate` arrives within `ms`. */
export async function noChatzz(socket, type, predicate, ms = QUIET_MS) {
  await sleep(ms);
  const rec = socket[REC];
  const matches = matcher(type, predicate);
  const got = rec.queue.filter((e) => matches(e.env));
  assert.equal(
    got.length,
    0,
    `expected no chatzz "${type}" event on socket of ${socket.userId ?? '(unregistered)'}, got ${JSON.stringify(got.map((e) => e.env))}`,
  );
}

/** Remove and return (data of) the buffered, unconsumed events of `type` (all types if omitted). */
export function drain(socket, type) {
  const rec = socket[REC];
  const out = [];
  rec.queue = rec.queue.filter((e) => {
    if (type === undefined || (e.env && e.env.type === type)) {
      out.push(e.env?.data);
      return false;
    }
    return true;
  });
  return out;
}

/** Every `chatzz` event the socket received so far (consumed or not), in order. */
export function received(socket) {
  return socket[REC].log.map((e) => ({ ...e.env, seq: e.seq }));
}

/** Close a socket; resolves once the client side has disconnected. */
export async function closeSocket(socket) {
  if (socket.connected) {
    const done = new Promise((r) => socket.once('disconnect', r));
    socket.close();
    await done;
  } else {
    socket.close();
  }
}

// ---------------------------------------------------------------------------
// Client events

/** Emit with an acknowledgement callback; resolves with the callback's arguments ([err, result]). */
export function emitAck(socket, event, payload = NO_PAYLOAD, timeoutMs = ACK_TIMEOUT_MS) {
  const args = payload === NO_PAYLOAD ? [] : [payload];
  return new Promise((resolve, reject) => {
    socket.timeout(timeoutMs).emit(event, ...args, (timeoutErr, ...ackArgs) => {
      if (timeoutErr) {
        reject(new Error(`no acknowledgement for "${event}" ${describePayload(payload)} within ${timeoutMs} ms`));
      } else {
        resolve(ackArgs);
      }
    });
  });
}

function describePayload(payload) {
  if (payload === NO_PAYLOAD) return '(no argument)';
  try {
    return JSON.stringify(payload);
  } catch {
    return String(payload);
  }
}

/** Emit with a callback and assert success; resolves with the result. */
export async function ackOk(socket, event, payload) {
  const ackArgs = await emitAck(socket, event, payload);
  const [err, result] = ackArgs;
  assert.equal(
    err,
    null,
    `"${event}" ${describePayload(payload)} should succeed, callback got ${JSON.stringify(ackArgs)}`,
  );
  return result;
}

/** Assert that `err` is a protocol error object {code, message} with the given code. */
export function assertError(err, code, context = '') {
  assert.ok(err && typeof err === 'object' && !Array.isArray(err), `${context}expected an error object with code ${code}, got ${JSON.stringify(err)}`);
  assert.equal(err.code, code, `${context}expected error code ${code}, got ${JSON.stringify(err)}`);
  assert.deepEqual(Object.keys(err).sort(), ['code', 'message'], `${context}error must be {code, message}: ${JSON.stringify(err)}`);
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0, `${context}error message must not be empty`);
}

/** Emit with a callback and assert that it fails with `code` (error-first, result null). */
export async function ackError(socket, event, payload, code) {
  const ackArgs = await emitAck(socket, event, payload);
  const [err, result] = ackArgs;
  const ctx = `"${event}" ${describePayload(payload)}: `;
  assertError(err, code, ctx);
  assert.equal(result, null, `${ctx}failed callback must get (err, null), got ${JSON.stringify(ackArgs)}`);
  return err;
}

/** Emit without a callback and assert that an `error` chatzz event with `code` comes back. */
export async function errorEvent(socket, event, payload, code) {
  if (payload === NO_PAYLOAD) socket.emit(event);
  else socket.emit(event, payload);
  const data = await nextChatzz(socket, 'error', (d) => d && d.event === event);
  const ctx = `"${event}" ${describePayload(payload)} (no callback): `;
  assert.deepEqual(Object.keys(data).sort(), ['code', 'event', 'message'], `${ctx}error event data must be {event, code, message}: ${JSON.stringify(data)}`);
  assert.equal(data.code, code, `${ctx}expected code ${code}, got ${JSON.stringify(data)}`);
  assert.equal(typeof data.message, 'string');
  assert.ok(data.message.length > 0);
  return data;
}

// ---------------------------------------------------------------------------
// Shape assertions

export function assertTimestamp(value, label = 'timestamp') {
  assert.equal(typeof value, 'string', `${label} must be an ISO-8601 string, got ${JSON.stringify(value)}`);
  assert.match(value, TS_RE, `${label} must look like 2026-01-02T03:04:05.678Z, got ${value}`);
  assert.ok(!Number.isNaN(Date.parse(value)), `${label} must be a valid date: ${value}`);
}

export function assertTimestampOrNull(value, label = 'timestamp') {
  if (value !== null) assertTimestamp(value, label);
}

/** The fields of a version 1 Message. */
export const V1_MESSAGE_KEYS = ['_id', 'chatRoomId', 'createdAt', 'from', 'message', 'readAt', 'status', 'to'];
/** Version 1.1 adds `editedAt` and `deletedAt`. */
const MESSAGE_KEYS = [...V1_MESSAGE_KEYS, 'deletedAt', 'editedAt'].sort();

/**
 * Assert the exact shape of a (version 1.1) Message. `expected` may hold from, to (user
 * ids), text, status (string or array of allowed strings), chatRoomId, _id, readAt,
 * editedAt and deletedAt (a value, `null`, or 'timestamp' for any timestamp).
 * A tombstone (deletedAt set) must have the text "".
 */
export function assertMessage(m, expected = {}) {
  const ctx = `message ${JSON.stringify(m)}: `;
  assert.ok(m && typeof m === 'object' && !Array.isArray(m), `${ctx}must be an object`);
  assert.deepEqual(Object.keys(m).sort(), MESSAGE_KEYS, `${ctx}must have exactly the fields ${MESSAGE_KEYS.join(', ')}`);
  assert.equal(typeof m._id, 'string', `${ctx}_id must be a string`);
  assert.ok(m._id.length > 0, `${ctx}_id must not be empty`);
  assert.equal(typeof m.chatRoomId, 'string', `${ctx}chatRoomId must be a string`);
  assertTimestamp(m.createdAt, 'createdAt');
  assert.equal(typeof m.message, 'string', `${ctx}message must be a string`);
  assert.ok(['not_sent', 'sent', 'read'].includes(m.status), `${ctx}bad status`);
  if (m.status === 'read') assertTimestamp(m.readAt, 'readAt');
  else assert.equal(m.readAt, null, `${ctx}readAt must be null unless read`);
  assertTimestampOrNull(m.editedAt, 'editedAt');
  assertTimestampOrNull(m.deletedAt, 'deletedAt');
  if (m.deletedAt !== null) assert.equal(m.message, '', `${ctx}a tombstone's text must be ""`);
  if (expected._id !== undefined) assert.equal(m._id, expected._id, `${ctx}_id`);
  if (expected.chatRoomId !== undefined) assert.equal(m.chatRoomId, expected.chatRoomId, `${ctx}chatRoomId`);
  if (expected.from !== undefined) assert.deepEqual(m.from, { _id: expected.from }, `${ctx}from`);
  if (expected.to !== undefined) assert.deepEqual(m.to, { _id: expected.to }, `${ctx}to`);
  if (expected.text !== undefined) assert.equal(m.message, expected.text, `${ctx}message text`);
  if (expected.status !== undefined) {
    const allowed = Array.isArray(expected.status) ? expected.status : [expected.status];
    assert.ok(allowed.includes(m.status), `${ctx}status must be ${allowed.join(' or ')}`);
  }
  for (const field of ['readAt', 'editedAt', 'deletedAt']) {
    if (expected[field] === 'timestamp') assertTimestamp(m[field], field);
    else if (expected[field] !== undefined) assert.equal(m[field], expected[field], `${ctx}${field}`);
  }
}

/** The fields a version 1 client knows of a Message (the rest it ignores). */
export function v1Message(m) {
  return Object.fromEntries(V1_MESSAGE_KEYS.map((k) => [k, m[k]]));
}

/** The fields of a version 1 Contact (no user directory). */
export const V1_CONTACT_KEYS = ['_id', 'chatRoomId', 'lastOnline', 'status'];
/** Version 1.1 adds `unreadCount`, `lastMessage` and `blocked`. */
const CONTACT_KEYS = [...V1_CONTACT_KEYS, 'blocked', 'lastMessage', 'unreadCount'].sort();

/**
 * Assert the exact shape of a (version 1.1) Contact (no user directory: UserDetails is
 * {_id}). `expected` may hold id, chatRoomId, status, lastOnline ('timestamp' for any),
 * unreadCount, blocked, and lastMessage: `null`, a message id, or a Message to equal.
 */
export function assertContact(c, { id, chatRoomId, status, lastOnline, unreadCount, lastMessage, blocked } = {}) {
  const ctx = `contact ${JSON.stringify(c)}: `;
  assert.ok(c && typeof c === 'object' && !Array.isArray(c), `${ctx}must be an object`);
  assert.deepEqual(Object.keys(c).sort(), CONTACT_KEYS, `${ctx}must have exactly the fields ${CONTACT_KEYS.join(', ')}`);
  assert.equal(typeof c.chatRoomId, 'string', `${ctx}chatRoomId must be a string`);
  assert.ok(c.chatRoomId.length > 0, `${ctx}chatRoomId must not be empty`);
  assert.ok(['online', 'offline'].includes(c.status), `${ctx}bad status`);
  assertTimestampOrNull(c.lastOnline, 'lastOnline');
  assert.ok(Number.isInteger(c.unreadCount) && c.unreadCount >= 0, `${ctx}unreadCount must be a count`);
  assert.equal(typeof c.blocked, 'boolean', `${ctx}blocked must be a boolean`);
  if (c.lastMessage !== null) {
    assertMessage(c.lastMessage, { chatRoomId: c.chatRoomId });
    const ids = [c.lastMessage.from._id, c.lastMessage.to._id].sort();
    assert.ok(ids.includes(c._id), `${ctx}lastMessage must be of the room with this contact`);
  }
  if (id !== undefined) assert.equal(c._id, id, `${ctx}_id`);
  if (chatRoomId !== undefined) assert.equal(c.chatRoomId, chatRoomId, `${ctx}chatRoomId`);
  if (status !== undefined) assert.equal(c.status, status, `${ctx}status`);
  if (lastOnline === 'timestamp') assertTimestamp(c.lastOnline, 'lastOnline');
  else if (lastOnline !== undefined) assert.equal(c.lastOnline, lastOnline, `${ctx}lastOnline`);
  if (unreadCount !== undefined) assert.equal(c.unreadCount, unreadCount, `${ctx}unreadCount`);
  if (blocked !== undefined) assert.equal(c.blocked, blocked, `${ctx}blocked`);
  if (lastMessage === null) assert.equal(c.lastMessage, null, `${ctx}lastMessage must be null`);
  else if (typeof lastMessage === 'string') assert.equal(c.lastMessage?._id, lastMessage, `${ctx}lastMessage must be ${lastMessage}`);
  else if (lastMessage !== undefined) assert.deepEqual(c.lastMessage, lastMessage, `${ctx}lastMessage`);
}

/** The fields a version 1 client knows of a Contact. */
export function v1Contact(c) {
  return Object.fromEntries(V1_CONTACT_KEYS.map((k) => [k, c[k]]));
}

/** Assert the exact shape of user-details data. */
export function assertUserDetails(d, { id, lastOnline } = {}) {
  const ctx = `user-details ${JSON.stringify(d)}: `;
  assert.ok(d && typeof d === 'object' && !Array.isArray(d), `${ctx}must be an object`);
  assert.deepEqual(
    Object.keys(d).sort(),
    ['connectedUsers', 'lastOnline', 'missedMessages', 'status', 'user'],
    `${ctx}must be {user, status, lastOnline, connectedUsers, missedMessages}`,
  );
  if (id !== undefined) assert.deepEqual(d.user, { _id: id }, `${ctx}user`);
  assert.equal(d.status, 'online', `${ctx}status`);
  assertTimestampOrNull(d.lastOnline, 'lastOnline');
  if (lastOnline === 'timestamp') assertTimestamp(d.lastOnline, 'lastOnline');
  else if (lastOnline !== undefined) assert.equal(d.lastOnline, lastOnline, `${ctx}lastOnline`);
  assert.ok(Array.isArray(d.connectedUsers), `${ctx}connectedUsers must be an array`);
  for (const c of d.connectedUsers) assertContact(c);
  assert.ok(d.missedMessages && typeof d.missedMessages === 'object' && !Array.isArray(d.missedMessages), `${ctx}missedMessages must be an object`);
  for (const [sender, list] of Object.entries(d.missedMessages)) {
    assert.ok(Array.isArray(list), `${ctx}missedMessages[${sender}] must be an array`);
    for (const m of list) assertMessage(m, { from: sender, to: id });
  }
}

/** Assert the exact shape of chat-user-status-changed data. */
export function assertStatusChange(d, { id, status }) {
  const ctx = `chat-user-status-changed ${JSON.stringify(d)}: `;
  assert.deepEqual(Object.keys(d).sort(), ['lastOnline', 'status', 'user'], `${ctx}must be {user, status, lastOnline}`);
  assert.deepEqual(d.user, { _id: id }, `${ctx}user`);
  assert.equal(d.status, status, `${ctx}status`);
  assertTimestampOrNull(d.lastOnline, 'lastOnline');
  if (status === 'offline') assertTimestamp(d.lastOnline, 'lastOnline');
}

/** Byte-order comparison of two strings (UTF-8), as the contract defines id order. */
export function byteCompare(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// ---------------------------------------------------------------------------
// Scenario helpers

/**
 * Two connected users who are contacts. Returns {a, b, sa, sb, room}; the
 * chat-user-added event on sb is consumed.
 */
export async function makeContacts(server, { transportA = 'websocket', transportB = 'websocket', prefix = 'u' } = {}) {
  const a = uid(`${prefix}a`);
  const b = uid(`${prefix}b`);
  const sa = await server.connectUser(a, { transport: transportA });
  const sb = await server.connectUser(b, { transport: transportB });
  const contact = await ackOk(sa, 'add-chat-user', { userToAdd: b });
  await nextChatzz(sb, 'chat-user-added', (d) => d._id === a);
  return { a, b, sa, sb, room: contact.chatRoomId };
}

/**
 * Make `userId` known to the server (connect once), then take it offline again.
 * To know when the server has processed the disconnect, a fresh watcher user is
 * made a contact of `userId` and waits for the offline event. Returns
 * {watcher, sw, offline} (offline: the chat-user-status-changed data).
 */
export async function registerOffline(server, userId) {
  const watcher = uid('watcher');
  const sw = await server.connectUser(watcher);
  const s = await server.connectUser(userId);
  await ackOk(s, 'add-chat-user', { userToAdd: watcher });
  const offline = await goOffline(s, sw);
  return { watcher, sw, offline };
}

/**
 * Close `socket` (the user's last) and wait until `watcher` (a contact's socket)
 * sees the offline event. Returns the status-change data.
 */
export async function goOffline(socket, watcher) {
  const id = socket.userId;
  await closeSocket(socket);
  return nextChatzz(watcher, 'chat-user-status-changed', (d) => d.user._id === id && d.status === 'offline');
}

/** The socket's user's contacts by `get-contacts` (ack path); each checked for shape. */
export async function getContacts(socket) {
  const list = await ackOk(socket, 'get-contacts', {});
  assert.ok(Array.isArray(list), `get-contacts must answer an array, got ${JSON.stringify(list)}`);
  for (const c of list) assertContact(c);
  return list;
}

/** Remove and return (data of) the unconsumed events of `type` matching `predicate`. */
export function take(socket, type, predicate = () => true) {
  const rec = socket[REC];
  const out = [];
  rec.queue = rec.queue.filter((e) => {
    if (e.env && e.env.type === type && predicate(e.env.data)) {
      out.push(e.env.data);
      return false;
    }
    return true;
  });
  return out;
}

/** Wait until every socket saw each delivered message of its user become `sent`, then forget what they got. */
export async function settle(sockets, messages) {
  for (const s of sockets) {
    for (const m of messages) {
      const mine = m.from._id === s.userId || m.to._id === s.userId;
      if (mine && m.status === 'sent') await nextChatzz(s, 'message-status-changed', (d) => d._id === m._id && d.status === 'sent');
    }
  }
  for (const s of sockets) drain(s);
}

/** Assert the exact shape and values of messages-read data. */
export function assertMessagesRead(d, expected) {
  assert.deepEqual(
    Object.keys(d).sort(),
    ['chatRoomId', 'count', 'readAt', 'readerId', 'upTo'],
    `messages-read must be {chatRoomId, readerId, upTo, readAt, count}: ${JSON.stringify(d)}`,
  );
  assertTimestamp(d.readAt, 'messages-read readAt');
  assert.deepEqual(d, expected);
}

/** Send a message with the ack path and assert success. */
export async function send(socket, to, text, extra = {}) {
  return ackOk(socket, 'send-message', { userId: to, message: text, ...extra });
}
