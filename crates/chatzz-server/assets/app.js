// chatzz demo client: plain ES2020, no framework, no build step.
// Speaks the chatzz wire protocol v1 (docs/protocol.md) through socket.io-client v4,
// loaded from /assets/socket.io.min.js as the global `io`.
(() => {
  'use strict';

  const HISTORY_PAGE = 50;
  const CATCH_UP_PAGE = 500;
  const CATCH_UP_MAX_PAGES = 20;
  const ACK_TIMEOUT_MS = 15000;
  const ERROR_VISIBLE_MS = 12000;
  const STATUS_RANK = { not_sent: 0, sent: 1, read: 2 };
  const TICK = '\u2713';

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
    messages: $('messages'),
    loadOlder: $('load-older'),
    historyEmpty: $('history-empty'),
    messageList: $('message-list'),
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
      contacts: new Map(), // contact user id -> { id, details, chatRoomId, status, lastOnline }
      convos: new Map(), // contact user id -> { messages: Map(id -> Message), historyLoaded, loading, cursor, hasOlder }
      pending: new Map(), // clientMessageId -> optimistic outgoing message
      activeId: null,
      readRequested: new Set(),
      renames: new Map(), // clientMessageId -> stored _id: lets the optimistic element become the stored one
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
      c = { messages: new Map(), historyLoaded: false, loading: false, cursor: null, hasOlder: false };
      state.convos.set(contactId, c);
    }
    return c;
  }

  function upsertContact(data, extra = {}) {
    if (!isObject(data) || data._id == null) return null;
    const id = str(data._id);
    if (id === myId()) return null;
    const { chatRoomId, status, lastOnline, ...details } = data;
    const prev = state.contacts.get(id);
    const contact = {
      id,
      details: { ...(prev ? prev.details : {}), ...details, _id: id },
      chatRoomId: chatRoomId != null ? str(chatRoomId) : prev ? prev.chatRoomId : null,
      status: status === 'online' || status === 'offline' ? status : prev ? prev.status : null,
      lastOnline: lastOnline !== undefined ? lastOnline : prev ? prev.lastOnline : null,
      ...extra,
    };
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

  /**
   * Stores a message, deduplicated by _id. Status only moves forward.
   * With insert=false, only updates a message that is already known.
   * Returns the contact id of the conversation, or null when nothing was stored.
   */
  function mergeMessage(raw, insert = true) {
    if (!isMessage(raw)) return null;
    const msg = { ...raw, _id: str(raw._id) };
    const peer = peerOf(msg);
    if (peer == null || peer === myId()) return null;
    const c = convoOf(peer);
    const old = c.messages.get(msg._id);
    if (old) {
      const rankNew = STATUS_RANK[msg.status] ?? -1;
      const rankOld = STATUS_RANK[old.status] ?? -1;
      if (rankNew < rankOld) {
        msg.status = old.status;
        msg.readAt = old.readAt;
      }
    } else if (!insert) {
      return null;
    }
    c.messages.set(msg._id, msg);
    if (!state.contacts.has(peer)) {
      // A message from a contact we did not hear about yet: keep it visible anyway.
      upsertContact(str(msg.from._id) === peer ? msg.from : msg.to);
    }
    if (!old && str(msg.from._id) === myId()) settlePendingFor(msg, peer);
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

  function unreadCount(contactId) {
    const c = state.convos.get(contactId);
    if (!c) return 0;
    let n = 0;
    for (const m of c.messages.values()) {
      if (str(m.from._id) === contactId && m.status !== 'read') n++;
    }
    return n;
  }

  function lastActivity(contactId) {
    const c = state.convos.get(contactId);
    let best = 0;
    if (c) {
      for (const m of c.messages.values()) {
        const t = parseDate(m.createdAt);
        if (t && t.getTime() > best) best = t.getTime();
      }
    }
    for (const p of state.pending.values()) {
      if (p.to === contactId && p.createdAt.getTime() > best) best = p.createdAt.getTime();
    }
    return best;
  }

  function applyUserDetails(data) {
    if (!isObject(data)) return;
    if (isObject(data.user) && data.user._id != null) {
      state.me = { ...data.user, _id: str(data.user._id) };
    }
    if (Array.isArray(data.connectedUsers)) {
      for (const contact of data.connectedUsers) upsertContact(contact);
    }
    if (isObject(data.missedMessages)) {
      for (const list of Object.values(data.missedMessages)) {
        if (Array.isArray(list)) for (const m of list) mergeMessage(m);
      }
    }
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
    const name = document.createElement('span');
    name.className = 'contact-name';
    const presence = document.createElement('span');
    presence.className = 'presence-text';
    presence.dataset.testid = 'presence-text';
    main.append(name, presence);
    const badge = document.createElement('span');
    badge.className = 'unread-count';
    badge.dataset.testid = 'unread-count';
    badge.hidden = true;
    const avatarWrap = document.createElement('span');
    avatarWrap.className = 'avatar-wrap';
    avatarWrap.append(avatar, dot);
    button.append(avatarWrap, main, badge);
    li.append(button);
    li._parts = { button, avatar, dot, name, presence, badge };
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
    const contacts = Array.from(state.contacts.values());
    const activity = new Map(contacts.map((c) => [c.id, lastActivity(c.id)]));
    contacts.sort((a, b) => {
      const d = activity.get(b.id) - activity.get(a.id);
      if (d) return d;
      return displayName(a.details, a.id).localeCompare(displayName(b.details, b.id));
    });
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
      p.dot.className = `presence-dot ${c.status === 'online' ? 'online' : 'offline'}`;
      p.dot.title = c.status === 'online' ? 'online' : 'offline';
      p.presence.textContent = presenceText(c);
      p.presence.classList.toggle('online', c.status === 'online');
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
    const time = document.createElement('time');
    const ticks = document.createElement('span');
    ticks.className = 'ticks';
    ticks.dataset.testid = 'ticks';
    meta.append(time, ticks);
    bubble.append(text, meta);
    li.append(bubble);
    li._parts = { text, time, ticks };
    messageEls.set(key, li);
    return li;
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
    li.className = `message ${mine ? 'outgoing' : 'incoming'}${item.pending ? ' pending' : ''}`;
    li.dataset.status = item.status;
    li.dataset.from = item.fromId;
    if (item.id != null) li.dataset.messageId = item.id;
    else delete li.dataset.messageId;
    if (item.clientMessageId) li.dataset.clientMessageId = item.clientMessageId;
    else delete li.dataset.clientMessageId;
    const p = li._parts;
    if (p.text.textContent !== item.text) p.text.textContent = item.text;
    const d = item.createdAt;
    if (d) {
      p.time.dateTime = d.toISOString();
      p.time.textContent = timeFmt.format(d);
      p.time.title = fullFmt.format(d);
    }
    if (mine) paintTicks(p.ticks, item.status);
    else paintTicks(p.ticks, '');
    li.title = item.status === 'failed' ? 'Not sent. Click to retry.' : '';
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
        createdAt: p.createdAt,
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

  // ------------------------------------------------------------ read receipts

  function markVisibleAsRead() {
    if (!state || !state.ready || state.activeId == null) return;
    if (document.visibilityState !== 'visible') return;
    const id = state.activeId;
    const c = state.convos.get(id);
    if (!c) return;
    for (const m of c.messages.values()) {
      if (str(m.from._id) === id && m.status !== 'read' && !state.readRequested.has(m._id)) {
        markRead(m._id);
      }
    }
  }

  async function markRead(messageId) {
    const st = state;
    st.readRequested.add(messageId);
    try {
      const msg = await request('message-read', { messageId });
      if (st !== state) return;
      mergeMessage(msg, false);
    } catch (err) {
      if (st !== state) return;
      if (isTransient(err)) st.readRequested.delete(messageId); // retried on the next render
      else showError(err, 'message-read');
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
    const p = {
      cmid: newClientMessageId(),
      to: contactId,
      text,
      createdAt: new Date(),
      seq: ++pendingSeq,
      state: 'queued',
      settledBy: null,
    };
    state.pending.set(p.cmid, p);
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
      }
      showError(err, 'send-message');
    }
    scheduleRender();
  }

  function flushPending() {
    for (const p of state.pending.values()) if (p.state === 'queued') sendPending(p);
  }

  // ------------------------------------------------------------- navigation

  function openChat(contactId) {
    if (!state || !state.contacts.has(contactId)) return;
    state.activeId = contactId;
    renderAll({ scrollToBottom: true });
    const c = convoOf(contactId);
    if (!c.historyLoaded && state.ready) loadInitialHistory(contactId);
    if (window.matchMedia('(min-width: 721px)').matches) els.input.focus();
  }

  function closeChat() {
    if (!state) return;
    state.activeId = null;
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
        break;
      }
      case 'chat-user-added':
        upsertContact(data);
        break;
      case 'new-message':
        mergeMessage(data, true);
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
      state.readRequested.clear();
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
  els.loadOlder.addEventListener('click', loadOlder);

  function autoGrow() {
    els.input.style.height = 'auto';
    els.input.style.height = `${Math.min(els.input.scrollHeight, 160)}px`;
  }

  els.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!state || state.activeId == null) return;
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
  els.input.addEventListener('input', autoGrow);

  // Clicking a failed message retries it with the same clientMessageId.
  els.messageList.addEventListener('click', (e) => {
    const li = e.target.closest('.message[data-status="failed"]');
    if (!li || !state) return;
    const p = state.pending.get(li.dataset.clientMessageId);
    if (p) {
      p.state = 'queued';
      if (state.ready) sendPending(p);
      scheduleRender();
    }
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
