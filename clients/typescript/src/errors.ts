// Errors as the protocol reports them (`{code, message}`), plus the client's own.

/** The stable error codes of the protocol. */
export const PROTOCOL_ERROR_CODES = [
  'not-connected',
  'invalid-argument',
  'unknown-user',
  'not-a-contact',
  'not-found',
  'forbidden',
  'rate-limited',
  'unavailable',
  'internal',
] as const;

export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/**
 * Codes the client itself produces: no acknowledgement in time (`timeout`), the
 * connection went away before one came (`disconnected`), the client was closed
 * (`closed`), or the server answered something that is not the protocol (`bad-reply`).
 */
export type ClientErrorCode = 'timeout' | 'disconnected' | 'closed' | 'bad-reply';

export type ErrorCode = ProtocolErrorCode | ClientErrorCode;

export class ChatzzError extends Error {
  readonly code: ErrorCode;
  /** The client event that failed, if any. */
  readonly event: string | undefined;

  constructor(code: ErrorCode, message: string, event?: string) {
    super(message);
    this.name = 'ChatzzError';
    this.code = code;
    this.event = event;
  }

  /** Whether the same request may succeed later (a send retried with its `clientMessageId` is stored once). */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  /** Builds the error from a protocol `{code, message}` object (or whatever came instead). */
  static fromWire(err: unknown, event?: string): ChatzzError {
    if (err && typeof err === 'object') {
      const { code, message } = err as { code?: unknown; message?: unknown };
      if (typeof code === 'string') {
        const known = (PROTOCOL_ERROR_CODES as readonly string[]).includes(code);
        return new ChatzzError(known ? (code as ProtocolErrorCode) : 'internal', String(message ?? code), event);
      }
    }
    return new ChatzzError('bad-reply', `unexpected error value ${JSON.stringify(err)}`, event);
  }
}

// `not-connected` is retryable: after a reconnect the session comes back.
const RETRYABLE = new Set<ErrorCode>(['unavailable', 'rate-limited', 'timeout', 'disconnected', 'not-connected']);

export function isChatzzError(e: unknown): e is ChatzzError {
  return e instanceof ChatzzError;
}
