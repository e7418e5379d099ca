// chatzz demo client: plain ES2020, no framework, no build step.
// Speaks the chatzz wire protocol 1.1 (docs/protocol.md: unread counts, last message and
// order of the contact list, read-up-to, edit and delete, typing, blocking) through socket.io-client v4,
// loaded from /assets/socket.io.min.js as the global `io`. Without the 1.1 contact fields
// (a version 1 server) it counts unread messages from what it has seen.
(() => {
  'use strict';

  const HISTORY_PAGE = 50;
  const CATCH_UP_PAGE = 500;
  const CATCH_UP_MAX_PAGES = 20;
  const ACK_TIMEOUT_MS = 15000;
  const ERROR_VISIBLE_MS = 12000;
  const STATUS_RANK = { not_sent: 0, sent: 1, read: 2 };
  const TICK = '\u2713';
  const DELETED_TEXT = 'message deleted';
  const CONTACTS_REFRESH_MS = 300;
  const TYPING_TEXT = 'typing\u2026';
  const TYPING_RENEW_MS = 2500; // while typing goes on, "typing: true" again at most this often
  const TYPING_IDLE_MS = 4000; // no keystroke for this long: "typing: false"
  const TYPING_MIN_GAP_MS = 250; // between any two typing emits (the server allows 5 a second)
  const TYPING_ACK_TIMEOUT_MS = 5000;
  const TYPING_DEFAULT_MS = 6000; // a contact's "typing: true" without a usable expiresInMs
  const TYPING_MAX_MS = 60000;

  const $ = (id) => document.getElementById(id);
  const els = {
    app: $('app'),
    signInForm: $('sign-in-form'),
    userId: $('user-id'),
    signIn: $('sign-in'),
    me: $('me'),
    meId: $('me-id'),
    connection: $('connection'),
    signOut: $('sign-out'),
    addForm: $('add-contact-form'),
    contactId: $('contact-id'),
    addContact: $('add-contact'),
    addError: $('add-contact-error'),
    contacts: $('contacts'),
    contactsEmpty: $('contacts-empty'),
    chatEmpty: $('chat-empty'),
    chatView: $('chat-view'),
    back: $('back'),
    chatAvatar: $('chat-avatar'),
    chatTitle: $('chat-title'),
    chatPresence: $('chat-presence'),
    blockToggle: $('block-toggle'),
    blockedNote: $('blocked-note'),
    messages: $('messages'),
    loadOlder: $('load-older'),
    historyEmpty: $('history-empty'),
    messageList: $('message-list'),
    typingIndicator: $('typing-indicator'),
    composer: $('composer'),
    input: $('message-input'),
    send: $('send'),
    statusBar: $('status-bar'),
    statusText: $('status-text'),
    statusDismiss: $('status-dismiss'),
  };

  /** The live Socket.IO socket, or null when signed out. */
  let socket = null;
  /** Everything known for the current sign-in; replaced wholesale on sign-in / sign-out. */
  let state = null;

  function freshState(userId) {
    return {
      userId,
      me: { _id: userId },
      ready: false, // connect-user acknowledged on the current connection
      everReady: false,
      // contact user id -> { id, details, chatRoomId, status, lastOnline, blocked,
      //   lastMessage (the server's, kept up to date), base (the server's unread count:
      //   { count, upTo }, or null from a version 1 server), rank (list order, higher first) }
      contacts: new Map(),
      // contact user id -> { messages: Map(id -> Message), historyLoaded, loading, cursor, hasOlder,
      //   readPos (my read position in the room), readRequested (message-read in flight up to) }
      convos: new Map(),
      pending: new Map(), // clientMessageId -> optimistic outgoing message
      activeId: null,
      renames: new Map(), // clientMessageId -> stored _id: lets the optimistic element become the stored one
      rankSeq: 0, // the contact list order: a bump gives the next rank (top of the list)
      menuFor: null, // message id whose action menu is open
      blocking: new Set(), // contact ids with a block-user / unblock-user in flight
      editing: null, // { id, busy } while one of my messages is being edited inline
      refreshTimer: null,
      refreshing: false,
      // contact user id -> expiry timer, while that contact is typing to me
      typingIn: new Map(),
      // What the server last heard from this page about my typing, and what I do now.
      typingOut: {
        to: null, // the contact it was last told "typing: true" about (null: none, or said false since)
        sentAt: 0, // when that "true" was sent
        lastEmitAt: 0, // when any typing event was sent
        wantTo: null, // the contact I am typing to now (null: not typing)
        dirty: false, // keystrokes since the last "true"
        idleTimer: null,
        pumpTimer: null,
      },
    };
  }

  // ---------------------------------------------------------------- helpers

  function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  }

  function str(v) {
    return typeof v === 'string' ? v : v == null ? '' : String(v);
  }

  function newClientMessageId() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; fall back to getRandomValues (available everywhere).
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function normalizeError(err, fallbackCode = 'internal') {
    if (isObject(err)) {
      return {
        code: str(err.code) || fallbackCode,
        message: str(err.message) || 'Something went wrong.',
        event: err.event ? str(err.event) : undefined,
      };
    }
    return { code: fallbackCode, message: str(err) || 'Something went wrong.' };
  }

  /** Emits a client event with an acknowledgement; resolves with the result, rejects with {code, message}. */
  function request(event, payload, timeoutMs = ACK_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const s = socket;
      if (!s || !s.connected) {
        reject({ code: 'offline', message: 'Not connected to the server.' });
        return;
      }
      s.timeout(timeoutMs).emit(event, payload, (timeoutErr, err, result) => {
        if (timeoutErr) {
          reject({ code: 'timeout', message: `No answer from the server to ${event}.` });
        } else if (err) {
          reject(normalizeError(err));
        } else {
          resolve(result);
        }
      });
    });
  }

  function isTransient(err) {
    return ['offline', 'timeout', 'unavailable', 'not-connected'].includes(err && err.code);
  }

  function displayName(details, fallbackId) {
    if (isObject(details)) {
      for (const key of ['name', 'displayName', 'username', 'fullName']) {
        if (typeof details[key] === 'string' && details[key].trim()) return details[key].trim();
      }
      if (details._id != null) return str(details._id);
    }
    return str(fallbackId);
  }

  function initialOf(name) {
    const first = Array.from(name.trim())[0] || '?';
    return first.toUpperCase();
  }

  function hueOf(id) {
    let h = 0;
    for (const ch of id) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return h % 360;
  }

  function paintAvatar(el, id, name) {
    el.textContent = initialOf(name);
    el.style.setProperty('--avatar-hue', String(hueOf(id)));
  }

  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
  const dayYearFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

  function parseDate(iso) {
    if (iso == null) return null;
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function dayKey(d) {
    return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
  }

  function dayDiff(d, now = new Date()) {
    const a = new Date(d.getFullYear(), d.getMonth(), d.getDate());
    const b = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    return Math.round((b - a) / 86400000);
  }

  function dayLabel(d) {
    const diff = dayDiff(d);
    if (diff === 0) return 'Today';
    if (diff === 1) return 'Yesterday';
    return d.getFullYear() === new Date().getFullYear() ? dayFmt.format(d) : dayYearFmt.format(d);
  }

  function lastSeenText(iso) {
    const d = parseDate(iso);
    if (!d) return 'offline';
    const ago = Date.now() - d.getTime();
    if (ago >= -30000 && ago < 60000) return 'last seen just now';
    const diff = dayDiff(d);
    if (diff === 0) return `last seen today at ${timeFmt.format(d)}`;
    if (diff === 1) return `last seen yesterday at ${timeFmt.format(d)}`;
    return `last seen ${dayLabel(d)} at ${timeFmt.format(d)}`;
  }

  function presenceText(contact) {
    if (contact.status === 'online') return 'online';
    if (contact.status === 'offline') return lastSeenText(contact.lastOnline);
    return '';
  }

  // ------------------------------------------------------------- status bar

  let statusTimer = null;

  function setStatus(text, kind = 'info', code = '') {
    els.statusText.textContent = text;
    els.statusBar.dataset.kind = kind;
    if (code) els.statusBar.dataset.errorCode = code;
    else delete els.statusBar.dataset.errorCode;
    els.statusDismiss.hidden = kind === 'info' || kind === 'notice';
    clearTimeout(statusTimer);
    if (kind === 'notice') statusTimer = setTimeout(showConnectionStatus, 4000);
    else if (kind !== 'info') statusTimer = setTimeout(showConnectionStatus, ERROR_VISIBLE_MS);
  }

  function showError(err, event) {
    const e = normalizeError(err);
    const ev = e.event || event;
    setStatus(`${ev ? ev + ' failed: ' : ''}${e.message} (${e.code})`, 'error', e.code);
  }

  function showConnectionStatus() {
    clearTimeout(statusTimer);
    if (!state) return setStatus('Not signed in.');
    const conn = els.connection.dataset.state;
    if (conn === 'online') setStatus(`Connected as ${state.me._id}.`);
    else if (conn === 'connecting') setStatus('Connecting\u2026');
    else setStatus('Offline. Reconnecting\u2026', 'warn');
  }

  function setConnection(conn) {
    els.connection.dataset.state = conn;
    els.connection.title = conn === 'online' ? 'Connected' : conn === 'connecting' ? 'Connecting' : 'Offline';
    if (els.statusBar.dataset.kind !== 'error') showConnectionStatus();
  }

  // ------------------------------------------------------------- model ops

  function myId() {
    return state.me._id;
  }

  function convoOf(contactId) {
    let c = state.convos.get(contactId);
    if (!c) {
      c = {
        messages: new Map(),
        historyLoaded: false,
        loading: false,
        cursor: null,
        hasOlder: false,
        readPos: null,
        readRequested: null,
        rechecked: false,
      };
      state.convos.set(contactId, c);
    }
    return c;
  }

  /** The greater of two message ids (ids compare as strings in creation order); null counts as nothing. */
  function maxIdOf(a, b) {
    if (a == null) return b == null ? null : b;
    if (b == null) return a;
    return a > b ? a : b;
  }

  function timeOf(iso) {
    const d = parseDate(iso);
    return d ? d.getTime() : 0;
  }

  /**
   * Edits and deletes only move forward: a copy of `old` that arrives late (a history page
   * or a contact list asked for before the change) must not bring back older text.
   */
  function keepNewerContent(msg, old) {
    if (old.deletedAt && !msg.deletedAt) {
      msg.message = '';
      msg.deletedAt = old.deletedAt;
      msg.editedAt = old.editedAt ?? msg.editedAt ?? null;
    } else if (!msg.deletedAt && old.editedAt && timeOf(msg.editedAt) < timeOf(old.editedAt)) {
      msg.message = old.message;
      msg.editedAt = old.editedAt;
    }
  }

  /** The server's message as stored here: string id, status and content only moving forward. */
  function mergedCopy(raw, old) {
    const msg = { ...raw, _id: str(raw._id) };
    if (old) {
      const rankNew = STATUS_RANK[msg.status] ?? -1;
      const rankOld = STATUS_RANK[old.status] ?? -1;
      if (rankNew < rankOld) {
        msg.status = old.status;
        msg.readAt = old.readAt;
      }
      keepNewerContent(msg, old);
    }
    return msg;
  }

  /** Moves a contact to the top of the list. */
  function bump(contactId) {
    const ct = state.contacts.get(contactId);
    if (ct) ct.rank = ++state.rankSeq;
  }

  function upsertContact(data, extra = {}) {
    if (!isObject(data) || data._id == null) return null;
    const id = str(data._id);
    if (id === myId()) return null;
    const { chatRoomId, status, lastOnline, unreadCount, lastMessage, blocked, ...details } = data;
    const prev = state.contacts.get(id);
    const contact = {
      id,
      details: { ...(prev ? prev.details : {}), ...details, _id: id },
      chatRoomId: chatRoomId != null ? str(chatRoomId) : prev ? prev.chatRoomId : null,
      status: status === 'online' || status === 'offline' ? status : prev ? prev.status : null,
      lastOnline: lastOnline !== undefined ? lastOnline : prev ? prev.lastOnline : null,
      blocked: typeof blocked === 'boolean' ? blocked : prev ? prev.blocked : false,
      lastMessage: prev ? prev.lastMessage : null,
      base: prev ? prev.base : null,
      rank: prev ? prev.rank : ++state.rankSeq, // a contact new to this page: a new room, on top
      ...extra,
    };
    // Where the conversation stands (protocol 1.1): absent from a version 1 server.
    if (lastMessage !== undefined) {
      const last = isMessage(lastMessage) ? lastMessage : null;
      const old = prev && prev.lastMessage;
      if (last && old && str(last._id) < old._id) {
        // An older answer than what this page saw since: keep the newer one.
      } else {
        contact.lastMessage = last ? mergedCopy(last, old && old._id === str(last._id) ? old : null) : null;
      }
    }
    if (typeof unreadCount === 'number' && Number.isFinite(unreadCount)) {
      contact.base = {
        count: Math.max(0, Math.floor(unreadCount)),
        upTo: isMessage(lastMessage) ? str(lastMessage._id) : null,
      };
    }
    state.contacts.set(id, contact);
    return contact;
  }

  function isMessage(m) {
    return isObject(m) && m._id != null && isObject(m.from) && isObject(m.to);
  }

  function peerOf(m) {
    const from = str(m.from._id);
    const to = str(m.to._id);
    if (from === myId()) return to;
    if (to === myId()) return from;
    return null;
  }

  /** Whether this message id is already stored here. */
  function isKnown(m) {
    if (!isMessage(m)) return false;
    const peer = peerOf(m);
    const c = peer != null ? state.convos.get(peer) : null;
    return !!(c && c.messages.has(str(m._id)));
  }

  /**
   * Stores a message, deduplicated by _id. Status, edits and deletes only move forward.
   * With insert=false, only updates a message that is already known.
   * Returns the contact id of the conversation, or null when nothing was stored.
   */
  function mergeMessage(raw, insert = true) {
    if (!isMessage(raw)) return null;
    const peer = peerOf(raw);
    if (peer == null || peer === myId()) return null;
    // The contact's preview follows its message whether or not the chat is loaded.
    const ct = state.contacts.get(peer);
    if (ct && ct.lastMessage && ct.lastMessage._id === str(raw._id)) {
      ct.lastMessage = mergedCopy(raw, ct.lastMessage);
    }
    const c = convoOf(peer);
    const old = c.messages.get(str(raw._id));
    if (!old && !insert) return null;
    const msg = mergedCopy(raw, old);
    c.messages.set(msg._id, msg);
    if (!state.contacts.has(peer)) {
      // A message from a contact we did not hear about yet: keep it visible anyway.
      upsertContact(str(msg.from._id) === peer ? msg.from : msg.to);
    }
    if (!old && str(msg.from._id) === myId()) settlePendingFor(msg, peer);
    if (state.editing && state.editing.id === msg._id && msg.deletedAt) state.editing = null;
    if (state.menuFor === msg._id && msg.deletedAt) state.menuFor = null;
    return peer;
  }

  /** A stored message of ours arrived before the send-message ack: retire the matching optimistic copy. */
  function settlePendingFor(msg, peer) {
    for (const p of state.pending.values()) {
      if (!p.settledBy && p.to === peer && p.text === msg.message && p.state !== 'failed') {
        p.settledBy = msg._id;
        state.renames.set(p.cmid, msg._id);
        return;
      }
    }
  }

  /**
   * Messages of the room with `contactId` up to `upTo` are read: `incoming` the ones the
   * contact sent me (I read them), otherwise the ones I sent (the contact read them).
   */
  function markReadUpTo(contactId, upTo, readAt, incoming) {
    const c = convoOf(contactId);
    const sender = incoming ? contactId : myId();
    for (const [id, m] of c.messages) {
      if (id <= upTo && str(m.from._id) === sender && m.status !== 'read') {
        c.messages.set(id, { ...m, status: 'read', readAt: m.readAt || readAt || null });
      }
    }
    const ct = state.contacts.get(contactId);
    const last = ct && ct.lastMessage;
    if (last && last._id <= upTo && str(last.from._id) === sender && last.status !== 'read') {
      ct.lastMessage = { ...last, status: 'read', readAt: last.readAt || readAt || null };
    }
    if (incoming) {
      c.readPos = maxIdOf(c.readPos, upTo);
      // Read only part of what the server counted (e.g. the newest message is mine):
      // ask the server where the room stands.
      const base = ct && ct.base;
      if (base && base.count > 0 && base.upTo != null && c.readPos < base.upTo) scheduleContactsRefresh();
    }
  }

  /**
   * Unread messages from a contact: the server's count as of the last contact list (until
   * I read past it), plus those that arrived since, less what was read or deleted here.
   */
  function unreadCount(contactId) {
    const ct = state.contacts.get(contactId);
    const c = state.convos.get(contactId);
    const base = ct ? ct.base : null;
    const readPos = c ? c.readPos : null;
    let n = 0;
    if (base && base.count > 0 && !(readPos != null && base.upTo != null && readPos >= base.upTo)) {
      n += base.count;
    }
    if (c) {
      for (const [id, m] of c.messages) {
        if (str(m.from._id) !== contactId || m.status === 'read' || m.deletedAt) continue;
        if (base && base.upTo != null && id <= base.upTo) continue; // counted by the server
        if (readPos != null && id <= readPos) continue;
        n++;
      }
    }
    return n;
  }

  /** The newest message of the conversation known here: a pending one of mine, else by id. */
  function lastMessageOf(contactId) {
    const pend = Array.from(state.pending.values()).filter((p) => p.to === contactId && !p.settledBy);
    if (pend.length > 0) {
      const p = pend.reduce((a, b) => (b.seq > a.seq ? b : a));
      return { pending: true, fromId: myId(), text: p.text, deleted: false, createdAt: p.createdAt };
    }
    const c = state.convos.get(contactId);
    const ct = state.contacts.get(contactId);
    let best = ct && ct.lastMessage ? ct.lastMessage : null;
    if (c) {
      // The same id here and in the contact list: both copies follow every update.
      for (const [id, m] of c.messages) if (!best || id >= best._id) best = m;
    }
    if (!best) return null;
    return {
      pending: false,
      fromId: str(best.from._id),
      text: str(best.message),
      deleted: !!best.deletedAt,
      edited: !!best.editedAt,
      createdAt: parseDate(best.createdAt),
    };
  }

  /** The newest stored message id of the conversation (history, live and the server's last message). */
  function newestLocalId(contactId) {
    const c = state.convos.get(contactId);
    let max = null;
    if (c) for (const id of c.messages.keys()) max = maxIdOf(max, id);
    return max;
  }

  /**
   * A contact list from the server (connectedUsers, get-contacts): its order is the order
   * of last activity. A conversation that moved here after the server answered stays on top.
   */
  function applyContactList(list) {
    const ids = [];
    for (const contact of list) {
      const c = upsertContact(contact);
      if (c) ids.push(c.id);
    }
    for (let i = ids.length - 1; i >= 0; i--) state.contacts.get(ids[i]).rank = ++state.rankSeq;
    const newer = [];
    for (const id of ids) {
      const ct = state.contacts.get(id);
      const serverLast = ct.lastMessage ? ct.lastMessage._id : null;
      const local = newestLocalId(id);
      const hasPending = Array.from(state.pending.values()).some((p) => p.to === id && !p.settledBy);
      if (hasPending || (local != null && (serverLast == null || local > serverLast))) {
        const last = lastMessageOf(id);
        newer.push([id, last && last.createdAt ? last.createdAt.getTime() : 0]);
      }
    }
    newer.sort((a, b) => a[1] - b[1]);
    for (const [id] of newer) bump(id);
  }

  function applyUserDetails(data) {
    if (!isObject(data)) return;
    if (isObject(data.user) && data.user._id != null) {
      state.me = { ...data.user, _id: str(data.user._id) };
    }
    if (Array.isArray(data.connectedUsers)) applyContactList(data.connectedUsers);
    if (isObject(data.missedMessages)) {
      for (const list of Object.values(data.missedMessages)) {
        if (Array.isArray(list)) for (const m of list) mergeMessage(m);
      }
    }
  }

  /** Asks the server for the contact list again, soon (one request for a burst of reasons). */
  function scheduleContactsRefresh() {
    const st = state;
    if (!st || st.refreshTimer) return;
    st.refreshTimer = setTimeout(async () => {
      st.refreshTimer = null;
      if (st !== state || !st.ready || st.refreshing) return;
      st.refreshing = true;
      try {
        const list = await request('get-contacts', {});
        if (st !== state) return;
        if (Array.isArray(list)) applyContactList(list);
      } catch (err) {
        if (st !== state) return;
        // A version 1 server does not know get-contacts: the counts stay as they are.
        if (!isTransient(err) && err.code !== 'invalid-argument' && err.code !== 'unknown-event') {
          showError(err, 'get-contacts');
        }
      } finally {
        st.refreshing = false;
      }
      scheduleRender();
    }, CONTACTS_REFRESH_MS);
  }

  // ------------------------------------------------------------- typing

  function isTyping(contactId) {
    return !!state && state.typingIn.has(contactId);
  }

  /** A contact started (or stopped) typing to me: shown until false, a message, or expiresInMs. */
  function applyTyping(data) {
    if (!isObject(data) || data.userId == null || typeof data.typing !== 'boolean') return;
    const id = str(data.userId);
    const ct = state.contacts.get(id);
    if (!ct || id === myId()) return;
    if (data.chatRoomId != null && ct.chatRoomId != null && str(data.chatRoomId) !== ct.chatRoomId) return;
    if (!data.typing) {
      clearTyping(id);
      return;
    }
    let ms = Number(data.expiresInMs);
    if (!Number.isFinite(ms) || ms <= 0) ms = TYPING_DEFAULT_MS;
    ms = Math.min(ms, TYPING_MAX_MS);
    const st = state;
    clearTimeout(st.typingIn.get(id));
    st.typingIn.set(
      id,
      setTimeout(() => {
        if (st !== state) return;
        st.typingIn.delete(id);
        scheduleRender();
      }, ms),
    );
  }

  function clearTyping(contactId) {
    if (!state.typingIn.has(contactId)) return;
    clearTimeout(state.typingIn.get(contactId));
    state.typingIn.delete(contactId);
  }

  function clearAllTyping() {
    for (const timer of state.typingIn.values()) clearTimeout(timer);
    state.typingIn.clear();
  }

  /** A keystroke in the composer: typing to the open conversation, or stopped when it is empty. */
  function composerInput() {
    if (!state || state.activeId == null || isBlockedByMe(state.activeId)) return;
    if (!els.input.value.trim()) {
      stopTyping(true);
      return;
    }
    const t = state.typingOut;
    const st = state;
    t.wantTo = state.activeId;
    t.dirty = true;
    clearTimeout(t.idleTimer);
    t.idleTimer = setTimeout(() => {
      if (st === state) stopTyping(true);
    }, TYPING_IDLE_MS);
    pumpTyping();
  }

  /**
   * I stopped typing. With `tell` false the server is not told: it says "typing: false"
   * itself before my message, and when my last socket goes.
   */
  function stopTyping(tell) {
    if (!state) return;
    const t = state.typingOut;
    clearTimeout(t.idleTimer);
    t.idleTimer = null;
    t.wantTo = null;
    t.dirty = false;
    if (!tell) {
      t.to = null;
      clearTimeout(t.pumpTimer);
      t.pumpTimer = null;
      return;
    }
    pumpTyping();
  }

  /**
   * Tells the server what changed: "false" to the contact it last heard "true" about when I
   * stopped or switched, "true" when I start, renewed at most every TYPING_RENEW_MS while
   * keystrokes go on (well within the contact's 6 s), never two events closer than TYPING_MIN_GAP_MS.
   */
  function pumpTyping() {
    const st = state;
    const t = st.typingOut;
    clearTimeout(t.pumpTimer);
    t.pumpTimer = null;
    if (!st.ready) return;
    const now = Date.now();
    let next = null;
    let later = null;
    if (t.to != null && t.to !== t.wantTo) {
      next = { userId: t.to, typing: false };
    } else if (t.wantTo != null && t.to !== t.wantTo) {
      next = { userId: t.wantTo, typing: true };
    } else if (t.wantTo != null && t.dirty) {
      if (now - t.sentAt >= TYPING_RENEW_MS) next = { userId: t.wantTo, typing: true };
      else later = t.sentAt + TYPING_RENEW_MS - now;
    }
    if (next && now - t.lastEmitAt < TYPING_MIN_GAP_MS) {
      later = t.lastEmitAt + TYPING_MIN_GAP_MS - now;
      next = null;
    }
    if (later != null) {
      t.pumpTimer = setTimeout(() => {
        if (st === state) pumpTyping();
      }, later);
    }
    if (!next) return;
    t.lastEmitAt = now;
    if (next.typing) {
      t.to = next.userId;
      t.sentAt = now;
      t.dirty = false;
    } else {
      t.to = null;
    }
    // A lost typing event only shortens or lengthens an indicator by seconds: no retry, no error shown.
    request('typing', next, TYPING_ACK_TIMEOUT_MS).catch(() => {});
    pumpTyping();
  }

  // ------------------------------------------------------------- rendering

  let renderQueued = false;

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      renderAll();
    });
  }

  function renderAll(opts = {}) {
    renderContacts();
    renderChat(opts);
    let total = 0;
    if (state) for (const id of state.contacts.keys()) total += unreadCount(id);
    document.title = total > 0 ? `(${total}) chatzz demo` : 'chatzz demo';
  }

  const contactEls = new Map();

  function contactElement(id) {
    let li = contactEls.get(id);
    if (li) return li;
    li = document.createElement('li');
    li.className = 'contact';
    li.dataset.userId = id;
    li.dataset.testid = 'contact';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'contact-button';
    button.addEventListener('click', () => openChat(id));
    const avatar = document.createElement('span');
    avatar.className = 'avatar';
    avatar.setAttribute('aria-hidden', 'true');
    const dot = document.createElement('span');
    dot.className = 'presence-dot';
    dot.dataset.testid = 'presence-dot';
    const main = document.createElement('span');
    main.className = 'contact-main';
    const top = document.createElement('span');
    top.className = 'contact-top';
    const name = document.createElement('span');
    name.className = 'contact-name';
    const blocked = document.createElement('span');
    blocked.className = 'contact-blocked';
    blocked.dataset.testid = 'contact-blocked';
    blocked.textContent = 'blocked';
    blocked.title = 'You blocked this contact';
    blocked.hidden = true;
    const time = document.createElement('time');
    time.className = 'contact-time';
    time.dataset.testid = 'last-message-time';
    top.append(name, blocked, time);
    const preview = document.createElement('span');
    preview.className = 'contact-preview';
    preview.dataset.testid = 'last-message';
    preview.hidden = true;
    const previewWho = document.createElement('span');
    previewWho.className = 'preview-who';
    const previewText = document.createElement('span');
    previewText.className = 'preview-text';
    preview.append(previewWho, previewText);
    const typing = document.createElement('span');
    typing.className = 'contact-typing';
    typing.dataset.testid = 'contact-typing';
    typing.textContent = TYPING_TEXT;
    typing.hidden = true;
    const presence = document.createElement('span');
    presence.className = 'presence-text';
    presence.dataset.testid = 'presence-text';
    main.append(top, preview, typing, presence);
    const badge = document.createElement('span');
    badge.className = 'unread-count';
    badge.dataset.testid = 'unread-count';
    badge.hidden = true;
    const avatarWrap = document.createElement('span');
    avatarWrap.className = 'avatar-wrap';
    avatarWrap.append(avatar, dot);
    button.append(avatarWrap, main, badge);
    li.append(button);
    li._parts = { button, avatar, dot, name, blocked, time, preview, previewWho, previewText, typing, presence, badge };
    contactEls.set(id, li);
    return li;
  }

  function renderContacts() {
    const list = els.contacts;
    if (!state) {
      list.replaceChildren();
      contactEls.clear();
      els.contactsEmpty.hidden = false;
      els.contactsEmpty.textContent = 'Sign in to see your contacts.';
      return;
    }
    // By last activity, newest first: the server's order, with conversations that got a
    // message since moved to the top.
    const contacts = Array.from(state.contacts.values()).sort((a, b) => b.rank - a.rank);
    const keep = new Set();
    contacts.forEach((c, i) => {
      const li = contactElement(c.id);
      keep.add(c.id);
      const p = li._parts;
      const name = displayName(c.details, c.id);
      paintAvatar(p.avatar, c.id, name);
      p.name.textContent = name;
      p.name.title = name === c.id ? c.id : `${name} (${c.id})`;
      li.dataset.status = c.status || 'unknown';
      li.dataset.blocked = String(!!c.blocked);
      p.blocked.hidden = !c.blocked;
      p.dot.className = `presence-dot ${c.status === 'online' ? 'online' : 'offline'}`;
      p.dot.title = c.status === 'online' ? 'online' : 'offline';
      p.presence.textContent = presenceText(c);
      p.presence.classList.toggle('online', c.status === 'online');
      const last = lastMessageOf(c.id);
      paintPreview(p, last);
      // While the contact types, "typing…" takes the place of the preview line.
      const typing = isTyping(c.id);
      li.dataset.typing = String(typing);
      p.typing.hidden = !typing;
      if (typing) p.preview.hidden = true;
      const unread = unreadCount(c.id);
      li.dataset.unread = String(unread);
      p.badge.hidden = unread === 0;
      p.badge.textContent = unread > 99 ? '99+' : String(unread);
      p.badge.setAttribute('aria-label', `${unread} unread`);
      const active = state.activeId === c.id;
      li.classList.toggle('active', active);
      if (active) p.button.setAttribute('aria-current', 'true');
      else p.button.removeAttribute('aria-current');
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    for (const [id, li] of contactEls) {
      if (!keep.has(id)) {
        li.remove();
        contactEls.delete(id);
      }
    }
    els.contactsEmpty.hidden = contacts.length > 0;
    els.contactsEmpty.textContent = 'No contacts yet. Add one by their user id.';
  }

  /** The contact's preview line: the newest message, "message deleted" for a tombstone. */
  function paintPreview(p, last) {
    p.preview.hidden = !last;
    if (!last) {
      p.time.textContent = '';
      p.time.removeAttribute('datetime');
      p.time.title = '';
      return;
    }
    const who = last.fromId === myId() ? 'You: ' : '';
    if (p.previewWho.textContent !== who) p.previewWho.textContent = who;
    const text = last.deleted ? DELETED_TEXT : last.text.replace(/\s+/g, ' ').trim();
    if (p.previewText.textContent !== text) p.previewText.textContent = text;
    p.preview.classList.toggle('deleted', last.deleted);
    p.preview.classList.toggle('pending', last.pending);
    p.preview.title = last.deleted ? DELETED_TEXT : last.text;
    const d = last.createdAt;
    if (d) {
      p.time.dateTime = d.toISOString();
      p.time.textContent = dayDiff(d) === 0 ? timeFmt.format(d) : dayLabel(d);
      p.time.title = fullFmt.format(d);
    } else {
      p.time.textContent = '';
    }
  }

  const messageEls = new Map(); // key -> li, for the open chat only
  let renderedChatId = null;

  function svg(tag, attrs) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  }

  function clockIcon() {
    const s = svg('svg', { viewBox: '0 0 16 16', width: '13', height: '13', class: 'clock', 'aria-hidden': 'true' });
    s.append(
      svg('circle', { cx: '8', cy: '8', r: '6.2', fill: 'none', stroke: 'currentColor', 'stroke-width': '1.5' }),
      svg('path', { d: 'M8 4.6V8l2.4 1.6', fill: 'none', stroke: 'currentColor', 'stroke-width': '1.5', 'stroke-linecap': 'round' }),
    );
    return s;
  }

  function paintTicks(el, status) {
    if (el.dataset.status === status) return;
    el.dataset.status = status;
    el.replaceChildren();
    el.className = `ticks ${status}`;
    switch (status) {
      case 'pending':
        el.append(clockIcon());
        el.title = 'Sending\u2026';
        break;
      case 'failed':
        el.textContent = '!';
        el.title = 'Not sent. Click the message to retry.';
        break;
      case 'not_sent':
        el.textContent = TICK;
        el.title = 'Stored, not delivered yet';
        break;
      case 'sent':
        el.textContent = TICK + TICK;
        el.title = 'Delivered';
        break;
      case 'read':
        el.textContent = TICK + TICK;
        el.title = 'Read';
        break;
      default:
        el.textContent = '';
        el.title = '';
    }
    el.setAttribute('aria-label', el.title);
  }

  function messageElement(key) {
    let li = messageEls.get(key);
    if (li) return li;
    li = document.createElement('li');
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    const text = document.createElement('span');
    text.className = 'text';
    text.dataset.testid = 'message-text';
    const meta = document.createElement('span');
    meta.className = 'meta';
    const edited = document.createElement('span');
    edited.className = 'edited';
    edited.dataset.testid = 'edited';
    edited.textContent = 'edited';
    edited.hidden = true;
    const time = document.createElement('time');
    const ticks = document.createElement('span');
    ticks.className = 'ticks';
    ticks.dataset.testid = 'ticks';
    meta.append(edited, time, ticks);
    bubble.append(text, meta);
    li.append(bubble);
    li._parts = { bubble, text, meta, edited, time, ticks, menuButton: null, menu: null, editor: null, error: null };
    messageEls.set(key, li);
    return li;
  }

  /** The small "more" button of one of my messages and its menu (Edit, Delete). */
  function ensureMenu(li) {
    const p = li._parts;
    if (p.menuButton) return;
    const wrap = document.createElement('div');
    wrap.className = 'message-actions';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'icon-button message-menu-button';
    button.dataset.testid = 'message-menu-button';
    button.dataset.action = 'menu';
    button.setAttribute('aria-haspopup', 'menu');
    button.setAttribute('aria-expanded', 'false');
    button.setAttribute('aria-label', 'Message actions');
    button.title = 'Message actions';
    button.textContent = '\u22EF';
    const menu = document.createElement('div');
    menu.className = 'message-menu';
    menu.setAttribute('role', 'menu');
    menu.dataset.testid = 'message-menu';
    menu.hidden = true;
    for (const [action, label] of [['edit', 'Edit'], ['delete', 'Delete']]) {
      const item = document.createElement('button');
      item.type = 'button';
      item.setAttribute('role', 'menuitem');
      item.tabIndex = -1;
      item.className = `menu-item ${action}`;
      item.dataset.action = action;
      item.dataset.testid = `message-${action}`;
      item.textContent = label;
      menu.append(item);
    }
    wrap.append(button, menu);
    li.prepend(wrap);
    p.actions = wrap;
    p.menuButton = button;
    p.menu = menu;
  }

  /** The inline editor of one of my messages: the text in a textarea, Save and Cancel. */
  function ensureEditor(li) {
    const p = li._parts;
    if (p.editor) return;
    const form = document.createElement('form');
    form.className = 'edit-form';
    form.dataset.testid = 'edit-form';
    form.hidden = true;
    const label = document.createElement('label');
    label.className = 'visually-hidden';
    label.textContent = 'Edit message';
    const input = document.createElement('textarea');
    input.className = 'edit-input';
    input.rows = 2;
    input.dataset.testid = 'edit-input';
    const uidFor = `edit-${Math.random().toString(36).slice(2)}`;
    input.id = uidFor;
    label.htmlFor = uidFor;
    const row = document.createElement('div');
    row.className = 'edit-actions';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'link-button';
    cancel.dataset.action = 'cancel-edit';
    cancel.dataset.testid = 'edit-cancel';
    cancel.textContent = 'Cancel';
    const save = document.createElement('button');
    save.type = 'submit';
    save.dataset.testid = 'edit-save';
    save.textContent = 'Save';
    row.append(cancel, save);
    form.append(label, input, row);
    p.bubble.insertBefore(form, p.meta);
    p.editor = { form, input, save, cancel, openFor: null };
  }

  function separatorElement(key, label) {
    let li = messageEls.get(key);
    if (!li) {
      li = document.createElement('li');
      li.className = 'day-separator';
      li.setAttribute('role', 'separator');
      const span = document.createElement('span');
      li.append(span);
      messageEls.set(key, li);
    }
    li.firstChild.textContent = label;
    return li;
  }

  function paintMessage(li, item) {
    const mine = item.fromId === myId();
    li.className = `message ${mine ? 'outgoing' : 'incoming'}${item.pending ? ' pending' : ''}${
      item.deleted ? ' deleted' : ''}`;
    li.dataset.status = item.status;
    li.dataset.from = item.fromId;
    if (item.id != null) li.dataset.messageId = item.id;
    else delete li.dataset.messageId;
    if (item.clientMessageId) li.dataset.clientMessageId = item.clientMessageId;
    else delete li.dataset.clientMessageId;
    const p = li._parts;
    const text = item.deleted ? DELETED_TEXT : item.text;
    if (p.text.textContent !== text) p.text.textContent = text;
    p.edited.hidden = !item.editedAt || item.deleted;
    if (item.editedAt) p.edited.title = `Edited ${fullFmt.format(item.editedAt)}`;
    const d = item.createdAt;
    if (d) {
      p.time.dateTime = d.toISOString();
      p.time.textContent = timeFmt.format(d);
      p.time.title = fullFmt.format(d);
    }
    if (mine && !item.deleted) paintTicks(p.ticks, item.status);
    else paintTicks(p.ticks, '');
    li.title = item.status === 'failed' ? 'Not sent. Click to retry.' : '';
    // Why a message failed, in the bubble: the server's words and code.
    const err = item.status === 'failed' ? item.error : null;
    if (err) li.dataset.errorCode = err.code;
    else delete li.dataset.errorCode;
    if (err && !p.error) {
      p.error = document.createElement('span');
      p.error.className = 'send-error';
      p.error.dataset.testid = 'send-error';
      p.bubble.insertBefore(p.error, p.meta);
    }
    if (p.error) {
      const why = err ? `Not sent: ${err.message} (${err.code}). Click to retry.` : '';
      if (p.error.textContent !== why) p.error.textContent = why;
      p.error.hidden = !err;
    }

    // Edit and delete: my stored messages that are not deleted.
    const actionable = mine && item.id != null && !item.deleted;
    if (actionable) ensureMenu(li);
    if (p.actions) {
      p.actions.hidden = !actionable;
      const open = actionable && state.menuFor === item.id;
      p.menu.hidden = !open;
      p.menuButton.setAttribute('aria-expanded', open ? 'true' : 'false');
    }
    const editing = actionable && state.editing && state.editing.id === item.id;
    if (editing) ensureEditor(li);
    if (p.editor) {
      const ed = p.editor;
      if (editing && ed.openFor !== item.id) {
        ed.openFor = item.id;
        ed.input.value = item.text;
      } else if (!editing) {
        ed.openFor = null;
      }
      ed.form.hidden = !editing;
      ed.input.disabled = !!(editing && state.editing.busy);
      ed.save.disabled = !!(editing && state.editing.busy);
      p.text.hidden = !!editing;
      li.classList.toggle('editing', !!editing);
    }
  }

  function chatItems(contactId) {
    const c = convoOf(contactId);
    const ids = Array.from(c.messages.keys()).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const items = ids.map((id) => {
      const m = c.messages.get(id);
      return {
        key: `m:${id}`,
        id,
        fromId: str(m.from._id),
        text: str(m.message),
        status: m.status in STATUS_RANK ? m.status : 'not_sent',
        createdAt: parseDate(m.createdAt),
        editedAt: parseDate(m.editedAt),
        deleted: m.deletedAt != null,
      };
    });
    const pend = Array.from(state.pending.values())
      .filter((p) => p.to === contactId && !p.settledBy)
      .sort((a, b) => a.seq - b.seq);
    for (const p of pend) {
      items.push({
        key: `p:${p.cmid}`,
        id: null,
        clientMessageId: p.cmid,
        pending: true,
        fromId: myId(),
        text: p.text,
        status: p.state === 'failed' ? 'failed' : 'pending',
        error: p.state === 'failed' ? p.error : null,
        createdAt: p.createdAt,
        editedAt: null,
        deleted: false,
      });
    }
    return items;
  }

  function renderChat(opts = {}) {
    const id = state ? state.activeId : null;
    const contact = id != null ? state.contacts.get(id) : null;
    els.app.dataset.view = contact ? 'chat' : 'contacts';
    els.chatView.hidden = !contact;
    els.chatEmpty.hidden = !!contact;
    if (!contact) {
      if (state) state.renames.clear();
      if (renderedChatId !== null) {
        els.messageList.replaceChildren();
        messageEls.clear();
        renderedChatId = null;
      }
      els.chatEmpty.firstElementChild.textContent = state
        ? 'Select a contact to start chatting.'
        : 'Sign in with any user id to start.';
      paintTypingIndicator('');
      return;
    }

    const switched = renderedChatId !== id;
    if (switched) {
      els.messageList.replaceChildren();
      messageEls.clear();
      renderedChatId = id;
    }
    // An optimistic message that got stored keeps its element (no flicker, stable for tests).
    for (const [cmid, storedId] of state.renames) {
      const el = messageEls.get(`p:${cmid}`);
      if (el && !messageEls.has(`m:${storedId}`)) {
        messageEls.delete(`p:${cmid}`);
        messageEls.set(`m:${storedId}`, el);
      }
    }
    state.renames.clear();

    const name = displayName(contact.details, contact.id);
    els.chatTitle.textContent = name;
    els.chatTitle.title = contact.id;
    paintAvatar(els.chatAvatar, contact.id, name);
    els.chatPresence.textContent = presenceText(contact);
    els.chatPresence.classList.toggle('online', contact.status === 'online');
    els.chatView.dataset.userId = contact.id;
    paintTypingIndicator(isTyping(contact.id) ? `${name} is ${TYPING_TEXT}` : '');
    paintBlocked(contact, name);

    const c = convoOf(id);
    els.loadOlder.hidden = !(c.historyLoaded && c.hasOlder);
    els.loadOlder.disabled = c.loading;
    els.loadOlder.textContent = c.loading && c.historyLoaded ? 'Loading\u2026' : 'Load older messages';

    const box = els.messages;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 48;
    const heightBefore = box.scrollHeight;
    const topBefore = box.scrollTop;

    const items = chatItems(id);
    els.historyEmpty.hidden = !(c.historyLoaded && items.length === 0);
    els.historyEmpty.textContent = 'No messages yet. Say hello!';
    if (!c.historyLoaded && items.length === 0) {
      els.historyEmpty.hidden = false;
      els.historyEmpty.textContent = c.loading ? 'Loading messages\u2026' : '';
    }

    const keep = new Set();
    const list = els.messageList;
    let pos = 0;
    let lastDay = null;
    for (const item of items) {
      if (item.createdAt) {
        const dk = dayKey(item.createdAt);
        if (dk !== lastDay) {
          lastDay = dk;
          const sepKey = `d:${dk}`;
          const sep = separatorElement(sepKey, dayLabel(item.createdAt));
          keep.add(sepKey);
          if (list.children[pos] !== sep) list.insertBefore(sep, list.children[pos] || null);
          pos++;
        }
      }
      const li = messageElement(item.key);
      keep.add(item.key);
      paintMessage(li, item);
      if (list.children[pos] !== li) list.insertBefore(li, list.children[pos] || null);
      pos++;
    }
    for (const [key, li] of messageEls) {
      if (!keep.has(key)) {
        li.remove();
        messageEls.delete(key);
      }
    }

    if (opts.keepScrollFromBottom) {
      box.scrollTop = topBefore + (box.scrollHeight - heightBefore);
    } else if (switched || atBottom || opts.scrollToBottom) {
      box.scrollTop = box.scrollHeight;
    }

    markVisibleAsRead();
  }

  /**
   * The open chat's Block / Unblock button, and while I block the contact the composer is
   * disabled under a short note (a draft stays in it for later).
   */
  function paintBlocked(contact, name) {
    const blocked = !!contact.blocked;
    const busy = state.blocking.has(contact.id);
    const b = els.blockToggle;
    const label = blocked ? 'Unblock' : 'Block';
    if (b.textContent !== label) b.textContent = label;
    b.setAttribute('aria-pressed', String(blocked));
    b.title = blocked ? `Unblock ${name}` : `Block ${name}`;
    b.disabled = busy;
    b.dataset.blocked = String(blocked);
    els.chatView.dataset.blocked = String(blocked);
    const note = blocked ? `You blocked ${name}. Unblock to send messages.` : '';
    if (els.blockedNote.textContent !== note) els.blockedNote.textContent = note;
    els.blockedNote.hidden = !blocked;
    els.input.disabled = blocked;
    els.send.disabled = blocked;
    els.composer.classList.toggle('disabled', blocked);
  }

  /** The live line under the messages: announced once when it changes, empty when nobody types. */
  function paintTypingIndicator(text) {
    const el = els.typingIndicator;
    if (el.textContent !== text) el.textContent = text;
    el.dataset.typing = String(text !== '');
  }

  // ------------------------------------------------------------ read receipts

  /**
   * The open conversation is read up to its newest message from the contact, with one
   * `message-read` (the server reads every earlier one too). Waits for the history, so that
   * opening a chat names its newest message once, not each missed message on its own.
   */
  function markVisibleAsRead() {
    if (!state || !state.ready || state.activeId == null) return;
    if (document.visibilityState !== 'visible') return;
    const id = state.activeId;
    const c = state.convos.get(id);
    if (!c || !c.historyLoaded) return;
    const done = maxIdOf(c.readPos, c.readRequested);
    let newest = null;
    let unread = false;
    for (const [mid, m] of c.messages) {
      if (str(m.from._id) !== id || (done != null && mid <= done)) continue;
      if (newest === null || mid > newest) newest = mid;
      if (m.status !== 'read') unread = true;
    }
    if (newest !== null && unread) {
      markRead(id, newest);
    } else if (!c.rechecked && unreadCount(id) > 0) {
      // The server counted unread messages this page cannot see (read elsewhere since, or
      // older than the history it holds): ask it again, once per opening.
      c.rechecked = true;
      scheduleContactsRefresh();
    }
  }

  async function markRead(contactId, messageId) {
    const st = state;
    const c = convoOf(contactId);
    c.readRequested = messageId;
    try {
      const msg = await request('message-read', { messageId });
      if (st !== state) return;
      mergeMessage(msg, false);
      const readAt = isObject(msg) ? msg.readAt : null;
      markReadUpTo(contactId, messageId, readAt, true);
    } catch (err) {
      if (st !== state) return;
      if (isTransient(err)) {
        if (c.readRequested === messageId) c.readRequested = null; // retried on the next render
      } else {
        showError(err, 'message-read');
      }
    }
    scheduleRender();
  }

  // ------------------------------------------------------------- history

  function minId(list) {
    let min = null;
    for (const m of list) if (isMessage(m) && (min === null || str(m._id) < min)) min = str(m._id);
    return min;
  }

  function maxKnownId(contactId) {
    const c = state.convos.get(contactId);
    let max = null;
    if (c) for (const id of c.messages.keys()) if (max === null || id > max) max = id;
    return max;
  }

  async function loadInitialHistory(contactId) {
    const st = state;
    const c = convoOf(contactId);
    if (c.loading || c.historyLoaded) return;
    c.loading = true;
    scheduleRender();
    try {
      const list = await request('get-old-messages', { userId: contactId, limit: HISTORY_PAGE });
      if (st !== state) return;
      const arr = Array.isArray(list) ? list : [];
      for (const m of arr) mergeMessage(m);
      c.historyLoaded = true;
      c.cursor = minId(arr);
      c.hasOlder = arr.length >= HISTORY_PAGE;
    } catch (err) {
      if (st !== state) return;
      showError(err, 'get-old-messages');
    } finally {
      c.loading = false;
    }
    renderAll({ scrollToBottom: true });
  }

  async function loadOlder() {
    const st = state;
    const id = st && st.activeId;
    if (id == null) return;
    const c = convoOf(id);
    if (c.loading || !c.historyLoaded || !c.hasOlder || c.cursor == null) return;
    c.loading = true;
    renderAll();
    let loaded = false;
    try {
      const list = await request('get-old-messages', { userId: id, before: c.cursor, limit: HISTORY_PAGE });
      if (st !== state) return;
      const arr = Array.isArray(list) ? list : [];
      for (const m of arr) mergeMessage(m);
      const oldest = minId(arr);
      if (oldest !== null) c.cursor = oldest;
      c.hasOlder = arr.length >= HISTORY_PAGE;
      loaded = true;
    } catch (err) {
      if (st !== state) return;
      showError(err, 'get-old-messages');
    } finally {
      c.loading = false;
    }
    renderAll({ keepScrollFromBottom: loaded && state.activeId === id });
  }

  /** Fetches everything newer than `afterId` in the chat with contactId (reconnects, capped missedMessages). */
  async function catchUp(contactId, afterId) {
    const st = state;
    let after = afterId;
    for (let page = 0; page < CATCH_UP_MAX_PAGES; page++) {
      const list = await request('get-old-messages', { userId: contactId, after, limit: CATCH_UP_PAGE });
      if (st !== state) return;
      const arr = Array.isArray(list) ? list : [];
      for (const m of arr) mergeMessage(m);
      if (arr.length < CATCH_UP_PAGE) break;
      after = arr.reduce((mx, m) => (str(m._id) > mx ? str(m._id) : mx), after);
    }
  }

  // ------------------------------------------------------------- sending

  let pendingSeq = 0;

  function queueMessage(contactId, text) {
    // The server sends "typing: false" itself just before this message's new-message.
    if (state.typingOut.to === contactId || state.typingOut.to == null) stopTyping(false);
    else stopTyping(true);
    const p = {
      cmid: newClientMessageId(),
      to: contactId,
      text,
      createdAt: new Date(),
      seq: ++pendingSeq,
      state: 'queued',
      settledBy: null,
      error: null, // { code, message } of a send that failed for good
    };
    state.pending.set(p.cmid, p);
    bump(contactId);
    renderAll({ scrollToBottom: true });
    sendPending(p);
  }

  async function sendPending(p) {
    const st = state;
    if (!st.ready || p.state === 'sending') return;
    p.state = 'sending';
    scheduleRender();
    try {
      const msg = await request('send-message', { userId: p.to, message: p.text, clientMessageId: p.cmid });
      if (st !== state) return;
      st.pending.delete(p.cmid);
      if (isMessage(msg) && !p.settledBy) st.renames.set(p.cmid, str(msg._id));
      mergeMessage(msg);
    } catch (err) {
      if (st !== state || !st.pending.has(p.cmid)) return;
      if (isTransient(err)) {
        // Safe to retry with the same clientMessageId: the server stores it at most once.
        p.state = 'queued';
        if (err.code === 'unavailable' || err.code === 'timeout') {
          setTimeout(() => {
            if (st === state && st.pending.get(p.cmid) === p && p.state === 'queued') sendPending(p);
          }, 3000);
        }
      } else {
        p.state = 'failed';
        p.settledBy = null;
        p.error = normalizeError(err);
      }
      if (err && err.code === 'forbidden') {
        // One of us blocks the other: they do (the server's answer is all this page learns
        // of it), or I do from another tab. The contact list says which, and shows them
        // offline if they block me.
        const ct = st.contacts.get(p.to);
        const name = ct ? displayName(ct.details, ct.id) : p.to;
        setStatus(`Message to ${name} not sent: ${str(err.message) || 'forbidden'} (forbidden)`, 'error', 'forbidden');
        scheduleContactsRefresh();
      } else {
        showError(err, 'send-message');
      }
    }
    scheduleRender();
  }

  function flushPending() {
    for (const p of state.pending.values()) if (p.state === 'queued') sendPending(p);
  }

  // ------------------------------------------------------------- edit and delete

  function messageLi(id) {
    return messageEls.get(`m:${id}`) || null;
  }

  function ownStoredMessage(id) {
    if (!state || state.activeId == null) return null;
    const c = state.convos.get(state.activeId);
    const m = c ? c.messages.get(id) : null;
    return m && str(m.from._id) === myId() ? m : null;
  }

  function menuItems(li) {
    return li && li._parts.menu ? Array.from(li._parts.menu.querySelectorAll('[role="menuitem"]')) : [];
  }

  function openMenu(id, focusLast = false) {
    const m = ownStoredMessage(id);
    if (!m || m.deletedAt) return;
    state.menuFor = id;
    renderAll();
    const items = menuItems(messageLi(id));
    if (items.length > 0) items[focusLast ? items.length - 1 : 0].focus();
  }

  function closeMenu(focusButton) {
    const id = state ? state.menuFor : null;
    if (id == null) return;
    state.menuFor = null;
    renderAll();
    const li = messageLi(id);
    if (focusButton && li && li._parts.menuButton) li._parts.menuButton.focus();
  }

  function startEdit(id) {
    const m = ownStoredMessage(id);
    if (!m || m.deletedAt) return;
    state.menuFor = null;
    state.editing = { id, busy: false };
    renderAll();
    const li = messageLi(id);
    if (li && li._parts.editor) {
      const input = li._parts.editor.input;
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    }
  }

  function cancelEdit() {
    const id = state && state.editing ? state.editing.id : null;
    if (id == null) return;
    state.editing = null;
    renderAll();
    const li = messageLi(id);
    if (li && li._parts.menuButton && !li._parts.actions.hidden) li._parts.menuButton.focus();
  }

  async function saveEdit(id, text) {
    const st = state;
    const m = ownStoredMessage(id);
    if (!m || !st.editing || st.editing.id !== id || st.editing.busy) return;
    if (!text.trim()) {
      showError({ code: 'invalid-argument', message: 'A message cannot be empty: delete it instead.' }, 'edit-message');
      return;
    }
    if (text === str(m.message)) {
      cancelEdit();
      return;
    }
    st.editing.busy = true;
    renderAll();
    let saved = false;
    try {
      const msg = await request('edit-message', { messageId: id, message: text });
      if (st !== state) return;
      mergeMessage(msg, false);
      saved = true;
    } catch (err) {
      if (st !== state) return;
      showError(err, 'edit-message');
    }
    if (st.editing && st.editing.id === id) {
      if (saved) st.editing = null;
      else st.editing.busy = false;
    }
    renderAll();
    const li = messageLi(id);
    if (!li) return;
    if (saved && li._parts.menuButton && !li._parts.actions.hidden) li._parts.menuButton.focus();
    else if (!saved && li._parts.editor && !li._parts.editor.form.hidden) li._parts.editor.input.focus();
  }

  async function deleteMessage(id) {
    const st = state;
    const m = ownStoredMessage(id);
    if (!m || m.deletedAt) return;
    state.menuFor = null;
    renderAll();
    if (!window.confirm('Delete this message for everyone?')) {
      const li = messageLi(id);
      if (li && li._parts.menuButton) li._parts.menuButton.focus();
      return;
    }
    try {
      const msg = await request('delete-message', { messageId: id });
      if (st !== state) return;
      mergeMessage(msg, false);
    } catch (err) {
      if (st !== state) return;
      showError(err, 'delete-message');
    }
    renderAll();
    if (st === state && state.activeId != null) els.input.focus();
  }

  // ------------------------------------------------------------- blocking

  function isBlockedByMe(contactId) {
    const ct = state && state.contacts.get(contactId);
    return !!(ct && ct.blocked);
  }

  /**
   * Blocks (after a confirmation) or unblocks a contact. The server tells nobody, and
   * neither does this page: no typing: false either (the contact's indicator runs out).
   */
  async function toggleBlock(contactId) {
    const st = state;
    const ct = st.contacts.get(contactId);
    if (!ct || st.blocking.has(contactId)) return;
    const block = !ct.blocked;
    const name = displayName(ct.details, ct.id);
    if (
      block &&
      !window.confirm(
        `Block ${name}? Neither of you will be able to send the other messages until you unblock them. ` +
          `${name} is not told.`,
      )
    ) {
      els.blockToggle.focus();
      return;
    }
    st.blocking.add(contactId);
    renderAll();
    try {
      const res = await request(block ? 'block-user' : 'unblock-user', { userId: contactId });
      if (st !== state) return;
      const now = isObject(res) && typeof res.blocked === 'boolean' ? res.blocked : block;
      const cur = st.contacts.get(contactId);
      if (cur) cur.blocked = now;
      if (now) {
        if (st.typingOut.wantTo === contactId || st.typingOut.to === contactId) stopTyping(false);
        clearTyping(contactId);
      }
      setStatus(now ? `You blocked ${name}.` : `You unblocked ${name}.`, 'notice');
    } catch (err) {
      if (st !== state) return;
      showError(err, block ? 'block-user' : 'unblock-user');
    } finally {
      if (st === state) st.blocking.delete(contactId);
    }
    if (st !== state) return;
    renderAll();
    if (st.activeId !== contactId) return;
    if (isBlockedByMe(contactId)) els.blockToggle.focus();
    else els.input.focus();
  }

  // ------------------------------------------------------------- navigation

  function openChat(contactId) {
    if (!state || !state.contacts.has(contactId)) return;
    if (state.activeId !== contactId) {
      state.menuFor = null;
      state.editing = null;
      stopTyping(true);
    }
    state.activeId = contactId;
    const c = convoOf(contactId);
    c.rechecked = false;
    renderAll({ scrollToBottom: true });
    if (!c.historyLoaded && state.ready) loadInitialHistory(contactId);
    if (window.matchMedia('(min-width: 721px)').matches) els.input.focus();
  }

  function closeChat() {
    if (!state) return;
    stopTyping(true);
    state.activeId = null;
    state.menuFor = null;
    state.editing = null;
    renderAll();
  }

  // ------------------------------------------------------------- connection

  function onServerEvent(envelope) {
    if (!state || !isObject(envelope)) return;
    const { type, data } = envelope;
    switch (type) {
      case 'user-details':
        applyUserDetails(data);
        break;
      case 'chat-user-status-changed': {
        if (!isObject(data) || !isObject(data.user) || data.user._id == null) return;
        const id = str(data.user._id);
        if (!state.contacts.has(id)) return;
        upsertContact({ ...data.user, status: data.status, lastOnline: data.lastOnline });
        // Gone offline: not typing any more (the server may not have said so, in a cluster).
        if (data.status === 'offline') clearTyping(id);
        break;
      }
      case 'chat-user-added':
        upsertContact(data);
        break;
      case 'new-message': {
        const fresh = !isKnown(data);
        const peer = mergeMessage(data, true);
        // The contact's message ends its "typing…".
        if (peer != null && str(data.from._id) === peer) clearTyping(peer);
        // A new message moves its conversation to the top of the list.
        if (peer != null && fresh) bump(peer);
        break;
      }
      case 'messages-read':
        applyMessagesRead(data);
        break;
      case 'message-updated':
        applyMessageUpdated(data);
        break;
      case 'typing':
        applyTyping(data);
        break;
      case 'contacts':
        // Only sent when no callback was given; this client always passes one.
        if (Array.isArray(data)) applyContactList(data);
        break;
      case 'message-status-changed': {
        if (!isMessage(data)) return;
        const peer = peerOf(data);
        const c = peer != null ? state.convos.get(peer) : null;
        mergeMessage(data, !!(c && c.historyLoaded));
        break;
      }
      case 'old-messages':
        // Only sent when no callback was given; this client always passes one.
        if (Array.isArray(data)) for (const m of data) mergeMessage(m);
        break;
      case 'error':
        showError(data);
        break;
      default:
        return;
    }
    scheduleRender();
  }

  /** Someone read a room up to a message: my messages (the contact read them) or theirs (my other tab). */
  function applyMessagesRead(data) {
    if (!isObject(data) || data.chatRoomId == null || data.readerId == null || data.upTo == null) return;
    const room = str(data.chatRoomId);
    const reader = str(data.readerId);
    const contact = Array.from(state.contacts.values()).find((c) => c.chatRoomId === room);
    if (!contact) return;
    if (reader === myId()) markReadUpTo(contact.id, str(data.upTo), data.readAt, true);
    else if (reader === contact.id) markReadUpTo(contact.id, str(data.upTo), data.readAt, false);
  }

  /** A message was edited or deleted: the open chat and the contact's preview follow. */
  function applyMessageUpdated(data) {
    if (!isMessage(data)) return;
    const peer = peerOf(data);
    if (peer == null) return;
    const id = str(data._id);
    const c = state.convos.get(peer);
    const before = c ? c.messages.get(id) : null;
    mergeMessage(data, false);
    const ct = state.contacts.get(peer);
    if (ct && data.deletedAt && str(data.from._id) === peer && data.status !== 'read') {
      // An unread message of theirs was deleted: it leaves the unread count. If the server
      // counted it (and it was not deleted already), ask the server for the new count.
      const base = ct.base;
      const readPos = c ? c.readPos : null;
      const counted = base && base.count > 0 && base.upTo != null && id <= base.upTo;
      if (counted && !(before && before.deletedAt) && !(readPos != null && readPos >= id)) {
        scheduleContactsRefresh();
      }
    }
  }

  async function onConnected() {
    const st = state;
    setConnection('connecting');
    let details;
    try {
      details = await request('connect-user', { userId: st.userId });
    } catch (err) {
      if (st !== state) return;
      showError(err, 'connect-user');
      if (!st.everReady && !isTransient(err)) teardown(false);
      return;
    }
    if (st !== state) return;
    applyUserDetails(details);
    const reconnect = st.everReady;
    st.ready = true;
    st.everReady = true;
    els.meId.textContent = st.me._id;
    try {
      localStorage.setItem('chatzz-demo-user', st.me._id);
    } catch (_) {
      /* storage may be unavailable */
    }
    setConnection('online');
    renderAll();
    flushPending();

    // Capped missedMessages: fetch the rest after the last one received.
    const follow = [];
    if (isObject(details) && isObject(details.missedMessages)) {
      for (const [sender, list] of Object.entries(details.missedMessages)) {
        if (Array.isArray(list) && list.length > 0) follow.push([sender, list[list.length - 1]._id]);
      }
    }
    if (reconnect) {
      // socket.io connection-state recovery is not relied upon: catch up on every loaded chat.
      for (const [id, c] of st.convos) {
        if (c.historyLoaded) follow.push([id, maxKnownId(id)]);
      }
    }
    for (const [id, after] of follow) {
      try {
        if (after != null) await catchUp(id, str(after));
        if (st !== state) return;
        const c = st.convos.get(id);
        if (reconnect && c && c.historyLoaded) {
          // Refresh statuses of the latest page (reads that happened while we were away).
          const list = await request('get-old-messages', { userId: id, limit: HISTORY_PAGE });
          if (st !== state) return;
          if (Array.isArray(list)) for (const m of list) mergeMessage(m);
        }
      } catch (err) {
        if (st !== state) return;
        if (!isTransient(err)) showError(err, 'get-old-messages');
      }
      scheduleRender();
    }
    if (st.activeId != null && !convoOf(st.activeId).historyLoaded) loadInitialHistory(st.activeId);
  }

  function signIn(userId) {
    teardown(false);
    state = freshState(userId);
    els.meId.textContent = userId;
    els.signInForm.hidden = true;
    els.me.hidden = false;
    els.app.dataset.signedIn = 'true';
    setFormsEnabled(true);
    setConnection('connecting');
    renderAll();

    // forceNew: never reuse a cached manager/socket from an earlier sign-in.
    const s = io({ forceNew: true, autoConnect: false, reconnectionDelayMax: 5000 });
    socket = s;
    s.on('connect', () => {
      if (socket === s) onConnected();
    });
    s.on('disconnect', (reason) => {
      if (socket !== s || !state) return;
      state.ready = false;
      for (const c of state.convos.values()) c.readRequested = null;
      // Typing events are not replayed: forget who types, and what the server heard from me.
      clearAllTyping();
      stopTyping(false);
      setConnection('offline');
      if (reason === 'io server disconnect') {
        setStatus('The server closed the connection.', 'warn');
        s.connect();
      }
    });
    s.on('connect_error', (err) => {
      if (socket !== s || !state) return;
      setConnection('offline');
      setStatus(`Cannot connect: ${err && err.message ? err.message : 'unknown error'}`, 'error', 'connect_error');
      if (!s.active) teardown(false); // refused by the server (e.g. authentication): stop
    });
    s.on('chatzz', (envelope) => {
      if (socket === s) onServerEvent(envelope);
    });
    s.connect();
  }

  function teardown(resetStatus = true) {
    if (state) {
      clearAllTyping();
      stopTyping(false);
    }
    if (socket) {
      const s = socket;
      socket = null;
      s.off();
      s.disconnect();
    }
    state = null;
    els.signInForm.hidden = false;
    els.me.hidden = true;
    els.app.dataset.signedIn = 'false';
    els.addError.hidden = true;
    setFormsEnabled(false);
    setConnection('offline');
    renderAll();
    if (resetStatus) setStatus('Signed out.');
  }

  function setFormsEnabled(on) {
    els.contactId.disabled = !on;
    els.addContact.disabled = !on;
  }

  // ------------------------------------------------------------- UI wiring

  els.signInForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = els.userId.value.trim();
    if (!id) {
      els.userId.focus();
      return;
    }
    signIn(id);
  });

  els.signOut.addEventListener('click', () => teardown(true));

  els.addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const st = state;
    if (!st) return;
    const id = els.contactId.value.trim();
    if (!id) {
      els.contactId.focus();
      return;
    }
    els.addError.hidden = true;
    els.addContact.disabled = true;
    try {
      const contact = await request('add-chat-user', { userToAdd: id });
      if (st !== state) return;
      const c = upsertContact(contact);
      els.contactId.value = '';
      setStatus(`Added ${id} to your contacts.`, 'notice');
      if (c) openChat(c.id);
    } catch (err) {
      if (st !== state) return;
      const e2 = normalizeError(err);
      els.addError.textContent = `${e2.message} (${e2.code})`;
      els.addError.dataset.code = e2.code;
      els.addError.hidden = false;
      showError(e2, 'add-chat-user');
    } finally {
      if (st === state) els.addContact.disabled = false;
    }
  });

  els.contactId.addEventListener('input', () => {
    els.addError.hidden = true;
  });

  els.back.addEventListener('click', closeChat);
  els.blockToggle.addEventListener('click', () => {
    if (state && state.activeId != null) toggleBlock(state.activeId);
  });
  els.loadOlder.addEventListener('click', loadOlder);

  function autoGrow() {
    els.input.style.height = 'auto';
    els.input.style.height = `${Math.min(els.input.scrollHeight, 160)}px`;
  }

  els.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!state || state.activeId == null || isBlockedByMe(state.activeId)) return;
    const text = els.input.value;
    if (!text.trim()) return;
    els.input.value = '';
    autoGrow();
    queueMessage(state.activeId, text);
    els.input.focus();
  });

  els.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      els.composer.requestSubmit();
    }
  });
  els.input.addEventListener('input', () => {
    autoGrow();
    composerInput();
  });

  // Clicking a failed message retries it with the same clientMessageId.
  els.messageList.addEventListener('click', (e) => {
    const li = e.target.closest('.message[data-status="failed"]');
    if (!li || !state) return;
    const p = state.pending.get(li.dataset.clientMessageId);
    if (p) {
      p.state = 'queued';
      p.error = null;
      if (state.ready) sendPending(p);
      scheduleRender();
    }
  });

  // The message menu (my messages): open, Edit, Delete; the inline editor's Cancel.
  els.messageList.addEventListener('click', (e) => {
    if (!state) return;
    const button = e.target.closest('button[data-action]');
    if (!button) return;
    const li = button.closest('.message');
    const id = li && li.dataset.messageId;
    if (!id) return;
    e.stopPropagation();
    switch (button.dataset.action) {
      case 'menu':
        if (state.menuFor === id) closeMenu(true);
        else openMenu(id);
        break;
      case 'edit':
        startEdit(id);
        break;
      case 'delete':
        deleteMessage(id);
        break;
      case 'cancel-edit':
        cancelEdit();
        break;
      default:
    }
  });

  els.messageList.addEventListener('submit', (e) => {
    const form = e.target.closest('.edit-form');
    if (!form || !state) return;
    e.preventDefault();
    const li = form.closest('.message');
    if (li && li.dataset.messageId) saveEdit(li.dataset.messageId, li._parts.editor.input.value);
  });

  els.messageList.addEventListener('keydown', (e) => {
    if (!state) return;
    const t = e.target;
    if (t.classList.contains('edit-input')) {
      if (e.key === 'Escape') {
        e.preventDefault();
        cancelEdit();
      } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        t.form.requestSubmit();
      }
      return;
    }
    const li = t.closest('.message');
    const id = li && li.dataset.messageId;
    if (!id) return;
    if (t.classList.contains('message-menu-button')) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        openMenu(id, e.key === 'ArrowUp');
      } else if (e.key === 'Escape' && state.menuFor === id) {
        e.preventDefault();
        closeMenu(true);
      }
      return;
    }
    if (t.getAttribute('role') !== 'menuitem') return;
    const items = menuItems(li);
    const i = items.indexOf(t);
    let next = null;
    if (e.key === 'ArrowDown') next = items[(i + 1) % items.length];
    else if (e.key === 'ArrowUp') next = items[(i - 1 + items.length) % items.length];
    else if (e.key === 'Home') next = items[0];
    else if (e.key === 'End') next = items[items.length - 1];
    else if (e.key === 'Escape') {
      e.preventDefault();
      closeMenu(true);
      return;
    } else if (e.key === 'Tab') {
      state.menuFor = null;
      scheduleRender();
      return;
    }
    if (next) {
      e.preventDefault();
      next.focus();
    }
  });

  // A click anywhere else closes an open message menu.
  document.addEventListener('click', (e) => {
    if (!state || state.menuFor == null) return;
    if (e.target.closest && e.target.closest('.message-actions')) return;
    closeMenu(false);
  });

  els.statusDismiss.addEventListener('click', showConnectionStatus);

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') markVisibleAsRead();
  });

  // Keep "last seen" texts fresh.
  setInterval(() => {
    if (state) renderAll();
  }, 30000);

  // Prefill the user id from ?user= or the last sign-in.
  try {
    const fromUrl = new URLSearchParams(location.search).get('user');
    els.userId.value = fromUrl || localStorage.getItem('chatzz-demo-user') || '';
  } catch (_) {
    /* ignore */
  }

  if (typeof io !== 'function') {
    setStatus('socket.io client failed to load.', 'error', 'internal');
    els.signIn.disabled = true;
  } else {
    renderAll();
  }
})();
