// Reliable sending: messages go out one at a time, in the order they were queued, each
// with a `clientMessageId` the server dedupes on (per sender). A retry after
// `unavailable`, `rate-limited`, an ack timeout or a reconnect reuses it, so a message
// whose first attempt was stored without an ack is not stored twice; each message's
// promise settles exactly once.
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { ChatzzError } from './errors.js';
import { newClientMessageId } from './ids.js';
import type { PendingMessage } from './pending.js';
import type { Message, SendMessagePayload } from './protocol.js';

export interface OutboxHooks {
  /** Sends one attempt. */
  send(payload: SendMessagePayload): Promise<Message>;
  /** Whether a session is up (the outbox pauses while it is not and resumes on `kick`). */
  ready(): boolean;
  /** The pending message changed (queued, retried, failed). */
  onPending?(p: PendingMessage, change: 'queued' | 'updated'): void;
  /** The message was stored (`message`) or failed for good (undefined). */
  onSettled?(p: PendingMessage, message: Message | undefined): void;
}

export interface OutboxOptions extends BackoffOptions {
  /** Give up after this many attempts (default: never, while the failures are retryable). */
  maxAttempts?: number;
}

/** What `send` returns: the pending message to render now, and the stored message later. */
export interface Queued {
  pending: PendingMessage;
  sent: Promise<Message>;
}

interface Entry {
  pending: PendingMessage;
  resolve(m: Message): void;
  reject(e: ChatzzError): void;
}

export class Outbox {
  private readonly queue: Entry[] = [];
  private flushing = false;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly hooks: OutboxHooks,
    private readonly options: OutboxOptions = {},
  ) {}

  /** Messages not stored yet, in sending order. */
  get pending(): PendingMessage[] {
    return this.queue.map((e) => e.pending);
  }

  send(to: string, message: string, clientMessageId: string = newClientMessageId()): Queued {
    const pending: PendingMessage = {
      clientMessageId,
      to,
      message,
      queuedAt: new Date().toISOString(),
      state: 'sending',
      attempts: 0,
    };
    let entry!: Entry;
    const sent = new Promise<Message>((resolve, reject) => {
      entry = { pending, resolve, reject };
    });
    if (this.closed) {
      entry.reject(new ChatzzError('closed', 'the client is closed', 'send-message'));
      return { pending, sent };
    }
    this.queue.push(entry);
    this.hooks.onPending?.(pending, 'queued');
    this.kick();
    return { pending, sent };
  }

  /** Flushes the queue if a session is up (called on every new session, too). */
  kick(): void {
    this.wake?.();
    if (this.flushing || this.closed || !this.hooks.ready()) return;
    this.flushing = true;
    void this.flush().finally(() => {
      this.flushing = false;
      // Something may have been queued (or a session come back) as the loop ended.
      if (this.queue.length > 0 && this.hooks.ready() && !this.closed) this.kick();
    });
  }

  /** Rejects everything still queued with `closed`. */
  close(): void {
    this.closed = true;
    this.wake?.();
    for (const e of this.queue.splice(0)) e.reject(new ChatzzError('closed', 'the client is closed', 'send-message'));
  }

  private async flush(): Promise<void> {
    let failures = 0;
    while (this.queue.length > 0 && !this.closed && this.hooks.ready()) {
      const entry = this.queue[0]!;
      const p = entry.pending;
      p.attempts += 1;
      try {
        const message = await this.hooks.send({ userId: p.to, message: p.message, clientMessageId: p.clientMessageId });
        if (this.closed) return; // close() already rejected it
        this.settle(entry, message);
        failures = 0;
      } catch (e) {
        const error = e instanceof ChatzzError ? e : new ChatzzError('internal', String(e), 'send-message');
        if (this.closed) return;
        const giveUp = !error.retryable || p.attempts >= (this.options.maxAttempts ?? Infinity);
        if (giveUp) {
          this.settle(entry, undefined, error);
          continue;
        }
        this.hooks.onPending?.(p, 'updated');
        // A lost connection: the next session kicks the outbox again.
        if (error.code === 'disconnected') return;
        failures += 1;
        await this.pause(backoffDelay(failures, this.options));
      }
    }
  }

  private settle(entry: Entry, message: Message | undefined, error?: ChatzzError): void {
    if (this.queue[0] === entry) this.queue.shift();
    if (error) {
      entry.pending.state = 'failed';
      entry.pending.error = { code: error.code, message: error.message };
    }
    this.hooks.onSettled?.(entry.pending, message);
    if (message) entry.resolve(message);
    else entry.reject(error!);
  }

  /** Waits `ms`, or less if the outbox is kicked (a new session) or closed meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
