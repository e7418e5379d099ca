// A message handed to the outbox and not acknowledged yet: what a UI renders at once.

export interface PendingMessage {
  /** The idempotency key the outbox sends it with. */
  clientMessageId: string;
  /** The recipient's user id. */
  to: string;
  message: string;
  /** When it was handed to the outbox (local clock). */
  queuedAt: string;
  /** `sending` until stored; `failed` if the server refused it for good. */
  state: 'sending' | 'failed';
  /** Sending attempts so far. */
  attempts: number;
  /** Why it failed, when `state` is `failed`. */
  error?: { code: string; message: string };
}
