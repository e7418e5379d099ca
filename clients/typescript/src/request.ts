// One client event with an acknowledgement: resolves with the result, or rejects with
// a ChatzzError (the server's `{code, message}`, or `timeout` / `disconnected`).
import { ChatzzError } from './errors.js';
import type { ClientEventName, ClientEvents } from './protocol.js';
import type { SocketLike } from './socket.js';

/** Requests waiting for their acknowledgement on the current connection. */
export class InFlight {
  private readonly waiting = new Set<(e: ChatzzError) => void>();

  /** Emits `event` and waits at most `timeoutMs` for its callback. */
  emit<K extends ClientEventName>(
    socket: SocketLike,
    event: K,
    payload: ClientEvents[K]['payload'],
    timeoutMs: number,
  ): Promise<ClientEvents[K]['result']> {
    return new Promise((resolve, reject) => {
      // The first of ack, timeout and disconnect settles; the others are ignored (a
      // late ack after a timeout, say).
      const fail = (e: ChatzzError) => {
        if (!this.waiting.delete(fail)) return;
        clearTimeout(timer);
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new ChatzzError('timeout', `no acknowledgement for "${event}" within ${timeoutMs} ms`, event)),
        timeoutMs,
      );
      this.waiting.add(fail);
      socket.emit(event, payload, (err: unknown, result: unknown) => {
        if (!this.waiting.delete(fail)) return;
        clearTimeout(timer);
        if (err !== null && err !== undefined) reject(ChatzzError.fromWire(err, event));
        else resolve(result as ClientEvents[K]['result']);
      });
    });
  }

  /** Rejects every waiting request (the connection went away: their acks will never come). */
  failAll(error: () => ChatzzError): void {
    for (const fail of [...this.waiting]) fail(error());
  }
}
