// chatzz demo page: plain ES2020, no framework, no build step of its own.
// The protocol (docs/protocol.md, version 1.1) is spoken by @chatzz/client, loaded from
// /assets/chatzz-client.js as the global `chatzz` (clients/typescript, bundled by its
// scripts/bundle-demo.mjs) on top of socket.io-client v4 (/assets/socket.io.min.js, the
// global `io`). The client's ChatzzClient registers on every (re)connect, its outbox
// sends each message once with retries, it catches up after reconnects, and its
// ConversationState holds contacts, messages, pending messages and who types. This file
// renders that state and wires the UI: sign in, contacts, send-message, read, edit,
// delete, typing, block, history paging.
(() => {
  'use strict';

  const HISTORY_PAGE = 50;
  const ACK_TIMEOUT_MS = 15000;
  const ERROR_VISIBLE_MS = 12000;
  const TICK = '\u2713';
  const DELETED_TEXT = 'message deleted';
  const TYPING_TEXT = 'typing\u2026';
  const TYPING_RENEW_MS = 2500; // while typing goes on, "typing: true" again at most this often
  const TYPING_IDLE_MS = 4000; // no keystroke for this long: "typing: false"
  const TYPING_MIN_GAP_MS = 250; // between any two typing emits (the server allows 5 a second)

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

  /** The ChatzzClient of the current sign-in, or null when signed out. */
  let chat = null;
  /** What the page itself keeps for the current sign-in (the conversations are in chat.state). */
  let ui = null;

  function freshUi(userId) {
    return {
      userId,
      everReady: false,
      activeId: null,
      // The contact list order: the server's (by last activity), a bump puts one on top.
      ranks: new Map(),
      rankSeq: 0,
      history: new Map(), // contact id -> { loaded, loading, hasOlder, rechecked }
      readRequested: new Map(), // contact id -> newest message id a message-read was sent for
      echoes: new Map(), // clientMessageId -> id of its new-message echo that overtook the ack
      menuFor: null, // message id whose action menu is open
      editing: null, // { id, busy } while one of my messages is being edited inline
      blocking: new Set(), // contact ids with a block-user / unblock-user in flight
      typingTimers: new Map(), // contact id -> re-render when their "typing…" runs out
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

  /** Ids compare in the protocol's order (chatzz.compareIds: code points). */
  function cmp(a, b) {
    return chatzz.compareIds(a, b);
  }

  function errorOf(err) {
    return {
      code: str(err && err.code) || 'internal',
      message: str(err && err.message) || 'Something went wrong.',
      event: err && err.event ? str(err.event) : undefined,
    };
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
    const e = errorOf(err);
    const ev = e.event || event;
    setStatus(`${ev ? ev + ' failed: ' : ''}${e.message} (${e.code})`, 'error', e.code);
  }

  function showConnectionStatus() {
    clearTimeout(statusTimer);
    if (!ui) return setStatus('Not signed in.');
    const conn = els.connection.dataset.state;
    if (conn === 'online') setStatus(`Connected as ${myId()}.`);
    else if (conn === 'connecting') setStatus('Connecting\u2026');
    else setStatus('Offline. Reconnecting\u2026', 'warn');
  }

  function setConnection(conn) {
    els.connection.dataset.state = conn;
    els.connection.title = conn === 'online' ? 'Connected' : conn === 'connecting' ? 'Connecting' : 'Offline';
    if (els.statusBar.dataset.kind !== 'error') showConnectionStatus();
  }

  // ------------------------------------------------------------- reading the state

  function myId() {
    const me = chat && chat.state.me;
    return me ? me._id : ui ? ui.userId : '';
  }

  function peerOf(m) {
    return m.from._id === myId() ? m.to._id : m.from._id;
  }

  function contactOf(id) {
    return chat ? chat.state.contact(id) : undefined;
  }

  function historyOf(id) {
    let h = ui.history.get(id);
    if (!h) ui.history.set(id, (h = { loaded: false, loading: false, hasOlder: false, rechecked: false }));
    return h;
  }

  /** Unread messages from a contact: the server's count, kept up to date by the state. */
  function unreadCount(id) {
    const c = contactOf(id);
    if (c && typeof c.unreadCount === 'number') return c.unreadCount;
    // A version 1 server counts nothing: count what this page holds.
    return chat.state.messagesWith(id).filter((m) => m.from._id === id && m.status !== 'read' && !m.deletedAt).length;
  }

  /** My messages to `id` the outbox has not had stored yet (or that failed), less echoes already shown. */
  function pendingOf(id) {
    const room = chat.state.roomWith(id);
    return chat.state.pendingFor(id).filter((p) => {
      const echo = ui.echoes.get(p.clientMessageId);
      return !(echo && room && room.get(echo));
    });
  }

  /** The newest message of the conversation: a pending one of mine, else the newest stored. */
  function lastMessageOf(id) {
    const pend = pendingOf(id);
    if (pend.length > 0) {
      const p = pend[pend.length - 1];
      return { pending: true, fromId: myId(), text: p.message, deleted: false, createdAt: parseDate(p.queuedAt) };
    }
    const room = chat.state.roomWith(id);
    const c = contactOf(id);
    let best = room ? room.newest : undefined;
    const server = c && c.lastMessage;
    if (server && (!best || cmp(server._id, best._id) > 0)) best = server;
    if (!best) return null;
    return {
      pending: false,
      fromId: best.from._id,
      text: str(best.message),
      deleted: !!best.deletedAt,
      createdAt: parseDate(best.createdAt),
    };
  }

  function isTyping(id) {
    const c = contactOf(id);
    return !!c && !c.blocked && c.status !== 'offline' && chat.state.isTyping(id);
  }

  function isBlockedByMe(id) {
    const c = contactOf(id);
    return !!(c && c.blocked);
  }

  // ------------------------------------------------------------- contact order

  /** Moves a contact to the top of the list. */
  function bump(id) {
    ui.ranks.set(id, ++ui.rankSeq);
  }

  /**
   * A contact list from the server (connectedUsers, get-contacts) is in order of last
   * activity; a conversation that moved here after the server answered stays on top.
   */
  function applyServerOrder(list) {
    for (let i = list.length - 1; i >= 0; i--) bump(list[i]._id);
    const newer = [];
    for (const c of list) {
      const room = chat.state.roomWith(c._id);
      const local = room && room.newest;
      const server = c.lastMessage;
      const pending = chat.state.pendingFor(c._id).some((p) => p.state === 'sending');
      if (pending || (local && server !== undefined && (!server || cmp(local._id, server._id) > 0))) {
        newer.push([c._id, pending ? Date.now() : timeOf(local.createdAt)]);
      }
    }
    newer.sort((a, b) => a[1] - b[1]);
    for (const [id] of newer) bump(id);
  }

  function timeOf(iso) {
    const d = parseDate(iso);
    return d ? d.getTime() : 0;
  }

  function sortedContacts() {
    const me = myId();
    const list = chat.state.contacts.filter((c) => c._id !== me);
    for (const c of list) if (!ui.ranks.has(c._id)) bump(c._id); // new to this page: a new room, on top
    return list.sort((a, b) => ui.ranks.get(b._id) - ui.ranks.get(a._id));
  }

  /** Asks the server for the contact list again (counts, presence, order). */
  async function refreshContacts() {
    const c = chat;
    try {
      const list = await c.getContacts();
      if (chat === c) applyServerOrder(list);
    } catch (err) {
      // A version 1 server does not know get-contacts: the counts stay as they are.
      if (chat === c && !err.retryable && err.code !== 'invalid-argument') showError(err, 'get-contacts');
    }
    scheduleRender();
  }

  // ------------------------------------------------------------- typing

  /** A contact's "typing: true" shows until false, a message, or expiresInMs: render again then. */
  function onTyping(data) {
    const id = str(data && data.userId);
    clearTimeout(ui.typingTimers.get(id));
    if (data && data.typing && Number(data.expiresInMs) > 0) {
      ui.typingTimers.set(id, setTimeout(scheduleRender, Number(data.expiresInMs) + 20));
    }
  }

  /** A keystroke in the composer: typing to the open conversation, or stopped when it is empty. */
  function composerInput() {
    if (!ui || ui.activeId == null || isBlockedByMe(ui.activeId)) return;
    if (!els.input.value.trim()) {
      stopTyping(true);
      return;
    }
    const t = ui.typingOut;
    const u = ui;
    t.wantTo = ui.activeId;
    t.dirty = true;
    clearTimeout(t.idleTimer);
    t.idleTimer = setTimeout(() => {
      if (u === ui) stopTyping(true);
    }, TYPING_IDLE_MS);
    pumpTyping();
  }

  /**
   * I stopped typing. With `tell` false the server is not told: it says "typing: false"
   * itself before my message, and when my last socket goes.
   */
  function stopTyping(tell) {
    if (!ui) return;
    const t = ui.typingOut;
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
    const u = ui;
    const t = u.typingOut;
    clearTimeout(t.pumpTimer);
    t.pumpTimer = null;
    if (!chat || !chat.ready) return;
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
        if (u === ui) pumpTyping();
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
    chat.typing(next.userId, next.typing).catch(() => {});
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
    if (chat) for (const c of chat.state.contacts) total += unreadCount(c._id);
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
    if (!chat) {
      list.replaceChildren();
      contactEls.clear();
      els.contactsEmpty.hidden = false;
      els.contactsEmpty.textContent = 'Sign in to see your contacts.';
      return;
    }
    const contacts = sortedContacts();
    const keep = new Set();
    contacts.forEach((c, i) => {
      const id = c._id;
      const li = contactElement(id);
      keep.add(id);
      const p = li._parts;
      const name = displayName(c, id);
      paintAvatar(p.avatar, id, name);
      p.name.textContent = name;
      p.name.title = name === id ? id : `${name} (${id})`;
      li.dataset.status = c.status || 'unknown';
      li.dataset.blocked = String(!!c.blocked);
      p.blocked.hidden = !c.blocked;
      p.dot.className = `presence-dot ${c.status === 'online' ? 'online' : 'offline'}`;
      p.dot.title = c.status === 'online' ? 'online' : 'offline';
      p.presence.textContent = presenceText(c);
      p.presence.classList.toggle('online', c.status === 'online');
      paintPreview(p, lastMessageOf(id));
      // While the contact types, "typing…" takes the place of the preview line.
      const typing = isTyping(id);
      li.dataset.typing = String(typing);
      p.typing.hidden = !typing;
      if (typing) p.preview.hidden = true;
      const unread = unreadCount(id);
      li.dataset.unread = String(unread);
      p.badge.hidden = unread === 0;
      p.badge.textContent = unread > 99 ? '99+' : String(unread);
      p.badge.setAttribute('aria-label', `${unread} unread`);
      const active = ui.activeId === id;
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
      const open = actionable && ui.menuFor === item.id;
      p.menu.hidden = !open;
      p.menuButton.setAttribute('aria-expanded', open ? 'true' : 'false');
    }
    const editing = actionable && ui.editing && ui.editing.id === item.id;
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
      ed.input.disabled = !!(editing && ui.editing.busy);
      ed.save.disabled = !!(editing && ui.editing.busy);
      p.text.hidden = !!editing;
      li.classList.toggle('editing', !!editing);
    }
  }

  function chatItems(id) {
    const items = chat.state.messagesWith(id).map((m) => ({
      key: `m:${m._id}`,
      id: m._id,
      fromId: m.from._id,
      text: str(m.message),
      status: m.status,
      createdAt: parseDate(m.createdAt),
      editedAt: parseDate(m.editedAt),
      deleted: !!m.deletedAt,
    }));
    for (const p of pendingOf(id)) {
      const failed = p.state === 'failed';
      items.push({
        key: `p:${p.clientMessageId}`,
        id: null,
        clientMessageId: p.clientMessageId,
        pending: true,
        fromId: myId(),
        text: p.message,
        status: failed ? 'failed' : 'pending',
        error: failed ? p.error : null,
        createdAt: parseDate(p.queuedAt),
        editedAt: null,
        deleted: false,
      });
    }
    return items;
  }

  function renderChat(opts = {}) {
    const id = ui ? ui.activeId : null;
    const contact = id != null ? contactOf(id) : null;
    els.app.dataset.view = contact ? 'chat' : 'contacts';
    els.chatView.hidden = !contact;
    els.chatEmpty.hidden = !!contact;
    if (!contact) {
      if (renderedChatId !== null) {
        els.messageList.replaceChildren();
        messageEls.clear();
        renderedChatId = null;
      }
      els.chatEmpty.firstElementChild.textContent = ui
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
    // A message deleted (here or elsewhere) closes its menu and editor.
    const room = chat.state.roomWith(id);
    const gone = (mid) => mid != null && !!(room && room.get(mid) && room.get(mid).deletedAt);
    if (gone(ui.menuFor)) ui.menuFor = null;
    if (ui.editing && gone(ui.editing.id)) ui.editing = null;

    const name = displayName(contact, id);
    els.chatTitle.textContent = name;
    els.chatTitle.title = id;
    paintAvatar(els.chatAvatar, id, name);
    els.chatPresence.textContent = presenceText(contact);
    els.chatPresence.classList.toggle('online', contact.status === 'online');
    els.chatView.dataset.userId = id;
    paintTypingIndicator(isTyping(id) ? `${name} is ${TYPING_TEXT}` : '');
    paintBlocked(contact, name);

    const h = historyOf(id);
    els.loadOlder.hidden = !(h.loaded && h.hasOlder);
    els.loadOlder.disabled = h.loading;
    els.loadOlder.textContent = h.loading && h.loaded ? 'Loading\u2026' : 'Load older messages';

    const box = els.messages;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 48;
    const heightBefore = box.scrollHeight;
    const topBefore = box.scrollTop;

    const items = chatItems(id);
    els.historyEmpty.hidden = !(h.loaded && items.length === 0);
    els.historyEmpty.textContent = 'No messages yet. Say hello!';
    if (!h.loaded && items.length === 0) {
      els.historyEmpty.hidden = false;
      els.historyEmpty.textContent = h.loading ? 'Loading messages\u2026' : '';
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
    const busy = ui.blocking.has(contact._id);
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
    if (!chat || !chat.ready || ui.activeId == null) return;
    if (document.visibilityState !== 'visible') return;
    const id = ui.activeId;
    const h = historyOf(id);
    if (!h.loaded) return;
    const asked = ui.readRequested.get(id);
    let newest = null;
    let unread = false;
    for (const m of chat.state.messagesWith(id)) {
      if (m.from._id !== id || (asked != null && cmp(m._id, asked) <= 0)) continue;
      newest = m._id; // oldest first: the last one seen is the newest
      if (m.status !== 'read') unread = true;
    }
    if (newest !== null && unread) {
      markRead(id, newest);
    } else if (!h.rechecked && unreadCount(id) > 0) {
      // The server counted unread messages this page cannot see (read elsewhere since, or
      // older than the history it holds): ask it again, once per opening.
      h.rechecked = true;
      refreshContacts();
    }
  }

  async function markRead(id, messageId) {
    const c = chat;
    ui.readRequested.set(id, messageId);
    try {
      await c.markRead(messageId);
    } catch (err) {
      if (chat !== c) return;
      if (err.retryable) {
        if (ui.readRequested.get(id) === messageId) ui.readRequested.delete(id); // retried on the next render
      } else {
        showError(err, 'message-read');
      }
    }
    scheduleRender();
  }

  // ------------------------------------------------------------- history

  async function loadHistory(id, older) {
    const c = chat;
    const h = historyOf(id);
    if (h.loading || (older ? !h.loaded || !h.hasOlder : h.loaded)) return;
    const oldest = chat.state.messagesWith(id)[0];
    if (older && !oldest) return;
    h.loading = true;
    renderAll();
    let loaded = false;
    try {
      const query = older ? { userId: id, before: oldest._id, limit: HISTORY_PAGE } : { userId: id, limit: HISTORY_PAGE };
      const page = await c.getOldMessages(query);
      if (chat !== c) return;
      h.loaded = true;
      h.hasOlder = page.length >= HISTORY_PAGE;
      loaded = true;
    } catch (err) {
      if (chat !== c) return;
      if (err.code !== 'disconnected') showError(err, 'get-old-messages'); // else: again on the next session
    } finally {
      h.loading = false;
    }
    if (older) renderAll({ keepScrollFromBottom: loaded && ui.activeId === id });
    else renderAll({ scrollToBottom: true });
  }

  // ------------------------------------------------------------- sending

  /** Hands a message to the outbox: shown at once, sent (and retried) until stored once. */
  function queueMessage(id, text, clientMessageId) {
    const c = chat;
    const { sent } = c.send(id, text, clientMessageId);
    bump(id);
    renderAll({ scrollToBottom: true });
    sent.then(scheduleRender, (err) => {
      if (chat !== c || err.code === 'closed') return;
      if (err.code === 'forbidden') {
        // One of us blocks the other: they do (the server's answer is all this page learns
        // of it), or I do from another tab. The contact list says which, and shows them
        // offline if they block me.
        const ct = contactOf(id);
        const name = ct ? displayName(ct, id) : id;
        setStatus(`Message to ${name} not sent: ${str(err.message) || 'forbidden'} (forbidden)`, 'error', 'forbidden');
        refreshContacts();
      } else {
        showError(err, 'send-message');
      }
      scheduleRender();
    });
  }

  /** Clicking a failed message sends it again with the same clientMessageId (stored at most once). */
  function retryFailed(clientMessageId) {
    const id = ui.activeId;
    const p = chat.state.pendingFor(id).find((q) => q.clientMessageId === clientMessageId && q.state === 'failed');
    if (!p) return;
    chat.state.settlePending(p, undefined); // out of the list: the outbox queues it again
    queueMessage(id, p.message, p.clientMessageId);
  }

  /** My own message came back as new-message before the outbox had its ack: show it once. */
  function onNewMessage(m) {
    if (!m || !m.from || !m.to) return;
    const peer = peerOf(m);
    bump(peer); // a new message moves its conversation to the top
    if (m.from._id !== myId()) return;
    const echoed = new Set(ui.echoes.keys());
    const p = chat.state
      .pendingFor(peer)
      .find((q) => q.state === 'sending' && q.message === m.message && !echoed.has(q.clientMessageId));
    if (p) ui.echoes.set(p.clientMessageId, m._id);
  }

  // ------------------------------------------------------------- edit and delete

  function messageLi(id) {
    return messageEls.get(`m:${id}`) || null;
  }

  function ownStoredMessage(id) {
    if (!chat || ui.activeId == null) return null;
    const room = chat.state.roomWith(ui.activeId);
    const m = room ? room.get(id) : null;
    return m && m.from._id === myId() ? m : null;
  }

  function menuItems(li) {
    return li && li._parts.menu ? Array.from(li._parts.menu.querySelectorAll('[role="menuitem"]')) : [];
  }

  function openMenu(id, focusLast = false) {
    const m = ownStoredMessage(id);
    if (!m || m.deletedAt) return;
    ui.menuFor = id;
    renderAll();
    const items = menuItems(messageLi(id));
    if (items.length > 0) items[focusLast ? items.length - 1 : 0].focus();
  }

  function closeMenu(focusButton) {
    const id = ui ? ui.menuFor : null;
    if (id == null) return;
    ui.menuFor = null;
    renderAll();
    const li = messageLi(id);
    if (focusButton && li && li._parts.menuButton) li._parts.menuButton.focus();
  }

  function startEdit(id) {
    const m = ownStoredMessage(id);
    if (!m || m.deletedAt) return;
    ui.menuFor = null;
    ui.editing = { id, busy: false };
    renderAll();
    const li = messageLi(id);
    if (li && li._parts.editor) {
      const input = li._parts.editor.input;
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    }
  }

  function cancelEdit() {
    const id = ui && ui.editing ? ui.editing.id : null;
    if (id == null) return;
    ui.editing = null;
    renderAll();
    const li = messageLi(id);
    if (li && li._parts.menuButton && !li._parts.actions.hidden) li._parts.menuButton.focus();
  }

  async function saveEdit(id, text) {
    const c = chat;
    const m = ownStoredMessage(id);
    if (!m || !ui.editing || ui.editing.id !== id || ui.editing.busy) return;
    if (!text.trim()) {
      showError({ code: 'invalid-argument', message: 'A message cannot be empty: delete it instead.' }, 'edit-message');
      return;
    }
    if (text === str(m.message)) {
      cancelEdit();
      return;
    }
    ui.editing.busy = true;
    renderAll();
    let saved = false;
    try {
      await c.editMessage(id, text);
      saved = true;
    } catch (err) {
      if (chat !== c) return;
      showError(err, 'edit-message');
    }
    if (chat !== c) return;
    if (ui.editing && ui.editing.id === id) {
      if (saved) ui.editing = null;
      else ui.editing.busy = false;
    }
    renderAll();
    const li = messageLi(id);
    if (!li) return;
    if (saved && li._parts.menuButton && !li._parts.actions.hidden) li._parts.menuButton.focus();
    else if (!saved && li._parts.editor && !li._parts.editor.form.hidden) li._parts.editor.input.focus();
  }

  async function deleteMessage(id) {
    const c = chat;
    const m = ownStoredMessage(id);
    if (!m || m.deletedAt) return;
    ui.menuFor = null;
    renderAll();
    if (!window.confirm('Delete this message for everyone?')) {
      const li = messageLi(id);
      if (li && li._parts.menuButton) li._parts.menuButton.focus();
      return;
    }
    try {
      await c.deleteMessage(id);
    } catch (err) {
      if (chat !== c) return;
      showError(err, 'delete-message');
    }
    if (chat !== c) return;
    renderAll();
    if (ui.activeId != null) els.input.focus();
  }

  // ------------------------------------------------------------- blocking

  /**
   * Blocks (after a confirmation) or unblocks a contact. The server tells nobody, and
   * neither does this page: no typing: false either (the contact's indicator runs out).
   */
  async function toggleBlock(id) {
    const c = chat;
    const ct = contactOf(id);
    if (!ct || ui.blocking.has(id)) return;
    const block = !ct.blocked;
    const name = displayName(ct, id);
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
    ui.blocking.add(id);
    renderAll();
    try {
      const res = block ? await c.blockUser(id) : await c.unblockUser(id);
      if (chat !== c) return;
      if (res.blocked && (ui.typingOut.wantTo === id || ui.typingOut.to === id)) stopTyping(false);
      setStatus(res.blocked ? `You blocked ${name}.` : `You unblocked ${name}.`, 'notice');
    } catch (err) {
      if (chat !== c) return;
      showError(err, block ? 'block-user' : 'unblock-user');
    } finally {
      if (chat === c) ui.blocking.delete(id);
    }
    if (chat !== c) return;
    renderAll();
    if (ui.activeId !== id) return;
    if (isBlockedByMe(id)) els.blockToggle.focus();
    else els.input.focus();
  }

  // ------------------------------------------------------------- navigation

  function openChat(id) {
    if (!chat || !contactOf(id)) return;
    if (ui.activeId !== id) {
      ui.menuFor = null;
      ui.editing = null;
      stopTyping(true);
    }
    ui.activeId = id;
    historyOf(id).rechecked = false;
    renderAll({ scrollToBottom: true });
    if (chat.ready) loadHistory(id, false);
    if (window.matchMedia('(min-width: 721px)').matches) els.input.focus();
  }

  function closeChat() {
    if (!ui) return;
    stopTyping(true);
    ui.activeId = null;
    ui.menuFor = null;
    ui.editing = null;
    renderAll();
  }

  // ------------------------------------------------------------- connection

  /** connect-user answered, on the first connect or a reconnect (the client sends it itself). */
  function onSession(details) {
    const reconnect = ui.everReady;
    ui.everReady = true;
    els.meId.textContent = details.user._id;
    try {
      localStorage.setItem('chatzz-demo-user', details.user._id);
    } catch (_) {
      /* storage may be unavailable */
    }
    applyServerOrder(details.connectedUsers);
    setConnection('online');
    renderAll();
    if (reconnect) {
      // The client catches up on new messages; the latest page of each open history also
      // brings reads, edits and deletes made meanwhile.
      for (const [id, h] of ui.history) {
        if (h.loaded) chat.getOldMessages({ userId: id, limit: HISTORY_PAGE }).catch(() => {});
      }
    }
    if (ui.activeId != null) loadHistory(ui.activeId, false);
  }

  function onSessionLost() {
    ui.readRequested.clear();
    // Typing events are not replayed: forget what the server heard from me (the state forgets who types).
    stopTyping(false);
    setConnection('offline');
    scheduleRender();
  }

  function onClientError(err) {
    if (err.event === 'connect-user') {
      showError(err, 'connect-user');
      if (!ui.everReady && !err.retryable) teardown(false); // e.g. an invalid user id: stop
    } else if (!err.retryable) {
      showError(err);
    }
  }

  function signIn(userId) {
    teardown(false);
    ui = freshUi(userId);
    els.meId.textContent = userId;
    els.signInForm.hidden = true;
    els.me.hidden = false;
    els.app.dataset.signedIn = 'true';
    setFormsEnabled(true);

    // forceNew: never reuse a cached manager/socket from an earlier sign-in.
    const socket = io({ forceNew: true, autoConnect: false, reconnectionDelayMax: 5000 });
    const c = new chatzz.ChatzzClient(socket, { userId, ackTimeoutMs: ACK_TIMEOUT_MS });
    chat = c;
    /** Handlers of this sign-in only. */
    const mine = (fn) => (...args) => {
      if (chat === c) fn(...args);
    };
    c.state.on('change', mine(scheduleRender));
    c.on('session', mine(onSession));
    c.on('session-lost', mine(onSessionLost));
    c.on('client-error', mine(onClientError));
    c.on('new-message', mine(onNewMessage));
    c.on('typing', mine(onTyping));
    c.on('error', mine((data) => showError(data)));
    socket.on('connect', mine(() => setConnection('connecting')));
    socket.on(
      'disconnect',
      mine((reason) => {
        if (reason !== 'io server disconnect') return;
        setStatus('The server closed the connection.', 'warn');
        socket.connect();
      }),
    );
    socket.on(
      'connect_error',
      mine((err) => {
        setConnection('offline');
        setStatus(`Cannot connect: ${err && err.message ? err.message : 'unknown error'}`, 'error', 'connect_error');
        if (!socket.active) teardown(false); // refused by the server (e.g. authentication): stop
      }),
    );
    setConnection('connecting');
    renderAll();
    socket.connect();
  }

  function teardown(resetStatus = true) {
    if (ui) {
      stopTyping(false);
      for (const timer of ui.typingTimers.values()) clearTimeout(timer);
    }
    if (chat) {
      const c = chat;
      chat = null;
      c.close();
    }
    ui = null;
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
    const c = chat;
    if (!c) return;
    const id = els.contactId.value.trim();
    if (!id) {
      els.contactId.focus();
      return;
    }
    els.addError.hidden = true;
    els.addContact.disabled = true;
    try {
      const contact = await c.addChatUser(id);
      if (chat !== c) return;
      els.contactId.value = '';
      setStatus(`Added ${id} to your contacts.`, 'notice');
      openChat(contact._id);
    } catch (err) {
      if (chat !== c) return;
      const e2 = errorOf(err);
      els.addError.textContent = `${e2.message} (${e2.code})`;
      els.addError.dataset.code = e2.code;
      els.addError.hidden = false;
      showError(e2, 'add-chat-user');
    } finally {
      if (chat === c) els.addContact.disabled = false;
    }
  });

  els.contactId.addEventListener('input', () => {
    els.addError.hidden = true;
  });

  els.back.addEventListener('click', closeChat);
  els.blockToggle.addEventListener('click', () => {
    if (ui && ui.activeId != null) toggleBlock(ui.activeId);
  });
  els.loadOlder.addEventListener('click', () => {
    if (ui && ui.activeId != null) loadHistory(ui.activeId, true);
  });

  function autoGrow() {
    els.input.style.height = 'auto';
    els.input.style.height = `${Math.min(els.input.scrollHeight, 160)}px`;
  }

  els.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!ui || ui.activeId == null || isBlockedByMe(ui.activeId)) return;
    const text = els.input.value;
    if (!text.trim()) return;
    els.input.value = '';
    autoGrow();
    // The server sends "typing: false" itself just before this message's new-message.
    stopTyping(ui.typingOut.to != null && ui.typingOut.to !== ui.activeId);
    queueMessage(ui.activeId, text);
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
    if (li && chat && li.dataset.clientMessageId) retryFailed(li.dataset.clientMessageId);
  });

  // The message menu (my messages): open, Edit, Delete; the inline editor's Cancel.
  els.messageList.addEventListener('click', (e) => {
    if (!ui) return;
    const button = e.target.closest('button[data-action]');
    if (!button) return;
    const li = button.closest('.message');
    const id = li && li.dataset.messageId;
    if (!id) return;
    e.stopPropagation();
    switch (button.dataset.action) {
      case 'menu':
        if (ui.menuFor === id) closeMenu(true);
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
    if (!form || !ui) return;
    e.preventDefault();
    const li = form.closest('.message');
    if (li && li.dataset.messageId) saveEdit(li.dataset.messageId, li._parts.editor.input.value);
  });

  els.messageList.addEventListener('keydown', (e) => {
    if (!ui) return;
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
      } else if (e.key === 'Escape' && ui.menuFor === id) {
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
      ui.menuFor = null;
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
    if (!ui || ui.menuFor == null) return;
    if (e.target.closest && e.target.closest('.message-actions')) return;
    closeMenu(false);
  });

  els.statusDismiss.addEventListener('click', showConnectionStatus);

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') markVisibleAsRead();
  });

  // Keep "last seen" texts fresh.
  setInterval(() => {
    if (chat) renderAll();
  }, 30000);

  // Prefill the user id from ?user= or the last sign-in.
  try {
    const fromUrl = new URLSearchParams(location.search).get('user');
    els.userId.value = fromUrl || localStorage.getItem('chatzz-demo-user') || '';
  } catch (_) {
    /* ignore */
  }

  if (typeof io !== 'function' || typeof chatzz !== 'object') {
    setStatus('socket.io client or chatzz client failed to load.', 'error', 'internal');
    els.signIn.disabled = true;
  } else {
    renderAll();
  }
})();
