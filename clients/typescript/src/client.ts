// The chatzz client: one promise-returning method per client event, a session that is
// re-established on every (re)connect (the server forgets a socket's `connect-user`
// when the connection goes: a reconnected socket must register again), a reliable
// outbox and catch-up of what was missed, all kept in a ConversationState.
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { catchUp } from './catchup.js';
import { Emitter } from './emitter.js';
import { ChatzzError } from './errors.js';
import { Outbox, type OutboxOptions, type Queued } from './outbox.js';
import {
  SERVER_EVENT,
  type ClientEventName,
  type ClientEvents,
  type BlockResult,
  type Contact,
  type GetOldMessagesPayload,
  type Message,
  type ServerEnvelope,
  type ServerEvents,
  type UserDetailsData,
} from './protocol.js';
import { InFlight } from './request.js';
import type { SocketLike } from './socket.js';
import { ConversationState } from './state.js';

export interface ChatzzClientOptions {
  /** Who this client is; may be omitted when the server authenticates with a JWT. */
  userId?: string;
  /** How long to wait for each acknowledgement (default 10 000 ms). */
  ackTimeoutMs?: number;
  /** Backoff between retries of `connect-user` and of the outbox. */
  retry?: BackoffOptions;
  /** The outbox's limits. */
  outbox?: Omit<OutboxOptions, keyof BackoffOptions>;
  /** Messages per catch-up page (default 500, the protocol's maximum). */
  catchUpPageSize?: number;
  /** The state to keep up to date (default: a new one). */
  state?: ConversationState;
}

/** What the client emits: each server event `type` with its data, plus the session's life. */
export type ChatzzClientEvents = ServerEvents & {
  /** A session began (first connect, or a reconnect): the `connect-user` reply. */
  session: UserDetailsData;
  /** The connection went away; socket.io-client reconnects unless the server closed it. */
  'session-lost': { reason: string };
  /** Catch-up after a session began is done. */
  'caught-up': { rooms: string[] };
  /** Something failed in the background (registering, catching up). */
  'client-error': ChatzzError;
};

export class ChatzzClient extends Emitter<ChatzzClientEvents> {
  readonly socket: SocketLike;
  readonly state: ConversationState;
  private readonly options: ChatzzClientOptions;
  private readonly inFlight = new InFlight();
  private readonly outbox: Outbox;
  private details: UserDetailsData | undefined;
  /** Counts connections, so that work of an old one stops when a new one begins. */
  private generation = 0;
  private sessionUp = false;
  private closed = false;
  private readonly readyWaiters = new Set<() => void>();

  constructor(socket: SocketLike, options: ChatzzClientOptions = {}) {
    super();
    this.socket = socket;
    this.options = options;
    this.state = options.state ?? new ConversationState();
    this.outbox = new Outbox(
      {
        send: (payload) => this.call('send-message', payload),
        ready: () => this.sessionUp,
        onPending: (p, change) => (change === 'queued' ? this.state.addPending(p) : this.state.updatePending(p)),
        onSettled: (p, message) => (message ? this.state.settlePending(p, message) : this.state.updatePending(p)),
      },
      { ...options.retry, ...options.outbox },
    );
    socket.on('connect', this.onConnect);
    socket.on('disconnect', this.onDisconnect);
    socket.on(SERVER_EVENT, this.onServerEvent);
    if (socket.connected) this.onConnect();
  }

  /** The latest `user-details` (undefined before the first session). */
  get session(): UserDetailsData | undefined {
    return this.details;
  }

  /** Whether a session is up: connected and registered. */
  get ready(): boolean {
    return this.sessionUp;
  }

  /** Resolves once a session is up. */
  whenReady(): Promise<UserDetailsData> {
    if (this.sessionUp) return Promise.resolve(this.details!);
    return new Promise((resolve) => {
      const done = () => {
        this.readyWaiters.delete(done);
        resolve(this.details!);
      };
      this.readyWaiters.add(done);
    });
  }

  // -------------------------------------------------------------------------
  // One method per client event

  /** `connect-user`: registers this socket (done on every connect by the client itself). */
  connectUser(): Promise<UserDetailsData> {
    const payload = this.options.userId === undefined ? {} : { userId: this.options.userId };
    return this.emitNow('connect-user', payload);
  }

  /** `add-chat-user`: links the two users; idempotent. */
  async addChatUser(userToAdd: string): Promise<Contact> {
    const contact = await this.call('add-chat-user', { userToAdd });
    this.state.upsertContact(contact);
    return contact;
  }

  /** `send-message`, one attempt. Prefer `send`, which retries safely. */
  async sendMessage(userId: string, message: string, clientMessageId?: string): Promise<Message> {
    const stored = await this.call('send-message', { userId, message, ...(clientMessageId === undefined ? {} : { clientMessageId }) });
    this.state.putMessages([stored], 'new-message');
    return stored;
  }

  /** `get-old-messages`: a page of history with `userId`, oldest first, merged into the state. */
  async getOldMessages(query: GetOldMessagesPayload): Promise<Message[]> {
    const page = await this.call('get-old-messages', query);
    this.state.putMessages(page);
    return page;
  }

  /** `message-read`: reads up to `messageId` (a message to me). */
  async markRead(messageId: string): Promise<Message> {
    const message = await this.call('message-read', { messageId });
    this.state.applyOwnRead(message);
    return message;
  }

  /** `get-contacts`: every contact, by last activity. */
  async getContacts(): Promise<Contact[]> {
    const contacts = await this.call('get-contacts', {});
    this.state.setContacts(contacts);
    return contacts;
  }

