// A small, framework-free conversation state: contacts with presence, messages per
// room with their statuses, pending (not yet acknowledged) messages and who is typing.
// Feed it the server's events in the order they come (`apply`); it emits `change`.
import { Emitter } from './emitter.js';
import { compareIds } from './ids.js';
import { isDeleted } from './merge.js';
import type { PendingMessage } from './pending.js';
import type { Contact, Message, MessagesRead, ServerEnvelope, UserDetails, UserDetailsData } from './protocol.js';
import { Room } from './room.js';

export interface StateChange {
  /** The server event type, or what the client did locally. */
  kind: ServerEnvelope['type'] | 'session' | 'pending' | 'history' | 'read' | 'contact' | 'disconnect';
  /** The other user concerned, when there is one. */
  peerId?: string;
}

export class ConversationState extends Emitter<{ change: StateChange }> {
  me: UserDetails | undefined;
  private readonly contactsById = new Map<string, Contact>();
  private readonly rooms = new Map<string, Room>();
  private readonly roomOfPeer = new Map<string, string>();
  private readonly pendingByPeer = new Map<string, PendingMessage[]>();
  private readonly typingUntil = new Map<string, number>();
  /** Whether a session is up and seeded: a room learnt of now has no past to catch up. */
  private sessionLive = false;

  // -------------------------------------------------------------------------
  // Reading

  /** Contacts, by last activity, newest first. */
  get contacts(): Contact[] {
    const activity = (c: Contact) => this.roomWith(c._id)?.newest?.createdAt ?? c.lastMessage?.createdAt ?? '';
    // A stable sort keeps the server's order among equals.
    return [...this.contactsById.values()].sort((a, b) => (activity(a) < activity(b) ? 1 : activity(a) > activity(b) ? -1 : 0));
  }

  contact(userId: string): Contact | undefined {
    return this.contactsById.get(userId);
  }

  /** The room shared with `peerId`, if the state knows it. */
  roomWith(peerId: string): Room | undefined {
    const id = this.roomOfPeer.get(peerId);
    return id === undefined ? undefined : this.rooms.get(id);
  }

  room(chatRoomId: string): Room | undefined {
    return this.rooms.get(chatRoomId);
  }

  get allRooms(): Room[] {
    return [...this.rooms.values()];
  }

  /** Stored messages with `peerId`, oldest first. */
  messagesWith(peerId: string): readonly Message[] {
    return this.roomWith(peerId)?.messages ?? [];
  }

  /** Messages to `peerId` not acknowledged yet (or failed), in sending order: render them after the stored ones. */
  pendingFor(peerId: string): readonly PendingMessage[] {
    return this.pendingByPeer.get(peerId) ?? [];
  }

  isTyping(userId: string, now = Date.now()): boolean {
    return (this.typingUntil.get(userId) ?? 0) > now;
  }

  // -------------------------------------------------------------------------
  // Server events, in order

  apply(envelope: ServerEnvelope): void {
    switch (envelope.type) {
      case 'user-details':
        this.applySession(envelope.data);
        return;
      case 'chat-user-status-changed': {
        const { user, status, lastOnline } = envelope.data;
        const c = this.contactsById.get(user._id);
        if (c) this.contactsById.set(user._id, { ...c, ...user, status, lastOnline });
        break;
      }
      case 'chat-user-added':
        this.upsertContact(envelope.data);
        break;
      case 'new-message':
      case 'message-status-changed':
      case 'message-updated':
        this.putMessage(envelope.data, envelope.type === 'new-message');
        if (envelope.type === 'new-message') this.typingUntil.delete(envelope.data.from._id);
        break;
      case 'old-messages':
        for (const m of envelope.data) this.putMessage(m);
        break;
      case 'contacts':
        this.setContacts(envelope.data);
        break;
      case 'messages-read':
        this.applyRead(envelope.data);
        break;
      case 'typing': {
        const { userId, typing, expiresInMs } = envelope.data;
        if (typing) this.typingUntil.set(userId, Date.now() + expiresInMs);
        else this.typingUntil.delete(userId);
        break;
      }
      case 'error':
        break;
    }
    this.emit('change', { kind: envelope.type, ...peerOf(envelope, this.me?._id) });
  }

  /**
   * A session began (`user-details`, first or after a reconnect). Every room waits for
   * catch-up (`resume`) before it follows live events again. A room seen for the first
   * time starts at its oldest missed message if any (catch-up then loads everything
   * after it), else at its newest message.
   */
  applySession(details: UserDetailsData): void {
    this.me = details.user;
    this.sessionLive = false;
    for (const c of details.connectedUsers) {
      this.upsertContact(c);
      const room = this.ensureRoom(c.chatRoomId, c._id);
      room.live = false;
      const start = details.missedMessages[c._id]?.[0] ?? c.lastMessage ?? undefined;
      if (room.cursor === undefined && start) {
        room.put(start);
        room.cursor = start._id;
      }
      // A version 1 server sends no lastMessage: catch-up then reads until an empty page.
      room.target = c.lastMessage === undefined ? 'until-empty' : c.lastMessage ? { id: c.lastMessage._id } : undefined;
      if (c.lastMessage) room.put(c.lastMessage);
    }
    for (const list of Object.values(details.missedMessages)) for (const m of list) this.putMessage(m);
    this.sessionLive = true;
    this.emit('change', { kind: 'session' });
  }

  /** The connection went away: what comes until catch-up is done may leave holes. */
  suspend(): void {
    this.sessionLive = false;
    for (const room of this.rooms.values()) room.live = false;
    this.typingUntil.clear();
    this.emit('change', { kind: 'disconnect' });
  }

