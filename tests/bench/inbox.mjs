// connect-user latency for one user, measured with the official socket.io-client over
// WebSocket: connect a fresh socket, emit `connect-user` with an acknowledgement, time
// from the emit to the ack, then (on the same socket) time one `get-contacts`, close,
// repeat. Run by scripts/bench-inbox, which seeds the database and starts the server;
// it prints one JSON object on stdout.
//
// Usage: node tests/bench/inbox.mjs URL USER_ID [--warmup N] [--runs N] [--pause MS]
//        [--contacts N] [--unread N] [--get-contacts 0|1]
// --contacts / --unread: check every ack holds that many contacts and that many unread
// messages in all (a run that does not measure what it claims fails).
// --get-contacts 0: skip get-contacts (a version 1 server does not answer it).

import { io } from 'socket.io-client';

const args = process.argv.slice(2);
const positional = [];
const opts = { warmup: 5, runs: 50, pause: 20, contacts: null, unread: null, 'get-contacts': 1 };
for (let i = 0; i < args.length; i += 1) {
  const a = args[i];
  if (a.startsWith('--')) {
    const key = a.slice(2);
    if (!(key in opts)) throw new Error(`unknown option ${a}`);
    opts[key] = Number(args[(i += 1)]);
  } else {
    positional.push(a);
  }
}
const [url, userId] = positional;
if (!url || !userId) {
  console.error('usage: node tests/bench/inbox.mjs URL USER_ID [--warmup N] [--runs N] [--pause MS] [--contacts N] [--unread N]');
  process.exit(2);
}

const ACK_TIMEOUT_MS = 30000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function open() {
  return new Promise((resolve, reject) => {
    const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: ACK_TIMEOUT_MS });
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => reject(new Error(`connect_error: ${e.message}`)));
  });
}

function emitAck(socket, event, payload) {
  return new Promise((resolve, reject) => {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (timeoutErr, err, result) => {
      if (timeoutErr) reject(new Error(`no ack for ${event} within ${ACK_TIMEOUT_MS} ms`));
      else if (err) reject(new Error(`${event} failed: ${JSON.stringify(err)}`));
      else resolve(result);
    });
  });
}

function closed(socket) {
  return new Promise((resolve) => {
    if (socket.disconnected) return resolve();
    socket.once('disconnect', () => resolve());
    socket.disconnect();
  });
}

/** What the measurement claims: the contact count, the unread total, the order. */
function check(details) {
  const list = details.connectedUsers;
  if (!Array.isArray(list)) throw new Error(`no connectedUsers in ${JSON.stringify(details).slice(0, 200)}`);
  const unread = list.reduce((sum, c) => sum + (c.unreadCount ?? 0), 0);
  const withLast = list.filter((c) => c.lastMessage).length;
  if (opts.contacts !== null && list.length !== opts.contacts) {
    throw new Error(`${list.length} contacts in the ack, expected ${opts.contacts}`);
  }
  if (opts.unread !== null && unread !== opts.unread) {
    throw new Error(`${unread} unread in the ack, expected ${opts.unread}`);
  }
  // Last activity, newest first (only checked where both have a last message).
  for (let i = 1; i < list.length; i += 1) {
    const a = list[i - 1].lastMessage;
    const b = list[i].lastMessage;
    if (a && b && a.createdAt < b.createdAt) throw new Error(`contacts not ordered by last activity at ${i}`);
  }
  return { contacts: list.length, unread, withLastMessage: withLast, missed: Object.values(details.missedMessages ?? {}).flat().length };
}

const connectMs = [];
const ackMs = [];
const contactsMs = [];
let replyBytes = 0;
let summary = null;
let pushedDetails = 0;
for (let i = 0; i < opts.warmup + opts.runs; i += 1) {
  const t0 = nowMs();
  const socket = await open();
  socket.on('chatzz', (e) => {
    if (e?.type === 'user-details') pushedDetails += 1;
  });
  const t1 = nowMs();
  const details = await emitAck(socket, 'connect-user', { userId });
  const t2 = nowMs();
  const contacts = opts['get-contacts'] ? await emitAck(socket, 'get-contacts', {}) : null;
  const t3 = nowMs();
  summary = check(details);
  if (contacts && (!Array.isArray(contacts) || contacts.length !== details.connectedUsers.length)) {
    throw new Error('get-contacts and connectedUsers differ in length');
  }
  replyBytes = Buffer.byteLength(JSON.stringify(details));
  await closed(socket);
  if (i >= opts.warmup) {
    connectMs.push(t1 - t0);
    ackMs.push(t2 - t1);
    contactsMs.push(t3 - t2);
  }
  // The server records the departure (last online) after the socket closes: let it,
  // so that the next connect-user does not queue behind it.
  await sleep(opts.pause);
}

/** Nearest-rank percentile. */
function pct(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return Number(sorted[rank - 1].toFixed(2));
}
const stats = (v) => ({ p50: pct(v, 50), p90: pct(v, 90), p99: pct(v, 99), max: pct(v, 100) });

console.log(
  JSON.stringify({
    user: userId,
    runs: opts.runs,
    warmup: opts.warmup,
    ...summary,
    replyBytes,
    userDetailsEvents: pushedDetails,
    connectUserMs: stats(ackMs),
    getContactsMs: opts['get-contacts'] ? stats(contactsMs) : null,
    handshakeMs: stats(connectMs),
  }),
);
process.exit(0);