  /** `edit-message`: my own message, within the edit window. */
  async editMessage(messageId: string, message: string): Promise<Message> {
    const edited = await this.call('edit-message', { messageId, message });
    this.state.putMessages([edited], 'message-updated');
    return edited;
  }

  /** `delete-message`: my own message becomes a tombstone. */
  async deleteMessage(messageId: string): Promise<Message> {
    const tombstone = await this.call('delete-message', { messageId });
    this.state.putMessages([tombstone], 'message-updated');
    return tombstone;
  }

  /** `typing`: tells `userId` I started (true) or stopped (false) typing. */
  async typing(userId: string, typing: boolean): Promise<void> {
    await this.call('typing', { userId, typing });
  }

  /** `block-user`. */
  async blockUser(userId: string): Promise<BlockResult> {
    const result = await this.call('block-user', { userId });
    this.state.setBlocked(userId, result.blocked);
    return result;
  }

  /** `unblock-user`. */
  async unblockUser(userId: string): Promise<BlockResult> {
    const result = await this.call('unblock-user', { userId });
    this.state.setBlocked(userId, result.blocked);
    return result;
  }

  /**
   * Reliable send: queues the message in the outbox, which retries it (with one
   * `clientMessageId`) until it is stored. `pending` is at once in `state.pendingFor(to)`.
   */
  send(to: string, message: string, clientMessageId?: string): Queued {
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
  async call<K extends ClientEventName>(event: K, payload: ClientEvents[K]['payload']): Promise<ClientEvents[K]['result']> {
    if (this.closed) throw new ChatzzError('closed', 'the client is closed', event);
    const timeoutMs = this.ackTimeoutMs;
    const started = Date.now();
    if (!this.sessionUp) {
      const ready = this.whenReady();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ChatzzError('timeout', `no session within ${timeoutMs} ms for "${event}"`, event)), timeoutMs);
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
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sessionUp = false;
    this.generation += 1;
    this.outbox.close();
    this.inFlight.failAll(() => new ChatzzError('closed', 'the client is closed'));
    this.socket.off('connect', this.onConnect);
    this.socket.off('disconnect', this.onDisconnect);
    this.socket.off(SERVER_EVENT, this.onServerEvent);
    this.socket.disconnect();
  }

  // -------------------------------------------------------------------------

  private get ackTimeoutMs(): number {
    return this.options.ackTimeoutMs ?? 10_000;
  }

  private emitNow<K extends ClientEventName>(
    event: K,
    payload: ClientEvents[K]['payload'],
    timeoutMs = this.ackTimeoutMs,
  ): Promise<ClientEvents[K]['result']> {
    if (this.closed) return Promise.reject(new ChatzzError('closed', 'the client is closed', event));
    // Never let socket.io-client buffer an event while disconnected: it would flush it
    // before `connect-user` on reconnect, and the server would answer `not-connected`.
    if (!this.socket.connected) return Promise.reject(new ChatzzError('disconnected', 'not connected', event));
    return this.inFlight.emit(this.socket, event, payload, timeoutMs);
  }

  private readonly onConnect = (): void => {
    const generation = ++this.generation;
    void this.register(generation);
  };

  /** Sends `connect-user` until it succeeds (or fails for good) on this connection. */
  private async register(generation: number): Promise<void> {
    let details: UserDetailsData | undefined;
    for (let attempt = 1; details === undefined; attempt += 1) {
      try {
        details = await this.connectUser();
      } catch (e) {
        if (generation !== this.generation) return;
        const error = e instanceof ChatzzError ? e : new ChatzzError('internal', String(e));
        this.emit('client-error', error);
        if (!error.retryable || error.code === 'disconnected') return;
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, this.options.retry)));
      }
      if (generation !== this.generation) return;
    }
    this.details = details;
    this.state.applySession(details);
    this.sessionUp = true;
    this.emit('session', details);
    for (const done of [...this.readyWaiters]) done();
    this.outbox.kick();
    await this.catchUp(generation);
  }

  private async catchUp(generation: number): Promise<void> {
    for (let attempt = 1; generation === this.generation; attempt += 1) {
      try {
        const rooms = await catchUp(this.state, {
          fetchPage: (q) => this.call('get-old-messages', q),
          pageSize: this.options.catchUpPageSize ?? 500,
          onRoomError: (e) => this.emit('client-error', e),
        });
        if (generation === this.generation) this.emit('caught-up', { rooms });
        return;
      } catch (e) {
        const error = e instanceof ChatzzError ? e : new ChatzzError('internal', String(e));
        if (generation !== this.generation) return;
        this.emit('client-error', error);
        if (!error.retryable) return;
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, this.options.retry)));
      }
    }
  }

  private readonly onDisconnect = (reason: string): void => {
    this.generation += 1;
    this.sessionUp = false;
    this.inFlight.failAll(() => new ChatzzError('disconnected', `the connection went away (${reason})`));
    this.state.suspend();
    this.emit('session-lost', { reason });
  };

  private readonly onServerEvent = (envelope: ServerEnvelope): void => {
    if (!envelope || typeof envelope !== 'object' || typeof envelope.type !== 'string') return;
    // The server sends `user-details` both as an event and through the ack: the
    // session is applied once, from the ack (register).
    if (envelope.type !== 'user-details') this.state.apply(envelope);
    (this.emit as (type: string, data: unknown) => void)(envelope.type, envelope.data);
  };
}
