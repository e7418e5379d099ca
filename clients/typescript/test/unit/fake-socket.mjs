// A stand-in for a socket.io-client Socket: records what the client emits and lets a
// test answer each event (`respond`), push server events, drop and restore the
// connection.

export class FakeSocket {
  constructor({ connected = true } = {}) {
    this.connected = connected;
    this.handlers = new Map();
    /** Every emit: {event, payload, ack}. */
    this.sent = [];
    /** (event, payload) => [err, result] to answer at once, or undefined to leave it unanswered. */
    this.respond = () => undefined;
    this.disconnects = 0;
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(fn);
  }

  off(event, fn) {
    this.handlers.get(event)?.delete(fn);
  }

  fire(event, ...args) {
    for (const fn of [...(this.handlers.get(event) ?? [])]) fn(...args);
  }

  emit(event, payload, ack) {
    if (!this.connected) throw new Error(`emit of ${event} while disconnected`);
    const entry = { event, payload, ack };
    this.sent.push(entry);
    const reply = this.respond(event, payload, entry);
    if (reply) queueMicrotask(() => ack(...reply));
  }

  /** A server event. */
  push(type, data) {
    this.fire('chatzz', { type, data });
  }

  connect() {
    this.connected = true;
    this.fire('connect');
  }

  disconnect() {
    this.drop('io client disconnect');
  }

  drop(reason = 'transport close') {
    if (!this.connected) return;
    this.connected = false;
    this.disconnects += 1;
    this.fire('disconnect', reason);
  }

  emitted(event) {
    return this.sent.filter((e) => e.event === event);
  }
}

export const tick = () => new Promise((r) => setTimeout(r, 0));

/** Waits until `cond()` holds (polling), or fails after `ms`. */
export async function until(cond, ms = 2000, what = 'condition') {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let seq = 0;
/** A protocol Message. */
export function message({ id, room = 'r1', from = 'alice', to = 'bob', text = 'hi', status = 'sent', ...rest } = {}) {
  seq += 1;
  return {
    _id: id ?? String(seq).padStart(20, '0'),
    chatRoomId: room,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, seq)).toISOString(),
    from: { _id: from },
    to: { _id: to },
    message: text,
    status,
    readAt: null,
    editedAt: null,
    deletedAt: null,
    ...rest,
  };
}

export function contact(id, { room = 'r1', status = 'online', unreadCount = 0, lastMessage = null } = {}) {
  return { _id: id, chatRoomId: room, status, lastOnline: null, unreadCount, lastMessage, blocked: false };
}

export function details(user, { contacts = [], missed = {} } = {}) {
  return { user: { _id: user }, status: 'online', lastOnline: null, connectedUsers: contacts, missedMessages: missed };
}

/**
 * A tiny chatzz in memory for `send-message` and `get-old-messages` between `me` and
 * `peer`: dedupes by clientMessageId as the server does. `failNext(code)` makes the
 * next send fail with that code after storing (for `stored-then-unavailable`) or before.
 */
export function fakeServer(socket, { me = 'alice', peer = 'bob', room = 'r1', contacts } = {}) {
  const stored = [];
  const byClientId = new Map();
  const plan = [];
  let n = 0;
  socket.respond = (event, payload) => {
    if (event === 'connect-user') {
      const lastMessage = stored[stored.length - 1] ?? null;
      return [null, details(me, { contacts: contacts ?? [contact(peer, { room, lastMessage })] })];
    }
    if (event === 'send-message') {
      const step = plan.shift();
      if (step === 'drop') return undefined; // no ack at all
      if (step && !step.startsWith('stored-')) return [{ code: step, message: `fake ${step}` }, null];
      let m = byClientId.get(payload.clientMessageId);
      if (!m) {
        n += 1;
        m = message({ id: String(n).padStart(20, '0'), room, from: me, to: payload.userId, text: payload.message });
        stored.push(m);
        if (payload.clientMessageId) byClientId.set(payload.clientMessageId, m);
      }
      if (step) return step === 'stored-drop' ? undefined : [{ code: step.slice(7), message: 'fake' }, null];
      return [null, m];
    }
    if (event === 'get-old-messages') {
      let list = stored.filter((m) => payload.after === undefined || m._id > payload.after);
      list = list.slice(0, payload.limit ?? 50);
      return [null, list];
    }
    return [null, null];
  };
  return { stored, plan, addStored: (m) => stored.push(m) };
}