  /** Catch-up of `room` is done: the cursor follows live events again. */
  resume(room: Room): void {
    const newest = room.newest;
    if (newest && (room.cursor === undefined || compareIds(newest._id, room.cursor) > 0)) room.cursor = newest._id;
    room.live = true;
    room.target = undefined;
  }

  /** A history page or an acknowledged message (merged by id, never duplicated). */
  putMessages(messages: readonly Message[], kind: StateChange['kind'] = 'history'): void {
    for (const m of messages) this.putMessage(m);
    if (messages.length > 0) this.emit('change', { kind, peerId: this.peerOf(messages[0]!) });
  }

  setContacts(list: readonly Contact[]): void {
    for (const c of list) this.upsertContact(c);
  }

  upsertContact(contact: Contact): void {
    this.contactsById.set(contact._id, { ...this.contactsById.get(contact._id), ...contact });
    this.ensureRoom(contact.chatRoomId, contact._id);
    this.emit('change', { kind: 'contact', peerId: contact._id });
  }

  setBlocked(userId: string, blocked: boolean): void {
    const c = this.contactsById.get(userId);
    if (c) this.upsertContact({ ...c, blocked });
  }

  /** This socket read up to `message` (the `message-read` reply: the server tells this socket nothing else). */
  applyOwnRead(message: Message): void {
    this.putMessage(message);
    this.applyRead({
      chatRoomId: message.chatRoomId,
      readerId: message.to._id,
      upTo: message._id,
      readAt: message.readAt ?? new Date().toISOString(),
      count: 0,
    });
    this.emit('change', { kind: 'read', peerId: message.from._id });
  }

  // -------------------------------------------------------------------------
  // Pending messages (the outbox's optimistic echo)

  addPending(p: PendingMessage): void {
    const list = this.pendingByPeer.get(p.to) ?? [];
    this.pendingByPeer.set(p.to, [...list, p]);
    this.emit('change', { kind: 'pending', peerId: p.to });
  }

  updatePending(p: PendingMessage): void {
    const list = this.pendingByPeer.get(p.to) ?? [];
    this.pendingByPeer.set(
      p.to,
      list.map((q) => (q.clientMessageId === p.clientMessageId ? p : q)),
    );
    this.emit('change', { kind: 'pending', peerId: p.to });
  }

  /** The pending message was stored as `message`: it leaves the pending list for the room. */
  settlePending(p: PendingMessage, message: Message | undefined): void {
    const list = (this.pendingByPeer.get(p.to) ?? []).filter((q) => q.clientMessageId !== p.clientMessageId);
    this.pendingByPeer.set(p.to, list);
    if (message) this.putMessage(message);
    this.emit('change', { kind: 'pending', peerId: p.to });
  }

  // -------------------------------------------------------------------------

  private ensureRoom(chatRoomId: string, peerId: string): Room {
    let room = this.rooms.get(chatRoomId);
    if (!room) this.rooms.set(chatRoomId, (room = new Room(chatRoomId, peerId, this.sessionLive)));
    this.roomOfPeer.set(peerId, chatRoomId);
    return room;
  }

  private peerOf(m: Message): string {
    return m.from._id === this.me?._id ? m.to._id : m.from._id;
  }

  /** `isNews`: a `new-message` event, the only copy the server's unread count did not include yet. */
  private putMessage(m: Message, isNews = false): void {
    const room = this.ensureRoom(m.chatRoomId, this.peerOf(m));
    const known = room.put(m);
    const stored = room.get(m._id)!;
    const toMe = stored.to._id === this.me?._id;
    const c = this.contactsById.get(room.peerId);
    if (!toMe || !c || c.unreadCount === undefined) return;
    const wasUnread = known ? known.status !== 'read' && !isDeleted(known) : false;
    const isUnread = stored.status !== 'read' && !isDeleted(stored);
    if (!known && isUnread && isNews) c.unreadCount += 1;
    else if (wasUnread && !isUnread) c.unreadCount = Math.max(0, c.unreadCount - 1);
  }

  private applyRead(read: MessagesRead): void {
    const room = this.rooms.get(read.chatRoomId);
    if (!room) return;
    let changed = 0;
    for (const m of room.messages) {
      if (compareIds(m._id, read.upTo) > 0) break;
      if (m.to._id === read.readerId && m.status !== 'read') {
        room.replace({ ...m, status: 'read', readAt: read.readAt });
        if (!isDeleted(m)) changed += 1;
      }
    }
    const c = this.contactsById.get(room.peerId);
    if (read.readerId === this.me?._id && c?.unreadCount !== undefined) {
      // Messages before the oldest loaded one are not here to count: trust the event's count then.
      const oldest = room.messages[0];
      const loadedFromUpTo = oldest !== undefined && compareIds(oldest._id, read.upTo) <= 0;
      c.unreadCount = loadedFromUpTo
        ? room.messages.filter((m) => m.to._id === this.me?._id && m.status !== 'read' && !isDeleted(m)).length
        : Math.max(0, c.unreadCount - Math.max(changed, read.count));
    }
  }
}

function peerOf(envelope: ServerEnvelope, me: string | undefined): { peerId?: string } {
  const d = envelope.data as Partial<Message & { user: UserDetails; userId: string }>;
  if (d && typeof d === 'object' && !Array.isArray(d)) {
    if (d.from && d.to) return { peerId: d.from._id === me ? d.to._id : d.from._id };
    if (d.user) return { peerId: d.user._id };
    if (typeof d.userId === 'string') return { peerId: d.userId };
    if (typeof d._id === 'string') return { peerId: d._id };
  }
  return {};
}
