/*! @chatzz/client 0.1.0 (MIT), bundled for the chatzz demo page by
 * clients/typescript/scripts/bundle-demo.mjs: generated, do not edit. It uses the global `io`
 * of /assets/socket.io.min.js (socket.io-client, MIT: socket.io-client.LICENSE). */
"use strict";
var chatzz = (() => {
  var __defProp = Object.defineProperty;
  var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
  var __getOwnPropNames = Object.getOwnPropertyNames;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __defNormalProp = (obj, key, value) => key in obj ? __defProp(obj, key, { enumerable: true, configurable: true, writable: true, value }) : obj[key] = value;
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };
  var __copyProps = (to, from, except, desc) => {
    if (from && typeof from === "object" || typeof from === "function") {
      for (let key of __getOwnPropNames(from))
        if (!__hasOwnProp.call(to, key) && key !== except)
          __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
    }
    return to;
  };
  var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);
  var __publicField = (obj, key, value) => __defNormalProp(obj, typeof key !== "symbol" ? key + "" : key, value);

  // dist/esm/index.js
  var index_exports = {};
  __export(index_exports, {
    CLIENT_EVENTS: () => CLIENT_EVENTS,
    ChatzzClient: () => ChatzzClient,
    ChatzzError: () => ChatzzError,
    ConversationState: () => ConversationState,
    Outbox: () => Outbox,
    PROTOCOL_ERROR_CODES: () => PROTOCOL_ERROR_CODES,
    Room: () => Room,
    SERVER_EVENT: () => SERVER_EVENT,
    SERVER_EVENT_TYPES: () => SERVER_EVENT_TYPES,
    compareIds: () => compareIds,
    connect: () => connect,
    isChatzzError: () => isChatzzError,
    mergeMessage: () => mergeMessage,
    newClientMessageId: () => newClientMessageId
  });

  // dist/esm/protocol.js
  var SERVER_EVENT = "chatzz";

  // dist/esm/events.js
  var CLIENT_EVENTS = [
    "connect-user",
    "add-chat-user",
    "get-old-messages",
    "send-message",
    "message-read",
    "get-contacts",
    "edit-message",
    "delete-message",
    "typing",
    "block-user",
    "unblock-user"
  ];
  var SERVER_EVENT_TYPES = [
    "user-details",
    "chat-user-status-changed",
    "chat-user-added",
    "new-message",
    "message-status-changed",
    "old-messages",
    "contacts",
    "message-updated",
    "messages-read",
    "typing",
    "error"
  ];

  // dist/esm/errors.js
  var PROTOCOL_ERROR_CODES = [
    "not-connected",
    "invalid-argument",
    "unknown-user",
    "not-a-contact",
    "not-found",
    "forbidden",
    "rate-limited",
    "unavailable",
    "internal"
  ];
  var ChatzzError = class _ChatzzError extends Error {
    constructor(code, message, event) {
      super(message);
      __publicField(this, "code");
      /** The client event that failed, if any. */
      __publicField(this, "event");
      this.name = "ChatzzError";
      this.code = code;
      this.event = event;
    }
    /** Whether the same request may succeed later (a send retried with its `clientMessageId` is stored once). */
    get retryable() {
      return RETRYABLE.has(this.code);
    }
    /** Builds the error from a protocol `{code, message}` object (or whatever came instead). */
    static fromWire(err, event) {
      if (err && typeof err === "object") {
        const { code, message } = err;
        if (typeof code === "string") {
          const known = PROTOCOL_ERROR_CODES.includes(code);
          return new _ChatzzError(known ? code : "internal", String(message ?? code), event);
        }
      }
      return new _ChatzzError("bad-reply", `unexpected error value ${JSON.stringify(err)}`, event);
    }
  };
  var RETRYABLE = /* @__PURE__ */ new Set(["unavailable", "rate-limited", "timeout", "disconnected", "not-connected"]);
  function isChatzzError(e) {
    return e instanceof ChatzzError;
  }

  // dist/esm/backoff.js
  function backoffDelay(attempt, { minDelayMs = 250, maxDelayMs = 5e3 } = {}) {
    const base = Math.min(maxDelayMs, minDelayMs * 2 ** Math.max(0, attempt - 1));
    return base / 2 + Math.random() * (base / 2);
  }

  // dist/esm/ids.js
  function compareIds(a, b) {
    if (a === b)
      return 0;
    const ia = a[Symbol.iterator]();
    const ib = b[Symbol.iterator]();
    for (; ; ) {
      const x = ia.next();
      const y = ib.next();
      if (x.done || y.done)
        return x.done ? y.done ? 0 : -1 : 1;
      const d = x.value.codePointAt(0) - y.value.codePointAt(0);
      if (d !== 0)
        return d < 0 ? -1 : 1;
    }
  }
  function newClientMessageId() {
    const c = globalThis.crypto;
    if (c?.randomUUID)
      return c.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  }

  // dist/esm/catchup.js
  async function catchUp(state, { fetchPage, pageSize, onRoomError }) {
    const done = [];
    for (const room of state.allRooms) {
      if (room.live)
        continue;
      try {
        while (room.cursor !== void 0 && before(room.cursor, room.target)) {
          const page = await fetchPage({ userId: room.peerId, after: room.cursor, limit: pageSize });
          if (page.length === 0)
            break;
          state.putMessages(page);
          room.cursor = page[page.length - 1]._id;
        }
      } catch (e) {
        if (!(e instanceof ChatzzError) || e.retryable)
          throw e;
        onRoomError(e);
      }
      state.resume(room);
      done.push(room.chatRoomId);
    }
    return done;
  }
  function before(cursor, target) {
    if (target === void 0)
      return false;
    return target === "until-empty" || compareIds(cursor, target.id) < 0;
  }

  // dist/esm/emitter.js
  var Emitter = class {
    constructor() {
      __publicField(this, "handlers", /* @__PURE__ */ new Map());
    }
    /** Subscribes; returns the function that unsubscribes. */
    on(event, handler) {
      let set = this.handlers.get(event);
      if (!set)
        this.handlers.set(event, set = /* @__PURE__ */ new Set());
      set.add(handler);
      return () => this.off(event, handler);
    }
    off(event, handler) {
      this.handlers.get(event)?.delete(handler);
    }
    emit(event, value) {
      for (const handler of [...this.handlers.get(event) ?? []])
        handler(value);
    }
  };

  // dist/esm/outbox.js
  var Outbox = class {
    constructor(hooks, options = {}) {
      __publicField(this, "hooks");
      __publicField(this, "options");
      __publicField(this, "queue", []);
      __publicField(this, "flushing", false);
      __publicField(this, "closed", false);
      __publicField(this, "wake");
      this.hooks = hooks;
      this.options = options;
    }
    /** Messages not stored yet, in sending order. */
    get pending() {
      return this.queue.map((e) => e.pending);
    }
    send(to, message, clientMessageId = newClientMessageId()) {
      const pending = {
        clientMessageId,
        to,
        message,
        queuedAt: (/* @__PURE__ */ new Date()).toISOString(),
        state: "sending",
        attempts: 0
      };
      let entry;
      const sent = new Promise((resolve, reject) => {
        entry = { pending, resolve, reject };
      });
      if (this.closed) {
        entry.reject(new ChatzzError("closed", "the client is closed", "send-message"));
        return { pending, sent };
      }
      this.queue.push(entry);
      this.hooks.onPending?.(pending, "queued");
      this.kick();
      return { pending, sent };
    }
    /** Flushes the queue if a session is up (called on every new session, too). */
    kick() {
      this.wake?.();
      if (this.flushing || this.closed || !this.hooks.ready())
        return;
      this.flushing = true;
      void this.flush().finally(() => {
        this.flushing = false;
        if (this.queue.length > 0 && this.hooks.ready() && !this.closed)
          this.kick();
      });
    }
    /** Rejects everything still queued with `closed`. */
    close() {
      this.closed = true;
      this.wake?.();
      for (const e of this.queue.splice(0))
        e.reject(new ChatzzError("closed", "the client is closed", "send-message"));
    }
    async flush() {
      let failures = 0;
      while (this.queue.length > 0 && !this.closed && this.hooks.ready()) {
        const entry = this.queue[0];
        const p = entry.pending;
        p.attempts += 1;
        try {
          const message = await this.hooks.send({ userId: p.to, message: p.message, clientMessageId: p.clientMessageId });
          if (this.closed)
            return;
          this.settle(entry, message);
          failures = 0;
        } catch (e) {
          const error = e instanceof ChatzzError ? e : new ChatzzError("internal", String(e), "send-message");
          if (this.closed)
            return;
          const giveUp = !error.retryable || p.attempts >= (this.options.maxAttempts ?? Infinity);
          if (giveUp) {
            this.settle(entry, void 0, error);
            continue;
          }
          this.hooks.onPending?.(p, "updated");
          if (error.code === "disconnected")
            return;
          failures += 1;
          await this.pause(backoffDelay(failures, this.options));
        }
      }
    }
    settle(entry, message, error) {
      if (this.queue[0] === entry)
        this.queue.shift();
      if (error) {
        entry.pending.state = "failed";
        entry.pending.error = { code: error.code, message: error.message };
      }
      this.hooks.onSettled?.(entry.pending, message);
      if (message)
        entry.resolve(message);
      else
        entry.reject(error);
    }
    /** Waits `ms`, or less if the outbox is kicked (a new session) or closed meanwhile. */
    pause(ms) {
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.wake = void 0;
          resolve();
        };
        const timer = setTimeout(done, ms);
        this.wake = done;
      });
    }
  };

  // dist/esm/request.js
  var InFlight = class {
    constructor() {
      __publicField(this, "waiting", /* @__PURE__ */ new Set());
    }
    /** Emits `event` and waits at most `timeoutMs` for its callback. */
    emit(socket, event, payload, timeoutMs) {
      return new Promise((resolve, reject) => {
        const fail = (e) => {
          if (!this.waiting.delete(fail))
            return;
          clearTimeout(timer);
          reject(e);
        };
        const timer = setTimeout(() => fail(new ChatzzError("timeout", `no acknowledgement for "${event}" within ${timeoutMs} ms`, event)), timeoutMs);
        this.waiting.add(fail);
        socket.emit(event, payload, (err, result) => {
          if (!this.waiting.delete(fail))
            return;
          clearTimeout(timer);
          if (err !== null && err !== void 0)
            reject(ChatzzError.fromWire(err, event));
          else
            resolve(result);
        });
      });
    }
    /** Rejects every waiting request (the connection went away: their acks will never come). */
    failAll(error) {
      for (const fail of [...this.waiting])
        fail(error());
    }
  };

  // dist/esm/merge.js
  var RANK = { not_sent: 0, sent: 1, read: 2 };
  function mergeMessage(known, incoming) {
    const merged = { ...known, ...incoming };
    if (RANK[known.status] > RANK[incoming.status])
      merged.status = known.status;
    merged.readAt = incoming.readAt ?? known.readAt ?? null;
    const knownEdit = known.editedAt ?? "";
    const incomingEdit = incoming.editedAt ?? "";
    if (knownEdit > incomingEdit) {
      merged.editedAt = known.editedAt ?? null;
      merged.message = known.message;
    }
    const deletedAt = known.deletedAt ?? incoming.deletedAt;
    if (deletedAt) {
      merged.deletedAt = deletedAt;
      merged.message = "";
    }
    return merged;
  }
  function isDeleted(m) {
    return Boolean(m.deletedAt);
  }

  // dist/esm/room.js
  var Room = class {
    constructor(chatRoomId, peerId, live) {
      __publicField(this, "chatRoomId");
      /** The other user of the room. */
      __publicField(this, "peerId");
      __publicField(this, "list", []);
      __publicField(this, "byId", /* @__PURE__ */ new Map());
      /**
       * Every message of the room up to this id that the state has loaded at all is known
       * (from the oldest loaded one on): catch-up asks the server for what comes after it.
       */
      __publicField(this, "cursor");
      /**
       * Whether live events move the cursor: false from a disconnect (or, for a room the
       * state learns of then, from a session's start) until catch-up is done.
       */
      __publicField(this, "live");
      /**
       * The room's newest message when the session began (its contact's `lastMessage`).
       * The server joins the socket to its user before reading that, so every later message
       * comes live: catch-up only has to reach this id. `until-empty` (a version 1 server,
       * which sends no `lastMessage`): read until an empty page.
       */
      __publicField(this, "target");
      this.chatRoomId = chatRoomId;
      this.peerId = peerId;
      this.live = live;
    }
    /** Oldest first. */
    get messages() {
      return this.list;
    }
    get(id) {
      return this.byId.get(id);
    }
    get newest() {
      return this.list[this.list.length - 1];
    }
    /** Adds or merges a message; returns what was known of it before (undefined if new). */
    put(message) {
      const known = this.byId.get(message._id);
      const stored = known ? mergeMessage(known, message) : message;
      this.byId.set(stored._id, stored);
      const at = this.indexOf(stored._id);
      if (known)
        this.list[at] = stored;
      else
        this.list.splice(at, 0, stored);
      if (this.live && (this.cursor === void 0 || compareIds(stored._id, this.cursor) > 0))
        this.cursor = stored._id;
      return known;
    }
    /** Replaces a stored message in place (same id), e.g. to mark it read. */
    replace(message) {
      if (!this.byId.has(message._id))
        return;
      this.byId.set(message._id, message);
      this.list[this.indexOf(message._id)] = message;
    }
    /** The position of `id` in the sorted list, or where it would go. */
    indexOf(id) {
      let lo = 0;
      let hi = this.list.length;
      while (lo < hi) {
        const mid = lo + hi >>> 1;
        if (compareIds(this.list[mid]._id, id) < 0)
          lo = mid + 1;
        else
          hi = mid;
      }
      return lo;
    }
  };

  // dist/esm/state.js
  var ConversationState = class extends Emitter {
    constructor() {
      super(...arguments);
      __publicField(this, "me");
      __publicField(this, "contactsById", /* @__PURE__ */ new Map());
      __publicField(this, "rooms", /* @__PURE__ */ new Map());
      __publicField(this, "roomOfPeer", /* @__PURE__ */ new Map());
      __publicField(this, "pendingByPeer", /* @__PURE__ */ new Map());
      __publicField(this, "typingUntil", /* @__PURE__ */ new Map());
      /** Whether a session is up and seeded: a room learnt of now has no past to catch up. */
      __publicField(this, "sessionLive", false);
    }
    // -------------------------------------------------------------------------
    // Reading
    /** Contacts, by last activity, newest first. */
    get contacts() {
      const activity = (c) => this.roomWith(c._id)?.newest?.createdAt ?? c.lastMessage?.createdAt ?? "";
      return [...this.contactsById.values()].sort((a, b) => activity(a) < activity(b) ? 1 : activity(a) > activity(b) ? -1 : 0);
    }
    contact(userId) {
      return this.contactsById.get(userId);
    }
    /** The room shared with `peerId`, if the state knows it. */
    roomWith(peerId) {
      const id = this.roomOfPeer.get(peerId);
      return id === void 0 ? void 0 : this.rooms.get(id);
    }
    room(chatRoomId) {
      return this.rooms.get(chatRoomId);
    }
    get allRooms() {
      return [...this.rooms.values()];
    }
    /** Stored messages with `peerId`, oldest first. */
    messagesWith(peerId) {
      return this.roomWith(peerId)?.messages ?? [];
    }
    /** Messages to `peerId` not acknowledged yet (or failed), in sending order: render them after the stored ones. */
    pendingFor(peerId) {
      return this.pendingByPeer.get(peerId) ?? [];
    }
    isTyping(userId, now = Date.now()) {
      return (this.typingUntil.get(userId) ?? 0) > now;
    }
    // -------------------------------------------------------------------------
    // Server events, in order
    apply(envelope) {
      switch (envelope.type) {
        case "user-details":
          this.applySession(envelope.data);
          return;
        case "chat-user-status-changed": {
          const { user, status, lastOnline } = envelope.data;
          const c = this.contactsById.get(user._id);
          if (c)
            this.contactsById.set(user._id, { ...c, ...user, status, lastOnline });
          break;
        }
        case "chat-user-added":
          this.upsertContact(envelope.data);
          break;
        case "new-message":
        case "message-status-changed":
        case "message-updated":
          this.putMessage(envelope.data, envelope.type === "new-message");
          if (envelope.type === "new-message")
            this.typingUntil.delete(envelope.data.from._id);
          break;
        case "old-messages":
          for (const m of envelope.data)
            this.putMessage(m);
          break;
        case "contacts":
          this.setContacts(envelope.data);
          break;
        case "messages-read":
          this.applyRead(envelope.data);
          break;
        case "typing": {
          const { userId, typing, expiresInMs } = envelope.data;
          if (typing)
            this.typingUntil.set(userId, Date.now() + expiresInMs);
          else
            this.typingUntil.delete(userId);
          break;
        }
        case "error":
          break;
      }
      this.emit("change", { kind: envelope.type, ...peerOf(envelope, this.me?._id) });
    }
    /**
     * A session began (`user-details`, first or after a reconnect). Every room waits for
     * catch-up (`resume`) before it follows live events again. A room seen for the first
     * time starts at its oldest missed message if any (catch-up then loads everything
     * after it), else at its newest message.
     */
    applySession(details) {
      this.me = details.user;
      this.sessionLive = false;
      for (const c of details.connectedUsers) {
        this.upsertContact(c);
        const room = this.ensureRoom(c.chatRoomId, c._id);
        room.live = false;
        const start = details.missedMessages[c._id]?.[0] ?? c.lastMessage ?? void 0;
        if (room.cursor === void 0 && start) {
          room.put(start);
          room.cursor = start._id;
        }
        room.target = c.lastMessage === void 0 ? "until-empty" : c.lastMessage ? { id: c.lastMessage._id } : void 0;
        if (c.lastMessage)
          room.put(c.lastMessage);
      }
      for (const list of Object.values(details.missedMessages))
        for (const m of list)
          this.putMessage(m);
      this.sessionLive = true;
      this.emit("change", { kind: "session" });
    }
    /** The connection went away: what comes until catch-up is done may leave holes. */
    suspend() {
      this.sessionLive = false;
      for (const room of this.rooms.values())
        room.live = false;
      this.typingUntil.clear();
      this.emit("change", { kind: "disconnect" });
    }
    /** Catch-up of `room` is done: the cursor follows live events again. */
    resume(room) {
      const newest = room.newest;
      if (newest && (room.cursor === void 0 || compareIds(newest._id, room.cursor) > 0))
        room.cursor = newest._id;
      room.live = true;
      room.target = void 0;
    }
    /** A history page or an acknowledged message (merged by id, never duplicated). */
    putMessages(messages, kind = "history") {
      for (const m of messages)
        this.putMessage(m);
      if (messages.length > 0)
        this.emit("change", { kind, peerId: this.peerOf(messages[0]) });
    }
    setContacts(list) {
      for (const c of list)
        this.upsertContact(c);
    }
    upsertContact(contact) {
      this.contactsById.set(contact._id, { ...this.contactsById.get(contact._id), ...contact });
      this.ensureRoom(contact.chatRoomId, contact._id);
      this.emit("change", { kind: "contact", peerId: contact._id });
    }
    setBlocked(userId, blocked) {
      const c = this.contactsById.get(userId);
      if (c)
        this.upsertContact({ ...c, blocked });
    }
    /** This socket read up to `message` (the `message-read` reply: the server tells this socket nothing else). */
    applyOwnRead(message) {
      this.putMessage(message);
      this.applyRead({
        chatRoomId: message.chatRoomId,
        readerId: message.to._id,
        upTo: message._id,
        readAt: message.readAt ?? (/* @__PURE__ */ new Date()).toISOString(),
        count: 0
      });
      this.emit("change", { kind: "read", peerId: message.from._id });
    }
    // -------------------------------------------------------------------------
    // Pending messages (the outbox's optimistic echo)
    addPending(p) {
      const list = this.pendingByPeer.get(p.to) ?? [];
      this.pendingByPeer.set(p.to, [...list, p]);
      this.emit("change", { kind: "pending", peerId: p.to });
    }
    updatePending(p) {
      const list = this.pendingByPeer.get(p.to) ?? [];
      this.pendingByPeer.set(p.to, list.map((q) => q.clientMessageId === p.clientMessageId ? p : q));
      this.emit("change", { kind: "pending", peerId: p.to });
    }
    /** The pending message was stored as `message`: it leaves the pending list for the room. */
    settlePending(p, message) {
      const list = (this.pendingByPeer.get(p.to) ?? []).filter((q) => q.clientMessageId !== p.clientMessageId);
      this.pendingByPeer.set(p.to, list);
      if (message)
        this.putMessage(message);
      this.emit("change", { kind: "pending", peerId: p.to });
    }
    // -------------------------------------------------------------------------
    ensureRoom(chatRoomId, peerId) {
      let room = this.rooms.get(chatRoomId);
      if (!room)
        this.rooms.set(chatRoomId, room = new Room(chatRoomId, peerId, this.sessionLive));
      this.roomOfPeer.set(peerId, chatRoomId);
      return room;
    }
    peerOf(m) {
      return m.from._id === this.me?._id ? m.to._id : m.from._id;
    }
    /** `isNews`: a `new-message` event, the only copy the server's unread count did not include yet. */
    putMessage(m, isNews = false) {
      const room = this.ensureRoom(m.chatRoomId, this.peerOf(m));
      const known = room.put(m);
      const stored = room.get(m._id);
      const toMe = stored.to._id === this.me?._id;
      const c = this.contactsById.get(room.peerId);
      if (!toMe || !c || c.unreadCount === void 0)
        return;
      const wasUnread = known ? known.status !== "read" && !isDeleted(known) : false;
      const isUnread = stored.status !== "read" && !isDeleted(stored);
      if (!known && isUnread && isNews)
        c.unreadCount += 1;
      else if (wasUnread && !isUnread)
        c.unreadCount = Math.max(0, c.unreadCount - 1);
    }
    applyRead(read) {
      const room = this.rooms.get(read.chatRoomId);
      if (!room)
        return;
      let changed = 0;
      for (const m of room.messages) {
        if (compareIds(m._id, read.upTo) > 0)
          break;
        if (m.to._id === read.readerId && m.status !== "read") {
          room.replace({ ...m, status: "read", readAt: read.readAt });
          if (!isDeleted(m))
            changed += 1;
        }
      }
      const c = this.contactsById.get(room.peerId);
      if (read.readerId === this.me?._id && c?.unreadCount !== void 0) {
        const oldest = room.messages[0];
        const loadedFromUpTo = oldest !== void 0 && compareIds(oldest._id, read.upTo) <= 0;
        c.unreadCount = loadedFromUpTo ? room.messages.filter((m) => m.to._id === this.me?._id && m.status !== "read" && !isDeleted(m)).length : Math.max(0, c.unreadCount - Math.max(changed, read.count));
      }
    }
  };
  function peerOf(envelope, me) {
    const d = envelope.data;
    if (d && typeof d === "object" && !Array.isArray(d)) {
      if (d.from && d.to)
        return { peerId: d.from._id === me ? d.to._id : d.from._id };
      if (d.user)
        return { peerId: d.user._id };
      if (typeof d.userId === "string")
        return { peerId: d.userId };
      if (typeof d._id === "string")
        return { peerId: d._id };
    }
    return {};
  }

  // dist/esm/client.js
  var ChatzzClient = class extends Emitter {
    constructor(socket, options = {}) {
      super();
      __publicField(this, "socket");
      __publicField(this, "state");
      __publicField(this, "options");
      __publicField(this, "inFlight", new InFlight());
      __publicField(this, "outbox");
      __publicField(this, "details");
      /** Counts connections, so that work of an old one stops when a new one begins. */
      __publicField(this, "generation", 0);
      __publicField(this, "sessionUp", false);
      __publicField(this, "closed", false);
      __publicField(this, "readyWaiters", /* @__PURE__ */ new Set());
      __publicField(this, "onConnect", () => {
        const generation = ++this.generation;
        void this.register(generation);
      });
      __publicField(this, "onDisconnect", (reason) => {
        this.generation += 1;
        this.sessionUp = false;
        this.inFlight.failAll(() => new ChatzzError("disconnected", `the connection went away (${reason})`));
        this.state.suspend();
        this.emit("session-lost", { reason });
      });
      __publicField(this, "onServerEvent", (envelope) => {
        if (!envelope || typeof envelope !== "object" || typeof envelope.type !== "string")
          return;
        if (envelope.type !== "user-details")
          this.state.apply(envelope);
        this.emit(envelope.type, envelope.data);
      });
      this.socket = socket;
      this.options = options;
      this.state = options.state ?? new ConversationState();
      this.outbox = new Outbox({
        send: (payload) => this.call("send-message", payload),
        ready: () => this.sessionUp,
        onPending: (p, change) => change === "queued" ? this.state.addPending(p) : this.state.updatePending(p),
        onSettled: (p, message) => message ? this.state.settlePending(p, message) : this.state.updatePending(p)
      }, { ...options.retry, ...options.outbox });
      socket.on("connect", this.onConnect);
      socket.on("disconnect", this.onDisconnect);
      socket.on(SERVER_EVENT, this.onServerEvent);
      if (socket.connected)
        this.onConnect();
    }
    /** The latest `user-details` (undefined before the first session). */
    get session() {
      return this.details;
    }
    /** Whether a session is up: connected and registered. */
    get ready() {
      return this.sessionUp;
    }
    /** Resolves once a session is up. */
    whenReady() {
      if (this.sessionUp)
        return Promise.resolve(this.details);
      return new Promise((resolve) => {
        const done = () => {
          this.readyWaiters.delete(done);
          resolve(this.details);
        };
        this.readyWaiters.add(done);
      });
    }
    // -------------------------------------------------------------------------
    // One method per client event
    /** `connect-user`: registers this socket (done on every connect by the client itself). */
    connectUser() {
      const payload = this.options.userId === void 0 ? {} : { userId: this.options.userId };
      return this.emitNow("connect-user", payload);
    }
    /** `add-chat-user`: links the two users; idempotent. */
    async addChatUser(userToAdd) {
      const contact = await this.call("add-chat-user", { userToAdd });
      this.state.upsertContact(contact);
      return contact;
    }
    /** `send-message`, one attempt. Prefer `send`, which retries safely. */
    async sendMessage(userId, message, clientMessageId) {
      const stored = await this.call("send-message", { userId, message, ...clientMessageId === void 0 ? {} : { clientMessageId } });
      this.state.putMessages([stored], "new-message");
      return stored;
    }
    /** `get-old-messages`: a page of history with `userId`, oldest first, merged into the state. */
    async getOldMessages(query) {
      const page = await this.call("get-old-messages", query);
      this.state.putMessages(page);
      return page;
    }
    /** `message-read`: reads up to `messageId` (a message to me). */
    async markRead(messageId) {
      const message = await this.call("message-read", { messageId });
      this.state.applyOwnRead(message);
      return message;
    }
    /** `get-contacts`: every contact, by last activity. */
    async getContacts() {
      const contacts = await this.call("get-contacts", {});
      this.state.setContacts(contacts);
      return contacts;
    }
    /** `edit-message`: my own message, within the edit window. */
    async editMessage(messageId, message) {
      const edited = await this.call("edit-message", { messageId, message });
      this.state.putMessages([edited], "message-updated");
      return edited;
    }
    /** `delete-message`: my own message becomes a tombstone. */
    async deleteMessage(messageId) {
      const tombstone = await this.call("delete-message", { messageId });
      this.state.putMessages([tombstone], "message-updated");
      return tombstone;
    }
    /** `typing`: tells `userId` I started (true) or stopped (false) typing. */
    async typing(userId, typing) {
      await this.call("typing", { userId, typing });
    }
    /** `block-user`. */
    async blockUser(userId) {
      const result = await this.call("block-user", { userId });
      this.state.setBlocked(userId, result.blocked);
      return result;
    }
    /** `unblock-user`. */
    async unblockUser(userId) {
      const result = await this.call("unblock-user", { userId });
      this.state.setBlocked(userId, result.blocked);
      return result;
    }
    /**
     * Reliable send: queues the message in the outbox, which retries it (with one
     * `clientMessageId`) until it is stored. `pending` is at once in `state.pendingFor(to)`.
     */
    send(to, message, clientMessageId) {
      return this.outbox.send(to, message, clientMessageId);
    }
    /** Messages of the outbox not stored yet. */
    get outgoing() {
      return this.outbox.pending;
    }
    /**
     * Any client event, once a session is up (waiting for one at most the ack timeout).
     * Rejects with a ChatzzError.
     */
    async call(event, payload) {
      if (this.closed)
        throw new ChatzzError("closed", "the client is closed", event);
      const timeoutMs = this.ackTimeoutMs;
      const started = Date.now();
      if (!this.sessionUp) {
        const ready = this.whenReady();
        let timer;
        const late = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new ChatzzError("timeout", `no session within ${timeoutMs} ms for "${event}"`, event)), timeoutMs);
        });
        try {
          await Promise.race([ready, late]);
        } finally {
          clearTimeout(timer);
        }
      }
      return this.emitNow(event, payload, Math.max(1, timeoutMs - (Date.now() - started)));
    }
    /** Disconnects for good: pending requests and queued messages fail with `closed`. */
    close() {
      if (this.closed)
        return;
      this.closed = true;
      this.sessionUp = false;
      this.generation += 1;
      this.outbox.close();
      this.inFlight.failAll(() => new ChatzzError("closed", "the client is closed"));
      this.socket.off("connect", this.onConnect);
      this.socket.off("disconnect", this.onDisconnect);
      this.socket.off(SERVER_EVENT, this.onServerEvent);
      this.socket.disconnect();
    }
    // -------------------------------------------------------------------------
    get ackTimeoutMs() {
      return this.options.ackTimeoutMs ?? 1e4;
    }
    emitNow(event, payload, timeoutMs = this.ackTimeoutMs) {
      if (this.closed)
        return Promise.reject(new ChatzzError("closed", "the client is closed", event));
      if (!this.socket.connected)
        return Promise.reject(new ChatzzError("disconnected", "not connected", event));
      return this.inFlight.emit(this.socket, event, payload, timeoutMs);
    }
    /** Sends `connect-user` until it succeeds (or fails for good) on this connection. */
    async register(generation) {
      let details;
      for (let attempt = 1; details === void 0; attempt += 1) {
        try {
          details = await this.connectUser();
        } catch (e) {
          if (generation !== this.generation)
            return;
          const error = e instanceof ChatzzError ? e : new ChatzzError("internal", String(e));
          this.emit("client-error", error);
          if (!error.retryable || error.code === "disconnected")
            return;
          await new Promise((r) => setTimeout(r, backoffDelay(attempt, this.options.retry)));
        }
        if (generation !== this.generation)
          return;
      }
      this.details = details;
      this.state.applySession(details);
      this.sessionUp = true;
      this.emit("session", details);
      for (const done of [...this.readyWaiters])
        done();
      this.outbox.kick();
      await this.catchUp(generation);
    }
    async catchUp(generation) {
      for (let attempt = 1; generation === this.generation; attempt += 1) {
        try {
          const rooms = await catchUp(this.state, {
            fetchPage: (q) => this.call("get-old-messages", q),
            pageSize: this.options.catchUpPageSize ?? 500,
            onRoomError: (e) => this.emit("client-error", e)
          });
          if (generation === this.generation)
            this.emit("caught-up", { rooms });
          return;
        } catch (e) {
          const error = e instanceof ChatzzError ? e : new ChatzzError("internal", String(e));
          if (generation !== this.generation)
            return;
          this.emit("client-error", error);
          if (!error.retryable)
            return;
          await new Promise((r) => setTimeout(r, backoffDelay(attempt, this.options.retry)));
        }
      }
    }
  };

  // global-io:socket.io-client
  function io(...args) {
    if (typeof globalThis.io !== "function") throw new Error("load /assets/socket.io.min.js before chatzz-client.js");
    return globalThis.io(...args);
  }

  // dist/esm/connect.js
  function connect(url, options = {}) {
    const { token, socket, ...clientOptions } = options;
    const s = io(url, { ...authOption(token), ...socket });
    return new ChatzzClient(s, clientOptions);
  }
  function authOption(token) {
    if (token === void 0)
      return {};
    if (typeof token === "string")
      return { auth: { token } };
    return {
      auth: (cb) => {
        void Promise.resolve(token()).then((t) => cb({ token: t }));
      }
    };
  }
  return __toCommonJS(index_exports);
})();
